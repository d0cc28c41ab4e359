"""Properties a flavor *declares* beyond its size: CPU flags, TPM, UEFI, nested virt...

Beaker denies a VM every requirement on such a property (a VM has no known CPU flags).
virtprov keeps that default, and lets a flavor whose operator or cloud says so satisfy
it: a requirement on a declared property is met by exactly the flavors that declare a
value meeting it, in both languages (``<cpu><flag value="vmx"/></cpu>`` and tmt's
``cpu: {flag: [vmx]}``).

Names are tmt's key paths (``cpu.flag``, ``tpm.version``, ``disk[1].size``); both front
ends compile to them. A flavor declares them in ``Flavor.properties`` as text, read here
by the property's kind; OpenStack extra specs and traits are translated by
:func:`from_nova_extra_specs`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import attrs

from virtprov.hostrequires.patterns import fold
from virtprov.hostrequires.quantities import Span, quantity, span_holds, whole
from virtprov.hostrequires.units import MAX_DIGITS, too_many_digits
from virtprov.printable import excerpt

if TYPE_CHECKING:
    from virtprov.hostrequires.patterns import Pattern
    from virtprov.model import Flavor

# How a declared value is read and compared.
TEXT = "text"  # compared as text (=, !=, orderings, like, ~)
INTEGER = "integer"  # a whole number (0x... accepted, as tmt does)
FREQUENCY = "frequency"  # MHz unless a unit says otherwise
SIZE = "size"  # bytes unless a unit says otherwise
FLAG = "flag"  # true or false
SET = "set"  # a set of words, each one offered (CPU flags, distros): = is "has", != "lacks"
CHOICE = "choice"  # the ways a guest can be set up (boot methods): != is "another way too"

_DEVICE = {
    "device-name": TEXT,
    "device": INTEGER,
    "vendor-name": TEXT,
    "vendor": INTEGER,
    "driver": TEXT,
}

#: Every declarable property and its kind; ``disk[N].*`` and ``network[N].*`` are below.
PROPERTIES: dict[str, str] = {
    "boot.method": CHOICE,
    "compatible.distro": SET,
    "cpu.cores-per-socket": INTEGER,
    "cpu.family": INTEGER,
    "cpu.family-name": TEXT,
    "cpu.flag": SET,
    "cpu.frequency": FREQUENCY,
    "cpu.hyper-threading": FLAG,
    "cpu.model": INTEGER,
    "cpu.model-name": TEXT,
    "cpu.sockets": INTEGER,
    "cpu.stepping": INTEGER,
    "cpu.threads": INTEGER,
    "cpu.threads-per-core": INTEGER,
    "cpu.vendor": INTEGER,
    "cpu.vendor-name": TEXT,
    **{f"device.{key}": kind for key, kind in _DEVICE.items()},
    **{f"gpu.{key}": kind for key, kind in _DEVICE.items()},
    "iommu.is-supported": FLAG,
    "iommu.model-name": TEXT,
    "system.numa-nodes": INTEGER,
    "system.management-controller.protocol": TEXT,
    **{f"system.management-controller.{key}": kind for key, kind in _DEVICE.items()},
    "tpm.version": TEXT,
    "virtualization.confidential": FLAG,
    "virtualization.is-supported": FLAG,
}

#: Per-disk and per-NIC properties, by index (``disk[0]`` is the root disk, whose size
#: is the flavor's own; its other properties and further disks must be declared).
INDEXED: dict[str, dict[str, str]] = {
    "disk": {
        "size": SIZE,
        "model-name": TEXT,
        "driver": TEXT,
        "logical-sector-size": SIZE,
        "physical-sector-size": SIZE,
        "block-device": TEXT,  # in tmt's guest topology: /dev/vda
    },
    "network": {"type": TEXT, **_DEVICE},
}

_INDEXED_NAME = re.compile(r"(?P<group>[a-z]+)\[(?P<index>[0-9]{1,3})\]\.(?P<key>[a-z-]+)")
_WORDS = re.compile(r"[\s,]+")
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})


def kind_of(name: str) -> str | None:
    """The kind of a declarable property, ``None`` when the name is not one."""
    kind = PROPERTIES.get(name)
    if kind is not None:
        return kind
    match = _INDEXED_NAME.fullmatch(name)
    if match is None:
        return None
    return INDEXED.get(match["group"], {}).get(match["key"])


def parse_flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"'{excerpt(text, 40)}' is not true or false")


def parse_integer(text: str) -> int:
    """A whole number, decimal or ``0x`` hexadecimal (as tmt writes device ids), of at
    most :data:`~virtprov.hostrequires.units.MAX_DIGITS` digits."""
    stripped = text.strip()
    digits = stripped[2:] if stripped[:2].lower() == "0x" else stripped.lstrip("+-")
    if len(digits) > MAX_DIGITS and digits.isascii() and digits.isalnum():
        raise too_many_digits(text)
    try:
        if stripped[:2].lower() == "0x":
            return int(stripped, 16)
        if stripped.isascii() and digits.isdigit():
            return int(stripped)
    except ValueError:
        pass
    raise ValueError(f"'{excerpt(text, 40)}' is not a whole number")


def read(kind: str, text: str) -> Any:
    """A declared value of ``kind`` from its text; ``ValueError`` when it is not one."""
    if kind == TEXT:
        return text
    if kind in (SET, CHOICE):  # words compare ignoring case: kept case-folded
        return frozenset(fold(word) for word in _WORDS.split(text) if word)
    if kind == INTEGER:
        return parse_integer(text)
    if kind == FLAG:
        return parse_flag(text)
    if kind == SIZE:
        return whole(quantity(text, "byte", "byte"))
    return whole(quantity(text, "MHz", "MHz"))


def declared(properties: Mapping[str, str]) -> dict[str, Any]:
    """The declarable properties of a flavor, read by kind. A value that cannot be read
    is kept as :class:`Unreadable`, so that a reason can say what was wrong with it."""
    values: dict[str, Any] = {}
    for name, text in properties.items():
        kind = kind_of(name)
        if kind is None:
            continue
        try:
            values[name] = read(kind, str(text))
        except ValueError as exc:
            values[name] = Unreadable(str(text), str(exc))
    return values


def with_declarations(
    flavors: Iterable[Flavor], declarations: Mapping[str, Mapping[str, str]]
) -> list[Flavor]:
    """The flavors with the configuration's declarations merged into their properties.

    ``declarations`` maps a flavor name (``"*"``: every flavor) to properties; a flavor's
    own entry wins over ``"*"``, and both win over what the cloud declares.
    """
    if not declarations:
        return list(flavors)
    common = declarations.get("*", {})
    result = []
    for flavor in flavors:
        own = declarations.get(flavor.name, {})
        if common or own:
            merged = {**flavor.properties, **common, **own}
            flavor = attrs.evolve(flavor, properties=merged)
        result.append(flavor)
    return result


def declared_names(properties: Iterable[Mapping[str, str]]) -> frozenset[str]:
    """The declarable property names any of these flavors declares."""
    return frozenset(name for props in properties for name in props if kind_of(name))


class Unreadable:
    """A declared value that is not of its property's kind (it satisfies nothing)."""

    __slots__ = ("problem", "text")

    def __init__(self, text: str, problem: str) -> None:
        self.text = text
        self.problem = problem


def meets(kind: str, have: Any, op: str, value: Any, pattern: Pattern | None) -> bool:
    """Whether a declared value ``have`` (``None``: not declared) meets ``op value``.

    ``op`` is a canonical operator (:data:`~virtprov.hostrequires.compiled.OPERATORS`);
    ``pattern`` is compiled for ``like`` (SQL) and ``~`` (tmt's regular expressions).
    """
    if have is None or isinstance(have, Unreadable):
        return False  # not declared: Beaker's default-deny
    if kind in (SET, CHOICE):
        if op == "=":
            return fold(value) in have
        if op == "!=":
            return bool(have - {fold(value)}) if kind == CHOICE else fold(value) not in have
        return any(_compare(op, word, value, pattern) for word in have)
    if kind == FLAG:
        if op == "=":
            return bool(have == value)
        return op == "!=" and have != value
    return _compare(op, have, value, pattern)


def _compare(op: str, have: Any, value: Any, pattern: Pattern | None) -> bool:
    if pattern is not None:  # like, and tmt's ~ and !~ (both ignore case)
        found = pattern.matches(have)
        return not found if op == "!~" else found
    if isinstance(value, Span):  # a size written with a decimal unit: a span
        return span_holds(op, have, value.low, value.high)
    if isinstance(have, str) and isinstance(value, str):
        # text ignores case, as Beaker's database compares it
        have, value = fold(have), fold(value)
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


def show(value: Any) -> str:
    """A declared value for a reason: ``vmx avx2``, ``2.0``, ``true``, ``20 GiB``."""
    if isinstance(value, Unreadable):
        return f"'{excerpt(value.text, 40)}' ({value.problem})"
    if isinstance(value, frozenset):
        return " ".join(sorted(value)) or "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Fraction):
        return str(float(value))
    return str(value)


# -- OpenStack -----------------------------------------------------------------------------

#: Nova extra specs with a declarable meaning (the ``hw:`` ones are Nova's own, validated
#: by Nova; ``hw:cpu_model`` and ``hw:firmware_type`` mirror the image properties
#: ``hw_cpu_model`` and ``hw_firmware_type`` for clouds that set them on flavors).
_NOVA_SPECS = {
    "hw:cpu_model": "cpu.model-name",
    "hw:tpm_version": "tpm.version",
    "hw:firmware_type": "boot.method",
    "hw:numa_nodes": "system.numa-nodes",
    "hw:cpu_sockets": "cpu.sockets",
    "hw:cpu_threads": "cpu.threads-per-core",
    "hw:mem_encryption": "virtualization.confidential",
    "hw:viommu_model": "iommu.model-name",
}
#: Traits that say the guest gets a CPU flag (``trait:HW_CPU_X86_AVX2=required``).
_CPU_TRAIT = re.compile(r"trait:HW_CPU_(?:X86|AARCH64|PPC64LE|S390X)_(?P<flag>[A-Z0-9_]+)")
#: Flags of hardware-assisted virtualisation: a guest with one can run nested guests.
_VIRT_FLAGS = frozenset({"vmx", "svm"})
_OWN_PREFIX = "virtprov:"


def from_nova_extra_specs(specs: Mapping[str, str]) -> dict[str, str]:
    """Declared properties from a Nova flavor's extra specs, as ``Flavor.properties`` text.

    * ``virtprov:<property>`` declares any property directly (``virtprov:cpu.flag=vmx``);
      Nova accepts extra specs in namespaces it does not know;
    * ``trait:HW_CPU_X86_<FLAG>=required`` declares the CPU flag (lower case), and
      ``VMX``/``SVM`` also ``virtualization.is-supported``;
    * ``trait:COMPUTE_SECURITY_TPM_2_0=required`` (or ``_1_2``) declares ``tpm.version``;
    * ``hw:tpm_version``, ``hw:cpu_model``, ``hw:firmware_type``, ``hw:numa_nodes``,
      ``hw:cpu_sockets``, ``hw:cpu_threads``, ``hw:mem_encryption``, ``hw:viommu_model``
      declare what they name;
    * ``os:secure_boot=required`` declares ``boot.method`` uefi.

    A ``virtprov:`` declaration wins over one derived from another spec.
    """
    derived: dict[str, str] = {}
    flags: list[str] = []
    for key, raw in specs.items():
        value = str(raw).strip()
        target = _NOVA_SPECS.get(key)
        if target is not None:
            if key == "hw:viommu_model":
                derived["iommu.is-supported"] = "true"
            derived[target] = value.lower() if target == "boot.method" else value
            continue
        required = value.lower() == "required"
        match = _CPU_TRAIT.fullmatch(key)
        if match is not None and required:
            flags.append(match["flag"].lower())
        elif key in ("trait:COMPUTE_SECURITY_TPM_2_0", "trait:COMPUTE_SECURITY_TPM_1_2"):
            if required:
                derived["tpm.version"] = "2.0" if key.endswith("2_0") else "1.2"
        elif key == "os:secure_boot" and required:
            derived["boot.method"] = "uefi"
    if flags:
        derived["cpu.flag"] = " ".join(flags)
        if _VIRT_FLAGS & set(flags):
            derived["virtualization.is-supported"] = "true"
    for key, raw in specs.items():
        if key.startswith(_OWN_PREFIX):
            derived[key.removeprefix(_OWN_PREFIX)] = str(raw)
    return derived
