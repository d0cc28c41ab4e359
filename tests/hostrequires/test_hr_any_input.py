"""``parse()`` and ``parse_tmt()`` raise only HostRequiresError, for any input of any type,
and what they accept evaluates without raising: property tests over arbitrary values,
text and bytes, and over documents of the real vocabulary with arbitrary values."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from virtprov.errors import HostRequiresError
from virtprov.hostrequires import HostRequires, Target, parse, prepare
from virtprov.hostrequires import elements as E
from virtprov.hostrequires.tmt import KEYS, LISTS, parse_tmt
from virtprov.model import Flavor, GiB
from virtprov.printable import printable

TARGET = Target(lab="lab.example.com", declared={"cpu.flag", "cpu.model-name", "tpm.version"})
NESTED = {"cpu.flag": "vmx avx2", "cpu.model-name": "Intel Xeon", "tpm.version": "2"}
FLAVORS = prepare(
    [
        Flavor("1", "small", vcpus=1, ram_mib=2048, disk_bytes=20 * GiB),
        Flavor("2", "nested", vcpus=4, ram_mib=8192, disk_bytes=40 * GiB, properties=NESTED),
    ],
    TARGET,
)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**40, max_value=10**5000)
    | st.floats()
    | st.text(max_size=30)
    | st.binary(max_size=30)
    | st.dates()
    | st.datetimes()
    | st.complex_numbers()
    | st.just(object())
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.frozensets(st.integers(), max_size=3)
        | st.dictionaries(st.text(max_size=12) | st.integers(), inner, max_size=4)
    ),
    max_leaves=12,
)
#: Text made of what documents are made of, so that some of it parses.
DOCUMENT_TEXT = st.lists(
    st.sampled_from([*"<>/=\"' &#;!?-[]%_\\:{},*&\n\t 0123456789.eE+x~", "\x9b", "\u202e"])
    | st.sampled_from(["hostRequires", "memory", "op", "value", "like", "and", "or", "cpu"]),
    max_size=40,
).map("".join)


def evaluated(hr: HostRequires) -> None:
    """Everything a scheduler asks of an accepted document, reasons included."""
    verdict = hr.virtualisable(TARGET)
    assert isinstance(verdict.reasons, tuple)
    match = hr.match(FLAVORS)
    assert isinstance(match.reasons, tuple)
    assert isinstance(match.warnings, tuple)
    hr.virtualisable(Target(lab=None))


def only_host_requires_error(parser: Any, document: Any) -> None:
    try:
        hr = parser(document)
    except HostRequiresError as exc:
        message = str(exc)
    else:
        evaluated(hr)
        return
    assert message
    assert printable(message) == message  # one line, with nothing a terminal acts on


@SETTINGS
@given(VALUES | DOCUMENT_TEXT | st.binary(max_size=80))
def test_parse_raises_only_host_requires_error(document: Any) -> None:
    only_host_requires_error(parse, document)


@SETTINGS
@given(VALUES | DOCUMENT_TEXT | st.binary(max_size=80))
def test_parse_tmt_raises_only_host_requires_error(document: Any) -> None:
    only_host_requires_error(parse_tmt, document)


# Documents of the real vocabulary, with any operator and any value.
TAGS = sorted({tag for level in E.LEVELS.values() for tag in level})
ATTRIBUTE_VALUES = (
    st.text(max_size=20)
    | st.sampled_from(["%", "%_%", "1e999999999", "9" * 5000, "0x" + "f" * 50, "4_096", "٣"])
    | st.from_regex(r"[0-9]{1,40}(\.[0-9]{0,5})?([eE][-+]?[0-9]{1,4})?", fullmatch=True)
)
OPS = st.sampled_from(["=", "==", "!=", "&lt;", "&gt;=", "like", "~", ""])


def _escaped(text: str) -> str:
    out = text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return "".join(ch for ch in out if ch.isprintable() or ch in "\t")


@st.composite
def xml_documents(draw: st.DrawFn) -> str:
    leaves = []
    for _ in range(draw(st.integers(1, 4))):
        tag = draw(st.sampled_from(TAGS))
        attributes = f'op="{draw(OPS)}" value="{_escaped(draw(ATTRIBUTE_VALUES))}"'
        if draw(st.booleans()):
            attributes += f' units="{draw(st.sampled_from(["GiB", "KB", "x", ""]))}"'
        if tag == "key_value":
            attributes += f' key="{draw(st.sampled_from(["TPM", "HVM", "OTHER"]))}"'
        container = draw(st.sampled_from(["", "system", "cpu", "disk", "or", "not"]))
        leaf = f"<{tag} {attributes}/>"
        leaves.append(f"<{container}>{leaf}</{container}>" if container else leaf)
    return f"<hostRequires>{''.join(leaves)}</hostRequires>"


@SETTINGS
@given(xml_documents())
def test_documents_of_the_vocabulary_with_any_values(document: str) -> None:
    only_host_requires_error(parse, document)


TMT_VALUES = st.one_of(
    ATTRIBUTE_VALUES,
    st.tuples(st.sampled_from(["", "=", "!=", ">=", "<", "~", "!~", "=~"]), ATTRIBUTE_VALUES).map(
        " ".join
    ),
    st.sampled_from(["~ (.*.*)*Z", "~ (a)\\1", "~ [", ">= 8 GB", "true", "~ " + "a" * 2000]),
    SCALARS,
)


@st.composite
def tmt_documents(draw: st.DrawFn) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for _ in range(draw(st.integers(1, 4))):
        *groups, key = draw(st.sampled_from(sorted(KEYS))).split(".")
        value: Any = draw(TMT_VALUES)
        if draw(st.booleans()):
            value = [value]
        place = document
        for group in groups:
            if group in LISTS:
                place = place.setdefault(group, [{}])[-1]
            else:
                place = place.setdefault(group, {})
                if not isinstance(place, dict):
                    break
        else:
            place[key] = value
    return {"or": [document, {"memory": ">= 1 GB"}]} if draw(st.booleans()) else document


@SETTINGS
@given(tmt_documents())
def test_tmt_documents_of_the_vocabulary_with_any_values(document: dict[str, Any]) -> None:
    only_host_requires_error(parse_tmt, document)


@pytest.mark.parametrize(
    "document",
    [
        {"memory": complex(1, 2)},
        {"cpu": {"model": "0x" + "f" * 5000}},
        {"cpu": {"flag": [b"vmx"]}},
        {"tpm": {"version": ">= " + "9" * 5000}},
        {"hostname": float("nan")},
    ],
)
def test_examples_the_property_tests_found(document: dict[str, Any]) -> None:
    only_host_requires_error(parse_tmt, document)
