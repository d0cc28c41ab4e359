"""Submit is atomic; close means closed; doomed guests outlive nobody's ownership."""

from __future__ import annotations

import datetime
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from pool_helpers import MEDIUM, Recorder, fast_pool, launched, wait_gone

from virtprov.errors import HostRequiresError
from virtprov.fake import FakeProvider
from virtprov.fake.faults import FaultPlan, Latency
from virtprov.model import Guest, GuestSpec
from virtprov.pool import Journal, Pool, Recipe
from virtprov.pool.journal import GuestRow
from virtprov.pool.pool import Leftover

# -- submit ---------------------------------------------------------------------------


def test_a_submit_that_raises_leaves_no_trace_and_the_corrected_one_is_accepted(
    journal_url: str,
) -> None:
    dated = {"cpu": {"model-name": "Xeon"}, "beaker": {"since": datetime.date(2024, 1, 1)}}
    with fast_pool({"fake": FakeProvider()}, journal=journal_url) as pool:
        with pytest.raises(HostRequiresError) as raised:
            pool.submit(Recipe(1, hardware=dated))
        assert pool.handle("1") is None
        assert pool.journal.launch("1") is None
        corrected = {"cpu": {"model-name": "Xeon"}, "beaker": {"since": "2024-01-01"}}
        handle = pool.submit(Recipe(1, hardware=corrected))
        outcome = handle.wait(10)
    assert str(raised.value) == (
        "hardware.beaker.since: datetime.date(2024, 1, 1) is a date, not a string, number, "
        "boolean, list or mapping (quote it in YAML to keep it as text)"
    )
    assert raised.value.key == "hardware.beaker.since"
    assert outcome is not None  # decided (the evaluator's verdict on "beaker" aside)


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        (lambda: Recipe(1, hardware={"memory": float("nan")}), "hardware.memory: nan is not a"),
        (lambda: Recipe(1, hardware={1: "x"}), "hardware: keys must be text, got int 1"),
        (
            lambda: Recipe(1, hardware={"disk": [{"size": {1, 2}}]}),
            "hardware.disk[0].size: expected text, a number, a flag, a list or a mapping, got set",
        ),
        (lambda: Recipe(1, b"<hostRequires/>"), "host_requires: b'<hostRequires/>' is a bytes"),  # type: ignore[arg-type]
        (lambda: Recipe(1, owner=object()), "recipe 1: owner: <object object at"),  # type: ignore[arg-type]
        (lambda: Recipe("x" * 101), f"recipe id {'x' * 20!r}... is 101 characters long, more"),
        (
            lambda: Recipe(1, hardware={"memory": 10**5000}),
            "hardware.memory: a number of more than 30 digits",
        ),
    ],
)
def test_what_the_journal_cannot_keep_is_refused_naming_where(
    recipe: Callable[[], Recipe], message: str
) -> None:
    """Refused when the recipe is made (its mapping's bounds) or submitted (what JSON
    cannot hold), naming where; either way nothing is recorded."""
    with fast_pool({"fake": FakeProvider()}) as pool:
        with pytest.raises(ValueError, match="^" + re.escape(message)):
            pool.submit(recipe())
        assert pool.journal.counts() == {}


def test_a_request_that_contains_itself_is_refused() -> None:
    looped: dict[str, object] = {"and": []}
    looped["and"] = [looped]
    with (
        fast_pool({"fake": FakeProvider()}) as pool,
        pytest.raises(
            HostRequiresError, match=r"^hardware.and\[0\]\.and\[0\].*\.\.\.: nested deeper"
        ),
    ):
        pool.submit(Recipe(1, hardware=looped))


# -- close ----------------------------------------------------------------------------


class Held(FakeProvider):
    """A cloud whose creates and deletes wait at ``gate`` (a slow cloud, without a
    timing: the test says when they go through)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = threading.Event()
        self.waiting = threading.Event()  # a call is waiting at the gate

    def create_guest(self, spec: GuestSpec) -> Guest:
        self._hold()
        return super().create_guest(spec)

    def destroy_guest(self, guest_id: str) -> None:
        self._hold()
        super().destroy_guest(guest_id)

    def _hold(self) -> None:
        self.waiting.set()
        self.gate.wait(60)


def open_when_closing(pool: Pool, gate: threading.Event) -> None:
    """Open ``gate`` once ``close()`` has counted what it must destroy and drains."""
    drain = pool.launcher.drain

    def drain_then(timeout: float) -> list[GuestRow] | None:
        gate.set()
        return drain(timeout)

    pool.launcher.drain = drain_then  # type: ignore[method-assign]


def test_leaving_the_block_destroys_the_guests_released_before(journal_url: str) -> None:
    fake = Held()
    fake.gate.set()
    recorder = Recorder()
    with fast_pool({"fake": fake}, journal=journal_url, subscribe=recorder) as pool:
        outcomes = [pool.submit(Recipe(n)).wait(10) for n in range(3)]
        kept = outcomes.pop()
        # Released guests are still there when the block is left, however slow this
        # thread is: their deletes wait until close() drains.
        fake.gate.clear()
        open_when_closing(pool, fake.gate)
        for outcome in outcomes:
            assert outcome is not None
            pool.release(outcome)
    assert kept is not None
    assert kept.guest is not None
    assert fake.all_guest_ids() == [kept.guest.id]  # released ones gone, the kept one not
    assert recorder.kinds("pool.closed")[0]["destroyed"] == 2
    assert recorder.kinds("pool.closed")[0]["left"] == 0
    journal = Journal(journal_url)
    assert journal.guests_in(["doomed", "destroyed"]) == []
    journal.close()


def test_what_close_cannot_destroy_in_time_is_reported_and_the_next_pool_finishes_it(
    journal_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeProvider(faults=FaultPlan(rates={"destroy": 1.0}, kinds={"destroy": ("timeout",)}))
    recorder = Recorder()
    pool = fast_pool({"fake": fake}, journal=journal_url, subscribe=recorder)
    guest = launched(pool, 1)
    pool.release(guest)
    started = time.monotonic()
    left = pool.close(timeout=0.5)
    took = time.monotonic() - started
    assert left == (Leftover("fake", guest.id, guest.name),)
    assert 0.5 <= took < 5
    assert recorder.kinds("pool.closed")[0]["left"] == 1
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "1 guest(s) not confirmed destroyed within 0.5 s: fake/" in warning.getMessage()
    assert "the next pool on it destroys them" in warning.getMessage()
    assert fake.all_guest_ids() == [guest.id]

    fake.faults = FaultPlan()  # the cloud is back
    with fast_pool({"fake": fake}, journal=journal_url, launcher="another"):
        wait_gone(fake)
    assert fake.all_guest_ids() == []


def test_close_makes_no_new_guest() -> None:
    fake = Held(latency=Latency(build=5.0))
    with fast_pool({"fake": fake}, workers=1) as pool:
        open_when_closing(pool, fake.gate)
        for n in range(10):
            pool.submit(Recipe(n))
        assert fake.waiting.wait(30)  # the one worker is in the first create
        pool.close(timeout=0.2)
        made = len(fake.all_guest_ids())
        time.sleep(0.3)
    # the create in flight when closing began ends; none of the 9 planned after it starts
    assert len(fake.all_guest_ids()) == made == 1


def test_a_doomed_guest_of_a_launcher_that_is_gone_is_destroyed_by_another(
    journal_url: str,
) -> None:
    fake = FakeProvider()
    spec = GuestSpec.for_recipe(1, MEDIUM, pool="virtprov")
    guest = fake.create_guest(spec)
    journal = Journal(journal_url)
    journal.register_launcher("gone", lease=30, now=time.time() - 100)  # its lease ran out
    journal.submit("1", Recipe(1).to_json(), "gone", time.time() + 60)
    journal.claim("gone", time.time() - 100)
    kwargs = {"recipe_id": "1", "launcher": "gone", "provider": "fake", "flavor": MEDIUM}
    row = journal.begin_create(**kwargs, name=spec.name, now=time.time())  # type: ignore[arg-type]
    assert row is not None
    journal.update_guest(row, guest_id=guest.id, state="live")
    journal.decide("1", "gone", "succeeded", {})
    journal.update_guest(row, state="doomed", reason="released")  # its destroy never ran
    journal.close()
    with fast_pool({"fake": fake}, journal=journal_url, launcher="alive"):
        wait_gone(fake)
    assert fake.all_guest_ids() == []


# -- a step planned before a decision never undoes it ------------------------------------


def test_a_poll_planned_before_the_outcome_never_relaunches_a_released_guest(
    journal_url: str,
) -> None:
    """The driver read a launch as building, the previous poll decided it and the
    scheduler released its guest, then the poll planned from the old row ran: it saw the
    guest gone and retried the launch, which made a second guest nobody would ever take
    (found by the soak once it counted every guest left in the cloud)."""
    fake = FakeProvider()
    with fast_pool({"fake": fake}, journal=journal_url) as pool:
        pool.release(launched(pool, 1))
        wait_gone(fake)
        decided = pool.journal.launch("1")
        assert decided is not None
        stale = attrs.evolve(decided, state="building", status=None, outcome=None)
        pool.launcher._poll_provider(pool.launcher.providers["fake"], [stale])
        time.sleep(0.3)
        assert pool.journal.launch("1") == decided
        # and the journal itself refuses to move a decided launch
        assert not pool.journal.update_launch("1", "test", state="queued")
        assert (
            pool.journal.begin_create(
                recipe_id="1", launcher="test", provider="fake", flavor=MEDIUM, name="x", now=0
            )
            is None
        )
    assert fake.all_guest_ids() == []
    assert [c.operation for c in fake.calls].count("create") == 1
