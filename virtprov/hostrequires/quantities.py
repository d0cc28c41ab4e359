"""Quantities as tmt writes them (``8 GB``, ``>= 2 GiB``, ``2.3 GHz``), read with pint.

tmt reads sizes with pint, so ``MB`` is 10**6 bytes and ``MiB`` 2**20; virtprov asks pint
too, so a unit means here what it means to tmt. Two differences, both for safety: only
``<number> [<unit>]`` is accepted (pint evaluates arithmetic such as ``10**10**10 B``,
which a document from any user must not be able to make us compute), and exact fractions
are kept instead of floats, so ``1.5 GiB`` is exactly 1610612736 bytes.

pint costs about half a second to import and build its registry: it is imported on the
first unit seen, never by ``import virtprov`` nor for documents without units.
"""

from __future__ import annotations

import functools
import re
import threading
from fractions import Fraction
from typing import Any, NamedTuple

from virtprov.hostrequires.units import MAX_DIGITS, too_many_digits
from virtprov.printable import excerpt

#: ``<number> [<unit>]``: a decimal number (no exponent), then an optional unit name.
_QUANTITY = re.compile(
    r"\s*(?P<number>[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})\s*(?P<unit>[A-Za-z]{1,20})?\s*",
    re.ASCII,
)

#: Longer text is refused unread: a quantity is a few dozen characters, and the pattern
#: above would take time quadratic in long runs of spaces.
_MAX_TEXT = 100

_lock = threading.Lock()
_registry: Any = None


def _units() -> Any:
    global _registry
    with _lock:
        if _registry is None:
            import pint

            _registry = pint.UnitRegistry()
        return _registry


@functools.lru_cache(maxsize=256)
def _factor(unit: str, base: str) -> Fraction:
    """How many ``base`` one ``unit`` is; ``ValueError`` for an unknown or unfit unit."""
    import pint

    registry = _units()
    try:
        quantity = registry.Quantity(1, unit)
    except (pint.errors.UndefinedUnitError, AttributeError, TypeError, ValueError):
        raise ValueError(f"unknown unit '{unit}'") from None
    try:
        magnitude = quantity.to(base).magnitude
    except pint.errors.DimensionalityError:
        raise ValueError(f"'{unit}' is not a unit of {_KIND[base]}") from None
    return Fraction(magnitude).limit_denominator(10**12)


_KIND = {"byte": "data size (B, kB, MB, MiB, GB, GiB...)", "MHz": "frequency (Hz, MHz, GHz)"}


def quantity(text: str, base: str, default_unit: str) -> Fraction:
    """``text`` (``"8 GB"``, ``"1234"``) in ``base`` units (``byte`` or ``MHz``), exactly.

    A number without a unit is in ``default_unit`` (tmt: MiB for memory, bytes for disks,
    MHz for CPU frequency). ``ValueError`` with a readable message otherwise.
    """
    number, unit = _number_and_unit(text, default_unit)
    if unit == base:
        return number
    return number * _factor(unit, base)


class Span(NamedTuple):
    """A size as a requirement states it: exactly ``low`` bytes (``high`` None), or, when
    written with a decimal unit, any amount from ``low`` to ``high`` (see :func:`span`)."""

    low: Fraction
    high: Fraction | None = None


@functools.lru_cache(maxsize=1024)  # documents repeat their sizes; a Span is immutable
def span(text: str, default_unit: str) -> Span:
    """A size requirement's value in bytes: ``8 GB`` is the span from 8 * 1000**3 (tmt's
    unit, pint's) to 8 * 1024**3 bytes (what is sold as 8 GB of RAM, and what a cloud's
    "8 GB" flavor has); a binary unit (``GiB``) or none is exact.

    A unit of 1000**k bytes spans to 1024**k (kB, MB, GB, TB, PB... by any name pint
    gives them); ``ValueError`` as :func:`quantity`.
    """
    number, unit = _number_and_unit(text, default_unit)
    if unit == "byte":
        return Span(number)
    factor = _factor(unit, "byte")
    power = _DECIMAL_POWERS.get(factor.numerator) if factor.denominator == 1 else None
    return Span(number * factor, None if power is None else number * 1024**power)


#: 1000**k bytes -> k: the decimal units, whose binary namesake is 1024**k bytes.
_DECIMAL_POWERS = {1000**power: power for power in range(1, 7)}


def span_holds(op: str, have: Any, low: Any, high: Any) -> bool:
    """``op(have, value)`` for a size value ``low`` (``high`` None) or the span
    ``low..high``: ``=`` within it, ``!=`` outside, ``<`` and ``>=`` compared with its low
    end, ``<=`` and ``>`` with its high end, so that ``<=`` is ``<`` or ``=``, ``>=`` is
    ``>`` or ``=``, and exactly one of ``<``, ``=``, ``>`` holds."""
    if high is None or op in (">=", "<"):
        value = low
    elif op in ("<=", ">"):
        value = high
    else:
        inside = bool(low <= have <= high)
        return inside if op == "=" else not inside
    if op == "=":
        return bool(have == value)
    if op == "!=":
        return bool(have != value)
    if op == "<":
        return bool(have < value)
    if op == "<=":
        return bool(have <= value)
    if op == ">":
        return bool(have > value)
    return bool(have >= value)


def _number_and_unit(text: str, default_unit: str) -> tuple[Fraction, str]:
    match = _QUANTITY.fullmatch(text) if len(text) <= _MAX_TEXT else None
    if match is None:
        stripped = text.strip()
        written = stripped[: len(stripped) - len(stripped.lstrip("0123456789."))]
        if len(written.replace(".", "")) > MAX_DIGITS:  # the number, then maybe a unit
            raise too_many_digits(text)
        raise ValueError(
            f"'{excerpt(text, 40)}' is not a number with an optional unit (such as '8 GiB')"
        )
    written = match["number"]
    if "." in written:  # exactly: 1.5 is 3/2
        whole_part, _, decimals = written.partition(".")
        scale = 10 ** len(decimals)
        number = Fraction(int(whole_part or "0") * scale + int(decimals or "0"), scale)
    else:
        number = Fraction(int(written))  # (Fraction("12") parses with a regex, slowly)
    return number, match["unit"] or default_unit


def whole(value: Fraction) -> int | Fraction:
    """An int when the value is whole (the fast path of comparisons), else the fraction."""
    return value.numerator if value.denominator == 1 else value
