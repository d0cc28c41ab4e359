"""The shared provider conformance suite against libcloud's EC2 driver on moto, replayed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from virtprov_libcloud.provider import LibcloudProvider
from virtprov_testing.conformance import ProviderConformance

pytestmark = pytest.mark.vcr


class TestLibcloudConformance(ProviderConformance):
    poll_interval = 0.0  # replaying: no need to wait between polls
    ready_timeout = 60.0
    image = "ami-bb9a6bc2"  # one of moto's built-in AMIs (RHEL 7.4 HVM)

    @pytest.fixture
    def provider(self, make_provider: Callable[..., LibcloudProvider]) -> LibcloudProvider:
        return make_provider()
