"""The folded evaluation form answers exactly as the node tree does.

The XML compiler builds the evaluation form directly (no node per element) and the node
tree only when a reason is asked for; these tests hold the two together.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path
from typing import cast

import pytest
from hypothesis import HealthCheck, given, settings

from tests.hostrequires.hrdata import FLAVORS, LAB
from tests.hostrequires.test_hr_properties import PREPARED, TARGET, tree
from virtprov.errors import HostRequiresError
from virtprov.hostrequires import HostRequires, Target, parse, prepare
from virtprov.hostrequires import compiled as C
from virtprov.hostrequires import program as P
from virtprov.hostrequires.patterns import like
from virtprov.model import GiB

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
    loc = C.Loc("hardware.memory", (("value", ">= 4 GiB"),), language="tmt")
    hr = HostRequires(C.AllOf((C.SizeTest("ram_mib", ">=", 4096, loc),), loc), loc)
    assert [f.name for f in hr.match(FLAVORS, TARGET).flavors] == [
        "m1.medium",
        "m1.large",
        "m1.xlarge",
    ]
    never = HostRequires(C.AllOf((C.Unsatisfiable("cpu.flag", "=", "vmx", loc),), loc), loc)
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
        parts = C.masked_parts(root, candidates)
        matched = root.mask(candidates)
        for number in range(len(candidates.flavors)):
            expected = C.explain_flavor(root, candidates, number)
            assert C.explain_flavor(root, candidates, number, matched, parts) == expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree)
def test_reasons_of_generated_documents(body: str) -> None:
    assert_same_reasons(parse(f"<hostRequires>{body}</hostRequires>"))
    assert_same_reasons(parse(f"<hostRequires><and><and>{body}</and></and></hostRequires>"))


#: One element of each kind the XML compiler reads, each way it can read it.
EVERY_KIND = """<hostRequires>
<memory op="&gt;=" value="2048"/><memory op="==" value=" 4096"/>
<system><memory value="0"/><memory/></system>
<disk><size op="&lt;" value="40" units="GB"/><size value="1" units="GiB"/></disk>
<cpu><speed op="&gt;" value="2400.5"/><speed value=""/><flag value="vmx"/></cpu>
<cpu><flag op="like" value="avx%"/><cores op="!=" value="2"/></cpu>
<key_value key="TPM" op="&gt;=" value="2.0"/><key_value key="HVM" value="1"/>
<key_value key="OTHER" value="x"/><key_value value="y"/>
<hostname op="!=" value="kvm-01"/><hostname op="like" value="kvm%"/>
<diskspace op="&gt;" value="10"/><diskspace op="!=" value="10"/>
<or><arch value="x86_64"/><system><arch op="like" value="x86%"/></system></or>
<not><hypervisor value=""/></not><or/>
<labcontroller value="lab.example.com"/><hostlabcontroller op="like" value="%.example.com"/>
<system_type value="Machine"/><system><type op="!=" value="Machine"/></system>
<numa_node_count value="3"/><numa_node_count op="!=" value="0"/><memory value="0042"/>
<cpu><speed value="2400"/></cpu><unknown><memory value="1024"/><!-- a comment --></unknown>
</hostRequires>"""


def _located(node: C.Node) -> C.Node:
    """The node tree with each element as its tag and line (nodes hold the element)."""
    el = node.loc
    assert not isinstance(el, C.Loc)
    loc = C.Loc(str(el.tag), line=cast("int | None", el.sourceline))
    if isinstance(node, C.AllOf | C.AnyOf | C.NoneOf):
        return node._replace(children=tuple(_located(child) for child in node.children), loc=loc)
    located: C.Node = node._replace(loc=loc)  # type: ignore[attr-defined]
    return located


def test_the_node_tree_of_every_kind_of_element() -> None:
    # Reasons and equality read the tree's every field, not only what the program keeps.
    def at(tag: str, line: int) -> C.Loc:
        return C.Loc(tag, line=line)

    assert _located(parse(EVERY_KIND).root) == C.AllOf(
        (
            C.SizeTest("ram_mib", ">=", 2048, at("memory", 2)),
            C.SizeTest("ram_mib", "=", 4096, at("memory", 2)),
            C.AllOf((C.AllOf((), at("memory", 3)), C.AllOf((), at("memory", 3))), at("system", 3)),
            C.AllOf(
                (
                    C.SizeTest("disk_bytes", "<", 40 * 10**9, at("size", 4), 40 * GiB),
                    C.SizeTest("disk_bytes", "=", GiB, at("size", 4)),
                ),
                at("disk", 4),
            ),
            C.AllOf(
                (
                    C.DeclaredTest(
                        "cpu.frequency", "frequency", ">", Fraction(4801, 2), None, at("speed", 5)
                    ),
                    C.Unsatisfiable("cpu.frequency", "=", "", at("speed", 5)),
                    C.DeclaredTest("cpu.flag", "set", "=", "vmx", None, at("flag", 5)),
                ),
                at("cpu", 5),
            ),
            C.AllOf(
                (
                    C.DeclaredTest("cpu.flag", "set", "like", "avx%", like("avx%"), at("flag", 6)),
                    C.SizeTest("vcpus", "!=", 2, at("cores", 6)),
                ),
                at("cpu", 6),
            ),
            C.DeclaredTest("tpm.version", "text", ">=", "2.0", None, at("key_value", 7)),
            C.DeclaredTest(
                "virtualization.is-supported", "flag", "=", True, None, at("key_value", 7)
            ),
            C.Unsatisfiable("key_value", "=", "x", at("key_value", 8)),
            C.Unsatisfiable("key_value", "=", "y", at("key_value", 8)),
            C.AllOf((), at("hostname", 9)),
            C.Unsatisfiable("hostname", "like", "kvm%", at("hostname", 9)),
            C.Unsatisfiable("diskspace", ">", "10", at("diskspace", 10)),
            C.AllOf((), at("diskspace", 10)),
            C.AnyOf(
                (
                    C.ArchTest("=", "x86_64", None, at("arch", 11)),
                    C.AllOf(
                        (C.ArchTest("like", "x86%", like("x86%"), at("arch", 11)),),
                        at("system", 11),
                    ),
                ),
                at("or", 11),
            ),
            C.NoneOf(
                (C.TargetTest("hypervisor", "=", "", None, at("hypervisor", 12)),), at("not", 12)
            ),
            C.AnyOf((), at("or", 12)),
            C.TargetTest("lab", "=", LAB, None, at("labcontroller", 13)),
            C.TargetTest(
                "lab", "like", "%.example.com", like("%.example.com"), at("hostlabcontroller", 13)
            ),
            C.TargetTest("system_type", "=", "Machine", None, at("system_type", 14)),
            C.AllOf(
                (C.TargetTest("system_type", "!=", "Machine", None, at("type", 14)),),
                at("system", 14),
            ),
            C.DeclaredTest("system.numa-nodes", "integer", "=", 3, None, at("numa_node_count", 15)),
            C.DeclaredTest(
                "system.numa-nodes", "integer", "!=", 0, None, at("numa_node_count", 15)
            ),
            C.SizeTest("ram_mib", "=", 42, at("memory", 15)),
            C.AllOf(
                (C.DeclaredTest("cpu.frequency", "frequency", "=", 2400, None, at("speed", 16)),),
                at("cpu", 16),
            ),
            C.AllOf((C.SizeTest("ram_mib", "=", 1024, at("memory", 16)),), at("unknown", 16)),
        ),
        at("hostRequires", 1),
    )
