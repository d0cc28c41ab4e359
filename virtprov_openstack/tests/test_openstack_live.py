"""The OpenStack provider end to end against a live cloud, with no cassette.

``pytest -m live_openstack`` with ``OS_CLOUD`` (and ``OS_CLIENT_CONFIG_FILE``) naming the
cloud: the conformance suite, and one guest's whole life in each network mode. Skipped
without ``OS_CLOUD``. ``scripts/reference-openstack up`` prints the variables for the
reference OpenStack; docs/reference-openstack.md has the one command that runs it all.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from openstack_testenv import LIVE_TIMEOUT
from test_openstack_provider import image_boot_life, life
from virtprov_openstack.provider import OpenStackProvider
from virtprov_testing.pool_roundtrip import launch_and_release

from virtprov.pool import Recipe

conformance = pytest.importorskip("virtprov_testing.conformance")

pytestmark = pytest.mark.live_openstack


class TestLiveOpenStackConformance(conformance.ProviderConformance):  # type: ignore[misc,name-defined]
    poll_interval = 0.5
    ready_timeout = LIVE_TIMEOUT
    name_prefix = "vplive-"
    image = "ipxe-beaker"

    @pytest.fixture
    def provider(self, make_provider: Callable[..., OpenStackProvider]) -> OpenStackProvider:
        return make_provider()


@pytest.mark.parametrize("mode", ["floating", "fixed"])
def test_live_guest_life(make_provider: Callable[..., OpenStackProvider], mode: str) -> None:
    """create -> ready -> start -> running -> stop -> stopped -> destroy, per network mode."""
    life(make_provider(network_mode=mode), "401" if mode == "floating" else "402")


def test_live_pool_launches_and_releases_a_guest(
    make_provider: Callable[..., OpenStackProvider],
) -> None:
    """The pool driving the provider: a launch to a ready guest, its release."""
    provider = make_provider()
    outcome = launch_and_release(provider, Recipe(403, labs=["lab.example.com"]), LIVE_TIMEOUT)
    assert outcome.guest is not None
    assert len(outcome.guest.macs) == 1


def test_live_image_boot_with_key_pair_and_user_data(
    make_provider: Callable[..., OpenStackProvider],
) -> None:
    """An image boot reaches running with an address; destroy removes its key pair."""
    image_boot_life(make_provider(), "404")
