"""The engine's refusals become virtprov's errors (cassettes composed with the imitation).

Each refusal is the one the engine's command sends in that place, rendered from its
catalogue (``engine_messages.py``): the tests inject it where the engine would answer it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from engine_messages import Refusal
from ovirt_engine import Engine

from virtprov.errors import (
    CapacityExhausted,
    GuestNotFound,
    PermanentError,
    TransientError,
)
from virtprov.model import Flavor, GiB, GuestSpec, KernelBoot

SMALL = Flavor(id="size:small", name="small", vcpus=1, ram_mib=1024, disk_bytes=20 * GiB)
NEWC = "b875154c-5b87-4068-aa3f-f32c4d672193"  # the cluster of data center Newd
NEWD1_CLUSTER = "1c273044-e6ca-492f-9ac2-47381b626808"
UNKNOWN = "00000000-0000-4000-8000-00000000dead"
VMS = "/ovirt-engine/api/vms"
START = r"/ovirt-engine/api/vms/[^/]+/start"
NICS = r"/ovirt-engine/api/vms/[^/]+/nics"
DISKS = r"/ovirt-engine/api/vms/[^/]+/diskattachments"


def clusters_asked(engine: Engine) -> list[str]:
    """The clusters the provider asked for VMs in, in order."""
    return [
        ET.fromstring(body).find("cluster").get("id", "")  # type: ignore[union-attr]
        for request, body in zip(engine.server.requests, engine.server.bodies, strict=True)
        if request == f"POST {VMS}"
    ]


def deletes(engine: Engine) -> list[str]:
    return [r for r in engine.server.requests if r.startswith("DELETE")]


# -- guests that do not exist --------------------------------------------------------------


def test_unknown_guest(engine: Engine) -> None:
    provider = engine.provider()
    # The engine answers a stop of an unknown VM with 400 "Cannot stop VM. VM is not
    # found." (a start is refused earlier: its mark is a PUT, a 404).
    with pytest.raises(GuestNotFound):
        provider.start_guest(UNKNOWN)
    with pytest.raises(GuestNotFound):
        provider.stop_guest(UNKNOWN)
    boot = KernelBoot(kernel="/net/nfs/vmlinuz", initrd="/net/nfs/initrd.img")
    with pytest.raises(GuestNotFound):
        provider.start_guest(UNKNOWN, boot)
    provider.destroy_guest(UNKNOWN)
    assert provider.console_output(UNKNOWN).unavailable


def test_a_start_refused_as_not_found_is_guest_not_found(engine: Engine) -> None:
    # The VM goes between the provider's mark and its start (a remove by someone else):
    # the engine's 400 "Cannot run VM. VM is not found." is GuestNotFound, not a
    # PermanentError that would fail the recipe (and, during a create, disable the
    # provider).
    engine.needs_imitation()
    provider = engine.provider()
    guest = provider.create_guest(GuestSpec.for_recipe(310, SMALL, pool="p"))
    try:
        engine.refuse("POST", START, Refusal.of("ACTION_TYPE_FAILED_VM_NOT_FOUND", "RUN", "VM"))
        with pytest.raises(GuestNotFound) as caught:
            provider.start_guest(guest.id)
        assert caught.value.guest_id == guest.id
    finally:
        provider.destroy_guest(guest.id)


def test_unknown_guest_for_a_user_without_a_system_role(user_engine: Engine) -> None:
    # Such a user is refused an action on a VM that does not exist with 403 (the engine
    # checks permissions before the command looks for the VM): the provider looks, and
    # the VM is not there.
    user_engine.needs_imitation()
    provider = user_engine.provider()
    with pytest.raises(GuestNotFound):
        provider.stop_guest(UNKNOWN)
    assert user_engine.server.requests[-2:] == [
        f"POST {VMS}/{UNKNOWN}/stop",
        f"GET {VMS}/{UNKNOWN}",
    ]


def test_a_403_on_a_guest_that_exists_is_permanent(engine: Engine) -> None:
    engine.needs_imitation()
    provider = engine.provider()
    guest = provider.create_guest(GuestSpec.for_recipe(311, SMALL, pool="p"))
    try:
        engine.refuse(
            "POST", START, Refusal.of("USER_NOT_AUTHORIZED_TO_PERFORM_ACTION", "RUN", "VM")
        )
        with pytest.raises(PermanentError, match="permission"):
            provider.start_guest(guest.id)
    finally:
        provider.destroy_guest(guest.id)


def test_stopping_a_guest_that_is_down_is_done(engine: Engine) -> None:
    provider = engine.provider()
    guest = provider.create_guest(GuestSpec.for_recipe(312, SMALL, pool="p"))
    try:
        provider.stop_guest(guest.id)  # the engine skips it and answers 200
        assert engine.server.requests[-1] == f"POST {VMS}/{guest.id}/stop"
    finally:
        provider.destroy_guest(guest.id)


# -- no room now: the next cluster, the next provider ---------------------------------------


@pytest.mark.parametrize(
    "refusal",
    [
        pytest.param(Refusal.of("SCHEDULING_NO_HOSTS", "RUN", "VM"), id="no_hosts_to_use"),
        pytest.param(
            Refusal.no_host_with_memory("bodh2", "487"),
            id="no_host_satisfies",
        ),
        pytest.param(
            Refusal.of("ACTION_TYPE_FAILED_QUOTA_CLUSTER_LIMIT_EXCEEDED", "RUN", "VM"),
            id="cluster_quota",
        ),
        pytest.param(
            Refusal.storage_domain_in("Maintenance", "RUN", "VM"),
            id="storage_domain_in_maintenance",
        ),
    ],
)
def test_no_room_at_start_is_capacity(engine: Engine, refusal: Refusal) -> None:
    # "There are no hosts to use" is a 400 (its message has no ErrorType): still no room
    # now, not a request that can never work.
    engine.needs_imitation()
    engine.refuse("POST", START, refusal)
    provider = engine.provider()
    guest = provider.create_guest(GuestSpec.for_recipe(303, SMALL, pool="p"))
    try:
        with pytest.raises(CapacityExhausted) as caught:
            provider.start_guest(guest.id)
        assert caught.value.guest_id == guest.id
    finally:
        provider.destroy_guest(guest.id)


@pytest.mark.parametrize(
    ("path", "refusal"),
    [
        (DISKS, Refusal.of("ACTION_TYPE_FAILED_QUOTA_STORAGE_LIMIT_EXCEEDED", "ADD", "DISK")),
        (DISKS, Refusal.storage_domain_in("Maintenance", "ADD", "DISK")),
        (DISKS, Refusal.of("ACTION_TYPE_FAILED_STORAGE_DOMAIN_STATUS_ILLEGAL", "ADD", "DISK")),
        (NICS, Refusal.of("MAC_POOL_NOT_ENOUGH_MAC_ADDRESSES", "ADD", "INTERFACE")),
    ],
    ids=[
        "storage_quota",
        "storage_domain_in_maintenance",
        "storage_domain_inaccessible",
        "mac_pool_used_up",
    ],
)
def test_no_room_in_one_cluster_tries_the_next(engine: Engine, path: str, refusal: Refusal) -> None:
    # Quotas, storage domains and MAC pools belong to a data center or a cluster: another
    # may take the guest. The half-made VM is removed first.
    engine.needs_imitation()
    engine.refuse("POST", path, refusal)
    provider = engine.provider(data_centers=["Newd", "newd1"])
    guest = provider.create_guest(GuestSpec.for_recipe(301, SMALL, pool="p"))
    try:
        # Roomiest cluster first (newc: 15497 MiB), then newd1_cluster (1189 MiB).
        assert clusters_asked(engine) == [NEWC, NEWD1_CLUSTER]
        assert len(deletes(engine)) == 1
        assert [g.id for g in provider.list_guests("beaker-")] == [guest.id]
    finally:
        provider.destroy_guest(guest.id)


def test_low_disk_space_everywhere_is_capacity_and_leaves_nothing(engine: Engine) -> None:
    engine.needs_imitation()
    low = Refusal.of(
        "ACTION_TYPE_FAILED_DISK_SPACE_LOW_ON_STORAGE_DOMAIN",
        "ADD",
        "DISK",
        storageName="venus-data-1",
    )
    for _ in range(2):
        engine.refuse("POST", DISKS, low)
    provider = engine.provider(data_centers=["Newd", "newd1"])
    with pytest.raises(CapacityExhausted, match="Low disk space"):
        provider.create_guest(GuestSpec.for_recipe(302, SMALL, pool="p"))
    # Each half-made VM was removed (Beaker leaked them): two creates, two deletes.
    assert len(clusters_asked(engine)) == 2
    assert len(deletes(engine)) == 2
    assert provider.list_guests("beaker-") == []


# -- credentials and outages -----------------------------------------------------------------


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
    # (ovirt-engine issue 874); the SDK logs in again once and
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
    # The engine's web server (Apache httpd, which proxies to the engine) while the
    # engine itself is down or starting: its stock 503 page.
    page = (
        '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
        "<title>503 Service Unavailable</title>\n</head><body>\n<h1>Service Unavailable</h1>\n"
        "<p>The server is temporarily unable to service your\nrequest due to maintenance "
        "downtime or capacity\nproblems. Please try again later.</p>\n</body></html>\n"
    )
    engine.inject("GET", "/ovirt-engine/api/datacenters", 503, page)
    with pytest.raises(TransientError):
        engine.provider().capacity()
