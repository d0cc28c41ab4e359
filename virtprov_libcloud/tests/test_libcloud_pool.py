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
    provider = make_provider(max_instances=5)
    outcome = launch_and_release(provider, Recipe(501, labs=["lab.example.com"], owner="jdoe"))
    assert outcome.guest is not None
    assert outcome.guest.name == "beaker-recipe-501"
    assert outcome.guest.macs
    assert outcome.provider == "ec2"
