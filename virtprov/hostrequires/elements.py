"""The ``<hostRequires/>`` vocabulary: which element means what, at which level.

Beaker's schema (``beaker-job.rnc``) has four levels: the host filter itself, and inside
it ``<system>``, ``<cpu>`` and ``<disk>``. ``<and>``, ``<or>``, ``<not>`` and unknown
elements keep the vocabulary of the level they are in (``<and>`` inside ``<cpu>`` knows
``<cores>``). Deprecated top-level forms (``<memory>``, ``<cpu_count>``, ``<arch>``...) mean
what their ``<system>``/``<cpu>`` successors mean.
"""

from __future__ import annotations

from typing import NamedTuple

# How an element's ``value`` is read.
TEXT = "text"
INTEGER = "integer"
DECIMAL = "decimal"
BYTES = "bytes"  # integer times ``units``
BOOLEAN = "boolean"

# What an element compiles to.
AND = "and"  # container: all children (``level`` may switch vocabulary)
OR = "or"
NOT = "not"
TARGET = "target"  # a property of the provider (``arg``: lab, hypervisor, system_type)
ARCH = "arch"
SIZE = "size"  # a flavor size (``arg``: ram_mib, vcpus, disk_bytes)
NEVER = "never"  # nothing a VM offers (``arg``: the feature name)
DECLARED = "declared"  # a property a flavor may declare (``arg``: its name, see properties)
KEY_VALUE = "key_value"  # <key_value key=...>: DECLARED or NEVER by its key (KEY_VALUES)


class Element(NamedTuple):
    kind: str
    arg: str = ""
    value_type: str = TEXT
    level: str = ""  # for containers: the vocabulary inside ("" = the current one)


_LOGIC = {"and": Element(AND), "or": Element(OR), "not": Element(NOT)}


def _never(feature: str, value_type: str = TEXT) -> Element:
    return Element(NEVER, feature, value_type)


def _declared(name: str, value_type: str = TEXT) -> Element:
    return Element(DECLARED, name, value_type)


#: Beaker inventory keys with a declarable meaning; every other key is NEVER.
KEY_VALUES: dict[str, Element] = {
    "TPM": _declared("tpm.version"),
    "HVM": _declared("virtualization.is-supported", BOOLEAN),
    "VIRT_IOMMU": _declared("iommu.is-supported", BOOLEAN),
}


def key_value(key: str | None) -> Element:
    """What ``<key_value key="KEY" .../>`` means."""
    return KEY_VALUES.get(key or "", _never("key_value"))


HOST: dict[str, Element] = {
    **_LOGIC,
    "system": Element(AND, level="system"),
    "cpu": Element(AND, level="cpu"),
    "disk": Element(AND, level="disk"),
    "labcontroller": Element(TARGET, "lab"),
    "hostlabcontroller": Element(TARGET, "lab"),  # deprecated
    "hypervisor": Element(TARGET, "hypervisor"),  # deprecated: <system><hypervisor>
    "system_type": Element(TARGET, "system_type"),  # deprecated: <system><type>
    "memory": Element(SIZE, "ram_mib", INTEGER),  # deprecated: <system><memory>
    "cpu_count": Element(SIZE, "vcpus", INTEGER),  # deprecated: <cpu><processors>
    "arch": Element(ARCH),  # deprecated: <system><arch>
    "hostname": _never("system.name"),  # deprecated: <system><name>
    "host": _never("system.name"),  # deprecated: <system><name>
    "numa_node_count": _declared("system.numa-nodes", INTEGER),  # deprecated
    "device": _never("device"),
    "diskspace": _never("diskspace", BYTES),
    "diskcount": _never("diskcount", INTEGER),
    "group": _never("pool"),  # deprecated: <pool>
    "pool": _never("pool"),
    "key_value": Element(KEY_VALUE),
    "auto_prov": _never("auto_prov"),
}

SYSTEM: dict[str, Element] = {
    **_LOGIC,
    "memory": Element(SIZE, "ram_mib", INTEGER),
    "hypervisor": Element(TARGET, "hypervisor"),
    "type": Element(TARGET, "system_type"),
    "arch": Element(ARCH),
    "numanodes": _declared("system.numa-nodes", INTEGER),
    **{
        name: _never(f"system.{name}")
        for name in (
            "name",
            "status",
            "lender",
            "vendor",
            "model",
            "owner",
            "user",
            "loaned",
            "location",
            "powertype",
            "serial",
            "added",
            "last_inventoried",
            "compatible_with_distro",
        )
    },
}

CPU: dict[str, Element] = {
    **_LOGIC,
    # A flavor of N vCPUs is N single-core processors (Beaker's choice).
    "processors": Element(SIZE, "vcpus", INTEGER),
    "cores": Element(SIZE, "vcpus", INTEGER),
    # What a flavor may declare (virtprov's extension; Beaker denies a VM all of them).
    "family": _declared("cpu.family", INTEGER),
    "model": _declared("cpu.model", INTEGER),
    "stepping": _declared("cpu.stepping", INTEGER),
    "sockets": _declared("cpu.sockets", INTEGER),
    "speed": _declared("cpu.frequency", DECIMAL),  # MHz
    "hyper": _declared("cpu.hyper-threading", BOOLEAN),
    "model_name": _declared("cpu.model-name"),
    "vendor": _declared("cpu.vendor-name"),
    "flag": _declared("cpu.flag"),
}

DISK: dict[str, Element] = {
    **_LOGIC,
    "size": Element(SIZE, "disk_bytes", BYTES),
    "model": _never("disk.model"),
    "sector_size": _never("disk.sector_size", BYTES),
    "phys_sector_size": _never("disk.phys_sector_size", BYTES),
}

LEVELS: dict[str, dict[str, Element]] = {"host": HOST, "system": SYSTEM, "cpu": CPU, "disk": DISK}

#: Where each level is written, for messages.
LEVEL_NAMES = {
    "host": "<hostRequires>",
    "system": "<system>",
    "cpu": "<cpu>",
    "disk": "<disk>",
}
