"""Fixtures for the OpenStack provider's tests: cassettes, and the provider under test.

By default every test replays its cassette from ``cassettes/openstack/`` with the network
blocked (pytest-recording's ``--record-mode`` defaults to ``none``), and the tests marked
``live_openstack`` are skipped. See ``cassettes/README.md`` for re-recording against the
reference OpenStack or another real cloud (``OS_CLOUD``), and docs/reference-openstack.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from openstack_testenv import PASSWORD_ENV, base_options, live_cloud
from virtprov_openstack.provider import OpenStackProvider
from virtprov_testing.cassettes import block_network_in_replay, cassette_config, register_matchers
from virtprov_testing.conformance import provider_config

HERE = Path(__file__).parent
CASSETTES = HERE.parent.parent / "cassettes" / "openstack"


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    register_matchers(vcr)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    block_network_in_replay(items, HERE, live=live_cloud() is not None)


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)


def _drop_image_data(request: Any) -> Any:
    # An image upload's body is megabytes of disk: keep its size, not its bytes.
    if request.method == "PUT" and request.path.endswith("/file") and request.body:
        body = request.body
        size = len(body.getvalue() if hasattr(body, "getvalue") else body)
        request.body = f"<{size} bytes of image data>".encode()
    return request


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return cassette_config(before_record_request=_drop_image_data)


@pytest.fixture(scope="session", autouse=True)
def _minicloud() -> Iterator[None]:
    """Serve the loopback imitation while composing cassettes (never in a normal run)."""
    if os.environ.get("VIRTPROV_OS_MINICLOUD") != "1":
        yield
        return
    from os_minicloud import MiniCloud

    cloud = MiniCloud()
    try:
        yield
    finally:
        cloud.close()


@pytest.fixture
def make_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., OpenStackProvider]]:
    """Build a provider from :func:`base_options` with overrides (``None`` removes a key)."""
    monkeypatch.setenv(PASSWORD_ENV, os.environ.get(PASSWORD_ENV, "replayed-not-a-password"))
    made: list[OpenStackProvider] = []

    def make(**overrides: Any) -> OpenStackProvider:
        config = provider_config("openstack-test", "openstack", {**base_options(), **overrides})
        provider = OpenStackProvider.from_config(config)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()


@pytest.fixture
def provider(make_provider: Callable[..., OpenStackProvider]) -> OpenStackProvider:
    return make_provider()
