"""The OpenStack provider: Nova servers booted from an iPXE image, Neutron networking.

Image-boot guests (:class:`~virtprov.model.ImageBoot`, tmt's) boot the named Glance
image instead, with cloud-init user data and a Nova key pair made for the guest (named
after it, removed with it); they run at once and are never stopped after their build.

One provider instance is one cloud region, reached through openstacksdk (a named
cloud from ``clouds.yaml``/``OS_CLOUD``, or explicit Keystone v3 options). Guests boot
from a small iPXE image whose embedded script chains to the lab's ``ipxe-script``
endpoint with the SMBIOS UUID, which is the Nova instance id.

State that must survive a restart lives in the server's metadata, not in memory:
the ids of the Neutron resources made for the guest (so that destroy can remove them)
and the guest's phase (``build`` until first started, then ``started``), which is how
:meth:`OpenStackProvider.poll` tells a freshly built server (``ACTIVE`` -> stop it ->
``SHUTOFF`` = ready) from one a recipe is running on.

Nothing here waits for the cloud. ``destroy_guest`` deletes the server and returns what
can only go once Nova no longer knows it (the port, and the network it is on: Neutron
answers 409 while a server's port is on it) for the caller to delete after its poll saw
the server gone. What several workers need (the image, the networks, the flavors) is
looked up once, by whichever asks first while the others wait for its answer (dogpile's
lock), and kept for the provider's life.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import ipaddress
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Self

import attrs

from virtprov import errors, model, nova
from virtprov.error_mapping import mapping_errors
from virtprov.provider import LazyClient, Provider
from virtprov_openstack.errors import translate
from virtprov_openstack.settings import (
    MODE_FLOATING,
    Credentials,
    Settings,
    read_credentials,
    read_settings,
)

if TYPE_CHECKING:
    from dogpile.cache.region import CacheRegion
    from openstack.compute.v2.server import Server
    from openstack.connection import Connection

    from virtprov.config import ProviderConfig

#: Nova's libvirt driver returns at most the last 100 KiB of the console log.
CONSOLE_LIMIT_BYTES: Final = 100 * 1024

# Server metadata keys that carry the provider's own state.
META_PHASE: Final = "virtprov-phase"
META_ROUTER: Final = "virtprov-router"
META_NETWORK: Final = "virtprov-network"
META_SUBNET: Final = "virtprov-subnet"
META_PORT: Final = "virtprov-port"
META_FIP: Final = "virtprov-fip"
META_MAC: Final = "virtprov-mac"
META_FIP_ADDRESS: Final = "virtprov-floating-ip"
META_KEYPAIR: Final = "virtprov-keypair"
PHASE_BUILD: Final = "build"
PHASE_STARTED: Final = "started"
_OWN_KEYS: Final = frozenset(
    {
        META_PHASE,
        META_ROUTER,
        META_NETWORK,
        META_SUBNET,
        META_PORT,
        META_FIP,
        META_MAC,
        META_FIP_ADDRESS,
        META_KEYPAIR,
    }
)

#: How every Neutron resource made for a guest starts its description.
_DESCRIPTION_MARK: Final = "virtprov guest "


def _description(spec_labels: Mapping[str, str], name: str) -> str:
    labels = " ".join(f"{k}={v}" for k, v in sorted(spec_labels.items()))
    return f"{_DESCRIPTION_MARK}{name} {labels}"[:255]


def _owner(description: str | None) -> tuple[str, dict[str, str]] | None:
    """The guest name and labels a description of :func:`_description` carries.

    ``None`` for anything virtprov did not describe. A label value with spaces in it is
    read back whole (a word without ``=`` continues the value before it); a description
    cut at 255 characters loses its last labels, never the guest's name or pool.
    """
    if not description or not description.startswith(_DESCRIPTION_MARK):
        return None
    name, _, rest = description[len(_DESCRIPTION_MARK) :].partition(" ")
    if not name:
        return None
    labels: dict[str, str] = {}
    key = None
    for word in rest.split(" "):
        label, equals, value = word.partition("=")
        if equals and label:
            key, labels[label] = label, value
        elif key is not None:
            labels[key] += " " + word
    return name, labels


@attrs.frozen
class _Owns:
    """What a server's metadata says was made for it (read when it was created or last
    polled: it never changes), and so what its destroy deletes."""

    name: str
    labels: Mapping[str, str]
    meta: Mapping[str, str]

    @classmethod
    def of(cls, name: str, metadata: Mapping[str, str]) -> _Owns:
        meta = {k: str(v) for k, v in metadata.items() if k in _OWN_KEYS}
        labels = {k: str(v) for k, v in metadata.items() if k not in _OWN_KEYS}
        return cls(name, labels, meta)

    def leftovers(self, provider: str) -> list[model.OwnedResource]:
        """The network resources to delete once the server is gone, in that order: the
        floating IP, the port, the router (its interface first), the network (with its
        subnet)."""
        kinds = (
            ("floating_ip", META_FIP, self.meta.get(META_FIP_ADDRESS) or self.name),
            ("port", META_PORT, self.name),
            ("router", META_ROUTER, self.name),
            ("network", META_NETWORK, self.name),
        )
        return [
            model.OwnedResource(
                provider=provider,
                kind=kind,
                id=self.meta[key],
                name=name,
                guest=self.name,
                labels=self.labels,
            )
            for kind, key, name in kinds
            if self.meta.get(key)
        ]


def _regex_prefix(prefix: str) -> str:
    # Nova matches ``name`` as a regular expression (MySQL REGEXP); escape only what is
    # special there, so that "beaker-" stays readable in logs and URLs.
    return "^" + re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", prefix)


class OpenStackProvider(Provider):
    """Guests on one OpenStack region. See :mod:`virtprov_openstack.provider`."""

    driver = "openstack"

    def __init__(
        self,
        name: str,
        lab: str,
        credentials: Credentials,
        settings: Settings,
        *,
        connection: Connection | None = None,
    ) -> None:
        self._name = name
        self._lab = lab
        self._credentials = credentials
        self.settings = settings
        self._conn = LazyClient(self._connect, lambda conn: conn.close(), made=connection)
        self._lock = threading.Lock()
        self._lookups: CacheRegion | None = None
        #: per server seen (created or polled): what its destroy leaves, so that a
        #: destroy needs no GET first
        self._owns: dict[str, _Owns] = {}

    def __repr__(self) -> str:
        return f"OpenStackProvider({self._name!r}, {self._credentials!r})"

    @classmethod
    def from_config(cls, config: ProviderConfig) -> Self:
        options = config.options
        credentials = read_credentials(options)
        settings = read_settings(options)
        options.finish()
        return cls(config.name, config.lab, credentials, settings)

    def with_trust(self, trust_id: str) -> OpenStackProvider:
        """The same cloud, acting through a Keystone trust (a job owner's, as Beaker did).

        Guests created through it count against the trustor's project; destroy them
        through a provider with the same trust.
        """
        credentials = attrs.evolve(self._credentials, trust_id=trust_id)
        return type(self)(self._name, self._lab, credentials, self.settings)

    # -- plumbing --------------------------------------------------------------------

    def _connect(self) -> Connection:
        try:
            return self._credentials.connect()
        except errors.VirtprovError:
            raise
        except Exception as exc:
            raise self._translate(exc, "connecting", None) from None

    @property
    def conn(self) -> Connection:
        return self._conn.get()

    def _translate(
        self,
        exc: BaseException,
        doing: str,
        guest_id: str | None,
        not_found: str | None = None,
    ) -> errors.ProviderError:
        return translate(
            exc, provider=self._name, action=doing, guest_id=guest_id, not_found=not_found
        )

    def _calling(
        self, doing: str, guest_id: str | None = None, *, not_found: str | None = None
    ) -> contextlib.AbstractContextManager[None]:
        """Turn any SDK failure inside the block into the virtprov error tree."""
        return mapping_errors(
            functools.partial(translate, not_found=not_found),
            provider=self._name,
            action=doing,
            guest_id=guest_id,
        )

    def close(self) -> None:
        self._conn.close()

    def guest_url(self, guest_id: str) -> str | None:
        """Horizon's page of the server, under ``dashboard_url`` (as Beaker linked it)."""
        if self.settings.dashboard_url is None:
            return None
        return f"{self.settings.dashboard_url.rstrip('/')}/project/instances/{guest_id}/"

    # -- what the cloud offers -----------------------------------------------------------

    @property
    def info(self) -> model.ProviderInfo:
        return model.ProviderInfo(
            name=self._name,
            driver=self.driver,
            lab=self._lab,
            hypervisor="KVM",
            arches=self.settings.arches,
        )

    def flavors(self) -> Sequence[model.Flavor]:
        flavors: tuple[model.Flavor, ...] = self._lookup("flavors", self._list_flavors)
        return flavors

    def _list_flavors(self) -> tuple[model.Flavor, ...]:
        image_arch = self._image_arch()
        result = []
        with self._calling("listing flavors"):
            for item in self.conn.compute.flavors(details=True):
                if item.is_disabled:
                    continue
                specs = {str(k): str(v) for k, v in (item.extra_specs or {}).items()}
                arch = nova.flavor_arch(specs) or image_arch
                result.append(
                    model.Flavor(
                        id=str(item.id),
                        name=str(item.name),
                        vcpus=int(item.vcpus or 0),
                        ram_mib=int(item.ram or 0),
                        disk_bytes=int(item.disk or 0) * model.GiB,
                        arch=arch,
                        # the raw specs, and what they declare (CPU flags, TPM, UEFI...)
                        properties=nova.flavor_properties(specs),
                    )
                )
        return tuple(result)

    def capacity(self) -> model.Capacity:
        with self._calling("reading the project's limits"):
            limits = self.conn.compute.get_limits().absolute

        def free(maximum: int | None, used: int | None) -> int | None:
            # -1 is Nova's "unlimited": unknown room, never zero.
            if maximum is None or maximum < 0:
                return None
            return max(0, maximum - (used or 0))

        return model.Capacity(
            instances=free(limits.instances, limits.instances_used),
            vcpus=free(limits.total_cores, limits.total_cores_used),
            ram_mib=free(limits.total_ram, limits.total_ram_used),
        )

    # -- lookups made once for the provider's life ----------------------------------------

    def _lookup(self, key: str, find: Callable[[], Any]) -> Any:
        """What ``find()`` answers for ``key``, asked once: while one worker asks, the
        others wait for its answer (dogpile's lock) instead of asking too. A failure is
        not kept: the next caller asks again."""
        with self._lock:
            if self._lookups is None:
                from dogpile.cache import make_region

                self._lookups = make_region().configure("dogpile.cache.memory")
            lookups = self._lookups
        return lookups.get_or_create(key, find)

    def _image(self) -> Any:
        return self._lookup("image", self._find_image)

    def _find_image(self) -> Any:
        s = self.settings
        fix = (
            "upload one with: virtprov openstack create-ipxe-image, then set image "
            "(or image_name / image_tag) in the provider's table"
        )
        with self._calling("finding the iPXE image", not_found=f"the image is missing; {fix}"):
            if s.image:
                return self.conn.image.get_image(s.image)
            query = {"name": s.image_name} if s.image_name else {"tag": s.image_tag}
            found = sorted(
                self.conn.image.images(**query, status="active"),
                key=lambda i: str(i.created_at or ""),
            )
            if not found:
                what = f"name {s.image_name!r}" if s.image_name else f"tag {s.image_tag!r}"
                raise errors.PermanentError(
                    f"no active image with {what}; {fix}", provider=self._name
                )
            return found[-1]  # the newest: re-uploading rolls the fleet forward

    def _image_arch(self) -> str | None:
        try:
            image = self._image()
        except errors.ProviderError:
            return None
        arch = getattr(image, "architecture", None)
        return str(arch) if arch else None

    def _network(self, key: str, name_or_id: str | None, *, external: bool) -> Any:
        return self._lookup(key, lambda: self._find_network(name_or_id, external=external))

    def _find_network(self, name_or_id: str | None, *, external: bool) -> Any:
        option = "external_network" if external else "network"
        with self._calling(f"finding the {option}"):
            if name_or_id is None:
                found = list(self.conn.network.networks(is_router_external=True))
                what = "no external (router:external) network is visible to the project"
            else:
                found = [
                    n
                    for n in self.conn.network.networks(name=name_or_id)
                    if not external or n.is_router_external
                ]
                if not found:
                    with contextlib.suppress(Exception):
                        found = [self.conn.network.get_network(name_or_id)]
                what = f"no network named {name_or_id!r}"
        if not found:
            raise errors.PermanentError(
                f"{what}; set {option} to a network name or id the project can use",
                provider=self._name,
            )
        return found[0]

    # -- create ----------------------------------------------------------------------

    def create_guest(self, spec: model.GuestSpec) -> model.Guest:
        boot = spec.boot
        if not isinstance(boot, model.NetworkBoot | model.ImageBoot):
            raise errors.PermanentError(
                "OpenStack guests boot from the network (iPXE) or from an image; direct "
                "kernel boot is not available",
                provider=self._name,
            )
        image = self._boot_image(boot.image) if isinstance(boot, model.ImageBoot) else self._image()
        metadata: dict[str, str] = {k: str(v)[:255] for k, v in spec.labels.items()}
        # An image boot runs as it is built: never stopped after its first ACTIVE.
        metadata[META_PHASE] = PHASE_STARTED if isinstance(boot, model.ImageBoot) else PHASE_BUILD
        undo: list[tuple[str, Any]] = []
        try:
            extra: dict[str, Any] = {}
            if isinstance(boot, model.ImageBoot):
                extra = self._image_boot(spec.name, boot, metadata, undo)
            if self.settings.network_mode == MODE_FLOATING:
                networks = self._create_guest_network(spec, metadata, undo)
            else:
                net = self._network("network", self.settings.network, external=False)
                networks = [{"uuid": net.id}]
            attrs_: dict[str, Any] = {
                "name": spec.name,
                "image_id": image.id,
                "flavor_id": spec.flavor.id,
                "networks": networks,
                "metadata": metadata,
                **extra,
            }
            if self.settings.security_groups:
                attrs_["security_groups"] = [{"name": g} for g in self.settings.security_groups]
            with self._calling("creating the server", not_found="check image and flavor"):
                server = self.conn.compute.create_server(**attrs_)
        except BaseException as exc:
            self._undo(undo)
            if isinstance(exc, errors.VirtprovError):
                raise
            if isinstance(exc, Exception):
                raise self._translate(exc, f"creating {spec.name}", None) from exc
            raise
        self._remember(str(server.id), _Owns.of(spec.name, metadata))
        return model.Guest(
            provider=self._name,
            id=str(server.id),
            name=spec.name,
            state=model.GuestState.BUILDING,
            macs=(metadata[META_MAC],) if META_MAC in metadata else (),
            addresses=(metadata[META_FIP_ADDRESS],) if META_FIP_ADDRESS in metadata else (),
            labels=dict(spec.labels),
            flavor_id=spec.flavor.id,
        )

    def _boot_image(self, name_or_id: str) -> Any:
        """The Glance image an image boot names, by id or by name (looked up once)."""

        def find() -> Any:
            with self._calling(f"finding the image {name_or_id!r}"):
                image = self.conn.image.find_image(name_or_id, ignore_missing=True)
            if image is None:
                # The recipe's image, not the provider, is wrong: fail this launch only.
                raise errors.ProviderError(
                    f"no Glance image is named {name_or_id!r} or has that id",
                    provider=self._name,
                )
            return image

        return self._lookup(f"boot-image:{name_or_id}", find)

    def _image_boot(
        self,
        name: str,
        boot: model.ImageBoot,
        metadata: dict[str, str],
        undo: list[tuple[str, Any]],
    ) -> dict[str, Any]:
        """The key pair made for the guest and the user data, as ``create_server`` takes them.

        Nova holds one public key per key pair: the first key goes there (cloud-init
        gives it to the image's default user), any others through the user data.
        """
        from openstack import exceptions as sdk

        from virtprov.cloudinit import user_data_with_keys

        try:
            user_data = user_data_with_keys(boot.user_data, boot.ssh_public_keys[1:])
        except ValueError as exc:
            raise errors.ProviderError(str(exc), provider=self._name) from None
        extra: dict[str, Any] = {}
        if boot.ssh_public_keys:
            with self._calling(f"creating the key pair of {name}"):
                try:
                    self.conn.compute.create_keypair(name=name, public_key=boot.ssh_public_keys[0])
                except sdk.ConflictException:
                    # Named after the guest: a leftover of an earlier guest of this name.
                    self.conn.compute.delete_keypair(name, ignore_missing=True)
                    self.conn.compute.create_keypair(name=name, public_key=boot.ssh_public_keys[0])
            undo.append(("keypair", name))
            metadata[META_KEYPAIR] = name
            extra["key_name"] = name
        if user_data is not None:
            # Nova takes user data base64-encoded; it is never logged or kept in metadata.
            extra["user_data"] = base64.b64encode(user_data.encode("utf-8")).decode("ascii")
        return extra

    def _create_guest_network(
        self, spec: model.GuestSpec, metadata: dict[str, str], undo: list[tuple[str, Any]]
    ) -> list[dict[str, str]]:
        """Beaker's default: a router, network, subnet, port and floating IP per guest.

        The port is made here rather than by Nova, so that its MAC is known at once and
        the floating IP is bound to it in the same call that creates it (Beaker waited
        for ACTIVE, looked the port up and associated the address afterwards).
        """
        net_api = self.conn.network
        external = self._network("external", self.settings.external_network, external=True)
        common = {"name": spec.name, "description": _description(spec.labels, spec.name)}
        with self._calling(f"creating the network resources of {spec.name}"):
            router = net_api.create_router(
                **common, external_gateway_info={"network_id": external.id}
            )
            undo.append(("router", router))
            metadata[META_ROUTER] = str(router.id)
            network = net_api.create_network(**common)
            undo.append(("network", network))
            metadata[META_NETWORK] = str(network.id)
            subnet_attrs: dict[str, Any] = {
                **common,
                "network_id": network.id,
                "ip_version": ipaddress.ip_network(self.settings.guest_cidr).version,
                "cidr": self.settings.guest_cidr,
            }
            if self.settings.dns_nameservers:
                subnet_attrs["dns_nameservers"] = list(self.settings.dns_nameservers)
            subnet = net_api.create_subnet(**subnet_attrs)
            metadata[META_SUBNET] = str(subnet.id)
            net_api.add_interface_to_router(router, subnet=subnet.id)
            undo.append(("interface", (router, subnet.id)))
            port = net_api.create_port(**common, network_id=network.id)
            undo.append(("port", port))
            metadata[META_PORT] = str(port.id)
            metadata[META_MAC] = str(port.mac_address)
            fip = net_api.create_ip(
                description=common["description"],
                floating_network_id=external.id,
                port_id=port.id,
            )
            undo.append(("fip", fip))
            metadata[META_FIP] = str(fip.id)
            metadata[META_FIP_ADDRESS] = str(fip.floating_ip_address)
        return [{"port": str(port.id)}]

    def _undo(self, undo: list[tuple[str, Any]]) -> None:
        """Remove, newest first, what a failed create made. Best effort, never raises."""
        for kind, resource in reversed(undo):
            with contextlib.suppress(Exception):
                self._delete_network_resource(kind, resource)

    def _delete_network_resource(self, kind: str, resource: Any) -> None:
        net_api = self.conn.network
        if kind == "keypair":
            self.conn.compute.delete_keypair(resource, ignore_missing=True)
        elif kind == "fip":
            net_api.delete_ip(resource, ignore_missing=True)
        elif kind == "port":
            net_api.delete_port(resource, ignore_missing=True)
        elif kind == "interface":
            router, subnet_id = resource
            try:
                net_api.remove_interface_from_router(router, subnet=subnet_id)
            except Exception as exc:
                if getattr(exc, "status_code", None) != 404:
                    raise
        elif kind == "router":
            net_api.delete_router(resource, ignore_missing=True)
        elif kind == "network":
            net_api.delete_network(resource, ignore_missing=True)

    # -- poll ------------------------------------------------------------------------

    def poll(self, guest_ids: Sequence[str]) -> Mapping[str, model.Guest]:
        wanted = list(dict.fromkeys(guest_ids))
        if not wanted:
            return {}
        servers: dict[str, Server] = {}
        with self._calling("polling servers"):
            if len(wanted) == 1:
                # One guest: a GET of it is cheaper than listing the project.
                one = self._get_server(wanted[0])
                if one is not None:
                    servers[str(one.id)] = one
            else:
                for listed in self.conn.compute.servers(details=True):
                    if listed.id in wanted:
                        servers[str(listed.id)] = listed
        result = {}
        for guest_id in wanted:
            server = servers.get(guest_id)
            if server is None:
                with self._lock:
                    self._owns.pop(guest_id, None)
                continue
            guest = self._advance(server)
            if guest is not None:
                result[guest_id] = guest
        return result

    def _get_server(self, guest_id: str) -> Server | None:
        from openstack import exceptions as sdk

        try:
            return self.conn.compute.get_server(guest_id)
        except sdk.NotFoundException:
            return None

    def _advance(self, server: Server) -> model.Guest | None:
        """Map a server to a guest, stopping it once when its first build completes."""
        status = str(server.status or "").upper()
        meta = dict(server.metadata or {})
        phase = meta.get(META_PHASE, PHASE_STARTED)
        task = server.task_state
        fault = None
        if status in ("DELETED", "SOFT_DELETED"):
            return None
        if status == "ERROR":
            state = model.GuestState.ERROR
            fault = nova.fault_text(server.fault)
        elif status == "BUILD":
            state = model.GuestState.BUILDING
        elif phase == PHASE_BUILD:
            if status == "SHUTOFF" and not task:
                state = model.GuestState.READY
            else:
                state = model.GuestState.BUILDING
                if status == "ACTIVE" and not task and not self._stop_quietly(str(server.id)):
                    return None  # deleted since the poll read it: gone, like an absent one
        elif status == "SHUTOFF":
            state = model.GuestState.STOPPED
        else:
            state = model.GuestState.RUNNING
        return self._guest(server, state, fault)

    def _stop_quietly(self, guest_id: str) -> bool:
        """Stop the freshly built server; ``False`` when it no longer exists (404)."""
        from openstack import exceptions as sdk

        with self._calling("stopping the freshly built server", guest_id):
            try:
                self.conn.compute.stop_server(guest_id)
            except sdk.ConflictException:
                pass  # 409: already stopping, another poller got there first
            except sdk.NotFoundException:
                # Deleted between the poll's GET and this stop: one guest's race must
                # not fail the poll of all the others.
                with self._lock:
                    self._owns.pop(guest_id, None)
                return False
        return True

    def _guest(
        self, server: Server, state: model.GuestState, fault: str | None = None
    ) -> model.Guest:
        meta = dict(server.metadata or {})
        self._remember(str(server.id), _Owns.of(str(server.name), meta))
        macs: list[str] = []
        addresses: list[str] = []
        if meta.get(META_MAC):
            macs.append(meta[META_MAC])
        if meta.get(META_FIP_ADDRESS):
            addresses.append(meta[META_FIP_ADDRESS])
        for entries in (server.addresses or {}).values():
            for entry in entries:
                mac = str(entry.get("OS-EXT-IPS-MAC:mac_addr") or "").lower()
                if model.MAC_ADDRESS.match(mac) and mac not in macs:
                    macs.append(mac)
                addr = entry.get("addr")
                if addr and addr not in addresses:
                    addresses.append(str(addr))
        created = None
        if server.created_at:
            with contextlib.suppress(ValueError):
                created = datetime.fromisoformat(str(server.created_at).replace("Z", "+00:00"))
        flavor = server.flavor
        flavor_id = getattr(flavor, "id", None) or getattr(flavor, "original_name", None)
        return model.Guest(
            provider=self._name,
            id=str(server.id),
            name=str(server.name),
            state=state,
            macs=tuple(macs),
            addresses=tuple(addresses),
            labels={k: v for k, v in meta.items() if k not in _OWN_KEYS},
            flavor_id=str(flavor_id) if flavor_id else None,
            created_at=created,
            fault=fault,
        )

    def classify_fault(self, guest: model.Guest) -> type[errors.ProviderError]:
        if nova.fault_is_capacity(guest.fault):
            return errors.CapacityExhausted
        return errors.ProviderError

    # -- power -----------------------------------------------------------------------

    def start_guest(self, guest_id: str, boot: model.BootRequest | None = None) -> None:
        if boot is not None and not isinstance(boot, model.NetworkBoot | model.ImageBoot):
            raise errors.PermanentError(
                "OpenStack guests boot from the network (iPXE) or their image only",
                provider=self._name,
                guest_id=guest_id,
            )
        with self._calling("starting the server", guest_id):
            # Durable, so a restarted poller reports RUNNING, not a fresh build (to stop).
            self.conn.compute.set_server_metadata(guest_id, **{META_PHASE: PHASE_STARTED})
            self._power(self.conn.compute.start_server, guest_id, already="ACTIVE")

    def stop_guest(self, guest_id: str) -> None:
        with self._calling("stopping the server", guest_id):
            self._power(self.conn.compute.stop_server, guest_id, already="SHUTOFF")

    def _power(self, action: Callable[[str], object], guest_id: str, *, already: str) -> None:
        """Start or stop the server. Nova answers 409 when it is ``already`` so, which is
        done; any other conflict is a real one."""
        from openstack import exceptions as sdk

        try:
            action(guest_id)
        except sdk.ConflictException:
            server = self.conn.compute.get_server(guest_id)
            if str(server.status).upper() != already:
                raise

    # -- destroy ---------------------------------------------------------------------

    def destroy_guest(self, guest_id: str) -> Sequence[model.OwnedResource]:
        """Delete the server (and its key pair) and return at once: what was made for it
        on the network can only go once Nova no longer knows it (deleting the network
        while the server's port is on it gives 409, as Beaker learnt), so it is returned
        for the caller to delete after its poll saw the server gone."""
        with self._calling("destroying the guest", guest_id):
            with self._lock:
                owns = self._owns.pop(guest_id, None)
            if owns is None:  # never seen by this process: its metadata says
                server = self._get_server(guest_id)
                if server is None:
                    return []
                owns = _Owns.of(str(server.name), dict(server.metadata or {}))
            self.conn.compute.delete_server(guest_id, ignore_missing=True)
            if owns.meta.get(META_KEYPAIR):  # Nova needs it no longer
                self._delete_network_resource("keypair", owns.meta[META_KEYPAIR])
        return owns.leftovers(self._name)

    def _remember(self, guest_id: str, owns: _Owns) -> None:
        with self._lock:
            self._owns[guest_id] = owns

    # -- console, list ---------------------------------------------------------------

    def console_output(self, guest_id: str) -> model.ConsoleOutput:
        with self._calling("reading the console log", guest_id):
            reply = self.conn.compute.get_server_console_output(guest_id)
        text = str((reply or {}).get("output") or "")
        # Nova keeps only the tail: a chunk this large has lost its beginning.
        truncated = len(text.encode("utf-8", "replace")) >= CONSOLE_LIMIT_BYTES
        return model.ConsoleOutput(text=text, truncated=truncated)

    def list_guests(self, prefix: str) -> Sequence[model.Guest]:
        result = []
        with self._calling("listing servers"):
            for server in self.conn.compute.servers(details=True, name=_regex_prefix(prefix)):
                if not str(server.name).startswith(prefix):
                    continue
                if model.LABEL_POOL not in (server.metadata or {}):
                    continue
                guest = self._advance_passive(server)
                result.append(guest)
        return result

    # -- what guests own (for sweepers) ----------------------------------------------------

    def list_resources(self, prefix: str) -> Sequence[model.OwnedResource]:
        """What guests named ``prefix*`` own besides their server.

        Routers, networks, subnets, ports and floating IPs (floating mode) carry the
        guest's name and labels in their description (Neutron has no prefix filter, so
        each kind is one list of the project's resources, filtered here). In the order
        they can be deleted: floating IPs, ports, routers (with their interfaces),
        subnets, networks. Servers in fixed mode own nothing there: Nova makes and
        deletes their ports. Then the key pairs made for image-boot guests: a Nova key
        pair is a name and a public key, nothing more, so they are found by their name,
        the guest's, and listed without labels (see :meth:`_key_pairs`).
        """
        net_api = self.conn.network
        listings = (
            ("floating_ip", net_api.ips),
            ("port", net_api.ports),
            ("router", net_api.routers),
            ("subnet", net_api.subnets),
            ("network", net_api.networks),
        )
        found = []
        with self._calling("listing the guests' network resources"):
            for kind, listing in listings:
                for item in listing():
                    owner = _owner(getattr(item, "description", None))
                    if owner is None or not owner[0].startswith(prefix):
                        continue
                    guest, labels = owner
                    if model.LABEL_POOL not in labels:
                        continue
                    name = item.floating_ip_address if kind == "floating_ip" else item.name
                    found.append(
                        model.OwnedResource(
                            provider=self._name,
                            kind=kind,
                            id=str(item.id),
                            name=str(name or ""),
                            guest=guest,
                            labels=labels,
                        )
                    )
        return [*found, *self._key_pairs(prefix)]

    def _key_pairs(self, prefix: str) -> list[model.OwnedResource]:
        """The key pairs named ``prefix*``: each an image-boot guest's, named after it.

        No labels: Nova keeps none on a key pair. The sweeper takes one for its pool's
        only if its journal made a guest of that name, and only once no such guest exists.
        """
        with self._calling("listing the key pairs"):
            names = sorted(str(pair.name) for pair in self.conn.compute.keypairs())
        return [
            model.OwnedResource(provider=self._name, kind="keypair", id=name, name=name, guest=name)
            for name in names
            if name.startswith(prefix)
        ]

    def destroy_resource(self, resource: model.OwnedResource) -> None:
        from openstack import exceptions as sdk

        net_api = self.conn.network
        with self._calling(f"deleting the {resource.kind} {resource.name or resource.id}"):
            if resource.kind == "floating_ip":
                net_api.delete_ip(resource.id, ignore_missing=True)
            elif resource.kind == "port":
                net_api.delete_port(resource.id, ignore_missing=True)
            elif resource.kind == "router":
                # A router with interfaces cannot be deleted (409): take them off first.
                for port in net_api.ports(
                    device_id=resource.id, device_owner="network:router_interface"
                ):
                    with contextlib.suppress(sdk.NotFoundException):
                        net_api.remove_interface_from_router(resource.id, port=port.id)
                net_api.delete_router(resource.id, ignore_missing=True)
            elif resource.kind == "subnet":
                net_api.delete_subnet(resource.id, ignore_missing=True)
            elif resource.kind == "network":
                net_api.delete_network(resource.id, ignore_missing=True)
            elif resource.kind == "keypair":
                self.conn.compute.delete_keypair(resource.id, ignore_missing=True)
            else:
                raise errors.ProviderError(
                    f"no such kind of resource: {resource.kind!r}", provider=self._name
                )

    def _advance_passive(self, server: Server) -> model.Guest:
        """Like :meth:`_advance` without side effects (listing never stops a server)."""
        status = str(server.status or "").upper()
        phase = (server.metadata or {}).get(META_PHASE, PHASE_STARTED)
        if status in ("DELETED", "SOFT_DELETED"):  # deleted, still listed for a moment
            return self._guest(server, model.GuestState.DELETED)
        if status == "ERROR":
            return self._guest(server, model.GuestState.ERROR, nova.fault_text(server.fault))
        if status == "BUILD" or (phase == PHASE_BUILD and status != "SHUTOFF"):
            return self._guest(server, model.GuestState.BUILDING)
        if phase == PHASE_BUILD:
            return self._guest(server, model.GuestState.READY)
        if status == "SHUTOFF":
            return self._guest(server, model.GuestState.STOPPED)
        return self._guest(server, model.GuestState.RUNNING)
