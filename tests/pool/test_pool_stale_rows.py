"""The driver never plans from a row that a task changed after the driver read it.

The driver reads the rows of a pass (the launches it owns, the doomed guests) and then
hands each to a worker, unless a task on that launch or guest is still running. A task
that ended between the read and that check has changed the row: planning from the old
row did the step a second time (found by the soak under load). These tests run the
launcher by hand, in the test's thread, to put that moment exactly where it bit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import attrs
from pool_helpers import FAST, scripted

from virtprov.fake import FakeProvider
from virtprov.pool import Pool, Recipe, Status
from virtprov.pool.journal import GuestRow, LaunchRow


def by_hand(fake: FakeProvider) -> Pool:
    """A pool whose launcher runs only when the test says: ``tick()`` plans, ``work()``
    does the tasks it queued."""
    settings = attrs.evolve(FAST, poll_interval=0.0)
    return Pool({"fake": fake}, settings=settings, journal="sqlite://", start=False)


def work(pool: Pool) -> None:
    """Do every queued task in this thread, as the workers would."""
    tasks = pool.launcher._tasks
    while not tasks.empty():
        _, _, item = tasks.get_nowait()
        if item is not None:
            item[1]()


def drive(pool: Pool, done: Callable[[], bool]) -> None:
    """Plan and work until ``done()`` (retries wait a backoff of real time)."""
    deadline = time.monotonic() + 30
    while not done():
        assert time.monotonic() < deadline, "the launch did not get there"
        pool.launcher.tick()
        work(pool)
        time.sleep(0.005)


def launch(pool: Pool) -> LaunchRow:
    row = pool.journal.launch("1")
    assert row is not None
    return row


def test_a_create_that_ended_after_the_pass_read_its_launch_is_not_recovered() -> None:
    """The pass read the launch as ``creating``; its create then lost its answer (the
    guest doomed, the launch queued for a retry) and ended. A recovery planned from the
    old row would adopt the lost guest into a launch that no longer points at it: the
    guest would be kept for ever, the launch would wait for nothing."""
    fake = FakeProvider(faults=scripted(("create", 1, "lost_response")))
    pool = by_hand(fake)
    pool.submit(Recipe(1))
    for _ in range(10):  # a capacity read and the flavor listing, then the create
        pool.launcher.tick()
        if launch(pool).state == "creating":
            break
        work(pool)
    assert launch(pool).state == "creating"  # its create queued, not done yet
    (lost,) = pool.journal.guests_in(["creating"])

    claim = pool.journal.claim

    def claim_then_create(*args: object, **kwargs: object) -> list[LaunchRow]:
        rows = claim(*args, **kwargs)  # type: ignore[arg-type]
        pool.journal.claim = claim  # type: ignore[method-assign]
        work(pool)  # a worker ends the create meanwhile
        return rows

    pool.journal.claim = claim_then_create  # type: ignore[method-assign]
    pool.launcher.tick()
    work(pool)

    assert pool.journal.guest(lost.id).state == "doomed"  # not adopted
    assert (launch(pool).state, launch(pool).guest_row) == ("queued", None)
    drive(pool, lambda: launch(pool).state == "decided")
    (outcome,) = pool.poll()
    assert outcome.status is Status.SUCCEEDED
    pool.release(outcome)
    drive(pool, lambda: not pool.journal.guests_in(["doomed", "destroyed"]))
    assert fake.all_guest_ids() == []  # the lost guest too
    pool.close()


def test_a_destroy_that_ended_after_the_pass_read_the_doomed_rows_is_not_done_again() -> None:
    """The pass read a released guest as doomed; its destroy then ended and a poll
    confirmed the guest gone. A destroy planned from the old row called the cloud again
    and wrote the row back to ``destroyed``: a guest already confirmed gone was counted
    as still being destroyed (and ``close()`` could stop in between)."""
    fake = FakeProvider()
    pool = by_hand(fake)
    pool.submit(Recipe(1))
    drive(pool, lambda: launch(pool).state == "decided")
    (outcome,) = pool.poll()
    pool.release(outcome)
    pool.launcher.tick()  # the destroy is queued
    (doomed,) = pool.journal.guests_in(["doomed"])

    guests_in = pool.journal.guests_in

    def read_then_destroy(states: Sequence[str], provider: str | None = None) -> list[GuestRow]:
        rows = guests_in(states, provider)
        if list(states) == ["doomed"]:
            pool.journal.guests_in = guests_in  # type: ignore[method-assign]
            work(pool)  # a worker ends the destroy meanwhile, and a poll confirms it
            pool.launcher._poll_provider(pool.launcher.providers["fake"], [])
        return rows

    pool.journal.guests_in = read_then_destroy  # type: ignore[method-assign]
    pool.launcher.tick()
    work(pool)

    assert pool.journal.guest(doomed.id).state == "gone"
    assert [c.operation for c in fake.calls].count("destroy") == 1
    pool.close()
