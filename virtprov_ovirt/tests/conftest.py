"""Fixtures for the oVirt provider's tests: an engine behind the replay server.

By default every test replays its cassette from ``cassettes/ovirt/`` through
:class:`virtprov_testing.replay_server.ReplayServer` over HTTPS (a throw-away CA's
certificate given to the provider as ``ca_file``), and every recorded interaction must
be asked for: a changed request sequence fails the test.

pytest-recording's ``--record-mode`` decides, as for every provider: with any mode but
``none``, what the cassette cannot answer is recorded from the loopback engine imitation
(``engine_imitation.py``), which composes the cassettes; with ``VIRTPROV_OVIRT_URL=
https://engine/ovirt-engine/api`` (and ``VIRTPROV_OVIRT_USERNAME``,
``VIRTPROV_OVIRT_PASSWORD``, ``VIRTPROV_OVIRT_CA_FILE``, ``VIRTPROV_OVIRT_DATA_CENTER``)
from that live engine instead; tests that need the imitation's injected faults skip.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest
from ovirt_engine import Engine, open_engine
from virtprov_testing.replay_server import loopback_tls


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, str]:
    """The replay server's TLS context, and the CA file that trusts it."""
    return loopback_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    from ovirt_engine import CASSETTES

    return str(CASSETTES)


# Each test's engine: open_engine takes the TLS context, the monkeypatch and pytest-recording's
# cassette and mode from the test's request.


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """The RHV 4.3 inventory whose hosts are both up."""
    yield from open_engine(request)


@pytest.fixture
def lans_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """The RHV 4.3 inventory with one host non-responsive and little memory left."""
    yield from open_engine(request, inventory="rhv43-lans")


@pytest.fixture
def user_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """The RHV 4.3 inventory, for a user without a system-wide role (no SuperUser)."""
    yield from open_engine(request, system_permissions=False)
