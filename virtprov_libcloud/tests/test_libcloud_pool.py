"""The pool drives the libcloud provider: a launch to a ready guest, and its release."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from virtprov_libcloud.provider import LibcloudProvider

from virtprov.pool import Limits, Pool, PoolSettings, Recipe, Status

SETTINGS = PoolSettings(
    launcher="test",
    poll_interval=0.0,
    # One capacity read per run, so that the replayed requests do not depend on timing.
    capacity_refresh=3600.0,
    default_limits=Limits(mutating=0.0, read=0.0),
)


@pytest.mark.vcr
def test_pool_launches_and_releases_a_guest(
    make_provider: Callable[..., LibcloudProvider],
) -> None:
    provider = make_provider(max_instances=5)
    with Pool({"ec2": provider}, settings=SETTINGS, journal="sqlite://") as pool:
        outcome = pool.submit(Recipe(501, labs=["lab.example.com"], owner="jdoe")).wait(60)
        assert outcome is not None
        assert outcome.status is Status.SUCCEEDED, outcome
        assert outcome.guest is not None
        assert outcome.guest.name == "beaker-recipe-501"
        assert outcome.guest.macs
        pool.release(outcome)
        deadline = time.monotonic() + 60
        while pool.journal.guests_in(["live", "doomed", "destroyed"]):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert provider.poll([outcome.guest.id]) == {}
