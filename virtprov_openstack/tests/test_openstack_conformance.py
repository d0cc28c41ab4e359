"""The shared provider conformance suite, replayed from cassettes like every other test."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from openstack_testenv import LIVE_TIMEOUT, PASSWORD_ENV, POLL_PAUSE
from virtprov_openstack.provider import OpenStackProvider

conformance = pytest.importorskip("virtprov_testing.conformance")

pytestmark = pytest.mark.vcr


class TestOpenStackConformance(conformance.ProviderConformance):  # type: ignore[misc,name-defined]
    unplaceable_flavor = "m1.xlarge"  # 16 vCPUs: Nova's "No valid host was found"
    secrets = {PASSWORD_ENV: "replayed-not-a-password"}  # never in a repr, an error or a log record
    poll_interval = POLL_PAUSE  # replaying: no need to wait between polls
    ready_timeout = LIVE_TIMEOUT
    image = "ipxe-beaker"  # the reference cloud's image, booted by name

    @pytest.fixture
    def provider(self, make_provider: Callable[..., OpenStackProvider]) -> OpenStackProvider:
        return make_provider()
