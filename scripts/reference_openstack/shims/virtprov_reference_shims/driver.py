"""Nova's fake hypervisor, sized like a small lab host, with an iPXE console log.

``FakeDriver`` keeps its guests in memory and never runs one. This subclass changes two
things: the resources it reports to Placement (so that the largest flavor finds no valid
host), the node's UUID (Nova's persistent node identity, so that nova-compute can be
restarted), and the console log, which shows the iPXE chain-load a real guest of the
iPXE image would print.
"""

from __future__ import annotations

from typing import Any

import nova.virt.node
from nova.virt import fake

CHAIN_URL = "http://beaker.example.com/systems/by-uuid/{uuid}/ipxe-script"


class IpxeFakeDriver(fake.FakeDriver):  # type: ignore[misc]
    """8 vCPUs, 16 GiB of memory and 100 GiB of disk; consoles that chain-load iPXE."""

    vcpus = 8
    memory_mb = 16384
    local_gb = 100

    def __init__(self, virtapi: Any, read_only: bool = False) -> None:
        super().__init__(virtapi, read_only)
        self._macs: dict[str, list[str]] = {}

    # FakeDriver names its node with a UUID made up per process, so that a restarted
    # nova-compute finds a "duplicate" node. Use Nova's persistent node identity instead.
    def get_available_resource(self, nodename: str) -> dict[str, Any]:
        resources: dict[str, Any] = super().get_available_resource(nodename)
        resources["uuid"] = nova.virt.node.get_local_node_uuid()
        return resources

    def get_nodenames_by_uuid(self, refresh: bool = False) -> dict[str, str]:
        return {nova.virt.node.get_local_node_uuid(): self.get_available_nodes()[0]}

    def spawn(self, context: Any, instance: Any, image_meta: Any, *args: Any, **kw: Any) -> None:
        super().spawn(context, instance, image_meta, *args, **kw)
        network_info = kw.get("network_info") or (args[3] if len(args) > 3 else None) or []
        self._macs[instance.uuid] = [str(vif["address"]) for vif in network_info]

    def destroy(self, context: Any, instance: Any, *args: Any, **kw: Any) -> None:
        self._macs.pop(instance.uuid, None)
        super().destroy(context, instance, *args, **kw)

    def get_console_output(self, context: Any, instance: Any) -> str:
        lines = [
            "SeaBIOS (version 1.16.2-debian-1.16.2-1)",
            "Booting from Hard Disk...",
            "iPXE 1.21.1+ -- Open Source Network Boot Firmware -- https://ipxe.org",
            "Features: DNS HTTP HTTPS iSCSI TFTP AoE ELF MBOOT PXE bzImage Menu PXEXT",
        ]
        for n, mac in enumerate(self._macs.get(instance.uuid, [])):
            lines.append(f"net{n}: {mac} using virtio-net on 0000:00:03.0 (Ethernet) [open]")
            lines.append(f"Configuring (net{n} {mac})...... ok")
        url = CHAIN_URL.format(uuid=instance.uuid)
        lines.append(f"{url}... ok")
        return "\n".join(lines) + "\n"
