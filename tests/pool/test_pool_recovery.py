"""Crash recovery, several launchers on one journal, and the sweeper."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from pool_helpers import FAST, MEDIUM, crashed_mid_create, fast_pool, launched, wait_for

from virtprov.errors import JournalError
from virtprov.fake import FakeProvider
from virtprov.fake.faults import Latency
from virtprov.model import GuestSpec
from virtprov.pool import Journal, Pool, Recipe, Status


@pytest.mark.parametrize("created", [True, False], ids=["create-happened", "create-never-sent"])
def test_a_restarted_launcher_resumes_an_interrupted_create(
    journal_url: str, created: bool
) -> None:
    url = journal_url
    fake = FakeProvider()
    guest_id = crashed_mid_create(url, fake, created=created)
    with fast_pool({"fake": fake}, journal=url) as pool:
        outcome = pool.poll(timeout=10)
    assert [o.status for o in outcome] == [Status.SUCCEEDED]
    guest = outcome[0].guest
    assert guest is not None
    if created:
        assert guest.id == guest_id  # adopted, not made twice
    assert fake.all_guest_ids() == [guest.id]


def test_recovery_never_adopts_the_guest_of_an_earlier_attempt(
    journal_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Attempt 1 made a guest and was doomed (not destroyed yet); attempt 2 was creating
    # when the process died. Both guests carry the recipe's name: the restarted launcher
    # must adopt attempt 2's, not the one the journal already holds (found by soak).
    # (Destroying takes a while, so the doomed guest is still listed during recovery.)
    fake = FakeProvider(latency=Latency(destroy=0.5))
    spec = GuestSpec.for_recipe(1, MEDIUM, pool="virtprov")
    journal = Journal(journal_url)
    journal.register_launcher("test", lease=30)
    journal.submit("1", Recipe(1).to_json(), "test", time.time() + 60)
    journal.claim("test", time.time())
    kwargs = {"recipe_id": "1", "launcher": "test", "provider": "fake", "flavor": MEDIUM}
    first = journal.begin_create(**kwargs, name=spec.name, now=time.time())  # type: ignore[arg-type]
    assert first is not None
    earlier = fake.create_guest(spec).id
    journal.update_guest(first, guest_id=earlier, state="doomed", reason="test")
    second = journal.begin_create(**kwargs, name=spec.name, now=time.time())  # type: ignore[arg-type]
    assert second is not None
    later = fake.create_guest(spec).id
    journal.close()

    with fast_pool({"fake": fake}, journal=journal_url) as pool:
        outcome = pool.poll(timeout=10)
        assert [o.status for o in outcome] == [Status.SUCCEEDED]
        assert outcome[0].guest is not None
        assert outcome[0].guest.id == later
        # the doomed one is still cleaned up
        wait_for(lambda: earlier not in fake.all_guest_ids(), 10)
    # Adopting it would break the journal's one-row-per-guest rule: a failing task.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_launch_of_a_dead_launcher_is_taken_over(journal_url: str) -> None:
    url = journal_url
    fake = FakeProvider(latency=Latency(build=0.05))
    journal = Journal(url)
    journal.register_launcher("dead", lease=30, now=time.time() - 100)  # lease long gone
    journal.submit("9", Recipe(9).to_json(), "dead", time.time() + 60)
    journal.claim("dead", time.time() - 100)
    journal.close()
    with fast_pool({"fake": fake}, journal=url, launcher="alive") as pool:
        deadline = time.monotonic() + 10
        while (row := pool.journal.launch("9")) is not None and row.state != "decided":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert row is not None
        assert row.status == "succeeded"
        assert row.owner == "alive"


def test_two_launchers_on_one_journal_launch_each_recipe_once(
    tmp_path: Path, journal_url: str
) -> None:
    url = journal_url
    fake = FakeProvider(state_file=tmp_path / "cloud.sqlite", latency=Latency(build=0.05))
    with (
        fast_pool({"fake": fake}, journal=url, launcher="one") as one,
        fast_pool({"fake": fake}, journal=url, launcher="two") as two,
    ):
        handles = [(one if n % 2 else two).submit(Recipe(n)) for n in range(30)]
        wait_for(lambda: all(p.journal.counts().get("succeeded", 0) >= 30 for p in (one, two)), 40)
        owners = {two.journal.launch(str(n)).owner for n in range(30)}  # type: ignore[union-attr]
    assert len(handles) == 30
    creates = [c for c in fake.calls if c.operation == "create"]
    assert len(creates) == 30
    assert len(fake.all_guest_ids()) == 30
    assert owners <= {"one", "two"}


def test_a_launcher_name_held_by_a_live_process_is_refused(journal_url: str) -> None:
    url = journal_url
    journal = Journal(url)
    journal.register_launcher("sched", lease=30)
    # Same host, another live pid (ours is alive; pretend the row is someone else's).
    with journal.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE launchers SET pid = 1")
    with pytest.raises(JournalError, match="launcher name 'sched' is held by pid 1"):
        journal.register_launcher("sched", lease=30)


def test_sweeper_deletes_unowned_guests_only_when_seen_twice() -> None:
    fake = FakeProvider()
    with fast_pool({"fake": fake}) as pool:
        kept = pool.submit(Recipe(1)).wait(10)
        assert kept is not None
        assert kept.guest is not None
        orphan = fake.create_guest(GuestSpec.for_recipe(2, MEDIUM, pool="virtprov"))
        stranger = fake.create_guest(GuestSpec.for_recipe(3, MEDIUM, pool="another-pool"))
        first = pool.sweep()
        assert [(o.guest_id, o.deleted) for o in first.orphans] == [(orphan.id, False)]
        dry = pool.sweep(dry_run=True)
        assert not dry.deleted
        second = pool.sweep()
        assert [(o.guest_id, o.deleted) for o in second.orphans] == [(orphan.id, True)]
        assert sorted(fake.all_guest_ids()) == sorted([kept.guest.id, stranger.id])


def test_sweeper_trusts_the_callers_owned_set_once_outcomes_are_taken() -> None:
    fake = FakeProvider()
    with fast_pool({"fake": fake}) as pool:
        mine, forgotten = launched(pool, 1), launched(pool, 2)
        # Not taken yet: the caller cannot have claimed them, so nothing is swept.
        assert pool.sweep(owned=[]).orphans == ()
        pool.poll()
        pool.sweep(owned=["1"])
        report = pool.sweep(owned=["1"])
        assert [o.name for o in report.deleted] == [forgotten.name]
        assert fake.all_guest_ids() == [mine.id]


def test_pool_from_config_reads_the_pool_table(tmp_path: Path) -> None:
    config = tmp_path / "virtprov.toml"
    config.write_text(
        f"""
[pool]
name = "lab-a"
journal = "sqlite:///{tmp_path / "j.sqlite"}"
launcher = "sched-1"
poll_interval = 0.05

[providers.cloud]
driver = "fake"
lab = "lab.example.com"
"""
    )
    with Pool.from_config(config) as pool:
        outcome = pool.submit(Recipe(1, labs=["lab.example.com"])).wait(10)
    assert outcome is not None
    assert outcome.status is Status.SUCCEEDED
    assert outcome.guest is not None
    assert outcome.guest.labels["virtprov-pool"] == "lab-a"
    assert FAST.launcher == "test"
