"""The pool drives the libcloud provider: a launch to a ready guest, and its release."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from virtprov_libcloud.provider import LibcloudProvider
from virtprov_testing.pool_roundtrip import launch_and_release

from virtprov.pool import Recipe


@pytest.mark.vcr
def test_pool_launches_and_releases_a_guest(
    make_provider: Callable[..., LibcloudProvider],
) -> None:
    # Without max_instances: capacity is unknown and its one call lists the zones, not
    # the instances, so every DescribeInstances in the cassette belongs to one step of
    # the launch, in order.
    outcome = launch_and_release(
        make_provider(), Recipe(501, labs=["lab.example.com"], owner="jdoe")
    )
    assert outcome.guest is not None
    assert outcome.guest.name == "beaker-recipe-501"
    assert outcome.guest.macs
    assert outcome.provider == "ec2"
