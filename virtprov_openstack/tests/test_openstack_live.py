"""The OpenStack provider end to end against a live cloud, with no cassette.

``pytest -m live_openstack`` with ``OS_CLOUD`` (and ``OS_CLIENT_CONFIG_FILE``) naming the
cloud: the conformance suite, one guest's whole life in each network mode, the pool's
round trip, what a destroy whose caller dies once the server is deleted leaves, swept,
and the iPXE image's upload through Glance's image-format safety checks. Skipped
without ``OS_CLOUD``. ``scripts/reference-openstack up`` prints the variables for the
reference OpenStack; docs/reference-openstack.md has the one command that runs it all.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import openstack.exceptions
import pytest
from openstack_testenv import LIVE_TIMEOUT
from test_openstack_provider import image_boot_life, life
from test_openstack_sweeping import leak_and_sweep
from virtprov_openstack.image import IMAGE_BYTES, build_image, find_ipxe_kernel, upload_image
from virtprov_openstack.provider import OpenStackProvider
from virtprov_testing.pool_roundtrip import launch_and_release

from virtprov.pool import Recipe

conformance = pytest.importorskip("virtprov_testing.conformance")

pytestmark = pytest.mark.live_openstack


class TestLiveOpenStackConformance(conformance.ProviderConformance):  # type: ignore[misc,name-defined]
    unplaceable_flavor = "m1.xlarge"  # 16 vCPUs: Nova's "No valid host was found"
    poll_interval = 0.5
    ready_timeout = LIVE_TIMEOUT
    name_prefix = "vplive-"
    image = "ipxe-beaker"

    @pytest.fixture
    def provider(self, make_provider: Callable[..., OpenStackProvider]) -> OpenStackProvider:
        return make_provider()


@pytest.mark.parametrize("mode", ["floating", "fixed"])
def test_live_guest_life(make_provider: Callable[..., OpenStackProvider], mode: str) -> None:
    """create -> ready -> start -> running -> stop -> stopped -> destroy, per network mode."""
    life(make_provider(network_mode=mode), "401" if mode == "floating" else "402")


def test_live_pool_launches_and_releases_a_guest(
    make_provider: Callable[..., OpenStackProvider],
) -> None:
    """The pool driving the provider: a launch to a ready guest, its release."""
    provider = make_provider()
    outcome = launch_and_release(provider, Recipe(403, labs=["lab.example.com"]), LIVE_TIMEOUT)
    assert outcome.guest is not None
    assert len(outcome.guest.macs) == 1


CHAIN = "http://lab.example.com/systems/by-uuid/${uuid}/ipxe-script"
needs_image_tools = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("mformat", "mcopy", "syslinux", "sfdisk")),
    reason="needs Debian's mtools, syslinux and fdisk (scripts/bootstrap installs them)",
)


@pytest.fixture
def uploads(make_provider: Callable[..., OpenStackProvider]) -> Iterator[list[str]]:
    """Names of images a test uploads; every image of those names is deleted afterwards."""
    names: list[str] = []
    yield names
    conn = make_provider().conn
    for name in names:
        for image in conn.image.images(name=name):
            conn.image.delete_image(image, ignore_missing=True)


@needs_image_tools
def test_live_ipxe_image_passes_glance_safety_checks(
    make_provider: Callable[..., OpenStackProvider], tmp_path: Path, uploads: list[str]
) -> None:
    conn = make_provider().conn
    uploads.append("vplive-ipxe")
    image_id = upload_image(
        conn, build_image(CHAIN, tmp_path / "ipxe.img"), name="vplive-ipxe", visibility="private"
    )
    image = conn.image.get_image(image_id)
    assert image.status == "active"
    assert image.size == IMAGE_BYTES


@needs_image_tools
def test_live_glance_refuses_a_superfloppy(
    make_provider: Callable[..., OpenStackProvider], tmp_path: Path, uploads: list[str]
) -> None:
    """The checks are on: Beaker's layout (FAT from sector 0, no partition table) is refused."""
    floppy = tmp_path / "superfloppy.img"
    with floppy.open("wb") as disk:
        disk.truncate(IMAGE_BYTES)
    subprocess.run(
        ["mformat", "-i", str(floppy), "-T", "8192", "-h", "64", "-s", "32", "::"], check=True
    )
    subprocess.run(["syslinux", "--install", str(floppy)], check=True)
    subprocess.run(["mcopy", "-i", str(floppy), str(find_ipxe_kernel()), "::ipxe.lkrn"], check=True)
    uploads.append("vplive-superfloppy")
    # Glance answers 415 "Image failed safety checks" (openstacksdk keeps the status).
    with pytest.raises(openstack.exceptions.HttpException, match="415"):
        upload_image(make_provider().conn, floppy, name="vplive-superfloppy", visibility="private")


def test_live_a_dead_destroy_leaves_nothing_after_two_sweeps(
    make_provider: Callable[..., OpenStackProvider],
) -> None:
    """Router, network, subnet, port and floating IP outlive a destroy whose caller died
    once the server was deleted; two sweeps later none of them exists."""
    leak_and_sweep(make_provider(), "404")


def test_live_image_boot_with_key_pair_and_user_data(
    make_provider: Callable[..., OpenStackProvider],
) -> None:
    """An image boot reaches running with an address; destroy removes its key pair."""
    image_boot_life(make_provider(), "404")
