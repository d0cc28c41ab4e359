"""Fixtures for the libcloud provider's tests: cassettes, and the providers under test.

By default every test replays its cassette from ``cassettes/libcloud/`` with the network
blocked (pytest-recording's ``--record-mode`` defaults to ``none``), and the tests marked
``live_openstack`` are skipped. Two services stand behind the cassettes:

* moto's EC2 server, through libcloud's EC2 driver (started here on 127.0.0.1)::

      VIRTPROV_LIBCLOUD_MOTO=1 pytest --record-mode=rewrite virtprov_libcloud/tests \\
          --ignore virtprov_libcloud/tests/test_libcloud_openstack.py

* the reference OpenStack, through libcloud's OpenStack driver (``OS_CLOUD`` names its
  clouds.yaml entry; see libcloud_openstack_env.py)::

      pytest --record-mode=rewrite virtprov_libcloud/tests/test_libcloud_openstack.py
      pytest -m live_openstack virtprov_libcloud/tests       # the live suite
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from libcloud_openstack_env import PASSWORD_ENV, live_cloud, openstack_options, prepare_live_project
from libcloud_testenv import SECRET_ENV, base_options, serve_moto
from virtprov_libcloud.provider import LibcloudProvider
from virtprov_testing.cassettes import cassette_config, register_matchers

from virtprov.config import Options, ProviderConfig

HERE = Path(__file__).parent
CASSETTES = HERE.parent.parent / "cassettes" / "libcloud"
#: Test modules recorded from OpenStack: with OS_CLOUD set they talk to it (and record).
OPENSTACK_RECORDED = frozenset({"test_libcloud_openstack.py"})


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    register_matchers(vcr)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Replay never touches the network: block sockets for every test of this directory,
    # except the live ones, which talk to the cloud OS_CLOUD names (or are skipped).
    for item in items:
        if HERE not in Path(str(item.fspath)).parents:
            continue
        if item.get_closest_marker("live_openstack"):
            if live_cloud() is None:
                item.add_marker(pytest.mark.skip(reason="live_openstack: set OS_CLOUD"))
        elif not (live_cloud() and Path(str(item.fspath)).name in OPENSTACK_RECORDED):
            item.add_marker(pytest.mark.block_network)


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    # EC2 (moto) cassettes at the top, the reference OpenStack's in openstack/
    if Path(str(request.path)).name in OPENSTACK_RECORDED:
        return str(CASSETTES / "openstack")
    return str(CASSETTES)


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    # EC2 signs in the Authorization header (scrubbed) and its query is deterministic;
    # OpenStack's POST .../action bodies differ only in their key (os-start, os-stop).
    return cassette_config()


@pytest.fixture(scope="session", autouse=True)
def _moto() -> Iterator[None]:
    """Serve moto's EC2 emulation while recording (never in a normal run)."""
    if os.environ.get("VIRTPROV_LIBCLOUD_MOTO") != "1":
        yield
        return
    yield from serve_moto()


def provider_from(table: dict[str, Any], name: str) -> LibcloudProvider:
    """A provider built from a ``[providers.NAME]`` table, as virtprov.toml would give it."""
    table = {k: v for k, v in table.items() if v is not None}
    options = Options(table, path="virtprov.toml", prefix=f"providers.{name}")
    config = ProviderConfig(name=name, driver="libcloud", lab=table["lab"], options=options)
    options.string("driver")
    options.string("lab")
    return LibcloudProvider.from_config(config)


@pytest.fixture
def make_provider(monkeypatch: pytest.MonkeyPatch) -> Callable[..., LibcloudProvider]:
    """Build the EC2 provider from :func:`base_options` with overrides (``None`` removes a
    key)."""
    monkeypatch.setenv(SECRET_ENV, "moto-accepts-any-secret")

    def make(**overrides: Any) -> LibcloudProvider:
        return provider_from({**base_options(), **overrides}, "ec2")

    return make


@pytest.fixture(scope="session")
def live_project() -> Iterator[dict[str, str]]:
    """Live or recording against OpenStack: the project the tests use, made for them
    (see libcloud_openstack_env.prepare_live_project); replaying: nothing."""
    if live_cloud() is None:
        yield {}
        return
    yield from prepare_live_project()


@pytest.fixture
def make_openstack(
    live_project: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., LibcloudProvider]:
    """Build the provider on libcloud's OpenStack driver from :func:`openstack_options`."""
    if live_cloud() is None:
        monkeypatch.setenv(PASSWORD_ENV, "replayed-password")

    def make(*, fault: str | None = None, **overrides: Any) -> LibcloudProvider:
        return provider_from(openstack_options(fault=fault, **overrides), "os-libcloud")

    return make
