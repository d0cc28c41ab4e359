"""Any Apache Libcloud compute driver as a virtprov provider.

libcloud already speaks to dozens of compute services (EC2, GCE, Azure, libvirt,
vSphere, KubeVirt, OpenStack...) through one ``NodeDriver`` interface. This adapter maps
that interface onto the provider contract and is meant to be read as the worked example
of a provider plugin (``docs/libcloud.md`` walks through it):

* **flavors** are the driver's ``list_sizes()`` (RAM, disk and vCPUs where the driver
  reports them; what it cannot report is configured per size; OpenStack flavors' arch
  and declared properties from their extra specs);
* **capacity** is unknown (``None``): libcloud has no quota call. It makes one cheap
  authenticated call (the size listing, briefly cached and shared with ``flavors``; EC2's
  zones), so that the pool's capacity refresh disables the provider on bad credentials.
  ``max_instances`` caps the guests this provider keeps at once, counted from
  ``list_nodes()``;
* **create** is one ``create_node`` with the ownership labels as the driver's tags,
  labels or metadata, and the names or ids of networks, subnets, security groups and
  key pairs turned into the driver's objects (:mod:`virtprov_libcloud.arguments`);
  **poll** is one ``list_nodes()`` for any number of guests. Most services start a
  node as soon as it is built: ``stop_when_built`` stops it once, so that ``ready``
  means built and powered off, as with the other providers; a stop another poller sent
  first is no failure (:mod:`virtprov_libcloud.power`);
* a build that fails after the create is read and judged per driver family in
  :mod:`virtprov_libcloud.build_faults`; libcloud's exceptions are mapped in
  :mod:`virtprov_libcloud.faults`.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from virtprov import errors, model, nova
from virtprov.error_mapping import mapping_errors
from virtprov.provider import LazyClient, SettingsProvider
from virtprov_libcloud import build_faults, power
from virtprov_libcloud.arguments import ArgumentResolver
from virtprov_libcloud.cache import Listings
from virtprov_libcloud.families import Family, family_of
from virtprov_libcloud.faults import map_error
from virtprov_libcloud.settings import Settings, read_settings

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

# Node states as libcloud's NodeState values; any other (pending, starting, rebooting,
# updating, unknown...) is building.
_RUNNING_STATES: Final = frozenset({"running", "normal", "migrating", "reconfiguring"})
_STOPPED_STATES: Final = frozenset({"stopped", "suspended", "paused"})
_GONE_STATES: Final = frozenset({"terminated"})

_NO_CONSOLE: Final = "this libcloud driver offers no console output (no ex_get_console_output)"

#: Seconds a size listing serves both flavors() and the health check in capacity(): short
#: enough that each capacity refresh of the pool (every minute by default) asks again.
SIZES_TTL: Final = 30.0
#: Seconds networks, subnets, security groups, key pairs and locations stay cached for
#: create_node (a name that matches nothing is looked up again before it is an error).
LISTING_TTL: Final = 600.0


class LibcloudProvider(SettingsProvider[Settings]):
    """One libcloud compute driver, configured for one lab."""

    driver: ClassVar[str] = "libcloud"
    read_settings = staticmethod(read_settings)

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._driver: LazyClient[Any] = LazyClient(self._make_driver)
        # Power state this process asked for, per node id (see _state): libcloud has no
        # portable way to mark a node, so "built and stopped once" is remembered here.
        self._started: set[str] = set()
        self._stop_requested: set[str] = set()
        # Nodes that ended on purpose (destroyed here, or terminated with a reason that is
        # no failure): a terminated one among them needs no look at why it ended.
        self._ended: set[str] = set()
        self._sizes: Listings[list[Any]] = Listings(SIZES_TTL)
        self._listings: Listings[list[Any]] = Listings(LISTING_TTL)

    def __repr__(self) -> str:
        return f"LibcloudProvider({self.settings.name!r}, {self.settings.libcloud_driver!r})"

    # -- plumbing -------------------------------------------------------------------------

    def _make_driver(self) -> Any:
        from libcloud.compute.providers import get_driver

        s = self.settings
        args = [a for a in (s.key, s.secret.reveal() if s.secret else None) if a]
        with self._call("set up the libcloud driver"):
            return get_driver(s.libcloud_driver)(*args, **s.driver_options)

    def _node_driver(self) -> Any:
        return self._driver.get()

    @property
    def family(self) -> Family:
        """The driver's family (OpenStack, EC2, other): what it does beyond the interface."""
        return family_of(self._node_driver())

    def _call(self, action: str, guest_id: str | None = None) -> AbstractContextManager[None]:
        """Turn every libcloud or transport failure into virtprov's error tree (libcloud
        raises plain ``Exception`` subclasses, so every exception is mapped)."""
        return mapping_errors(
            map_error, provider=self.settings.name, action=action, guest_id=guest_id
        )

    # -- what it is (info comes from the settings) ------------------------------------------

    def _list_sizes(self) -> list[Any]:
        def fetch() -> list[Any]:
            with self._call("list sizes"):
                return list(self._node_driver().list_sizes())

        return self._sizes.get("sizes", fetch)

    def flavors(self) -> Sequence[model.Flavor]:
        s = self.settings
        sizes = self._list_sizes()
        wanted = set(s.sizes)
        flavors = []
        for size in sizes:
            if wanted and str(size.id) not in wanted:
                continue
            if (size.extra or {}).get("disabled") is True:
                continue  # OpenStack: a flavor its operators retired
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

    def _flavor(self, size: Any) -> model.Flavor | None:
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
        specs = self._extra_specs(size)
        return model.Flavor(
            id=str(size.id),
            name=str(size.name or size.id),
            vcpus=int(vcpus),
            ram_mib=ram,
            disk_bytes=disk,
            arch=(override and override.arch) or nova.flavor_arch(specs),
            properties=nova.flavor_properties(specs) if specs else {},
        )

    def _extra_specs(self, size: Any) -> dict[str, str]:
        """An OpenStack flavor's extra specs (one call per flavor, cached like the sizes):
        its architecture and what it declares. Other families have none."""
        if self.family is not Family.OPENSTACK:
            return {}

        def fetch() -> list[Any]:
            with self._call(f"read the extra specs of flavor {size.name or size.id}"):
                specs = self._node_driver().ex_get_size_extra_specs(size.id) or {}
            return [(str(key), str(value)) for key, value in specs.items()]

        return dict(self._sizes.get(("extra_specs", str(size.id)), fetch))

    def capacity(self) -> model.Capacity:
        self._health_check()
        limit = self.settings.max_instances
        if limit is None:
            return model.Capacity()  # libcloud exposes no quota: unknown, never zero
        with self._call("list nodes"):
            nodes = self._node_driver().list_nodes()
        ours = [
            n for n in nodes if _state(n) not in _GONE_STATES and model.LABEL_POOL in _labels(n)
        ]
        return model.Capacity(instances=max(0, limit - len(ours)))

    def _health_check(self) -> None:
        """One cheap authenticated call, so that the pool's capacity refresh disables the
        provider on bad credentials with the service's reason (libcloud has no quota call).

        The size listing, briefly cached and shared with :meth:`flavors`; but libcloud's
        EC2 sizes are a table inside libcloud, so EC2 lists its availability zones.
        """
        if self.family is not Family.EC2:
            self._list_sizes()
            return

        def fetch() -> list[Any]:
            with self._call("list availability zones"):
                return list(self._node_driver().list_locations())

        self._sizes.get("zones", fetch)

    # -- create -----------------------------------------------------------------------------

    def create_guest(self, spec: model.GuestSpec) -> model.Guest:
        from libcloud.compute.base import NodeImage, NodeSize

        s = self.settings
        if s.max_instances is not None and self.capacity().instances == 0:
            raise errors.CapacityExhausted(
                f"max_instances ({s.max_instances}) guests exist already",
                provider=s.name,
            )
        driver = self._node_driver()
        boot = spec.boot if isinstance(spec.boot, model.ImageBoot) else None
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
        kwargs = self._create_arguments(spec)
        labels = dict(spec.labels)
        if boot is not None:
            labels[LABEL_BOOT] = "image"  # read back by poll: never stopped once built
            kwargs.update(self._image_boot(spec.name, boot))
        argument = self._label_argument()
        if argument is not None:
            kwargs[argument] = labels
        try:
            with self._call(f"create node {spec.name}"):
                node = driver.create_node(name=spec.name, size=size, image=image, **kwargs)
        except BaseException:
            if "ex_keyname" in kwargs:
                self._delete_key_pair(spec.name)
            raise
        if boot is not None:
            self._started.add(str(node.id))
        return self._guest(node, model.GuestState.BUILDING, labels=labels)

    def _image_boot(self, name: str, boot: model.ImageBoot) -> dict[str, Any]:
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

    def _create_arguments(self, spec: model.GuestSpec) -> dict[str, Any]:
        """``create_options``, the location and the guest's network, as the driver wants
        them (its own objects, looked up by name or id)."""
        s = self.settings
        resolver = ArgumentResolver(
            provider=s.name,
            driver=self._node_driver(),
            family=self.family,
            listing=self._listing,
        )
        return resolver.arguments(
            s.create_options,
            network=spec.network or s.network,
            network_from="GuestSpec.network" if spec.network else "network",
            location=s.location,
        )

    def _listing(self, method: str, *, fresh: bool = False) -> list[Any]:
        """What the driver's listing ``method`` returns, cached (``fresh``: listed again)."""
        if fresh:
            self._listings.forget(method)

        def fetch() -> list[Any]:
            with self._call(f"look up {method}"):
                return list(getattr(self._node_driver(), method)())

        return self._listings.get(method, fetch)

    # -- looking ----------------------------------------------------------------------------

    def _nodes(self) -> list[Any]:
        with self._call("list nodes"):
            return list(self._node_driver().list_nodes())

    def _node(self, guest_id: str) -> Any | None:
        for node in self._nodes():
            if str(node.id) == guest_id and _state(node) not in _GONE_STATES:
                return node
        return None

    def poll(self, guest_ids: Sequence[str]) -> Mapping[str, model.Guest]:
        wanted = set(guest_ids)
        if not wanted:
            return {}
        found: dict[str, model.Guest] = {}
        terminated: list[Any] = []
        nodes = self._nodes()
        self._ended &= {str(node.id) for node in nodes}  # forget what the service forgot
        for node in nodes:
            node_id = str(node.id)
            if node_id not in wanted:
                continue
            if _state(node) not in _GONE_STATES:
                found[node_id] = self._advance(node)
            elif node_id not in self._ended:
                terminated.append(node)
        if terminated:
            found.update(self._failed_launches(terminated))
        return found

    def _failed_launches(self, nodes: Sequence[Any]) -> dict[str, model.Guest]:
        """Terminated nodes whose launch failed, as guests in ``ERROR`` (EC2: an instance
        the service terminated, with its state reason); the others are gone."""
        failed: dict[str, model.Guest] = {}
        if self.family is Family.EC2:
            with self._call("read why instances terminated"):
                reasons = build_faults.ec2_state_reasons(
                    self._node_driver(), [str(node.id) for node in nodes]
                )
            for node in nodes:
                fault = build_faults.ec2_launch_failure(*reasons.get(str(node.id), ("", "")))
                if fault is not None:
                    failed[str(node.id)] = self._guest(node, model.GuestState.ERROR, fault=fault)
        self._ended.update(str(node.id) for node in nodes if str(node.id) not in failed)
        return failed

    def classify_fault(self, guest: model.Guest) -> type[errors.ProviderError]:
        return build_faults.classify(self.family, guest.fault)

    def _advance(self, node: Any) -> model.Guest:
        """Map a node to a guest, stopping it once when its build completes."""
        node_id = str(node.id)
        state = _state(node)
        if state == "error":
            return self._guest(
                node, model.GuestState.ERROR, fault=build_faults.error_fault(self.family, node)
            )
        if node_id in self._started or _labels(node).get(LABEL_BOOT) == "image":
            if state in _STOPPED_STATES:
                return self._guest(node, model.GuestState.STOPPED)
            return self._guest(node, model.GuestState.RUNNING)
        if state in _STOPPED_STATES:
            return self._guest(node, model.GuestState.READY)
        if state in _RUNNING_STATES and not self.settings.stop_when_built:
            return self._guest(node, model.GuestState.READY)
        if (
            state in _RUNNING_STATES
            and node_id not in self._stop_requested
            and not power.in_transition(self.family, node)
        ):
            self._stop_when_built(node)
        return self._guest(node, model.GuestState.BUILDING)

    def _stop_when_built(self, node: Any) -> None:
        """Power a built node off once, so that its first real boot is the lab's.

        Another poller may have sent the stop first: "already stopping" is done. Any other
        failure but a permanent one leaves the node building for the next poll to try
        again, instead of failing the look at every other guest.
        """
        node_id = str(node.id)
        try:
            self._power("stop", node, "stop the built node", node_id)
        except errors.PermanentError:
            raise
        except errors.ProviderError as exc:
            log.info(
                "%s: stopping built node %s failed, next poll retries: %s",
                self.settings.name,
                node_id,
                exc,
            )
            return
        self._stop_requested.add(node_id)

    def list_guests(self, prefix: str) -> Sequence[model.Guest]:
        return [
            self._guest(node, None)
            for node in self._nodes()
            if str(node.name or "").startswith(prefix)
            and _state(node) not in _GONE_STATES
            and model.LABEL_POOL in _labels(node)
        ]

    def _guest(
        self,
        node: Any,
        state: model.GuestState | None,
        *,
        labels: Mapping[str, str] | None = None,
        fault: str | None = None,
    ) -> model.Guest:
        if state is None:
            state = _plain_state(_state(node))
        return model.Guest(
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

    def start_guest(self, guest_id: str, boot: model.BootRequest | None = None) -> None:
        if isinstance(boot, model.KernelBoot):
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
        self._power("start", node, "start node", guest_id)

    def stop_guest(self, guest_id: str) -> None:
        node = self._existing(guest_id)
        if _state(node) in _STOPPED_STATES:
            return
        self._power("stop", node, "stop node", guest_id)

    def _power(self, wanted: power.Action, node: Any, action: str, guest_id: str) -> None:
        with self._call(action, guest_id):
            try:
                done = getattr(self._node_driver(), f"{wanted}_node")(node)
            except Exception as exc:
                if power.already_done(self.family, wanted, exc):
                    return  # another caller got there first: the node is (getting) there
                raise
        if done is False:
            raise errors.TransientError(
                f"{action}: the service did not accept it",
                provider=self.settings.name,
                guest_id=guest_id,
            )

    def destroy_guest(self, guest_id: str) -> None:
        self._ended.add(guest_id)
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

    def console_output(self, guest_id: str) -> model.ConsoleOutput:
        driver = self._node_driver()
        if not hasattr(driver, "ex_get_console_output"):
            return model.ConsoleOutput(text="", unavailable=_NO_CONSOLE)
        node = self._existing(guest_id)
        with self._call("read the console output", guest_id):
            output = driver.ex_get_console_output(node)
        text = output.get("output") if isinstance(output, dict) else output
        return model.ConsoleOutput(text=str(text or ""))

    # -- what guests leave behind (for sweepers) --------------------------------------------

    def list_resources(self, prefix: str) -> Sequence[model.OwnedResource]:
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
            model.OwnedResource(
                provider=self.settings.name, kind="keypair", id=name, name=name, guest=name
            )
            for name in names
            if name.startswith(prefix)
        ]

    def destroy_resource(self, resource: model.OwnedResource) -> None:
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


def _plain_state(state: str) -> model.GuestState:
    """A node's state when this process has no flow in progress for it (listing)."""
    if state in _RUNNING_STATES:
        return model.GuestState.RUNNING
    if state in _STOPPED_STATES:
        return model.GuestState.STOPPED
    if state == "error":
        return model.GuestState.ERROR
    return model.GuestState.BUILDING


def _labels(node: Any) -> dict[str, str]:
    extra = node.extra or {}
    mappings: list[dict[Any, Any]] = [
        extra[key] for key in _LABEL_EXTRAS if isinstance(extra.get(key), dict)
    ]
    chosen = next((m for m in mappings if model.LABEL_POOL in m), mappings[0] if mappings else {})
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
                if model.MAC_ADDRESS.match(mac):
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
