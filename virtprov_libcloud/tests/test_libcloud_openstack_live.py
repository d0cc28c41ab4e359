"""The libcloud provider through libcloud's OpenStack driver against a live OpenStack.

``pytest -m live_openstack virtprov_libcloud/tests`` with ``OS_CLOUD`` (and
``OS_CLIENT_CONFIG_FILE``) naming the cloud, e.g. the reference OpenStack
(``scripts/test-live-openstack`` runs it): the conformance suite, a guest's life on a
project that sees two networks, two pollers stopping one guest, a "No valid host" flavor
skipped through the next provider within 10 s, and bad credentials disabling the
provider. The same scenarios replay from cassettes in test_libcloud_openstack.py.
"""

from __future__ import annotations

import pytest
from test_libcloud_openstack import (
    LibcloudOpenStackConformance,
    Make,
    bad_credentials_disable,
    life_on_two_networks,
    no_valid_host_falls_through,
    two_pollers_stop_once,
)

pytestmark = pytest.mark.live_openstack


class TestLiveLibcloudOpenStackConformance(LibcloudOpenStackConformance):
    poll_interval = 0.5
    name_prefix = "vplclive-"


def test_live_guest_life_on_two_networks(make_openstack: Make) -> None:
    life_on_two_networks(make_openstack)


def test_live_two_pollers_stop_once(
    make_openstack: Make, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    two_pollers_stop_once(make_openstack, monkeypatch, caplog)


def test_live_no_valid_host_is_skipped_within_10_s(make_openstack: Make) -> None:
    took = no_valid_host_falls_through(make_openstack)
    print(f"no valid host -> skipped in {took:.1f} s")
    assert took < 10.0


def test_live_bad_credentials_disable_the_provider(make_openstack: Make) -> None:
    assert "refused the credentials" in bad_credentials_disable(make_openstack)
