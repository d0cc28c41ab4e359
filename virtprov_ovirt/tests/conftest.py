"""Fixtures for the oVirt provider's tests: an engine behind the replay server.

By default every test replays its cassette from ``cassettes/ovirt/`` through
:class:`virtprov_testing.replay_server.ReplayServer` over HTTPS (a throw-away
certificate given to the provider as ``ca_file``), and every recorded interaction must
be asked for: a changed request sequence fails the test.

* ``VIRTPROV_OVIRT_RECOMPOSE=1``: re-compose the cassettes by recording through the
  replay server against the loopback engine imitation (``engine_imitation.py``).
* ``VIRTPROV_OVIRT_URL=https://engine/ovirt-engine/api`` (with ``VIRTPROV_OVIRT_USERNAME``,
  ``VIRTPROV_OVIRT_PASSWORD``, ``VIRTPROV_OVIRT_CA_FILE``, ``VIRTPROV_OVIRT_DATA_CENTER``):
  re-record from a live engine. Tests that need the imitation's injected faults skip.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ovirt_engine import Engine, open_engine
from virtprov_testing.replay_server import self_signed_cert


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def engine(
    request: pytest.FixtureRequest, tls_cert: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    """The RHV 4.3 inventory whose hosts are both up."""
    yield from open_engine(request, tls_cert, monkeypatch)


@pytest.fixture
def lans_engine(
    request: pytest.FixtureRequest, tls_cert: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    """The RHV 4.3 inventory with one host non-responsive and little memory left."""
    yield from open_engine(request, tls_cert, monkeypatch, inventory="rhv43-lans")


@pytest.fixture
def user_engine(
    request: pytest.FixtureRequest, tls_cert: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    """The RHV 4.3 inventory, for a user without a system-wide role (no SuperUser)."""
    yield from open_engine(request, tls_cert, monkeypatch, system_permissions=False)
