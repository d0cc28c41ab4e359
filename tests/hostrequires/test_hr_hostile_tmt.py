"""Hostile tmt ``hardware:`` documents, as YAML text and as Python mappings: refused (or
answered) fast, always as a HostRequiresError naming the key path."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from virtprov.errors import HostRequiresError
from virtprov.hostrequires import Target, prepare
from virtprov.hostrequires.tmt import check_mapping, load_presets, parse_tmt, split_operator
from virtprov.model import Flavor, GiB
from virtprov.pool import Recipe

XEON = "Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz"
LAB = "lab-01.rack-7.beaker.example.com"


def alias_bomb(levels: int) -> str:
    """YAML of 9**levels strings in 1 KB: the "billion laughs" of YAML."""
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ",".join([f"*l{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def refused(document: Any, **kwargs: Any) -> HostRequiresError:
    with pytest.raises(HostRequiresError) as caught:
        parse_tmt(document, **kwargs)
    return caught.value


@pytest.fixture
def xeon_flavors() -> tuple[Target, Any]:
    target = Target(lab=LAB, declared={"cpu.model-name"})
    flavors = [
        Flavor(f"id{n}", f"f{n}", vcpus=2, ram_mib=1024 * n, disk_bytes=20 * GiB,
               properties={"cpu.model-name": XEON})
        for n in range(1, 41)
    ]  # fmt: skip
    return target, prepare(flavors, target)


# -- regular expressions -------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_nested_quantifiers_on_a_cpu_model_name(xeon_flavors: tuple[Target, Any]) -> None:
    target, flavors = xeon_flavors
    # minutes on Python's re; no Q in "Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz", in any case
    hr = parse_tmt({"cpu": {"model-name": "~ (.*.*)*Q"}})
    assert hr.virtualisable(target)
    match = hr.match(flavors)
    assert match.chosen is None
    assert "the flavor declares cpu.model-name" in match.reasons[0]
    assert parse_tmt({"cpu": {"model-name": "~ (.*.*)*Gold"}}).match(flavors).chosen


@pytest.mark.timeout(10)
def test_nested_quantifiers_on_the_lab_controller() -> None:
    hr = parse_tmt({"location": {"lab-controller": "~ (.*.*)*Z"}})
    assert not hr.virtualisable(Target(lab=LAB))
    hr = parse_tmt({"location": {"lab-controller": "!~ (.*.*)*Z"}})
    assert hr.virtualisable(Target(lab=LAB))


@pytest.mark.parametrize(
    ("document", "key"),
    [
        ({"hostname": "~ (a)\\1"}, "hardware.hostname"),
        ({"cpu": {"model-name": "~ Intel(?=.*Xeon)"}}, "hardware.cpu.model-name"),
        ({"and": [{"arch": "!~ (?<!x)86"}]}, "hardware.and[0].arch"),
        ({"virtualization": {"hypervisor": "~ (?P<h>k)(?P=h)"}}, "hardware.virtualization"
         ".hypervisor"),
    ],
)  # fmt: skip
def test_what_re2_cannot_express_names_the_key(document: dict[str, Any], key: str) -> None:
    error = refused(document)
    assert error.key == key
    assert "not a valid regular expression" in str(error)
    assert "backreferences and lookaround are not supported" in str(error)


def test_regular_expressions_are_capped() -> None:
    error = refused({"hostname": "~ " + "a" * 1001})
    assert error.key == "hardware.hostname"
    assert "over the limit of 1000" in str(error)
    blocks = [{"hostname": "~ kvm-.*"}] * 101
    error = refused({"or": blocks})
    assert error.key == "hardware.or[100].hostname"
    assert "more than 100 patterns in one document" in str(error)
    assert parse_tmt({"or": blocks[:100]})
    error = refused({"or": [{"hostname": f"~ {'a' * 998}{n}"} for n in range(11)]})
    assert "patterns of more than 10000 characters in all" in str(error)
    # nine characters, 70,000 RE2 instructions: a tenth of a second to compile
    error = refused({"cpu": {"model-name": "~ (\\pL){60}"}})
    assert "pattern too large" in str(error)
    error = refused({"or": [{"hostname": f"~ (\\pL){{6}}{n}"} for n in range(3)]})  # 7180 each
    assert error.key == "hardware.or[2].hostname"
    assert "more than 20000 instructions" in str(error)


def test_regular_expressions_still_mean_what_they_did() -> None:
    target = Target(lab=LAB)
    assert parse_tmt({"arch": "~ x86.*"}).virtualisable(target)
    assert parse_tmt({"arch": "~ x86_64\\Z"}).virtualisable(target)  # Python's \Z
    assert not parse_tmt({"arch": "~ 86"}).virtualisable(target)  # at the start only
    assert parse_tmt({"virtualization": {"hypervisor": "~ kv"}}).virtualisable(target)
    assert parse_tmt({"virtualization": {"hypervisor": "kvm"}}).virtualisable(target)
    assert not parse_tmt({"virtualization": {"hypervisor": "kv"}}).virtualisable(target)


# -- operators, numbers, text ------------------------------------------------------------------

OLD_OPERATOR = re.compile(r"\s*(?P<op>==|!=|~|!~|=~|=|>=|>|<=|<)?\s*(?P<value>.*?)\s*", re.DOTALL)


@settings(max_examples=2000, deadline=None)
@given(st.text(st.sampled_from([*"=!~<> \t\n\u00a0\u3000ax8G"]), max_size=12))
def test_operators_split_as_tmt_splits_them(written: str) -> None:
    match = OLD_OPERATOR.fullmatch(written)
    assert match is not None
    op = {"==": "=", "=~": "~"}.get(match["op"] or "=", match["op"] or "=")
    assert split_operator(written) == (op, match["value"])


@pytest.mark.timeout(10)
def test_spaces_between_two_words_cost_one_pass() -> None:
    # tmt's operator pattern takes minutes on this (quadratic in the spaces)
    error = refused({"hostname": "x" + " " * 400_000 + "y"})
    assert "text of 400002 characters" in str(error)
    hr = parse_tmt({"hostname": "x" + " " * 4000 + "y"})
    (reason,) = hr.virtualisable(Target()).reasons
    assert len(reason) < 300
    error = refused({"memory": "5" + " " * 2000 + "GB" + " " * 2000 + "x"})
    assert "is not a number with an optional unit" in str(error)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("memory: " + "9" * 5000 + "\n", None),  # an int YAML would build (or refuse)
        ("memory: " + "9" * 41 + ".5\n", None),
        ("memory: '>= " + "9" * 31 + " MiB'\n", "hardware.memory"),
        ("cpu:\n  processors: '>= " + "4" * 4000 + "'\n", "hardware.cpu.processors"),
        ("cpu:\n  model: 0x" + "f" * 5000 + "\n", None),
        ("cpu:\n  model: '0x" + "f" * 4000 + "'\n", "hardware.cpu.model"),  # convert crashed
        ("cpu:\n  frequency: " + "2" * 31 + " MHz\n", "hardware.cpu.frequency"),
    ],
)
def test_numbers_have_a_digit_cap(text: str, key: str | None) -> None:
    error = refused(text)
    assert error.key == key
    assert error.line is not None
    assert "more than 30 digits" in str(error)
    assert len(str(error)) < 200


def test_a_number_in_a_mapping_has_a_digit_cap() -> None:
    error = refused({"memory": 10**5000})  # str() of it raised Python's ValueError
    assert "more than 30 digits" in str(error)
    assert parse_tmt({"memory": 10**20})


@pytest.mark.parametrize(
    "document",
    [{"hostname": "a\x1b[2Jb"}, {"hostname\x00": "a"}, 'hostname: "a\\eb"\n', {"arch": "\ud800"}],
)
def test_text_no_requirement_can_hold_is_refused(document: Any) -> None:
    error = refused(document)
    assert "control character" in str(error)
    assert "\x1b" not in str(error)


def test_reasons_escape_what_a_terminal_would_act_on() -> None:
    hr = parse_tmt({"location": {"lab-controller": "lab\x9b2J\u202emoc"}})
    (reason,) = hr.virtualisable(Target(lab=LAB)).reasons
    assert "lab\\x9b2J\\u202emoc" in reason
    error = refused({"cpu": {"bogus\u202e": 1}})
    assert "\u202e" not in str(error)
    assert "bogus\\u202e" in str(error)


@pytest.mark.parametrize("text", ["", " \n\t\n", "# a comment, nothing else\n", "---\n"])
def test_an_empty_document_is_an_error(text: str) -> None:
    assert "empty document" in str(refused(text))
    assert "empty document" in str(refused(text.encode()))


def test_an_explicitly_empty_mapping_requires_nothing() -> None:
    assert parse_tmt("{}\n").virtualisable(Target())
    assert parse_tmt({}).virtualisable(Target())
    assert parse_tmt(None).virtualisable(Target())


# -- mappings: the same guard as YAML text -----------------------------------------------------


def test_an_alias_bomb_given_as_a_mapping() -> None:
    bomb = yaml.safe_load(alias_bomb(6) + "cpu:\n  flag: *l5\n")  # 531,441 strings, shared
    error = refused(bomb)
    assert "too many values" in str(error)
    # the YAML text is refused alike
    assert "too many values" in str(refused(alias_bomb(6) + "cpu:\n  flag: *l5\n"))


def test_a_mapping_is_bounded_in_text_depth_and_kinds_of_value() -> None:
    assert "too much text" in str(refused({"hostname": "x" * (2 * 1024 * 1024)}))
    deep: dict[str, Any] = {}
    for _ in range(100):
        deep = {"and": [deep]}
    assert "nested deeper than 64 levels" in str(refused(deep))
    loop: dict[str, Any] = {}
    loop["and"] = [loop]
    assert "nested deeper than 64 levels" in str(refused(loop))
    for value in ({1, 2}, b"bytes", object(), 1j):
        assert "expected text, a number, a flag, a list or a mapping" in str(
            refused({"hostname": value})
        )
    error = refused({1: "x"})
    assert "keys must be text, got int 1" in str(error)


def test_what_yaml_makes_of_a_date_reads_as_in_yaml_text() -> None:
    from_text = parse_tmt("hostname: 2024-01-01\n").virtualisable(Target()).reasons
    from_mapping = parse_tmt({"hostname": datetime.date(2024, 1, 1)}).virtualisable(Target())
    assert from_mapping.reasons == tuple(r.replace(" (line 1)", "") for r in from_text)


@pytest.mark.parametrize("document", [12, 1.5, "x", b"x", ["memory: 1"], object(), True])
def test_anything_but_a_mapping_or_yaml_is_a_host_requires_error(document: Any) -> None:
    error = refused(document)
    assert "expected a mapping" in str(error) or "expected a mapping of requirements" in str(error)


def test_presets_go_through_the_guard() -> None:
    bomb = yaml.safe_load(alias_bomb(6))
    error = refused({"preset": "big"}, presets={"big": {"cpu": {"flag": bomb["l5"]}}})
    assert "too many values" in str(error)
    # every use of a preset counts
    presets = {"p": {"or": [{"memory": ">= 1 GB"}] * 5000}}
    error = refused({"and": [{"preset": "p"}] * 5}, presets=presets)
    assert "too many values" in str(error)
    chain = {f"p{n}": {"preset": f"p{n + 1}"} for n in range(500)}  # was a RecursionError
    chain["p500"] = {"memory": ">= 1 GB"}
    error = refused({"preset": "p0"}, presets=chain)
    assert "presets nested deeper than 64 levels" in str(error)


def test_presets_from_yaml_text_go_through_the_guard() -> None:
    presets = load_presets("small:\n  memory: '>= 1 GB'\n")
    assert parse_tmt({"preset": "small"}, presets=presets)
    with pytest.raises(HostRequiresError, match="too many values"):
        load_presets(alias_bomb(6) + "big:\n  cpu:\n    flag: *l5\n")
    with pytest.raises(HostRequiresError, match="expected a mapping of preset names"):
        load_presets("- memory: 1 GB\n")


def test_a_recipe_refuses_a_mapping_too_large_to_store() -> None:
    bomb = yaml.safe_load(alias_bomb(9))  # 387 million strings once serialised
    with pytest.raises(HostRequiresError, match="too many values"):
        Recipe("1", hardware={"cpu": {"flag": bomb["l8"]}})
    recipe = Recipe("2", hardware={"memory": ">= 8 GB"})
    assert recipe.hardware == {"memory": ">= 8 GB"}
    check_mapping({"memory": ">= 8 GB", "cpu": {"flag": ["vmx"]}})


def test_requirements_and_values_are_capped() -> None:
    error = refused({"or": [{"memory": ">= 1 GB"}] * 501})
    assert "more than 500 requirements" in str(error)
    assert parse_tmt({"or": [{"memory": ">= 1 GB"}] * 500})
    error = refused("or:\n" + "  - {memory: '>= 1 GB', arch: x86_64}\n" * 1300)
    assert "too many values" in str(error)  # 5 per requirement, as YAML text
    error = refused("or:\n" + "  - memory: '>= 1 GB'\n" * 10_000)
    assert "too many values" in str(error)
    assert error.line is not None
    assert error.line < 1000  # as the values come, not once the list has been read
