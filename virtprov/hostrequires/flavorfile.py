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
import re
from collections.abc import Mapping
from typing import Any

from virtprov.hostrequires.properties import from_nova_extra_specs, kind_of
from virtprov.model import Flavor, GiB

_NOVA = {"id": "id", "name": "name", "ram": "ram", "disk": "disk", "vcpus": "vcpus"}
_CLI = {"id": "ID", "name": "Name", "ram": "RAM", "disk": "Disk", "vcpus": "VCPUs"}


class FlavorFileError(ValueError):
    """The flavor file is not one of the accepted shapes; the message says where."""


def _integer(row: Mapping[str, Any], key: str, where: str) -> int:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise FlavorFileError(f"{where}: {key!r} must be a whole number, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise FlavorFileError(f"{where}: {key!r} must be a whole number, got {value!r}") from None
    if number < 0:
        raise FlavorFileError(f"{where}: {key!r} must not be negative, got {number}")
    return number


_SPEC_TEXT = re.compile(r"\s*([^=,\s]+)\s*=\s*'([^']*)'\s*,?")


def _extra_specs(row: Mapping[str, Any], where: str) -> dict[str, str]:
    specs = next((row[k] for k in ("extra_specs", "properties", "Properties") if k in row), None)
    if specs is None or specs == "":
        return {}
    if isinstance(specs, str):  # "hw:cpu_model='Haswell', trait:HW_CPU_X86_VMX='required'"
        pairs = _SPEC_TEXT.findall(specs)
        specs = dict(pairs)
    if not isinstance(specs, Mapping):
        raise FlavorFileError(f"{where}: extra specs must be an object, got {specs!r}")
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
        where = f"{where} ({row[keys['name']]!s})"
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


def load_flavor_file(path: str) -> list[Flavor]:
    """Read a flavor file; :class:`FlavorFileError` (naming the file) for any problem."""
    try:
        with open(path, "rb") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise FlavorFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise FlavorFileError(f"{path}: not JSON: {exc}") from None
    return flavors_from_json(data, path)
