"""Fixtures for the libcloud provider's tests: cassettes, and the provider under test.

By default every test replays its cassette from ``cassettes/libcloud/`` with the network
blocked (pytest-recording's ``--record-mode`` defaults to ``none``). To re-record from
moto's EC2 server (started here on 127.0.0.1)::

    VIRTPROV_LIBCLOUD_MOTO=1 pytest --record-mode=rewrite virtprov_libcloud/tests
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from libcloud_testenv import SECRET_ENV, base_options, serve_moto
from virtprov_libcloud.provider import LibcloudProvider
from virtprov_testing.cassettes import cassette_config

from virtprov.config import Options, ProviderConfig

HERE = Path(__file__).parent
CASSETTES = HERE.parent.parent / "cassettes" / "libcloud"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Replay never touches the network: block sockets for every test of this directory.
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.block_network)


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    # SigV4 signs in the Authorization header (scrubbed); the query is deterministic.
    return cassette_config(match_on=("method", "scheme", "host", "port", "path", "query"))


@pytest.fixture(scope="session", autouse=True)
def _moto() -> Iterator[None]:
    """Serve moto's EC2 emulation while recording (never in a normal run)."""
    if os.environ.get("VIRTPROV_LIBCLOUD_MOTO") != "1":
        yield
        return
    yield from serve_moto()


@pytest.fixture
def make_provider(monkeypatch: pytest.MonkeyPatch) -> Callable[..., LibcloudProvider]:
    """Build a provider from :func:`base_options` with overrides (``None`` removes a key)."""
    monkeypatch.setenv(SECRET_ENV, "moto-accepts-any-secret")

    def make(**overrides: Any) -> LibcloudProvider:
        table = {**base_options(), **overrides}
        table = {k: v for k, v in table.items() if v is not None}
        options = Options(table, path="virtprov.toml", prefix="providers.ec2")
        config = ProviderConfig(name="ec2", driver="libcloud", lab=table["lab"], options=options)
        options.string("driver")
        options.string("lab")
        return LibcloudProvider.from_config(config)

    return make
