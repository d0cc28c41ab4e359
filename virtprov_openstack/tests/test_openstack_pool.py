"""The pool drives the OpenStack provider: a launch, a ready guest, its release (cassette)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from openstack_testenv import live_cloud, minicloud_options
from virtprov_openstack.provider import OpenStackProvider
from virtprov_testing.pool_roundtrip import REPLAY_SETTINGS, launch_and_release

from virtprov.pool import Pool, Recipe, Status


@pytest.mark.vcr
@pytest.mark.skipif(
    live_cloud() is not None,
    reason="composed cassette: on a real cloud the pool's polls between ready and release "
    "vary in number, so a recording does not replay; test_openstack_live runs it live",
)
def test_pool_launches_and_releases_a_guest(
    make_provider: Callable[..., OpenStackProvider],
) -> None:
    provider = make_provider(**minicloud_options())
    outcome = launch_and_release(provider, Recipe(301, labs=["lab.example.com"], owner="jdoe"))
    assert outcome.guest is not None
    assert outcome.guest.name.endswith("recipe-301")
    assert len(outcome.guest.macs) == 1
    assert outcome.provider == "openstack-test"


@pytest.mark.vcr
def test_pool_precludes_before_any_cloud_call(provider: OpenStackProvider) -> None:
    # Bare metal: no flavor can declare otherwise, so no flavor is listed. (A CPU flag
    # would need the flavors: m1.nested declares vmx, and an unlisted provider is not a no.)
    metal = "<hostRequires><hypervisor value=''/></hostRequires>"
    pool = Pool({"openstack-test": provider}, settings=REPLAY_SETTINGS, journal="sqlite://")
    with pool:
        outcome = pool.submit(Recipe(302, metal)).wait(60)
    assert outcome is not None
    assert outcome.status is Status.PRECLUDED
    assert "hypervisor" in outcome.reasons[0]
