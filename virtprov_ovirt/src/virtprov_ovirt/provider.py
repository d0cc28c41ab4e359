"""The oVirt / RHV provider: Engine API v4 through ``ovirtsdk4``.

What Beaker's oVirt integration did, plus what its documentation promised and its code
never did: a capacity check before creating, and no half-made VM left behind.

* A guest is a VM made from the ``Blank`` template (configurable) with a virtio NIC on
  the configured vNIC profile (MAC from the engine's pool, read back) and a bootable
  thin COW disk on a data storage domain of the mapped data center; boot order
  network, then disk. Ownership labels travel in the VM's description.
* An image-boot guest (:class:`~virtprov.model.ImageBoot`, tmt's) is a VM made from the
  template the image names, with thin copies of its disks named after the guest, a
  cloud-init initialization (the SSH keys, the user data as the custom script, the
  guest's name as host name) that the engine applies at its first start, and a NIC when
  the template has none. It is ``RUNNING`` once its guest agent reports an address.
* ``poll`` makes one ``GET /vms?search=id=… or …&follow=nics,disk_attachments.disk``
  (and ``reported_devices`` for image-boot guests, whose addresses come from there):
  ``image_locked`` or a locked disk is ``BUILDING``; a VM whose disk the engine removed
  (its creation failed) is ``ERROR``; ``down`` with every disk ``ok`` is ``READY`` until
  virtprov has started it, ``STOPPED`` after (``start_guest`` marks the VM's comment
  first: the engine shows no trace of a past run on a VM that is down).
* Capacity comes from the engine: ``max_scheduling_memory`` of the hosts that are up in
  the mapped clusters (the engine already takes the cluster's memory over-commit and the
  running VMs off), minus the memory of this provider's guests that are created but not
  running yet (the engine reserves nothing for a VM that is down), and the available
  space of the active data domains less their critical-space blocker.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Final

import attrs

from virtprov import errors, model
from virtprov.error_mapping import mapping_errors
from virtprov.provider import LazyClient, SettingsProvider
from virtprov.retry_after import retry_after_of
from virtprov.urls import redact_url
from virtprov_ovirt.cloudinit import check_user_data
from virtprov_ovirt.faults import EngineAnswers, Forbidden, NameInUse, is_not_running
from virtprov_ovirt.naming import (
    BOOT_LABEL,
    IMAGE_BOOT,
    STARTED_COMMENT,
    autofs_path,
    created_comment,
    decode_labels,
    encode_labels,
    was_started,
)
from virtprov_ovirt.settings import Settings, read_settings

log = logging.getLogger(__name__)

_UUID: Final = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_SEARCH_SAFE: Final = re.compile(r"^[A-Za-z0-9._-]*$")
#: What the engine allows in a template's name (and nothing its search would read as syntax).
_TEMPLATE_NAME: Final = re.compile(r"^[\w.-]+$")
#: What a template lookup brings along: its disks (the ones a VM gets copies of), its NICs.
_TEMPLATE_FOLLOW: Final = "disk_attachments.disk,nics"
#: The name of a guest's disk, ``<guest>_disk<n>`` (see ``_create_in``).
_DISK_OF: Final = re.compile(r"(.+)_disk[0-9]+")
#: VM states the engine reports while a VM is (going) up.
_RUNNING: Final = frozenset(
    {
        "up",
        "powering_up",
        "powering_down",
        "reboot_in_progress",
        "migrating",
        "wait_for_launch",
        "restoring_state",
        "paused",
        "saving_state",
        "suspended",
    }
)
_BROKEN: Final = frozenset({"unknown", "not_responding"})
#: How many ids one ``poll`` search carries (the engine's search is a URL query).
_POLL_BATCH: Final = 50
_CONSOLE_NOTE: Final = (
    "oVirt's REST API offers no console log; the VM has a serial console: open it from "
    "the engine's VM portal or through its serial console proxy (ssh -t -p 2222 "
    "ovirt-vmconsole@ENGINE), or run virsh console on the host"
)
#: VM statuses the engine's search knows: the names of its VMStatus enum, which are not
#: the API's spellings (``imagelocked``, not ``image_locked``); an unknown one makes the
#: whole search invalid, and the engine answers it with an empty list.
_NOT_RUNNING_SEARCH: Final = "status=down or status=imagelocked"


@attrs.frozen
class HostRoom:
    """A host that is up: memory the scheduler can still give, logical CPUs."""

    name: str
    cluster_id: str
    free_mib: int
    cpus: int


@attrs.frozen
class DomainRoom:
    """An active data storage domain of a mapped data center."""

    id: str
    name: str
    data_center_id: str
    free_bytes: int


@attrs.frozen
class ClusterPlace:
    id: str
    name: str
    data_center_id: str
    data_center: str


@attrs.frozen
class TemplateChoice:
    """The template an image-boot guest is made from, in one data center."""

    id: str
    #: Its disks' ids, bootable first, and their provisioned sizes in bytes.
    disks: tuple[tuple[str, int], ...]
    has_nics: bool


@attrs.frozen
class EngineRoom:
    """What the engine can still take, per host and storage domain."""

    clusters: tuple[ClusterPlace, ...]
    hosts: tuple[HostRoom, ...]
    domains: tuple[DomainRoom, ...]
    #: Memory of this provider's guests that exist but do not run yet, per cluster id.
    pending_mib: Mapping[str, int] = attrs.field(factory=dict)
    #: The data center of every cluster of the mapped data centers (also those not used).
    data_center_of: Mapping[str, str] = attrs.field(factory=dict)

    def capacity(self) -> model.Capacity:
        pending = sum(self.pending_mib.values())
        return model.Capacity(
            instances=None,  # the engine has no instance limit
            vcpus=None,  # nor an aggregate vCPU limit: a VM needs one host with enough CPUs
            ram_mib=max(0, sum(h.free_mib for h in self.hosts) - pending),
            disk_bytes=sum(d.free_bytes for d in self.domains),
        )

    def placements(
        self, ram_mib: int, vcpus: int, disk_bytes: int, storage: Mapping[str, str | None]
    ) -> tuple[list[tuple[ClusterPlace, DomainRoom]], list[str]]:
        """Clusters (with a storage domain) that can take this VM, roomiest first; or why none.

        ``storage`` maps a data-center id to its configured storage-domain name (or None).
        """
        fits: list[tuple[int, ClusterPlace, DomainRoom]] = []
        reasons: list[str] = []
        if not self.clusters:
            return [], ["no cluster in the mapped data centers"]
        for cluster in self.clusters:
            pending = self.pending_mib.get(cluster.id, 0)
            hosts = [h for h in self.hosts if h.cluster_id == cluster.id]
            if not hosts:
                reasons.append(f"cluster {cluster.name}: no host is up")
                continue
            able = [h for h in hosts if h.cpus >= vcpus and h.free_mib - pending >= ram_mib]
            if not able:
                best = max(hosts, key=lambda h: h.free_mib)
                reasons.append(
                    f"cluster {cluster.name}: no host has {ram_mib} MiB and {vcpus} CPUs free "
                    f"(best: {best.name}, {max(0, best.free_mib - pending)} MiB, {best.cpus} CPUs)"
                )
                continue
            wanted = storage.get(cluster.data_center_id)
            domains = [
                d
                for d in self.domains
                if d.data_center_id == cluster.data_center_id and wanted in (None, d.name)
            ]
            roomy = [d for d in domains if d.free_bytes >= disk_bytes]
            if not roomy:
                reasons.append(
                    f"cluster {cluster.name}: no active data domain"
                    + (f" named {wanted}" if wanted else "")
                    + f" has {disk_bytes} bytes free"
                )
                continue
            domain = max(roomy, key=lambda d: d.free_bytes)
            fits.append((max(h.free_mib for h in able) - pending, cluster, domain))
        fits.sort(key=lambda item: -item[0])
        return [(c, d) for _, c, d in fits], reasons


def _connection_class(answers: EngineAnswers) -> type:
    """An ``ovirtsdk4.Connection`` whose SSO login honours the timeout too.

    The SDK sets pycurl's ``TIMEOUT`` on API calls but not on the SSO token request, so a
    silent engine would stall the first call for ever (Beaker's scheduler loop stalled
    on exactly that). The token request is small: urllib with a timeout does it.

    It also tells ``answers`` each answer's HTTP status and ``Retry-After``: for a non-XML
    answer (the front web server's HTML 401 page, a proxy's 502) the SDK raises an error
    without the status, and the status is what tells a refused login from a passing outage.
    """
    import ovirtsdk4

    class Connection(ovirtsdk4.Connection):  # type: ignore[misc]
        def wait(self, context: Any, failed_auth: bool = False) -> Any:
            response = super().wait(context, failed_auth)
            answers.status = getattr(response, "code", None)
            # Header lines; the SDK's own reader cuts an HTTP-date at its first colon.
            answers.retry_after = retry_after_of(getattr(response, "headers", None))
            return response

        def _get_sso_response(self, url: str, params: Any = "") -> Any:
            context = ssl.create_default_context(cafile=self._ca_file)
            if self._insecure:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            data = urllib.parse.urlencode(params).encode()
            request = urllib.request.Request(  # noqa: S310 - the engine URL is configured
                url, data=data, headers={"Accept": "application/json"}, method="POST"
            )
            timeout = self._timeout or None
            try:
                with urllib.request.urlopen(request, timeout=timeout, context=context) as reply:  # noqa: S310
                    body = reply.read()
            except urllib.error.HTTPError as exc:
                body = exc.read()  # the SSO service says why in JSON
                try:
                    return json.loads(body.decode("utf-8"))
                except ValueError:
                    raise ovirtsdk4.Error(
                        f"SSO login failed with HTTP {exc.code}", code=exc.code
                    ) from None
            except TimeoutError:
                raise ovirtsdk4.TimeoutError(f"SSO login timed out after {timeout} s") from None
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise ovirtsdk4.ConnectionError(f"SSO login failed: {reason}") from None
            try:
                return json.loads(body.decode("utf-8"))
            except ValueError:
                raise ovirtsdk4.Error("the SSO service did not answer JSON") from None

    return Connection


class OVirtProvider(SettingsProvider[Settings]):
    """One oVirt engine serving one lab (see ``docs/ovirt.md``)."""

    driver: ClassVar[str] = "ovirt"
    read_settings = staticmethod(read_settings)

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        #: What the connection saw of each thread's last answer, for the error mapping.
        self._answers = EngineAnswers()
        self._connection: LazyClient[Any] = LazyClient(self._connect, lambda conn: conn.close())
        self._vnic_profile_ids: dict[str, str] = {}
        #: Image-boot guests this process has seen: their polls follow reported_devices.
        self._image_boots: set[str] = set()

    def __repr__(self) -> str:
        return f"OVirtProvider({self.settings.name!r}, {redact_url(self.settings.url)!r})"

    # -- plumbing -------------------------------------------------------------------------

    def _connect(self) -> Any:
        try:
            return _connection_class(self._answers)(
                url=self.settings.url,
                username=self.settings.username,
                password=self.settings.password.reveal(),
                ca_file=self.settings.ca_file,
                insecure=self.settings.insecure,
                timeout=max(1, round(self.settings.timeout)),
            )
        except errors.ConfigError:
            raise
        except Exception as exc:  # the SDK checks ca_file here
            raise errors.PermanentError(
                f"cannot set up the engine connection: {exc}", provider=self.settings.name
            ) from None

    def _system(self) -> Any:
        return self._connection.get().system_service()

    @contextlib.contextmanager
    def _call(self, action: str, guest_id: str | None = None) -> Iterator[None]:
        """Turn every SDK or transport failure into virtprov's error tree."""
        import ovirtsdk4

        self._answers.forget()
        with mapping_errors(
            self._answers.map_error,
            provider=self.settings.name,
            action=action,
            guest_id=guest_id,
            catch=(ovirtsdk4.Error, OSError),
        ):
            yield

    def close(self) -> None:
        self._connection.close()

    # -- what it is (info comes from the settings) ------------------------------------------

    def flavors(self) -> Sequence[model.Flavor]:
        """The configured size ladder and the engine's instance types, raised to the floor.

        oVirt has no flavors. Instance types carry no disk, so they get the default disk
        size; every shape gets at least ``default_guest_memory`` and
        ``default_guest_disk_size``. Shapes that end up identical are offered once.
        """
        s = self.settings
        shapes: list[model.Flavor] = [
            model.Flavor(
                id=f"size:{size.name}",
                name=size.name,
                vcpus=size.vcpus,
                ram_mib=max(size.ram_mib, s.min_ram_mib),
                disk_bytes=max(size.disk_bytes, s.min_disk_bytes),
            )
            for size in s.sizes
        ]
        if s.instance_types:
            with self._call("list instance types"):
                types = self._system().instance_types_service().list()
            for it in types:
                topology = it.cpu.topology if it.cpu is not None else None
                vcpus = _cpus(topology) if topology is not None else 1
                shapes.append(
                    model.Flavor(
                        id=f"instance-type:{it.name}",
                        name=it.name,
                        vcpus=vcpus,
                        ram_mib=max((it.memory or 0) // model.MiB, s.min_ram_mib),
                        disk_bytes=s.min_disk_bytes,
                        properties={"ovirt_instance_type": str(it.id)},
                    )
                )
        unique: dict[tuple[int, int, int], model.Flavor] = {}
        for flavor in shapes:
            unique.setdefault((flavor.vcpus, flavor.ram_mib, flavor.disk_bytes), flavor)
        return sorted(unique.values(), key=model.Flavor.sort_key)

    # -- capacity ---------------------------------------------------------------------------

    def room(self) -> EngineRoom:
        """The engine's free room in the mapped data centers, host by host."""
        system = self._system()
        with self._call("read the inventory"):
            data_centers = system.data_centers_service().list()
            wanted = {m.name: m for m in self.settings.data_centers}
            mapped = {dc.id: dc.name for dc in data_centers if dc.name in wanted}
            if not mapped:
                raise errors.PermanentError(
                    f"the engine has no data center named "
                    f"{', '.join(sorted(wanted))} for lab {self.settings.lab}"
                    + (
                        " (derived from the lab name; map one with data_centers)"
                        if self.settings.derived_data_center
                        else ""
                    ),
                    provider=self.settings.name,
                )
            clusters = []
            threads: dict[str, bool] = {}
            data_center_of: dict[str, str] = {}
            for cluster in system.clusters_service().list():
                dc_id = cluster.data_center.id if cluster.data_center is not None else None
                if dc_id is None or dc_id not in mapped:
                    continue
                data_center_of[cluster.id] = dc_id
                only = wanted[mapped[dc_id]].clusters
                if only and cluster.name not in only:
                    continue
                clusters.append(ClusterPlace(cluster.id, cluster.name, dc_id, mapped[dc_id]))
                threads[cluster.id] = bool(cluster.threads_as_cores)
            cluster_ids = {c.id for c in clusters}
            hosts = []
            for host in system.hosts_service().list():
                if _enum(host.status) != "up" or host.cluster is None:
                    continue
                if host.cluster.id not in cluster_ids:
                    continue
                topology = host.cpu.topology if host.cpu is not None else None
                hosts.append(
                    HostRoom(
                        name=host.name,
                        cluster_id=host.cluster.id,
                        free_mib=(host.max_scheduling_memory or 0) // model.MiB,
                        cpus=_cpus(topology, threads.get(host.cluster.id, False)),
                    )
                )
            domains = []
            for dc_id in mapped:
                attached = system.data_centers_service().data_center_service(dc_id)
                for sd in attached.storage_domains_service().list():
                    if _enum(sd.type) != "data" or _enum(sd.status) != "active":
                        continue
                    blocker = (sd.critical_space_action_blocker or 0) * 1024**3
                    free = max(0, (sd.available or 0) - blocker)
                    domains.append(DomainRoom(sd.id, sd.name, dc_id, free))
            pending: dict[str, int] = {}
            for vm in system.vms_service().list(search=_NOT_RUNNING_SEARCH):
                if vm.cluster is None or vm.cluster.id not in cluster_ids:
                    continue
                if model.LABEL_POOL not in decode_labels(vm.description):
                    continue
                pending[vm.cluster.id] = (
                    pending.get(vm.cluster.id, 0) + (vm.memory or 0) // model.MiB
                )
        return EngineRoom(tuple(clusters), tuple(hosts), tuple(domains), pending, data_center_of)

    def capacity(self) -> model.Capacity:
        return self.room().capacity()

    # -- create -----------------------------------------------------------------------------

    def create_guest(self, spec: model.GuestSpec) -> model.Guest:
        boot = spec.boot if isinstance(spec.boot, model.ImageBoot) else None
        ram_mib, disk_bytes = self.settings.floor(spec.flavor)
        vcpus = spec.flavor.vcpus
        labels = {**spec.labels, BOOT_LABEL: IMAGE_BOOT} if boot else dict(spec.labels)
        try:
            description = encode_labels(labels)
            if boot is not None and boot.user_data is not None:
                check_user_data(boot.user_data)  # before any call: the engine cannot tell
        except ValueError as exc:
            raise errors.ProviderError(str(exc), provider=self.settings.name) from None
        room = self.room()
        templates: dict[str, TemplateChoice] = {}
        if boot is not None:
            templates = self._templates(boot.image, room)
            # The VM is made in a data center that has the template, on the template's
            # storage (thin copies of its disks): room for those, not the shape's disk.
            room = attrs.evolve(
                room, clusters=tuple(c for c in room.clusters if c.data_center_id in templates)
            )
            disk_bytes = max(sum(size for _, size in t.disks) for t in templates.values())
        storage = {c.data_center_id: self._storage_for(c.data_center) for c in room.clusters}
        places, reasons = room.placements(ram_mib, vcpus, disk_bytes, storage)
        if not places:
            raise errors.CapacityExhausted(
                f"over capacity for {spec.name} ({vcpus} vCPUs, {ram_mib} MiB, "
                f"{disk_bytes} bytes): " + "; ".join(reasons),
                provider=self.settings.name,
            )
        last: errors.ProviderError | None = None
        for cluster, domain in places:
            try:
                if boot is not None:
                    template = templates[cluster.data_center_id]
                    return self._create_from(spec, boot, cluster, template, ram_mib, description)
                return self._create_in(
                    spec, cluster, domain, ram_mib, vcpus, disk_bytes, description
                )
            except errors.CapacityExhausted as exc:
                log.info(
                    "%s: cluster %s cannot take %s: %s",
                    self.settings.name,
                    cluster.name,
                    spec.name,
                    exc,
                )
                last = exc
        assert last is not None
        raise last

    def _storage_for(self, data_center: str) -> str | None:
        for mapping in self.settings.data_centers:
            if mapping.name == data_center:
                return mapping.storage_domain
        return None

    def _templates(self, image: str, room: EngineRoom) -> dict[str, TemplateChoice]:
        """The template ``image`` names, per mapped data center that has it.

        An id (a UUID) is that template. A name is looked up as the engine does when a VM
        names its template: the newest version of that name in the data center
        (``GetVmTemplateByVmtName``). A missing template fails this launch, not the
        provider (the image is the recipe's, not the configuration's).
        """
        import ovirtsdk4

        service = self._system().templates_service()
        if _UUID.match(image):
            with self._call(f"look up template {image}"):
                try:
                    listed = [service.template_service(image).get(follow=_TEMPLATE_FOLLOW)]
                except ovirtsdk4.NotFoundError:
                    listed = []
        elif _TEMPLATE_NAME.match(image):
            with self._call(f"look up template {image}"):
                found = service.list(search=f"name={image}", follow=_TEMPLATE_FOLLOW)
            listed = [t for t in found if t.name == image]
        else:
            raise errors.ProviderError(
                f"image {image!r} is neither an oVirt template's name (letters, digits, "
                "'.', '_', '-') nor its id",
                provider=self.settings.name,
            )
        # A template's data center: its cluster's, else its disks' storage domains'.
        domains = {d.id: d.data_center_id for d in room.domains}
        chosen: dict[str, tuple[int, Any]] = {}
        for template in listed:
            cluster = template.cluster.id if template.cluster is not None else ""
            places = {room.data_center_of.get(cluster)} | {
                domains.get(sd.id)
                for a in template.disk_attachments or []
                if a.disk is not None
                for sd in a.disk.storage_domains or []
            }
            version = (template.version.version_number if template.version else None) or 0
            for dc in places:
                if dc is not None and (dc not in chosen or chosen[dc][0] < version):
                    chosen[dc] = (version, template)
        names = ", ".join(sorted({c.data_center for c in room.clusters})) or "(none)"
        if not chosen:
            raise errors.ProviderError(
                f"no template {image!r} in data center {names} (an image boot's image is "
                "an oVirt template, by name or id)",
                provider=self.settings.name,
            )
        result = {}
        for dc, (_, template) in chosen.items():
            attachments = sorted(
                (a for a in (template.disk_attachments or []) if a.disk is not None),
                key=lambda a: not a.bootable,
            )
            if not attachments:
                raise errors.ProviderError(
                    f"template {image!r} has no disk to boot from", provider=self.settings.name
                )
            result[dc] = TemplateChoice(
                id=str(template.id),
                disks=tuple(
                    (str(a.disk.id), int(a.disk.provisioned_size or 0)) for a in attachments
                ),
                has_nics=bool(template.nics),
            )
        return result

    def _add_vm(self, vm_spec: Any, spec: model.GuestSpec, cluster: ClusterPlace) -> Any:
        """``POST /vms``; a VM of that name that is this guest's leftover is replaced."""
        vms = self._system().vms_service()
        try:
            with self._call(f"create VM {spec.name} in cluster {cluster.name}"):
                return vms.add(vm_spec)
        except NameInUse:
            self._reclaim_name(spec)
            with self._call(f"create VM {spec.name} in cluster {cluster.name}"):
                return vms.add(vm_spec)

    def _create_from(
        self,
        spec: model.GuestSpec,
        boot: model.ImageBoot,
        cluster: ClusterPlace,
        template: TemplateChoice,
        ram_mib: int,
        description: str,
    ) -> model.Guest:
        """An image-boot VM: the template's disks (thin copies), cloud-init, a NIC."""
        from ovirtsdk4 import types

        memory = ram_mib * model.MiB
        vcpus = spec.flavor.vcpus
        initialization = types.Initialization(
            host_name=spec.name,
            # The engine gives them to cloud-init as the image's default user's keys.
            authorized_ssh_keys="\n".join(boot.ssh_public_keys) or None,
            # Appended by the engine to the #cloud-config it writes (checked above).
            custom_script=boot.user_data,
        )
        vm_spec = types.Vm(
            name=spec.name,
            description=description,
            comment=created_comment(spec.labels.get("virtprov-recipe", spec.name)),
            cluster=types.Cluster(id=cluster.id),
            template=types.Template(id=template.id),
            type=types.VmType.SERVER,
            memory=memory,
            memory_policy=types.MemoryPolicy(guaranteed=memory, max=memory),
            cpu=types.Cpu(topology=types.CpuTopology(sockets=vcpus, cores=1, threads=1)),
            console=types.Console(enabled=True),
            # Named after the guest, as a netboot guest's disk: a disk its VM's removal
            # leaves behind is found by that name (list_resources).
            disk_attachments=[
                types.DiskAttachment(disk=types.Disk(id=disk_id, name=f"{spec.name}_disk{n}"))
                for n, (disk_id, _) in enumerate(template.disks)
            ],
            initialization=initialization,
        )
        vm = self._add_vm(vm_spec, spec, cluster)
        vm_id = vm.id
        macs: tuple[str, ...] = ()
        if not template.has_nics:
            try:
                profile_id = self._vnic_profile_id(cluster.data_center_id)
                with self._call(f"add a NIC to {spec.name}", vm_id):
                    nic = (
                        self._system()
                        .vms_service()
                        .vm_service(vm_id)
                        .nics_service()
                        .add(
                            types.Nic(
                                name="nic1",
                                interface=types.NicInterface.VIRTIO,
                                vnic_profile=types.VnicProfile(id=profile_id),
                            )
                        )
                    )
            except BaseException as exc:
                self._remove_half_made(vm_id, spec.name, exc)
                raise
            if nic.mac is not None and nic.mac.address:
                macs = (nic.mac.address.lower(),)
        self._image_boots.add(vm_id)
        return model.Guest(
            provider=self.settings.name,
            id=vm_id,
            name=spec.name,
            state=model.GuestState.BUILDING,
            macs=macs,
            labels=decode_labels(description),
            flavor_id=spec.flavor.id,
            created_at=_utc(vm.creation_time),
        )

    def _create_in(
        self,
        spec: model.GuestSpec,
        cluster: ClusterPlace,
        domain: DomainRoom,
        ram_mib: int,
        vcpus: int,
        disk_bytes: int,
        description: str,
    ) -> model.Guest:
        from ovirtsdk4 import types

        vms = self._system().vms_service()
        memory = ram_mib * model.MiB
        vm_spec = types.Vm(
            name=spec.name,
            description=description,
            comment=created_comment(spec.labels.get("virtprov-recipe", spec.name)),
            cluster=types.Cluster(id=cluster.id),
            template=types.Template(name=self.settings.template),
            type=types.VmType.SERVER,
            memory=memory,
            # The whole memory guaranteed: the scheduler reserves what the guest gets.
            memory_policy=types.MemoryPolicy(guaranteed=memory, max=memory),
            cpu=types.Cpu(topology=types.CpuTopology(sockets=vcpus, cores=1, threads=1)),
            os=types.OperatingSystem(
                boot=types.Boot(devices=[types.BootDevice.NETWORK, types.BootDevice.HD])
            ),
            # A serial console, so that an installation can be watched (console_output).
            console=types.Console(enabled=True),
        )
        vm = self._add_vm(vm_spec, spec, cluster)
        vm_id = vm.id
        try:
            vm_service = vms.vm_service(vm_id)
            profile_id = self._vnic_profile_id(cluster.data_center_id)
            with self._call(f"add a NIC to {spec.name}", vm_id):
                nic = vm_service.nics_service().add(
                    types.Nic(
                        name="nic1",
                        interface=types.NicInterface.VIRTIO,
                        vnic_profile=types.VnicProfile(id=profile_id),
                    )
                )
            with self._call(f"add a disk to {spec.name} on {domain.name}", vm_id):
                vm_service.disk_attachments_service().add(
                    types.DiskAttachment(
                        disk=types.Disk(
                            name=f"{spec.name}_disk0",
                            description=description,
                            format=types.DiskFormat.COW,
                            sparse=True,
                            provisioned_size=disk_bytes,
                            storage_domains=[types.StorageDomain(id=domain.id)],
                        ),
                        interface=types.DiskInterface.VIRTIO,
                        bootable=True,
                        active=True,
                    )
                )
        except BaseException as exc:
            self._remove_half_made(vm_id, spec.name, exc)
            raise
        mac = nic.mac.address if nic is not None and nic.mac is not None else None
        return model.Guest(
            provider=self.settings.name,
            id=vm_id,
            name=spec.name,
            state=model.GuestState.BUILDING,
            macs=(mac.lower(),) if mac else (),
            labels=spec.labels,
            flavor_id=spec.flavor.id,
            created_at=_utc(vm.creation_time),
        )

    def _reclaim_name(self, spec: model.GuestSpec) -> None:
        """A VM already has the name: remove it only if it is this very guest's leftover."""
        with self._call(f"look up the VM named {spec.name}"):
            existing = self._system().vms_service().list(search=f"name={spec.name}")
        for vm in existing:
            if vm.name != spec.name:
                continue
            labels = decode_labels(vm.description)
            if labels and all(labels.get(k) == v for k, v in spec.labels.items()):
                log.warning(
                    "%s: removing %s (%s), left over from an earlier attempt at this guest",
                    self.settings.name,
                    spec.name,
                    vm.id,
                )
                self.destroy_guest(vm.id)
                return
        raise errors.ProviderError(
            f"a VM named {spec.name} already exists and does not belong to this guest; "
            "it was left alone",
            provider=self.settings.name,
        )

    def _remove_half_made(self, vm_id: str, name: str, cause: BaseException) -> None:
        try:
            self.destroy_guest(vm_id)
        except errors.ProviderError as exc:
            # Say it loudly: Beaker leaked half-made VMs silently.
            log.error(
                "%s: LEAKED VM %s (%s) after a failed create (%s); removing it failed: %s",
                self.settings.name,
                name,
                vm_id,
                cause,
                exc,
            )

    def _vnic_profile_id(self, data_center_id: str) -> str:
        cached = self._vnic_profile_ids.get(data_center_id)
        if cached:
            return cached
        system = self._system()
        wanted = self.settings.vnic_profile
        with self._call(f"find vNIC profile {wanted}"):
            profiles = [p for p in system.vnic_profiles_service().list() if p.name == wanted]
            networks = {}
            if len(profiles) > 1 or self.settings.network:
                networks = {n.id: n for n in system.networks_service().list()}
        chosen = []
        for profile in profiles:
            network = networks.get(profile.network.id) if profile.network is not None else None
            if network is not None:
                if self.settings.network and network.name != self.settings.network:
                    continue
                dc = network.data_center
                if dc is not None and dc.id != data_center_id:
                    continue
            chosen.append(profile)
        if not chosen:
            raise errors.PermanentError(
                f"no vNIC profile named {wanted}"
                + (f" on network {self.settings.network}" if self.settings.network else "")
                + " in the data center (set vnic_profile / network)",
                provider=self.settings.name,
            )
        self._vnic_profile_ids[data_center_id] = chosen[0].id
        return str(chosen[0].id)

    # -- looking -----------------------------------------------------------------------------

    def poll(self, guest_ids: Sequence[str]) -> Mapping[str, model.Guest]:
        ids = [i for i in dict.fromkeys(guest_ids) if _UUID.match(i)]
        found: dict[str, model.Guest] = {}
        vms = self._system().vms_service()
        for start in range(0, len(ids), _POLL_BATCH):
            batch = ids[start : start + _POLL_BATCH]
            search = " or ".join(f"id={i}" for i in batch)
            # The addresses of image-boot guests are what their guest agent reports:
            # followed in the same search for the ones this process knows of.
            known = any(i in self._image_boots for i in batch)
            follow = "nics,disk_attachments.disk" + (",reported_devices" if known else "")
            with self._call("poll VMs"):
                listed = [vm for vm in vms.list(search=search, follow=follow) if vm.id in batch]
            addresses = {vm.id: _addresses(vm) for vm in listed if known}
            # Image-boot guests first seen here (a new process) that run: one more search.
            unseen = [
                vm.id
                for vm in listed
                if _is_image_boot(vm)
                and vm.id not in self._image_boots
                and _enum(vm.status) in _RUNNING
            ]
            self._image_boots.update(vm.id for vm in listed if _is_image_boot(vm))
            if unseen:
                search = " or ".join(f"id={i}" for i in unseen)
                with self._call("read the addresses of VMs"):
                    reported = vms.list(search=search, follow="reported_devices")
                addresses.update({vm.id: _addresses(vm) for vm in reported if vm.id in unseen})
            for vm in listed:
                found[vm.id] = self._guest(vm, addresses.get(vm.id, ()))
        self._image_boots.difference_update(set(ids) - set(found))
        return found

    def list_guests(self, prefix: str) -> Sequence[model.Guest]:
        if not _SEARCH_SAFE.match(prefix):
            raise ValueError(f"a guest name prefix is letters, digits, '.', '_', '-': {prefix!r}")
        with self._call(f"list VMs named {prefix}*"):
            listed = (
                self._system()
                .vms_service()
                .list(search=f"name={prefix}*", follow="nics,disk_attachments.disk")
            )
        return [
            self._guest(vm)
            for vm in listed
            if vm.name.startswith(prefix) and model.LABEL_POOL in decode_labels(vm.description)
        ]

    def _guest(self, vm: Any, addresses: tuple[str, ...] = ()) -> model.Guest:
        status = _enum(vm.status)
        disks = [a.disk for a in (vm.disk_attachments or []) if a.disk is not None]
        disk_states = {_enum(d.status) for d in disks}
        fault = None
        if status in _BROKEN:
            state, fault = model.GuestState.ERROR, f"the engine reports the VM {status}"
        elif "illegal" in disk_states:
            state, fault = model.GuestState.ERROR, "a disk of the VM is illegal"
        elif status in _RUNNING:
            state = model.GuestState.RUNNING
        elif not disks:
            # create_guest returns once the disk is attached, so a guest without one
            # lost it: the engine removes a disk whose creation failed (image, disk and
            # attachment), or the create never got that far.
            state = model.GuestState.ERROR
            fault = "the VM has no disk: the engine's creation of it failed (see its events)"
        elif status == "image_locked" or "locked" in disk_states:
            state = model.GuestState.BUILDING
        elif status == "down":
            state = model.GuestState.STOPPED if was_started(vm.comment) else model.GuestState.READY
        else:
            state = model.GuestState.BUILDING
        macs = tuple(
            nic.mac.address.lower()
            for nic in (vm.nics or [])
            if nic.mac is not None and nic.mac.address
        )
        return model.Guest(
            provider=self.settings.name,
            id=vm.id,
            name=vm.name,
            state=state,
            macs=macs,
            addresses=addresses if state is model.GuestState.RUNNING else (),
            labels=decode_labels(vm.description),
            created_at=_utc(vm.creation_time),
            fault=fault,
        )

    # -- power ---------------------------------------------------------------------------------

    def start_guest(self, guest_id: str, boot: model.BootRequest | None = None) -> None:
        from ovirtsdk4 import types

        vm_service = self._vm_service(guest_id)
        run_once = None
        if isinstance(boot, model.KernelBoot):
            try:
                kernel, initrd = autofs_path(boot.kernel), autofs_path(boot.initrd)
            except ValueError as exc:
                raise errors.ProviderError(
                    str(exc), provider=self.settings.name, guest_id=guest_id
                ) from None
            run_once = types.Vm(
                os=types.OperatingSystem(kernel=kernel, initrd=initrd, cmdline=boot.cmdline)
            )
        with self._vm_gone_or_forbidden(vm_service, guest_id):
            # Marked before the start: a guest that may have run never reads ready again
            # (a refused start leaves it stopped, which the pool starts just the same).
            with self._call("mark VM as started", guest_id):
                vm_service.update(types.Vm(comment=STARTED_COMMENT))
            if run_once is not None:
                with self._call("start VM with direct kernel boot", guest_id):
                    # A run-once start: kernel, initrd and command line apply to this run
                    # only; the engine restarts the VM from its stored configuration
                    # (network, then disk) when the installer reboots it.
                    vm_service.start(vm=run_once, volatile=True)
                return
            with self._call("start VM", guest_id):
                vm_service.start()

    def stop_guest(self, guest_id: str) -> None:
        import ovirtsdk4

        vm_service = self._vm_service(guest_id)
        with self._vm_gone_or_forbidden(vm_service, guest_id), self._call("stop VM", guest_id):
            try:
                vm_service.stop()  # a VM that is down is stopped with success
            except ovirtsdk4.Error as exc:
                if getattr(exc, "code", None) == 409 and is_not_running(exc):
                    return  # not running (image_locked): there is nothing to stop
                raise

    @contextlib.contextmanager
    def _vm_gone_or_forbidden(self, vm_service: Any, guest_id: str) -> Iterator[None]:
        """A 403 on an action: ``GuestNotFound`` if the VM is gone, else the 403.

        The engine checks a user's permissions on the VM before the command looks for it,
        so a user without a system-wide role is refused an action on a VM that does not
        exist with 403, where an administrator gets 400 "VM is not found".
        """
        try:
            yield
        except Forbidden:
            try:
                with self._call("look up VM", guest_id):
                    vm_service.get()
            except errors.GuestNotFound:
                raise errors.GuestNotFound(
                    "no such VM (the engine refused the action with 403 and does not know the VM)",
                    provider=self.settings.name,
                    guest_id=guest_id,
                ) from None
            except errors.ProviderError:
                pass  # cannot tell: the refusal stands
            raise

    def destroy_guest(self, guest_id: str) -> None:
        """Stop (errors ignored, as Beaker did) and remove with its disks; idempotent."""
        import ovirtsdk4

        if not _UUID.match(guest_id):
            return  # no engine id looks like this: nothing to remove
        vm_service = self._vm_service(guest_id)
        self._image_boots.discard(guest_id)
        try:
            with self._call("look up VM", guest_id):
                vm = vm_service.get()
        except errors.GuestNotFound:
            return
        if _enum(vm.status) != "down":
            with contextlib.suppress(ovirtsdk4.Error):
                vm_service.stop()
        deadline = time.monotonic() + self.settings.destroy_timeout
        while True:
            try:
                with self._call("remove VM", guest_id):
                    vm_service.remove(detach_only=False)
                return
            except errors.GuestNotFound:
                return
            except errors.ProviderError as exc:
                # Still powering down, or locked by a task: wait for it, within bounds.
                retry = type(exc) in (errors.ProviderError, errors.TransientError)
                if not retry or time.monotonic() >= deadline:
                    raise
                log.info("%s: VM %s not removable yet: %s", self.settings.name, guest_id, exc)
                time.sleep(self.settings.poll_interval)

    def _vm_service(self, guest_id: str) -> Any:
        if not _UUID.match(guest_id):
            raise errors.GuestNotFound(
                f"{guest_id!r} is not an engine VM id",
                provider=self.settings.name,
                guest_id=guest_id,
            )
        return self._system().vms_service().vm_service(guest_id)

    def console_output(self, guest_id: str) -> model.ConsoleOutput:
        return model.ConsoleOutput(text="", unavailable=_CONSOLE_NOTE)

    # -- what guests leave behind (for sweepers) ----------------------------------------------

    def list_resources(self, prefix: str) -> Sequence[model.OwnedResource]:
        """Disks of guests named ``prefix*`` that no VM uses any more.

        A guest's disk goes with its VM (``remove`` with ``detach_only=false``) unless
        the engine fails to remove the image: the VM is gone and the disk stays, floating.
        One search finds those: ``alias`` (the disk's name, ``<guest>_disk0``) and
        ``number_of_vms=0`` (the engine's disk search, DiskConditionFieldAutoCompleter);
        the labels are in the disk's description. An image-boot guest's disks are copies
        of its template's, whose description they keep: they are listed without labels,
        named after their guest (the sweeper then goes by its journal). NICs belong to
        their VM and go with it.
        """
        if not _SEARCH_SAFE.match(prefix):
            raise ValueError(f"a guest name prefix is letters, digits, '.', '_', '-': {prefix!r}")
        with self._call(f"list unattached disks named {prefix}*"):
            disks = (
                self._system().disks_service().list(search=f"alias={prefix}* and number_of_vms=0")
            )
        found = []
        for disk in disks:
            name = str(disk.name or disk.alias or "")
            owner = _DISK_OF.fullmatch(name)
            labels = decode_labels(disk.description)
            if owner is None or not owner[1].startswith(prefix):
                continue
            if labels and model.LABEL_POOL not in labels:
                continue  # labelled by virtprov, but for no pool: not a guest's
            found.append(
                model.OwnedResource(
                    provider=self.settings.name,
                    kind="disk",
                    id=str(disk.id),
                    name=name,
                    guest=owner[1],
                    labels=labels,
                )
            )
        return found

    def destroy_resource(self, resource: model.OwnedResource) -> None:
        if resource.kind != "disk" or not _UUID.match(resource.id):
            raise errors.ProviderError(
                f"no such resource: {resource.kind} {resource.id!r}", provider=self.settings.name
            )
        service = self._system().disks_service().disk_service(resource.id)
        with (
            contextlib.suppress(errors.GuestNotFound),
            self._call(f"remove disk {resource.name}", resource.id),
        ):
            service.remove()  # a 404 (gone already) maps to GuestNotFound: done


def _is_image_boot(vm: Any) -> bool:
    return decode_labels(vm.description).get(BOOT_LABEL) == IMAGE_BOOT


def _addresses(vm: Any) -> tuple[str, ...]:
    """The addresses the VM's guest agent reports, IPv4 first, without link-local ones."""
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for device in vm.reported_devices or []:
        if _enum(device.type) not in (None, "network"):
            continue
        for ip in device.ips or []:
            try:
                address = ipaddress.ip_address(str(ip.address))
            except ValueError:
                continue
            if not (address.is_link_local or address.is_loopback or address.is_unspecified):
                found.append(address)
    found.sort(key=lambda a: a.version)
    return tuple(dict.fromkeys(str(a) for a in found))


def _enum(value: Any) -> str | None:
    """An SDK enum member (or ``None``) as its API string."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _cpus(topology: Any, threads_as_cores: bool = False) -> int:
    sockets = topology.sockets or 1
    cores = topology.cores or 1
    threads = (topology.threads or 1) if threads_as_cores else 1
    return int(sockets * cores * threads)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    from datetime import UTC

    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
