"""Faults decide one launch alone: a recipe the evaluator chokes on, a provider that raises
what it should not, a flavor listing that fails. The launcher's threads live on."""

from __future__ import annotations

import itertools
import logging
import time

import pytest
from pool_helpers import (
    Recorder,
    crashed_mid_create,
    fast_pool,
    launched,
    scripted,
    wait_for,
    wait_gone,
)

from virtprov.errors import TransientError
from virtprov.fake import FakeProvider
from virtprov.fake.faults import FaultPlan, Latency
from virtprov.model import Guest, GuestSpec
from virtprov.pool import Journal, Recipe, Status

HUGE_MEMORY = "<hostRequires><memory op='>=' value='" + "9" * 5000 + "'/></hostRequires>"


def all_alive(status: dict[str, object]) -> bool:
    threads = status["threads"]
    assert isinstance(threads, dict)
    return bool(threads) and all(t["alive"] for t in threads.values())


def test_recipes_the_evaluator_chokes_on_are_decided_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Recipe('1', None) and a 5000-digit number raise outside HostRequiresError (or do
    not, once the evaluator refuses them itself): either way each is precluded with a
    reason, and the ordinary recipes around them are launched."""
    caplog.set_level(logging.ERROR, logger="virtprov")
    fake = FakeProvider(latency=Latency(build=0.02))
    with fast_pool({"fake": fake}) as pool:
        bad = [pool.submit(Recipe("none", None)), pool.submit(Recipe("huge", HUGE_MEMORY))]  # type: ignore[arg-type]
        good = [pool.submit(Recipe(n)) for n in range(10)]
        outcomes = [h.wait(10) for h in good + bad]
        assert all_alive(pool.status())
    for outcome in outcomes[:10]:
        assert outcome is not None
        assert outcome.status is Status.SUCCEEDED
    for outcome in outcomes[10:]:
        assert outcome is not None
        assert outcome.status is Status.PRECLUDED
        assert outcome.reasons[0].startswith("hostRequires: ")
    # one line (with its traceback) per bad recipe at most, never a line per pass
    assert not [r for r in caplog.records if "planning pass failed" in r.getMessage()]
    assert len(caplog.records) <= 2


def test_an_evaluator_failure_precludes_with_the_error_as_its_reason(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import virtprov.hostrequires

    real = virtprov.hostrequires.parse

    def parse(document: str) -> object:
        if "<broken/>" in document:
            raise ZeroDivisionError("the evaluator has a bug")
        return real(document)

    monkeypatch.setattr(virtprov.hostrequires, "parse", parse)
    fake = FakeProvider()
    with fast_pool({"fake": fake}) as pool:
        broken = pool.submit(Recipe(1, "<hostRequires><broken/></hostRequires>")).wait(10)
        fine = pool.submit(Recipe(2)).wait(10)
    assert broken is not None
    assert broken.status is Status.PRECLUDED
    assert broken.reasons == (
        "hostRequires: cannot be judged: ZeroDivisionError: the evaluator has a bug",
    )
    assert fine is not None
    assert fine.status is Status.SUCCEEDED
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.exc_info is not None  # the traceback is logged, once


def test_a_launch_whose_row_cannot_be_read_fails_alone() -> None:
    """Requests written by another version (or edited by hand) that this one cannot
    read: each fails, and says why; nothing else is held up."""
    fake = FakeProvider()
    journal = Journal("sqlite://")
    journal.submit("odd", {"host_requires": "<hostRequires/>"}, "test", time.time() + 60)
    journal.submit("garbled", {}, "test", time.time() + 60)
    with journal.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE launches SET request = '{not json' WHERE recipe_id = 'garbled'"
        )
    with fast_pool({"fake": fake}, journal=journal) as pool:
        good = pool.submit(Recipe(1)).wait(10)
        taken = {o.recipe_id: o for o in pool.poll(timeout=5)}
        deadline = time.monotonic() + 10
        while len(taken) < 3 and time.monotonic() < deadline:
            taken.update((o.recipe_id, o) for o in pool.poll(timeout=1))
        assert all_alive(pool.status())
    assert good is not None
    assert good.status is Status.SUCCEEDED
    assert taken["odd"].status is Status.FAILED
    assert taken["odd"].error == (
        "ValueError: the request the journal keeps for recipe odd cannot be read (KeyError: 'labs')"
    )
    assert taken["garbled"].status is Status.FAILED
    assert taken["garbled"].error is not None
    assert taken["garbled"].error.startswith(
        "ValueError: the request the journal keeps for recipe garbled cannot be read "
        "(the journal's request column cannot be read: Expecting property name"
    )


def test_unexpected_exceptions_from_reads_never_kill_a_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """capacity() and poll() raising RuntimeError/KeyError/OSError used to kill the worker
    that ran them: with two workers, nothing was ever called again."""
    fake = FakeProvider(
        latency=Latency(build=0.05),
        faults=scripted(
            ("capacity", 1, "runtime_error"),
            ("capacity", 2, "key_error"),
            ("poll", 1, "os_error"),
            ("poll", 2, "key_error"),
            ("flavors", 1, "runtime_error"),
        ),
    )
    with fast_pool({"fake": fake}) as pool:
        outcomes = [pool.submit(Recipe(n)).wait(15) for n in range(3)]
        status = pool.status()
    assert [o.status if o else None for o in outcomes] == [Status.SUCCEEDED] * 3
    assert all_alive(status)
    assert status["healthy"]
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert {r.exc_info[0] for r in logged if r.exc_info} == {  # type: ignore[index]
        RuntimeError,
        KeyError,
        ConnectionResetError,
    }


def test_a_create_that_always_raises_fails_with_the_error_in_its_outcome(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeProvider(faults=FaultPlan(rates={"create": 1.0}, kinds={"create": ("key_error",)}))
    with fast_pool({"fake": fake}) as pool:
        outcome = pool.submit(Recipe(1)).wait(10)
        assert all_alive(pool.status())
    assert outcome is not None
    assert outcome.status is Status.FAILED
    assert outcome.error == "KeyError: 'server (injected key_error fault in create)'"
    tracebacks = [r for r in caplog.records if r.exc_info and r.exc_info[0] is KeyError]
    assert len(tracebacks) == 5  # one per attempt


def test_a_create_answer_lost_to_an_os_error_leaves_no_guest_behind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeProvider(faults=scripted(("create", 1, "os_error")))
    with fast_pool({"fake": fake}) as pool:
        guest = launched(pool, 1)
        assert wait_gone(fake, keep=1) == [guest.id]
    (record,) = [r for r in caplog.records if r.exc_info]
    assert record.levelno == logging.ERROR
    assert record.getMessage().startswith("create of beaker-recipe-1 on fake raised")
    assert record.exc_info[0] is ConnectionResetError  # type: ignore[index]


def test_a_destroy_that_raises_is_retried_until_the_guest_is_gone() -> None:
    fake = FakeProvider(
        faults=scripted(("destroy", 1, "runtime_error"), ("destroy", 2, "os_error"))
    )
    recorder = Recorder()
    with fast_pool({"fake": fake}, subscribe=recorder) as pool:
        pool.release(launched(pool, 1))
        assert wait_gone(fake) == []
        assert all_alive(pool.status())
    assert [c.failed for c in fake.calls if c.operation == "destroy"] == [True, True, False]


def test_a_recovery_whose_listing_raises_is_retried(journal_url: str) -> None:
    """A create was in flight when the process died; listing by name raises at first."""
    fake = FakeProvider(faults=scripted(("list_guests", 1, "key_error")))
    made = crashed_mid_create(journal_url, fake, created=True)
    recorder = Recorder()
    with fast_pool({"fake": fake}, journal=journal_url, subscribe=recorder) as pool:
        outcome = pool.poll(timeout=10)
    (retry,) = recorder.kinds("launch.retry")  # counted against the launch, backed off
    assert retry["error"] == "KeyError: 'server (injected key_error fault in list_guests)'"
    assert [o.status for o in outcome] == [Status.SUCCEEDED]
    assert outcome[0].guest is not None
    assert outcome[0].guest.id == made
    assert fake.all_guest_ids() == [made]


# -- the flavor listing (a provider's answer, not a verdict on the recipe) ---------------


def test_a_flaky_flavor_listing_never_precludes() -> None:
    fake = FakeProvider(
        faults=scripted(
            ("flavors", 1, "transient"), ("flavors", 2, "timeout"), ("flavors", 3, "runtime_error")
        )
    )
    recorder = Recorder()
    with fast_pool({"fake": fake}, subscribe=recorder) as pool:
        outcomes = [pool.submit(Recipe(n)).wait(10) for n in range(5)]
    assert [o.status if o else None for o in outcomes] == [Status.SUCCEEDED] * 5
    assert [c.failed for c in fake.calls if c.operation == "flavors"] == [True, True, True, False]
    assert not recorder.kinds("provider.disabled")


def test_a_listing_that_keeps_failing_leaves_the_recipe_queued_until_its_deadline() -> None:
    fake = FakeProvider(faults=FaultPlan(rates={"flavors": 1.0}, kinds={"flavors": ("transient",)}))
    settings = {"launch_timeout": 60.0, "retry_delay": 0.1, "retry_max_delay": 0.2}

    def listings() -> list[float]:
        return [c.started for c in fake.calls if c.operation == "flavors"]

    with fast_pool({"fake": fake}, **settings) as pool:
        handle = pool.submit(Recipe(1))
        wait_for(lambda: len(listings()) >= 4)
        assert pool.status()["launches"] == {"queued": 1}
        # its deadline passes (moved in the journal: nothing here waits for a clock)
        assert pool.journal.update_launch("1", "test", deadline=time.time())
        outcome = handle.wait(30)
    assert outcome is not None
    assert outcome.status is Status.FAILED
    assert outcome.error is not None
    assert outcome.error.startswith(
        "TimeoutError: not ready within 60 s (fake: cannot list flavors:"
    )
    # retried with backoff (0.05-0.1 s, then 0.1-0.2 s), not on every pass (every 20 ms)
    times = listings()
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert gaps[0] >= 0.049
    assert min(gaps[1:]) >= 0.099


def test_a_permanent_error_listing_flavors_disables_the_provider() -> None:
    broken = FakeProvider(
        name="a", faults=FaultPlan(rates={"flavors": 1.0}, kinds={"flavors": ("permanent",)})
    )
    spare = FakeProvider(name="b")
    recorder = Recorder()
    with fast_pool({"a": broken}, subscribe=recorder) as pool:
        alone = pool.submit(Recipe(1)).wait(10)
    with fast_pool({"a": broken, "b": spare}) as pool:
        pool.enable("a")
        fallback = pool.submit(Recipe(2)).wait(10)
    assert alone is not None
    assert alone.status is Status.SKIPPED
    assert alone.reasons[0].startswith("a: disabled: authentication failed")
    assert recorder.kinds("provider.disabled")[0]["provider"] == "a"
    assert fallback is not None
    assert fallback.status is Status.SUCCEEDED
    assert fallback.provider == "b"


def test_a_provider_whose_flavors_are_unknown_is_neither_a_no_nor_in_the_way() -> None:
    """While a's listing fails, b takes the recipe; when b is full, the recipe waits for
    a's flavors instead of being skipped (or precluded)."""
    broken = FakeProvider(
        name="a", faults=FaultPlan(rates={"flavors": 1.0}, kinds={"flavors": ("transient",)})
    )
    with fast_pool({"a": broken, "b": FakeProvider(name="b")}) as pool:
        elsewhere = pool.submit(Recipe(1)).wait(10)
    flaky = FakeProvider(
        name="a", faults=scripted(("flavors", 1, "timeout"), ("flavors", 2, "timeout"))
    )
    with fast_pool({"b": FakeProvider(name="b", instances=0), "a": flaky}) as pool:
        waited = pool.submit(Recipe(2)).wait(10)
    assert elsewhere is not None
    assert elsewhere.status is Status.SUCCEEDED
    assert elsewhere.provider == "b"
    assert waited is not None
    assert waited.status is Status.SUCCEEDED, waited.reasons
    assert waited.provider == "a"


# -- retries spread -------------------------------------------------------------------


class SaysRetryAfter(FakeProvider):
    """A cloud that answers the first create of each recipe with 429 and Retry-After."""

    def __init__(self, retry_after: float) -> None:
        super().__init__()
        self.retry_after = retry_after
        self.refused: set[str] = set()

    def create_guest(self, spec: GuestSpec) -> Guest:
        if spec.name not in self.refused:
            self.refused.add(spec.name)
            raise TransientError("429 Too Many Requests", retry_after=self.retry_after)
        return super().create_guest(spec)


def test_retries_after_an_outage_are_spread_and_honour_retry_after() -> None:
    fake = SaysRetryAfter(retry_after=0.2)
    recorder = Recorder()
    with fast_pool(
        {"fake": fake}, subscribe=recorder, retry_delay=1.0, retry_max_delay=1.0
    ) as pool:
        outcomes = [h.wait(10) for h in [pool.submit(Recipe(n)) for n in range(8)]]
    assert [o.status if o else None for o in outcomes] == [Status.SUCCEEDED] * 8
    delays = [r["delay"] for r in recorder.kinds("launch.retry")]
    assert len(delays) == 8
    # the backoff (1 s, jittered to 0.5..1 s) is longer than Retry-After here
    assert all(0.5 <= d <= 1.0 for d in delays)
    assert len(set(delays)) == 8  # no two launches retry in lockstep

    fake = SaysRetryAfter(retry_after=0.3)
    recorder = Recorder()
    with fast_pool({"fake": fake}, subscribe=recorder) as pool:
        outcomes = [h.wait(10) for h in [pool.submit(Recipe(n)) for n in range(8)]]
    assert [o.status if o else None for o in outcomes] == [Status.SUCCEEDED] * 8
    delays = [r["delay"] for r in recorder.kinds("launch.retry")]
    assert all(0.3 <= d <= 0.45 for d in delays)  # never sooner than the cloud asked
    assert len(set(delays)) == 8
