"""Reasons never contradict the verdict: a requirement some guest meets is never given as
unmet, and ``check --flavors`` names only the flavors that matter (all with --verbose)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from tests.hostrequires.hrdata import FLAVORS, LAB
from tests.hostrequires.test_hr_properties import tree
from virtprov.cli.check import command
from virtprov.hostrequires import Target, parse, prepare
from virtprov.hostrequires.tmt import parse_tmt
from virtprov.model import Flavor, GiB

TARGET = Target(arches=("x86_64", "i386"), lab=LAB)


def test_a_met_arch_is_not_a_reason_for_a_no() -> None:
    # the reported case: the arch is met (as x86_64); the NIC is what no VM has
    hr = parse('<hostRequires>\n<arch op="=" value="x86_64"/>\n<device type="network"/>\n'
               "</hostRequires>")  # fmt: skip
    verdict = hr.virtualisable(TARGET)
    assert not verdict
    assert verdict.reasons == (
        '<device type="network"> (line 3): a virtual machine cannot satisfy a device requirement',
    )
    tmt = parse_tmt({"arch": "x86_64", "hostname": "kvm-01"}).virtualisable(TARGET)
    assert tmt.reasons == (
        "hardware.hostname: kvm-01: a virtual machine cannot satisfy a hostname requirement",
    )
    # an arch no guest here runs is the reason, for every guest
    verdict = parse('<hostRequires><arch value="aarch64"/></hostRequires>').virtualisable(TARGET)
    assert verdict.reasons == (
        '<arch value="aarch64"> (line 1) not met: this provider offers x86_64, i386',
    )


def test_when_each_guest_fails_differently_each_is_named_by_its_arch() -> None:
    # one guest cannot be both: neither requirement alone is the reason
    hr = parse('<hostRequires><and><arch value="x86_64"/><arch value="i386"/></and></hostRequires>')
    assert hr.virtualisable(TARGET).reasons == (
        'as x86_64: <arch value="i386"> (line 1) not met by x86_64',
        'as i386: <arch value="x86_64"> (line 1) not met by i386',
    )


def test_a_flavor_is_removed_for_what_none_of_its_guests_meets() -> None:
    hr = parse(
        '<hostRequires>\n<arch value="x86_64"/>\n<memory op="&gt;=" value="4096"/>\n</hostRequires>'
    )
    removed = {r.flavor.name: r.reasons for r in hr.match(FLAVORS, TARGET).removed}
    # m1.small runs x86_64 too: only the memory removed it
    assert removed["m1.small"] == (
        '<memory op=">=" value="4096"> (line 3) not met: the flavor has 2048 MiB RAM',
    )
    # m1.tiny meets neither, and its disk is too small
    assert removed["m1.tiny"] == (
        '<memory op=">=" value="4096"> (line 3) not met: the flavor has 512 MiB RAM',
        "its root disk (1 GiB) is under the 10 GiB an installed system needs",
    )


def test_a_flavor_meeting_the_document_is_removed_only_by_the_fixed_rules() -> None:
    hr = parse('<hostRequires><arch value="x86_64"/></hostRequires>')
    removed = {r.flavor.name: r.reasons for r in hr.match(FLAVORS, TARGET).removed}
    assert removed == {
        "m1.tiny": ("its root disk (1 GiB) is under the 10 GiB an installed system needs",),
        "bfv.large": ("its root disk (0 bytes) is under the 10 GiB an installed system needs",),
    }


PREPARED = prepare(FLAVORS, TARGET)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree)
def test_no_requirement_a_guest_meets_is_given_as_unmet(body: str) -> None:
    hr = parse(f"<hostRequires>{body}</hostRequires>")
    root = hr.root
    verdict = hr.virtualisable(TARGET)
    for reason in verdict.reasons:
        if not reason.startswith("as "):  # a reason for every guest: true of each
            for arch in TARGET.arches:
                assert reason in root.why_not(TARGET, arch) or reason.startswith("(further")
    match = hr.match(PREPARED)
    for removal in match.removed:
        number = PREPARED.flavors.index(removal.flavor)
        if any(root.holds(PREPARED, i) for i in PREPARED.candidates_of(number)):
            assert removal.reasons == PREPARED.unfit.get(number, ())


# -- check --flavors: the flavors that matter --------------------------------------------------

NOVA = [
    {"id": str(n), "name": name, "ram": ram, "disk": disk, "vcpus": vcpus}
    for n, (name, ram, disk, vcpus) in enumerate(
        [
            ("m1.tiny", 512, 1, 1),
            ("m1.small", 2048, 20, 1),
            ("m1.medium", 4096, 40, 2),
            ("m1.large", 8192, 80, 4),
            ("m1.xlarge", 16384, 160, 8),
        ]
    )
]


def run(*args: str, stdin: str) -> tuple[int, str]:
    result = CliRunner().invoke(command, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout


@pytest.fixture
def nova(tmp_path: Path) -> str:
    path = tmp_path / "flavors.json"
    path.write_text(json.dumps(NOVA))
    return str(path)


def test_with_an_answer_only_the_flavors_passed_over_are_explained(nova: str) -> None:
    doc = (
        '<hostRequires>\n<arch value="x86_64"/>\n<memory op="&lt;=" value="8192"/>\n</hostRequires>'
    )
    code, out = run("-", "--flavors", nova, "--arch", "x86_64", "--arch", "aarch64", stdin=doc)
    assert code == 0
    # m1.xlarge (dearer than the choice) and the aarch64 guests are not reasons
    assert out.splitlines() == [
        "virtualisable: yes, on m1.small",
        "  satisfying flavors, cheapest first: m1.small, m1.medium, m1.large",
        "  - m1.tiny: its root disk (1 GiB) is under the 10 GiB an installed system needs",
    ]
    code, out = run("-", "--flavors", nova, "--verbose", stdin=doc)
    assert "  - m1.xlarge: <memory op=\"&lt;=\" value=\"8192\"> (line 3) not met: the flavor " \
           "has 16384 MiB RAM" in out.splitlines()  # fmt: skip


def test_the_json_reasons_are_the_same_flavors(nova: str) -> None:
    doc = '<hostRequires><memory op="&lt;=" value="4096"/></hostRequires>'
    _, out = run("-", "--flavors", nova, "--json", stdin=doc)
    result = json.loads(out)
    assert result["chosen"] == "m1.small"
    # m1.large and m1.xlarge are removed too, but dearer than the choice
    assert result["reasons"] == [
        "m1.tiny: its root disk (1 GiB) is under the 10 GiB an installed system needs",
    ]
    _, out = run("-", "--flavors", nova, "--json", "--verbose", stdin=doc)
    assert len(json.loads(out)["reasons"]) == 3


def test_with_no_vm_the_verdict_says_why_not_each_flavor(nova: str) -> None:
    doc = '<hostRequires><device type="network"/><memory op="&gt;=" value="4096"/></hostRequires>'
    _, out = run("-", "--flavors", nova, stdin=doc)
    assert out.splitlines() == [
        "virtualisable: no",
        '  - <device type="network"> (line 1): a virtual machine cannot satisfy a device '
        "requirement",
    ]
    _, out = run("-", "--flavors", nova, "--verbose", stdin=doc)
    assert "  - m1.small: " in out
    # a VM, but no flavor: every flavor matters
    doc = '<hostRequires><memory op="&gt;" value="100000"/></hostRequires>'
    _, out = run("-", "--flavors", nova, stdin=doc)
    lines = out.splitlines()
    assert lines[:2] == ["virtualisable: no", "  - no flavor satisfies the requirements:"]
    assert {line.split(":")[0].strip(" -") for line in lines[2:]} == {f["name"] for f in NOVA}


def test_a_flavor_of_another_arch_is_not_passed_over() -> None:
    flavors = [
        Flavor("1", "a1.small", vcpus=1, ram_mib=2048, disk_bytes=20 * GiB, arch="aarch64"),
        Flavor("2", "m1.medium", vcpus=2, ram_mib=4096, disk_bytes=40 * GiB, arch="x86_64"),
        Flavor("3", "m1.small", vcpus=1, ram_mib=1024, disk_bytes=20 * GiB, arch="x86_64"),
    ]
    target = Target(arches=("x86_64", "aarch64"), lab=LAB)
    match = parse(
        '<hostRequires><arch value="x86_64"/><memory op="&gt;=" value="2048"/></hostRequires>'
    ).match(flavors, target)
    assert match.chosen is not None
    assert match.chosen.name == "m1.medium"
    assert [r.flavor.name for r in match.removed] == ["m1.small", "a1.small"]
    assert [r.flavor.name for r in match.passed_over] == ["m1.small"]


def test_reasons_left_out_are_never_the_only_reason() -> None:
    # each guest fails eleven requirements, none the other's: ten each, then the mark
    body = "\n".join(['<arch value="i386"/>\n<arch value="x86_64"/>'] * 11)
    hr = parse(f"<hostRequires>\n{body}\n</hostRequires>")
    reasons = hr.virtualisable(TARGET).reasons
    assert reasons != ("(further reasons left out)",)
    assert reasons[0] == 'as x86_64: <arch value="i386"> (line 2) not met by x86_64'
    small = next(r for r in hr.match(FLAVORS, TARGET).removed if r.flavor.name == "m1.small")
    assert small.reasons[0] == reasons[0]
    # with reasons common to every guest, the mark follows them when more were left out
    sizes = "".join(f'<memory op="&gt;" value="{10**6 + n}"/>' for n in range(11))
    many = parse(f"<hostRequires>{sizes}</hostRequires>").match(FLAVORS, TARGET).removed
    small = next(r for r in many if r.flavor.name == "m1.small")
    assert small.reasons[-1] == "(further reasons left out)"
    assert len(small.reasons) == 11
