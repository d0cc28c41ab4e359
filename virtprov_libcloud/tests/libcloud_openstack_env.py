"""The libcloud provider on OpenStack: libcloud's own OpenStack driver against the
reference OpenStack (scripts/reference-openstack), recorded and replayed.

A module of its own, with a unique name (``from conftest import ...`` would pick up
another directory's conftest). Two ways to run:

* replay (the default): the cassettes of ``cassettes/libcloud/openstack/``, recorded from
  the reference OpenStack; the provider table names its Keystone, never contacted;
* live, ``OS_CLOUD`` set (``OS_CLIENT_CONFIG_FILE`` pointing at its clouds.yaml, as
  ``scripts/reference-openstack up`` prints): the tests run against that cloud, the
  cassette tests record with ``--record-mode=rewrite``. The project they use is made for
  them first (:func:`prepare_live_project`), with openstacksdk and the clouds.yaml entry
  ``<OS_CLOUD>-admin``: a project of its own, ``lab-libcloud``, that sees two networks
  (the shared ``lab-net`` and its own ``lab-libcloud-net``), so that a create that names
  no network gets Nova's "Multiple possible networks found", as on a typical production
  cloud, without disturbing anyone else's tests in the seeded project ``lab``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PASSWORD_ENV = "VIRTPROV_LIBCLOUD_OS_PASSWORD"
IMAGE_ENV = "VIRTPROV_LIBCLOUD_OS_IMAGE"
#: The reference OpenStack's Keystone as its clouds.yaml gives it (with the /v3 that
#: libcloud does not want: the provider takes it to Keystone's root).
REFERENCE_AUTH_URL = "http://127.0.0.1:19500/v3"
USER = "virtprov"
REGION = "RegionOne"
#: The project made for these tests, and the networks it sees: (name, CIDR).
PROJECT = "lab-libcloud"
SHARED_NETWORK = ("lab-net", "198.51.100.0/24")
OWN_NETWORK = ("lab-libcloud-net", "10.77.0.0/24")
#: The seeded iPXE image's id in the cloud the cassettes were recorded from.
RECORDED_IMAGE = "b30fa3c8-7ccc-4d82-bcf0-ef0425d2b4d5"
#: A flavor Nova accepts but cannot place on the reference's hypervisor (16 vCPUs).
UNPLACEABLE = "m1.xlarge"
WRONG_USER = "wrong-user"


def live_cloud() -> str | None:
    """The clouds.yaml entry the tests run against, or None when replaying."""
    return os.environ.get("OS_CLOUD") or None


#: Seconds between two polls: a real cloud takes its time, a cassette does not.
POLL_PAUSE = 0.5 if live_cloud() else 0.0
#: How long a live test waits for a state.
LIVE_TIMEOUT = 120.0


def _clouds_yaml() -> dict[str, Any]:
    import yaml

    candidates = [os.environ.get("OS_CLIENT_CONFIG_FILE"), "clouds.yaml"]
    candidates += [str(Path.home() / ".config/openstack/clouds.yaml"), "/etc/openstack/clouds.yaml"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            with open(candidate, encoding="utf-8") as handle:
                return dict(yaml.safe_load(handle)["clouds"])
    raise FileNotFoundError("no clouds.yaml (set OS_CLIENT_CONFIG_FILE)")


def openstack_options(*, fault: str | None = None, **overrides: Any) -> dict[str, Any]:
    """The ``[providers.NAME]`` table of the provider under test: libcloud's OpenStack
    driver in the project :data:`PROJECT`, on its own network unless a guest names another.

    ``fault="wrong-user"``: a user Keystone does not know (clouds.yaml's
    ``<OS_CLOUD>-wrong-user`` when live).
    """
    auth_url, user = REFERENCE_AUTH_URL, USER
    cloud = live_cloud()
    if cloud:
        name = f"{cloud}-{fault}" if fault else cloud
        entry = _clouds_yaml()[name]
        auth_url, user = entry["auth"]["auth_url"], entry["auth"]["username"]
        os.environ[PASSWORD_ENV] = entry["auth"]["password"]
    elif fault == WRONG_USER:
        user = WRONG_USER
    table = {
        "driver": "libcloud",
        "lab": "lab.example.com",
        "libcloud_driver": "openstack",
        "key": user,
        "secret": {"env": PASSWORD_ENV},
        "driver_options": {
            "ex_force_auth_url": auth_url,
            "ex_force_auth_version": "3.x_password",
            "ex_tenant_name": PROJECT,
            "ex_domain_name": "Default",
            "ex_force_service_region": REGION,
        },
        "image": os.environ.get(IMAGE_ENV) if cloud else RECORDED_IMAGE,
        "network": OWN_NETWORK[0],
    }
    return {**table, **overrides}


def prepare_live_project() -> Iterator[dict[str, str]]:
    """Make :data:`PROJECT` (with the seeded user as member) and its own network, find the
    seeded iPXE image; remove the network and the project afterwards.

    Runs only live or recording, with openstacksdk and the ``<OS_CLOUD>-admin`` entry:
    none of these requests is the provider's, so none goes into a cassette.
    """
    import openstack

    cloud = live_cloud()
    admin = openstack.connect(cloud=f"{cloud}-admin")
    project = admin.identity.find_project(PROJECT) or admin.identity.create_project(
        name=PROJECT, domain_id="default", description="virtprov-libcloud tests"
    )
    user = admin.identity.find_user(USER, domain_id="default")
    role = admin.identity.find_role("member")
    admin.identity.assign_project_role_to_user(project, user, role)
    name, cidr = OWN_NETWORK
    network = admin.network.find_network(name, project_id=project.id)
    if network is None:
        network = admin.network.create_network(name=name, project_id=project.id)
        admin.network.create_subnet(
            name=f"{name}-subnet",
            network_id=network.id,
            project_id=project.id,
            ip_version=4,
            cidr=cidr,
        )
    image = admin.image.find_image("ipxe-beaker")
    os.environ[IMAGE_ENV] = str(image.id)
    try:
        yield {"project": str(project.id), "network": str(network.id), "image": str(image.id)}
    finally:
        for server in admin.compute.servers(all_projects=True, project_id=project.id):
            admin.compute.delete_server(server)
            admin.compute.wait_for_delete(server)
        for port in admin.network.ports(network_id=network.id):
            if port.device_owner.startswith("compute:"):
                admin.network.delete_port(port)
        admin.network.delete_network(network)  # its subnet goes with it
        admin.identity.delete_project(project)
        admin.close()
