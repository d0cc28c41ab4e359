"""An ML2 mechanism driver that binds every port to any host, with no agent.

There is no data plane behind it: the binding is what an Open vSwitch agent would have
reported, and the port is ACTIVE at once, so Neutron tells Nova ``network-vif-plugged``
like a real deployment does.
"""

from __future__ import annotations

from typing import Any

from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api


class BindAnyMechanismDriver(api.MechanismDriver):  # type: ignore[misc]
    """Bind the first segment of every port as an OVS port, ACTIVE at once."""

    def initialize(self) -> None:
        pass

    @property
    def connectivity(self) -> str:
        return str(portbindings.CONNECTIVITY_L2)

    def bind_port(self, context: Any) -> None:
        for segment in context.segments_to_bind:
            context.set_binding(
                segment[api.ID],
                portbindings.VIF_TYPE_OVS,
                {portbindings.CAP_PORT_FILTER: True},
                status=constants.PORT_STATUS_ACTIVE,
            )
            return
