"""Settings shared by the OpenStack tests and their conftest.

A module of its own, with a unique name: ``from conftest import ...`` would pick up
whichever ``conftest`` module pytest imported first in a whole-repository run.

Three ways to run:

* replay (the default): the cassettes of ``cassettes/openstack/``, recorded from the
  reference OpenStack (``scripts/reference-openstack``); the provider table names the
  reference cloud's Keystone, which is never contacted (the network is blocked);
* live, ``OS_CLOUD`` set (``--record-mode=rewrite`` re-records the cassettes): a real
  cloud through ``clouds.yaml``; the tests that provoke a fault need one more entry per
  fault, ``<OS_CLOUD>-<fault>`` (see :func:`fault_options`), and are skipped without it;
* composing, ``VIRTPROV_OS_MINICLOUD=1``: the loopback imitation ``os_minicloud.py``, for
  the one cassette a real cloud cannot be made to produce on purpose (503 and 429).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from virtprov.provider import Provider

PASSWORD_ENV = "VIRTPROV_OS_TEST_PASSWORD"
#: The reference OpenStack's Keystone (scripts/reference_openstack/refos.py).
REFERENCE_AUTH_URL = "http://127.0.0.1:19500/v3"
#: The faults that a cloud produces for a project or user set up for them.
FAULTS = ("quota-instances", "quota-cores-ram", "overquota", "wrong-user")


def live_cloud() -> str | None:
    """The clouds.yaml entry the tests run against, or None when replaying."""
    return os.environ.get("OS_CLOUD") or None


#: Seconds between two polls: a real cloud takes its time, a cassette does not.
POLL_PAUSE = 0.5 if live_cloud() else 0.0
#: How long a live test waits for a state.
LIVE_TIMEOUT = 120.0


def destroy(provider: Provider, *guest_ids: str) -> None:
    """Destroy to the end: the servers gone, what they left deleted (paced on a live
    cloud, as fast as a cassette allows)."""
    from virtprov.teardown import destroy_and_wait

    destroy_and_wait(
        provider,
        guest_ids,
        timeout=LIVE_TIMEOUT,
        interval=POLL_PAUSE,
        sleep=time.sleep if POLL_PAUSE else lambda _: None,
    )


def base_options() -> dict[str, Any]:
    """The provider table the tests use: a real cloud when OS_CLOUD is set, else replay."""
    common = {
        "network_mode": "floating",
        "guest_cidr": "192.168.10.0/24",
        "image_name": os.environ.get("VIRTPROV_OS_IMAGE", "ipxe-beaker"),
        "external_network": os.environ.get("VIRTPROV_OS_EXTERNAL_NETWORK", "public"),
        "network": os.environ.get("VIRTPROV_OS_NETWORK", "lab-net"),
    }
    cloud = live_cloud()
    if cloud:
        return {**common, "cloud": cloud}
    # What the reference cloud's clouds.yaml says, as a table (the cassettes' requests).
    return {
        **common,
        "auth_url": REFERENCE_AUTH_URL,
        "username": "virtprov",
        "password": {"env": PASSWORD_ENV},
        "project_name": "lab",
        "region_name": "RegionOne",
    }


def fault_options(fault: str) -> dict[str, Any]:
    """Provider-table overrides under which the cloud refuses on purpose.

    Live, they name the clouds.yaml entry ``<OS_CLOUD>-<fault>``: a project whose quota
    is zero for what the fault needs (``quota-instances``: instances; ``quota-cores-ram``:
    cores and RAM; ``overquota``: Neutron networks) or, for ``wrong-user``, a user that
    does not exist. The reference cloud's clouds.yaml has them all.
    """
    assert fault in FAULTS, fault
    cloud = live_cloud()
    if cloud:
        name = f"{cloud}-{fault}"
        import openstack.config

        try:
            openstack.config.OpenStackConfig().get_one(cloud=name)
        except Exception:
            pytest.skip(f"clouds.yaml has no entry {name!r} to provoke {fault}")
        return {"cloud": name}
    if fault == "wrong-user":
        return {"username": "wrong-user"}
    return {"project_name": f"lab-{fault}"}


def minicloud_options(**overrides: Any) -> dict[str, Any]:
    """The table of the loopback imitation that composed the cassettes a real cloud cannot
    give: 503 and 429, and the pool's round trip (see cassettes/README.md)."""
    from os_minicloud import BASE

    return {
        "network_mode": "floating",
        "guest_cidr": "192.168.10.0/24",
        "auth_url": f"{BASE}/identity/v3",
        "username": "virtprov",
        "password": {"env": PASSWORD_ENV},
        "project_name": "lab",
        "region_name": "RegionOne",
        "image_name": None,  # None removes the key from base_options()
        "image_tag": "virtprov-ipxe",
        "external_network": "public",
        "network": "lab-net",
        **overrides,
    }
