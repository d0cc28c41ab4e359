"""Settings shared by the OpenStack tests and their conftest.

A module of its own, with a unique name: ``from conftest import ...`` would pick up
whichever ``conftest`` module pytest imported first in a whole-repository run.
"""

from __future__ import annotations

import os
from typing import Any

PASSWORD_ENV = "VIRTPROV_OS_TEST_PASSWORD"


def base_options() -> dict[str, Any]:
    """The provider table the tests use: a real cloud when OS_CLOUD is set, else loopback."""
    common = {
        "network_mode": "floating",
        "guest_cidr": "192.168.10.0/24",
        "wait_interval": 0,
        "delete_timeout": 60,
    }
    if os.environ.get("OS_CLOUD"):
        return {
            **common,
            "cloud": os.environ["OS_CLOUD"],
            "image_name": os.environ.get("VIRTPROV_OS_IMAGE", "ipxe-beaker"),
            "external_network": os.environ.get("VIRTPROV_OS_EXTERNAL_NETWORK", "public"),
            "network": os.environ.get("VIRTPROV_OS_NETWORK", "lab-net"),
        }
    from os_minicloud import BASE

    return {
        **common,
        "auth_url": f"{BASE}/identity/v3",
        "username": "virtprov",
        "password": {"env": PASSWORD_ENV},
        "project_name": "lab",
        "region_name": "RegionOne",
        "image_tag": "virtprov-ipxe",
        "external_network": "public",
        "network": "lab-net",
    }
