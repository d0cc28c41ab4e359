"""The shared provider conformance suite against the oVirt provider, replayed from cassettes.

The cassettes were composed through the replay server against the engine imitation
(the real RHV 4.3 inventory of data center Newd, and answers that follow the engine's
source); see ``cassettes/README.md``.
"""

from __future__ import annotations

import pytest
from ovirt_engine import PASSWORD_ENV, TEMPLATE, TEMPLATE_DATA_CENTER, Engine
from virtprov_ovirt.provider import OVirtProvider
from virtprov_testing.conformance import ProviderConformance


class TestOVirtConformance(ProviderConformance):
    secrets = {PASSWORD_ENV: "replayed"}  # never in a repr, an error or a log record
    poll_interval = 0.0  # replaying: no need to wait between polls
    ready_timeout = 60.0
    image = TEMPLATE  # a template, by name

    @pytest.fixture
    def provider(self, engine: Engine, request: pytest.FixtureRequest) -> OVirtProvider:
        if "boot_image" in request.fixturenames:
            # The image-boot test, in the data center that has the template.
            return engine.provider(data_centers=[TEMPLATE_DATA_CENTER])
        return engine.provider()
