"""Which family a libcloud driver belongs to: the one place that tells them apart.

libcloud gives every service one interface, but what a failed build looks like, which
``create_node`` arguments want libcloud objects, and what "already stopped" sounds like
differ between services. The provider handles two families beyond the interface, the
ones it is tested against: **OpenStack** (libcloud's OpenStack drivers and those built
on them) and **EC2** (and the EC2-compatible drivers built on it). Every other driver is
**other**: the portable interface only.
"""

from __future__ import annotations

import enum
from typing import Any


class Family(enum.Enum):
    OPENSTACK = "openstack"
    EC2 = "ec2"
    OTHER = "other"


def family_of(driver: Any) -> Family:
    """The family of a libcloud ``NodeDriver`` instance, by its class."""
    from libcloud.compute.drivers.ec2 import BaseEC2NodeDriver
    from libcloud.compute.drivers.openstack import OpenStackNodeDriver

    if isinstance(driver, OpenStackNodeDriver):
        return Family.OPENSTACK
    if isinstance(driver, BaseEC2NodeDriver):
        return Family.EC2
    return Family.OTHER
