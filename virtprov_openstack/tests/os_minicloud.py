"""A loopback imitation of Keystone, Nova, Neutron and Glance, used only to *compose* cassettes.

The project has no live OpenStack to record from, so the composed cassettes are made
by running the real tests, with openstacksdk issuing its real requests, against this
server while vcrpy records. Every response body starts from a published API sample or
a real recording (``minicloud_samples.json``, sources listed in ``cassettes/README.md``)
and only ids, names and states are filled in, so the recorded shapes are OpenStack's,
field for field. The default test run never starts it: it replays the cassettes.

Regenerate with ``VIRTPROV_OS_MINICLOUD=1 pytest --record-mode=rewrite virtprov_openstack/tests``.

Faults are injected by name, so that a recorded run replays request for request:
a server named ``*quota-instances*`` gets Nova's real 403, ``*no-valid-host*`` goes to
ERROR with the scheduler's fault, a network named ``*overquota*`` gets Neutron's 409,
``*unavailable*`` a 503, ``*ratelimited*`` a 429; the user ``wrong-user`` gets Keystone's 401.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"
PORT = 18774
BASE = f"http://{HOST}:{PORT}"
PROJECT_ID = "6e1ae8ec053b4f2bbd232def0a08db24"
USER_ID = "ee5cc4525fe14aa8a552b98b49b71a27"
EXTERNAL_NET_ID = "0a1d0a27-cffa-4de3-92c5-9d3fd3f2e74d"
FIXED_NET_ID = "4529570d-57bf-4ec8-8d67-937f13b1d9ae"
IMAGE_ID = "b2173dd3-7ad6-4362-baa6-a68bce3565cb"
SAMPLES: dict[str, Any] = json.loads(
    (Path(__file__).with_name("minicloud_samples.json")).read_text(encoding="utf-8")
)
_NS = uuid.UUID("5b4f2bd2-6c1e-4f0e-9a43-7c2f8e2d7a10")


def sample(name: str) -> Any:
    return copy.deepcopy(SAMPLES[name])


def _rewrite_hrefs(value: Any, base: str) -> Any:
    text = json.dumps(value)
    text = re.sub(
        r"https?://(openstack\.example\.com|glance\.openstack\.example\.org"
        r"|23\.253\.228\.211:9696|182\.161\.114\.101/identity)",
        base,
        text,
    )
    return json.loads(text)


class Cloud:
    """The state: servers, networks... Ids are uuid5 of a counter, so runs repeat."""

    def __init__(self) -> None:
        self.counter = 0
        self.lock = threading.Lock()
        self.servers: dict[str, dict[str, Any]] = {}
        self.gets: dict[str, int] = {}
        self.networks: dict[str, dict[str, Any]] = {}
        self.subnets: dict[str, dict[str, Any]] = {}
        self.routers: dict[str, dict[str, Any]] = {}
        self.ports: dict[str, dict[str, Any]] = {}
        self.fips: dict[str, dict[str, Any]] = {}
        self.keypairs: dict[str, dict[str, Any]] = {}
        self.images: dict[str, dict[str, Any]] = {}
        self.used = {"instances": 0, "cores": 0, "ram": 0}
        external = sample("neutron_network_create")["network"]
        external.update(
            id=EXTERNAL_NET_ID,
            name="public",
            **{"router:external": True},
            shared=False,
            description="",
        )
        fixed = sample("neutron_network_create")["network"]
        fixed.update(id=FIXED_NET_ID, name="lab-net", **{"router:external": False})
        self.networks = {EXTERNAL_NET_ID: external, FIXED_NET_ID: fixed}
        image = sample("glance_image_show")
        image.update(
            id=IMAGE_ID,
            name="ipxe-beaker-lab.example.com-20261122",
            disk_format="raw",
            container_format="bare",
            visibility="public",
            tags=["virtprov-ipxe"],
            architecture="x86_64",
            size=4194304,
            virtual_size=4194304,
            file=f"/v2/images/{IMAGE_ID}/file",
            self=f"/v2/images/{IMAGE_ID}",
        )
        self.images[IMAGE_ID] = image

    def new_id(self, kind: str) -> str:
        self.counter += 1
        return str(uuid.uuid5(_NS, f"{kind}-{self.counter}"))

    def mac(self) -> str:
        self.counter += 1
        n = self.counter
        return f"fa:16:3e:{(n >> 16) & 0xFF:02x}:{(n >> 8) & 0xFF:02x}:{n & 0xFF:02x}"


class Reply(Exception):
    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def flavors() -> list[dict[str, Any]]:
    real = sample("nova_flavors_detail_real")["flavors"]
    shape = sample("nova_flavor_v275")["flavor"]
    result = []
    for item in real:
        flavor = copy.deepcopy(shape)
        for key in ("id", "name", "ram", "disk", "vcpus", "swap"):
            flavor[key] = item.get(key, flavor[key])
        flavor["description"] = None
        flavor["extra_specs"] = {}
        flavor["links"] = []
        result.append(flavor)
    disabled = copy.deepcopy(result[0])
    disabled.update(id="retired", name="m1.retired", **{"OS-FLV-DISABLED:disabled": True})
    result.append(disabled)
    if result:
        result[-2]["extra_specs"] = {"hw:architecture": "x86_64", "hw:cpu_policy": "shared"}
    return result


class Handler(BaseHTTPRequestHandler):
    cloud: Cloud
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        ctype = self.headers.get("Content-Type", "")
        if raw and "json" in ctype:
            return json.loads(raw)
        return raw

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Openstack-Request-Id", "req-" + str(uuid.uuid5(_NS, self.path)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        body = self._body()
        try:
            with self.cloud.lock:
                status, reply, headers = route(self.cloud, self.command, url.path, query, body)
        except Reply as r:
            status, reply, headers = r.status, r.body, r.headers
        self._send(status, reply, headers)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _dispatch


def route(
    cloud: Cloud, method: str, path: str, query: dict[str, list[str]], body: Any
) -> tuple[int, Any, dict[str, str]]:
    for pattern, handler in ROUTES:
        match = re.fullmatch(pattern, f"{method} {path.rstrip('/') or '/'}")
        if match:
            return handler(cloud, query, body, *match.groups())
    raise Reply(404, {"error": {"message": f"minicloud: no route for {method} {path}"}})


# -- keystone ----------------------------------------------------------------------------


def catalog() -> list[dict[str, Any]]:
    def entry(kind: str, name: str, url: str) -> dict[str, Any]:
        ep = str(uuid.uuid5(_NS, kind)).replace("-", "")
        return {
            "endpoints": [
                {
                    "id": ep,
                    "interface": "public",
                    "region_id": "RegionOne",
                    "url": url,
                    "region": "RegionOne",
                }
            ],
            "id": str(uuid.uuid5(_NS, name)).replace("-", ""),
            "type": kind,
            "name": name,
        }

    return [
        entry("identity", "keystone", f"{BASE}/identity"),
        entry("compute", "nova", f"{BASE}/compute/v2.1"),
        entry("network", "neutron", f"{BASE}/networking"),
        entry("image", "glance", f"{BASE}/image"),
    ]


def keystone_versions(cloud: Cloud, q: Any, b: Any) -> Any:
    return 300, _rewrite_hrefs(sample("keystone_versions"), f"{BASE}/identity"), {}


def keystone_v3(cloud: Cloud, q: Any, b: Any) -> Any:
    doc = sample("keystone_versions")["versions"]["values"][0]
    return 200, {"version": _rewrite_hrefs(doc, f"{BASE}/identity")}, {}


def issue_token(cloud: Cloud, q: Any, body: Any) -> Any:
    identity = body["auth"]["identity"]
    user = identity.get("password", {}).get("user", {})
    if user.get("name") == "wrong-user":
        raise Reply(401, sample("error_keystone_401"))
    token = sample("keystone_token")
    token["token"]["catalog"] = catalog()
    token["token"]["expires_at"] = "2999-12-31T23:59:59.999999Z"
    token["token"]["issued_at"] = "2026-11-22T10:00:00.000000Z"
    token["token"]["methods"] = identity["methods"]
    trust = body["auth"].get("scope", {}).get("OS-TRUST:trust")
    if trust:
        token["token"]["OS-TRUST:trust"] = {
            "id": trust["id"],
            "impersonation": True,
            "trustee_user": {"id": USER_ID},
            "trustor_user": {"id": "a" * 32},
        }
    token["token"]["project"]["id"] = PROJECT_ID
    return 201, token, {"X-Subject-Token": "gAAAAA" + uuid.uuid4().hex}


# -- nova --------------------------------------------------------------------------------


def nova_versions(cloud: Cloud, q: Any, b: Any) -> Any:
    return 200, _rewrite_hrefs(sample("nova_versions"), f"{BASE}/compute"), {}


def nova_version(cloud: Cloud, q: Any, b: Any) -> Any:
    return 200, _rewrite_hrefs(sample("nova_version"), f"{BASE}/compute"), {}


def nova_flavors(cloud: Cloud, q: Any, b: Any) -> Any:
    return 200, {"flavors": flavors()}, {}


def nova_limits(cloud: Cloud, q: Any, b: Any) -> Any:
    limits = sample("nova_limits_v257")
    absolute = limits["limits"]["absolute"]
    absolute.update(
        totalInstancesUsed=cloud.used["instances"],
        totalCoresUsed=cloud.used["cores"],
        totalRAMUsed=cloud.used["ram"],
    )
    return 200, limits, {}


def _server_view(cloud: Cloud, server: dict[str, Any]) -> dict[str, Any]:
    view = copy.deepcopy(server)
    view.pop("_internal", None)
    return view


def _advance(cloud: Cloud, server: dict[str, Any]) -> None:
    """One step of the life a real server goes through between two GETs."""
    internal = server["_internal"]
    task = server["OS-EXT-STS:task_state"]
    if server["status"] == "BUILD":
        if internal.get("fail"):
            server.update(status="ERROR", **{"OS-EXT-STS:vm_state": "error"})
            server["OS-EXT-STS:task_state"] = None
            server["fault"] = {
                "code": 500,
                "created": "2026-11-22T10:00:05Z",
                "message": "No valid host was found. There are not enough hosts available.",
            }
            return
        server.update(status="ACTIVE", **{"OS-EXT-STS:vm_state": "active"})
        server["OS-EXT-STS:task_state"] = None
        server["OS-EXT-STS:power_state"] = 1
        server["OS-SRV-USG:launched_at"] = "2026-11-22T10:00:04.000000"
        port = internal["port"]
        server["addresses"] = {
            internal["network_name"]: [
                {
                    "addr": port["fixed_ips"][0]["ip_address"],
                    "OS-EXT-IPS-MAC:mac_addr": port["mac_address"],
                    "OS-EXT-IPS:type": "fixed",
                    "version": 4,
                }
            ]
        }
        if internal.get("fip"):
            server["addresses"][internal["network_name"]].append(
                {
                    "addr": internal["fip"],
                    "OS-EXT-IPS-MAC:mac_addr": port["mac_address"],
                    "OS-EXT-IPS:type": "floating",
                    "version": 4,
                }
            )
    elif task == "powering-off":
        server.update(status="SHUTOFF", **{"OS-EXT-STS:vm_state": "stopped"})
        server["OS-EXT-STS:task_state"] = None
        server["OS-EXT-STS:power_state"] = 4
    elif task == "powering-on":
        server.update(status="ACTIVE", **{"OS-EXT-STS:vm_state": "active"})
        server["OS-EXT-STS:task_state"] = None
        server["OS-EXT-STS:power_state"] = 1
    elif task == "deleting":
        internal["gone"] = True


def _find_server(cloud: Cloud, server_id: str) -> dict[str, Any]:
    server = cloud.servers.get(server_id)
    if server is None or server["_internal"].get("gone"):
        raise Reply(
            404,
            {"itemNotFound": {"code": 404, "message": f"Instance {server_id} could not be found."}},
        )
    return server


def nova_get_server(cloud: Cloud, q: Any, b: Any, server_id: str) -> Any:
    server = _find_server(cloud, server_id)
    _advance(cloud, server)
    server = _find_server(cloud, server_id)
    return 200, {"server": _server_view(cloud, server)}, {}


def nova_list_servers(cloud: Cloud, q: dict[str, list[str]], b: Any) -> Any:
    pattern = q.get("name", [None])[0]
    result = []
    for server in list(cloud.servers.values()):
        if server["_internal"].get("gone"):
            continue
        _advance(cloud, server)
        if server["_internal"].get("gone"):
            continue
        if pattern and not re.search(pattern, server["name"]):
            continue
        result.append(_server_view(cloud, server))
    return 200, {"servers": result}, {}


def nova_create_server(cloud: Cloud, q: Any, body: Any) -> Any:
    req = body["server"]
    name = req["name"]
    if "quota-instances" in name:
        raise Reply(403, sample("error_nova-403-quota-instances"))
    if "quota-cores-ram" in name:
        raise Reply(403, sample("error_nova-403-quota-cores-ram"))
    if "unavailable" in name:
        message = "The server is currently unavailable. Please try again at a later time."
        raise Reply(503, {"computeFault": {"code": 503, "message": message}})
    if "ratelimited" in name:
        raise Reply(
            429,
            {"overLimit": {"code": 429, "message": "Rate limit exceeded."}},
            {"Retry-After": "30"},
        )
    if req["imageRef"] not in cloud.images:
        raise Reply(
            400,
            {
                "badRequest": {
                    "code": 400,
                    "message": f"Image {req['imageRef']} could not be found.",
                }
            },
        )
    flavor = next((f for f in flavors() if f["id"] == req["flavorRef"]), None)
    if flavor is None:
        raise Reply(400, {"badRequest": {"message": "Invalid flavorRef provided.", "code": 400}})
    nets = req.get("networks") or []
    internal: dict[str, Any] = {"fail": "no-valid-host" in name}
    if nets and "port" in nets[0]:
        port = cloud.ports[nets[0]["port"]]
        internal["network_name"] = cloud.networks[port["network_id"]]["name"]
        fip = next((f for f in cloud.fips.values() if f["port_id"] == port["id"]), None)
        internal["fip"] = fip["floating_ip_address"] if fip else None
    else:
        net_id = nets[0]["uuid"]
        port = _make_port(cloud, net_id, "", device_owner="compute:nova")
        internal["network_name"] = cloud.networks[net_id]["name"]
        internal["own_port"] = port["id"]
    server_id = cloud.new_id("server")
    port["device_id"] = server_id
    internal["port"] = port
    server = sample("nova_server_get_v2100")["server"]
    server.update(
        id=server_id,
        name=name,
        status="BUILD",
        addresses={},
        metadata=req.get("metadata", {}),
        accessIPv4="",
        accessIPv6="",
        hostId="",
        key_name=None,
        tags=[],
        scheduler_hints={},
        created="2026-11-22T10:00:00Z",
        updated="2026-11-22T10:00:00Z",
        tenant_id=PROJECT_ID,
        user_id=USER_ID,
        description=None,
        image={"id": req["imageRef"], "links": [], "properties": {"architecture": "x86_64"}},
        flavor={
            "disk": flavor["disk"],
            "ephemeral": 0,
            "extra_specs": flavor["extra_specs"],
            "original_name": flavor["name"],
            "ram": flavor["ram"],
            "swap": 0,
            "vcpus": flavor["vcpus"],
        },
        links=[{"href": f"{BASE}/compute/v2.1/servers/{server_id}", "rel": "self"}],
        **{
            "OS-EXT-STS:vm_state": "building",
            "OS-EXT-STS:task_state": "scheduling",
            "OS-EXT-STS:power_state": 0,
            "OS-SRV-USG:launched_at": None,
            "OS-EXT-SRV-ATTR:hostname": name,
            "os-extended-volumes:volumes_attached": [],
            "OS-EXT-AZ:availability_zone": "nova",
            "pinned_availability_zone": None,
        },
    )
    server["security_groups"] = [{"name": "default"}]
    server["_internal"] = internal
    server["_internal"]["flavor"] = flavor
    cloud.servers[server_id] = server
    if not internal["fail"]:
        cloud.used["instances"] += 1
        cloud.used["cores"] += flavor["vcpus"]
        cloud.used["ram"] += flavor["ram"]
    reply = sample("nova_server_create_resp_v2100")
    reply["server"].update(
        id=server_id,
        adminPass="6NpUwoz2QDRN",
        links=[{"href": f"{BASE}/compute/v2.1/servers/{server_id}", "rel": "self"}],
    )
    return 202, reply, {"Location": f"{BASE}/compute/v2.1/servers/{server_id}"}


def nova_action(cloud: Cloud, q: Any, body: Any, server_id: str) -> Any:
    server = _find_server(cloud, server_id)
    (action,) = body.keys()
    conflict = Reply(
        409,
        {
            "conflictingRequest": {
                "code": 409,
                "message": f"Cannot '{action.removeprefix('os-')}' instance {server_id} while it "
                f"is in vm_state {server['OS-EXT-STS:vm_state']}",
            }
        },
    )
    if action == "os-stop":
        if server["status"] != "ACTIVE" or server["OS-EXT-STS:task_state"]:
            raise conflict
        server["OS-EXT-STS:task_state"] = "powering-off"
        return 202, None, {}
    if action == "os-start":
        if server["status"] != "SHUTOFF" or server["OS-EXT-STS:task_state"]:
            raise conflict
        server["OS-EXT-STS:task_state"] = "powering-on"
        return 202, None, {}
    if action == "os-getConsoleOutput":
        reply = sample("nova_console_output")
        reply["output"] = (
            "SeaBIOS (version 1.16.3-debian-1.16.3-2)\n"
            "iPXE (https://ipxe.org) 00:03.0 CA00 PCI2.10 PnP PMM+\n"
            f"Booting from Hard Disk...\niPXE 1.21.1+ -- Open Source Network Boot Firmware\n"
            f"Configuring (net0 {server['_internal']['port']['mac_address']})... ok\n"
            f"http://beaker.example.com/systems/by-uuid/{server_id}/ipxe-script... ok\n"
        )
        return 200, reply, {}
    raise Reply(400, {"badRequest": {"code": 400, "message": f"unknown action {action}"}})


def nova_set_metadata(cloud: Cloud, q: Any, body: Any, server_id: str) -> Any:
    server = _find_server(cloud, server_id)
    server["metadata"].update(body["metadata"])
    return 200, {"metadata": server["metadata"]}, {}


def nova_delete_server(cloud: Cloud, q: Any, b: Any, server_id: str) -> Any:
    server = _find_server(cloud, server_id)
    server["OS-EXT-STS:task_state"] = "deleting"
    internal = server["_internal"]
    if not internal.get("fail"):
        flavor = internal["flavor"]
        cloud.used["instances"] -= 1
        cloud.used["cores"] -= flavor["vcpus"]
        cloud.used["ram"] -= flavor["ram"]
    if internal.get("own_port"):
        cloud.ports.pop(internal["own_port"], None)
    else:
        internal["port"]["device_id"] = ""
    return 204, None, {}


def _fingerprint(public_key: str) -> str:
    # nova/crypto.py generate_fingerprint: the MD5 of the key's blob, in colon-separated hex.
    digest = hashlib.md5(base64.b64decode(public_key.split(" ")[1])).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def nova_create_keypair(cloud: Cloud, q: Any, body: Any) -> Any:
    req = body["keypair"]
    if req["name"] in cloud.keypairs:
        message = f"Key pair '{req['name']}' already exists."
        raise Reply(409, {"conflictingRequest": {"code": 409, "message": message}})
    pair = sample("nova_keypair_create_real")["keypair"]
    pair.update(
        name=req["name"],
        public_key=req["public_key"],
        fingerprint=_fingerprint(req["public_key"]),
        user_id=USER_ID,
    )
    cloud.keypairs[req["name"]] = pair
    return 201, {"keypair": pair}, {}  # nova/api/openstack/compute/keypairs.py: 201 from 2.2


def nova_list_keypairs(cloud: Cloud, q: Any, b: Any) -> Any:
    # nova/api/openstack/compute/views/keypairs.py index (2.2+), ordered by name
    # (nova/objects/keypair.py paginates on it).
    fields = ("name", "public_key", "fingerprint", "type")
    pairs = [cloud.keypairs[name] for name in sorted(cloud.keypairs)]
    return 200, {"keypairs": [{"keypair": {k: p[k] for k in fields}} for p in pairs]}, {}


def nova_delete_keypair(cloud: Cloud, q: Any, b: Any, name: str) -> Any:
    if cloud.keypairs.pop(name, None) is None:
        missing = sample("nova_keypair_not_found_real")
        missing["itemNotFound"]["message"] = f"Keypair {name} not found for user {USER_ID}"
        raise Reply(404, missing)
    return 204, None, {}  # 204 from 2.2


# -- neutron -----------------------------------------------------------------------------


def neutron_versions(cloud: Cloud, q: Any, b: Any) -> Any:
    return 200, _rewrite_hrefs(sample("neutron_versions"), f"{BASE}/networking"), {}


def _filtered(items: list[dict[str, Any]], q: dict[str, list[str]]) -> list[dict[str, Any]]:
    result = []
    for item in items:
        ok = True
        for key, values in q.items():
            if key in ("fields", "limit", "marker"):
                continue
            have = item.get(key)
            if isinstance(have, bool):
                have = str(have)
            if str(have) not in values and not (isinstance(have, str) and have in values):
                ok = False
        if ok:
            result.append(item)
    return result


def neutron_list(kind: str, store: str) -> Callable[..., Any]:
    def handler(cloud: Cloud, q: dict[str, list[str]], b: Any) -> Any:
        items = list(getattr(cloud, store).values())
        return 200, {kind: _filtered(items, q)}, {}

    return handler


def neutron_list_routers(cloud: Cloud, q: dict[str, list[str]], b: Any) -> Any:
    routers = [
        {k: v for k, v in r.items() if not k.startswith("_")} for r in cloud.routers.values()
    ]
    return 200, {"routers": _filtered(routers, q)}, {}


def _neutron_not_found(kind: str, item_id: str) -> Reply:
    error = {
        "type": f"{kind.capitalize()}NotFound",
        "message": f"{kind.capitalize()} {item_id} could not be found.",
        "detail": "",
    }
    return Reply(404, {"NeutronError": error})


def neutron_get(kind: str, store: str) -> Callable[..., Any]:
    def handler(cloud: Cloud, q: Any, b: Any, item_id: str) -> Any:
        item = getattr(cloud, store).get(item_id)
        if item is None:
            raise _neutron_not_found(kind, item_id)
        return 200, {kind: item}, {}

    return handler


def neutron_delete(kind: str, store: str) -> Callable[..., Any]:
    def handler(cloud: Cloud, q: Any, b: Any, item_id: str) -> Any:
        items = getattr(cloud, store)
        if item_id not in items:
            raise _neutron_not_found(kind, item_id)
        if kind == "network":
            in_use = [p for p in cloud.ports.values() if p["network_id"] == item_id]
            if in_use:
                raise Reply(
                    409,
                    {
                        "NeutronError": {
                            "type": "NetworkInUse",
                            "message": f"Unable to complete operation on network {item_id}. "
                            "There are one or more ports still in use on the network.",
                            "detail": "",
                        }
                    },
                )
            for sid in [s for s, v in cloud.subnets.items() if v["network_id"] == item_id]:
                del cloud.subnets[sid]
        del items[item_id]
        return 204, None, {}

    return handler


def _common(cloud: Cloud, obj: dict[str, Any], req: dict[str, Any], kind: str) -> None:
    obj["id"] = cloud.new_id(kind)
    for key in ("name", "description"):
        if key in req:
            obj[key] = req[key]
    obj["tenant_id"] = obj["project_id"] = PROJECT_ID
    for key in ("created_at", "updated_at"):
        if key in obj:
            obj[key] = "2026-11-22T10:00:00Z"
    if "tags" in obj:
        obj["tags"] = []


def neutron_create_network(cloud: Cloud, q: Any, body: Any) -> Any:
    req = body["network"]
    if "overquota" in req.get("name", ""):
        raise Reply(409, sample("error_neutron-409-overquota-network"))
    net = sample("neutron_network_create")["network"]
    _common(cloud, net, req, "network")
    net["subnets"] = []
    net["router:external"] = False
    cloud.networks[net["id"]] = net
    return 201, {"network": net}, {}


def neutron_create_subnet(cloud: Cloud, q: Any, body: Any) -> Any:
    req = body["subnet"]
    subnet = sample("neutron_subnet_create")["subnet"]
    _common(cloud, subnet, req, "subnet")
    cidr = req["cidr"]
    base = cidr.split("/")[0].rsplit(".", 1)[0]
    subnet.update(
        network_id=req["network_id"],
        cidr=cidr,
        ip_version=req.get("ip_version", 4),
        gateway_ip=f"{base}.1",
        allocation_pools=[{"start": f"{base}.2", "end": f"{base}.254"}],
        dns_nameservers=req.get("dns_nameservers", []),
    )
    cloud.subnets[subnet["id"]] = subnet
    cloud.networks[req["network_id"]]["subnets"].append(subnet["id"])
    return 201, {"subnet": subnet}, {}


def neutron_create_router(cloud: Cloud, q: Any, body: Any) -> Any:
    req = body["router"]
    router = sample("neutron_router_create")["router"]
    _common(cloud, router, req, "router")
    gateway = req.get("external_gateway_info") or {}
    router["external_gateway_info"] = {
        "network_id": gateway.get("network_id"),
        "enable_snat": True,
        "external_fixed_ips": [
            {"subnet_id": str(uuid.uuid5(_NS, "public-subnet")), "ip_address": "172.24.4.10"}
        ],
    }
    router["_interfaces"] = []
    cloud.routers[router["id"]] = router
    return 201, {"router": {k: v for k, v in router.items() if not k.startswith("_")}}, {}


def neutron_router_interface(cloud: Cloud, q: Any, body: Any, router_id: str, op: str) -> Any:
    router = cloud.routers.get(router_id)
    if router is None:
        raise Reply(
            404,
            {
                "NeutronError": {
                    "type": "RouterNotFound",
                    "message": f"Router {router_id} could not be found",
                    "detail": "",
                }
            },
        )
    # Neutron takes the interface by subnet_id or by port_id (api-ref: routers).
    subnet_id = body.get("subnet_id")
    port_id = body.get("port_id")
    subnet = cloud.subnets.get(subnet_id) if subnet_id else None
    if op == "add_router_interface":
        assert subnet is not None, "add_router_interface by subnet_id only here"
        reply = sample("neutron_router_add_interface")
        port = _make_port(
            cloud,
            subnet["network_id"],
            "",
            device_owner="network:router_interface",
            ip=subnet["gateway_ip"],
        )
        port["device_id"] = router_id
        router["_interfaces"].append((subnet_id, port["id"]))
    else:
        reply = sample("neutron_router_remove_interface")
        found = [(s, p) for s, p in router["_interfaces"] if subnet_id == s or port_id == p]
        if not found:
            raise Reply(
                404,
                {
                    "NeutronError": {
                        "type": "RouterInterfaceNotFoundForSubnet",
                        "message": f"Router {router_id} has no interface on subnet {subnet_id}",
                        "detail": "",
                    }
                },
            )
        router["_interfaces"].remove(found[0])
        subnet_id = found[0][0]
        port = cloud.ports.pop(found[0][1])
    reply.update(
        id=router_id,
        subnet_id=subnet_id,
        port_id=port["id"],
        network_id=port["network_id"],
        subnet_ids=[subnet_id],
        tenant_id=PROJECT_ID,
        project_id=PROJECT_ID,
    )
    return 200, reply, {}


def _make_port(
    cloud: Cloud,
    network_id: str,
    name: str,
    *,
    device_owner: str = "",
    ip: str | None = None,
    description: str = "",
) -> dict[str, Any]:
    port = sample("neutron_port_create")["port"]
    _common(cloud, port, {"name": name, "description": description}, "port")
    subnet = next((s for s in cloud.subnets.values() if s["network_id"] == network_id), None)
    if ip is None:
        used = sum(1 for p in cloud.ports.values() if p["network_id"] == network_id)
        base = (subnet["cidr"].split("/")[0].rsplit(".", 1)[0]) if subnet else "10.0.0"
        ip = f"{base}.{10 + used}"
    port.update(
        network_id=network_id,
        mac_address=cloud.mac(),
        device_owner=device_owner,
        device_id="",
        fixed_ips=[
            {
                "subnet_id": subnet["id"] if subnet else str(uuid.uuid5(_NS, network_id)),
                "ip_address": ip,
            }
        ],
        status="DOWN",
    )
    cloud.ports[port["id"]] = port
    return port


def neutron_create_port(cloud: Cloud, q: Any, body: Any) -> Any:
    req = body["port"]
    port = _make_port(
        cloud, req["network_id"], req.get("name", ""), description=req.get("description", "")
    )
    return 201, {"port": port}, {}


def neutron_create_fip(cloud: Cloud, q: Any, body: Any) -> Any:
    req = body["floatingip"]
    fip = sample("neutron_floatingip_create")["floatingip"]
    _common(cloud, fip, req, "fip")
    port = cloud.ports.get(req.get("port_id") or "")
    n = len(cloud.fips) + 100
    fip.update(
        floating_network_id=req["floating_network_id"],
        port_id=req.get("port_id"),
        fixed_ip_address=port["fixed_ips"][0]["ip_address"] if port else None,
        floating_ip_address=f"172.24.4.{n}",
        router_id=None,
        status="DOWN",
        description=req.get("description", ""),
        port_details=None,
    )
    cloud.fips[fip["id"]] = fip
    return 201, {"floatingip": fip}, {}


# -- glance ------------------------------------------------------------------------------


def glance_versions(cloud: Cloud, q: Any, b: Any) -> Any:
    return 300, _rewrite_hrefs(sample("glance_versions"), f"{BASE}/image"), {}


def glance_list(cloud: Cloud, q: dict[str, list[str]], b: Any) -> Any:
    images = []
    for image in cloud.images.values():
        if "name" in q and image["name"] not in q["name"]:
            continue
        if "tag" in q and not set(q["tag"]) <= set(image["tags"]):
            continue
        if "status" in q and image["status"] not in q["status"]:
            continue
        images.append(image)
    listing = sample("glance_images_list")
    listing["images"] = images
    listing["first"] = "/v2/images"
    listing.pop("next", None)
    return 200, listing, {}


def glance_get(cloud: Cloud, q: Any, b: Any, image_id: str) -> Any:
    if image_id not in cloud.images:
        raise Reply(404, None)
    return 200, cloud.images[image_id], {}


def glance_create(cloud: Cloud, q: Any, body: Any) -> Any:
    image = sample("glance_image_create")
    image.update({k: v for k, v in body.items()})
    image["id"] = cloud.new_id("image")
    image.update(
        status="queued",
        owner=PROJECT_ID,
        file=f"/v2/images/{image['id']}/file",
        self=f"/v2/images/{image['id']}",
        created_at="2026-11-22T10:00:00Z",
        updated_at="2026-11-22T10:00:00Z",
    )
    cloud.images[image["id"]] = image
    return 201, image, {}


def glance_upload(cloud: Cloud, q: Any, body: Any, image_id: str) -> Any:

    image = cloud.images[image_id]
    data = body if isinstance(body, bytes) else b""
    image.update(
        status="active",
        size=len(data),
        virtual_size=len(data),
        checksum=hashlib.md5(data).hexdigest(),  # Glance's own field
        os_hash_algo="sha512",
        os_hash_value=hashlib.sha512(data).hexdigest(),
    )
    return 204, None, {}


def neutron_collection(
    collection: str,
    kind: str,
    create: Callable[..., Any],
    *,
    store: str | None = None,
    gets: bool = False,
    deletes: bool = True,
) -> list[tuple[str, Callable[..., Any]]]:
    """The routes of a Neutron collection kept in ``Cloud.<store>``: its (filtered) list and
    its create, and a get or a delete by id where the tests use them."""
    store = store or collection
    path = f"/networking/v2.0/{collection}"
    routes = [(f"GET {path}", neutron_list(collection, store)), (f"POST {path}", create)]
    if gets:
        routes.append((f"GET {path}/([^/]+)", neutron_get(kind, store)))
    if deletes:
        routes.append((f"DELETE {path}/([^/]+)", neutron_delete(kind, store)))
    return routes


ROUTES: list[tuple[str, Callable[..., Any]]] = [
    (r"GET /identity", keystone_versions),
    (r"GET /identity/v3", keystone_v3),
    (r"POST /identity/v3/auth/tokens", issue_token),
    (r"GET /compute", nova_versions),
    (r"GET /compute/v2.1", nova_version),
    (r"GET /compute/v2.1/flavors/detail", nova_flavors),
    (r"GET /compute/v2.1/limits", nova_limits),
    (r"GET /compute/v2.1/servers/detail", nova_list_servers),
    (r"POST /compute/v2.1/servers", nova_create_server),
    (r"GET /compute/v2.1/servers/([^/]+)", nova_get_server),
    (r"DELETE /compute/v2.1/servers/([^/]+)", nova_delete_server),
    (r"POST /compute/v2.1/servers/([^/]+)/action", nova_action),
    (r"POST /compute/v2.1/servers/([^/]+)/metadata", nova_set_metadata),
    (r"GET /compute/v2.1/os-keypairs", nova_list_keypairs),
    (r"POST /compute/v2.1/os-keypairs", nova_create_keypair),
    (r"DELETE /compute/v2.1/os-keypairs/([^/]+)", nova_delete_keypair),
    (r"GET /networking", neutron_versions),
    *neutron_collection("networks", "network", neutron_create_network, gets=True),
    *neutron_collection("subnets", "subnet", neutron_create_subnet, deletes=False),
    (r"GET /networking/v2.0/routers", neutron_list_routers),
    (r"POST /networking/v2.0/routers", neutron_create_router),
    (
        r"PUT /networking/v2.0/routers/([^/]+)/(add_router_interface|remove_router_interface)",
        neutron_router_interface,
    ),
    (r"DELETE /networking/v2.0/routers/([^/]+)", neutron_delete("router", "routers")),
    *neutron_collection("ports", "port", neutron_create_port),
    *neutron_collection("floatingips", "floatingip", neutron_create_fip, store="fips"),
    (r"GET /image", glance_versions),
    (r"GET /image/v2/images", glance_list),
    (r"POST /image/v2/images", glance_create),
    (r"GET /image/v2/images/([^/]+)", glance_get),
    (r"PUT /image/v2/images/([^/]+)/file", glance_upload),
]


class MiniCloud:
    """Serve a fresh :class:`Cloud` on the fixed loopback address until closed."""

    def __init__(self) -> None:
        self.cloud = Cloud()
        handler = type("BoundHandler", (Handler,), {"cloud": self.cloud})
        self.server = ThreadingHTTPServer((HOST, PORT), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
