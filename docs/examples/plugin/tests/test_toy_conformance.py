"""The toy provider against virtprov's conformance suite, built as virtprov builds it."""

from __future__ import annotations

import pytest
from toy_testenv import TOKEN
from virtprov_testing.conformance import ProviderConformance
from virtprov_toy import cloud


class TestToyConformance(ProviderConformance):
    poll_interval = 0.01  # the toy cloud builds in 0.05 s
    ready_timeout = 5.0
    # The [providers.NAME] table, as in virtprov.toml (the suite adds the name and lab).
    config = """
        driver = "toy"
        endpoint = "toy://lab"
        token = { env = "TOY_TOKEN" }
    """
    # Set in the environment for every test; never to be seen in a repr, error or log.
    secrets = {"TOY_TOKEN": TOKEN}

    @pytest.fixture(autouse=True)
    def served(self, toy_cloud: cloud.ToyCloud) -> cloud.ToyCloud:
        return toy_cloud
