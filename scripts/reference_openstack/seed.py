"""Seed the reference OpenStack through its own APIs, idempotently (run by refos.py).

``seed.py identity``: service project, users and catalog; the lab projects and user.
``seed.py resources``: flavors, the iPXE stand-in image, networks and quotas.

Runs with the services' venv (it needs keystoneauth1); never prints a password.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

STATE = Path(os.environ["VIRTPROV_REFOS_DIR"])
KEYSTONE = os.environ["VIRTPROV_REFOS_KEYSTONE"]
PORTS: dict[str, int] = json.loads(os.environ["VIRTPROV_REFOS_PORTS"])
PW: dict[str, str] = json.loads((STATE / "passwords.json").read_text())
# `up --guests N`: quotas so that N guests of every seeded flavor fit (empty: defaults).
GUESTS = int(os.environ.get("VIRTPROV_REFOS_GUESTS") or 0) or None
REGION = "RegionOne"
HOST = "127.0.0.1"

SERVICES = {
    # name: (type, public URL, service user)
    "glance": ("image", f"http://{HOST}:{PORTS['glance']}", "glance"),
    "placement": ("placement", f"http://{HOST}:{PORTS['placement']}", "placement"),
    "nova": ("compute", f"http://{HOST}:{PORTS['nova-api']}/v2.1", "nova"),
    "neutron": ("network", f"http://{HOST}:{PORTS['neutron']}", "neutron"),
}
LAB = "lab"
# The projects whose quotas provoke one fault each (named after the tests' faults).
FAULT_PROJECTS = ("lab-quota-instances", "lab-quota-cores-ram", "lab-overquota")
FLAVORS = [
    # id, name, vCPUs, RAM MiB, disk GiB, extra specs
    ("1", "m1.tiny", 1, 512, 1, {}),
    ("2", "m1.small", 1, 2048, 20, {}),
    ("3", "m1.medium", 2, 4096, 40, {"hw:architecture": "x86_64"}),
    ("4", "m1.large", 4, 8192, 80, {"hw:architecture": "x86_64"}),
    # More than the fake hypervisor has (8 vCPUs, 16 GiB, 100 GiB), within the quota:
    # booting it ends in "No valid host was found".
    ("5", "m1.xlarge", 16, 32768, 160, {}),
    # Disabled after creation (Nova has no API for it): listed, never offered.
    ("6", "m1.retired", 1, 1024, 10, {}),
    # Declares what it offers beyond size (CPU flags, vTPM, UEFI...): docs/declared-properties.md
    (
        "7",
        "m1.nested",
        4,
        8192,
        90,
        {
            "trait:HW_CPU_X86_VMX": "required",
            "trait:HW_CPU_X86_AVX2": "required",
            "hw:tpm_version": "2.0",
            "os:secure_boot": "required",
            "virtprov:system.numa-nodes": "2",
        },
    ),
]
IMAGE_NAME = "ipxe-beaker"
IMAGE_TAG = "virtprov-ipxe"
IMAGE_BYTES = 1024 * 1024


def admin_session() -> ks_session.Session:
    auth = v3.Password(
        auth_url=KEYSTONE,
        username="admin",
        password=PW["admin"],
        project_name="admin",
        user_domain_name="Default",
        project_domain_name="Default",
    )
    return ks_session.Session(auth=auth)


class Api:
    """One service's API through the admin session, raising on any unexpected status."""

    def __init__(self, sess: ks_session.Session, service_type: str, **headers: str) -> None:
        self.sess = sess
        self.filter = {"service_type": service_type, "interface": "public"}
        self.headers = headers

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        headers = {**self.headers, **kw.pop("headers", {})}
        response = self.sess.request(
            path,
            method,
            endpoint_filter=self.filter,
            json=body,
            headers=headers,
            raise_exc=True,
            **kw,
        )
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def get(self, path: str, **kw: Any) -> Any:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, body)

    def put(self, path: str, body: Any = None) -> Any:
        return self.call("PUT", path, body)


def one(items: list[dict[str, Any]], what: str) -> dict[str, Any] | None:
    if len(items) > 1:
        sys.exit(f"seed: more than one {what}")
    return items[0] if items else None


# -- identity -----------------------------------------------------------------------------


def identity() -> None:
    ks = Api(admin_session(), "identity")

    def ensure(kind: str, name: str, body: dict[str, Any], **query: str) -> str:
        found = one(ks.get(f"/{kind}s", params={"name": name, **query})[f"{kind}s"], kind)
        if found is None:
            found = ks.post(f"/{kind}s", {kind: {"name": name, **body}})[kind]
        return str(found["id"])

    def grant(project: str, user: str, role: str) -> None:
        ks.put(f"/projects/{project}/users/{user}/roles/{role}")

    def user(name: str, password: str, project: str) -> str:
        uid = ensure("user", name, {"domain_id": "default", "default_project_id": project})
        # Setting the password every time keeps it in step with passwords.json.
        ks.call("PATCH", f"/users/{uid}", {"user": {"password": password}})
        return uid

    roles = {name: ensure("role", name, {}) for name in ("admin", "member", "reader", "service")}
    service = ensure("project", "service", {"domain_id": "default"}, domain_id="default")
    for name, (stype, url, username) in SERVICES.items():
        uid = user(username, PW["service"], service)
        grant(service, uid, roles["admin"])
        grant(service, uid, roles["service"])
        sid = ensure("service", name, {"type": stype})
        endpoints = ks.get("/endpoints", params={"service_id": sid, "interface": "public"})
        current = endpoints["endpoints"]
        if current and current[0]["url"] != url:
            ks.call("DELETE", f"/endpoints/{current[0]['id']}")
            current = []
        if not current:
            ks.post(
                "/endpoints",
                {
                    "endpoint": {
                        "service_id": sid,
                        "interface": "public",
                        "url": url,
                        "region_id": REGION,
                    }
                },
            )
    lab_user: str | None = None
    for project in (LAB, *FAULT_PROJECTS):
        pid = ensure("project", project, {"domain_id": "default"}, domain_id="default")
        if lab_user is None:
            lab_user = user("virtprov", PW["user"], pid)
        grant(pid, lab_user, roles["member"])
    print("seed: identity ready")


# -- resources ----------------------------------------------------------------------------


def project_id(ks: Api, name: str) -> str:
    found = one(ks.get("/projects", params={"name": name})["projects"], f"project {name}")
    if found is None:
        sys.exit(f"seed: project {name} is missing; run the identity stage first")
    return str(found["id"])


def flavors(nova: Api) -> None:
    listed = nova.get("/flavors/detail", params={"is_public": "None"})["flavors"]
    existing = {f["id"]: f for f in listed}
    for fid, name, vcpus, ram, disk, specs in FLAVORS:
        if fid not in existing:
            nova.post(
                "/flavors",
                {"flavor": {"id": fid, "name": name, "vcpus": vcpus, "ram": ram, "disk": disk}},
            )
        if specs:
            nova.post(f"/flavors/{fid}/os-extra_specs", {"extra_specs": specs})


def image(glance: Api, owner: str) -> None:
    images = glance.get("/v2/images", params={"name": IMAGE_NAME})["images"]
    if any(i["status"] == "active" for i in images):
        return
    for stale in images:  # an upload that never finished
        glance.call("DELETE", f"/v2/images/{stale['id']}")
    made = glance.post(
        "/v2/images",
        {
            "name": IMAGE_NAME,
            "disk_format": "raw",
            "container_format": "bare",
            "visibility": "public",
            "tags": [IMAGE_TAG],
            "architecture": "x86_64",
            "owner": owner,
        },
    )
    # A blank 1 MiB disk stands for the iPXE image: the fake hypervisor never reads it.
    glance.call(
        "PUT",
        f"/v2/images/{made['id']}/file",
        data=b"\0" * IMAGE_BYTES,
        headers={"Content-Type": "application/octet-stream"},
    )


def networks(neutron: Api, lab: str) -> None:
    def ensure(kind: str, name: str, body: dict[str, Any]) -> str:
        found = one(neutron.get(f"/v2.0/{kind}s", params={"name": name})[f"{kind}s"], kind)
        if found is None:
            found = neutron.post(f"/v2.0/{kind}s", {kind: {"name": name, **body}})[kind]
        return str(found["id"])

    public = ensure(
        "network",
        "public",
        {
            "router:external": True,
            "provider:network_type": "flat",
            "provider:physical_network": "public",
        },
    )
    # Documentation ranges (RFC 5737): these addresses exist only in Neutron's database.
    ensure(
        "subnet",
        "public-subnet",
        {
            "network_id": public,
            "ip_version": 4,
            "cidr": "203.0.113.0/24",
            "gateway_ip": "203.0.113.1",
            "enable_dhcp": False,
        },
    )
    # Shared, so that the fault projects can boot on it in fixed mode too.
    lab_net = ensure("network", "lab-net", {"project_id": lab, "shared": True})
    neutron.put(f"/v2.0/networks/{lab_net}", {"network": {"shared": True}})
    ensure(
        "subnet",
        "lab-subnet",
        {"network_id": lab_net, "project_id": lab, "ip_version": 4, "cidr": "198.51.100.0/24"},
    )


def lab_quotas(guests: int | None) -> tuple[dict[str, int], dict[str, int]]:
    """Nova's and Neutron's quotas of the project ``lab``.

    Without ``guests``, Nova's defaults, explicit (10 instances, 20 cores, 50 GiB of RAM)
    and Neutron's own. With it, room for that many guests of the largest bootable flavor
    (4 vCPUs, 8 GiB), each in floating mode (a router, network, subnet, floating IP and
    up to 4 ports), never less than the defaults.
    """
    nova = {"instances": 10, "cores": 20, "ram": 51200}
    if guests is None:
        return nova, {}
    nova = {
        "instances": max(10, guests),
        "cores": max(20, 4 * guests),
        "ram": max(51200, 8192 * guests),
    }
    neutron = {
        "router": max(10, guests),
        "network": max(100, guests),
        "subnet": max(100, guests),
        "floatingip": max(50, guests),
        "port": max(500, 4 * guests),
    }
    return nova, neutron


def quotas(nova: Api, neutron: Api, ids: dict[str, str]) -> None:
    compute, network = lab_quotas(GUESTS)
    nova.put(f"/os-quota-sets/{ids[LAB]}", {"quota_set": compute})
    if network:
        neutron.put(f"/v2.0/quotas/{ids[LAB]}", {"quota": network})
    else:  # Neutron's defaults again (after an `up --guests N`); 404: they are
        with contextlib.suppress(ks_exceptions.NotFound):
            neutron.call("DELETE", f"/v2.0/quotas/{ids[LAB]}")
    nova.put(f"/os-quota-sets/{ids['lab-quota-instances']}", {"quota_set": {"instances": 0}})
    nova.put(f"/os-quota-sets/{ids['lab-quota-cores-ram']}", {"quota_set": {"cores": 0, "ram": 0}})
    neutron.put(f"/v2.0/quotas/{ids['lab-overquota']}", {"quota": {"network": 0}})


def resources() -> None:
    sess = admin_session()
    ks = Api(sess, "identity")
    nova = Api(sess, "compute", **{"OpenStack-API-Version": "compute 2.75"})
    glance = Api(sess, "image")
    neutron = Api(sess, "network")
    ids = {name: project_id(ks, name) for name in (LAB, *FAULT_PROJECTS, "admin")}
    flavors(nova)
    image(glance, ids["admin"])
    networks(neutron, ids[LAB])
    quotas(nova, neutron, ids)
    print("seed: resources ready")


def compute() -> None:
    """Wait until nova-compute reports up and its inventory is in Placement."""
    sess = admin_session()
    nova = Api(sess, "compute", **{"OpenStack-API-Version": "compute 2.75"})
    placement = Api(sess, "placement", **{"OpenStack-API-Version": "placement 1.10"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        services = nova.get("/os-services", params={"binary": "nova-compute"})["services"]
        providers = placement.get("/resource_providers")["resource_providers"]
        if any(s["state"] == "up" for s in services) and providers:
            inventory = placement.get(f"/resource_providers/{providers[0]['uuid']}/inventories")
            if inventory["inventories"]:
                print("seed: compute ready")
                return
        time.sleep(1)
    sys.exit("seed: nova-compute is not up with an inventory in Placement after 120 s")


if __name__ == "__main__":
    {"identity": identity, "resources": resources, "compute": compute}[sys.argv[1]]()
