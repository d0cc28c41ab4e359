from __future__ import annotations

import pytest

from virtprov.model import (
    LABEL_POOL,
    LABEL_RECIPE,
    Capacity,
    Flavor,
    GiB,
    GuestSpec,
    KernelBoot,
    NetworkBoot,
)

SMALL = Flavor(id="1", name="small", vcpus=1, ram_mib=1024, disk_bytes=10 * GiB)
LARGE = Flavor(id="2", name="large", vcpus=4, ram_mib=8192, disk_bytes=80 * GiB)


def test_flavor_is_frozen_and_hashable_with_properties() -> None:
    flavor = Flavor("3", "vmx", 2, 2048, 20 * GiB, properties={"cpu.flag.vmx": "true"})
    with pytest.raises(AttributeError):
        flavor.vcpus = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        flavor.properties["x"] = "y"  # type: ignore[index]
    assert {flavor, flavor} == {flavor}
    assert flavor.disk_gib == 20


def test_flavor_rejects_negative_sizes() -> None:
    with pytest.raises(ValueError, match="ram_mib must not be negative"):
        Flavor("x", "x", 1, -1, 0)


def test_cheapest_first_is_ram_then_disk_then_vcpus_then_id() -> None:
    a = Flavor("b", "a", 4, 1024, 20 * GiB)
    b = Flavor("a", "b", 1, 1024, 40 * GiB)
    c = Flavor("c", "c", 1, 1024, 20 * GiB)
    assert sorted([LARGE, b, a, c], key=Flavor.sort_key) == [c, a, b, LARGE]


def test_spec_for_recipe_follows_beaker_naming_and_labels() -> None:
    spec = GuestSpec.for_recipe(1234, SMALL, pool="lab-east", prefix="beaker-")
    assert spec.name == "beaker-recipe-1234"
    assert spec.labels == {LABEL_POOL: "lab-east", LABEL_RECIPE: "1234"}
    assert spec.boot == NetworkBoot()
    kernel = KernelBoot(kernel="/net/srv/vmlinuz", initrd="/net/srv/initrd.img", cmdline="ks=x")
    assert GuestSpec.for_recipe(1, SMALL, pool="p", boot=kernel).boot is kernel


def test_capacity_fits_counts_every_known_dimension() -> None:
    free = Capacity(instances=2, vcpus=4, ram_mib=8192, disk_bytes=None)
    assert free.fits(SMALL)
    assert free.fits(SMALL, count=2)
    assert not free.fits(SMALL, count=3)
    assert free.shortfall(SMALL, count=3) == ["needs 3 instances, 2 free"]
    assert free.fits(LARGE)
    assert not free.minus(LARGE).fits(SMALL)
    assert free.minus(LARGE).shortfall(SMALL) == [
        "needs 1 vCPUs, 0 free",
        "needs 1024 MiB RAM, 0 MiB free",
    ]


def test_unknown_capacity_is_never_zero() -> None:
    unknown = Capacity()
    assert unknown.fits(LARGE, count=1000)
    assert unknown.minus(LARGE) == unknown


def test_capacity_fits_a_spec_by_its_flavor() -> None:
    spec = GuestSpec.for_recipe(1, LARGE, pool="p")
    assert not Capacity(ram_mib=4096).fits(spec)
