"""User patterns: `like` without backtracking, tmt's regular expressions on RE2."""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from virtprov.hostrequires.patterns import (
    MAX_PATTERN_LENGTH,
    Like,
    Regex,
    fold,
    like,
    literal,
    regex,
)

XEON = "Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz"
LAB = "lab-01.rack-7.beaker.example.com"


def like_as_regex(value: str) -> re.Pattern[str]:
    """How `like` was matched before (a backtracking regular expression): the reference
    for the answers, whose case rules (re.IGNORECASE) Beaker users have relied on."""
    parts = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            parts.append(re.escape(next(chars, "\\")))
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL | re.IGNORECASE)


# Wildcards, escapes, and the characters whose case rules are not one-to-one.
CASES = ["\u212a", "\u017f", "ß", "ẞ", "\u03c3", "ς", "Σ", "İ", "\u0131", "ǅ", "ǆ", "Ǆ"]
TRICKY = st.sampled_from([*"aAbB%_\\\n.xkKsSiI", *CASES])


@settings(max_examples=3000, deadline=None)
@given(st.text(TRICKY, max_size=8), st.text(TRICKY, max_size=10))
def test_like_answers_as_the_regular_expression_did(pattern: str, text: str) -> None:
    expected = like_as_regex(pattern).fullmatch(text) is not None
    assert like(pattern).matches(text) is expected


@settings(max_examples=1000, deadline=None)
@given(st.text(max_size=6), st.text(max_size=8))
def test_like_and_literal_on_any_text(pattern: str, text: str) -> None:
    assert like(pattern).matches(text) is (like_as_regex(pattern).fullmatch(text) is not None)
    exact = re.compile(re.escape(pattern) + r"\Z", re.IGNORECASE).match(text) is not None
    assert literal(pattern).matches(text) is exact


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("%.example.com", LAB, True),
        ("%.EXAMPLE.COM", LAB, True),  # case-insensitive, as Beaker's MySQL
        ("lab-__.%", LAB, True),
        ("lab-_.%", LAB, False),
        ("x86\\_64", "x86_64", True),
        ("x86\\_64", "x86-64", False),
        ("100\\%", "100%", True),
        ("100\\%", "1000", False),
        ("%a%b%c%", "xaybzc", True),
        ("%a%b%c%", "xcybza", False),
        ("a%a", "a", False),
        ("a%a", "aa", True),
        ("", "", True),
        ("", "x", False),
        ("%", "", True),
        ("trailing\\", "trailing\\", True),
    ],
)
def test_like(pattern: str, text: str, expected: bool) -> None:
    assert like(pattern).matches(text) is expected


def test_fold_keeps_one_character_for_one() -> None:
    for char in ("İ", "ß", "ŉ", "ﬀ", "\u212a", "ǅ"):
        assert len(fold(char)) == 1
    assert fold("Kelvin \u212a") == fold("kelvin k")


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("%" * 12 + "Z", LAB, False),  # more than a minute as a regular expression
        ("%" * 300, "x86_64", True),
        ("%a" * 499 + "Z", "a" * 200, False),
        ("%a" * 100 + "%", "a" * 200, True),
        ("%" + "_%" * 499, "a" * 200, False),
        ("%" + "_%" * 100, "a" * 200, True),
        ("%" + "a_" * 400 + "b%", "a" * 300, False),
    ],
)
def test_like_never_backtracks(pattern: str, text: str, expected: bool) -> None:
    assert like(pattern).matches(text) is expected


def test_pattern_length_is_capped() -> None:
    assert like("%" * MAX_PATTERN_LENGTH).matches("x")
    with pytest.raises(ValueError, match=f"over the limit of {MAX_PATTERN_LENGTH}"):
        like("%" * (MAX_PATTERN_LENGTH + 1))
    with pytest.raises(ValueError, match=f"over the limit of {MAX_PATTERN_LENGTH}"):
        regex("a" * (MAX_PATTERN_LENGTH + 1))


def test_patterns_are_values() -> None:
    assert like("a%") == Like("a%", ()) != like("b%")
    assert hash(like("a%")) == hash(Like("a%", ()))
    assert regex("x86.*") == regex("x86.*")
    assert regex("kvm", ignore_case=True) != regex("kvm")
    assert literal("a%b") == like("a\\%b")
    assert repr(like("a%")) == "Like('a%')"
    assert repr(regex("kvm", ignore_case=True)) == "Regex('kvm', ignore_case=True)"


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("(.*.*)*Z", XEON, False),  # catastrophic for a backtracking engine
        ("(a+)+$", "a" * 40 + "!", False),
        ("(a|aa)*b", "a" * 50, False),
        ("Intel.*Xeon", XEON, True),
        ("Xeon", XEON, False),  # at the start, as re.match
        ("x86_64\\Z", "x86_64", True),  # Python's \Z is RE2's \z
        ("x86\\\\Z", "x86\\Z", True),  # an escaped backslash, then Z
        ("[a-z]+$", "kvm", True),
    ],
)
def test_regex_is_linear_and_matches_at_the_start(pattern: str, text: str, expected: bool) -> None:
    compiled = regex(pattern)
    assert isinstance(compiled, Regex)
    assert compiled.matches(text) is expected
    assert compiled.matches(text) is expected  # remembered


def test_regex_ignoring_case() -> None:
    assert regex("KVM", ignore_case=True).matches("kvm")
    assert not regex("KVM").matches("kvm")


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("(a)\\1", "invalid escape sequence"),  # a backreference
        ("a(?=b)", "invalid perl operator"),  # lookahead
        ("(?<!a)b", "invalid perl operator"),  # lookbehind
        ("(", "missing )"),
        ("a{1001}", "invalid repetition size"),
        ("((a{100}){100}){100}", "invalid repetition size"),
        ("(\\pL){1000}", "pattern too large"),  # over RE2's memory budget
    ],
)
def test_regex_refuses_what_re2_cannot_run(pattern: str, why: str) -> None:
    with pytest.raises(ValueError, match="not a valid regular expression") as caught:
        regex(pattern)
    assert why in str(caught.value)
    assert "RE2" in str(caught.value)


def test_re2_is_imported_only_for_a_regular_expression() -> None:
    assert like("%x%").matches("axb")
    if "re2" not in sys.modules:  # another test may have imported it already
        regex("kvm.*")
        assert "re2" in sys.modules
