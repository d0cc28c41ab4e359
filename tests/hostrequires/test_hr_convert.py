"""``convert``: only what Beaker's server implements, a note for every loss, and the round
trip: where ``convert`` notes nothing, ``check`` of the tmt document and ``check`` of its
conversion give the same verdict and the same flavors.

Beaker's server: beaker-project/beaker, Server/bkr/server/needpropertyxml.py at
b598aed3bb660b8ca58c435f6dff0e0232aa1dab (which Xml* class honours ``op``, which take
``like``, which cast their value with ``int()``/``float()``), as the semantic table
(``virtprov/hostrequires/semantics.py``) records it. tmt's examples: ``data/
tmt_spec_examples.yaml`` (spec/hardware/*.fmf of teemtee/tmt at 1cacdb1f, verbatim).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from tests.hostrequires.hrdata import EXAMPLES, LAB, PLAN, PRESETS, and_or
from virtprov.cli.check import command as check
from virtprov.cli.convert import command as convert
from virtprov.hostrequires import Target, parse, parse_any, prepare
from virtprov.hostrequires import semantics as S
from virtprov.hostrequires.convert import to_hostrequires
from virtprov.hostrequires.tmt import KEYS, compile_document, read_tmt, tmt_phases
from virtprov.model import Flavor, GiB, ProviderInfo

# -- what Beaker's server reads --------------------------------------------------------------------

_LOGIC = frozenset({"and", "or", "not"})
_LEVEL_OF = {"system": "system", "cpu": "cpu", "disk": "disk"}


def assert_beaker_reads(xml: str) -> None:
    """Every element of ``xml`` is one Beaker's server knows at its level, with an ``op``
    its class implements (none but ``==`` where it ignores ``op``), and a value its cast
    reads (``int()``, ``float()``, four hex digits for a PCI id)."""
    root = etree.fromstring(xml.encode())
    hosts = [root] if root.tag == "hostRequires" else list(root.iter("hostRequires"))
    assert hosts
    for host in hosts:
        _check_level(host, "host")


def _check_level(parent: etree._Element, level: str) -> None:
    for el in parent:
        if not isinstance(el.tag, str):
            continue
        if el.tag in _LOGIC:
            _check_level(el, level)
            continue
        if level == "host" and el.tag in _LEVEL_OF:
            assert el.attrib == {}
            assert len(el), f"an empty <{el.tag}/>"  # Beaker: <disk/> asks for some disk
            _check_level(el, _LEVEL_OF[el.tag])
            continue
        if el.tag == "key_value":
            key = el.get("key")
            assert key
            form = S.KEY_VALUES.get(key, S.OTHER_KEY_VALUE)
        else:
            assert el.tag in S.XML[level], f"<{el.tag}> is not an element of {level}"
            form = S.XML[level][el.tag]
        assert not len(el)
        op = el.get("op")
        written = "=" if op in (None, "==") else op
        if form.beaker_ops is None:
            assert written == "=", f"Beaker ignores op on <{el.tag}>: {op}"
        else:
            assert written in form.beaker_ops, f"<{el.tag} op={op!r}>"
        values = [el.get(name) for name in ("value", "device_id", "vendor_id", "description")]
        value = next(v for v in values if v is not None)
        if form.value in (S.INTEGER, S.BYTES):
            int(value)  # Beaker's int() reads it
            assert el.get("units") in (None, "bytes", "B") or form.value == S.BYTES
        elif form.value == S.DECIMAL:
            float(value)
        elif form.feature == "cpu.hyper-threading":
            assert value == "true"  # XmlCpuHyper imposes nothing for anything else
        for name in ("device_id", "vendor_id"):
            if el.get(name) is not None:
                assert re.fullmatch("[0-9a-f]{4}", el.get(name) or "")


# -- flavors and targets that tell the meanings apart ---------------------------------------------

_DECLARED = {
    "cpu.flag": "vmx avx2",
    "virtualization.is-supported": "true",
    "iommu.is-supported": "false",
    "tpm.version": "2.0",
    "cpu.model-name": "Intel(R) Xeon(R) Gold 6230",
    "cpu.vendor-name": "GenuineIntel",
    "cpu.family": "6",
    "cpu.model": "85",
    "cpu.stepping": "7",
    "cpu.sockets": "2",
    "cpu.frequency": "2100",
    "cpu.hyper-threading": "false",
    "system.numa-nodes": "2",
    "disk[1].size": "100 GiB",
    "disk[0].model-name": "PERC H310",
    "device.driver": "thunderbolt",
    "device.vendor": "0x8086",
    "boot.method": "bios uefi",
}
_TPM12 = {"tpm.version": "1.2", "cpu.hyper-threading": "true", "cpu.flag": "avx"}
FLAVORS = (
    Flavor("1", "s", vcpus=1, ram_mib=2048, disk_bytes=20 * GiB),
    Flavor("2", "m-7629", vcpus=2, ram_mib=7629, disk_bytes=465 * GiB, arch="x86_64"),
    Flavor("3", "m-7630", vcpus=2, ram_mib=7630, disk_bytes=466 * GiB),
    Flavor("4", "l", vcpus=4, ram_mib=8192, disk_bytes=500 * GiB, properties=_DECLARED),
    Flavor("5", "l-tpm12", vcpus=4, ram_mib=8192, disk_bytes=501 * GiB, properties=_TPM12),
    Flavor("6", "xl-i386", vcpus=8, ram_mib=16384, disk_bytes=40 * GiB, arch="i386"),
)
TARGETS = [
    Target.from_info(
        ProviderInfo(name="c", driver="fake", lab=LAB, arches=("x86_64", "i386")), FLAVORS
    ),
    Target(arches=("x86_64",), lab=None),  # no declarations; lab unknown
    Target(hypervisor="Xen", arches=("aarch64", "i386"), lab="other.example.com"),
]


def assert_same_answers(tmt: Any, xml: Any, what: object) -> None:
    for target in TARGETS:
        a, b = tmt.virtualisable(target), xml.virtualisable(target)
        assert bool(a) == bool(b), (what, target)
        prepared = prepare(FLAVORS, target)
        tmt_flavors = [f.name for f in tmt.match(prepared).flavors]
        assert tmt_flavors == [f.name for f in xml.match(prepared).flavors], (what, target)


# -- tmt's own examples ---------------------------------------------------------------------------


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["source"] for e in EXAMPLES])
def test_every_example_of_tmts_specification_round_trips(example: dict[str, str]) -> None:
    _, phases = tmt_phases(example["text"], presets=PRESETS)
    for _, document in phases:
        conversion = to_hostrequires(document)
        assert_beaker_reads(conversion.xml)
        if conversion.lossless:
            assert_same_answers(compile_document(document), parse(conversion.xml), example)
    # the commands read it: status 0, or 2 with one line for a preset given no definition
    for command, args in ((check, ["-"]), (convert, ["-", "--to", "hostrequires"])):
        result = CliRunner().invoke(command, args, input=example["text"])
        assert result.exception is None or isinstance(result.exception, SystemExit)
        if "preset:" in example["text"]:
            assert result.exit_code == 2
            assert len(result.stderr.strip().splitlines()) == 1
            assert "is not defined" in result.stderr
        else:
            assert result.exit_code == 0, result.stderr


#: The examples convert notes something for: each note is a real loss, as the table says.
LOSSY = {
    "spec/hardware/beaker.fmf#example[0]",  # panic-watchdog: a recipe option
    "spec/hardware/boot.fmf#example[0]",
    "spec/hardware/boot.fmf#example[1]",
    "spec/hardware/compatible.fmf#example[0]",
    "spec/hardware/device.fmf#example[0]",  # <device>, <key_value key="MODULE">
    "spec/hardware/disk.fmf#example[1]",  # <disk><model>
    "spec/hardware/disk.fmf#example[2]",  # <key_value key="BOOTDISK">
    "spec/hardware/disk.fmf#example[3]",  # disk[1], disk[2]
    "spec/hardware/disk.fmf#example[4]",
    "spec/hardware/gpu.fmf#example[0]",
    "spec/hardware/gpu.fmf#example[1]",
    "spec/hardware/iommu.fmf#example[1]",  # iommu.model-name
    "spec/hardware/network.fmf#example[0]",
    "spec/hardware/system.fmf#example[3]",  # management-controller
    "spec/hardware/virtualization.fmf#example[3]",  # confidential
    "spec/hardware/cpu.fmf#example[1]",  # "~ Intel(R) Core(TM) i7-.+": approximated
}


def test_the_examples_convert_notes_are_those_with_no_exact_beaker_form() -> None:
    lossy = set()
    for example in EXAMPLES:
        _, phases = tmt_phases(example["text"], presets=PRESETS)
        if any(not to_hostrequires(document).lossless for _, document in phases):
            lossy.add(example["source"])
    assert lossy == LOSSY


# -- generated documents over every key -----------------------------------------------------------

_VALUES: dict[str, st.SearchStrategy[str]] = {
    S.SIZE_MIB: st.builds(
        "{} {}".format, st.sampled_from([0, 1, 2, 7, 8, 16]), st.sampled_from(["GB", "GiB", "MB"])
    )
    | st.sampled_from(["7629", "7630", "8192", "0"]),
    S.SIZE_BYTES: st.builds(
        "{} {}".format,
        st.sampled_from([0, 1, 100, 465, 500, 501]),
        st.sampled_from(["GB", "GiB", "TB", "byte"]),
    ),
    S.INTEGER: st.sampled_from(["0", "1", "2", "4", "6", "85", "0x8086", "99999"]),
    S.FREQUENCY: st.sampled_from(["2000", "2100", "2.1 GHz", "2.05 GHz", "0"]),
    S.FLAG: st.sampled_from(["true", "false"]),
}
_TEXTS = {
    "arch": ["x86_64", "X86_64", "i386", "aarch64", "^x86_64$", "x86.*"],
    "location.lab-controller": [LAB, LAB.upper(), "other.example.com", "lab.*", f"^{LAB}$"],
    "virtualization.hypervisor": ["kvm", "KVM", "xen", "^kvm$", "k.*", "(kvm|xen)"],
    "system.type": ["Machine", "machine", "Prototype", "^Machine$", "Mach.*"],
    "tpm.version": ["2.0", "1.2", "2.*", "^2.0$", "1"],
    "cpu.model-name": ["Intel(R) Xeon(R) Gold 6230", "intel.*xeon", "AMD.*", ".*Gold.*"],
    "cpu.flag": ["vmx", "VMX", "avx", "svm"],
}


@st.composite
def requirement(draw: st.DrawFn) -> dict[str, Any]:
    key = draw(st.sampled_from(sorted(KEYS)))
    spec = KEYS[key]
    op = draw(st.sampled_from(spec.ops))
    if spec.reads in (S.TEXT, S.LIST):
        value = draw(st.sampled_from(_TEXTS.get(key, ["x", "X", "x.*", "^x$", "PERC H310"])))
    else:
        value = draw(_VALUES[spec.reads])
    written: Any = f"{op} {value}"
    *groups, last = key.split(".")
    leaf: Any = {last: [written] if spec.reads == S.LIST else written}
    for group in reversed(groups):
        if group in S.INDEXED_KEYS:
            index = draw(st.integers(0, 1))
            first = {"size": ">= 1 GB"} if group == "disk" else {"type": "eth"}
            leaf = {group: [first] * index + [leaf]}
        else:
            leaf = {group: leaf}
    return leaf


documents = and_or(requirement(), max_leaves=6)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_generated_documents_round_trip_where_convert_notes_nothing(
    hardware: dict[str, Any],
) -> None:
    document = read_tmt(hardware)
    conversion = to_hostrequires(document)
    assert_beaker_reads(conversion.xml)
    if conversion.lossless:
        assert_same_answers(compile_document(document), parse(conversion.xml), hardware)


# Requirements every language can say alike: their conversion notes nothing (so that the
# property above is not vacuous), and the round trip holds for each.
EXACT = [{"memory": f"{op} 8 GB"} for op in ("=", "!=", "<", "<=", ">", ">=")] + [
    {"memory": "0"},
    {"memory": "!= 7629.5 MiB"},
    {"cpu": {"processors": "> 0"}},
    {"cpu": {"cores": "= 2"}},
    {"disk": [{"size": "!= 500 GB"}]},
    {"disk": [{"size": "<= 1 TB"}]},
    {"arch": "!= X86_64"},
    {"arch": "~ ^i386$"},
    {"location": {"lab-controller": "!= " + LAB.upper()}},
    {"system": {"type": "!= Machine"}},
    {"system": {"type": "~ ^machine$"}},
    {"virtualization": {"hypervisor": "!= kvm"}},
    {"virtualization": {"is-virtualized": "!= false"}},
    {"virtualization": {"is-supported": "!= true"}},
    {"iommu": {"is-supported": False}},
    {"cpu": {"flag": ["VMX", "!= svm"]}},
    {"cpu": {"family": ">= 6", "model": 85, "stepping": "!= 4", "sockets": "< 4"}},
    {"cpu": {"frequency": ">= 2.05 GHz"}},
    {"cpu": {"hyper-threading": True}},
    {"cpu": {"model-name": "~ intel.*gold"}},
    {"cpu": {"vendor-name": "!~ ^genuineintel$"}},  # a plain text: !=
    {"cpu": {"vendor-name": "!= authenticamd"}},
    {"system": {"numa-nodes": ">= 2"}},
    {"tpm": {"version": ">= 1.2"}},
    {"tpm": {"version": "~ 2.0"}},
    {"hostname": "!~ kvm-01.*"},
    {"hostname": "~ kvm-01.*"},
    {"beaker": {"pool": "!= rare"}},
    {"system": {"vendor-name": "~ HPE", "model-name": "!= x"}},
    {"zcrypt": {"adapter": "!~ CEX.*", "mode": "CCA"}},
    {"or": [{"memory": ">= 16 GB"}, {"and": [{"cpu": {"flag": ["vmx"]}}, {"arch": "i386"}]}]},
]


@pytest.mark.parametrize("hardware", EXACT, ids=lambda h: json.dumps(h))
def test_what_both_languages_say_alike_converts_without_a_note(hardware: dict[str, Any]) -> None:
    document = read_tmt(hardware)
    conversion = to_hostrequires(document)
    assert conversion.notes == ()
    assert_beaker_reads(conversion.xml)
    assert_same_answers(compile_document(document), parse(conversion.xml), hardware)


@pytest.mark.parametrize(
    ("hardware", "note"),
    [
        ({"cpu": {"hyper-threading": False}}, "written as <not> of it"),
        ({"cpu": {"model-name": "!~ AMD.*"}}, "written as <not> of the pattern"),
        ({"device": {"vendor": "> 5"}}, "does not implement op '>'"),
        ({"device": {"vendor": 99999}}, "is not a PCI id"),
        ({"cpu": {"family": 0}}, "ignores a value of 0"),
        ({"or": [{"gpu": {"vendor-name": "x"}}, {"memory": "1 GB"}]}, "alternatives"),
        ({"hostname": "~ kvm(01|02)"}, "approximated as LIKE"),
    ],
)
def test_every_loss_is_noted(hardware: dict[str, Any], note: str) -> None:
    conversion = to_hostrequires(read_tmt(hardware))
    assert any(note in each for each in conversion.notes), conversion.notes
    assert_beaker_reads(conversion.xml)


# -- the command: several phases, one phase, what it does not read --------------------------------


def run(command: Any, *args: str, stdin: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(command, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_a_plan_of_several_phases_is_one_recipe_set_that_check_reads_back() -> None:
    code, xml, err = run(convert, "-", "--to", "hostrequires", stdin=PLAN)
    assert code == 0, err
    root = etree.fromstring(xml.encode())  # one document (two roots raised before)
    assert root.tag == "recipeSet"
    assert [recipe.get("whiteboard") for recipe in root.iter("recipe")] == [
        "client",
        "server",
        None,
    ]
    assert_beaker_reads(xml)
    recipes = parse_any(xml)
    assert isinstance(recipes, tuple)
    _, phases = tmt_phases(PLAN)
    for recipe, (_, document) in zip(recipes, phases, strict=True):
        assert_same_answers(compile_document(document), recipe.requires, recipe.label)
    code, out, _ = run(check, "-", "--json", stdin=xml)
    assert code == 0
    assert [r["virtualisable"] for r in json.loads(out)["recipes"]] == [True, False, False]
    # what reading the plan warned about, once each, on stderr
    assert err.splitlines() == [
        "virtprov: warning: line 9: key 'memory' is given twice in one mapping; only this "
        "last one counts",
        "virtprov: warning: hardware.import-preset: presets are never fetched; give them to "
        "virtprov (--presets FILE, or presets= in Python)",
    ]


@pytest.mark.parametrize(("phase", "memory"), [("server", "15259"), ("#1", "4096")])
def test_one_phase_is_a_bare_host_requires(phase: str, memory: str) -> None:
    code, xml, _ = run(convert, "-", "--to", "hostrequires", "--phase", phase, stdin=PLAN)
    assert code == 0
    assert xml.startswith("<!-- provision phase ")
    root = etree.fromstring(xml.encode())
    assert root.tag == "hostRequires"
    assert f'value="{memory}"' in xml


def test_an_unknown_phase_names_the_phases() -> None:
    code, out, err = run(convert, "-", "--to", "hostrequires", "--phase", "db", stdin=PLAN)
    assert (code, out) == (2, "")
    assert err == (
        "virtprov: <stdin>: no provision phase 'db' (its phases: phase client, phase server, "
        "phase #3)\n"
    )


def test_xml_given_to_convert_is_told_what_convert_reads() -> None:
    code, out, err = run(
        convert, "-", "--to", "hostrequires", stdin='<hostRequires><memory value="1"/>'
    )
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1
    assert "this is XML; convert reads tmt hardware: requirements" in err
    assert "got str" not in err


def test_a_duplicated_key_is_a_warning_of_convert_too() -> None:
    code, _, err = run(
        convert, "-", "--to", "hostrequires", stdin="system:\n  type: A\nsystem:\n  type: B\n"
    )
    assert code == 0
    assert "virtprov: warning: line 3: key 'system' is given twice" in err


def test_a_phase_name_reaches_the_terminal_escaped_and_the_comment_whole() -> None:
    plan = 'provision:\n  - name: "a--b\\u202e"\n    hardware:\n      memory: 1 GiB\n'
    code, xml, _ = run(convert, "-", "--to", "hostrequires", stdin=plan)
    assert code == 0
    assert "\u202e" not in xml
    assert xml.splitlines()[0] == "<!-- provision phase a- -b\\u202e -->"
    etree.fromstring(xml.encode())  # the comment does not end early
