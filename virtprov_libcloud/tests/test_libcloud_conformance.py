"""The shared provider conformance suite against libcloud's EC2 driver on moto, replayed.

Both knob-driven checks run: a subnet chosen by name (seeded in moto, see
libcloud_testenv.py), and an instance type EC2 accepts but cannot place, terminated with
``Server.InsufficientInstanceCapacity`` (composed while recording).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from libcloud_testenv import SECRET_ENV, SUBNET, SUBNET_CIDR, UNPLACEABLE, base_options
from virtprov_libcloud.provider import LibcloudProvider
from virtprov_testing.conformance import ProviderConformance

pytestmark = pytest.mark.vcr


class TestLibcloudConformance(ProviderConformance):
    unplaceable_flavor = UNPLACEABLE
    network_choice = (SUBNET, SUBNET_CIDR)
    secrets = {SECRET_ENV: "moto-accepts-any-secret"}  # never in a repr, an error or a log record
    poll_interval = 0.0  # replaying: no need to wait between polls
    ready_timeout = 60.0
    image = "ami-bb9a6bc2"  # one of moto's built-in AMIs (RHEL 7.4 HVM)

    @pytest.fixture
    def provider(self, make_provider: Callable[..., LibcloudProvider]) -> LibcloudProvider:
        options = base_options()
        return make_provider(
            sizes=[*options["sizes"], UNPLACEABLE],
            size_overrides={**options["size_overrides"], UNPLACEABLE: {"disk": 100}},
        )
