"""Numbers and byte sizes as ``<hostRequires/>`` writes them.

Beaker's schema: a size is ``value`` times ``units``; units default to bytes; ``kB``/``KB``
and ``MB``/``GB``/``TB`` are decimal (disks are sold that way), ``KiB``/``MiB``/``GiB``/
``TiB`` binary. Memory values are MiB and carry no unit.
"""

from __future__ import annotations

import re

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

# Python's int() also takes "4_096" and non-ASCII digits; a requirement should not.
_INTEGER = re.compile(r"\s*[+-]?[0-9]+\s*", re.ASCII)
_DECIMAL = re.compile(r"\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\s*", re.ASCII)


def parse_integer(text: str) -> int:
    """An integer written in decimal; ``ValueError`` with a readable message otherwise."""
    if _INTEGER.fullmatch(text) is None or len(text) > 40:
        raise ValueError(f"value {text!r} is not an integer")
    return int(text)


def parse_decimal(text: str) -> float:
    """A decimal number (``<cpu><speed>`` is the only one); ``ValueError`` otherwise."""
    if _DECIMAL.fullmatch(text) is None or len(text) > 40:
        raise ValueError(f"value {text!r} is not a number")
    return float(text)


def byte_multiplier(units: str) -> int:
    """Bytes per unit; ``ValueError`` naming the accepted units when unknown."""
    try:
        return BYTE_UNITS[units]
    except KeyError:
        accepted = ", ".join(BYTE_UNITS)
        raise ValueError(f"unknown units {units!r} (accepted: {accepted})") from None


def format_bytes(value: int) -> str:
    """``10 GiB``, ``1.5 GiB``, ``512 MiB``, ``0 bytes``: for reasons, not for parsing."""
    for unit, size in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if abs(value) >= size:
            amount = value / size
            text = f"{amount:.1f}".removesuffix(".0")
            return f"{text} {unit}"
    return f"{value} bytes"
