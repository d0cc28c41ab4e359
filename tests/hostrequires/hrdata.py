"""Flavors and lab shared by the hostRequires tests."""

from __future__ import annotations

from virtprov.model import Flavor, GiB

LAB = "lab.example.com"

#: Shaped like a default Nova flavor list (m1.*), with bigger disks so that most pass the
#: 10 GiB root-disk rule, plus one diskless and one declared-arch flavor.
FLAVORS = (
    Flavor("1", "m1.tiny", vcpus=1, ram_mib=512, disk_bytes=1 * GiB),
    Flavor("2", "m1.small", vcpus=1, ram_mib=2048, disk_bytes=20 * GiB),
    Flavor("3", "m1.medium", vcpus=2, ram_mib=4096, disk_bytes=40 * GiB),
    Flavor("4", "m1.large", vcpus=4, ram_mib=8192, disk_bytes=80 * GiB),
    Flavor("5", "m1.xlarge", vcpus=8, ram_mib=16384, disk_bytes=160 * GiB),
    Flavor("6", "bfv.large", vcpus=4, ram_mib=8192, disk_bytes=0),
)
ALL_OK = ["m1.small", "m1.medium", "m1.large", "m1.xlarge"]
