"""Capacity from real RHV 4.3 inventories (ManageIQ's recordings), checked by hand.

The figures below are derived by hand from the recorded XML (``data/``), not by the
code under test.
"""

from __future__ import annotations

import pytest
from ovirt_engine import Engine

from virtprov.errors import CapacityExhausted
from virtprov.model import Capacity, Flavor, GiB, GuestSpec, MiB

# Blocker: every data domain of these inventories has critical_space_action_blocker = 5 (GiB).
BLOCKER = 5 * GiB


def test_capacity_of_data_center_newd(engine: Engine) -> None:
    provider = engine.provider(data_centers=["Newd"])
    # Newd (2812e1c2-…) holds one cluster, newc (b875154c-…). Its only host, bodh2, is up:
    #   max_scheduling_memory 16249782272 B = 16249782272 / 1048576 = 15497 MiB.
    # (bodh1 belongs to newd1_cluster of the other data center: not counted.)
    # No VM of this provider exists, so nothing created-but-not-running is taken off.
    ram_mib = 16249782272 // MiB
    assert ram_mib == 15497
    # Active data domains attached to Newd: okscsi 39728447488 B, venus-data-1
    # 168577466368 B (venusiso is an ISO domain: not counted), each less its blocker:
    #   (39728447488 - 5 GiB) + (168577466368 - 5 GiB) = 32 GiB + 152 GiB = 184 GiB.
    disk = (39728447488 - BLOCKER) + (168577466368 - BLOCKER)
    assert disk == 184 * GiB
    assert provider.capacity() == Capacity(
        instances=None, vcpus=None, ram_mib=15497, disk_bytes=184 * GiB
    )


def test_capacity_of_both_data_centers(engine: Engine) -> None:
    provider = engine.provider(data_centers=["Newd", "newd1"])
    room = provider.room()
    # newd1 adds newd1_cluster with bodh1 (up): 1246756864 B = 1189 MiB, 2 sockets x 1 core.
    assert {h.name: (h.free_mib, h.cpus) for h in room.hosts} == {
        "bodh1": (1189, 2),
        "bodh2": (15497, 8),
    }
    # newd1's data domains: data_spider_1 37580963840 B and iscsi_n 100931731456 B
    # (yellow is ISO): 30 GiB + 89 GiB after the blockers; with Newd's 184 GiB: 303 GiB.
    assert 119 * GiB == (37580963840 - BLOCKER) + (100931731456 - BLOCKER)
    assert provider.capacity() == Capacity(ram_mib=15497 + 1189, disk_bytes=(184 + 119) * GiB)
    # vm_on (2 GiB, up) already counts in bodh1's max_scheduling_memory; vm_off is down
    # but not ours, so nothing pending.
    assert dict(room.pending_mib) == {}


def test_non_responsive_host_gives_nothing_and_create_is_refused_before_any_post(
    lans_engine: Engine,
) -> None:
    provider = lans_engine.provider(data_centers=["newd1"])
    # The later inventory: bodh1 is non_responsive (ignored), bodh2 (moved into
    # newd1_cluster) is up with max_scheduling_memory 635437056 B = 606 MiB.
    # Data domains: data_spider_1 32212254720 B -> 25 GiB, iscsi_n 100931731456 B -> 89 GiB.
    assert 635437056 // MiB == 606
    assert 114 * GiB == (32212254720 - BLOCKER) + (100931731456 - BLOCKER)
    assert provider.capacity() == Capacity(ram_mib=606, disk_bytes=114 * GiB)
    flavor = Flavor(id="size:small", name="small", vcpus=1, ram_mib=1024, disk_bytes=20 * GiB)
    with pytest.raises(CapacityExhausted, match="no host has 1024 MiB and 1 CPUs free"):
        provider.create_guest(GuestSpec.for_recipe(7, flavor, pool="p"))
    # The cassette holds no POST: the refusal came from the capacity check alone.
    assert not [r for r in lans_engine.server.requests if r.startswith("POST /ovirt-engine/api")]


def test_guests_created_and_not_running_are_taken_off(engine: Engine) -> None:
    provider = engine.provider(data_centers=["Newd"])
    flavor = Flavor(id="size:small", name="small", vcpus=1, ram_mib=1024, disk_bytes=20 * GiB)
    guest = provider.create_guest(GuestSpec.for_recipe(8, flavor, pool="p"))
    try:
        # The engine reserves nothing for a VM that is down; the provider takes its
        # memory off bodh2's 15497 MiB. It finds such VMs with the search
        # "status=down or status=imagelocked" (the engine's names: "image_locked" would
        # make the whole search invalid, answered with an empty list).
        assert provider.capacity().ram_mib == 15497 - 1024
        assert provider.room().pending_mib == {"b875154c-5b87-4068-aa3f-f32c4d672193": 1024}
    finally:
        provider.destroy_guest(guest.id)
    assert provider.capacity().ram_mib == 15497
