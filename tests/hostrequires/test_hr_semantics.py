"""The one semantic table: both readers are built from it, the reference pages are it, and
what it says holds in both languages (case, negation, sizes in decimal units)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from tests.hostrequires.hrdata import LAB
from virtprov.hostrequires import Target, parse, prepare
from virtprov.hostrequires import elements as E
from virtprov.hostrequires import semantics as S
from virtprov.hostrequires.convert import to_hostrequires
from virtprov.hostrequires.properties import kind_of
from virtprov.hostrequires.tmt import KEYS, parse_tmt, read_tmt
from virtprov.model import Flavor, GiB, ProviderInfo

DOCS = Path(__file__).resolve().parents[2] / "docs"

# -- the table is whole, and both readers use it ------------------------------------------------


def test_every_form_names_a_feature_and_every_feature_is_written_somewhere() -> None:
    used = {form.feature for forms in S.XML.values() for form in forms.values()}
    used |= {form.feature for form in S.KEY_VALUES.values()} | {S.OTHER_KEY_VALUE.feature}
    used |= {form.feature for form in S.TMT.values()}
    used.add("disk[N].size")  # what tmt's disk.size is for disk[1] and on
    assert used <= set(S.FEATURES)
    assert set(S.FEATURES) - used == set()


def test_every_declared_feature_is_a_property_flavors_can_declare() -> None:
    for name, feature in S.FEATURES.items():
        if feature.kind == S.DECLARED:
            assert kind_of(feature.arg.replace("[N]", "[1]")) is not None, name


def test_the_readers_vocabularies_are_the_table() -> None:
    for level, forms in S.XML.items():
        for tag, form in forms.items():
            feature = S.FEATURES[form.feature]
            element = E.LEVELS[level][tag]
            assert (element.kind, element.value_type) == (feature.kind, form.value)
    for key, form in S.TMT.items():
        assert (KEYS[key].kind, KEYS[key].ops) == (S.FEATURES[form.feature].kind, form.ops)


# -- the reference pages are the table ------------------------------------------------------------

_VM = {
    ("size", "ram_mib"): "yes: the flavor's RAM",
    ("size", "vcpus"): "yes: the flavor's vCPUs (N single-core processors)",
    ("size", "disk_bytes"): "yes: the flavor's root disk",
    ("arch", "arch"): "if an arch the provider offers matches",
    ("target", "lab"): "if the provider's lab matches",
    ("target", "hypervisor"): "if the provider's hypervisor matches",
    ("target", "system_type"): "if `Machine` matches",
}
_NEGATION = {
    S.SIZE: "the others",
    S.ARCH: "the others",
    S.TARGET: "the others",
    S.DECLARED: "`!=`: another declared value; `<not>`: also a flavor declaring none",
    S.NEVER: "met by every VM",
    S.VIRTUALIZED: "`false`: never",
    S.IGNORED: "—",
}
_XML_VALUE = {
    S.TEXT: "text, any case",
    S.INTEGER: "whole number",
    S.DECIMAL: "decimal number",
    S.BYTES: "whole number × `units`",  # noqa: RUF001 (the sign the docs write)
    S.BOOLEAN: "true or false (1 or 0)",
}
_TMT_VALUE = {
    S.SIZE_MIB: "size (MiB without a unit)",
    S.SIZE_BYTES: "size (bytes without a unit)",
    S.INTEGER: "whole number",
    S.TEXT: "text, any case",
    S.FLAG: "true or false",
    S.LIST: "list of words, each `=` or `!=`",
    S.FREQUENCY: "frequency (MHz without a unit)",
}


def vm(feature: S.Feature) -> str:
    if feature.kind == S.DECLARED:
        return f"declared `{feature.arg}`"
    if feature.kind == S.NEVER:
        return "**no**"
    if feature.kind == S.VIRTUALIZED:
        return "`true`: yes; `false`: **no**"
    if feature.kind == S.IGNORED:
        return "yes (a run option, ignored)"
    return _VM[(feature.kind, feature.arg)]


def xml_name(level: str, tag: str) -> str:
    name = f'<key_value key="{tag[10:-1]}">' if tag.startswith("key_value[") else f"<{tag}>"
    return f"`{name}`"


def xml_rows() -> dict[str, list[str]]:
    """Per level, the rows of docs/hostrequires.md's element tables."""
    rows: dict[str, list[str]] = {}
    forms = [(level, tag, form) for level, found in S.XML.items() for tag, form in found.items()]
    forms += [("host", f"key_value[{key}]", form) for key, form in S.KEY_VALUES.items()]
    forms.append(("host", "key_value[…]", S.OTHER_KEY_VALUE))
    for level, tag, form in forms:
        feature = S.FEATURES[form.feature]
        value = _XML_VALUE[form.value]
        if feature.unit and form.value != S.BOOLEAN:
            value += f", {feature.unit}"
        ops = (
            "ignored (reads `=`)"
            if form.beaker_ops is None
            else ", ".join(f"`{op}`" for op in form.beaker_ops)
        )
        name = xml_name(level, tag) + (" (deprecated)" if form.deprecated else "")
        cells = [name, f"`{form.feature}`", vm(feature), value, ops, _NEGATION[feature.kind]]
        rows.setdefault(level, []).append("| " + " | ".join(cells) + " |")
    return rows


def tmt_rows() -> list[tuple[str, list[str]]]:
    """The key and first cells of each row of docs/tmt.md's table of keys."""
    rows = []
    for key, form in S.TMT.items():
        group = key.split(".", 1)[0]
        shown = key
        if group in S.INDEXED_KEYS:
            shown = (
                key.replace(".", "[0].", 1)
                if key == S.ROOT_DISK_KEY
                else key.replace(".", "[N].", 1)
            )
        feature = S.FEATURES[form.feature]
        declarable = "yes" if feature.kind == S.DECLARED else "no"
        cells = [
            f"`{shown}`",
            vm(feature),
            declarable,
            _TMT_VALUE[form.reads],
            ", ".join(f"`{op}`" for op in form.ops),
        ]
        rows.append((shown, cells))
        if key == S.ROOT_DISK_KEY:  # disk[N].size, N >= 1: declared
            further = S.FEATURES["disk[N].size"]
            rows.append(("disk[N].size", ["`disk[N].size`", vm(further), "yes", *cells[3:]]))
    return rows


def table_rows(text: str, header: str) -> list[list[str]]:
    """The rows of the markdown table that follows ``header`` (a line) in ``text``."""
    start = text.index(header)
    rows = []
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return rows


def test_docs_hostrequires_element_tables_are_the_table() -> None:
    text = (DOCS / "hostrequires.md").read_text(encoding="utf-8")
    for level, rows in xml_rows().items():
        header = f"| element in `{E.LEVEL_NAMES[level]}` |"
        documented = table_rows(text, header)
        assert ["| " + " | ".join(row) + " |" for row in documented] == rows, level


def test_docs_tmt_key_table_is_the_table() -> None:
    text = (DOCS / "tmt.md").read_text(encoding="utf-8")
    documented = table_rows(text, "| key | VM? |")
    assert [row[:5] for row in documented] == [cells for _, cells in tmt_rows()]
    # the last two cells: what convert writes and what it notes, never empty
    assert all(row[5] and row[6] for row in documented)


# -- text ignores case, element by element, in both languages ------------------------------------

#: What the one flavor declares: text that requirements below write in another case.
PROPERTIES = {
    "cpu.model-name": "Intel(R) Xeon(R) Gold 6230",
    "cpu.vendor-name": "GenuineIntel",
    "cpu.flag": "vmx avx2",
    "tpm.version": "2.0b",
    "boot.method": "bios uefi",
    "iommu.model-name": "VirtIO",
    "cpu.family-name": "Cascade Lake",
    "disk[0].model-name": "PERC H310",
    "network[0].type": "eth",
}
FLAVORS = (
    Flavor("1", "declared", vcpus=2, ram_mib=4096, disk_bytes=40 * GiB, properties=PROPERTIES),
)
TARGET = Target.from_info(
    ProviderInfo(name="cloud", driver="fake", lab=LAB, arches=("x86_64", "i386")), FLAVORS
)
PREPARED = prepare(FLAVORS, TARGET)

# (where the element is, the value a guest here has, written in another case)
XML_TEXT = {
    ("host", "labcontroller"): LAB.upper(),
    ("host", "hostlabcontroller"): LAB.upper(),
    ("host", "hypervisor"): "kvm",
    ("system", "hypervisor"): "kvm",
    ("host", "system_type"): "MACHINE",
    ("system", "type"): "machine",
    ("host", "arch"): "X86_64",
    ("system", "arch"): "X86_64",
    ("cpu", "model_name"): "intel(r) xeon(r) gold 6230",
    ("cpu", "vendor"): "genuineintel",
    ("cpu", "flag"): "VMX",
    ("host", "key_value[TPM]"): "2.0B",
}


def xml_element(level: str, tag: str, op: str, value: str) -> str:
    if tag.startswith("key_value["):
        element = f'<key_value key="{tag[10:-1]}" op="{op}" value="{value}"/>'
    else:
        element = f'<{tag} op="{op}" value="{value}"/>'
    return element if level == "host" else f"<{level}>{element}</{level}>"


def answer(hr: Any) -> tuple[bool, list[str]]:
    return bool(hr.virtualisable(TARGET)), [f.name for f in hr.match(PREPARED).flavors]


def text_forms() -> list[tuple[str, str]]:
    found = [(level, tag) for level, forms in S.XML.items() for tag, form in forms.items()]
    found += [("host", f"key_value[{key}]") for key in S.KEY_VALUES]
    return [
        (level, tag)
        for level, tag in found
        if (
            S.KEY_VALUES.get(tag[10:-1]) if tag.startswith("key_value[") else S.XML[level][tag]
        ).value
        == S.TEXT
    ]


@pytest.mark.parametrize(("level", "tag"), text_forms(), ids=lambda x: str(x))
def test_every_text_element_ignores_case(level: str, tag: str) -> None:
    value = XML_TEXT.get((level, tag), "Some Name")
    for op in ("=", "!=", "&lt;=", "&gt;="):
        folded = parse(f"<hostRequires>{xml_element(level, tag, op, value.lower())}</hostRequires>")
        other = parse(f"<hostRequires>{xml_element(level, tag, op, value.upper())}</hostRequires>")
        assert answer(folded) == answer(other), op
    if (level, tag) in XML_TEXT:  # a value a guest here has, in another case: met
        met = parse(f"<hostRequires>{xml_element(level, tag, '=', value)}</hostRequires>")
        assert answer(met) == (True, ["declared"])


TMT_TEXT = {
    "location.lab-controller": LAB.upper(),
    "virtualization.hypervisor": "kvm",
    "system.type": "machine",
    "arch": "X86_64",
    "cpu.model-name": "INTEL(R) XEON(R) GOLD 6230",
    "cpu.vendor-name": "genuineintel",
    "cpu.family-name": "cascade lake",
    "tpm.version": "2.0B",
    "boot.method": "UEFI",
    "iommu.model-name": "virtio",
    "disk.model-name": "perc h310",
    "network.type": "ETH",
    "cpu.flag": "VMX",
}


def tmt_document(key: str, value: str) -> dict[str, Any]:
    *groups, last = key.split(".")
    leaf: Any = [value] if KEYS[key].reads == S.LIST else value
    document: dict[str, Any] = {last: leaf}
    for group in reversed(groups):
        document = {group: [document] if group in S.INDEXED_KEYS else document}
    return document


@pytest.mark.parametrize(
    "key", [key for key, form in S.TMT.items() if form.reads in (S.TEXT, S.LIST)]
)
def test_every_text_key_ignores_case(key: str) -> None:
    value = TMT_TEXT.get(key, "Some Name")
    ops = [op for op in KEYS[key].ops if op in ("=", "!=", "~", "!~")]
    for op in ops:
        lower = parse_tmt(tmt_document(key, f"{op} {value.lower()}"))
        upper = parse_tmt(tmt_document(key, f"{op} {value.upper()}"))
        assert answer(lower) == answer(upper), op
    if key in TMT_TEXT:
        assert answer(parse_tmt(tmt_document(key, value))) == (True, ["declared"])


# -- the cases of the issue, in both languages ----------------------------------------------------

TMT_AND_XML = [
    # hostname: a new VM is not kvm-01, whichever way that is said
    ({"hostname": "!= kvm-01"}, '<hostname op="!=" value="kvm-01"/>', True),
    ({"hostname": "!~ kvm-01.*"}, '<not><hostname op="like" value="kvm-01%"/></not>', True),
    (None, '<not><hostname value="kvm-01"/></not>', True),
    (None, '<system><name op="!=" value="kvm-01"/></system>', True),
    ({"hostname": "kvm-01"}, '<hostname value="kvm-01"/>', False),
    ({"hostname": "~ kvm-01.*"}, '<hostname op="like" value="kvm-01%"/>', False),
    (None, '<system><serial op="!=" value="ABC123"/></system>', True),
    (None, '<system><serial value="ABC123"/></system>', False),
    ({"beaker": {"pool": "!= rare"}}, '<pool op="!=" value="rare"/>', True),
    (None, '<key_value key="NETBOOT_METHOD" op="!=" value="efi"/>', True),
    (None, '<diskcount op="!=" value="4"/>', True),
    (None, '<not><diskcount op="!=" value="4"/></not>', False),
    # hypervisor names ignore case (guests here run on KVM)
    ({"virtualization": {"hypervisor": "kvm"}}, '<hypervisor op="==" value="kvm"/>', True),
    ({"virtualization": {"hypervisor": "!= kvm"}}, '<hypervisor op="!=" value="kvm"/>', False),
    (None, '<system><hypervisor op="like" value="k%"/></system>', True),  # like: virtprov's fix
    ({"virtualization": {"hypervisor": "~ k.*"}}, None, True),
    # system type: != is honoured (Beaker ignores op on <type>; convert writes <not>)
    ({"system": {"type": "!= Machine"}}, '<system><type op="!=" value="Machine"/></system>', False),
    (
        {"system": {"type": "!= Prototype"}},
        '<not><system><type value="Prototype"/></system></not>',
        True,
    ),
]


@pytest.mark.parametrize(("tmt", "xml", "virtualisable"), TMT_AND_XML)
def test_the_cases_of_the_issue_in_both_languages(
    tmt: dict[str, Any] | None, xml: str | None, virtualisable: bool
) -> None:
    if tmt is not None:
        assert bool(parse_tmt(tmt).virtualisable(TARGET)) is virtualisable
        converted = to_hostrequires(read_tmt(tmt))
        if "~ k.*" not in str(tmt):  # a pattern Beaker's <hypervisor> cannot take
            assert converted.lossless, converted.notes
            assert bool(parse(converted.xml).virtualisable(TARGET)) is virtualisable
    if xml is not None:
        assert bool(parse(f"<hostRequires>{xml}</hostRequires>").virtualisable(TARGET)) is (
            virtualisable
        )


@pytest.mark.parametrize(
    ("tmt", "written"),
    [
        ({"virtualization": {"hypervisor": "kvm"}}, '<hypervisor op="==" value="kvm"/>'),
        ({"virtualization": {"hypervisor": "~ ^kvm$"}}, '<hypervisor op="==" value="kvm"/>'),
        ({"system": {"type": "!= Machine"}}, '<not>\n      <type op="==" value="Machine"/>'),
        ({"arch": "!~ ^i386$"}, '<arch op="!=" value="i386"/>'),
        ({"system": {"type": "!~ ^Prototype$"}}, '<not>\n      <type op="==" value="Prototype"/>'),
    ],
)
def test_convert_writes_no_operator_the_element_ignores_or_fails_on(
    tmt: dict[str, Any], written: str
) -> None:
    conversion = to_hostrequires(read_tmt(tmt))
    assert written in conversion.xml
    assert "like" not in conversion.xml
    assert conversion.lossless


@pytest.mark.parametrize(
    "tmt",
    [
        {"virtualization": {"hypervisor": "~ (kvm|xen)"}},
        {"arch": "~ x86.*"},
        {"location": {"lab-controller": "~ lab.*"}},
        {"system": {"type": "~ Mach.*"}},
    ],
)
def test_a_pattern_beaker_cannot_take_is_left_out_with_a_note(tmt: dict[str, Any]) -> None:
    conversion = to_hostrequires(read_tmt(tmt))
    assert "like" not in conversion.xml
    assert len(conversion.notes) == 1
    assert "takes no pattern; left out" in conversion.notes[0]


# -- sizes in decimal units: the same span in both readers ----------------------------------------

SIZED = tuple(
    Flavor(str(n), f"{ram}", vcpus=2, ram_mib=ram, disk_bytes=disk, arch="x86_64")
    for n, (ram, disk) in enumerate(
        [
            (7629, 465 * GiB),  # under 8 GB; under 500 GB
            (7630, 466 * GiB),  # 8 GB..8 GiB; 500 GB..500 GiB
            (8192, 500 * GiB),  # 8 GiB, what a cloud calls an 8 GB flavor
            (8193, 501 * GiB),  # over
        ]
    )
)
SIZED_TARGET = Target(arches=("x86_64",), lab=LAB)


@pytest.mark.parametrize(
    ("op", "memory", "disk"),
    [
        ("=", ["7630", "8192"], ["7630", "8192"]),
        ("!=", ["7629", "8193"], ["7629", "8193"]),
        ("<", ["7629"], ["7629"]),
        ("<=", ["7629", "7630", "8192"], ["7629", "7630", "8192"]),
        (">", ["8193"], ["8193"]),
        (">=", ["7630", "8192", "8193"], ["7630", "8192", "8193"]),
    ],
)
def test_a_decimal_size_is_the_span_to_its_binary_namesake(
    op: str, memory: list[str], disk: list[str]
) -> None:
    def names(hr: Any) -> list[str]:
        return [f.name for f in hr.match(SIZED, SIZED_TARGET).flavors]

    assert names(parse_tmt({"memory": f"{op} 8 GB"})) == memory
    assert names(parse_tmt({"disk": [{"size": f"{op} 500 GB"}]})) == disk
    xml_op = op.replace("<", "&lt;").replace(">", "&gt;")
    assert names(parse(f'<hostRequires><disk><size op="{xml_op}" value="500" units="GB"/>'
                       "</disk></hostRequires>")) == disk  # fmt: skip
    # a binary unit, or none, is exact
    assert names(parse_tmt({"memory": f"{op} 8 GiB"})) == names(parse_tmt({"memory": f"{op} 8192"}))
    exact = names(parse(f'<hostRequires><disk><size op="{xml_op}" value="500" units="GiB"/>'
                        "</disk></hostRequires>"))  # fmt: skip
    assert exact == names(parse_tmt({"disk": [{"size": f"{op} 500 GiB"}]}))
    # and the conversion says the same to virtprov (and, with whole numbers, to Beaker)
    for document in ({"memory": f"{op} 8 GB"}, {"disk": [{"size": f"{op} 500 GB"}]}):
        conversion = to_hostrequires(read_tmt(document))
        assert conversion.lossless
        assert names(parse(conversion.xml)) == names(parse_tmt(document))
        assert not re.search(r'units="', conversion.xml)


_SAMPLES = {
    S.SIZE_MIB: "4 GiB",
    S.SIZE_BYTES: "40 GiB",
    S.INTEGER: "4",
    S.TEXT: "x",
    S.FLAG: True,
    S.FREQUENCY: "2000",
}


def converted_element(shown: str) -> str:
    """What ``convert`` writes for an ``=`` requirement on the key (as docs/tmt.md shows
    it: ``<system><memory>``, ``<device vendor_id>``, ``<key_value key="TPM">``), or "—"."""
    key = re.sub(r"\[[0-9N]\]", "", shown)
    reads = KEYS[key].reads
    document = tmt_document(key, "x" if reads == S.LIST else _SAMPLES[reads])
    if shown == "disk[N].size":  # a disk after the root disk
        document = {"disk": [{"size": ">= 1 GiB"}, {"size": "40 GiB"}]}
    root = etree.fromstring(to_hostrequires(read_tmt(document)).xml.encode())
    leaves = [el for el in root.iter() if not len(el) and el is not root]
    if not leaves:
        return "—"
    leaf = leaves[-1]
    path = [el.tag for el in leaf.iterancestors() if el.tag in ("system", "cpu", "disk")]
    if leaf.tag == "key_value":
        name = f'<key_value key="{leaf.get("key")}">'
    elif leaf.tag == "device":
        name = f"<device {next(a for a in leaf.attrib if a != 'op')}>"
    else:
        name = f"<{leaf.tag}>"
    return "`" + "".join(f"<{tag}>" for tag in reversed(path)) + name + "`"


def test_docs_tmt_key_table_names_what_convert_writes() -> None:
    text = (DOCS / "tmt.md").read_text(encoding="utf-8")
    documented = {row[0]: row[5] for row in table_rows(text, "| key | VM? |")}
    for shown, _ in tmt_rows():
        assert documented[f"`{shown}`"] == converted_element(shown), shown
