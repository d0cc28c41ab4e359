"""A loopback imitation of an oVirt engine (API v4), used only to compose cassettes.

No live engine was available to this project, so the lifecycle cassettes under
``cassettes/ovirt/`` were recorded through the replay server's record mode with this
imitation as the "live" engine (see ``cassettes/README.md``). What it answers:

* inventory (``datacenters``, ``clusters``, ``hosts``, ``vnicprofiles``, ``networks``,
  ``datacenters/{id}/storagedomains``, and the pre-existing VMs): **verbatim** bodies of
  a real RHV 4.3 inventory recorded by ManageIQ's test suite (``data/``);
* VMs it creates, their NICs, disk attachments and actions: XML shaped after the
  Engine API model's documented examples (``types/Vm``, ``services/VmsService``,
  ``VmNicsService``, ``DiskAttachmentsService``, ``VmService`` start/stop), with the
  status transitions the API documents (disk ``locked`` -> ``ok``, VM ``down`` ->
  ``up`` -> ``down``);
* faults as the engine renders them: ``<fault><reason>Operation Failed</reason>
  <detail>[message]</detail></fault>`` with the status of the message's ``ErrorType``;
* the SSO token endpoint as the SDK's own test server answers it.

It is a test helper, not a fake provider: the provider under test talks real HTTP to it
through the SDK, exactly as it would to an engine.
"""

from __future__ import annotations

import http.server
import itertools
import json
import re
import threading
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
API = "/ovirt-engine/api"
#: oVirt's default MAC pool range starts at 56:6f.
MAC_PREFIX = "56:6f:1a:2b"
TIME = "2026-11-22T10:00:00.000+00:00"


def fault(detail: str, reason: str = "Operation Failed") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f"<fault>\n    <detail>[{detail}]</detail>\n    <reason>{reason}</reason>\n</fault>\n"
    )


ACTION_OK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    "<action>\n    <status>complete</status>\n</action>\n"
)


class Imitation:
    """The engine's state: the real inventory plus the VMs created through it."""

    def __init__(self, inventory: str = "rhv43-refresh", *, disk_polls: int = 1) -> None:
        self.dir = DATA / inventory
        self.vms: dict[str, dict[str, Any]] = {}
        self.disk_polls = disk_polls
        self._ids = (str(uuid.UUID(int=0x5E7A0000 << 96 | n)) for n in itertools.count(1))
        self._macs = (f"{MAC_PREFIX}:{n >> 8:02x}:{n & 0xFF:02x}" for n in itertools.count(1))
        #: (method, path regex) -> list of (status, body) answered once each, first.
        self.faults: dict[tuple[str, str], list[tuple[int, str]]] = {}
        self.lock = threading.Lock()
        self.password = "imitation-password"
        self._real_vms = ET.parse(self.dir / "vms.xml").getroot()

    def inject(self, method: str, path: str, status: int, body: str) -> None:
        self.faults.setdefault((method, path), []).append((status, body))

    # -- answers ---------------------------------------------------------------------

    def answer(self, method: str, target: str, body: bytes) -> tuple[int, str, str]:
        """(status, content type, body) for one request."""
        parts = urllib.parse.urlsplit(target)
        path, query = parts.path, dict(urllib.parse.parse_qsl(parts.query))
        with self.lock:
            for (m, pattern), queue in self.faults.items():
                if m == method and re.fullmatch(pattern, path) and queue:
                    status, text = queue.pop(0)
                    kind = (
                        "application/json"
                        if text.startswith("{")
                        else "text/html; charset=iso-8859-1"
                        if text.lstrip().lower().startswith(("<html", "<!doctype"))
                        else "application/xml"
                    )
                    return status, kind, text
            if path == "/ovirt-engine/sso/oauth/token":
                return self._token(body)
            if not path.startswith(API):
                return 404, "text/html", "<html><body>Not Found</body></html>"
            return self._api(method, path[len(API) :].strip("/"), query, body)

    def _token(self, body: bytes) -> tuple[int, str, str]:
        form = dict(urllib.parse.parse_qsl(body.decode()))
        if form.get("password") != self.password:
            return (
                401,
                "application/json",
                json.dumps(
                    {
                        "error": "access_denied",
                        "error_description": f"Cannot authenticate user "
                        f"'{form.get('username')}': The username or password is incorrect..",
                    }
                ),
            )
        token = {
            "access_token": "imitation-token",
            "scope": "ovirt-app-api",
            "exp": "4102444800000",
        }
        return 200, "application/json", json.dumps({**token, "token_type": "bearer"})

    def _api(
        self, method: str, path: str, query: dict[str, str], body: bytes
    ) -> tuple[int, str, str]:
        xml = "application/xml"
        parts = path.split("/")
        if method == "GET" and path in (
            "datacenters",
            "clusters",
            "hosts",
            "vnicprofiles",
            "networks",
        ):
            return 200, xml, (self.dir / f"{path}.xml").read_text()
        if method == "GET" and len(parts) == 3 and parts[0] == "datacenters":
            file = self.dir / f"datacenters_{parts[1]}_storagedomains.xml"
            return (200, xml, file.read_text()) if file.exists() else (404, xml, "")
        if method == "GET" and path == "instancetypes":
            return 200, xml, _instance_types()
        if parts[0] != "vms":
            return 404, xml, ""
        if method == "GET" and path == "vms":
            return 200, xml, self._list(query)
        if method == "POST" and path == "vms":
            return self._add_vm(body)
        vm = self.vms.get(parts[1]) if len(parts) > 1 else None
        if vm is None:
            return 404, xml, ""  # the engine's 404 for a removed VM has an empty body
        if len(parts) == 2 and method == "GET":
            return 200, xml, self._vm_xml(vm, follow=False, standalone=True)
        if len(parts) == 2 and method == "DELETE":
            if vm["status"] != "down":
                return 409, xml, fault("Cannot remove VM. VM is running.")
            del self.vms[vm["id"]]
            return 200, xml, ACTION_OK
        if len(parts) == 3 and method == "POST":
            return self._sub(vm, parts[2], body)
        return 404, xml, ""

    def _add_vm(self, body: bytes) -> tuple[int, str, str]:
        spec = ET.fromstring(body)
        name = spec.findtext("name") or ""
        if any(v["name"] == name for v in self.vms.values()):
            return (
                409,
                "application/xml",
                fault(
                    "Cannot add VM. The VM name is already in use, please choose a unique "
                    "name and try again."
                ),
            )
        cluster = spec.find("cluster")
        vm = {
            "id": next(self._ids),
            "name": name,
            "description": spec.findtext("description") or "",
            "comment": spec.findtext("comment") or "",
            "memory": int(spec.findtext("memory") or 1073741824),
            "sockets": int(spec.findtext("cpu/topology/sockets") or 1),
            "cluster": cluster.get("id") if cluster is not None else "",
            "status": "down",
            "start_time": None,
            "nics": [],
            "disks": [],
            "kernel": None,
        }
        self.vms[vm["id"]] = vm
        return 201, "application/xml", self._vm_xml(vm, follow=False, standalone=True)

    def _sub(self, vm: dict[str, Any], what: str, body: bytes) -> tuple[int, str, str]:
        xml = "application/xml"
        if what == "nics":
            spec = ET.fromstring(body)
            profile = spec.find("vnic_profile")
            nic = {
                "id": next(self._ids),
                "name": spec.findtext("name") or "nic1",
                "mac": next(self._macs),
                "profile": profile.get("id") if profile is not None else "",
            }
            vm["nics"].append(nic)
            return 201, xml, _HEADER + _nic_xml(vm["id"], nic)
        if what == "diskattachments":
            spec = ET.fromstring(body)
            domain = spec.find("disk/storage_domains/storage_domain")
            disk = {
                "id": next(self._ids),
                "name": spec.findtext("disk/name") or "disk",
                "size": int(spec.findtext("disk/provisioned_size") or 0),
                "domain": domain.get("id", "") if domain is not None else "",
                "polls_locked": self.disk_polls,
            }
            vm["disks"].append(disk)
            return 201, xml, _HEADER + _attachment_xml(vm["id"], disk)
        if what == "start":
            if vm["status"] != "down":
                return 409, xml, fault("Cannot run VM. VM is running.")
            action = ET.fromstring(body) if body else ET.Element("action")
            vm["kernel"] = action.findtext("vm/os/kernel")
            vm["status"], vm["start_time"] = "up", TIME
            return 200, xml, ACTION_OK
        if what == "stop":
            if vm["status"] == "down":
                return 409, xml, fault("Cannot stop VM. VM is not running.")
            vm["status"] = "down"
            return 200, xml, ACTION_OK
        return 404, xml, ""

    def _list(self, query: dict[str, str]) -> str:
        search = query.get("search", "")
        follow = "follow" in query
        chosen = [v for v in self.vms.values() if _matches(search, v)]
        body = "".join(self._vm_xml(v, follow=follow) for v in chosen)
        # The recorded VMs of the real inventory are listed too (verbatim elements).
        for real in self._real_vms.findall("vm"):
            record = {
                "id": real.get("id"),
                "name": real.findtext("name"),
                "status": real.findtext("status"),
            }
            if _matches(search, record):
                body += "    " + ET.tostring(real, encoding="unicode").strip() + "\n"
        return f"{_HEADER}<vms>\n{body}</vms>\n"

    def _vm_xml(self, vm: dict[str, Any], *, follow: bool, standalone: bool = False) -> str:
        href = f"{API}/vms/{vm['id']}"
        extra = ""
        if follow:
            nics = "".join(_nic_xml(vm["id"], n) for n in vm["nics"])
            atts = "".join(_attachment_xml(vm["id"], d, disk_inline=True) for d in vm["disks"])
            # Each look at the VM advances its disks: locked for a poll or so, then ok.
            for disk in vm["disks"]:
                if disk["polls_locked"] > 0:
                    disk["polls_locked"] -= 1
            extra = f"<nics>{nics}</nics><disk_attachments>{atts}</disk_attachments>"
        start = f"<start_time>{vm['start_time']}</start_time>" if vm["start_time"] else ""
        text = (
            f'<vm href="{href}" id="{vm["id"]}">'
            f"<name>{vm['name']}</name>"
            f"<description>{_esc(vm['description'])}</description>"
            f"<comment>{_esc(vm['comment'])}</comment>"
            f'<link href="{href}/nics" rel="nics"/>'
            f'<link href="{href}/diskattachments" rel="diskattachments"/>'
            f"<cpu><architecture>x86_64</architecture><topology><cores>1</cores>"
            f"<sockets>{vm['sockets']}</sockets><threads>1</threads></topology></cpu>"
            f"<creation_time>{TIME}</creation_time>"
            f"<memory>{vm['memory']}</memory>"
            f"<memory_policy><guaranteed>{vm['memory']}</guaranteed>"
            f"<max>{vm['memory']}</max></memory_policy>"
            f"<os><boot><devices><device>network</device><device>hd</device></devices>"
            f"</boot><type>other</type></os>"
            f"<type>server</type>{start}<status>{vm['status']}</status>"
            f'<cluster href="{API}/clusters/{vm["cluster"]}" id="{vm["cluster"]}"/>'
            f'<template href="{API}/templates/00000000-0000-0000-0000-000000000000" '
            f'id="00000000-0000-0000-0000-000000000000"/>'
            f"{extra}</vm>\n"
        )
        return _HEADER + text if standalone else text


_HEADER = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _nic_xml(vm_id: str, nic: dict[str, Any]) -> str:
    return (
        f'<nic href="{API}/vms/{vm_id}/nics/{nic["id"]}" id="{nic["id"]}">'
        f"<name>{nic['name']}</name><interface>virtio</interface>"
        f"<linked>true</linked><mac><address>{nic['mac']}</address></mac>"
        f"<plugged>true</plugged>"
        f'<vnic_profile href="{API}/vnicprofiles/{nic["profile"]}" id="{nic["profile"]}"/>'
        f'<vm href="{API}/vms/{vm_id}" id="{vm_id}"/></nic>'
    )


def _attachment_xml(vm_id: str, disk: dict[str, Any], *, disk_inline: bool = False) -> str:
    status = "locked" if disk["polls_locked"] > 0 else "ok"
    inner = (
        f'<disk href="{API}/disks/{disk["id"]}" id="{disk["id"]}">'
        f"<name>{disk['name']}</name><format>cow</format><sparse>true</sparse>"
        f"<provisioned_size>{disk['size']}</provisioned_size><actual_size>0</actual_size>"
        f"<status>{status}</status><storage_type>image</storage_type>"
        f'<storage_domains><storage_domain href="{API}/storagedomains/{disk["domain"]}" '
        f'id="{disk["domain"]}"/></storage_domains></disk>'
    )
    return (
        f'<disk_attachment href="{API}/vms/{vm_id}/diskattachments/{disk["id"]}" '
        f'id="{disk["id"]}"><active>true</active><bootable>true</bootable>'
        f"<interface>virtio</interface>{inner}"
        f'<vm href="{API}/vms/{vm_id}" id="{vm_id}"/></disk_attachment>'
    )


def _instance_types() -> str:
    # The engine's stock instance types (Tiny ... XLarge), as a fresh engine lists them.
    stock = [
        ("Tiny", 512, 1),
        ("Small", 2048, 1),
        ("Medium", 4096, 2),
        ("Large", 8192, 2),
        ("XLarge", 16384, 4),
    ]
    items = "".join(
        f'<instance_type href="{API}/instancetypes/{n:08d}-0000-0000-0000-000000000000" '
        f'id="{n:08d}-0000-0000-0000-000000000000"><name>{name}</name>'
        f"<description>{name} instance type</description>"
        f"<cpu><topology><cores>1</cores><sockets>{cpus}</sockets><threads>1</threads>"
        f"</topology></cpu><memory>{mib * 1024 * 1024}</memory></instance_type>"
        for n, (name, mib, cpus) in enumerate(stock, start=1)
    )
    return f"{_HEADER}<instance_types>{items}</instance_types>\n"


def _matches(search: str, vm: dict[str, Any]) -> bool:
    """The few search forms the provider sends: ``a=b or c=d``, ``name=prefix*``."""
    if not search:
        return True
    for clause in search.split(" or "):
        field, _, value = clause.strip().partition("=")
        have = str(vm.get(field.strip(), ""))
        value = value.strip()
        if value.endswith("*") and have.startswith(value[:-1]):
            return True
        if have == value:
            return True
    return False


class ImitationServer:
    """Serve an :class:`Imitation` on a loopback port (HTTP)."""

    def __init__(self, imitation: Imitation) -> None:
        self.imitation = imitation
        owner = imitation

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, kind, text = owner.answer(self.command, self.path, body)
                payload = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", f"{kind};charset=UTF-8" if payload else kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> ImitationServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
