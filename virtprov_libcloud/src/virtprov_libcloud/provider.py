"""Any Apache Libcloud compute driver as a virtprov provider.

libcloud already speaks to dozens of compute services (EC2, GCE, Azure, libvirt,
vSphere, KubeVirt, OpenStack...) through one ``NodeDriver`` interface. This adapter maps
that interface onto the provider contract and is meant to be read as the worked example
of a provider plugin (``docs/libcloud.md`` walks through it):

* **flavors** are the driver's ``list_sizes()`` (RAM, disk and vCPUs where the driver
  reports them; what it cannot report is configured per size);
* **capacity** is unknown (``None``): libcloud has no quota call. ``max_instances``
  caps the guests this provider keeps at once, counted from ``list_nodes()``;
* **create** is one ``create_node`` with the ownership labels as the driver's tags,
  labels or metadata; **poll** is one ``list_nodes()`` for any number of guests. Most
  services start a node as soon as it is built: ``stop_when_built`` stops it once, so
  that ``ready`` means built and powered off, as with the other providers;
* libcloud's exceptions are mapped in :mod:`virtprov_libcloud.faults`.
"""

from __future__ import annotations

import inspect
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Final, Self

from virtprov import errors
from virtprov.model import (
    LABEL_POOL,
    BootRequest,
    Capacity,
    ConsoleOutput,
    Flavor,
    Guest,
    GuestSpec,
    GuestState,
    ImageBoot,
    KernelBoot,
    OwnedResource,
    ProviderInfo,
)
from virtprov.provider import Provider
from virtprov_libcloud.faults import map_error
from virtprov_libcloud.settings import Settings, read_settings

if TYPE_CHECKING:
    from virtprov.config import ProviderConfig

log = logging.getLogger(__name__)

#: ``create_node`` keyword arguments that carry a mapping onto the node, best first
#: (GCE labels, EC2 tags and OpenStack metadata, Azure tags).
LABEL_ARGUMENTS: Final = ("ex_labels", "ex_metadata", "ex_tags")
#: The label an image-boot node carries, so that a restarted poller never stops it.
LABEL_BOOT: Final = "virtprov-boot"
#: Where drivers put that mapping back in ``Node.extra``.
_LABEL_EXTRAS: Final = ("labels", "tags", "metadata")
#: ``Node.extra`` keys that hold a MAC address (EC2 interfaces, OpenStack addresses...).
_MAC_KEYS: Final = frozenset({"mac_address", "mac", "macaddress", "os-ext-ips-mac:mac_addr"})
_MAC: Final = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")

_BUILDING_STATES: Final = frozenset({"pending", "starting", "rebooting", "unknown", "updating"})
_RUNNING_STATES: Final = frozenset({"running", "normal", "migrating", "reconfiguring"})
_STOPPED_STATES: Final = frozenset({"stopped", "suspended", "paused"})
_GONE_STATES: Final = frozenset({"terminated"})

_NO_CONSOLE: Final = "this libcloud driver offers no console output (no ex_get_console_output)"


class LibcloudProvider(Provider):
    """One libcloud compute driver, configured for one lab."""

    driver: ClassVar[str] = "libcloud"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._driver: Any = None
        # Power state this process asked for, per node id (see _state): libcloud has no
        # portable way to mark a node, so "built and stopped once" is remembered here.
        self._started: set[str] = set()
        self._stop_requested: set[str] = set()

    @classmethod
    def from_config(cls, config: ProviderConfig) -> Self:
        return cls(read_settings(config))

    def __repr__(self) -> str:
        return f"LibcloudProvider({self.settings.name!r}, {self.settings.libcloud_driver!r})"

    # -- plumbing -------------------------------------------------------------------------

    def _node_driver(self) -> Any:
        with self._lock:
            if self._driver is None:
                from libcloud.compute.providers import get_driver

                s = self.settings
                args = [a for a in (s.key, s.secret.reveal() if s.secret else None) if a]
                with self._call("set up the libcloud driver"):
                    self._driver = get_driver(s.libcloud_driver)(*args, **s.driver_options)
            return self._driver

    @contextmanager
    def _call(self, action: str, guest_id: str | None = None) -> Iterator[None]:
        """Turn every libcloud or transport failure into virtprov's error tree."""
        try:
            yield
        except errors.VirtprovError:
            raise
        except Exception as exc:  # libcloud raises plain Exception subclasses
            raise map_error(
                exc, provider=self.settings.name, action=action, guest_id=guest_id
            ) from None

    # -- what it is -------------------------------------------------------------------------

    @property
    def info(self) -> ProviderInfo:
        return ProviderInfo(
            name=self.settings.name,
            driver=self.driver,
            lab=self.settings.lab,
            hypervisor=self.settings.hypervisor,
            arches=self.settings.arches,
        )

    def flavors(self) -> Sequence[Flavor]:
        s = self.settings
        with self._call("list sizes"):
            sizes = self._node_driver().list_sizes()
        wanted = set(s.sizes)
        flavors = []
        for size in sizes:
            if wanted and str(size.id) not in wanted:
                continue
            flavor = self._flavor(size)
            if flavor is not None:
                flavors.append(flavor)
        missing = wanted - {f.id for f in flavors}
        if missing:
            log.warning(
                "%s: sizes %s are not offered by the service or lack vCPUs; see size_overrides",
                s.name,
                ", ".join(sorted(missing)),
            )
        return flavors

    def _flavor(self, size: Any) -> Flavor | None:
        override = self.settings.size_overrides.get(str(size.id))
        vcpus = (override and override.vcpus) or _size_vcpus(size)
        if not vcpus:
            log.info(
                "%s: size %s does not say how many vCPUs it has; left out "
                "(set size_overrides.%s.vcpus)",
                self.settings.name,
                size.id,
                size.id,
            )
            return None
        ram = (override and override.ram_mib) or int(size.ram or 0)
        disk = override.disk_bytes if override and override.disk_bytes is not None else None
        if disk is None:
            disk = int(size.disk or 0) * 1024**3  # libcloud sizes give disk in GB
        return Flavor(
            id=str(size.id),
            name=str(size.name or size.id),
            vcpus=int(vcpus),
            ram_mib=ram,
            disk_bytes=disk,
            arch=override.arch if override else None,
        )

    def capacity(self) -> Capacity:
        limit = self.settings.max_instances
        if limit is None:
            return Capacity()  # libcloud exposes no quota: unknown, never zero
        with self._call("list nodes"):
            nodes = self._node_driver().list_nodes()
        ours = [n for n in nodes if _state(n) not in _GONE_STATES and LABEL_POOL in _labels(n)]
        return Capacity(instances=max(0, limit - len(ours)))

    # -- create -----------------------------------------------------------------------------

    def create_guest(self, spec: GuestSpec) -> Guest:
        from libcloud.compute.base import NodeImage, NodeSize

        s = self.settings
        if s.max_instances is not None and self.capacity().instances == 0:
            raise errors.CapacityExhausted(
                f"max_instances ({s.max_instances}) guests exist already",
                provider=s.name,
            )
        driver = self._node_driver()
        boot = spec.boot if isinstance(spec.boot, ImageBoot) else None
        # Drivers create from the ids; the other fields only describe (no lookup call).
        image_id = boot.image if boot else (spec.image or s.image)
        image = NodeImage(id=image_id, name=image_id, driver=driver)
        size = NodeSize(
            id=spec.flavor.id,
            name=spec.flavor.name,
            ram=spec.flavor.ram_mib,
            disk=spec.flavor.disk_bytes // 1024**3,
            bandwidth=None,
            price=0.0,
            driver=driver,
        )
        kwargs: dict[str, Any] = dict(s.create_options)
        labels = dict(spec.labels)
        if boot is not None:
            labels[LABEL_BOOT] = "image"  # read back by poll: never stopped once built
            kwargs.update(self._image_boot(spec.name, boot))
        argument = self._label_argument()
        if argument is not None:
            kwargs[argument] = labels
        if s.location:
            kwargs["location"] = self._location(s.location)
        try:
            with self._call(f"create node {spec.name}"):
                node = driver.create_node(name=spec.name, size=size, image=image, **kwargs)
        except BaseException:
            if "ex_keyname" in kwargs:
                self._delete_key_pair(spec.name)
            raise
        if boot is not None:
            self._started.add(str(node.id))
        return self._guest(node, GuestState.BUILDING, labels=labels)

    def _image_boot(self, name: str, boot: ImageBoot) -> dict[str, Any]:
        """``create_node`` arguments for an image boot, as far as the driver takes them.

        A key pair named after the guest holds the first key where the driver keeps key
        pairs (``ex_keyname``); the others, or all of them where it keeps none, reach
        cloud-init through ``ex_userdata``.
        """
        from virtprov.cloudinit import user_data_with_keys

        driver = self._node_driver()
        takes = inspect.signature(driver.create_node).parameters
        keys = list(boot.ssh_public_keys)
        extra: dict[str, Any] = {}
        if keys and "ex_keyname" in takes and hasattr(driver, "import_key_pair_from_string"):
            self._delete_key_pair(name)  # a leftover of an earlier guest of this name
            with self._call(f"import the key pair of {name}"):
                driver.import_key_pair_from_string(name, keys.pop(0))
            extra["ex_keyname"] = name
        try:
            user_data = user_data_with_keys(boot.user_data, keys)
        except ValueError as exc:
            raise errors.ProviderError(str(exc), provider=self.settings.name) from None
        if user_data is not None:
            if "ex_userdata" not in takes:
                raise errors.ProviderError(
                    f"the {self.settings.libcloud_driver} driver takes no user data (ex_userdata): "
                    "give one SSH key and no user data",
                    provider=self.settings.name,
                )
            extra["ex_userdata"] = user_data
        return extra

    def _delete_key_pair(self, name: str) -> None:
        """Remove the key pair made for the guest ``name``, if any; idempotent."""
        driver = self._node_driver()
        if not hasattr(driver, "delete_key_pair"):
            return
        try:
            with self._call(f"look up the key pair {name}"):
                pair = driver.get_key_pair(name)
        except errors.ProviderError:
            return  # no such key pair (drivers raise their own "does not exist")
        with self._call(f"delete the key pair {name}"):
            driver.delete_key_pair(pair)

    def _label_argument(self) -> str | None:
        """The ``create_node`` argument the driver takes a label mapping in, if any."""
        parameters = inspect.signature(self._node_driver().create_node).parameters
        return next((name for name in LABEL_ARGUMENTS if name in parameters), None)

    def _location(self, wanted: str) -> Any:
        with self._call("list locations"):
            locations = self._node_driver().list_locations()
        for location in locations:
            if wanted in (str(location.id), location.name):
                return location
        raise errors.PermanentError(
            f"the service has no location {wanted!r} "
            f"(it has: {', '.join(sorted(str(loc.name) for loc in locations))})",
            provider=self.settings.name,
        )

    # -- looking ----------------------------------------------------------------------------

    def _nodes(self) -> list[Any]:
        with self._call("list nodes"):
            return list(self._node_driver().list_nodes())

    def _node(self, guest_id: str) -> Any | None:
        for node in self._nodes():
            if str(node.id) == guest_id and _state(node) not in _GONE_STATES:
                return node
        return None

    def poll(self, guest_ids: Sequence[str]) -> Mapping[str, Guest]:
        wanted = set(guest_ids)
        if not wanted:
            return {}
        found: dict[str, Guest] = {}
        for node in self._nodes():
            node_id = str(node.id)
            if node_id in wanted and _state(node) not in _GONE_STATES:
                found[node_id] = self._advance(node)
        return found

    def _advance(self, node: Any) -> Guest:
        """Map a node to a guest, stopping it once when its build completes."""
        node_id = str(node.id)
        state = _state(node)
        if state == "error":
            return self._guest(
                node, GuestState.ERROR, fault=f"the service reports the node {state}"
            )
        if node_id in self._started or _labels(node).get(LABEL_BOOT) == "image":
            if state in _STOPPED_STATES:
                return self._guest(node, GuestState.STOPPED)
            return self._guest(node, GuestState.RUNNING)
        if state in _STOPPED_STATES:
            return self._guest(node, GuestState.READY)
        if state in _RUNNING_STATES and not self.settings.stop_when_built:
            return self._guest(node, GuestState.READY)
        if state in _RUNNING_STATES and node_id not in self._stop_requested:
            # Built: power it off once, so that the first real boot is the lab's.
            with self._call("stop the built node", node_id):
                self._node_driver().stop_node(node)
            self._stop_requested.add(node_id)
        return self._guest(node, GuestState.BUILDING)

    def list_guests(self, prefix: str) -> Sequence[Guest]:
        return [
            self._guest(node, None)
            for node in self._nodes()
            if str(node.name or "").startswith(prefix)
            and _state(node) not in _GONE_STATES
            and LABEL_POOL in _labels(node)
        ]

    def _guest(
        self,
        node: Any,
        state: GuestState | None,
        *,
        labels: Mapping[str, str] | None = None,
        fault: str | None = None,
    ) -> Guest:
        if state is None:
            state = _plain_state(_state(node))
        return Guest(
            provider=self.settings.name,
            id=str(node.id),
            name=str(node.name or ""),
            state=state,
            macs=tuple(dict.fromkeys(_macs(node.extra))),
            addresses=tuple(
                str(a) for a in [*(node.public_ips or []), *(node.private_ips or [])] if a
            ),
            labels=labels if labels is not None else _labels(node),
            flavor_id=_size_id(node),
            created_at=_created(node),
            fault=fault,
        )

    # -- power ------------------------------------------------------------------------------

    def _existing(self, guest_id: str) -> Any:
        node = self._node(guest_id)
        if node is None:
            raise errors.GuestNotFound(
                f"no node {guest_id}", provider=self.settings.name, guest_id=guest_id
            )
        return node

    def start_guest(self, guest_id: str, boot: BootRequest | None = None) -> None:
        if isinstance(boot, KernelBoot):
            raise errors.ProviderError(
                "libcloud drivers cannot boot a guest from a kernel and initrd; "
                "use network boot or the image's own boot",
                provider=self.settings.name,
                guest_id=guest_id,
            )
        node = self._existing(guest_id)
        self._started.add(guest_id)
        if _state(node) in _RUNNING_STATES:
            return  # stop_when_built = false: it runs already
        self._power(self._node_driver().start_node, node, "start node", guest_id)

    def stop_guest(self, guest_id: str) -> None:
        node = self._existing(guest_id)
        if _state(node) in _STOPPED_STATES:
            return
        self._power(self._node_driver().stop_node, node, "stop node", guest_id)

    def _power(self, call: Callable[[Any], Any], node: Any, action: str, guest_id: str) -> None:
        with self._call(action, guest_id):
            done = call(node)
        if done is False:
            raise errors.TransientError(
                f"{action}: the service did not accept it",
                provider=self.settings.name,
                guest_id=guest_id,
            )

    def destroy_guest(self, guest_id: str) -> None:
        node = self._node(guest_id)
        if node is None:
            return  # gone already
        try:
            with self._call("destroy node", guest_id):
                self._node_driver().destroy_node(node)
        except errors.GuestNotFound:
            pass  # removed meanwhile
        if _labels(node).get(LABEL_BOOT) == "image":
            self._delete_key_pair(str(node.name))
        self._started.discard(guest_id)
        self._stop_requested.discard(guest_id)

    def console_output(self, guest_id: str) -> ConsoleOutput:
        driver = self._node_driver()
        if not hasattr(driver, "ex_get_console_output"):
            return ConsoleOutput(text="", unavailable=_NO_CONSOLE)
        node = self._existing(guest_id)
        with self._call("read the console output", guest_id):
            output = driver.ex_get_console_output(node)
        text = output.get("output") if isinstance(output, dict) else output
        return ConsoleOutput(text=str(text or ""))

    # -- what guests leave behind (for sweepers) --------------------------------------------

    def list_resources(self, prefix: str) -> Sequence[OwnedResource]:
        """The key pairs image boots imported for guests named ``prefix*``.

        Where the driver keeps key pairs, an image boot imports one named after its guest
        and ``destroy_guest`` deletes it; a destroy that dies between the two leaves it.
        A key pair carries no labels (EC2's, through libcloud, is a name and a
        fingerprint), so it is found by its name and listed without labels: the sweeper
        takes it for its pool's only if its journal made a guest of that name.
        """
        from libcloud.compute.base import NodeDriver

        driver = self._node_driver()
        # The drivers _image_boot imports key pairs on (ex_keyname) and that can list
        # them (NodeDriver's own list_key_pairs raises NotImplementedError); the others
        # make nothing but nodes.
        imports = "ex_keyname" in inspect.signature(driver.create_node).parameters
        lists = type(driver).list_key_pairs is not NodeDriver.list_key_pairs
        if not (imports and lists):
            return []
        with self._call("list key pairs"):
            names = sorted(str(pair.name) for pair in driver.list_key_pairs())
        return [
            OwnedResource(
                provider=self.settings.name, kind="keypair", id=name, name=name, guest=name
            )
            for name in names
            if name.startswith(prefix)
        ]

    def destroy_resource(self, resource: OwnedResource) -> None:
        if resource.kind != "keypair":
            raise errors.ProviderError(
                f"no such kind of resource: {resource.kind!r}", provider=self.settings.name
            )
        driver = self._node_driver()
        with self._call(f"delete the key pair {resource.name}"):
            # Looked up in the listing: gone already is done, a failed look is an error.
            for pair in driver.list_key_pairs():
                if pair.name == resource.id:
                    driver.delete_key_pair(pair)


def _state(node: Any) -> str:
    return str(getattr(node.state, "value", node.state) or "unknown").lower()


def _plain_state(state: str) -> GuestState:
    """A node's state when this process has no flow in progress for it (listing)."""
    if state in _RUNNING_STATES:
        return GuestState.RUNNING
    if state in _STOPPED_STATES:
        return GuestState.STOPPED
    if state == "error":
        return GuestState.ERROR
    return GuestState.BUILDING


def _labels(node: Any) -> dict[str, str]:
    extra = node.extra or {}
    mappings: list[dict[Any, Any]] = [
        extra[key] for key in _LABEL_EXTRAS if isinstance(extra.get(key), dict)
    ]
    chosen = next((m for m in mappings if LABEL_POOL in m), mappings[0] if mappings else {})
    # EC2 keeps the node's name as its "Name" tag: a name, not a label.
    return {str(k): str(v) for k, v in chosen.items() if not (k == "Name" and v == node.name)}


def _macs(value: Any, depth: int = 0) -> Iterator[str]:
    """MAC addresses anywhere in a node's ``extra`` (drivers put them in different places)."""
    if depth > 4:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).lower() in _MAC_KEYS and isinstance(item, str):
                mac = item.lower()
                if _MAC.match(mac):
                    yield mac
            else:
                yield from _macs(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _macs(item, depth + 1)
    elif hasattr(value, "extra") and isinstance(value.extra, dict):
        yield from _macs(value.extra, depth + 1)


def _size_vcpus(size: Any) -> int | None:
    """vCPUs as the driver reports them (drivers disagree on where)."""
    extra = size.extra or {}
    keys = ("vcpus", "vcpu", "cpu", "cpus", "guestCpus", "cores")
    candidates: list[Any] = [getattr(size, "vcpus", None), *(extra.get(k) for k in keys)]
    for value in candidates:
        try:
            number = int(value)
        except (TypeError, ValueError):
            continue
        if number > 0:
            return number
    return None


def _size_id(node: Any) -> str | None:
    value = getattr(node, "size", None)
    if value is not None and getattr(value, "id", None):
        return str(value.id)
    extra = node.extra or {}
    for key in ("instance_type", "flavorId", "machineType", "size"):
        if isinstance(extra.get(key), str):
            return str(extra[key])
    return None


def _created(node: Any) -> datetime | None:
    value = getattr(node, "created_at", None)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None
