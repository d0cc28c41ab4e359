"""tmt ``hardware:`` requirements: tmt's own examples, a table of verdicts, errors that
name the key, hostile YAML, and the same verdicts as the converted ``<hostRequires/>``."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostrequires.conftest import ParserCpuTime
from tests.hostrequires.hrdata import EXAMPLES, LAB, PLAN, PRESETS, and_or
from virtprov.errors import HostRequiresError
from virtprov.hostrequires import Target, parse, prepare
from virtprov.hostrequires.convert import to_hostrequires
from virtprov.hostrequires.tmt import (
    compile_document,
    parse_tmt,
    parse_tmt_any,
    read_tmt,
    tmt_phases,
)
from virtprov.model import Flavor, GiB, ProviderInfo

NESTED = {
    "cpu.flag": "vmx avx avx2",
    "virtualization.is-supported": "true",
    "tpm.version": "2.0",
    "boot.method": "bios uefi",
    "cpu.model-name": "Intel(R) Xeon(R) Gold 6230",
    "system.numa-nodes": "2",
    "cpu.frequency": "2.1 GHz",
    "disk[1].size": "100 GiB",
}
UEFI_ONLY = {"boot.method": "uefi", "cpu.flag": "avx", "tpm.version": "1.2"}
# Flavors with declarations, every root disk over 10 GiB so that only the document decides.
FLAVORS = (
    Flavor("1", "small", vcpus=1, ram_mib=2048, disk_bytes=20 * GiB),
    Flavor("2", "medium", vcpus=2, ram_mib=7630, disk_bytes=40 * GiB),
    Flavor("3", "large", vcpus=4, ram_mib=8192, disk_bytes=80 * GiB),
    Flavor("4", "nested", vcpus=4, ram_mib=8192, disk_bytes=80 * GiB, properties=NESTED),
    Flavor("5", "uefi-only", vcpus=8, ram_mib=16384, disk_bytes=160 * GiB, properties=UEFI_ONLY),
)
TARGET = Target.from_info(
    ProviderInfo(name="cloud", driver="fake", lab=LAB, arches=("x86_64",)),
    FLAVORS,
)
PREPARED = prepare(FLAVORS, TARGET)
ALL = ["small", "medium", "large", "nested", "uefi-only"]


def flavors_of(requires: Any) -> list[str]:
    return [flavor.name for flavor in requires.match(PREPARED).flavors]


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["source"] for e in EXAMPLES])
def test_every_example_of_tmts_specification_parses_and_converts(example: dict[str, str]) -> None:
    _, phases = tmt_phases(example["text"], presets=PRESETS)
    assert phases
    for _, document in phases:
        requires = compile_document(document)
        requires.virtualisable(TARGET)
        requires.match(PREPARED)
        conversion = to_hostrequires(document)
        parse(conversion.xml)  # what it writes is valid <hostRequires/>


CASES = [
    # (hardware, virtualisable, flavors)
    ({"memory": ">= 8 GB"}, True, ["medium", "large", "nested", "uefi-only"]),  # 7629.39 MiB
    ({"memory": ">= 8 GiB"}, True, ["large", "nested", "uefi-only"]),
    ({"memory": "8192"}, True, ["large", "nested"]),  # MiB without a unit
    # "8 GB" (exact): from 8 GB (7629.39... MiB) to 8 GiB, what is sold as 8 GB of RAM
    ({"memory": "= 8 GB"}, True, ["medium", "large", "nested"]),
    ({"memory": "!= 8 GB"}, True, ["small", "uefi-only"]),
    ({"memory": "<= 8 GB"}, True, ["small", "medium", "large", "nested"]),
    ({"memory": "> 8 GB"}, True, ["uefi-only"]),
    ({"memory": "< 8 GB"}, True, ["small"]),
    ({"cpu": {"processors": ">= 4"}}, True, ["large", "nested", "uefi-only"]),
    ({"cpu": {"cores": 2}}, True, ["medium"]),
    ({"disk": [{"size": ">= 40 GiB"}]}, True, ["medium", "large", "nested", "uefi-only"]),
    ({"disk": [{"size": 21474836480}]}, True, ["small"]),  # bytes without a unit
    ({"disk": [{"size": ">= 1 GB"}, {"size": ">= 50 GB"}]}, True, ["nested"]),  # declared
    ({"arch": "x86_64"}, True, ALL),
    ({"arch": "aarch64"}, False, []),
    ({"arch": "~ x86.*"}, True, ALL),
    ({"arch": "!~ x86.*"}, False, []),
    ({"virtualization": {"is-virtualized": True}}, True, ALL),
    ({"virtualization": {"is-virtualized": False}}, False, []),
    ({"virtualization": {"is-virtualized": "!= true"}}, False, []),
    ({"virtualization": {"hypervisor": "kvm"}}, True, ALL),  # names ignore case
    ({"virtualization": {"hypervisor": "!= KVM"}}, False, []),
    ({"virtualization": {"hypervisor": "~ (kvm|xen)"}}, True, ALL),
    ({"virtualization": {"is-supported": True}}, True, ["nested"]),
    ({"virtualization": {"confidential": True}}, False, []),  # nothing declares it
    ({"location": {"lab-controller": LAB}}, True, ALL),
    ({"location": {"lab-controller": "!= " + LAB}}, False, []),
    ({"location": {"lab-controller": "~ lab[.]"}}, True, ALL),
    ({"system": {"type": "Machine"}}, True, ALL),
    ({"system": {"type": "Prototype"}}, False, []),
    ({"hostname": "kvm-01.example.com"}, False, []),
    ({"hostname": "!~ kvm-01.*"}, True, ALL),  # a new VM is not kvm-01
    ({"hostname": "!= kvm-01.example.com"}, True, ALL),
    ({"hostname": "~ kvm-01.*"}, False, []),
    ({"beaker": {"pool": "!= very-rare-machines"}}, True, ALL),  # a VM is in no pool
    ({"beaker": {"pool": "very-rare-machines"}}, False, []),
    ({"beaker": {"panic-watchdog": True}}, True, ALL),  # a run option, ignored
    ({"system": {"vendor-name": "~ HPE"}}, False, []),
    ({"system": {"numa-nodes": ">= 2"}}, True, ["nested"]),
    ({"zcrypt": {"adapter": "CEX8C", "mode": "CCA"}}, False, []),
    ({"cpu": {"flag": ["vmx"]}}, True, ["nested"]),
    ({"cpu": {"flag": ["avx"]}}, True, ["nested", "uefi-only"]),
    ({"cpu": {"flag": ["avx", "!= vmx"]}}, True, ["uefi-only"]),
    ({"cpu": {"flag": ["avx512f"]}}, True, []),  # declared property, no flavor has it
    ({"cpu": {"model-name": "~ Intel.*Xeon"}}, True, ["nested"]),
    ({"cpu": {"model-name": "!~ AMD"}}, True, ["nested"]),  # undeclared: default-deny
    ({"cpu": {"frequency": ">= 2000"}}, True, ["nested"]),  # MHz without a unit
    ({"cpu": {"frequency": ">= 2.5 GHz"}}, True, []),
    ({"tpm": {"version": "2.0"}}, True, ["nested"]),
    ({"tpm": {"version": ">= 1.2"}}, True, ["nested", "uefi-only"]),
    ({"boot": {"method": "uefi"}}, True, ["nested", "uefi-only"]),
    ({"boot": {"method": "!= bios"}}, True, ["nested", "uefi-only"]),
    ({"boot": {"method": "!= uefi"}}, True, ["nested"]),  # uefi-only cannot boot otherwise
    ({"gpu": {"vendor-name": "NVIDIA"}}, False, []),
    ({"or": [{"gpu": {"vendor-name": "NVIDIA"}}, {"memory": ">= 16 GiB"}]}, True, ["uefi-only"]),
    (
        {
            "and": [
                {"memory": ">= 8 GiB"},
                {"or": [{"cpu": {"flag": ["vmx"]}}, {"cpu": {"cores": 8}}]},
            ]
        },
        True,
        ["nested", "uefi-only"],
    ),
    ({}, True, ALL),
]


@pytest.mark.parametrize(("hardware", "virtualisable", "flavors"), CASES)
def test_tmt_cases(hardware: dict[str, Any], virtualisable: bool, flavors: list[str]) -> None:
    requires = parse_tmt(hardware)
    assert bool(requires.virtualisable(TARGET)) is virtualisable
    assert flavors_of(requires) == flavors
    # YAML text of the same mapping reads the same
    again = parse_tmt(yaml.safe_dump(hardware))
    assert bool(again.virtualisable(TARGET)) is virtualisable
    assert flavors_of(again) == flavors


def test_without_declarations_beakers_default_deny_stands() -> None:
    plain = Target(lab=LAB)
    for hardware in ({"cpu": {"flag": ["vmx"]}}, {"tpm": {"version": "2.0"}}):
        verdict = parse_tmt(hardware).virtualisable(plain)
        assert not verdict
        assert "no flavor here declares" in verdict.reasons[0]


def test_reasons_name_the_key_path_and_line() -> None:
    text = "and:\n  - memory: '>= 8 GiB'\n  - cpu:\n      flag: [vmx]\n"
    match = parse_tmt(text).match(PREPARED)
    removed = {removal.flavor.name: removal.reasons for removal in match.removed}
    assert removed["small"] == (
        "hardware.and[0].memory: >= 8 GiB (line 2) not met: the flavor has 2048 MiB RAM",
        "hardware.and[1].cpu.flag: vmx (line 4) not met: the flavor does not declare cpu.flag",
    )
    verdict = parse_tmt({"hostname": "~ kvm.*"}).virtualisable(TARGET)
    assert verdict.reasons == (
        "hardware.hostname: ~ kvm.*: a virtual machine cannot satisfy a hostname requirement",
    )


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("cpu:\n  bogus: 1\n", "hardware.cpu.bogus", "unknown hardware requirement 'cpu.bogus'"),
        ("colour: red\n", "hardware.colour", "unknown hardware requirement 'colour'"),
        ("memory: 1 KB\n", "hardware.memory", "unknown unit 'KB'"),
        ("memory: 2 GHz\n", "hardware.memory", "is not a unit of data size"),
        ("memory: '~ 8.*'\n", "hardware.memory", "operator '~' is not allowed here"),
        ("memory: 10**10 GB\n", "hardware.memory", "is not a number with an optional unit"),
        ("cpu:\n  processors: four\n", "hardware.cpu.processors", "is not a whole number"),
        ("virtualization:\n  is-virtualized: maybe\n", None, "neither true nor false"),
        ("hostname: '~ ('\n", "hardware.hostname", "not a valid regular expression"),
        ("memory: 1 GB\nor:\n  - hostname: a\n", "hardware", "cannot be combined"),
        ("and: []\n", "hardware.and", "non-empty list"),
        ("preset: NOPE\n", "hardware.preset", "preset 'NOPE' is not defined"),
        ("cpu:\n  flag: avx\n", "hardware.cpu.flag", "expects a list"),
        ("disk:\n  size: 1 GB\n", "hardware.disk", "expects a list of disk blocks"),
        ("memory: [1, 2]\n", "hardware.memory", "expects a value"),
        ("memory: !!python/object:os.system ls\n", None, "not accepted"),
        ("memory: ''\n", "hardware.memory", "has no value"),
        ("- memory: 1 GB\n", "hardware", "expected a mapping"),
        ("memory: [\n", None, "not valid YAML"),
    ],
)
def test_bad_documents_name_the_key(text: str, key: str | None, message: str) -> None:
    with pytest.raises(HostRequiresError) as caught:
        parse_tmt(text)
    assert message in str(caught.value)
    if key is not None:
        assert caught.value.key == key
    assert caught.value.line is not None or key == "hardware.preset" or "YAML" in message


@pytest.mark.parametrize(
    "text",
    [
        # a "billion laughs" of YAML aliases
        'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
        + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
            f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n"
            for i in range(8)
        )
        + "cpu:\n  flag: *i\n",
        "cpu:\n  flag: " + "[" * 10_000 + "]" * 10_000 + "\n",
        "memory: '" + "9" * (11 * 1024 * 1024) + "'\n",
    ],
    ids=["billion-laughs", "deep-nesting", "10-MB"],
)
def test_hostile_yaml_is_refused_quickly(text: str) -> None:
    with ParserCpuTime() as spent, pytest.raises(HostRequiresError):
        parse_tmt(text)
    assert spent.seconds < 0.1


def test_presets_resolve_and_import_preset_is_never_fetched() -> None:
    text = "import-preset: https://example.com/presets.yaml\npreset: BIG_MEMORY\n"
    requires = parse_tmt(text, presets=PRESETS)
    assert flavors_of(requires) == []  # nothing has 64 GB
    assert any("never fetched" in warning for warning in requires.warnings)


def test_a_plan_gives_one_verdict_per_phase() -> None:
    phases = parse_tmt_any(PLAN)
    assert isinstance(phases, tuple)
    assert [phase.label for phase in phases] == ["phase client", "phase server", "phase #3"]
    assert [bool(phase.requires.virtualisable(TARGET)) for phase in phases] == [True, False, True]


def test_duplicate_keys_warn_and_the_last_counts() -> None:
    requires = parse_tmt("memory: 1 GiB\nmemory: '>= 16 GiB'\n")
    assert flavors_of(requires) == ["uefi-only"]
    assert "given twice" in requires.warnings[0]


def test_units_follow_tmt() -> None:
    document = read_tmt({"memory": "1 MB", "disk": [{"size": "1.5 GiB"}]})
    memory, disk = document.root.children
    assert memory.value == (1_000_000, 1_048_576)  # MB is decimal, up to its binary MiB
    assert disk.value == (1_610_612_736, None)  # GiB is exact


# -- conversion ----------------------------------------------------------------------------


def test_convert_writes_what_beakers_server_implements() -> None:
    conversion = to_hostrequires(
        read_tmt(
            {
                "memory": ">= 8 GB",
                "cpu": {"processors": ">= 4", "flag": ["vmx"], "model-name": "~ Intel.*Xeon"},
                "virtualization": {"is-virtualized": True, "hypervisor": "kvm"},
                "hostname": "!~ kvm-01.*",
                "tpm": {"version": "2.0"},
                "boot": {"method": "uefi"},
            }
        )
    )
    xml = conversion.xml
    assert '<memory op="&gt;=" value="7630"/>' in xml  # ceil keeps ">= 7629.39" exact
    assert '<processors op="&gt;=" value="4"/>' in xml
    assert '<flag op="==" value="vmx"/>' in xml
    assert '<model_name op="like" value="Intel%Xeon%"/>' in xml
    assert '<hypervisor op="!=" value=""/>' in xml
    # == (MySQL ignores case): like would fail in XmlHypervisor._matches_kvm
    assert '<hypervisor op="==" value="kvm"/>' in xml
    assert '<not>\n      <name op="like" value="kvm-01%"/>\n    </not>' in xml
    assert '<key_value key="TPM" op="==" value="2.0"/>' in xml
    assert conversion.notes == ("hardware.boot.method: uefi: Beaker has no equivalent; left out",)


# Keys both languages express exactly: a tmt document and its conversion must agree.
_SIZE_OPS = ["=", "!=", ">", ">=", "<", "<="]
_leaf = st.one_of(
    st.builds(
        lambda op, n, unit: {"memory": f"{op} {n} {unit}"},
        st.sampled_from(_SIZE_OPS),
        st.integers(0, 20),
        st.sampled_from(["GB", "GiB", "MB"]),
    ),
    st.builds(
        lambda op, n: {"memory": f"{op} {n}"}, st.sampled_from(_SIZE_OPS), st.integers(0, 20000)
    ),
    st.builds(
        lambda op, n: {"cpu": {"processors": f"{op} {n}"}},
        st.sampled_from(_SIZE_OPS),
        st.integers(0, 10),
    ),
    st.builds(
        lambda op, n: {"cpu": {"cores": f"{op} {n}"}},
        st.sampled_from(_SIZE_OPS),
        st.integers(0, 10),
    ),
    st.builds(
        lambda op, n: {"disk": [{"size": f"{op} {n} GB"}]},
        st.sampled_from(_SIZE_OPS),
        st.integers(0, 200),
    ),
    st.builds(
        lambda op, a: {"arch": f"{op} {a}"},
        st.sampled_from(["=", "!="]),
        st.sampled_from(["x86_64", "i386"]),
    ),
    st.builds(
        lambda op, h: {"virtualization": {"hypervisor": f"{op} {h}"}},
        st.sampled_from(["=", "!="]),
        st.sampled_from(["kvm", "KVM", "xen"]),
    ),
    st.builds(lambda v: {"virtualization": {"is-virtualized": v}}, st.booleans()),
    st.builds(
        lambda op, lab: {"location": {"lab-controller": f"{op} {lab}"}},
        st.sampled_from(["=", "!="]),
        st.sampled_from([LAB, "other.example.com"]),
    ),
    st.builds(
        lambda op, f: {"cpu": {"flag": [f"{op} {f}"]}},
        st.sampled_from(["=", "!="]),
        st.sampled_from(["vmx", "avx", "sse"]),
    ),
    st.builds(
        lambda op, v: {"tpm": {"version": f"{op} {v}"}},
        st.sampled_from(_SIZE_OPS),
        st.sampled_from(["1.2", "2.0"]),
    ),
    st.builds(lambda v: {"virtualization": {"is-supported": v}}, st.booleans()),
    st.builds(
        lambda op, n: {"system": {"numa-nodes": f"{op} {n}"}},
        st.sampled_from(_SIZE_OPS),
        st.integers(0, 4),
    ),
    st.just({"hostname": "kvm-01.example.com"}),
)
_documents = and_or(_leaf, max_leaves=8)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents)
def test_a_document_and_its_conversion_agree(hardware: dict[str, Any]) -> None:
    document = read_tmt(hardware)
    tmt = parse_tmt(hardware)
    xml = parse(to_hostrequires(document).xml)
    for target in (TARGET, Target(lab=LAB)):
        assert bool(tmt.virtualisable(target)) == bool(xml.virtualisable(target)), hardware
        prepared = prepare(FLAVORS, target)
        assert tmt.match(prepared).flavors == xml.match(prepared).flavors, hardware
