"""The value types every part of virtprov speaks in.

Units are the same everywhere in the code base: memory in **MiB**, disk in **bytes**,
times in seconds, timestamps timezone-aware UTC.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Final, TypeAlias

import attrs

GiB = 1024**3
MiB = 1024**2

#: Every resource virtprov creates carries these labels (OpenStack metadata, oVirt
#: description/tags...), so that a sweeper can find what a pool made and nobody owns.
LABEL_POOL = "virtprov-pool"
LABEL_RECIPE = "virtprov-recipe"

#: How a MAC address in :attr:`Guest.macs` is written: six lower-case hex pairs and colons.
MAC_ADDRESS: Final = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")

#: Beaker's default ``guest_name_prefix``.
DEFAULT_NAME_PREFIX = "beaker-"


def _frozen_map(value: Mapping[str, str] | None) -> Mapping[str, str]:
    return MappingProxyType(dict(value or {}))


def _non_negative(_inst: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must not be negative, got {value}")


@attrs.frozen
class Flavor:
    """A shape a provider can create: Nova flavor, oVirt instance type or size-ladder rung.

    ``arch`` is ``None`` when the flavor runs any architecture the provider offers.
    ``properties`` are what the operator or cloud *declares* the flavor offers beyond
    size (CPU flags, TPM, UEFI...); a requirement on such a property is met only by
    flavors that declare it.
    """

    id: str
    name: str
    vcpus: int = attrs.field(validator=_non_negative)
    ram_mib: int = attrs.field(validator=_non_negative)
    disk_bytes: int = attrs.field(validator=_non_negative)
    arch: str | None = None
    properties: Mapping[str, str] = attrs.field(
        factory=dict, converter=_frozen_map, eq=True, hash=False
    )

    @property
    def disk_gib(self) -> float:
        return self.disk_bytes / GiB

    def sort_key(self) -> tuple[int, int, int, str]:
        """Cheapest first: RAM, then disk, then vCPUs, then id (Beaker's order, extended)."""
        return (self.ram_mib, self.disk_bytes, self.vcpus, self.id)


@attrs.frozen
class NetworkBoot:
    """Boot from the network (PXE/iPXE): the lab's netboot configuration decides."""


@attrs.frozen
class KernelBoot:
    """Direct kernel boot: paths the hypervisor can read, and the kernel command line."""

    kernel: str
    initrd: str
    cmdline: str = ""


def _text_tuple(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@attrs.frozen(repr=False)
class ImageBoot:
    """Boot a cloud image that is reachable over SSH at once (tmt, CI systems).

    ``image`` is the cloud's image (a Glance name or id, an oVirt template, a libcloud
    image id); ``user_data`` is handed to cloud-init unchanged; ``ssh_public_keys`` are
    authorised for the image's default user (a key pair made for the guest and removed
    with it, where the cloud keeps keys apart). The guest is reported once it runs with
    an address, never stopped first as a netboot guest is.

    ``user_data`` may hold secrets: it never appears in a ``repr``.
    """

    image: str = attrs.field()
    user_data: str | None = None
    ssh_public_keys: tuple[str, ...] = attrs.field(default=(), converter=_text_tuple)

    @image.validator
    def _named(self, _attribute: attrs.Attribute[str], value: str) -> None:
        if not value.strip():
            raise ValueError("an image boot needs an image name or id")

    @ssh_public_keys.validator
    def _one_line_each(
        self, _attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]
    ) -> None:
        for number, key in enumerate(value):
            if not key.strip() or "\n" in key.strip() or "PRIVATE KEY" in key:
                raise ValueError(f"ssh_public_keys[{number}] is not one OpenSSH public key line")

    def __repr__(self) -> str:
        data = "None" if self.user_data is None else f"<{len(self.user_data)} characters>"
        return (
            f"ImageBoot(image={self.image!r}, user_data={data}, "
            f"ssh_public_keys=<{len(self.ssh_public_keys)} keys>)"
        )


BootRequest: TypeAlias = NetworkBoot | KernelBoot | ImageBoot


class GuestState(enum.Enum):
    """Where a guest is in its life.

    ``READY`` means created and stopped, waiting to be started for the first time: the
    point at which a scheduler can hand the guest to a recipe. ``DELETED`` means the
    cloud accepted its delete and still shows it; it is gone once ``poll`` no longer
    returns it.
    """

    BUILDING = "building"
    READY = "ready"
    RUNNING = "running"
    STOPPED = "stopped"
    ERROR = "error"
    DELETED = "deleted"


@attrs.frozen
class GuestSpec:
    """What to create. Build one for a recipe with :meth:`for_recipe`."""

    name: str
    flavor: Flavor
    labels: Mapping[str, str] = attrs.field(
        factory=dict, converter=_frozen_map, eq=True, hash=False
    )
    arch: str | None = None
    boot: BootRequest = attrs.field(factory=NetworkBoot)
    image: str | None = None
    network: str | None = None

    @classmethod
    def for_recipe(
        cls,
        recipe_id: int | str,
        flavor: Flavor,
        *,
        pool: str,
        prefix: str = DEFAULT_NAME_PREFIX,
        arch: str | None = None,
        boot: BootRequest | None = None,
        extra_labels: Mapping[str, str] | None = None,
    ) -> GuestSpec:
        """The spec Beaker would make: name ``<prefix>recipe-<id>`` and ownership labels."""
        labels = {**(extra_labels or {}), LABEL_POOL: pool, LABEL_RECIPE: str(recipe_id)}
        return cls(
            name=f"{prefix}recipe-{recipe_id}",
            flavor=flavor,
            labels=labels,
            arch=arch or flavor.arch,
            boot=boot or NetworkBoot(),
        )


@attrs.frozen
class Guest:
    """A guest as the provider last saw it.

    ``id`` is the cloud's id (for OpenStack the instance UUID, which iPXE sees as the
    SMBIOS UUID). ``fault`` says why a guest is in ``ERROR``. ``ssh_port`` is where the
    guest's SSH server listens when that is not port 22 (a forwarded endpoint).
    ``provider`` is the name of the provider that made it (its ``info.name``); a provider
    may leave it out, and :class:`virtprov.Provider` fills it in on what the provider's
    methods return.
    """

    provider: str = attrs.field(default="", kw_only=True)
    id: str
    name: str
    state: GuestState
    macs: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    labels: Mapping[str, str] = attrs.field(
        factory=dict, converter=_frozen_map, eq=True, hash=False
    )
    flavor_id: str | None = None
    created_at: datetime | None = None
    fault: str | None = None
    ssh_port: int | None = None


@attrs.frozen
class OwnedResource:
    """Something a provider made for a guest besides the guest itself.

    A router, network, subnet, port or floating IP (OpenStack), a disk (oVirt), the fake
    cloud's network and port... It carries the ownership ``labels`` of the guest it was made for and
    that guest's name (``guest``), so that a sweeper can remove it once the guest is
    gone, even when the guest's own record of it (server metadata, a VM's attachments)
    went with the guest. ``kind`` is the provider's word for what it is; ``name`` is
    the resource's own name (or address), for people reading a sweep report. ``provider``
    may be left out, as for :class:`Guest`.

    ``labels`` is empty for something the cloud keeps no labels on (a key pair is a name
    and a key): it is found by its name, and a sweeper takes it for its own only if its
    journal made a guest of that name.
    """

    provider: str = attrs.field(default="", kw_only=True)
    kind: str
    id: str
    name: str
    guest: str
    labels: Mapping[str, str] = attrs.field(
        factory=dict, converter=_frozen_map, eq=True, hash=False
    )


@attrs.frozen
class ConsoleOutput:
    """A guest's serial console log.

    ``truncated`` is true when the cloud returned only the tail (Nova keeps the last
    100 KB). ``unavailable`` says why a provider has no console log at all.
    """

    text: str
    truncated: bool = False
    unavailable: str | None = None


@attrs.frozen
class Capacity:
    """What a provider can still take. ``None`` means unknown (never treated as zero)."""

    instances: int | None = None
    vcpus: int | None = None
    ram_mib: int | None = None
    disk_bytes: int | None = None

    def shortfall(self, need: Flavor | GuestSpec, count: int = 1) -> list[str]:
        """Why ``count`` guests of this shape do not fit; empty when they do."""
        flavor = need.flavor if isinstance(need, GuestSpec) else need
        wanted = (
            ("instances", self.instances, count, ""),
            ("vCPUs", self.vcpus, flavor.vcpus * count, ""),
            ("RAM", self.ram_mib, flavor.ram_mib * count, " MiB"),
            ("disk", self.disk_bytes, flavor.disk_bytes * count, " bytes"),
        )
        return [
            f"needs {amount}{unit} {what}, {free}{unit} free"
            for what, free, amount, unit in wanted
            if free is not None and amount > free
        ]

    def fits(self, need: Flavor | GuestSpec, count: int = 1) -> bool:
        """Whether ``count`` guests of this shape fit in what is known to be free."""
        return not self.shortfall(need, count)

    def minus(self, flavor: Flavor, count: int = 1) -> Capacity:
        """The capacity left after reserving ``count`` guests of ``flavor``."""

        def sub(free: int | None, amount: int) -> int | None:
            return None if free is None else free - amount * count

        return Capacity(
            instances=sub(self.instances, 1),
            vcpus=sub(self.vcpus, flavor.vcpus),
            ram_mib=sub(self.ram_mib, flavor.ram_mib),
            disk_bytes=sub(self.disk_bytes, flavor.disk_bytes),
        )


@attrs.frozen
class ProviderInfo:
    """What a provider is: what the eligibility check compares a recipe against.

    ``lab`` is the FQDN of the lab (controller) the provider serves; ``arches`` the
    architectures it can create; ``hypervisor`` and ``system_type`` what Beaker would
    record for its guests.
    """

    name: str
    driver: str
    lab: str
    hypervisor: str = "KVM"
    arches: tuple[str, ...] = ("x86_64",)
    system_type: str = "Machine"
