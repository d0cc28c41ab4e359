"""The OpenStack provider against recorded traffic (cassettes/openstack/*.yaml)."""

from __future__ import annotations

import base64
import email
import json
import time
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from openstack_testenv import (
    LIVE_TIMEOUT,
    POLL_PAUSE,
    destroy,
    fault_options,
    live_cloud,
    minicloud_options,
)
from virtprov_openstack.provider import OpenStackProvider

from virtprov import errors
from virtprov.model import LABEL_POOL, LABEL_RECIPE, Flavor, GuestSpec, GuestState, ImageBoot
from virtprov.model import MAC_ADDRESS as MAC


def cheapest(provider: OpenStackProvider) -> Flavor:
    return min(provider.flavors(), key=Flavor.sort_key)


def spec_for(flavor: Flavor, recipe: str, prefix: str = "vptest-") -> GuestSpec:
    return GuestSpec.for_recipe(recipe, flavor, pool="lab-pool", prefix=prefix)


def largest(provider: OpenStackProvider) -> Flavor:
    return max(provider.flavors(), key=Flavor.sort_key)


def until(provider: OpenStackProvider, guest_id: str, *states: GuestState) -> Any:
    """Poll until one of ``states``: paced on a live cloud, as fast as a cassette allows."""
    deadline = time.monotonic() + LIVE_TIMEOUT
    while True:
        guest = provider.poll([guest_id])[guest_id]
        if guest.state in states:
            return guest
        if time.monotonic() > deadline:
            raise AssertionError(f"{guest_id} never reached {states}: last {guest.state}")
        time.sleep(POLL_PAUSE)


def until_gone(provider: OpenStackProvider, guest_id: str) -> None:
    deadline = time.monotonic() + LIVE_TIMEOUT
    while provider.poll([guest_id]):
        assert time.monotonic() < deadline, f"{guest_id} was never deleted"
        time.sleep(POLL_PAUSE)


def neutron_resource(path: str) -> str | None:
    """``routers`` for ``<endpoint>/v2.0/routers/...``, whatever the endpoint's own path."""
    parts = path.split("/")
    return parts[parts.index("v2.0") + 1] if "v2.0" in parts[:-1] else None


#: The image-boot test's keys: the first becomes the guest's key pair, the second
#: reaches cloud-init through the user data (their private halves were thrown away).
IMAGE_KEYS = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJcYR9ChAvcJJXm8hPq7KCkjsuDzcI5hGpWOIS4xplJA tmt-run",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl second",
)
IMAGE_USER_DATA = "#cloud-config\nruncmd:\n  - [touch, /run/virtprov-image-boot]\n"


def image_boot_life(provider: OpenStackProvider, recipe: str) -> GuestSpec:
    """An image boot with a key pair and user data: running with an address, then gone.

    The image is the reference cloud's only one, booted by name (the fake hypervisor
    never reads it). Returns the spec, for the caller's checks of what was sent.
    """
    boot = ImageBoot("ipxe-beaker", user_data=IMAGE_USER_DATA, ssh_public_keys=IMAGE_KEYS)
    spec = attrs.evolve(spec_for(cheapest(provider), recipe), boot=boot)
    guest = provider.create_guest(spec)
    try:
        running = until(provider, guest.id, GuestState.RUNNING)
        assert running.addresses, "an image-boot guest runs with an address"
        assert provider.conn.compute.get_server(guest.id).key_name == spec.name
        keypair = provider.conn.compute.find_keypair(spec.name, ignore_missing=True)
        assert keypair is not None
        assert keypair.public_key.split()[:2] == IMAGE_KEYS[0].split()[:2]
    finally:
        destroy(provider, guest.id)
    assert provider.conn.compute.find_keypair(spec.name, ignore_missing=True) is None
    assert guest.id not in provider.poll([guest.id])
    return spec


@pytest.mark.vcr
def test_image_boot_with_key_pair_and_user_data(provider: OpenStackProvider, vcr: Any) -> None:
    """Glance image by name, a key pair made for the guest and removed with it, user data."""
    spec = image_boot_life(provider, "501")
    (body,) = [
        json.loads(r.body)["server"]
        for r in vcr.requests
        if r.method == "POST" and r.path.endswith("/servers")
    ]
    assert body["key_name"] == spec.name
    assert body["metadata"]["virtprov-phase"] == "started"  # never stopped after its build
    archive = email.message_from_string(base64.b64decode(body["user_data"]).decode())
    # the user's part unchanged, and the second key as a cloud-config part beside it
    assert archive.get_content_type() == "multipart/mixed"
    parts = [
        (part.get_content_type(), part.get_payload(decode=True).decode())
        for part in archive.get_payload()
    ]
    assert parts[0] == ("text/cloud-config", IMAGE_USER_DATA)
    assert parts[1][0] == "text/cloud-config"
    assert IMAGE_KEYS[1] in parts[1][1]
    assert IMAGE_KEYS[0] not in parts[1][1]  # the first key is the key pair


@pytest.mark.vcr
def test_image_boot_of_a_missing_image_fails_the_launch_not_the_provider(
    provider: OpenStackProvider,
) -> None:
    boot = ImageBoot("no-such-image-anywhere")
    spec = attrs.evolve(spec_for(cheapest(provider), "502"), boot=boot)
    with pytest.raises(errors.ProviderError, match="no Glance image is named") as caught:
        provider.create_guest(spec)
    assert not isinstance(caught.value, errors.PermanentError)


@pytest.mark.vcr
def test_flavors(provider: OpenStackProvider) -> None:
    flavors = provider.flavors()
    assert flavors
    names = {f.name for f in flavors}
    assert "m1.retired" not in names  # disabled flavors are left out
    tiny = next(f for f in flavors if f.name == "m1.tiny")
    assert (tiny.vcpus, tiny.ram_mib, tiny.disk_bytes) == (1, 512, 1 * 1024**3)
    # arch from the extra specs where declared, else from the iPXE image's property
    assert all(f.arch == "x86_64" for f in flavors)
    assert any(f.properties.get("hw:architecture") == "x86_64" for f in flavors)


@pytest.mark.vcr
def test_flavors_declare_properties(provider: OpenStackProvider) -> None:
    """Extra specs and traits declare what a flavor offers beyond its size; a requirement
    on such a property is then met by that flavor only, in both languages."""
    from virtprov.hostrequires import Target, parse, prepare
    from virtprov.hostrequires.tmt import parse_tmt

    flavors = provider.flavors()
    nested = next(f for f in flavors if f.name == "m1.nested")
    assert set(nested.properties["cpu.flag"].split()) == {"vmx", "avx2"}
    assert nested.properties["virtualization.is-supported"] == "true"
    assert nested.properties["tpm.version"] == "2.0"
    assert nested.properties["boot.method"] == "uefi"
    assert nested.properties["system.numa-nodes"] == "2"
    assert nested.properties["trait:HW_CPU_X86_VMX"] == "required"  # raw specs kept
    target = Target.from_info(provider.info, flavors)
    assert {"cpu.flag", "tpm.version", "boot.method"} <= target.declared
    prepared = prepare(flavors, target)
    xml = parse('<hostRequires><cpu><flag value="vmx"/></cpu></hostRequires>')
    tmt = parse_tmt({"cpu": {"flag": ["vmx"]}, "tpm": {"version": ">= 2.0"}})
    for requires in (xml, tmt):
        assert requires.virtualisable(target)
        assert [f.name for f in requires.match(prepared).flavors] == ["m1.nested"]
    # nothing declares a GPU: Beaker's default-deny stands
    assert not parse_tmt({"gpu": {"vendor-name": "NVIDIA"}}).virtualisable(target)


@pytest.mark.vcr
def test_capacity(provider: OpenStackProvider) -> None:
    capacity = provider.capacity()
    assert capacity.instances == 10
    assert capacity.vcpus == 20
    assert capacity.ram_mib == 51200
    assert capacity.disk_bytes is None


def life(provider: OpenStackProvider, recipe: str) -> None:
    """create -> poll to READY -> start -> RUNNING -> stop -> STOPPED -> destroy."""
    spec = spec_for(cheapest(provider), recipe)
    guest = provider.create_guest(spec)
    try:
        assert guest.state is GuestState.BUILDING
        assert guest.name == "vptest-recipe-" + recipe
        assert guest.labels[LABEL_RECIPE] == recipe
        ready = until(provider, guest.id, GuestState.READY)
        assert ready.macs
        assert all(MAC.match(m) for m in ready.macs)
        assert ready.labels == {LABEL_POOL: "lab-pool", LABEL_RECIPE: recipe}
        provider.start_guest(guest.id)
        running = until(provider, guest.id, GuestState.RUNNING)
        assert running.macs == ready.macs
        provider.stop_guest(guest.id)
        until(provider, guest.id, GuestState.STOPPED)
    finally:
        destroy(provider, guest.id)
    assert provider.poll([guest.id]) == {}
    assert provider.destroy_guest(guest.id) == []  # idempotent: gone, nothing left


@pytest.mark.vcr
def test_life_floating_ip_mode(provider: OpenStackProvider) -> None:
    life(provider, "101")


@pytest.mark.vcr
def test_life_fixed_network_mode(make_provider: Callable[..., OpenStackProvider]) -> None:
    life(make_provider(network_mode="fixed"), "102")


@pytest.mark.vcr
def test_floating_mode_guest_has_mac_and_address_at_once(provider: OpenStackProvider) -> None:
    guest = provider.create_guest(spec_for(cheapest(provider), "103"))
    try:
        # The port is made before the server: its MAC and floating IP are known at once.
        assert len(guest.macs) == 1
        assert MAC.match(guest.macs[0])
        assert len(guest.addresses) == 1
    finally:
        destroy(provider, guest.id)


@pytest.mark.vcr
def test_console_output(provider: OpenStackProvider) -> None:
    guest = provider.create_guest(spec_for(cheapest(provider), "104"))
    try:
        until(provider, guest.id, GuestState.READY)
        console = provider.console_output(guest.id)
        assert f"/systems/by-uuid/{guest.id}/ipxe-script" in console.text
        assert console.truncated is False
    finally:
        destroy(provider, guest.id)


@pytest.mark.vcr
def test_list_guests_by_prefix_and_labels(provider: OpenStackProvider) -> None:
    flavor = cheapest(provider)
    ours = provider.create_guest(spec_for(flavor, "105"))
    other = provider.create_guest(spec_for(flavor, "106", prefix="someone-else-"))
    try:
        found = provider.list_guests("vptest-")
        assert [g.id for g in found] == [ours.id]
        assert found[0].labels[LABEL_POOL] == "lab-pool"
    finally:
        destroy(provider, ours.id, other.id)


@pytest.mark.vcr
def test_poll_many_and_unknown(provider: OpenStackProvider) -> None:
    flavor = cheapest(provider)
    a = provider.create_guest(spec_for(flavor, "107"))
    b = provider.create_guest(spec_for(flavor, "108"))
    unknown = "00000000-0000-4000-8000-000000000000"
    try:
        seen = provider.poll([a.id, b.id, unknown])
        assert set(seen) == {a.id, b.id}
    finally:
        destroy(provider, a.id, b.id)


@pytest.mark.vcr
def test_unknown_guest(provider: OpenStackProvider) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    assert provider.poll([unknown]) == {}
    with pytest.raises(errors.GuestNotFound):
        provider.start_guest(unknown)
    with pytest.raises(errors.GuestNotFound):
        provider.stop_guest(unknown)
    with pytest.raises(errors.GuestNotFound):
        provider.console_output(unknown)
    assert provider.destroy_guest(unknown) == []


# -- error mapping, with the real error bodies -----------------------------------------


@pytest.mark.vcr
def test_nova_403_quota_is_capacity_and_cleans_up(
    make_provider: Callable[..., OpenStackProvider], vcr: Any
) -> None:
    # A project whose instance quota is 0.
    provider = make_provider(**fault_options("quota-instances"))
    spec = spec_for(cheapest(provider), "quota-instances")
    with pytest.raises(errors.CapacityExhausted, match="Quota exceeded for instances"):
        provider.create_guest(spec)
    # Everything made for the guest before Nova refused is removed again, newest first.
    undone = [
        (r.method, neutron_resource(r.path))
        for r in vcr.requests
        if neutron_resource(r.path)
        and (r.method == "DELETE" or r.path.endswith("/remove_router_interface"))
    ]
    assert undone == [
        ("DELETE", "floatingips"),
        ("DELETE", "ports"),
        ("PUT", "routers"),  # remove_router_interface
        ("DELETE", "networks"),
        ("DELETE", "routers"),
    ]


@pytest.mark.vcr
def test_nova_403_quota_cores_ram_fixed_mode(
    make_provider: Callable[..., OpenStackProvider],
) -> None:
    # A project whose cores and RAM quotas are 0.
    provider = make_provider(network_mode="fixed", **fault_options("quota-cores-ram"))
    with pytest.raises(errors.CapacityExhausted, match="cores, ram"):
        provider.create_guest(spec_for(cheapest(provider), "quota-cores-ram"))


@pytest.mark.vcr
def test_neutron_409_overquota_is_capacity(
    make_provider: Callable[..., OpenStackProvider],
) -> None:
    # A project whose Neutron network quota is 0: the router is made, the network is not.
    provider = make_provider(**fault_options("overquota"))
    with pytest.raises(errors.CapacityExhausted, match=r"Quota exceeded for resources"):
        provider.create_guest(spec_for(cheapest(provider), "overquota"))


@pytest.mark.vcr
def test_no_valid_host_fault_is_capacity(provider: OpenStackProvider) -> None:
    # The largest flavor fits the quota but no hypervisor: the scheduler finds no host.
    guest = provider.create_guest(spec_for(largest(provider), "no-valid-host"))
    try:
        failed = until(provider, guest.id, GuestState.ERROR)
        assert failed.fault is not None
        assert "No valid host was found" in failed.fault
        assert provider.classify_fault(failed) is errors.CapacityExhausted
    finally:
        destroy(provider, guest.id)


@pytest.mark.vcr
@pytest.mark.skipif(
    live_cloud() is not None, reason="no cloud answers 503 and 429 on purpose: composed only"
)
def test_503_and_429_are_transient(make_provider: Callable[..., OpenStackProvider]) -> None:
    # Composed with the loopback imitation (cassettes/README.md), at its address.
    provider = make_provider(**minicloud_options(network_mode="fixed"))
    flavor = cheapest(provider)
    with pytest.raises(errors.TransientError, match="503"):
        provider.create_guest(spec_for(flavor, "unavailable"))
    with pytest.raises(errors.TransientError, match="429") as info:
        provider.create_guest(spec_for(flavor, "ratelimited"))
    assert info.value.retry_after == 30.0


@pytest.mark.vcr
def test_401_bad_credentials_is_permanent(make_provider: Callable[..., OpenStackProvider]) -> None:
    provider = make_provider(**fault_options("wrong-user"))
    with pytest.raises(errors.PermanentError, match="credentials"):
        provider.capacity()


@pytest.mark.vcr
def test_missing_image_is_permanent(make_provider: Callable[..., OpenStackProvider]) -> None:
    provider = make_provider(image_name=None, image="0b0b0b0b-0000-4000-8000-000000000000")
    flavor = Flavor(id="1", name="m1.tiny", vcpus=1, ram_mib=512, disk_bytes=1024**3)
    with pytest.raises(errors.PermanentError, match="create-ipxe-image"):
        provider.create_guest(spec_for(flavor, "109"))


@pytest.mark.vcr
def test_missing_network_is_permanent(make_provider: Callable[..., OpenStackProvider]) -> None:
    provider = make_provider(network_mode="fixed", network="no-such-net")
    flavor = Flavor(id="1", name="m1.tiny", vcpus=1, ram_mib=512, disk_bytes=1024**3)
    with pytest.raises(errors.PermanentError, match="no-such-net"):
        provider.create_guest(spec_for(flavor, "110"))


@pytest.mark.vcr
@pytest.mark.parametrize("mode", ["floating", "fixed"])
def test_request_count_of_one_guest_life(
    make_provider: Callable[..., OpenStackProvider], vcr: Any, mode: str
) -> None:
    """HTTP requests of create -> ready -> start -> destroy (to the end: gone, and what
    the server left deleted), counted from the cassette.

    The flavor is given (a scheduler has it cached), as Beaker's count assumes too.
    docs/openstack.md reports these figures against Beaker's flow.
    """
    provider = make_provider(network_mode=mode)
    flavor = Flavor(id="1", name="m1.tiny", vcpus=1, ram_mib=512, disk_bytes=1024**3)

    def sent() -> int:  # requests so far, whether replaying or recording
        return int(vcr.play_count if vcr.record_mode == "none" else len(vcr.data))

    counts = {}
    guest = provider.create_guest(spec_for(flavor, "201" if mode == "floating" else "202"))
    counts["create"] = sent()
    polls = 0  # polls that found the guest still building
    while provider.poll([guest.id])[guest.id].state is not GuestState.READY:
        polls += 1
        time.sleep(POLL_PAUSE)
    counts["to_ready"] = sent() - counts["create"]
    provider.start_guest(guest.id)
    counts["start"] = sent() - counts["create"] - counts["to_ready"]
    destroy(provider, guest.id)
    counts["destroy"] = sent() - sum(counts.values())
    counts["total"] = sent()
    # How many polls a build and a delete take is the cloud's business: count them from
    # the requests (the same whether recording or replaying the cassette).
    server = f"/servers/{guest.id}"
    paths = [(r.method, r.path) for r in vcr.requests]
    deleted_at = paths.index(("DELETE", next(p for m, p in paths if p.endswith(server))))
    gone_polls = sum(1 for m, p in paths[deleted_at:] if m == "GET" and p.endswith(server))
    expected = {
        # create: token, 2 version documents, image and network lookups (once per
        # provider), then 6 Neutron calls + the server POST in floating mode.
        # to ready: a GET per poll, and the stop when ACTIVE is first seen.
        # start: the phase into the metadata, the start.
        # destroy: the DELETE (what the server owns is known from its create), a GET
        # per poll until gone, then what it left in floating mode: the floating IP,
        # the port, the router (a GET of its interfaces, their removal, the router),
        # the network.
        "floating": {
            "create": 12,
            "to_ready": polls + 2,
            "start": 2,
            "destroy": 1 + gone_polls + 6,
        },
        "fixed": {"create": 6, "to_ready": polls + 2, "start": 2, "destroy": 1 + gone_polls},
    }[mode]
    expected["total"] = sum(expected.values())
    assert counts == expected
    # The figures of docs/openstack.md: one poll while building, one until gone.
    assert polls >= 1
    assert gone_polls >= 1


@pytest.mark.vcr
def test_destroy_is_one_delete_and_returns_what_must_wait_for_the_server(
    provider: OpenStackProvider, vcr: Any
) -> None:
    """No wait in the provider: the server's DELETE (what it owns is known from its
    create), and the network resources the caller deletes once a poll saw it gone."""

    def sent() -> int:  # requests so far, whether replaying or recording
        return int(vcr.play_count if vcr.record_mode == "none" else len(vcr.data))

    guest = provider.create_guest(spec_for(cheapest(provider), "203"))
    before = sent()
    left = provider.destroy_guest(guest.id)
    made = vcr.requests[before : sent()]  # in the cassette's order, which is the calls'
    assert [(r.method, r.path.rsplit("/", 2)[-2:]) for r in made] == [
        ("DELETE", ["servers", guest.id])
    ]
    assert [r.kind for r in left] == ["floating_ip", "port", "router", "network"]
    assert {r.guest for r in left} == {guest.name}
    assert all(r.labels[LABEL_RECIPE] == "203" for r in left)
    until_gone(provider, guest.id)
    for resource in left:  # once the server is gone, as the pool does
        provider.destroy_resource(resource)
    assert [r for r in provider.list_resources("vptest-") if r.guest == guest.name] == []


def test_a_server_nova_still_lists_as_deleted_is_a_deleted_guest(
    provider: OpenStackProvider,
) -> None:
    """Nova lists a deleted server for a moment (status DELETED): not a running guest,
    for the sweeper's listing as for the pool's poll (where it is already gone)."""
    from types import SimpleNamespace

    server = SimpleNamespace(
        id="9b2c0000-0000-4000-8000-000000000001",
        name="vptest-recipe-301",
        status="DELETED",
        task_state=None,
        metadata={LABEL_POOL: "lab-pool", "virtprov-phase": "started"},
        addresses={},
        created_at=None,
        flavor=None,
        fault=None,
    )
    assert provider._advance_passive(server).state is GuestState.DELETED  # type: ignore[arg-type]
    assert provider._advance(server) is None  # type: ignore[arg-type]
