"""The shared provider conformance suite against libcloud's EC2 driver on moto, replayed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from libcloud_testenv import SECRET_ENV
from virtprov_libcloud.provider import LibcloudProvider
from virtprov_testing.conformance import ProviderConformance

pytestmark = pytest.mark.vcr


class TestLibcloudConformance(ProviderConformance):
    secrets = {SECRET_ENV: "moto-accepts-any-secret"}  # never in a repr, an error or a log record
    poll_interval = 0.0  # replaying: no need to wait between polls
    ready_timeout = 60.0

    @pytest.fixture
    def provider(self, make_provider: Callable[..., LibcloudProvider]) -> LibcloudProvider:
        return make_provider()
