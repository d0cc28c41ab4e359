"""The key pair an image boot imports is an owned resource, found by its name (moto's EC2)."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest
from libcloud_testenv import IMAGE
from virtprov_libcloud.provider import LibcloudProvider

from virtprov.model import GuestSpec, ImageBoot

#: A public key whose private half was thrown away.
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJcYR9ChAvcJJXm8hPq7KCkjsuDzcI5hGpWOIS4xplJA tmt-run"


@pytest.mark.vcr
def test_an_image_boots_key_pair_is_listed_by_its_name_and_removed(
    make_provider: Callable[..., LibcloudProvider],
) -> None:
    provider = make_provider()
    flavor = next(f for f in provider.flavors() if f.id == "t3.micro")
    spec = GuestSpec.for_recipe(7301, flavor, pool="kp", prefix="vpkp-")
    guest = provider.create_guest(attrs.evolve(spec, boot=ImageBoot(IMAGE, ssh_public_keys=KEY)))
    try:
        (pair,) = provider.list_resources("vpkp-")
        # EC2 keeps a name and a fingerprint: no labels (the sweeper goes by its journal).
        assert (pair.kind, pair.id, pair.guest, dict(pair.labels)) == (
            "keypair",
            spec.name,
            spec.name,
            {},
        )
    finally:
        provider.destroy_guest(guest.id)
    assert provider.list_resources("vpkp-") == []  # the guest's destroy took it
    # One a dead destroy left behind (imported as an image boot imports it):
    provider._node_driver().import_key_pair_from_string("vpkp-recipe-7302", KEY)
    (left,) = provider.list_resources("vpkp-")
    assert left.guest == "vpkp-recipe-7302"
    provider.destroy_resource(left)
    provider.destroy_resource(left)  # gone already: silent
    assert provider.list_resources("vpkp-") == []
