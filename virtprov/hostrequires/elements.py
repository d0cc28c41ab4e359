"""The ``<hostRequires/>`` vocabulary: which element means what, at which level.

Beaker's schema (``beaker-job.rnc``) has four levels: the host filter itself, and inside
it ``<system>``, ``<cpu>`` and ``<disk>``. ``<and>``, ``<or>``, ``<not>`` and unknown
elements keep the vocabulary of the level they are in (``<and>`` inside ``<cpu>`` knows
``<cores>``). Deprecated top-level forms (``<memory>``, ``<cpu_count>``, ``<arch>``...) mean
what their ``<system>``/``<cpu>`` successors mean. What each element means is the one
table of both languages (:mod:`~virtprov.hostrequires.semantics`); this module lays it
out as the XML compilers read it.
"""

from __future__ import annotations

from typing import NamedTuple

from virtprov.hostrequires import semantics as S

# How an element's ``value`` is read.
TEXT = S.TEXT
INTEGER = S.INTEGER
DECIMAL = S.DECIMAL
BYTES = S.BYTES  # integer times ``units``
BOOLEAN = S.BOOLEAN

# What an element compiles to.
AND = "and"  # container: all children (``level`` may switch vocabulary)
OR = "or"
NOT = "not"
TARGET = S.TARGET  # a property of the provider (``arg``: lab, hypervisor, system_type)
ARCH = S.ARCH
SIZE = S.SIZE  # a flavor size (``arg``: ram_mib, vcpus, disk_bytes)
NEVER = S.NEVER  # nothing a VM has (``arg``: the feature name); its negation every VM
DECLARED = S.DECLARED  # a property a flavor may declare (``arg``: its name, see properties)
KEY_VALUE = "key_value"  # <key_value key=...>: resolved by its key (KEY_VALUES)


class Element(NamedTuple):
    kind: str
    arg: str = ""
    value_type: str = TEXT
    level: str = ""  # for containers: the vocabulary inside ("" = the current one)


_LOGIC = {"and": Element(AND), "or": Element(OR), "not": Element(NOT)}


def _leaf(form: S.XmlForm) -> Element:
    feature = S.FEATURES[form.feature]
    arg = "" if feature.kind == ARCH else feature.arg
    return Element(feature.kind, arg, form.value)


#: Beaker inventory keys with a meaning of their own; every other key is ``key_value``.
KEY_VALUES: dict[str, Element] = {key: _leaf(form) for key, form in S.KEY_VALUES.items()}
_OTHER_KEY_VALUE = _leaf(S.OTHER_KEY_VALUE)


def key_value(key: str | None) -> Element:
    """What ``<key_value key="KEY" .../>`` means."""
    return KEY_VALUES.get(key or "", _OTHER_KEY_VALUE)


def _level(level: str) -> dict[str, Element]:
    return {tag: _leaf(form) for tag, form in S.XML[level].items()}


HOST: dict[str, Element] = {
    **_LOGIC,
    "system": Element(AND, level="system"),
    "cpu": Element(AND, level="cpu"),
    "disk": Element(AND, level="disk"),
    "key_value": Element(KEY_VALUE),
    **_level("host"),
}
SYSTEM: dict[str, Element] = {**_LOGIC, **_level("system")}
CPU: dict[str, Element] = {**_LOGIC, **_level("cpu")}
DISK: dict[str, Element] = {**_LOGIC, **_level("disk")}

LEVELS: dict[str, dict[str, Element]] = {"host": HOST, "system": SYSTEM, "cpu": CPU, "disk": DISK}

#: Where each level is written, for messages.
LEVEL_NAMES = {
    "host": "<hostRequires>",
    "system": "<system>",
    "cpu": "<cpu>",
    "disk": "<disk>",
}
