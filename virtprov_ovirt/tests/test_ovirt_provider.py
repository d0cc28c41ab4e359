"""The oVirt provider against cassettes (real RHV 4.3 inventory + composed lifecycle)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import attrs
import pytest
from engine_imitation import fault
from ovirt_engine import Engine
from virtprov_ovirt.naming import encode_labels

from virtprov.errors import CapacityExhausted, GuestNotFound, PermanentError, ProviderError
from virtprov.model import (
    LABEL_POOL,
    LABEL_RECIPE,
    Flavor,
    GiB,
    GuestSpec,
    GuestState,
    ImageBoot,
    KernelBoot,
    MiB,
)

SMALL = Flavor(id="size:small", name="small", vcpus=1, ram_mib=1024, disk_bytes=20 * GiB)
MEDIUM = Flavor(id="size:medium", name="medium", vcpus=2, ram_mib=2048, disk_bytes=30 * GiB)
NEWC = "b875154c-5b87-4068-aa3f-f32c4d672193"  # cluster of data center Newd
NEWD1_CLUSTER = "1c273044-e6ca-492f-9ac2-47381b626808"
VENUS_DATA = "26c8cd54-65d4-424f-a870-8145439bba1c"  # Newd's roomiest data domain
OVIRTMGMT_NEWD = "52ac0668-d782-4079-bd2e-c3fafea0c858"  # the ovirtmgmt profile of Newd
NO_HOST = (
    "Cannot run VM. There is no host that satisfies current scheduling constraints. See "
    "below for details:, The host server.domain.local did not satisfy internal filter "
    "Memory because its available memory is too low (487.000000 MB) to run the VM."
)


def posted(engine: Engine, suffix: str) -> list[ET.Element]:
    """The XML bodies the provider POSTed to paths ending in ``suffix``."""
    return [
        ET.fromstring(body)
        for request, body in zip(engine.server.requests, engine.server.bodies, strict=True)
        if request.startswith("POST /ovirt-engine/api") and request.endswith(suffix) and body
    ]


def wait(provider: object, guest_id: str, state: GuestState, tries: int = 10) -> object:
    for _ in range(tries):
        guest = provider.poll([guest_id])[guest_id]  # type: ignore[attr-defined]
        if guest.state is state:
            return guest
    raise AssertionError(f"{guest_id} never reached {state}")


def test_life_with_network_boot(engine: Engine) -> None:
    provider = engine.provider()
    spec = GuestSpec.for_recipe(101, MEDIUM, pool="lab-pool")
    guest = provider.create_guest(spec)
    assert guest.state is GuestState.BUILDING
    assert guest.name == "beaker-recipe-101"
    assert guest.labels == {LABEL_POOL: "lab-pool", LABEL_RECIPE: "101"}
    (mac,) = guest.macs  # read back from the engine's MAC pool at once
    # What was asked of the engine: Blank template, memory guaranteed in full, two vCPUs,
    # network boot first, the labels in the description, in Newd's only cluster.
    (vm,) = posted(engine, "/vms")
    assert vm.findtext("template/name") == "Blank"
    assert vm.find("cluster").get("id") == NEWC  # type: ignore[union-attr]
    assert int(vm.findtext("memory") or 0) == 2048 * MiB
    assert int(vm.findtext("memory_policy/guaranteed") or 0) == 2048 * MiB
    assert vm.findtext("cpu/topology/sockets") == "2"
    assert [d.text for d in vm.iterfind("os/boot/devices/device")] == ["network", "hd"]
    assert vm.findtext("description") == encode_labels(spec.labels)
    (nic,) = posted(engine, "/nics")
    assert nic.findtext("interface") == "virtio"
    assert nic.find("vnic_profile").get("id") == OVIRTMGMT_NEWD  # type: ignore[union-attr]
    (attachment,) = posted(engine, "/diskattachments")
    assert attachment.findtext("bootable") == "true"
    assert attachment.findtext("disk/format") == "cow"
    assert attachment.findtext("disk/sparse") == "true"
    assert int(attachment.findtext("disk/provisioned_size") or 0) == 30 * GiB
    storage = attachment.find("disk/storage_domains/storage_domain")
    assert storage is not None
    assert storage.get("id") == VENUS_DATA

    # The disk is locked on the first look, then ok: the VM is down and never ran.
    assert provider.poll([guest.id])[guest.id].state is GuestState.BUILDING
    ready = provider.poll([guest.id])[guest.id]
    assert ready.state is GuestState.READY
    assert ready.macs == (mac,)
    # Created but not running: the engine reserves nothing, the provider does.
    assert provider.capacity().ram_mib == 15497 - 2048

    provider.start_guest(guest.id)
    assert provider.poll([guest.id])[guest.id].state is GuestState.RUNNING
    provider.stop_guest(guest.id)
    provider.stop_guest(guest.id)  # already down: still fine
    assert provider.poll([guest.id])[guest.id].state is GuestState.STOPPED

    provider.destroy_guest(guest.id)
    assert provider.poll([guest.id]) == {}
    provider.destroy_guest(guest.id)  # the engine answers 404: silent


def test_direct_kernel_boot_reads_through_autofs(engine: Engine) -> None:
    provider = engine.provider()
    guest = provider.create_guest(GuestSpec.for_recipe(102, SMALL, pool="lab-pool"))
    try:
        wait(provider, guest.id, GuestState.READY)
        boot = KernelBoot(
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
        assert action.findtext("volatile") == "true"  # run once: the next boot is from disk
        assert provider.poll([guest.id])[guest.id].state is GuestState.RUNNING
    finally:
        provider.destroy_guest(guest.id)


def test_kernel_boot_from_http_is_refused_before_any_call(engine: Engine) -> None:
    provider = engine.provider()
    boot = KernelBoot(kernel="http://x/vmlinuz", initrd="http://x/initrd.img")
    with pytest.raises(ProviderError, match="autofs on /net"):
        provider.start_guest("5e7a0000-0000-0000-0000-000000000001", boot)


def test_image_boot_is_refused_before_any_call(engine: Engine) -> None:
    provider = engine.provider()
    spec = GuestSpec.for_recipe(203, SMALL, pool="p1", prefix="vpt-")
    before = len(engine.server.requests)
    with pytest.raises(ProviderError, match="image boot is not available on oVirt"):
        provider.create_guest(attrs.evolve(spec, boot=ImageBoot("fedora-template")))
    assert len(engine.server.requests) == before


def test_list_and_poll_many(engine: Engine) -> None:
    provider = engine.provider()
    a = provider.create_guest(GuestSpec.for_recipe(201, SMALL, pool="p1", prefix="vpt-"))
    b = provider.create_guest(GuestSpec.for_recipe(202, SMALL, pool="p1", prefix="vpt-"))
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
        assert listed["vpt-recipe-202"].labels[LABEL_RECIPE] == "202"
        assert provider.list_guests("nobody-") == []
    finally:
        provider.destroy_guest(a.id)
        provider.destroy_guest(b.id)


def test_unknown_guest(engine: Engine) -> None:
    provider = engine.provider()
    unknown = "00000000-0000-4000-8000-00000000dead"
    with pytest.raises(GuestNotFound):
        provider.start_guest(unknown)
    with pytest.raises(GuestNotFound):
        provider.stop_guest(unknown)
    provider.destroy_guest(unknown)
    assert provider.console_output(unknown).unavailable


def test_flavors_are_ladder_and_instance_types_raised_to_the_floor(engine: Engine) -> None:
    provider = engine.provider()
    flavors = {f.name: f for f in provider.flavors()}
    # Tiny (512 MiB) is raised to the 1024 MiB floor and keeps 1 vCPU: the same shape as
    # the ladder's "small" (1 vCPU, 1024 MiB, 20 GiB), so only one of them is offered.
    assert "Tiny" not in flavors
    assert flavors["small"].ram_mib == 1024
    # Instance types carry no disk: they get the default 20 GiB.
    assert flavors["Small"].disk_bytes == 20 * GiB
    assert (flavors["Medium"].vcpus, flavors["Medium"].ram_mib) == (2, 4096)
    assert flavors["Medium"].id == "instance-type:Medium"
    cheapest = min(flavors.values(), key=Flavor.sort_key)
    assert cheapest.name == "small"


def test_quota_in_one_cluster_tries_the_next(engine: Engine) -> None:
    engine.needs_imitation()
    engine.inject(
        "POST",
        "/ovirt-engine/api/vms",
        409,
        fault("Cannot add VM. Quota has insufficient cluster resources."),
    )
    provider = engine.provider(data_centers=["Newd", "newd1"])
    guest = provider.create_guest(GuestSpec.for_recipe(301, SMALL, pool="p"))
    try:
        first, second = posted(engine, "/vms")
        # Roomiest cluster first (newc: 15497 MiB), then newd1_cluster (1189 MiB).
        assert first.find("cluster").get("id") == NEWC  # type: ignore[union-attr]
        assert second.find("cluster").get("id") == NEWD1_CLUSTER  # type: ignore[union-attr]
        assert guest.id
    finally:
        provider.destroy_guest(guest.id)


def test_low_disk_space_everywhere_is_capacity_and_leaves_nothing(engine: Engine) -> None:
    engine.needs_imitation()
    low = fault("Cannot add Virtual Disk. Low disk space on Storage Domain venus-data-1.")
    for _ in range(2):
        engine.inject("POST", r"/ovirt-engine/api/vms/[^/]+/diskattachments", 409, low)
    provider = engine.provider(data_centers=["Newd", "newd1"])
    with pytest.raises(CapacityExhausted, match="Low disk space"):
        provider.create_guest(GuestSpec.for_recipe(302, SMALL, pool="p"))
    # Each half-made VM was removed (Beaker leaked them): two creates, two deletes.
    deletes = [r for r in engine.server.requests if r.startswith("DELETE")]
    assert len(posted(engine, "/vms")) == 2
    assert len(deletes) == 2
    assert provider.list_guests("beaker-") == []


def test_no_host_at_start_is_capacity(engine: Engine) -> None:
    engine.needs_imitation()
    engine.inject("POST", r"/ovirt-engine/api/vms/[^/]+/start", 409, fault(NO_HOST))
    provider = engine.provider()
    guest = provider.create_guest(GuestSpec.for_recipe(303, SMALL, pool="p"))
    try:
        with pytest.raises(CapacityExhausted, match="no host that satisfies") as caught:
            provider.start_guest(guest.id)
        assert caught.value.guest_id == guest.id
    finally:
        provider.destroy_guest(guest.id)


def test_name_in_use_by_a_stranger_is_left_alone(engine: Engine) -> None:
    provider = engine.provider()
    mine = provider.create_guest(GuestSpec.for_recipe(304, SMALL, pool="other-pool"))
    try:
        with pytest.raises(ProviderError, match="does not belong to this guest"):
            provider.create_guest(GuestSpec.for_recipe(304, SMALL, pool="p"))
        # The other pool's VM is untouched, nothing else was made.
        assert [g.id for g in provider.list_guests("beaker-")] == [mine.id]
    finally:
        provider.destroy_guest(mine.id)


def test_name_in_use_by_this_guests_leftover_is_replaced(engine: Engine) -> None:
    provider = engine.provider()
    spec = GuestSpec.for_recipe(305, SMALL, pool="p")
    leftover = provider.create_guest(spec)  # as if an earlier attempt lost its answer
    again = provider.create_guest(spec)
    try:
        assert again.id != leftover.id
        assert [g.id for g in provider.list_guests("beaker-")] == [again.id]
    finally:
        provider.destroy_guest(again.id)


def test_bad_password_is_permanent(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    engine.needs_imitation()
    monkeypatch.setenv("VIRTPROV_OVIRT_TEST_PASSWORD", "wrong")
    provider = engine.provider()
    with pytest.raises(PermanentError, match="access_denied") as caught:
        provider.capacity()
    assert "wrong" not in str(caught.value)


def test_401_from_the_api_is_permanent(engine: Engine) -> None:
    engine.needs_imitation()
    # The real 401 page an engine's web server answered to GET /ovirt-engine/api
    # (ovirt-engine issue 874, in the reference errors); the SDK logs in again once and
    # gives up on the second 401 without saying its status.
    page = (
        '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
        "<title>401 Unauthorized</title>\n</head><body>\n<h1>Unauthorized</h1>\n"
        "<p>This server could not verify that you\nare authorized to access the document\n"
        "requested.  Either you supplied the wrong\ncredentials (e.g., bad password), or your\n"
        "browser doesn't understand how to supply\nthe credentials required.</p>\n"
        "</body></html>"
    )
    for _ in range(2):
        engine.inject("GET", "/ovirt-engine/api/datacenters", 401, page)
    with pytest.raises(PermanentError, match="credentials"):
        engine.provider().capacity()


def test_503_is_transient(engine: Engine) -> None:
    engine.needs_imitation()
    engine.inject(
        "GET", "/ovirt-engine/api/datacenters", 503, fault("Service Unavailable", "Error")
    )
    from virtprov.errors import TransientError

    with pytest.raises(TransientError):
        engine.provider().capacity()


def test_unknown_data_center_says_how_to_map_one(engine: Engine) -> None:
    provider = engine.provider(
        data_centers=None, lab="lab.beaker.engineering.mylocation.example.com"
    )
    with pytest.raises(PermanentError) as caught:
        provider.capacity()
    assert "lab_beaker_engineering_mylocation_exampl" in str(caught.value)
    assert "map one with data_centers" in str(caught.value)
