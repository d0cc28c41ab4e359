"""Every element at every level and every operator: verdict and surviving flavors."""

from __future__ import annotations

import pytest

from tests.hostrequires.hrdata import ALL_OK, FLAVORS, LAB
from virtprov.hostrequires import Target, parse

NONE: list[str] = []

# (hostRequires body, virtualisable, satisfying flavors cheapest first)
CASES = [
    # the empty filter and the containers
    ("", True, ALL_OK),
    ("<and/>", True, ALL_OK),
    ("<or/>", False, NONE),  # an empty <or/> matches nothing (Beaker)
    ("<not/>", False, NONE),  # not(everything)
    ("<system/>", True, ALL_OK),
    ("<cpu/>", True, ALL_OK),
    ("<disk/>", True, ALL_OK),
    # memory, top-level (deprecated) and in <system>, every operator
    ('<memory op="&gt;=" value="4096"/>', True, ["m1.medium", "m1.large", "m1.xlarge"]),
    ('<system><memory op="&gt;" value="4096"/></system>', True, ["m1.large", "m1.xlarge"]),
    ('<system><memory op="&lt;" value="4096"/></system>', True, ["m1.small"]),
    ('<system><memory op="&lt;=" value="4096"/></system>', True, ["m1.small", "m1.medium"]),
    ('<system><memory op="=" value="8192"/></system>', True, ["m1.large"]),
    ('<system><memory op="==" value="8192"/></system>', True, ["m1.large"]),
    ('<system><memory value="8192"/></system>', True, ["m1.large"]),  # op defaults to =
    (
        '<system><memory op="!=" value="8192"/></system>',
        True,
        ["m1.small", "m1.medium", "m1.xlarge"],
    ),
    ('<system><memory op="&gt;=" value="0"/></system>', True, ALL_OK),  # 0: no filter
    ("<system><memory/></system>", True, ALL_OK),  # missing: no filter
    ('<system><memory op="&gt;" value="99999"/></system>', True, NONE),
    # vcpus: cpu_count (deprecated), processors, cores
    ('<cpu_count op="&gt;=" value="4"/>', True, ["m1.large", "m1.xlarge"]),
    ('<cpu><processors op="&gt;" value="1"/></cpu>', True, ["m1.medium", "m1.large", "m1.xlarge"]),
    ('<cpu><cores op="=" value="2"/></cpu>', True, ["m1.medium"]),
    ('<cpu><and><cores op="&gt;=" value="4"/></and></cpu>', True, ["m1.large", "m1.xlarge"]),
    # disk size, bytes by default, units
    (
        '<disk><size op="&gt;=" value="40" units="GiB"/></disk>',
        True,
        ["m1.medium", "m1.large", "m1.xlarge"],
    ),
    ('<disk><size op="&gt;" value="42949672960"/></disk>', True, ["m1.large", "m1.xlarge"]),
    ('<disk><size op="&lt;" value="40" units="GB"/></disk>', True, ["m1.small"]),
    ('<disk><size op="=" value="80" units="GiB"/></disk>', True, ["m1.large"]),
    ('<disk><size op="&gt;=" value="1" units="TiB"/></disk>', True, NONE),
    (
        '<disk><size op="&gt;=" value="40960" units="MiB"/></disk>',
        True,
        ["m1.medium", "m1.large", "m1.xlarge"],
    ),
    # hypervisor: top-level and in <system>
    ('<hypervisor value="KVM"/>', True, ALL_OK),
    ('<system><hypervisor op="=" value="KVM"/></system>', True, ALL_OK),
    ('<system><hypervisor value=""/></system>', False, NONE),  # bare metal
    ("<system><hypervisor/></system>", False, NONE),
    ('<hypervisor op="!=" value=""/>', True, ALL_OK),
    ('<hypervisor op="!=" value="KVM"/>', False, NONE),
    ('<hypervisor op="like" value="k%"/>', True, ALL_OK),
    ('<hypervisor value="Xen"/>', False, NONE),
    # system type
    ('<system_type value="Machine"/>', True, ALL_OK),
    ('<system><type value="Machine"/></system>', True, ALL_OK),
    ('<system><type value="Prototype"/></system>', False, NONE),
    ('<system><type op="!=" value="Prototype"/></system>', True, ALL_OK),
    # arch: top-level and in <system>
    ('<arch value="x86_64"/>', True, ALL_OK),
    ('<system><arch value="i386"/></system>', True, ALL_OK),
    ('<system><arch value="aarch64"/></system>', False, NONE),
    ('<system><arch op="!=" value="x86_64"/></system>', True, ALL_OK),  # i386 is offered
    ('<system><arch op="like" value="x86%"/></system>', True, ALL_OK),
    ('<and><arch value="x86_64"/><arch value="i386"/></and>', False, NONE),  # one guest, one arch
    ('<or><arch value="x86_64"/><arch value="s390x"/></or>', True, ALL_OK),
    # lab controller
    (f'<labcontroller value="{LAB}"/>', True, ALL_OK),
    (f'<hostlabcontroller value="{LAB}"/>', True, ALL_OK),
    ('<labcontroller value="other.example.com"/>', False, NONE),
    ('<labcontroller op="!=" value="other.example.com"/>', True, ALL_OK),
    ('<labcontroller value=""/>', False, NONE),
    ('<labcontroller op="!=" value=""/>', False, NONE),  # empty matches none, whatever the op
    ('<labcontroller op="like" value="%.example.com"/>', True, ALL_OK),
    # <or>, <not>, nesting
    (
        '<or><memory op="&lt;" value="4096"/><cpu_count op="&gt;=" value="8"/></or>',
        True,
        ["m1.small", "m1.xlarge"],
    ),
    ('<not><memory op="&gt;=" value="8192"/></not>', True, ["m1.small", "m1.medium"]),
    (
        '<not><memory op="&gt;=" value="4096"/><cpu_count op="&gt;" value="4"/></not>',
        True,
        ["m1.small", "m1.medium", "m1.large"],
    ),
    (
        '<not><device type="network"/></not>',
        True,
        ALL_OK,
    ),  # never-satisfiable child removes nothing
    ('<not><hypervisor value="KVM"/></not>', False, NONE),
    ('<not><not><memory op="=" value="2048"/></not></not>', True, ["m1.small"]),
    (
        '<system><or><memory value="2048"/><memory value="16384"/></or></system>',
        True,
        ["m1.small", "m1.xlarge"],
    ),
    (
        '<and><or><memory value="2048"/><device type="x"/></or><not><pool value="x"/></not></and>',
        True,
        ["m1.small"],
    ),
    # unknown elements are <and> (and keep their level's vocabulary)
    ('<frobnicate><memory op="&gt;=" value="8192"/></frobnicate>', True, ["m1.large", "m1.xlarge"]),
    ('<cpu><whatever><cores op="&gt;=" value="8"/></whatever></cpu>', True, ["m1.xlarge"]),
    # not satisfiable by a VM, at every level
    ('<device type="network"/>', False, NONE),
    ('<diskspace op="&gt;" value="10" units="GiB"/>', False, NONE),
    ('<diskcount op="&gt;" value="1"/>', False, NONE),
    ('<pool value="x"/>', False, NONE),
    ('<group value="x"/>', False, NONE),
    ('<key_value key="NETBOOT_METHOD" value="efi"/>', False, NONE),
    ('<auto_prov value="true"/>', False, NONE),
    ('<hostname value="h.example.com"/>', False, NONE),
    ('<host value="h.example.com"/>', False, NONE),
    ('<numa_node_count op="&gt;" value="1"/>', False, NONE),
    *(
        (f'<system><{tag} value="{value}"/></system>', False, NONE)
        for tag, value in [
            ("name", "h"),
            ("status", "Automated"),
            ("lender", "x"),
            ("vendor", "HP"),
            ("model", "x"),
            ("owner", "x"),
            ("user", "x"),
            ("loaned", "x"),
            ("location", "x"),
            ("powertype", "ipmilan"),
            ("serial", "x"),
            ("numanodes", "2"),
            ("added", "2020-01-01"),
            ("last_inventoried", "2020-01-01"),
        ]
    ),
    ('<system><compatible_with_distro arch="x86_64" osmajor="RHEL9"/></system>', False, NONE),
    *(
        (f'<cpu><{tag} value="{value}"/></cpu>', False, NONE)
        for tag, value in [
            ("family", "6"),
            ("hyper", "true"),
            ("model", "85"),
            ("model_name", "Xeon"),
            ("sockets", "2"),
            ("speed", "2400.5"),
            ("stepping", "4"),
            ("vendor", "GenuineIntel"),
            ("flag", "vmx"),
        ]
    ),
    *(
        (f'<disk><{tag} value="{value}"/></disk>', False, NONE)
        for tag, value in [("model", "x"), ("sector_size", "512"), ("phys_sector_size", "4096")]
    ),
    # ...and inside <or> only that branch goes
    (
        '<or><cpu><flag value="vmx"/></cpu><memory op="&gt;=" value="16384"/></or>',
        True,
        ["m1.xlarge"],
    ),
    # comments and processing instructions are ignored
    ("<!-- a comment --><?pi x?><memory value='2048'/>", True, ["m1.small"]),
]


@pytest.mark.parametrize(("body", "virtualisable", "flavors"), CASES)
def test_element(body: str, virtualisable: bool, flavors: list[str], target: Target) -> None:
    hr = parse(f"<hostRequires>{body}</hostRequires>")
    verdict = hr.virtualisable(target)
    assert verdict.virtualisable is virtualisable, verdict
    if not virtualisable:
        assert verdict.reasons, "a no always comes with reasons"
    match = hr.match(FLAVORS, target)
    assert [flavor.name for flavor in match.flavors] == flavors
    assert (match.chosen.name if match.chosen else None) == (flavors[0] if flavors else None)
    removed = {removal.flavor.name for removal in match.removed}
    assert removed == {flavor.name for flavor in FLAVORS} - set(flavors)
    assert all(removal.reasons for removal in match.removed)


def test_force_is_never_a_vm(target: Target) -> None:
    hr = parse('<hostRequires force="box.example.com"><memory value="2048"/></hostRequires>')
    verdict = hr.virtualisable(target)
    assert not verdict
    assert 'force="box.example.com"' in verdict.reasons[0]
    assert hr.warnings  # the ignored children are reported
    match = hr.match(FLAVORS, target)
    assert match.chosen is None
    assert all("force=" in r.reasons[0] for r in match.removed)
    # an empty force= is no force
    assert parse('<hostRequires force=""/>').virtualisable(target)


def test_root_tag_does_not_matter(target: Target) -> None:
    assert parse('<anything><memory value="2048"/></anything>').match(FLAVORS, target).chosen


def test_reasons_name_element_and_line(target: Target) -> None:
    hr = parse(
        "<hostRequires>\n<and>\n"
        '  <system><memory op="&gt;=" value="8192"/></system>\n'
        "</and>\n</hostRequires>"
    )
    removal = {r.flavor.name: r.reasons for r in hr.match(FLAVORS, target).removed}
    assert removal["m1.medium"] == (
        '<memory op=">=" value="8192"> (line 3) not met: the flavor has 4096 MiB RAM',
    )
    assert any("root disk" in reason for reason in removal["m1.tiny"])
    assert removal["bfv.large"] == (
        "its root disk (0 bytes) is under the 10 GiB an installed system needs",
    )
    verdict = parse(
        '<hostRequires>\n\n<cpu><flag value="vmx"/></cpu></hostRequires>'
    ).virtualisable(target)
    assert verdict.reasons == (
        '<flag value="vmx"> (line 3): a virtual machine cannot satisfy a cpu.flag requirement: '
        "no flavor here declares cpu.flag",
    )


def test_unknown_elements_warn(target: Target) -> None:
    hr = parse("<hostRequires>\n<frob/><cpu><blah/></cpu></hostRequires>")
    assert len(hr.warnings) == 2
    assert "<frob> (line 2)" in hr.warnings[0]
    assert "<hostRequires>" in hr.warnings[0]
    assert "inside <cpu>" in hr.warnings[1]
    assert hr.virtualisable(target).warnings == hr.warnings


def test_flavor_arch_and_provider_arches() -> None:
    from virtprov.model import Flavor, GiB

    arm = Flavor("a", "arm.large", vcpus=4, ram_mib=8192, disk_bytes=80 * GiB, arch="aarch64")
    x86 = Flavor("x", "x86.large", vcpus=4, ram_mib=8192, disk_bytes=80 * GiB, arch="x86_64")
    target = Target(arches=("x86_64", "aarch64"), lab=LAB)
    hr = parse('<hostRequires><system><arch value="aarch64"/></system></hostRequires>')
    assert hr.virtualisable(target)
    match = hr.match([x86, arm], target)
    assert [f.name for f in match.flavors] == ["arm.large"]
    assert "not met by x86_64" in match.removed[0].reasons[0]
    assert not hr.virtualisable(Target(arches=("x86_64",), lab=LAB))


def test_unknown_lab_is_assumed_with_a_warning() -> None:
    hr = parse('<hostRequires><labcontroller value="x.example.com"/></hostRequires>')
    verdict = hr.virtualisable(Target(lab=None))
    assert verdict.virtualisable
    assert "no lab given, assumed to match" in verdict.warnings[0]


def test_provider_info_is_a_target() -> None:
    from virtprov.model import ProviderInfo

    info = ProviderInfo(name="os", driver="openstack", lab=LAB, arches=("x86_64",))
    hr = parse(f'<hostRequires><labcontroller value="{LAB}"/><arch value="x86_64"/></hostRequires>')
    assert hr.virtualisable(info)
    assert hr.match(FLAVORS, info).chosen is not None


def test_prepared_flavor_set_is_reusable(target: Target) -> None:
    from virtprov.hostrequires import prepare

    prepared = prepare(FLAVORS, target)
    small = parse('<hostRequires><memory value="2048"/></hostRequires>')
    big = parse('<hostRequires><memory op="&gt;" value="8192"/></hostRequires>')
    assert small.match(prepared).chosen.name == "m1.small"  # type: ignore[union-attr]
    assert big.match(prepared).chosen.name == "m1.xlarge"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="another target"):
        small.match(prepared, Target(hypervisor="Xen"))


def test_defaults_are_the_floor_for_shape_catalogues(target: Target) -> None:
    from virtprov.config import Defaults
    from virtprov.model import Flavor, GiB

    ladder = [
        Flavor("s", "shape-512", vcpus=1, ram_mib=512, disk_bytes=20 * GiB),
        Flavor("m", "shape-1024", vcpus=1, ram_mib=1024, disk_bytes=20 * GiB),
        Flavor("d", "shape-1024-10", vcpus=1, ram_mib=1024, disk_bytes=10 * GiB),
        Flavor("l", "shape-4096", vcpus=2, ram_mib=4096, disk_bytes=40 * GiB),
    ]
    defaults = Defaults()
    nothing = parse("<hostRequires/>").match(ladder, target, defaults=defaults)
    assert nothing.chosen is not None
    assert nothing.chosen.name == "shape-1024"
    reasons = {r.flavor.name: r.reasons for r in nothing.removed}
    assert "default guest memory (1024 MiB)" in reasons["shape-512"][0]
    assert "default guest disk size (20 GiB)" in reasons["shape-1024-10"][0]
    more = parse('<hostRequires><memory op="&gt;=" value="2048"/></hostRequires>')
    assert more.match(ladder, target, defaults=defaults).chosen.name == "shape-4096"  # type: ignore[union-attr]
    # without defaults, only the 10 GiB root disk rule applies
    assert parse("<hostRequires/>").match(ladder, target).chosen.name == "shape-512"  # type: ignore[union-attr]


def test_cheapest_first_uses_ram_then_disk_then_vcpus_then_id(target: Target) -> None:
    from virtprov.model import Flavor, GiB

    flavors = [
        Flavor("b", "b", vcpus=2, ram_mib=2048, disk_bytes=20 * GiB),
        Flavor("a", "a", vcpus=2, ram_mib=2048, disk_bytes=20 * GiB),
        Flavor("c", "c", vcpus=1, ram_mib=2048, disk_bytes=20 * GiB),
        Flavor("d", "d", vcpus=1, ram_mib=2048, disk_bytes=30 * GiB),
        Flavor("e", "e", vcpus=1, ram_mib=1024, disk_bytes=90 * GiB),
    ]
    match = parse("<hostRequires/>").match(flavors, target)
    assert [f.name for f in match.flavors] == ["e", "c", "a", "b", "d"]


def test_compiled_form_is_immutable(target: Target) -> None:
    import attrs

    hr = parse('<hostRequires><memory value="2048"/></hostRequires>')
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        hr.force = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        hr.root.children[0].value = 1  # type: ignore[attr-defined]
