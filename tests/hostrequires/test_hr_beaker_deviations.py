"""Each place where virtprov deliberately differs from Beaker, tested explicitly."""

from __future__ import annotations

import pytest

from tests.hostrequires.hrdata import FLAVORS, LAB
from virtprov.errors import HostRequiresError
from virtprov.hostrequires import Target, parse
from virtprov.model import Flavor, GiB


def names(body: str, target: Target) -> list[str]:
    return [
        f.name for f in parse(f"<hostRequires>{body}</hostRequires>").match(FLAVORS, target).flavors
    ]


def test_1_disk_size_compares_bytes_with_bytes(target: Target) -> None:
    # Beaker compared Nova's disk in GB with the request in bytes: this matched nothing.
    assert names('<disk><size op="&gt;=" value="20" units="GiB"/></disk>', target) == [
        "m1.small",
        "m1.medium",
        "m1.large",
        "m1.xlarge",
    ]
    # a unit-less value is bytes, as the schema says (so 20 means 20 bytes)
    assert len(names('<disk><size op="&gt;=" value="20"/></disk>', target)) == 4


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('<hypervisor op="like" value="%VM"/>', True),
        ('<system><hypervisor op="like" value="xen%"/></system>', False),
        ('<arch op="like" value="x86\\_%"/>', True),  # \\_ is a literal underscore
        ('<system><arch op="like" value="s390%"/></system>', False),
        ('<labcontroller op="like" value="lab.%"/>', True),
        ('<labcontroller op="like" value="%.other.com"/>', False),
        ('<system><type op="like" value="mach%"/></system>', True),  # case-insensitive
    ],
)
def test_2_like_works_on_text(body: str, expected: bool, target: Target) -> None:
    # Beaker crashes (AttributeError/KeyError) on op="like" for all of these.
    assert (
        parse(f"<hostRequires>{body}</hostRequires>").virtualisable(target).virtualisable
        is expected
    )


@pytest.mark.parametrize(
    ("body", "element"),
    [
        ('<memory op="like" value="4096"/>', "memory"),
        ('<system><memory op="like" value="4%"/></system>', "memory"),
        ('<cpu><cores op="like" value="2"/></cpu>', "cores"),
        ('<cpu_count op="like" value="2"/>', "cpu_count"),
        ('<disk><size op="like" value="2" units="GiB"/></disk>', "size"),
    ],
)
def test_2_like_on_a_number_is_a_clear_error(body: str, element: str) -> None:
    with pytest.raises(HostRequiresError) as caught:
        parse(f"<hostRequires>\n{body}\n</hostRequires>")
    assert caught.value.element == element
    assert caught.value.line == 2
    assert "'like' compares text" in str(caught.value)


def test_3_system_type_honours_op(target: Target) -> None:
    # Beaker ignores op and compares value == "Machine".
    assert not parse(
        '<hostRequires><system_type op="!=" value="Machine"/></hostRequires>'
    ).virtualisable(target)
    assert parse(
        '<hostRequires><system_type op="!=" value="Prototype"/></hostRequires>'
    ).virtualisable(target)
    assert parse(
        '<hostRequires><system><type op="!=" value="Resource"/></system></hostRequires>'
    ).virtualisable(target)


def test_4_arches_come_from_the_provider() -> None:
    # Beaker hard-codes x86_64 and i386.
    arm = Target(arches=("aarch64",), lab=LAB)
    x86 = Target(arches=("x86_64", "i386"), lab=LAB)
    want_arm = parse('<hostRequires><system><arch value="aarch64"/></system></hostRequires>')
    want_x86 = parse('<hostRequires><arch value="x86_64"/></hostRequires>')
    assert want_arm.virtualisable(arm)
    assert not want_arm.virtualisable(x86)
    assert want_x86.virtualisable(x86)
    assert not want_x86.virtualisable(arm)
    assert "this provider offers aarch64" in want_x86.virtualisable(arm).reasons[0]


def test_5_no_flavor_is_a_definite_typed_outcome(target: Target) -> None:
    # Beaker's "precluded" could be rolled back and retried every pass; here the same
    # question gets the same definite answer, with reasons, every time.
    hr = parse('<hostRequires><memory op="&gt;" value="65536"/></hostRequires>')
    first = hr.match(FLAVORS, target)
    again = hr.match(FLAVORS, target)
    assert first.chosen is None
    assert not first
    assert first.flavors == again.flavors == ()
    assert first.reasons == again.reasons
    assert len(first.removed) == len(FLAVORS)
    assert hr.virtualisable(target)  # sizes might exist elsewhere: the match decides


def test_root_disk_minimum_is_10_gib(target: Target) -> None:
    flavors = [
        Flavor("a", "nine", vcpus=1, ram_mib=1024, disk_bytes=9 * GiB),
        Flavor("b", "ten", vcpus=1, ram_mib=2048, disk_bytes=10 * GiB),
    ]
    match = parse("<hostRequires/>").match(flavors, target)
    assert [f.name for f in match.flavors] == ["ten"]
    assert "under the 10 GiB" in match.removed[0].reasons[0]
