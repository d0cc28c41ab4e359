"""Numbers and byte sizes as ``<hostRequires/>`` writes them.

Beaker's schema: a size is ``value`` times ``units``; units default to bytes; ``kB``/``KB``
and ``MB``/``GB``/``TB`` are decimal (disks are sold that way), ``KiB``/``MiB``/``GiB``/
``TiB`` binary. Memory values are MiB and carry no unit.
"""

from __future__ import annotations

import re

from virtprov.printable import excerpt

BYTE_UNITS: dict[str, int] = {
    "bytes": 1,
    "B": 1,
    "kB": 1000,
    "KB": 1000,
    "KiB": 1024,
    "MB": 1000**2,
    "MiB": 1024**2,
    "GB": 1000**3,
    "GiB": 1024**3,
    "TB": 1000**4,
    "TiB": 1024**4,
}

#: The decimal units and their binary namesakes: a size written in one names the span from
#: the decimal amount to the binary one (``8 GB`` of RAM is sold as 8 GiB; see
#: :mod:`~virtprov.hostrequires.semantics`), in both languages.
BINARY_TWINS: dict[str, int] = {
    "kB": 1024,
    "KB": 1024,
    "MB": 1024**2,
    "GB": 1024**3,
    "TB": 1024**4,
}

#: Digits in a number a document may write (before anything converts it): memory in MiB
#: or disk bytes need fewer than 20; a billion-digit integer must never be built.
MAX_DIGITS = 30
#: Digits of a decimal number's exponent (``2.4e3``): 10**99 is far beyond any size.
MAX_EXPONENT_DIGITS = 2
#: Characters read around a number (spaces, sign): longer text is not looked at.
_MAX_TEXT = 64

# Python's int() also takes "4_096" and non-ASCII digits; a requirement should not.
_INTEGER = re.compile(r"\s*[+-]?([0-9]+)\s*", re.ASCII)
_DECIMAL = re.compile(
    r"\s*[+-]?(?P<mantissa>[0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?(?P<exponent>[0-9]+))?\s*",
    re.ASCII,
)


def too_many_digits(text: str) -> ValueError:
    """The error for a number over :data:`MAX_DIGITS`, showing a bounded excerpt."""
    return ValueError(f"value '{excerpt(text, 40)}' has more than {MAX_DIGITS} digits")


def parse_integer(text: str) -> int:
    """An integer written in decimal; ``ValueError`` with a readable message otherwise."""
    match = _INTEGER.fullmatch(text) if len(text) <= _MAX_TEXT else None
    if match is None:
        digits = text.strip().lstrip("+-")
        if len(digits) > MAX_DIGITS and digits.isascii() and digits.isdigit():
            raise too_many_digits(text)
        raise ValueError(f"value '{excerpt(text, 40)}' is not an integer")
    if len(match[1]) > MAX_DIGITS:
        raise too_many_digits(text)
    return int(text)


def parse_decimal(text: str) -> float:
    """A decimal number (``<cpu><speed>`` is the only one); ``ValueError`` otherwise."""
    match = _DECIMAL.fullmatch(text) if len(text) <= _MAX_TEXT else None
    if match is None:
        raise ValueError(f"value '{excerpt(text, 40)}' is not a number")
    digits = len(match["mantissa"]) - ("." in match["mantissa"])
    if digits > MAX_DIGITS or len(match["exponent"] or "") > MAX_EXPONENT_DIGITS:
        raise ValueError(
            f"value '{excerpt(text, 40)}' has more than {MAX_DIGITS} digits or an exponent "
            f"of more than {MAX_EXPONENT_DIGITS} digits"
        )
    return float(text)


def byte_multiplier(units: str) -> int:
    """Bytes per unit; ``ValueError`` naming the accepted units when unknown."""
    try:
        return BYTE_UNITS[units]
    except KeyError:
        accepted = ", ".join(BYTE_UNITS)
        raise ValueError(f"unknown units '{excerpt(units, 40)}' (accepted: {accepted})") from None


def format_bytes(value: int) -> str:
    """``10 GiB``, ``1.5 GiB``, ``512 MiB``, ``0 bytes``: for reasons, not for parsing."""
    for unit, size in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if abs(value) >= size:
            amount = value / size
            text = f"{amount:.1f}".removesuffix(".0")
            return f"{text} {unit}"
    return f"{value} bytes"
