"""Image boot on oVirt: a VM from a template with cloud-init, running with an address.

The template is the recorded RHV 4.3 inventory's "CentOS 7 Generic Cloud Image v1901"
(imported from Glance as ``template_cd2``, in data center newd1); its VMs' lives are
composed by the engine imitation, like every oVirt cassette (see ``cassettes/README.md``).
"""

from __future__ import annotations

import os

import attrs
import pytest
from ovirt_engine import TEMPLATE, TEMPLATE_DATA_CENTER, Engine
from test_ovirt_provider import SMALL, posted, searches, wait

from virtprov.errors import PermanentError, ProviderError
from virtprov.model import LABEL_POOL, LABEL_RECIPE, GuestSpec, GuestState, ImageBoot

#: template_cd2 and its one disk, as the recorded inventory has them.
TEMPLATE_ID = os.environ.get("VIRTPROV_OVIRT_TEMPLATE_ID", "5037cc2a-0268-4412-a591-ee7da56efe53")
TEMPLATE_DISK = "d7355822-5742-4d87-81c8-ffdbd87515db"
OVIRTMGMT_NEWD1 = "4ec7ba24-c6bf-42fc-9975-d6a9bf3f01cf"  # the ovirtmgmt profile of newd1
#: The first key for the image's default user, the second one more (private halves gone).
KEYS = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJcYR9ChAvcJJXm8hPq7KCkjsuDzcI5hGpWOIS4xplJA tmt-run",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl second",
)
USER_DATA = "#cloud-config\nruncmd:\n  - [touch, /run/virtprov-image-boot]\n"


def image_spec(recipe: int, image: str, **boot: object) -> GuestSpec:
    spec = GuestSpec.for_recipe(recipe, SMALL, pool="lab-pool", prefix="vptmt-")
    return attrs.evolve(spec, boot=ImageBoot(image, **boot))  # type: ignore[arg-type]


def test_image_boot_from_a_template_with_cloud_init(engine: Engine) -> None:
    provider = engine.provider(data_centers=[TEMPLATE_DATA_CENTER])
    spec = image_spec(301, TEMPLATE_ID, user_data=USER_DATA, ssh_public_keys=KEYS)
    guest = provider.create_guest(spec)
    try:
        assert guest.state is GuestState.BUILDING
        assert guest.labels == {
            LABEL_POOL: "lab-pool",
            LABEL_RECIPE: "301",
            "virtprov-boot": "image",
        }
        (mac,) = guest.macs  # a template imported from Glance has no NIC: one is added
        (nic,) = posted(engine, "/nics")
        assert nic.find("vnic_profile").get("id") == OVIRTMGMT_NEWD1  # type: ignore[union-attr]
        # The template was looked up (with its disks and NICs) before anything was made.
        (vm,) = posted(engine, "/vms")
        assert vm.find("template").get("id") == TEMPLATE_ID  # type: ignore[union-attr]
        assert vm.find("os") is None  # the template's boot order: its disk
        assert vm.findtext("console/enabled") == "true"
        # A thin copy of the template's disk, named after the guest.
        (attachment,) = vm.findall("disk_attachments/disk_attachment")
        assert attachment.find("disk").get("id") == TEMPLATE_DISK  # type: ignore[union-attr]
        assert attachment.findtext("disk/name") == "vptmt-recipe-301_disk0"
        # cloud-init: both keys for the image's default user (no user name given), the
        # user data as the custom script, the guest's name as host name.
        init = vm.find("initialization")
        assert init is not None
        assert init.findtext("authorized_ssh_keys") == "\n".join(KEYS)
        assert init.findtext("custom_script") == USER_DATA
        assert init.findtext("host_name") == spec.name
        assert init.find("user_name") is None

        # The template's disk is copied by a storage task: building, then ready.
        assert provider.poll([guest.id])[guest.id].state is GuestState.BUILDING
        ready = wait(provider, guest.id, GuestState.READY)
        assert ready.macs == (mac,)
        provider.start_guest(guest.id)  # the engine applies cloud-init at this first start
        looks = [provider.poll([guest.id])[guest.id] for _ in range(3)]
        assert [g.state for g in looks] == [GuestState.RUNNING] * 3
        # The address comes once the guest agent reports one: IPv4 first, no link-local.
        assert [g.addresses for g in looks[:2]] == [(), ()]
        assert looks[2].addresses == ("192.0.2.2", "2001:db8::1")
        # One request per poll: the reported devices are followed in the same search.
        before = len(engine.server.requests)
        provider.poll([guest.id])
        (request,) = engine.server.requests[before:]
        assert "reported_devices" in request
        # A new provider object (a restarted launcher) finds them with one more search.
        again = engine.provider(data_centers=[TEMPLATE_DATA_CENTER]).poll([guest.id])
        assert again[guest.id].addresses == looks[2].addresses
    finally:
        provider.destroy_guest(guest.id)
    assert provider.poll([guest.id]) == {}


def test_image_boot_of_a_missing_template_fails_the_launch_not_the_provider(
    engine: Engine,
) -> None:
    provider = engine.provider()
    with pytest.raises(
        ProviderError, match="no template 'no-such-template' in data center Newd"
    ) as missing:
        provider.create_guest(image_spec(302, "no-such-template"))
    assert not isinstance(missing.value, PermanentError)
    assert searches(engine)[-1] == "name=no-such-template"
    assert not posted(engine, "/vms")


def test_user_data_the_engine_cannot_carry_is_refused_before_any_call(engine: Engine) -> None:
    provider = engine.provider()
    script = "#!/bin/sh\necho s3cr3t > /root/token\n"
    with pytest.raises(ProviderError, match="is a shell script") as refused:
        provider.create_guest(image_spec(303, TEMPLATE, user_data=script))
    assert not isinstance(refused.value, PermanentError)
    assert "s3cr3t" not in str(refused.value)
    assert engine.server.requests == []


def test_an_image_boot_disk_left_behind_is_listed_by_its_name(engine: Engine) -> None:
    engine.needs_imitation()
    provider = engine.provider(data_centers=[TEMPLATE_DATA_CENTER])
    guest = provider.create_guest(image_spec(304, TEMPLATE))
    wait(provider, guest.id, GuestState.READY)
    engine.fail_image_removals()
    provider.destroy_guest(guest.id)
    # A copy of the template's disk keeps the template disk's description: no labels,
    # only the guest's name (the sweeper then goes by its journal).
    (left,) = provider.list_resources("vptmt-")
    assert (left.kind, left.name, left.guest, dict(left.labels)) == (
        "disk",
        "vptmt-recipe-304_disk0",
        "vptmt-recipe-304",
        {},
    )
    provider.destroy_resource(left)
    assert provider.list_resources("vptmt-") == []
