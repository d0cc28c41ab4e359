"""The folded evaluation form answers exactly as the node tree does.

The XML compiler builds the evaluation form directly (no node per element) and the node
tree only when a reason is asked for; these tests hold the two together.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.hostrequires.hrdata import FLAVORS, LAB
from tests.hostrequires.test_hr_properties import PREPARED, TARGET, tree
from virtprov.errors import HostRequiresError
from virtprov.hostrequires import HostRequires, Target, parse, prepare
from virtprov.hostrequires import program as P
from virtprov.hostrequires.compiled import (
    AllOf,
    Loc,
    SizeTest,
    Unsatisfiable,
    explain_flavor,
    masked_parts,
)

TARGETS = [
    TARGET,
    Target(arches=("x86_64",), lab=None),
    Target(hypervisor="Xen", arches=("aarch64", "i386"), lab="other.example.com"),
    Target(arches=(), lab=LAB),
]


def assert_same_answers(hr: HostRequires) -> None:
    root = hr.root  # built from the element, as for a reason
    assert hr.program == P.from_node(root)
    for target in TARGETS:
        for arch in (*target.arches, "s390x"):
            assert P.tri(hr.program, target, arch) == root.tri(target, arch)
        candidates = prepare(FLAVORS, target)
        assert P.mask(hr.program, candidates) == root.mask(candidates)
    assert P.mask(hr.program, PREPARED) == root.mask(PREPARED)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree)
def test_generated_documents(body: str) -> None:
    assert_same_answers(parse(f"<hostRequires>{body}</hostRequires>"))


def test_benchmark_corpus() -> None:
    benchmarks = Path(__file__).resolve().parents[2] / "benchmarks"
    sys.path.insert(0, str(benchmarks))
    try:
        import eligibility
    finally:
        sys.path.remove(str(benchmarks))
    for document in eligibility.corpus(300, seed=7):
        assert_same_answers(parse(document))


@pytest.mark.parametrize(
    "body",
    [
        "",
        "<or/>",
        "<not/>",
        "<not><not/></not>",
        '<memory value="0"/>',
        '<or><memory value="0"/><device type="x"/></or>',
        '<not><memory value=""/></not>',
        '<and><memory op="&gt;" value="1"/><cpu><cores value="2"/></cpu></and>',
        '<or><memory op="&gt;" value="1"/><arch value="x86_64"/></or>',
        '<not><memory op="&gt;" value="1"/><labcontroller value="lab.example.com"/></not>',
    ],
)
def test_folding_edge_cases(body: str) -> None:
    assert_same_answers(parse(f"<hostRequires>{body}</hostRequires>"))


def test_a_non_ascii_digit_is_still_an_error() -> None:
    with pytest.raises(HostRequiresError, match="not an integer"):
        parse('<hostRequires><memory value="\u0663"/></hostRequires>')


def test_a_node_tree_from_another_front_end_is_evaluated() -> None:
    loc = Loc("hardware.memory", (("value", ">= 4 GiB"),), language="tmt")
    hr = HostRequires(AllOf((SizeTest("ram_mib", ">=", 4096, loc),), loc), loc)
    assert [f.name for f in hr.match(FLAVORS, TARGET).flavors] == [
        "m1.medium",
        "m1.large",
        "m1.xlarge",
    ]
    never = HostRequires(AllOf((Unsatisfiable("cpu.flag", "=", "vmx", loc),), loc), loc)
    verdict = never.virtualisable(TARGET)
    assert not verdict
    assert "cpu.flag" in verdict.reasons[0]


def test_reasons_and_equality_use_the_lazily_built_tree() -> None:
    text = '<hostRequires>\n<memory op="&gt;" value="99999"/>\n<pool value="x"/></hostRequires>'
    a, b = parse(text), parse(text)
    assert "root" not in vars(a)  # nothing built yet
    verdict = a.virtualisable(TARGET)
    assert verdict.reasons == (
        '<pool value="x"> (line 3): a virtual machine cannot satisfy a beaker.pool requirement',
    )
    assert a == a
    assert a != b  # different parsed elements, as before
    assert hash(a) == hash(a)
    assert "SizeTest" in repr(a)


def assert_same_reasons(hr: HostRequires) -> None:
    """Reasons asked of each requirement once for all flavors (masked_parts, as
    FlavorMatch does) are those asked flavor by flavor."""
    root = hr.root
    for candidates in (PREPARED, prepare(FLAVORS, TARGETS[2])):
        parts = masked_parts(root, candidates)
        matched = root.mask(candidates)
        for number in range(len(candidates.flavors)):
            expected = explain_flavor(root, candidates, number)
            assert explain_flavor(root, candidates, number, matched, parts) == expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree)
def test_reasons_of_generated_documents(body: str) -> None:
    assert_same_reasons(parse(f"<hostRequires>{body}</hostRequires>"))
    assert_same_reasons(parse(f"<hostRequires><and><and>{body}</and></and></hostRequires>"))
