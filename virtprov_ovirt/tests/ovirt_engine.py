"""The engine an oVirt test talks to: a replayed cassette, or a recording session.

A module of its own, with a unique name, so that tests can import :class:`Engine`
(``from conftest import ...`` would pick up another directory's conftest).
The modes are described in this directory's ``conftest.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from engine_imitation import Imitation, served
from engine_messages import Refusal
from virtprov_ovirt.provider import OVirtProvider
from virtprov_testing.conformance import provider_config
from virtprov_testing.replay_server import ReplayServer

HERE = Path(__file__).parent
CASSETTES = HERE.parent.parent / "cassettes" / "ovirt"
PASSWORD_ENV = "VIRTPROV_OVIRT_TEST_PASSWORD"
#: A live engine to record from (with any --record-mode but none); else the imitation.
LIVE_URL = os.environ.get("VIRTPROV_OVIRT_URL")
#: The data center of the recorded RHV 4.3 inventory the cassettes use.
DATA_CENTER = "Newd"
#: The template image-boot tests boot, and its data center: in the recorded inventory,
#: "CentOS 7 Generic Cloud Image v1901" imported from Glance as a template in newd1.
TEMPLATE = os.environ.get("VIRTPROV_OVIRT_TEMPLATE", "template_cd2")
TEMPLATE_DATA_CENTER = os.environ.get("VIRTPROV_OVIRT_TEMPLATE_DATA_CENTER", "newd1")


@attrs.define
class Engine:
    """The engine a test talks to: a replayed cassette, or a recording session."""

    server: ReplayServer
    imitation: Imitation | None
    ca_file: str
    live: bool = False

    def inject(
        self, method: str, path: str, status: int, body: str, headers: dict[str, str] | None = None
    ) -> None:
        """Make the imitation answer ``method path`` once with this raw answer.

        Only while composing: in replay the cassette already holds the answer; against a
        live engine the test is skipped by :meth:`needs_imitation`.
        """
        if self.imitation is not None:
            self.imitation.inject(method, path, status, body, headers)

    def refuse(self, method: str, path: str, refusal: Refusal) -> None:
        """Make the imitation refuse ``method path`` once as the engine's command would."""
        if self.imitation is not None:
            self.imitation.refuse(method, path, refusal)

    def fail_disks(self, count: int = 1) -> None:
        """Make the next disks fail while the imitation creates them."""
        if self.imitation is not None:
            self.imitation.fail_disks(count)

    def fail_image_removals(self, count: int = 1) -> None:
        """Make the next VM removals leave their disks behind, as failed image removals do."""
        if self.imitation is not None:
            self.imitation.fail_image_removals(count)

    def float_disk(self, name: str, description: str) -> None:
        """Put a disk that no VM uses on the imitated engine."""
        if self.imitation is not None:
            self.imitation.float_disk(name, description)

    def needs_imitation(self) -> None:
        if self.live:
            pytest.skip("needs a fault only the engine imitation can inject")

    def provider(self, **options: Any) -> OVirtProvider:
        table: dict[str, Any] = {
            "url": self.server.url + "/ovirt-engine/api",
            "username": os.environ.get("VIRTPROV_OVIRT_USERNAME", "admin@internal"),
            "password": {"env": PASSWORD_ENV},
            "ca_file": self.ca_file,
            "data_centers": [os.environ.get("VIRTPROV_OVIRT_DATA_CENTER", DATA_CENTER)],
            "poll_interval": 0,
            "destroy_timeout": 5,
            "timeout": 10,
        }
        return OVirtProvider.from_config(provider_config("rhv", "ovirt", {**table, **options}))


def open_engine(
    request: pytest.FixtureRequest, inventory: str = "rhv43-refresh", **imitation: Any
) -> Iterator[Engine]:
    """The engine of one test; ``imitation`` are options of :class:`Imitation`.

    The cassette is pytest-recording's (its directory and name fixtures), played or
    recorded as its ``record_mode`` fixture (``--record-mode``) says; the TLS context is
    the ``tls`` fixture's, the environment the test's ``monkeypatch``.
    """
    context, ca_file = request.getfixturevalue("tls")
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    record_mode: str = request.getfixturevalue("record_mode")
    cassette = Path(request.getfixturevalue("vcr_cassette_dir")) / (
        request.getfixturevalue("default_cassette_name") + ".yaml"
    )
    if record_mode == "none":
        # Replay: any password will do (the token request is answered from the cassette).
        monkeypatch.setenv(PASSWORD_ENV, "replayed")
        with ReplayServer(cassette, tls=context) as server:
            yield Engine(server, None, ca_file)
        server.assert_all_played()
        return
    if LIVE_URL:
        monkeypatch.setenv(PASSWORD_ENV, os.environ["VIRTPROV_OVIRT_PASSWORD"])
        with ReplayServer(
            cassette,
            record_mode=record_mode,
            target=LIVE_URL.split("/ovirt-engine/api")[0],
            target_ca_file=os.environ.get("VIRTPROV_OVIRT_CA_FILE"),
            tls=context,
        ) as server:
            yield Engine(server, None, ca_file, live=True)
        return
    engine = Imitation(inventory, **imitation)
    monkeypatch.setenv(PASSWORD_ENV, engine.password)
    with (
        served(engine) as backend,
        ReplayServer(cassette, record_mode=record_mode, target=backend, tls=context) as server,
    ):
        yield Engine(server, engine, ca_file)
