"""A loopback imitation of an oVirt engine (API v4), used only to compose cassettes.

No live engine was available to this project, so the lifecycle cassettes under
``cassettes/ovirt/`` are recorded through the replay server (``--record-mode``) with this
imitation as the "live" engine (see ``cassettes/README.md``). It is a test helper, not a
fake provider: the provider under test talks real HTTP to it through the SDK, exactly as
it would to an engine, and every behaviour below follows the engine's own source,
oVirt/ovirt-engine at commit ``0111fc63036bca662aa6275a8ad16282cccf86bf`` (``restapi/``
below is ``backend/manager/modules/restapi/jaxrs/src/main/java/org/ovirt/engine/api/
restapi/``, ``bll/`` is ``backend/manager/modules/bll/src/main/java/org/ovirt/engine/core/
bll/``), each with the file it follows:

* the inventory (``datacenters``, ``clusters``, ``hosts``, ``vnicprofiles``,
  ``networks``, ``datacenters/{id}/storagedomains``, the VMs and the templates already
  there, with the templates' disks): verbatim bodies of a real RHV 4.3 engine recorded by
  ManageIQ's test suite (``data/``);
* the VMs it creates, their NICs and disks: XML in the shape and order of those real
  bodies; the stock instance types as the engine's database seeds them;
* the disk collection (``GET /disks?search=…``, ``DELETE /disks/{id}``): the disks of the
  VMs it made and those no VM uses, in the elements and order of a real RHV 4.3
  ``GET /disks``;
* VMs made from a template with disks (thin copies, made by storage tasks), with the
  cloud-init initialization they were given, and the addresses a guest agent reports
  once such a VM runs (``reported_devices``, in the shape of a real RHV 4.3 answer);
* searches as the engine's search backend parses them (``engine_search.py``);
* refusals as the engine renders them, texts from its catalogue (``engine_messages.py``);
* the SSO token endpoint as the SDK's own test server answers it.

The engine's monitoring moves VMs and disks on in the background; here a change takes
one step per request that names the VM (its URL, or an ``id=``/``name=`` search that
finds it): a look right after a change still sees it under way (a disk ``locked``, a VM
``powering_up``/``powering_down``), the next one sees it done.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import http.server
import itertools
import json
import re
import threading
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine_messages import Refusal, document
from engine_search import (
    InvalidSearch,
    compile_disk_search,
    compile_search,
    compile_template_search,
)

DATA = Path(__file__).parent / "data"
API = "/ovirt-engine/api"
#: oVirt's default MAC pool range starts at 56:6f.
MAC_PREFIX = "56:6f:1a:2b"
#: The imitation's clock: every event one second later, so that recordings repeat.
EPOCH = datetime.datetime(2026, 11, 22, 10, 0, tzinfo=datetime.UTC)
BLANK = "00000000-0000-0000-0000-000000000000"
XML = "application/xml"
#: VMStatus.isNotRunning (common/.../businessentities/VMStatus.java), API spelling: the
#: statuses in which VmMapper emits no start_time, run_once nor host.
NOT_RUNNING = frozenset({"down", "suspended", "image_locked", "image_illegal"})
#: StopVmCommandBase.validate: the statuses a VM can be stopped from (isRunning, paused,
#: not responding, suspended).
STOPPABLE = frozenset(
    {
        "up",
        "powering_up",
        "powering_down",
        "wait_for_launch",
        "reboot_in_progress",
        "migrating",
        "saving_state",
        "restoring_state",
        "paused",
        "not_responding",
        "suspended",
    }
)
#: RemoveVmCommand.validate: the statuses a VM can be removed in.
REMOVABLE = frozenset({"unassigned", "down", "image_illegal", "image_locked"})


@dataclass
class Disk:
    id: str
    name: str
    size: int
    domain: str
    #: What looks see, one step per look: the head now; "gone" removes the disk.
    steps: list[str]
    description: str = ""


@dataclass
class Nic:
    id: str
    name: str
    mac: str
    profile: str


@dataclass
class Vm:
    id: str
    name: str
    description: str
    comment: str
    memory: int
    sockets: int
    cluster: str
    console: bool
    created: str
    stop_time: str
    #: What looks see, one step per look: the head now.
    steps: list[str] = field(default_factory=lambda: ["down"])
    start_time: str | None = None
    run_once: bool = False
    nics: list[Nic] = field(default_factory=list)
    disks: list[Disk] = field(default_factory=list)
    template: str = BLANK
    boot: tuple[str, ...] = ("network", "hd")
    #: The cloud-init initialization it was given (API names -> values), if any.
    initialization: dict[str, str] | None = None
    #: Looks at it while up: its guest agent reports its addresses from the second on.
    up_looks: int = 0

    @property
    def status(self) -> str:
        return self.steps[0]


class Imitation:
    """The engine's state: the real inventory plus the VMs created through it.

    ``disk_looks``: how many looks after its creation still find a new disk locked.
    ``system_permissions``: False imitates a user with no system-wide role, whom the engine
    refuses an action on an unknown VM with 403 (its permission check on the VM fails
    before the command looks for it: ``bll/CommandBase.java`` ``internalValidate``).
    """

    def __init__(
        self,
        inventory: str = "rhv43-refresh",
        *,
        disk_looks: int = 1,
        system_permissions: bool = True,
    ) -> None:
        self.dir = DATA / inventory
        self.vms: dict[str, Vm] = {}
        self.disk_looks = disk_looks
        self.system_permissions = system_permissions
        #: How many of the next disks fail asynchronously.
        self.failing_disks = 0
        #: How many of the next VM removals fail to remove their disks' images.
        self.failing_image_removals = 0
        #: Disks attached to no VM, by id.
        self.floating: dict[str, Disk] = {}
        self._ids = (str(uuid.UUID(int=0x5E7A0000 << 96 | n)) for n in itertools.count(1))
        self._macs = (f"{MAC_PREFIX}:{n >> 8:02x}:{n & 0xFF:02x}" for n in itertools.count(1))
        self._clock = itertools.count(1)
        #: (method, path regex) -> answers given once each, before anything else.
        self._injected: dict[tuple[str, str], list[Injected | Refusal]] = {}
        self.lock = threading.Lock()
        self.password = "imitation-password"
        self._real_vms = ET.parse(self.dir / "vms.xml").getroot()
        self._hosts = ET.parse(self.dir / "hosts.xml").getroot()
        templates = self.dir / "templates.xml"
        self._templates = ET.parse(templates).getroot() if templates.exists() else None
        #: cluster id -> data center id; data center id -> name.
        self._cluster_dc = {
            c.get("id", ""): dc.get("id", "")
            for c in ET.parse(self.dir / "clusters.xml").getroot().findall("cluster")
            if (dc := c.find("data_center")) is not None
        }
        self._dc_names = {
            dc.get("id", ""): dc.findtext("name") or ""
            for dc in ET.parse(self.dir / "datacenters.xml").getroot().findall("data_center")
        }

    # -- what a test asks of it --------------------------------------------------------

    def inject(
        self, method: str, path: str, status: int, body: str, headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next ``method path`` (a regex) with this raw answer (and headers)."""
        self._injected.setdefault((method, path), []).append(Injected(status, body, headers or {}))

    def refuse(self, method: str, path: str, refusal: Refusal) -> None:
        """Refuse the next ``method path`` (a regex) as the engine's command would."""
        self._injected.setdefault((method, path), []).append(refusal)

    def fail_disks(self, count: int = 1) -> None:
        """The next ``count`` disks are accepted, then fail while the engine creates them.

        AddImageFromScratchCommand.endWithFailure (``bll/storage/disk/image/``) removes the
        failed image and, with it, the disk and its attachment to the VM.
        """
        self.failing_disks += count

    def fail_image_removals(self, count: int = 1) -> None:
        """The next ``count`` VM removals remove the VM and fail to remove its disks.

        RemoveVmCommand.removeVm (``bll/``) removes the VM from the database first, then
        its images (RemoveAllVmImagesCommand, ``bll/storage/disk/image/``); an image whose
        removal fails is set illegal and stays, with its disk, attached to nothing.
        """
        self.failing_image_removals += count

    def float_disk(self, name: str, description: str) -> str:
        """A disk already on the engine that no VM uses (another pool's, one made by hand)."""
        disk = Disk(next(self._ids), name, 20 * 1024**3, FLOATING_DOMAIN, ["ok"], description)
        self.floating[disk.id] = disk
        return disk.id

    # -- answers ---------------------------------------------------------------------

    def answer(
        self, method: str, target: str, body: bytes, base: str
    ) -> tuple[int, dict[str, str], str]:
        """(status, headers, body) for one request; ``base`` is the URL the client used."""
        parts = urllib.parse.urlsplit(target)
        path, query = parts.path, dict(urllib.parse.parse_qsl(parts.query))
        with self.lock:
            named = re.fullmatch(rf"{API}/vms/([^/]+)(/.*)?", path)
            vm = self.vms.get(named.group(1)) if named else None
            if vm is not None:
                self._advance(vm)
            injected = self._take_injected(method, path)
            if injected is not None:
                return self._injected_answer(injected, path, body)
            if path == "/ovirt-engine/sso/oauth/token":
                status, text = self._token(body)
                return status, {"Content-Type": "application/json"}, text
            if not path.startswith(API):
                return 404, {"Content-Type": "text/html"}, "<html><body>Not Found</body></html>"
            return self._api(method, path[len(API) :].strip("/"), query, body, base)

    def _take_injected(self, method: str, path: str) -> Injected | Refusal | None:
        for (m, pattern), queue in self._injected.items():
            if m == method and re.fullmatch(pattern, path) and queue:
                return queue.pop(0)
        return None

    def _injected_answer(
        self, injected: Injected | Refusal, path: str, body: bytes
    ) -> tuple[int, dict[str, str], str]:
        if isinstance(injected, Refusal):
            text = injected.action_xml(body) if _is_action(path) else injected.fault_xml()
            return injected.status, {"Content-Type": XML}, text
        text = injected.body
        kind = (
            "application/json"
            if text.startswith("{")
            else "text/html; charset=iso-8859-1"
            if text.lstrip().lower().startswith(("<html", "<!doctype"))
            else XML
        )
        return injected.status, {"Content-Type": kind, **injected.headers}, text

    def _token(self, body: bytes) -> tuple[int, str]:
        form = dict(urllib.parse.parse_qsl(body.decode()))
        if form.get("password") != self.password:
            return 401, json.dumps(
                {
                    "error": "access_denied",
                    "error_description": f"Cannot authenticate user "
                    f"'{form.get('username')}': The username or password is incorrect..",
                }
            )
        token = {
            "access_token": "imitation-token",
            "scope": "ovirt-app-api",
            "exp": "4102444800000",
        }
        return 200, json.dumps({**token, "token_type": "bearer"})

    def _api(
        self, method: str, path: str, query: dict[str, str], body: bytes, base: str
    ) -> tuple[int, dict[str, str], str]:
        parts = path.split("/")
        inventory = ("datacenters", "clusters", "hosts", "vnicprofiles", "networks")
        if method == "GET" and path in inventory:
            return _xml(200, (self.dir / f"{path}.xml").read_text())
        if method == "GET" and len(parts) == 3 and parts[0] == "datacenters":
            file = self.dir / f"datacenters_{parts[1]}_storagedomains.xml"
            return _xml(200, file.read_text()) if file.exists() else _empty(404)
        if method == "GET" and path == "instancetypes":
            return _xml(200, _instance_types())
        if parts[0] == "disks":
            return self._disks(method, parts, query)
        if parts[0] == "templates" and method == "GET" and len(parts) <= 2:
            return self._get_templates(parts, query)
        if parts[0] != "vms":
            return _empty(404)
        if method == "GET" and path == "vms":
            return _xml(200, self._search(query))
        if method == "POST" and path == "vms":
            return self._add_vm(body, base)
        vm = self.vms.get(parts[1]) if len(parts) > 1 else None
        if vm is None:
            return self._unknown_vm(method, parts, body)
        if len(parts) == 2:
            if method == "GET":
                return _xml(200, document(self._vm_xml(vm, follow=False)))
            if method == "PUT":
                return self._update_vm(vm, body)
            if method == "DELETE":
                return self._remove_vm(vm)
        if len(parts) == 3 and method == "POST":
            if parts[2] == "nics":
                return self._add_nic(vm, body, base)
            if parts[2] == "diskattachments":
                return self._add_disk(vm, body)
            if parts[2] == "start":
                return self._start(vm, body)
            if parts[2] == "stop":
                return self._stop(vm, body)
        return _empty(404)

    def _unknown_vm(
        self, method: str, parts: list[str], body: bytes
    ) -> tuple[int, dict[str, str], str]:
        # A VM's resource looks the VM up first (BackendVmResource.get, also in remove and
        # update): an unknown id is a 404 with an empty body. So is a run-once start,
        # which reads the VM to build its parameters (BackendVmResource.
        # createRunVmOnceParams). A plain start or a stop goes to the command, which
        # refuses: 400 "VM is not found" (RunVmCommand.validateImpl,
        # StopVmCommandBase.validate), or 403 for a user without a system-wide role.
        verb = parts[2] if len(parts) == 3 and method == "POST" else None
        run_once = verb == "start" and ET.fromstring(body or b"<action/>").find("vm") is not None
        if verb not in ("start", "stop") or run_once:
            return _empty(404)
        action = "RUN" if verb == "start" else "STOP"
        key = (
            "ACTION_TYPE_FAILED_VM_NOT_FOUND"
            if self.system_permissions
            else "USER_NOT_AUTHORIZED_TO_PERFORM_ACTION"
        )
        refusal = Refusal.of(key, action, "VM")
        return _xml(refusal.status, refusal.action_xml(body))

    # -- VMs ---------------------------------------------------------------------------

    def _now(self) -> str:
        moment = EPOCH + datetime.timedelta(seconds=next(self._clock))
        return moment.isoformat(timespec="milliseconds")

    def _advance(self, vm: Vm) -> None:
        """One step of the engine's background work on this VM and its disks."""
        if len(vm.steps) > 1:
            was = vm.steps.pop(0)
            if vm.status == "down" and was not in NOT_RUNNING:
                # ResourceManager.internalSetVmStatus (vdsbroker): the stop time is set
                # when a VM goes down; the start time is kept but no longer shown. (A VM
                # that was image_locked is unlocked, not stopped: VmCommand.endVmCommand,
                # unlockVm, when its disks' tasks end.)
                vm.stop_time = self._now()
        vm.up_looks = vm.up_looks + 1 if vm.status == "up" else 0
        for disk in list(vm.disks):
            if len(disk.steps) > 1:
                disk.steps.pop(0)
            if disk.steps[0] == "gone":
                vm.disks.remove(disk)

    def _add_vm(self, body: bytes, base: str) -> tuple[int, dict[str, str], str]:
        spec = ET.fromstring(body)
        name = spec.findtext("name") or ""
        if any(v.name == name for v in self.vms.values()):
            # AddVmCommand.validate (VmHandler.isVmWithSameNameExistStatic).
            refusal = Refusal.of("ACTION_TYPE_FAILED_NAME_ALREADY_USED", "ADD", "VM")
            return _xml(refusal.status, refusal.fault_xml())
        cluster = spec.find("cluster")
        cluster_id = cluster.get("id", "") if cluster is not None else ""
        template = self._template_for(spec.find("template"), cluster_id)
        now = self._now()
        vm = Vm(
            id=next(self._ids),
            name=name,
            description=spec.findtext("description") or "",
            comment=spec.findtext("comment") or "",
            memory=int(spec.findtext("memory") or 1073741824),
            sockets=int(spec.findtext("cpu/topology/sockets") or 1),
            cluster=cluster_id,
            console=spec.findtext("console/enabled") == "true",
            created=now,
            # AddVmCommand.java (line 1356) sets the last stop time of a new VM.
            stop_time=now,
            template=template.get("id", BLANK),
            # The VM's own boot order, else the template's (VmMapper over the template's).
            boot=tuple(
                d.text or ""
                for d in (
                    spec.findall("os/boot/devices/device")
                    or template.findall("os/boot/devices/device")
                )
            ),
            initialization=_initialization(spec.find("initialization")),
        )
        self.vms[vm.id] = vm
        copies = self._template_disks(template, spec)
        if not copies:
            # A VM from Blank has no disk to copy, hence no task: 201 with the VM and its
            # Location (AbstractBackendCollectionResource.fetchCreatedEntity).
            return _created(base, self._vm_xml(vm, follow=False))
        # AddVmCommand.addVmImages locks the VM and creates a thin copy of each template
        # disk (CreateSnapshotFromTemplateCommand: the template's image, the alias asked
        # for); the VM is unlocked when the storage tasks end (VmCommand.endVmCommand),
        # which outlast a request more than a new disk's (the NIC a caller adds meanwhile).
        steps = self.disk_looks + 2
        for disk in copies:
            disk.steps = ["locked"] * steps + ["ok"]
        vm.disks.extend(copies)
        vm.steps = ["image_locked"] * steps + ["down"]
        # A task running: 202 with the VM, its creation status and that status's link,
        # no Location (fetchCreatedEntity, handleAsynchrony).
        element = self._vm_xml(vm, follow=False)
        status = ET.Element("creation_status")
        status.text = "pending"
        link = ET.Element(
            "link",
            href=f"{element.get('href')}/creation_status/{next(self._ids)}",
            rel="creation_status",
        )
        element[0:0] = [status, link]
        return _xml(202, document(element))

    # -- templates ---------------------------------------------------------------------

    def _template_for(self, wanted: ET.Element | None, cluster: str) -> ET.Element:
        """The template a new VM is made from (BackendVmsResource.lookupTemplate).

        By id; or by name, the newest version of that name in the cluster's data center
        or in none (GetVmTemplateQuery, ``GetVmTemplateByVmtName`` orders by version).
        """
        ident = wanted.get("id") if wanted is not None else None
        name = wanted.findtext("name") if wanted is not None else None
        dc = self._cluster_dc.get(cluster)
        found = []
        for template in self._all_templates():
            by_id = ident is not None and template.get("id") == ident
            by_name = ident is None and template.findtext("name") == name
            if by_id or (by_name and self._template_dc(template) in (None, dc)):
                found.append(template)
        if not found:
            raise NotImplementedError(f"the imitation knows no template {ident or name!r}")
        return max(found, key=lambda t: int(t.findtext("version/version_number") or 0))

    def _all_templates(self) -> list[ET.Element]:
        if self._templates is None:  # an inventory without templates: Blank alone
            blank = ET.Element("template", href=f"{API}/templates/{BLANK}", id=BLANK)
            _text(blank, "name", "Blank")
            return [blank]
        return self._templates.findall("template")

    def _template_dc(self, template: ET.Element) -> str | None:
        cluster = template.find("cluster")
        return self._cluster_dc.get(cluster.get("id", "")) if cluster is not None else None

    def _template_attachments(self, template_id: str) -> list[ET.Element]:
        """The template's disk attachments, each with its disk inlined (both recorded)."""
        file = self.dir / f"templates_{template_id}_diskattachments.xml"
        if not file.exists():
            return []
        disks = {d.get("id"): d for d in ET.parse(self.dir / "disks.xml").getroot()}
        attachments = ET.parse(file).getroot().findall("disk_attachment")
        for attachment in attachments:
            inner = attachment.find("disk")
            assert inner is not None
            index = list(attachment).index(inner)
            attachment[index] = disks[inner.get("id")]
        return attachments

    def _template_disks(self, template: ET.Element, spec: ET.Element) -> list[Disk]:
        aliases = {
            d.get("id"): d.findtext("name") or d.findtext("alias")
            for d in spec.iterfind("disk_attachments/disk_attachment/disk")
        }
        copies = []
        for attachment in self._template_attachments(template.get("id", "")):
            disk = attachment.find("disk")
            assert disk is not None
            domain = disk.find("storage_domains/storage_domain")
            copies.append(
                Disk(
                    id=next(self._ids),
                    # The alias asked for (BackendVmsResource.getDisksToClone), else the
                    # template disk's (AddVmCommand.makeNewImage).
                    name=aliases.get(disk.get("id")) or disk.findtext("alias") or "",
                    size=int(disk.findtext("provisioned_size") or 0),
                    domain=domain.get("id", "") if domain is not None else "",
                    steps=["ok"],
                    # BaseImagesCommand.cloneDiskImage copies the template image's.
                    description=disk.findtext("description") or "",
                )
            )
        return copies

    def _get_templates(
        self, parts: list[str], query: dict[str, str]
    ) -> tuple[int, dict[str, str], str]:
        follow = set(query.get("follow", "").split(",")) - {""}
        if follow - {"disk_attachments.disk", "disk_attachments", "nics"}:
            raise NotImplementedError(f"the imitation does not follow {follow} on templates")
        if len(parts) == 2:
            chosen = [t for t in self._all_templates() if t.get("id") == parts[1]]
            if not chosen:
                return _empty(404)  # BackendTemplateResource.get: not found as 404
            return _xml(200, document(self._template_xml(chosen[0], follow)))
        found = ET.Element("templates")
        try:
            matches = compile_template_search(query.get("search", ""))
        except InvalidSearch:
            return _xml(200, document(found))
        for template in sorted(self._all_templates(), key=lambda t: t.findtext("name") or ""):
            dc = self._template_dc(template)
            record = {"name": template.findtext("name"), "datacenter": self._dc_names.get(dc or "")}
            if matches(record):
                found.append(self._template_xml(template, follow))
        return _xml(200, document(found))

    def _template_xml(self, template: ET.Element, follow: set[str]) -> ET.Element:
        element = copy.deepcopy(template)
        if follow & {"disk_attachments", "disk_attachments.disk"}:
            attachments = ET.SubElement(element, "disk_attachments")
            attachments.extend(self._template_attachments(template.get("id", "")))
        if "nics" in follow:
            # A template imported from a Glance image is made from Blank, without NICs
            # (ImportRepoImageCommand.createTemplate); no NICs were recorded for these.
            ET.SubElement(element, "nics")
        return element

    def _update_vm(self, vm: Vm, body: bytes) -> tuple[int, dict[str, str], str]:
        # BackendVmResource.update: the given fields over the VM's own; comment and
        # description may change in any status (VmBase: @EditableVmField).
        spec = ET.fromstring(body)
        for name in ("comment", "description"):
            value = spec.findtext(name)
            if value is not None:
                setattr(vm, name, value)
        return _xml(200, document(self._vm_xml(vm, follow=False)))

    def _remove_vm(self, vm: Vm) -> tuple[int, dict[str, str], str]:
        # RemoveVmCommand.validate
        refusal = _running_or_locked(vm, "REMOVE", running=vm.status not in REMOVABLE)
        if refusal is not None:
            return _xml(refusal.status, refusal.fault_xml())
        del self.vms[vm.id]
        if self.failing_image_removals > 0:
            # RemoveAllVmImagesCommand.executeVmCommand: an image whose removal fails is
            # set illegal (updateDiskImagesToIllegal); the VM is gone all the same.
            self.failing_image_removals -= 1
            for disk in vm.disks:
                disk.steps = ["illegal"]
                self.floating[disk.id] = disk
        # BackendResource.performAction: the VM is gone at once (RemoveVmCommand.removeVm),
        # the answer an <action> with its job.
        return _xml(200, document(self._action(ET.Element("action"))))

    # -- disks -------------------------------------------------------------------------

    def _disks(
        self, method: str, parts: list[str], query: dict[str, str]
    ) -> tuple[int, dict[str, str], str]:
        attached = {d.id: (d, 1) for vm in self.vms.values() for d in vm.disks}
        every = attached | {i: (d, 0) for i, d in self.floating.items()}
        if method == "GET" and len(parts) == 1:
            found = ET.Element("disks")
            try:
                matches = compile_disk_search(query.get("search", ""))
            except InvalidSearch:
                return _xml(200, document(found))  # SearchQuery: an empty list, and success
            chosen = [
                disk
                for disk, vms in every.values()
                if matches({"id": disk.id, "alias": disk.name, "number_of_vms": str(vms)})
            ]
            # SearchObjectAutoCompleter: disks sort by "disk_alias ASC, disk_id ASC".
            chosen.sort(key=lambda d: (d.name, d.id))
            found.extend(_disk_xml(d) for d in chosen)
            return _xml(200, document(found))
        if method == "DELETE" and len(parts) == 2:
            if parts[1] not in every:
                return _empty(404)  # BackendDiskResource.remove calls get() first
            if parts[1] in attached:
                raise NotImplementedError("the imitation removes only disks no VM uses")
            # RemoveDiskCommand: an illegal image can be removed; BackendResource.
            # performAction answers the <action> with its job.
            del self.floating[parts[1]]
            return _xml(200, document(self._action(ET.Element("action"))))
        return _empty(404)

    def _add_nic(self, vm: Vm, body: bytes, base: str) -> tuple[int, dict[str, str], str]:
        spec = ET.fromstring(body)
        profile = spec.find("vnic_profile")
        nic = Nic(
            id=next(self._ids),
            name=spec.findtext("name") or "nic1",
            mac=next(self._macs),
            profile=profile.get("id", "") if profile is not None else "",
        )
        vm.nics.append(nic)
        return _created(base, _nic_xml(vm.id, nic))

    def _add_disk(self, vm: Vm, body: bytes) -> tuple[int, dict[str, str], str]:
        spec = ET.fromstring(body)
        domain = spec.find("disk/storage_domains/storage_domain")
        failing = self.failing_disks > 0
        self.failing_disks -= failing
        disk = Disk(
            id=next(self._ids),
            name=spec.findtext("disk/name") or "disk",
            size=int(spec.findtext("disk/provisioned_size") or 0),
            domain=domain.get("id", "") if domain is not None else "",
            steps=["locked"] * (self.disk_looks + 1) + ["gone" if failing else "ok"],
            description=spec.findtext("disk/description") or "",
        )
        vm.disks.append(disk)
        # AddDiskCommand creates the volume in an SPM task: with a task running the answer
        # is 202 with the attachment, its creation_status and that status's link, no
        # Location (AbstractBackendCollectionResource.fetchCreatedEntity,
        # handleAsynchrony).
        attachment = _attachment_xml(vm.id, disk, inline=False)
        status = ET.Element("creation_status")
        status.text = "pending"
        task = next(self._ids)
        link = ET.Element(
            "link", href=f"{attachment.get('href')}/creation_status/{task}", rel="creation_status"
        )
        attachment[0:0] = [status, link]  # BaseResource's elements come first
        return _xml(202, document(attachment))

    def _start(self, vm: Vm, body: bytes) -> tuple[int, dict[str, str], str]:
        action = ET.fromstring(body) if body.strip() else ET.Element("action")
        refusal = _running_or_locked(vm, "RUN", running=vm.status != "down")
        if refusal is not None:
            return _xml(refusal.status, refusal.action_xml(body))
        # CreateVDSCommand (vdsbroker) sets the start time and WaitForLaunch; the host
        # reports powering_up, then up. A start with <vm> is a run-once
        # (BackendVmResource.start: RunVmOnce). A VM with an initialization that has not
        # run with it gets its cloud-init payload (RunVmCommand.updateVmInit: the engine
        # decides when the action names no initialization type), which nothing in the
        # API shows.
        vm.steps = ["wait_for_launch", "powering_up", "up"]
        vm.start_time = self._now()
        vm.run_once = action.find("vm") is not None
        return _xml(200, document(self._action(action, vm)))

    def _stop(self, vm: Vm, body: bytes) -> tuple[int, dict[str, str], str]:
        action = ET.fromstring(body) if body.strip() else ET.Element("action")
        if vm.status == "down":
            # StopVmCommandBase.shouldSkipCommandExecution: stopping a VM that is down is
            # skipped, and the action succeeds.
            return _xml(200, document(self._action(action, vm)))
        if vm.status not in STOPPABLE:
            refusal = Refusal.of("ACTION_TYPE_FAILED_VM_IS_NOT_RUNNING", "STOP", "VM")
            return _xml(refusal.status, refusal.action_xml(body))
        # DestroyVmVDSCommand.changeStatus: powering_down until the host reports it down.
        vm.steps = ["powering_down", "powering_down", "down"]
        return _xml(200, document(self._action(action, vm)))

    def _action(self, action: ET.Element, vm: Vm | None = None) -> ET.Element:
        """A completed action's answer: the request's <action>, its job and status.

        AbstractBackendActionableResource.doAction / actionSuccess (the VM the action
        was on replaces a <vm> the request carried) and BackendResource.setJobLink.
        """
        for old in action.findall("vm"):
            action.remove(old)
        ET.SubElement(action, "status").text = "complete"
        job = next(self._ids)
        ET.SubElement(action, "job", href=f"{API}/jobs/{job}", id=job)
        if vm is not None:
            ET.SubElement(action, "vm", href=f"{API}/vms/{vm.id}", id=vm.id)
        return action

    # -- listing -----------------------------------------------------------------------

    def _search(self, query: dict[str, str]) -> str:
        search = query.get("search", "")
        follows = set(query.get("follow", "").split(",")) - {""}
        if follows - {"nics", "disk_attachments.disk", "reported_devices"}:
            raise NotImplementedError(f"the imitation does not follow {follows} on VMs")
        follow = bool(follows & {"nics", "disk_attachments.disk"})
        reported = "reported_devices" in follows
        vms = ET.Element("vms")
        try:
            matches = compile_search(search)
        except InvalidSearch:
            return document(vms)  # SearchQuery: no query, an empty list, and success
        chosen: list[tuple[str, ET.Element]] = []
        # A search by id or name names the VMs it finds: they take a step (see above).
        naming = not re.search(r"\bstatus\s*=", search, re.IGNORECASE)
        for vm in self.vms.values():
            if matches({"id": vm.id, "name": vm.name, "status": vm.status}):
                if naming:
                    self._advance(vm)
                chosen.append((vm.name, self._vm_xml(vm, follow=follow, reported=reported)))
        # The VMs of the recorded inventory are found too, verbatim (without the lists
        # that follow would inline: their NICs and disks were not recorded).
        for real in self._real_vms.findall("vm"):
            record = {k: real.get("id") if k == "id" else real.findtext(k) for k in _FIELDS}
            if matches(record):
                chosen.append((record["name"] or "", real))
        # SearchObjectAutoCompleter (searchbackend): VMs sort by name.
        vms.extend(element for _, element in sorted(chosen, key=lambda item: item[0]))
        return document(vms)

    def _vm_xml(self, vm: Vm, *, follow: bool, reported: bool = False) -> ET.Element:
        """A VM as VmMapper writes it, in the order of the real RHV 4.3 bodies."""
        href = f"{API}/vms/{vm.id}"
        element = ET.Element("vm", href=href, id=vm.id)
        _text(element, "name", vm.name)
        _text(element, "description", vm.description)
        _text(element, "comment", vm.comment)
        for rel in ("diskattachments", "nics", "permissions", "statistics"):
            ET.SubElement(element, "link", href=f"{href}/{rel}", rel=rel)
        cpu = ET.SubElement(element, "cpu")
        _text(cpu, "architecture", "x86_64")
        topology = ET.SubElement(cpu, "topology")
        for name, value in (("cores", 1), ("sockets", vm.sockets), ("threads", 1)):
            _text(topology, name, str(value))
        _text(element, "creation_time", vm.created)
        _text(element, "delete_protected", "false")
        if vm.initialization is not None:
            element.append(_initialization_xml(vm.initialization))
        _text(element, "memory", str(vm.memory))
        policy = ET.SubElement(element, "memory_policy")
        _text(policy, "guaranteed", str(vm.memory))
        _text(policy, "max", str(vm.memory))
        os_ = ET.SubElement(element, "os")
        devices = ET.SubElement(ET.SubElement(os_, "boot"), "devices")
        for device in vm.boot:
            _text(devices, "device", device)
        _text(os_, "type", "other")
        _text(element, "stateless", "false")
        _text(element, "type", "server")
        ET.SubElement(element, "cluster", href=f"{API}/clusters/{vm.cluster}", id=vm.cluster)
        _text(element, "next_run_configuration_exists", "false")
        running = vm.status not in NOT_RUNNING
        # VmMapper.map: run_once and start_time belong to the dynamic data of a VM that
        # is not down ("fill dynamic data" applies only if !status.isNotRunning());
        # stop_time whenever the engine has one.
        if running:
            _text(element, "run_once", "true" if vm.run_once else "false")
            if vm.start_time:
                _text(element, "start_time", vm.start_time)
        _text(element, "status", vm.status)
        _text(element, "stop_time", vm.stop_time)
        if follow:
            attachments = ET.SubElement(element, "disk_attachments")
            attachments.extend(_attachment_xml(vm.id, d, inline=True) for d in vm.disks)
        host = self._host_in(vm.cluster) if running else None
        if host is not None:
            ET.SubElement(element, "host", href=f"{API}/hosts/{host}", id=host)
        if follow:
            nics = ET.SubElement(element, "nics")
            nics.extend(_nic_xml(vm.id, n) for n in vm.nics)
        if reported:
            devices = ET.SubElement(element, "reported_devices")
            # The guest agent reports once the guest has booted: a look after it is up.
            if vm.up_looks >= 2:
                devices.extend(_reported_xml(vm.id, n) for n in vm.nics)
        for name in ("original_template", "template"):
            ET.SubElement(element, name, href=f"{API}/templates/{vm.template}", id=vm.template)
        return element

    def _host_in(self, cluster: str) -> str | None:
        for host in self._hosts.findall("host"):
            status, place = host.find("status"), host.find("cluster")
            up = status is not None and status.text == "up"
            if up and place is not None and place.get("id") == cluster:
                return host.get("id")
        return None


_FIELDS = ("id", "name", "status")
#: The data domain floating disks are on (Newd's venus_data, of the recorded inventory).
FLOATING_DOMAIN = "26c8cd54-65d4-424f-a870-8145439bba1c"


@dataclass(frozen=True)
class Injected:
    """A raw answer a test has the imitation give once."""

    status: int
    body: str
    headers: dict[str, str]


def _is_action(path: str) -> bool:
    return re.fullmatch(rf"{API}/vms/[^/]+/(start|stop)", path) is not None


def _running_or_locked(vm: Vm, action: str, *, running: bool) -> Refusal | None:
    """What a start and a remove validate alike: not while the VM runs, not while one of
    its disks is locked."""
    if running:
        return Refusal.of("ACTION_TYPE_FAILED_VM_IS_RUNNING", action, "VM")
    locked = [d.name for d in vm.disks if d.steps[0] == "locked"]
    if locked:
        return Refusal.of(
            "ACTION_TYPE_FAILED_DISKS_LOCKED", action, "VM", diskAliases=", ".join(locked)
        )
    return None


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    child = ET.SubElement(parent, tag)
    child.text = text
    return child


def _xml(status: int, text: str) -> tuple[int, dict[str, str], str]:
    return status, {"Content-Type": XML}, text


def _empty(status: int) -> tuple[int, dict[str, str], str]:
    return status, {}, ""


def _created(base: str, element: ET.Element) -> tuple[int, dict[str, str], str]:
    # Response.created(URI.create(model.getHref())): JAX-RS makes the Location absolute
    # against the URL the client used.
    headers = {"Content-Type": XML, "Location": base + (element.get("href") or "")}
    return 201, headers, document(element)


def _nic_xml(vm_id: str, nic: Nic) -> ET.Element:
    href = f"{API}/vms/{vm_id}/nics/{nic.id}"
    element = ET.Element("nic", href=href, id=nic.id)
    _text(element, "name", nic.name)
    ET.SubElement(element, "link", href=f"{href}/statistics", rel="statistics")
    ET.SubElement(element, "vm", href=f"{API}/vms/{vm_id}", id=vm_id)
    _text(element, "interface", "virtio")
    _text(element, "linked", "true")
    _text(ET.SubElement(element, "mac"), "address", nic.mac)
    _text(element, "plugged", "true")
    ET.SubElement(element, "vnic_profile", href=f"{API}/vnicprofiles/{nic.profile}", id=nic.profile)
    return element


def _attachment_xml(vm_id: str, disk: Disk, *, inline: bool) -> ET.Element:
    element = ET.Element(
        "disk_attachment", href=f"{API}/vms/{vm_id}/diskattachments/{disk.id}", id=disk.id
    )
    for name, value in (
        ("active", "true"),
        ("bootable", "true"),
        ("interface", "virtio"),
        ("pass_discard", "false"),
        ("read_only", "false"),
        ("uses_scsi_reservation", "false"),
    ):
        _text(element, name, value)
    inner = ET.SubElement(element, "disk", href=f"{API}/disks/{disk.id}", id=disk.id)
    if inline:  # follow=disk_attachments.disk: the disk as GET /disks/{id} writes it
        _text(inner, "name", disk.name)
        _disk_fields(inner, disk, actual_size="0")
    ET.SubElement(element, "vm", href=f"{API}/vms/{vm_id}", id=vm_id)
    return element


def _disk_xml(disk: Disk) -> ET.Element:
    """A disk as ``GET /disks`` writes it: the elements and order of a real RHV 4.3 answer
    (ManageIQ's recording, ``009_GET_disks.xml``; its actions, image and profile links left
    out)."""
    href = f"{API}/disks/{disk.id}"
    element = ET.Element("disk", href=href, id=disk.id)
    _text(element, "name", disk.name)
    _text(element, "description", disk.description)
    for rel in ("permissions", "statistics"):
        ET.SubElement(element, "link", href=f"{href}/{rel}", rel=rel)
    _disk_fields(element, disk, actual_size="200704", backup="none")
    return element


def _disk_fields(
    element: ET.Element, disk: Disk, *, actual_size: str, backup: str | None = None
) -> None:
    """A disk's fields and storage domain, in a real answer's order (``backup`` only where
    that answer has it)."""
    for name, value in (
        ("actual_size", actual_size),
        ("alias", disk.name),
        ("backup", backup),
        ("content_type", "data"),
        ("format", "cow"),
        ("propagate_errors", "false"),
        ("provisioned_size", str(disk.size)),
        ("shareable", "false"),
        ("sparse", "true"),
        ("status", disk.steps[0]),
        ("storage_type", "image"),
        ("wipe_after_delete", "false"),
    ):
        if value is not None:
            _text(element, name, value)
    domains = ET.SubElement(element, "storage_domains")
    ET.SubElement(
        domains, "storage_domain", href=f"{API}/storagedomains/{disk.domain}", id=disk.domain
    )


#: The fields of an initialization a VM shows (InitializationMapper.map), in the order of
#: a real RHV 4.3 body; the root password only as stars.
_INIT_FIELDS = ("authorized_ssh_keys", "custom_script", "host_name", "user_name")


def _initialization(element: ET.Element | None) -> dict[str, str] | None:
    """What a create's ``<initialization>`` sets (InitializationMapper.map to VmInit)."""
    if element is None:
        return None
    fields = {name: element.findtext(name) for name in (*_INIT_FIELDS, "root_password")}
    return {name: value for name, value in fields.items() if value is not None}


def _initialization_xml(init: dict[str, str]) -> ET.Element:
    element = ET.Element("initialization")
    for name in _INIT_FIELDS:
        if name in init:
            _text(element, name, init[name])
    _text(element, "regenerate_ssh_keys", "false")
    if "root_password" in init:  # InitializationMapper.map: never the password itself
        _text(element, "root_password", "******")
    return element


def _reported_xml(vm_id: str, nic: Nic) -> ET.Element:
    """A NIC as the guest agent reports it, in the shape of the real RHV 4.3 answer
    (``data/rhv43-refresh/vms_a1293e54-…_reporteddevices.xml``): an IPv4 address, a
    global and a link-local IPv6 one, from documentation ranges (RFC 5737, RFC 3849)."""
    n = int(nic.mac.replace(":", "")[-4:], 16)
    ident = str(uuid.uuid5(uuid.NAMESPACE_OID, f"{vm_id}/{nic.mac}"))
    element = ET.Element("reported_device", href=f"{API}/vms/{vm_id}/reporteddevices/{ident}")
    element.set("id", ident)
    _text(element, "name", "eth0")
    _text(element, "description", "guest reported data")
    ips = ET.SubElement(element, "ips")
    for address, version in (
        (f"192.0.2.{n % 254 + 1}", "v4"),
        (f"2001:db8::{n:x}", "v6"),
        (f"fe80::{n:x}", "v6"),
    ):
        ip = ET.SubElement(ips, "ip")
        _text(ip, "address", address)
        _text(ip, "version", version)
    _text(ET.SubElement(element, "mac"), "address", nic.mac)
    _text(element, "type", "network")
    ET.SubElement(element, "vm", href=f"{API}/vms/{vm_id}", id=vm_id)
    return element


def _instance_types() -> str:
    # The engine's stock instance types, as its database seeds them:
    # packaging/dbscripts/data/01100_insert_vm_static.sql (ids, memory, sockets).
    stock = [
        ("00000003-0003-0003-0003-0000000000be", "Tiny", 512, 1),
        ("00000005-0005-0005-0005-0000000002e6", "Small", 2048, 1),
        ("00000007-0007-0007-0007-00000000010a", "Medium", 4096, 2),
        ("00000009-0009-0009-0009-0000000000f1", "Large", 8192, 2),
        ("0000000b-000b-000b-000b-00000000021f", "XLarge", 16384, 4),
    ]
    types = ET.Element("instance_types")
    for ident, name, mib, sockets in stock:
        item = ET.SubElement(types, "instance_type", href=f"{API}/instancetypes/{ident}", id=ident)
        _text(item, "name", name)
        _text(item, "description", f"{name} instance type")
        topology = ET.SubElement(ET.SubElement(item, "cpu"), "topology")
        for tag, value in (("cores", 1), ("sockets", sockets), ("threads", 1)):
            _text(topology, tag, str(value))
        _text(item, "memory", str(mib * 1024 * 1024))
    return document(types)


@contextlib.contextmanager
def served(imitation: Imitation) -> Iterator[str]:
    """Serve an :class:`Imitation` on a loopback port (HTTP) while in the block: its URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            base = f"http://{self.headers.get('Host', '127.0.0.1')}"
            try:
                status, headers, text = imitation.answer(self.command, self.path, body, base)
            except NotImplementedError as exc:  # a request the imitation cannot judge
                status, headers, text = 500, {"Content-Type": "text/plain"}, str(exc)
            payload = text.encode()
            self.send_response(status)
            for name, value in headers.items():
                if name == "Content-Type" and payload:
                    value = f"{value};charset=UTF-8" if "charset" not in value else value
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # A short poll interval: shutting the server down then takes milliseconds.
    threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
