"""The libcloud provider against moto's EC2 (replayed), its options and its error mapping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from libcloud.common.exceptions import BaseHTTPError, RateLimitReachedError
from libcloud.common.types import InvalidCredsError, ServiceUnavailableError
from libcloud.compute.base import NodeSize
from libcloud_testenv import IMAGE, SECURITY_GROUP, SUBNET, SUBNET_CIDR
from virtprov_libcloud.faults import map_error
from virtprov_libcloud.provider import LibcloudProvider, _size_vcpus

from virtprov import errors
from virtprov.model import LABEL_POOL, GiB, GuestSpec, GuestState

Make = Callable[..., LibcloudProvider]


def test_flavors_are_the_configured_sizes_with_overrides(make_provider: Make) -> None:
    flavors = {f.id: f for f in make_provider().flavors()}
    assert set(flavors) == {"t3.micro", "t3.small", "t3.medium", "m5.large"}
    # libcloud's EC2 table: t3.micro has 1024 MiB and 2 vCPUs, no disk (EBS only) ...
    assert (flavors["t3.micro"].ram_mib, flavors["t3.micro"].vcpus) == (1024, 2)
    # ... so the root disk is the configured one.
    assert flavors["t3.micro"].disk_bytes == 10 * GiB
    assert flavors["m5.large"].disk_bytes == 40 * GiB


def test_a_size_without_vcpus_is_left_out_unless_configured() -> None:
    bare = NodeSize("x1", "x1", ram=2048, disk=20, bandwidth=None, price=None, driver=None)
    assert _size_vcpus(bare) is None
    ec2 = NodeSize("t3.nano", "t3.nano", 512, 0, None, None, None, extra={"vcpu": "2"})
    assert _size_vcpus(ec2) == 2
    gce = NodeSize("e2-small", "e2-small", 2048, 0, None, None, None, extra={"guestCpus": 2})
    assert _size_vcpus(gce) == 2


@pytest.mark.vcr
def test_max_instances_is_the_capacity_and_refuses_before_creating(make_provider: Make) -> None:
    provider = make_provider(max_instances=1)
    flavor = next(f for f in provider.flavors() if f.id == "t3.micro")
    assert provider.capacity().instances == 1
    guest = provider.create_guest(GuestSpec.for_recipe(7001, flavor, pool="cap"))
    try:
        assert provider.capacity().instances == 0
        with pytest.raises(errors.CapacityExhausted, match=r"max_instances \(1\)"):
            provider.create_guest(GuestSpec.for_recipe(7002, flavor, pool="cap"))
    finally:
        provider.destroy_guest(guest.id)
    assert provider.capacity().instances == 1


@pytest.mark.vcr
def test_guests_carry_their_labels_as_tags_and_list_by_prefix(make_provider: Make) -> None:
    provider = make_provider()
    flavor = next(f for f in provider.flavors() if f.id == "t3.small")
    guest = provider.create_guest(GuestSpec.for_recipe(7010, flavor, pool="lab-pool"))
    try:
        assert guest.state is GuestState.BUILDING
        (listed,) = provider.list_guests("beaker-recipe-7010")
        assert listed.id == guest.id
        assert listed.labels[LABEL_POOL] == "lab-pool"
        assert listed.flavor_id == "t3.small"
        assert listed.macs  # from EC2's network interface
        assert provider.list_guests("nobody-") == []
    finally:
        provider.destroy_guest(guest.id)


@pytest.mark.vcr
def test_without_stop_when_built_a_running_node_is_ready(make_provider: Make) -> None:
    provider = make_provider(stop_when_built=False)
    flavor = next(f for f in provider.flavors() if f.id == "t3.micro")
    guest = provider.create_guest(GuestSpec.for_recipe(7020, flavor, pool="p"))
    try:
        assert provider.poll([guest.id])[guest.id].state is GuestState.READY
        provider.start_guest(guest.id)  # it runs already: nothing to send
        assert provider.poll([guest.id])[guest.id].state is GuestState.RUNNING
    finally:
        provider.destroy_guest(guest.id)


def test_kernel_boot_is_refused(make_provider: Make) -> None:
    from virtprov.model import KernelBoot

    with pytest.raises(errors.ProviderError, match="cannot boot a guest from a kernel"):
        make_provider().start_guest("i-0", KernelBoot(kernel="/k", initrd="/i"))


@pytest.mark.parametrize(
    ("table", "key", "words"),
    [
        ({"libcloud_driver": "ec3"}, "libcloud_driver", "not a libcloud compute driver"),
        ({"libcloud_driver": None}, "libcloud_driver", "required"),
        ({"image": None}, "image", "required"),
        ({"secret": "inline"}, "secret", "must not be written in the file"),
        ({"driver_options": {"password": "x"}}, "driver_options.password", "credential"),
        ({"size_overrides": {"c5.9xl": {"vcpus": 2}}}, "size_overrides.c5.9xl", "not in sizes"),
        ({"size_overrides": {"t3.micro": {"vcpus": 0}}}, "size_overrides.t3.micro.vcpus", "1"),
        ({"arches": []}, "arches", "at least one"),
        ({"imagee": "x"}, "imagee", "not a known option"),
        (
            {
                "driver_options": {
                    "ex_force_auth_url": "https://keystone.example.com:5000/v3",
                    "ex_force_auth_version": "2.0_password",
                }
            },
            "driver_options.ex_force_auth_url",
            "Keystone's v3 URL, but ex_force_auth_version is '2.0_password'",
        ),
    ],
)
def test_bad_options_name_the_key(
    make_provider: Make, table: dict[str, Any], key: str, words: str
) -> None:
    with pytest.raises(errors.ConfigError, match=words) as info:
        make_provider(**table)
    assert info.value.key == f"providers.ec2.{key}"
    assert info.value.path == "virtprov.toml"


@pytest.mark.parametrize(
    ("given", "root"),
    [
        ("https://keystone.example.com:5000/v3", "https://keystone.example.com:5000"),
        ("https://keystone.example.com:5000/v3/", "https://keystone.example.com:5000"),
        ("https://cloud.example.com/identity/v3", "https://cloud.example.com/identity"),
        ("https://cloud.example.com/identity", "https://cloud.example.com/identity"),
    ],
)
def test_the_keystone_url_of_clouds_yaml_is_taken_to_its_root(
    make_provider: Make, given: str, root: str
) -> None:
    # libcloud adds /v3/auth/tokens itself: clouds.yaml's .../v3 would ask for /v3/v3/...
    provider = make_provider(
        libcloud_driver="openstack",
        driver_options={"ex_force_auth_url": given, "ex_tenant_name": "lab"},
    )
    assert provider.settings.driver_options["ex_force_auth_url"] == root


def test_the_secret_never_shows(make_provider: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIRTPROV_LIBCLOUD_TEST_SECRET", "hunter2-secret")
    provider = make_provider()
    for text in (repr(provider), repr(provider.settings)):
        assert "hunter2" not in text
    assert provider.settings.image == IMAGE


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (InvalidCredsError("AuthFailure: AWS was not able to validate the credentials"), "perm"),
        (RateLimitReachedError(), "transient"),
        (ServiceUnavailableError(), "transient"),
        (requests.ConnectionError("connection refused"), "transient"),
        (
            BaseHTTPError(400, "InstanceLimitExceeded: You have requested more instances"),
            "capacity",
        ),
        (
            Exception("InsufficientInstanceCapacity: We currently do not have sufficient capacity"),
            "capacity",
        ),
        (BaseHTTPError(403, "Quota exceeded for instances: Requested 1"), "capacity"),
        (BaseHTTPError(403, "UnauthorizedOperation: You are not authorized"), "perm"),
        (BaseHTTPError(503, "Service Unavailable"), "transient"),
        (Exception("RequestLimitExceeded: Request limit exceeded."), "transient"),
        (Exception("InvalidInstanceID.NotFound: The instance ID 'i-1' does not exist"), "gone"),
        (BaseHTTPError(400, "InvalidParameterValue: bad value"), "perm"),
        (Exception("something odd"), "provider"),
    ],
)
def test_libcloud_errors_map_into_the_error_tree(exc: BaseException, kind: str) -> None:
    expected = {
        "perm": errors.PermanentError,
        "transient": errors.TransientError,
        "capacity": errors.CapacityExhausted,
        "gone": errors.GuestNotFound,
        "provider": errors.ProviderError,
    }[kind]
    mapped = map_error(exc, provider="ec2", action="do it", guest_id="i-1")
    assert type(mapped) is expected
    assert mapped.provider == "ec2"


@pytest.mark.vcr
def test_a_subnet_and_a_security_group_chosen_by_name(make_provider: Make) -> None:
    provider = make_provider(
        network=SUBNET, create_options={"ex_security_groups": [SECURITY_GROUP]}
    )
    flavor = next(f for f in provider.flavors() if f.id == "t3.micro")
    guest = provider.create_guest(GuestSpec.for_recipe(7030, flavor, pool="p"))
    try:
        ready = provider.poll([guest.id])[guest.id]
        assert any(a.startswith(SUBNET_CIDR.rsplit(".", 2)[0]) for a in ready.addresses), ready
        (node,) = [n for n in provider._nodes() if n.id == guest.id]
        subnets = {s.name: s.id for s in provider._node_driver().ex_list_subnets()}
        assert node.extra["subnet_id"] == subnets[SUBNET]
        assert [g["group_name"] for g in node.extra["groups"]] == [SECURITY_GROUP]
    finally:
        provider.destroy_guest(guest.id)


@pytest.mark.vcr
def test_a_name_that_matches_nothing_names_the_option_and_creates_nothing(
    make_provider: Make,
) -> None:
    provider = make_provider(network=SUBNET, create_options={"ex_security_groups": ["vp-lab-sgg"]})
    flavor = next(f for f in provider.flavors() if f.id == "t3.micro")
    with pytest.raises(errors.PermanentError) as info:
        provider.create_guest(GuestSpec.for_recipe(7031, flavor, pool="p"))
    assert info.value.message.startswith(
        "providers.ec2.create_options.ex_security_groups: no security group named or "
        "numbered 'vp-lab-sgg' in vpc-"
    )
    assert SECURITY_GROUP in info.value.message  # what the service has, to choose from
    assert provider.list_guests("beaker-recipe-7031") == []
