"""virtprov-speedups' compiler gives the program Python's gives, or declines.

The compiled front end (``virtprov_speedups._hostrequires``) handles common documents and
returns ``None`` for anything on which Python warns, raises or takes a rare path; the
whole hostRequires suite also runs under both (see conftest.py). Here: the contract
itself, on generated documents that include what it must decline.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostrequires.conftest import PARSE_MODULE
from tests.hostrequires.test_hr_properties import tree
from virtprov.errors import HostRequiresError
from virtprov.hostrequires.parse import MAX_DEPTH, MAX_ELEMENTS, compile_element, load_xml

NATIVE = PARSE_MODULE.native


@pytest.fixture(autouse=True, params=["compiled"])
def front_end() -> str:
    """These tests call both front ends themselves (overrides conftest's)."""
    return "compiled"


def test_the_development_environment_uses_the_compiled_front_end() -> None:
    # scripts/bootstrap builds virtprov-speedups; a silent fallback would hide a broken build
    if os.environ.get("VIRTPROV_NO_SPEEDUPS"):
        pytest.skip("VIRTPROV_NO_SPEEDUPS is set")
    assert NATIVE is not None


def both(document: str | bytes) -> tuple[object, object]:
    """(the compiled front end's answer or None, Python's (program, lab elements))."""
    assert NATIVE is not None
    root = load_xml(document)
    saved = PARSE_MODULE.native
    PARSE_MODULE.native = None
    try:
        python = compile_element(root)
    finally:
        PARSE_MODULE.native = saved
    compiled = NATIVE.compile_tree(root, MAX_DEPTH, MAX_ELEMENTS)
    return compiled, (python.program, list(python.lab_locs), python.warnings)


def assert_agrees(document: str | bytes) -> bool:
    """The compiled answer equals Python's; True if it did not decline."""
    try:
        compiled, (program, labs, warnings) = both(document)
    except HostRequiresError:
        # Python refuses it: the compiled front end must have declined, never answered
        root = load_xml(document)
        assert NATIVE is not None
        assert NATIVE.compile_tree(root, MAX_DEPTH, MAX_ELEMENTS) is None
        return False
    if compiled is None:
        return False
    assert warnings == ()  # a document with warnings is always declined
    assert compiled == (program, labs)
    return True


odd_leaf = st.one_of(
    # values Python reads on its rare paths: blanks, signs, zero, huge, non-ASCII digits
    st.builds(
        '<memory op="{}" value="{}"/>'.format,
        st.sampled_from(["=", "==", "&gt;=", "like", "=~", ""]),
        st.sampled_from(["0", "00", "", " 2048", "+2048", "2048.0", "\u0663", "9" * 30, "0042"]),
    ),
    st.builds(
        '<disk><size op="{}" value="{}" units="{}"/></disk>'.format,
        st.sampled_from(["=", "!=", "&lt;=", "&gt;"]),
        st.sampled_from(["0", "10", "1.5", ""]),
        st.sampled_from(["GiB", "GB", "gib", "", "TiB", "kB", "TB"]),
    ),
    st.builds(
        '<diskspace op="{}" value="{}"/>'.format,
        st.sampled_from(["=", "!="]),
        st.sampled_from(["", "10", "x"]),
    ),
    st.builds(
        '<{} op="{}" value="x"/>'.format,
        st.sampled_from(["hostname", "pool", "group", "auto_prov", "device"]),
        st.sampled_from(["=", "!=", "like", "&lt;"]),
    ),
    st.builds(
        '<key_value key="{}" op="=" value="{}"/>'.format,
        st.sampled_from(["TPM", "HVM", "VIRT_IOMMU", "NETBOOT_METHOD", ""]),
        st.sampled_from(["2.0", "1", "true", "efi"]),
    ),
    st.builds(
        '<cpu><{0} op="{1}" value="{2}"/></cpu>'.format,
        st.sampled_from(["flag", "speed", "family", "hyper", "vendor", "unknown"]),
        st.sampled_from(["=", "!=", "like", "&gt;"]),
        st.sampled_from(["vmx", "2400.5", "6", "True", "Genuine%", ""]),
    ),
    st.sampled_from(
        [
            '<labcontroller value="lab.example.com"/>',
            '<hostlabcontroller op="like" value="%.example.com"/>',
            '<system><type value="Machine"/></system>',
            '<arch value="x&amp;86"/>',
            '<memory value="1&#48;24"/>',
            '<memory op="&gt;=" value="\t2048\n"/>',
            '<x:memory xmlns:x="urn:x" value="2048"/>',
            '<memory x:value="1" xmlns:x="urn:x" value="2048"/>',
            "<!-- a comment --><?pi here?>",
            "<unknown/>",
            '<system><numanodes op="&gt;=" value="2"/></system>',
            '<numa_node_count value="0"/>',
            '<device op="=" type="network"/>',
        ]
    ),
)


def _nest(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(
        "<{0}>{1}</{0}>".format,
        st.sampled_from(["and", "or", "not", "system", "cpu", "disk"]),
        st.lists(children, max_size=4).map("".join),
    )


odd_tree = st.recursive(odd_leaf, _nest, max_leaves=12)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(tree, odd_tree))
def test_generated_documents_compile_alike(body: str) -> None:
    assert_agrees(f"<hostRequires>{body}</hostRequires>")


@pytest.mark.parametrize(
    "body",
    [
        "<unknown/>",  # Python warns
        '<memory value="0"/>',  # Python warns: 0 imposes nothing
        '<memory op="~" value="1"/>',  # Python raises: unknown op
        '<memory value=" 2048"/>',  # read by parse_integer
        '<x:memory xmlns:x="urn:x" value="2048"/>',  # a namespace: "{urn:x}memory"
        '<cpu><speed value="2400"/></cpu>',  # a declared number
        '<disk><size value="10" units="gib"/></disk>',  # Python raises: unknown units
        "<and>" * (MAX_DEPTH + 1) + "</and>" * (MAX_DEPTH + 1),  # Python raises: too deep
    ],
)
def test_what_it_declines(body: str) -> None:
    assert not assert_agrees(f"<hostRequires>{body}</hostRequires>")


@pytest.mark.parametrize(
    "body",
    [
        "",
        '<memory op="&gt;=" value="2048"/><cpu><cores value="2"/></cpu>',
        '<disk><size op="&gt;" value="40" units="GB"/></disk>',
        '<or><arch value="aarch64"/><system><arch op="like" value="x86%"/></system></or>',
        '<not><hypervisor value=""/></not><labcontroller value="lab.example.com"/>',
        '<key_value key="TPM" op="&gt;=" value="2.0"/><cpu><flag value="vmx"/></cpu>',
        '<key_value key="NETBOOT_METHOD" value="efi"/><device type="x"/><pool value="p"/>',
        '<memory value="1&#48;24"/><!-- comments and PIs are skipped --><?pi x?>',
        # a new VM is not the system named (ABI 3)
        '<hostname op="!=" value="kvm-01"/><system><serial op="!=" value="x"/></system>',
        '<or><pool op="!=" value="rare"/><diskcount op="!=" value="2"/></or>',
        '<key_value key="NETBOOT_METHOD" op="!=" value="efi"/><hostname value="kvm-01"/>',
        # a decimal unit's span (ABI 3)
        '<disk><size op="=" value="500" units="GB"/><size op="!=" value="1" units="TB"/></disk>',
        '<not><disk><size op="&lt;=" value="8" units="kB"/></disk></not>',
    ],
)
def test_what_it_compiles(body: str) -> None:
    assert assert_agrees(f"<hostRequires>{body}</hostRequires>")


class _Broken:
    """A virtprov-speedups module that must be ignored."""

    def __init__(self, abi: int, fails: bool = False) -> None:
        self.ABI = abi
        self.fails = fails

    def configure(self, spec: dict[str, object]) -> None:
        if self.fails:
            raise ValueError("a container of an unknown level")


@pytest.mark.parametrize(
    ("module", "why"),
    [
        (_Broken(abi=0), "another contract"),
        (_Broken(abi=1, fails=True), "configure() fails"),
    ],
)
def test_a_compiled_front_end_that_does_not_fit_is_ignored(
    monkeypatch: pytest.MonkeyPatch, module: _Broken, why: str
) -> None:
    import virtprov_speedups

    monkeypatch.delenv("VIRTPROV_NO_SPEEDUPS", raising=False)
    monkeypatch.setattr(virtprov_speedups, "_hostrequires", module)
    assert PARSE_MODULE._load_native() is None, why


def test_the_environment_switches_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIRTPROV_NO_SPEEDUPS", "1")
    assert PARSE_MODULE._load_native() is None
    monkeypatch.setattr(PARSE_MODULE, "native", None)
    from virtprov.hostrequires import front_end

    assert front_end() == "python"
