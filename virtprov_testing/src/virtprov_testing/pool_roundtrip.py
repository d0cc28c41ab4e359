"""The pool driving a provider end to end: one launch to a ready guest, and its release.

Every provider's tests run this once against their cassettes, so that the scheduler-facing
pool is exercised on the real request sequence of each cloud, not only on the fake::

    outcome = launch_and_release(provider, Recipe(301, labs=["lab.example.com"]))
    assert len(outcome.guest.macs) == 1   # and whatever else the provider promises
"""

from __future__ import annotations

import time

from virtprov.pool import Limits, Outcome, Pool, PoolSettings, Recipe, Status
from virtprov.provider import Provider

#: Pool settings for replaying cassettes: no waiting between polls, no rate limits, and
#: one capacity read per run so that the requests do not depend on timing. One worker:
#: recording through vcrpy is not thread-safe (while it sends one request it unpatches
#: the connection classes for every thread, so a request another worker sends then is
#: never recorded), and calls made one at a time are recorded whole.
REPLAY_SETTINGS = PoolSettings(
    launcher="test",
    workers=1,
    poll_interval=0.0,
    capacity_refresh=3600.0,
    default_limits=Limits(mutating=0.0, read=0.0),
)


def launch_and_release(provider: Provider, recipe: Recipe, timeout: float = 60.0) -> Outcome:
    """Launch ``recipe`` through a pool on ``provider`` alone, release the guest, and wait
    until the pool confirmed it destroyed and the provider no longer lists it.

    Asserts that the launch succeeded on this provider with a guest; returns its outcome.
    """
    name = provider.info.name
    with Pool({name: provider}, settings=REPLAY_SETTINGS, journal="sqlite://") as pool:
        outcome = pool.submit(recipe).wait(timeout)
        assert outcome is not None, f"no outcome within {timeout} s"
        assert outcome.status is Status.SUCCEEDED, outcome
        assert outcome.guest is not None
        assert outcome.provider == name
        pool.release(outcome)
        deadline = time.monotonic() + timeout
        while pool.journal.guests_in(["live", "doomed", "destroyed"]):
            assert time.monotonic() < deadline, "the released guest was not destroyed"
            time.sleep(0.05)
        assert provider.poll([outcome.guest.id]) == {}
    return outcome
