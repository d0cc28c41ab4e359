"""A poll survives a server deleted between the poll's GET and the stop it triggers.

The first poll that sees a network-boot guest's build complete (ACTIVE, build phase)
stops it. A guest destroyed in between answers that stop with 404: the poll reports it
gone and the other guests as usual, instead of failing the whole batch.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from openstack import exceptions as sdk
from openstack.compute.v2.server import Server
from virtprov_openstack.provider import (
    META_PHASE,
    PHASE_BUILD,
    Credentials,
    OpenStackProvider,
    Settings,
)

from virtprov.model import GuestState


class Compute:
    """``conn.compute`` listing ``servers``; stopping one in ``deleted`` answers 404."""

    def __init__(self, servers: list[Server], deleted: set[str]) -> None:
        self._servers = servers
        self.deleted = deleted
        self.stopped: list[str] = []

    def servers(self, **query: Any) -> list[Server]:
        return self._servers

    def stop_server(self, server_id: str) -> None:
        if server_id in self.deleted:
            raise sdk.NotFoundException(f"Instance {server_id} could not be found.")
        self.stopped.append(server_id)


def built(server_id: str) -> Server:
    """A network-boot server whose first build has just completed."""
    return Server(
        id=server_id,
        name=f"vp-{server_id}",
        status="ACTIVE",
        task_state=None,
        metadata={META_PHASE: PHASE_BUILD},
    )


def test_a_server_deleted_before_its_stop_is_gone_and_the_others_are_polled() -> None:
    compute = Compute([built("a"), built("b")], deleted={"a"})
    provider = OpenStackProvider(
        "cloud",
        "lab.example.com",
        Credentials(cloud="unused"),
        Settings(image="img", network_mode="fixed", network="lab-net"),
        connection=SimpleNamespace(compute=compute),  # type: ignore[arg-type]
    )
    seen = provider.poll(["a", "b"])
    assert set(seen) == {"b"}
    assert seen["b"].state is GuestState.BUILDING
    assert compute.stopped == ["b"]
