"""The cloud's own steps as states of a launch: no worker waits for a delete or a start,
``succeeded`` (with a boot request) means running, and polls come soon after a change
and back off while nothing changes."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence

from pool_helpers import Recorder, fast_pool, wait_for

from benchmarks.threads import most_threads
from virtprov.fake import FakeProvider
from virtprov.fake.faults import Latency
from virtprov.model import GuestState, KernelBoot, NetworkBoot, OwnedResource
from virtprov.pool import Event, Recipe, Status


class TimedFake(FakeProvider):
    """The fake, remembering how long each destroy call kept its caller."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.destroy_calls: list[float] = []
        self._timing = threading.Lock()

    def destroy_guest(self, guest_id: str) -> Sequence[OwnedResource]:
        started = time.monotonic()
        try:
            return super().destroy_guest(guest_id)
        finally:
            with self._timing:
                self.destroy_calls.append(time.monotonic() - started)


def test_two_workers_destroy_twenty_guests_without_waiting_for_the_deletes(
    journal_url: str,
) -> None:
    """Each delete takes the cloud 3 s. A worker that waited for each would need
    20 x 3 s / 2 workers = 30 s; the pool takes about one delete's time, and deletes
    what each guest left (its port and network) once a poll saw it gone."""
    delete = 3.0
    fake = TimedFake(latency=Latency(delete=delete))
    recorder = Recorder()
    with (
        most_threads(0.01) as threads,
        fast_pool(
            {"fake": fake}, journal=journal_url, workers=2, poll_interval=1.0, subscribe=recorder
        ) as pool,
    ):
        handles = [pool.submit(Recipe(n)) for n in range(20)]
        outcomes = [handle.wait(60) for handle in handles]
        assert all(o is not None and o.status is Status.SUCCEEDED for o in outcomes)
        assert len(fake.all_resource_ids()) == 40  # a network and a port each
        released = time.monotonic()
        for outcome in outcomes:
            assert outcome is not None
            pool.release(outcome)
        wait_for(lambda: len(recorder.kinds("guest.destroyed")) == 20, 60, "all confirmed gone")
        took = time.monotonic() - released
        rows = pool.journal.guests_in(["gone"])
    # docs/pool.md: 2 workers, a driver and a watchdog, whatever the number of guests, and
    # the history pruner (asleep)
    assert threads.names == {
        "virtprov-worker-0",
        "virtprov-worker-1",
        "virtprov-driver",
        "virtprov-watchdog",
        "virtprov-history",
    }
    assert threads.most == 5
    assert took >= delete  # confirmed by a poll, never assumed
    assert took < 20 * delete / 2 / 2, f"{took:.1f} s: the deletes were waited for"
    assert max(fake.destroy_calls) < delete / 2  # no destroy call waited for its guest
    assert fake.all_guest_ids() == []
    assert fake.all_resource_ids() == []  # what they left went after them
    assert len(rows) == 20
    assert all(not row.leftovers for row in rows)
    # never deleted before its guest was gone (the fake refuses that, as Neutron does)
    assert not [c for c in fake.calls if c.operation == "destroy" and c.failed]


def test_what_a_destroy_left_is_deleted_only_after_a_poll_saw_the_guest_gone(
    journal_url: str,
) -> None:
    fake = FakeProvider(latency=Latency(delete=1.0))
    seen: list[tuple[str, object]] = []

    def watch(event: Event) -> None:
        if event.kind == "guest.destroyed":
            seen.append(("destroyed", event.fields["guest_id"]))

    with fast_pool({"fake": fake}, journal=journal_url, subscribe=watch) as pool:
        outcome = pool.submit(Recipe(1)).wait(30)
        assert outcome is not None
        assert outcome.guest is not None
        pool.release(outcome)
        wait_for(lambda: pool.journal.guests_in(["destroyed"]) != [], 30, "the delete is accepted")
        (row,) = pool.journal.guests_in(["destroyed"])
        # recorded: the journal knows what to delete even if this process dies now
        assert [r.kind for r in row.leftovers] == ["port", "network"]
        assert fake.poll([outcome.guest.id])[outcome.guest.id].state is GuestState.DELETED
        wait_for(lambda: seen != [], 30, "confirmed gone")
    assert seen == [("destroyed", outcome.guest.id)]
    assert fake.all_resource_ids() == []


def test_succeeded_is_reported_only_for_a_guest_the_provider_reports_running() -> None:
    """A start the cloud accepted is not a running guest: the fake takes 1 s to boot
    (reporting the guest stopped meanwhile, as Nova reports SHUTOFF while powering on)."""
    fake = FakeProvider(latency=Latency(build=0.1, boot=1.0))
    recorder = Recorder()
    at_outcome: list[GuestState] = []

    def look(event: Event) -> None:
        recorder(event)
        if event.kind == "launch.outcome":  # what the cloud says as the outcome is decided
            (guest_id,) = fake.all_guest_ids()
            at_outcome.append(fake.poll([guest_id])[guest_id].state)

    with fast_pool({"fake": fake}, subscribe=look) as pool:
        outcome = pool.submit(Recipe(1, boot=NetworkBoot())).wait(30)
    assert outcome is not None
    assert outcome.status is Status.SUCCEEDED
    assert outcome.guest is not None
    assert outcome.guest.state is GuestState.RUNNING
    assert at_outcome == [GuestState.RUNNING]
    (running,) = recorder.kinds("guest.running")
    assert running["guest_id"] == outcome.guest.id
    assert running["seconds"] >= 0.9  # the start's own time, in the events
    # started once: a stopped guest after the start is waited for, not started again
    assert [c.operation for c in fake.calls].count("start") == 1


def test_a_guest_that_never_runs_after_its_start_fails_at_the_deadline_saying_so() -> None:
    fake = FakeProvider(latency=Latency(boot=3600.0))
    with fast_pool({"fake": fake}, launch_timeout=4.0) as pool:
        boot = KernelBoot("/net/vmlinuz", "/net/initrd.img", "ks=http://lab/ks.cfg")
        outcome = pool.submit(Recipe(1, boot=boot)).wait(30)
    assert outcome is not None
    assert outcome.status is Status.FAILED
    assert outcome.error == "TimeoutError: not ready within 4 s (fake: started, not running yet)"
    assert [c.operation for c in fake.calls].count("start") == 1


def _polls_after_the_create(fake: FakeProvider) -> list[float]:
    (create,) = [c.ended for c in fake.calls if c.operation == "create"]
    return [c.started for c in fake.calls if c.operation == "poll" and c.started > create]


def test_a_guest_is_seen_ready_soon_after_its_build_not_a_poll_interval_later() -> None:
    fake = FakeProvider(latency=Latency(build=1.0))
    with fast_pool({"fake": fake}, poll_interval=30.0) as pool:
        started = time.monotonic()
        outcome = pool.submit(Recipe(1)).wait(60)
        took = time.monotonic() - started
    assert outcome is not None
    assert outcome.status is Status.SUCCEEDED
    assert took < 10.0  # a poll every 30 s would see it 30 s after the first look


def test_polls_come_soon_after_a_create_and_back_off_while_nothing_changes() -> None:
    """A 6 s build, polled 0.25 s after the create, then with the wait doubling up to
    the 4 s poll_interval: about 5 polls, the first ones close together."""
    fake = FakeProvider(latency=Latency(build=6.0))
    with fast_pool({"fake": fake}, poll_interval=4.0) as pool:
        outcome = pool.submit(Recipe(1)).wait(60)
    assert outcome is not None
    assert outcome.status is Status.SUCCEEDED
    polls = _polls_after_the_create(fake)
    assert 3 <= len(polls) <= 8, polls
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    assert gaps[0] < 1.5  # soon after the create
    assert gaps[-1] >= 1.5  # then further apart while it builds
    assert max(gaps) < 4.0 + 2.0  # never beyond poll_interval (with slack for load)
