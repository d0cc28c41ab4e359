"""Flavor lists as OpenStack writes them, for ``virtprov check --flavors``.

Accepted shapes: a list of Nova API flavor objects (``id``, ``name``, ``ram`` MiB, ``disk``
GiB, ``vcpus``), the same wrapped as ``{"flavors": [...]}`` (a saved
``GET /flavors/detail`` response), or the rows of ``openstack flavor list --long -f json``
(``ID``, ``Name``, ``RAM``, ``Disk``, ``VCPUs``). Other keys are ignored, but for the
flavor's extra specs (``extra_specs``, ``properties`` or ``Properties``: an object, or the
``key='value', ...`` text older clients print), which declare properties (CPU flags, TPM...)
as :func:`~virtprov.hostrequires.properties.from_nova_extra_specs` reads them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from virtprov.hostrequires.properties import from_nova_extra_specs, kind_of
from virtprov.hostrequires.reading import TooLarge, read_file
from virtprov.hostrequires.units import MAX_DIGITS
from virtprov.model import Flavor, GiB
from virtprov.printable import excerpt

#: A cloud's flavor list is a few hundred objects of a few hundred bytes each.
MAX_FLAVOR_FILE_BYTES = 16 * 1024 * 1024

_NOVA = {"id": "id", "name": "name", "ram": "ram", "disk": "disk", "vcpus": "vcpus"}
_CLI = {"id": "ID", "name": "Name", "ram": "RAM", "disk": "Disk", "vcpus": "VCPUs"}


class FlavorFileError(ValueError):
    """The flavor file is not one of the accepted shapes; the message says where."""


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f"'{excerpt(value, 40)}'"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # at most MAX_DIGITS digits (see _bounded_int)
    return type(value).__name__ if isinstance(value, dict | list) else repr(value)


def _integer(row: Mapping[str, Any], key: str, where: str) -> int:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise FlavorFileError(f"{where}: {key!r} must be a whole number, got {_shown(value)}")
    if isinstance(value, str) and len(value.strip()) > MAX_DIGITS:
        raise FlavorFileError(f"{where}: {key!r} has more than {MAX_DIGITS} digits")
    try:
        number = int(value)
    except ValueError:
        raise FlavorFileError(
            f"{where}: {key!r} must be a whole number, got {_shown(value)}"
        ) from None
    if number < 0:
        raise FlavorFileError(f"{where}: {key!r} must not be negative, got {number}")
    return number


def _spec_text(text: str, where: str) -> dict[str, str]:
    """``key='value', key='value'`` (how older clients print extra specs), read in one
    pass: a value may hold commas, not a quote."""
    specs: dict[str, str] = {}
    position, size = 0, len(text)
    while True:
        while position < size and (text[position].isspace() or text[position] == ","):
            position += 1
        if position >= size:
            return specs
        equals = text.find("=", position)
        quote = text.find("'", equals + 1) if equals >= 0 else -1
        end = text.find("'", quote + 1) if quote >= 0 else -1
        key = text[position:equals].strip() if equals >= 0 else ""
        if (
            end < 0
            or not key
            or any(char.isspace() or char in ",'" for char in key)
            or text[equals + 1 : quote].strip()
        ):
            raise FlavorFileError(
                f"{where}: extra specs are not key='value' pairs at character {position + 1}: "
                f"'{excerpt(text[position:], 40)}'"
            )
        specs[key] = text[quote + 1 : end]
        position = end + 1


def _extra_specs(row: Mapping[str, Any], where: str) -> dict[str, str]:
    specs = next((row[k] for k in ("extra_specs", "properties", "Properties") if k in row), None)
    if specs is None or specs == "":
        return {}
    if isinstance(specs, str):  # "hw:cpu_model='Haswell', trait:HW_CPU_X86_VMX='required'"
        specs = _spec_text(specs, where)
    if not isinstance(specs, Mapping):
        raise FlavorFileError(f"{where}: extra specs must be an object, got {_shown(specs)}")
    text = {str(key): str(value) for key, value in specs.items()}
    # A hand-written file may name virtprov's properties directly ("cpu.flag": "vmx").
    return from_nova_extra_specs(text) | {k: v for k, v in text.items() if kind_of(k)}


def flavors_from_json(data: Any, source: str = "flavors") -> list[Flavor]:
    """Flavors from decoded JSON in any accepted shape."""
    if isinstance(data, Mapping):
        if "flavors" not in data:
            raise FlavorFileError(f"{source}: expected a list of flavors or {{'flavors': [...]}}")
        data = data["flavors"]
    if not isinstance(data, list):
        raise FlavorFileError(f"{source}: expected a list of flavors, got {type(data).__name__}")
    flavors = []
    for number, row in enumerate(data, start=1):
        where = f"{source}: flavor #{number}"
        if not isinstance(row, Mapping):
            raise FlavorFileError(f"{where}: expected an object, got {type(row).__name__}")
        keys = _CLI if "RAM" in row or "VCPUs" in row else _NOVA
        missing = [key for key in keys.values() if key not in row]
        if missing:
            raise FlavorFileError(f"{where}: missing {', '.join(map(repr, missing))}")
        where = f"{where} ({excerpt(str(row[keys['name']]), 60)})"
        flavors.append(
            Flavor(
                id=str(row[keys["id"]]),
                name=str(row[keys["name"]]),
                vcpus=_integer(row, keys["vcpus"], where),
                ram_mib=_integer(row, keys["ram"], where),
                disk_bytes=_integer(row, keys["disk"], where) * GiB,
                properties=_extra_specs(row, where),
            )
        )
    return flavors


def _bounded_int(text: str) -> int:
    """JSON integers, read only when short (json would build any size, or refuse past
    4300 digits with an error about Python's limits)."""
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise FlavorFileError(f"a number of more than {MAX_DIGITS} digits")
    return int(text)


def load_flavor_file(path: str, *, max_bytes: int = MAX_FLAVOR_FILE_BYTES) -> list[Flavor]:
    """Read a flavor file (``-``: standard input); :class:`FlavorFileError` (naming the
    file) for any problem, past ``max_bytes`` without reading further."""
    name = "<stdin>" if path == "-" else path
    try:
        raw = read_file(path, max_bytes)
    except OSError as exc:
        raise FlavorFileError(f"{name}: cannot read: {exc.strerror or exc}") from None
    except TooLarge as exc:
        raise FlavorFileError(f"{name}: {exc}") from None
    try:
        data = json.loads(raw, parse_int=_bounded_int)
    except FlavorFileError as exc:
        raise FlavorFileError(f"{name}: not a flavor list: {exc}") from None
    except RecursionError:
        raise FlavorFileError(f"{name}: not a flavor list: JSON nested too deep") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise FlavorFileError(f"{name}: not JSON: {excerpt(str(exc), 200)}") from None
    return flavors_from_json(data, name)
