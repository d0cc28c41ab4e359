"""The oVirt provider's guests against cassettes (real RHV 4.3 inventory + composed life).

Errors have their own module (``test_ovirt_errors.py``).
"""

from __future__ import annotations

import urllib.parse
import xml.etree.ElementTree as ET

import pytest
from ovirt_engine import Engine
from virtprov_ovirt.naming import encode_labels

from virtprov import model
from virtprov.errors import PermanentError, ProviderError

SMALL = model.Flavor(
    id="size:small", name="small", vcpus=1, ram_mib=1024, disk_bytes=20 * model.GiB
)
MEDIUM = model.Flavor(
    id="size:medium", name="medium", vcpus=2, ram_mib=2048, disk_bytes=30 * model.GiB
)
NEWC = "b875154c-5b87-4068-aa3f-f32c4d672193"  # cluster of data center Newd
NEWD1_CLUSTER = "1c273044-e6ca-492f-9ac2-47381b626808"
VENUS_DATA = "26c8cd54-65d4-424f-a870-8145439bba1c"  # Newd's roomiest data domain
OVIRTMGMT_NEWD = "52ac0668-d782-4079-bd2e-c3fafea0c858"  # the ovirtmgmt profile of Newd


def posted(engine: Engine, suffix: str, method: str = "POST") -> list[ET.Element]:
    """The XML bodies the provider sent to paths ending in ``suffix``."""
    return [
        ET.fromstring(body)
        for request, body in zip(engine.server.requests, engine.server.bodies, strict=True)
        if request.startswith(f"{method} /ovirt-engine/api") and request.endswith(suffix) and body
    ]


def searches(engine: Engine) -> list[str]:
    """The searches the provider sent, decoded."""
    found = []
    for request in engine.server.requests:
        query = urllib.parse.urlsplit(request.split(" ", 1)[1]).query
        found += urllib.parse.parse_qs(query).get("search", [])
    return found


def wait(provider: object, guest_id: str, state: model.GuestState, tries: int = 10) -> object:
    for _ in range(tries):
        guest = provider.poll([guest_id])[guest_id]  # type: ignore[attr-defined]
        if guest.state is state:
            return guest
    raise AssertionError(f"{guest_id} never reached {state}")


def test_life_with_network_boot(engine: Engine) -> None:
    provider = engine.provider()
    spec = model.GuestSpec.for_recipe(101, MEDIUM, pool="lab-pool")
    guest = provider.create_guest(spec)
    assert guest.state is model.GuestState.BUILDING
    assert guest.name == "beaker-recipe-101"
    assert guest.labels == {model.LABEL_POOL: "lab-pool", model.LABEL_RECIPE: "101"}
    (mac,) = guest.macs  # read back from the engine's MAC pool at once
    # What was asked of the engine: Blank template, memory guaranteed in full, two vCPUs,
    # network boot first, the labels in the description, in Newd's only cluster.
    (vm,) = posted(engine, "/vms")
    assert vm.findtext("template/name") == "Blank"
    assert vm.find("cluster").get("id") == NEWC  # type: ignore[union-attr]
    assert int(vm.findtext("memory") or 0) == 2048 * model.MiB
    assert int(vm.findtext("memory_policy/guaranteed") or 0) == 2048 * model.MiB
    assert vm.findtext("cpu/topology/sockets") == "2"
    assert [d.text for d in vm.iterfind("os/boot/devices/device")] == ["network", "hd"]
    assert vm.findtext("description") == encode_labels(spec.labels)
    # With a serial console, which console_output sends users to.
    assert vm.findtext("console/enabled") == "true"
    (nic,) = posted(engine, "/nics")
    assert nic.findtext("interface") == "virtio"
    assert nic.find("vnic_profile").get("id") == OVIRTMGMT_NEWD  # type: ignore[union-attr]
    (attachment,) = posted(engine, "/diskattachments")
    assert attachment.findtext("bootable") == "true"
    assert attachment.findtext("disk/format") == "cow"
    assert attachment.findtext("disk/sparse") == "true"
    assert int(attachment.findtext("disk/provisioned_size") or 0) == 30 * model.GiB
    storage = attachment.find("disk/storage_domains/storage_domain")
    assert storage is not None
    assert storage.get("id") == VENUS_DATA

    # The disk is locked on the first look, then ok: the VM is down and never ran.
    assert provider.poll([guest.id])[guest.id].state is model.GuestState.BUILDING
    ready = provider.poll([guest.id])[guest.id]
    assert ready.state is model.GuestState.READY
    assert ready.macs == (mac,)
    # Created but not running: the engine reserves nothing, the provider does; it finds
    # such VMs with a search the engine can parse (an invalid one finds nothing at all).
    assert provider.capacity().ram_mib == 15497 - 2048
    assert searches(engine)[-1] == "status=down or status=imagelocked"

    provider.start_guest(guest.id)
    # The engine shows no trace of a past run on a VM that is down: the VM is marked.
    (mark,) = posted(engine, f"/vms/{guest.id}", method="PUT")
    assert mark.findtext("comment") == "made by virtprov; started"
    assert provider.poll([guest.id])[guest.id].state is model.GuestState.RUNNING
    provider.stop_guest(guest.id)
    wait(provider, guest.id, model.GuestState.STOPPED)
    provider.stop_guest(guest.id)  # already down: the engine skips it, with success

    provider.destroy_guest(guest.id)
    assert provider.poll([guest.id]) == {}
    provider.destroy_guest(guest.id)  # the engine answers 404: silent


def test_direct_kernel_boot_reads_through_autofs(engine: Engine) -> None:
    provider = engine.provider()
    guest = provider.create_guest(model.GuestSpec.for_recipe(102, SMALL, pool="lab-pool"))
    try:
        wait(provider, guest.id, model.GuestState.READY)
        boot = model.KernelBoot(
            kernel="nfs://nfs.lab.example.com:/trees/RHEL-9/images/pxeboot/vmlinuz",
            initrd="nfs://nfs.lab.example.com:/trees/RHEL-9/images/pxeboot/initrd.img",
            cmdline="inst.ks=http://lab.example.com/kickstart/102 console=ttyS0",
        )
        provider.start_guest(guest.id, boot)
        (action,) = posted(engine, "/start")
        assert (
            action.findtext("vm/os/kernel")
            == "/net/nfs.lab.example.com/trees/RHEL-9/images/pxeboot/vmlinuz"
        )
        assert (
            action.findtext("vm/os/initrd")
            == "/net/nfs.lab.example.com/trees/RHEL-9/images/pxeboot/initrd.img"
        )
        assert action.findtext("vm/os/cmdline") == boot.cmdline
        # Run once: the kernel is never stored; when the installer reboots, the engine
        # starts the VM again from its stored configuration (network, then disk).
        assert action.findtext("volatile") == "true"
        assert provider.poll([guest.id])[guest.id].state is model.GuestState.RUNNING
    finally:
        provider.destroy_guest(guest.id)


def test_kernel_boot_from_http_is_refused_before_any_call(engine: Engine) -> None:
    provider = engine.provider()
    boot = model.KernelBoot(kernel="http://x/vmlinuz", initrd="http://x/initrd.img")
    with pytest.raises(ProviderError, match="autofs on /net"):
        provider.start_guest("5e7a0000-0000-0000-0000-000000000001", boot)


def test_list_and_poll_many(engine: Engine) -> None:
    provider = engine.provider()
    a = provider.create_guest(model.GuestSpec.for_recipe(201, SMALL, pool="p1", prefix="vpt-"))
    b = provider.create_guest(model.GuestSpec.for_recipe(202, SMALL, pool="p1", prefix="vpt-"))
    try:
        unknown = "00000000-0000-4000-8000-00000000dead"
        before = len(engine.server.requests)
        polled = provider.poll([a.id, b.id, unknown, "not-an-id"])
        assert set(polled) == {a.id, b.id}
        # One request for the whole batch.
        assert [r.split("?")[0] for r in engine.server.requests[before:]] == [
            "GET /ovirt-engine/api/vms"
        ]
        listed = {g.name: g for g in provider.list_guests("vpt-")}
        assert set(listed) == {"vpt-recipe-201", "vpt-recipe-202"}
        assert listed["vpt-recipe-202"].labels[model.LABEL_RECIPE] == "202"
        assert provider.list_guests("nobody-") == []
    finally:
        provider.destroy_guest(a.id)
        provider.destroy_guest(b.id)


def test_stopped_and_ready_survive_a_new_provider(engine: Engine) -> None:
    # A launcher restarts: a new provider object must tell a guest that has run from one
    # that never has, from what the engine holds alone.
    provider = engine.provider()
    ran = provider.create_guest(model.GuestSpec.for_recipe(103, SMALL, pool="p"))
    fresh = provider.create_guest(model.GuestSpec.for_recipe(104, SMALL, pool="p"))
    try:
        wait(provider, ran.id, model.GuestState.READY)
        wait(provider, fresh.id, model.GuestState.READY)
        provider.start_guest(ran.id)
        wait(provider, ran.id, model.GuestState.RUNNING)
        provider.stop_guest(ran.id)
        wait(provider, ran.id, model.GuestState.STOPPED)
        restarted = engine.provider()
        polled = restarted.poll([ran.id, fresh.id])
        assert polled[ran.id].state is model.GuestState.STOPPED
        assert polled[fresh.id].state is model.GuestState.READY
        listed = {g.id: g.state for g in restarted.list_guests("beaker-")}
        assert listed == {ran.id: model.GuestState.STOPPED, fresh.id: model.GuestState.READY}
    finally:
        provider.destroy_guest(ran.id)
        provider.destroy_guest(fresh.id)


def test_a_disk_that_fails_is_a_failed_build(engine: Engine) -> None:
    engine.needs_imitation()
    engine.fail_disks()
    provider = engine.provider()
    guest = provider.create_guest(model.GuestSpec.for_recipe(105, SMALL, pool="p"))
    try:
        assert provider.poll([guest.id])[guest.id].state is model.GuestState.BUILDING
        # The engine removed the disk it could not create: not building for ever.
        failed = provider.poll([guest.id])[guest.id]
        assert failed.state is model.GuestState.ERROR
        assert "no disk" in (failed.fault or "")
        # A failed build of this guest, not of the provider: the pool tries again.
        assert provider.classify_fault(failed) is ProviderError
    finally:
        provider.destroy_guest(guest.id)
    assert provider.poll([guest.id]) == {}


def test_flavors_are_ladder_and_instance_types_raised_to_the_floor(engine: Engine) -> None:
    provider = engine.provider()
    flavors = {f.name: f for f in provider.flavors()}
    # Tiny (512 MiB) is raised to the 1024 MiB floor and keeps 1 vCPU: the same shape as
    # the ladder's "small" (1 vCPU, 1024 MiB, 20 GiB), so only one of them is offered.
    assert "Tiny" not in flavors
    assert flavors["small"].ram_mib == 1024
    # Instance types carry no disk: they get the default 20 GiB.
    assert flavors["Small"].disk_bytes == 20 * model.GiB
    assert (flavors["Medium"].vcpus, flavors["Medium"].ram_mib) == (2, 4096)
    assert flavors["Medium"].id == "instance-type:Medium"
    cheapest = min(flavors.values(), key=model.Flavor.sort_key)
    assert cheapest.name == "small"


def test_name_in_use_by_a_stranger_is_left_alone(engine: Engine) -> None:
    provider = engine.provider()
    mine = provider.create_guest(model.GuestSpec.for_recipe(304, SMALL, pool="other-pool"))
    try:
        with pytest.raises(ProviderError, match="does not belong to this guest"):
            provider.create_guest(model.GuestSpec.for_recipe(304, SMALL, pool="p"))
        # The other pool's VM is untouched, nothing else was made.
        assert [g.id for g in provider.list_guests("beaker-")] == [mine.id]
    finally:
        provider.destroy_guest(mine.id)


def test_name_in_use_by_this_guests_leftover_is_replaced(engine: Engine) -> None:
    provider = engine.provider()
    spec = model.GuestSpec.for_recipe(305, SMALL, pool="p")
    leftover = provider.create_guest(spec)  # as if an earlier attempt lost its answer
    again = provider.create_guest(spec)
    try:
        assert again.id != leftover.id
        assert [g.id for g in provider.list_guests("beaker-")] == [again.id]
    finally:
        provider.destroy_guest(again.id)


def test_unknown_data_center_says_how_to_map_one(engine: Engine) -> None:
    provider = engine.provider(
        data_centers=None, lab="lab.beaker.engineering.mylocation.example.com"
    )
    with pytest.raises(PermanentError) as caught:
        provider.capacity()
    assert "lab_beaker_engineering_mylocation_exampl" in str(caught.value)
    assert "map one with data_centers" in str(caught.value)
