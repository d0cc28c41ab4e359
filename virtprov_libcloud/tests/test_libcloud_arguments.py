"""create_node's object-typed arguments from names or ids (virtprov_libcloud.arguments).

The listings are libcloud's own objects, as its OpenStack and EC2 drivers build them;
the driver here offers only the real driver's ``create_node`` (the resolver reads its
signature) and the listing methods the resolver looks for. The same resolution against
the real services is in test_libcloud_openstack.py (the reference OpenStack) and
test_libcloud_provider.py (moto).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from libcloud.compute.base import KeyPair, NodeLocation
from libcloud.compute.drivers.ec2 import BaseEC2NodeDriver, EC2NetworkSubnet, EC2SecurityGroup
from libcloud.compute.drivers.openstack import (
    OpenStack_1_1_NodeDriver,
    OpenStackNetwork,
    OpenStackSecurityGroup,
)
from virtprov_libcloud.arguments import ArgumentResolver, Unresolved
from virtprov_libcloud.families import Family

from virtprov import errors


class OpenStackLike:
    """The parts of libcloud's OpenStack driver the resolver uses."""

    create_node = OpenStack_1_1_NodeDriver.create_node

    def ex_list_networks(self) -> list[Any]:
        return [
            OpenStackNetwork("a1", "lab-net", None, self),
            OpenStackNetwork("b2", "public", None, self),
            OpenStackNetwork("c3", "twin", None, self),
            OpenStackNetwork("d4", "twin", None, self),
        ]

    def ex_list_security_groups(self) -> list[Any]:
        return [OpenStackSecurityGroup("s1", "t", "default", "", self)]

    def list_key_pairs(self) -> list[Any]:
        return [KeyPair("lab-key", "ssh-ed25519 AAAA", "fp", self)]


class EC2Like:
    """The parts of libcloud's EC2 driver the resolver uses."""

    create_node = BaseEC2NodeDriver.create_node

    def ex_list_subnets(self) -> list[Any]:
        return [
            EC2NetworkSubnet("subnet-1", "lab-subnet", "available", {"vpc_id": "vpc-lab"}),
            EC2NetworkSubnet("subnet-2", "subnet-2", "available", {"vpc_id": "vpc-default"}),
        ]

    def ex_get_security_groups(self) -> list[Any]:
        return [
            EC2SecurityGroup("sg-1", "default", [], [], {"vpc_id": "vpc-default"}),
            EC2SecurityGroup("sg-2", "default", [], [], {"vpc_id": "vpc-lab"}),
            EC2SecurityGroup("sg-3", "lab-sg", [], [], {"vpc_id": "vpc-lab"}),
        ]

    def list_locations(self) -> list[Any]:
        return [NodeLocation("0", "us-east-1a", "US", self)]


class Listings:
    """The provider's cached listing, counting what the driver was asked."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.calls: Counter[str] = Counter()

    def __call__(self, method: str, *, fresh: bool = False) -> list[Any]:
        self.calls[method] += 1
        return list(getattr(self.driver, method)())


def resolver(driver: Any, family: Family) -> tuple[ArgumentResolver, Listings]:
    listings = Listings(driver)
    made = ArgumentResolver(provider="cloud", driver=driver, family=family, listing=listings)
    return made, listings


def test_openstack_networks_by_name_id_or_table_and_groups_by_name() -> None:
    made, _ = resolver(OpenStackLike(), Family.OPENSTACK)
    kwargs = made.arguments(
        {
            "networks": ["lab-net", "b2", {"uuid": "a1"}, {"id": "c3"}],
            "ex_security_groups": ["default"],
            "ex_keyname": "lab-key",
        }
    )
    assert [n.id for n in kwargs["networks"]] == ["a1", "b2", "a1", "c3"]
    assert all(isinstance(n, OpenStackNetwork) for n in kwargs["networks"])
    assert [g.name for g in kwargs["ex_security_groups"]] == ["default"]
    assert kwargs["ex_keyname"] == "lab-key"


def test_the_guest_network_overrides_the_configured_one() -> None:
    made, _ = resolver(OpenStackLike(), Family.OPENSTACK)
    kwargs = made.arguments({"networks": ["public"]}, network="lab-net")
    assert [n.name for n in kwargs["networks"]] == ["lab-net"]


@pytest.mark.parametrize(
    ("options", "network", "network_from", "words"),
    [
        (
            {"networks": ["lab-nett"]},
            None,
            "network",
            "providers.cloud.create_options.networks: no network named or numbered "
            "'lab-nett' (the service lists: lab-net, public, twin)",
        ),
        (
            {},
            "lab-nett",
            "network",
            "providers.cloud.network: no network named or numbered 'lab-nett'",
        ),
        (
            {"networks": ["twin"]},
            None,
            "network",
            "providers.cloud.create_options.networks: 2 networks are named 'twin' "
            "(c3, d4): give the id",
        ),
        (
            {"ex_keyname": "nobody"},
            None,
            "network",
            "providers.cloud.create_options.ex_keyname: no key pair named or numbered 'nobody' "
            "(the service lists: lab-key)",
        ),
        (
            {"networks": [{"cidr": "10.0.0.0/8"}]},
            None,
            "network",
            "providers.cloud.create_options.networks: a network table needs id, uuid or name",
        ),
    ],
)
def test_a_name_that_resolves_to_nothing_names_the_option(
    options: dict[str, Any], network: str | None, network_from: str, words: str
) -> None:
    made, _ = resolver(OpenStackLike(), Family.OPENSTACK)
    with pytest.raises(Unresolved) as info:
        made.arguments(options, network=network, network_from=network_from)
    assert info.value.message.startswith(words), info.value.message
    assert isinstance(info.value, errors.PermanentError)  # the configuration: disable
    assert info.value.provider == "cloud"


def test_a_name_is_looked_up_again_before_it_is_unknown() -> None:
    made, listings = resolver(OpenStackLike(), Family.OPENSTACK)
    with pytest.raises(Unresolved):
        made.arguments({"networks": ["made-a-moment-ago"]})
    assert listings.calls["ex_list_networks"] == 2  # cached, then listed afresh


def test_an_unknown_network_of_one_guest_fails_that_guest_only() -> None:
    made, _ = resolver(OpenStackLike(), Family.OPENSTACK)
    with pytest.raises(errors.ProviderError, match=r"GuestSpec\.network: no network") as info:
        made.arguments({}, network="nowhere", network_from="GuestSpec.network")
    assert not isinstance(info.value, errors.PermanentError)


def test_ec2_subnet_by_name_and_security_groups_as_ids_of_its_vpc() -> None:
    made, _ = resolver(EC2Like(), Family.EC2)
    kwargs = made.arguments({"ex_security_groups": ["default", "lab-sg"]}, network="lab-subnet")
    assert kwargs["ex_subnet"].id == "subnet-1"
    # EC2 refuses group names beside a subnet; "default" is the one of the subnet's VPC
    assert kwargs["ex_security_group_ids"] == ["sg-2", "sg-3"]
    assert "ex_security_groups" not in kwargs


def test_ec2_without_a_subnet_keeps_group_names_and_checks_them() -> None:
    made, _ = resolver(EC2Like(), Family.EC2)
    assert made.arguments({"ex_security_groups": "lab-sg"})["ex_security_groups"] == ["lab-sg"]
    with pytest.raises(Unresolved, match="2 security groups are named 'default'"):
        made.arguments({"ex_security_groups": ["default"]})
    with pytest.raises(Unresolved, match=r"no security group .* 'lab-sg' in vpc-default"):
        made.arguments({"ex_security_group_ids": ["lab-sg"]}, network="subnet-2")


def test_location_by_name_and_drivers_without_one() -> None:
    made, _ = resolver(EC2Like(), Family.EC2)
    assert made.arguments({}, location="us-east-1a")["location"].name == "us-east-1a"
    made, _ = resolver(OpenStackLike(), Family.OPENSTACK)
    with pytest.raises(Unresolved, match=r"providers\.cloud\.location: .* takes no location"):
        made.arguments({}, location="nova")


def test_a_driver_with_no_network_argument_says_so() -> None:
    class Bare:
        def create_node(self, name: str, size: Any, image: Any) -> None: ...

    made, _ = resolver(Bare(), Family.OTHER)
    with pytest.raises(Unresolved, match="no create_node argument to choose a network"):
        made.arguments({}, network="lab-net")
    assert made.arguments({"ex_anything": "kept"}) == {"ex_anything": "kept"}
