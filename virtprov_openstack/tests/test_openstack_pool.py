"""The pool drives the OpenStack provider: a launch, a ready guest, its release (cassette)."""

from __future__ import annotations

import time

import pytest
from virtprov_openstack.provider import OpenStackProvider

from virtprov.pool import Limits, Pool, PoolSettings, Recipe, Status

SETTINGS = PoolSettings(
    launcher="test",
    poll_interval=0.0,
    default_limits=Limits(mutating=0.0, read=0.0),
)


@pytest.mark.vcr
def test_pool_launches_and_releases_a_guest(provider: OpenStackProvider) -> None:
    with Pool({"openstack-test": provider}, settings=SETTINGS, journal="sqlite://") as pool:
        outcome = pool.submit(Recipe(301, labs=["lab.example.com"], owner="jdoe")).wait(60)
        assert outcome is not None
        assert outcome.status is Status.SUCCEEDED, outcome
        assert outcome.guest is not None
        assert outcome.guest.name.endswith("recipe-301")
        assert len(outcome.guest.macs) == 1
        assert outcome.provider == "openstack-test"
        pool.release(outcome)
        deadline = time.monotonic() + 60
        while pool.journal.guests_in(["live", "doomed", "destroyed"]):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert provider.poll([outcome.guest.id]) == {}


@pytest.mark.vcr
def test_pool_precludes_before_any_cloud_call(provider: OpenStackProvider) -> None:
    vmx = "<hostRequires><cpu><flag value='vmx'/></cpu></hostRequires>"
    with Pool({"openstack-test": provider}, settings=SETTINGS, journal="sqlite://") as pool:
        outcome = pool.submit(Recipe(302, vmx)).wait(60)
    assert outcome is not None
    assert outcome.status is Status.PRECLUDED
    assert "cpu.flag" in outcome.reasons[0]
