"""tmt ``hardware:`` requirements written as Beaker's ``<hostRequires/>``.

A scheduler that falls back to the hardware pool hands Beaker a ``<hostRequires/>``. The
element per key follows what tmt's own Beaker plugin sends (``tmt/steps/provision/
mrack.py``), with three corrections so that virtprov judges the two documents alike:

* a size that is not a whole number of MiB (``memory: 8 GB``) is rounded the way that
  keeps the comparison exact (``>= 7629.39`` is ``>= 7630``); ``=`` to it matches nothing;
* hypervisor names compare ignoring case, as tmt's Beaker plugin relies on MySQL doing:
  written with ``like`` (case-insensitive everywhere) instead of ``==``;
* a regular expression becomes a ``like`` pattern only when it has an exact one (``.``,
  ``.*``, ``.+``, anchors); otherwise tmt's own approximation is written, with a note.

Keys Beaker has no element for are left out, each with a note naming it.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

import attrs
from lxml import etree

from virtprov.hostrequires import tmt as T
from virtprov.hostrequires.tmt import Group, Requirement, TmtDocument
from virtprov.model import MiB


@attrs.frozen
class Conversion:
    """The ``<hostRequires/>`` text, and a note per key it could not (exactly) express."""

    xml: str
    notes: tuple[str, ...] = ()


# key -> (container elements, element, attribute holding the value, extra attributes)
_ELEMENTS: dict[str, tuple[tuple[str, ...], str, str, dict[str, str]]] = {
    "arch": (("system",), "arch", "value", {}),
    "hostname": ((), "hostname", "value", {}),
    "beaker.pool": ((), "pool", "value", {}),
    "location.lab-controller": ((), "labcontroller", "value", {}),
    "system.type": (("system",), "type", "value", {}),
    "system.vendor-name": (("system",), "vendor", "value", {}),
    "system.model-name": (("system",), "model", "value", {}),
    "system.numa-nodes": (("system",), "numanodes", "value", {}),
    "cpu.processors": (("cpu",), "processors", "value", {}),
    "cpu.cores": (("cpu",), "cores", "value", {}),
    "cpu.family": (("cpu",), "family", "value", {}),
    "cpu.model": (("cpu",), "model", "value", {}),
    "cpu.stepping": (("cpu",), "stepping", "value", {}),
    "cpu.sockets": (("cpu",), "sockets", "value", {}),
    "cpu.model-name": (("cpu",), "model_name", "value", {}),
    "cpu.vendor-name": (("cpu",), "vendor", "value", {}),
    "cpu.flag": (("cpu",), "flag", "value", {}),
    "cpu.frequency": (("cpu",), "speed", "value", {}),
    "cpu.hyper-threading": (("cpu",), "hyper", "value", {}),
    "tpm.version": ((), "key_value", "value", {"key": "TPM"}),
    "zcrypt.adapter": ((), "key_value", "value", {"key": "ZCRYPT_MODEL"}),
    "zcrypt.mode": ((), "key_value", "value", {"key": "ZCRYPT_MODE"}),
    "device.driver": ((), "key_value", "value", {"key": "MODULE"}),
    "device.device": ((), "device", "device_id", {}),
    "device.vendor": ((), "device", "vendor_id", {}),
    "device.device-name": ((), "device", "description", {}),
    "disk.model-name": (("disk",), "model", "value", {}),
    "disk.driver": ((), "key_value", "value", {"key": "BOOTDISK"}),
    "disk.logical-sector-size": (("disk",), "sector_size", "value", {}),
    "disk.physical-sector-size": (("disk",), "phys_sector_size", "value", {}),
}
_FLAG_KEYS = {"virtualization.is-supported": "HVM", "iommu.is-supported": "VIRT_IOMMU"}
_INDEX = re.compile(r"\[[0-9]+\]")
#: Characters XML may hold but a terminal acts on: C1 controls, DEL, bidirectional marks.
_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
# A regular expression with an exact LIKE equivalent: literals, '.', '.*', '.+', '^', '$'.
_SIMPLE_REGEX = re.compile(r"\^?(?:[^\\.*+?()\[\]{}|^$]|\.\*|\.\+|\.)*\$?")


class _Writer:
    def __init__(self) -> None:
        self.notes: list[str] = []

    def group(self, group: Group, parent: etree._Element) -> None:
        for child in group.children:
            if isinstance(child, Group):
                element = etree.SubElement(parent, "or" if child.any else "and")
                self.group(child, element)
            else:
                self.requirement(child, parent)

    def requirement(self, req: Requirement, parent: etree._Element) -> None:
        element = self.element(req)
        if element is not None:
            parent.append(element)

    def note(self, req: Requirement, why: str) -> None:
        self.notes.append(f"{req.loc}: {why}")

    def element(self, req: Requirement) -> etree._Element | None:
        means, key = req.spec.means, _INDEX.sub("", req.key)
        if means == T.RAM:
            return self.size(req, ("system",), "memory", Fraction(req.value) / MiB)
        if means == T.ROOT_DISK:
            return self.size(req, ("disk",), "size", Fraction(req.value))
        if means == T.VCPUS:
            return self.size(req, ("cpu",), key.removeprefix("cpu."), Fraction(req.value))
        if key == "disk.size":
            self.note(req, "Beaker has no per-disk index: any disk of the system may meet it")
            return self.size(req, ("disk",), "size", Fraction(req.value))
        if means == T.VIRTUALIZED:
            virtual = req.value == (req.op == "=")
            return _nest(("system",), _leaf("hypervisor", "!=" if virtual else "==", ""))
        if means == T.HYPERVISOR:
            return self.text(req, ("system",), "hypervisor", "value", {}, ignore_case=True)
        if means == T.IGNORED:
            self.note(req, "a Beaker run option, not a host filter: set it on the recipe")
            return None
        if key in _FLAG_KEYS:
            value = req.value if req.op == "=" else not req.value
            return _leaf("key_value", "==", "1" if value else "0", key=_FLAG_KEYS[key])
        spec = _ELEMENTS.get(key)
        if spec is None:
            self.note(req, "Beaker has no equivalent; left out")
            return None
        containers, tag, attribute, extra = spec
        if req.key.startswith("disk[") and not req.key.startswith("disk[0]"):
            self.note(req, "Beaker has no per-disk index: any disk of the system may meet it")
        if isinstance(req.value, bool):
            op = "==" if req.op == "=" else "!="
            return _nest(containers, _leaf(tag, op, "true" if req.value else "false", **extra))
        if isinstance(req.value, int | Fraction) and not isinstance(req.value, bool):
            number = req.value
            text = str(number if isinstance(number, int) else _decimal(number))
            return _nest(containers, _leaf(tag, _op(req.op), text, attribute, **extra))
        return self.text(req, containers, tag, attribute, extra)

    def size(
        self, req: Requirement, containers: tuple[str, ...], tag: str, value: Fraction
    ) -> etree._Element:
        op = req.op
        if value.denominator != 1:
            # keep the comparison exact with a whole number of the element's unit
            if op in (">=", ">"):
                op, value = ">=", Fraction(math.ceil(value))
            elif op in ("<=", "<"):
                op, value = "<=", Fraction(math.floor(value))
            else:
                self.note(req, f"no whole number of {_unit(tag)} is {req.op} {float(value)}")
                return etree.Element("and") if op == "!=" else _no_size(containers, tag)
        if value == 0:
            # Beaker ignores a 0 (or missing) size; say the same with 1 (sizes are whole)
            if op in (">=", "<"):
                return etree.Element("and") if op == ">=" else _no_size(containers, tag)
            op, value = {"=": "<", "<=": "<", "!=": ">=", ">": ">="}[op], Fraction(1)
        return _nest(containers, _leaf(tag, _op(op), str(value.numerator)))

    def text(
        self,
        req: Requirement,
        containers: tuple[str, ...],
        tag: str,
        attribute: str,
        extra: dict[str, str],
        *,
        ignore_case: bool = False,
    ) -> etree._Element:
        op, negate = req.op, False
        if op in ("~", "!~"):
            negate = op == "!~"
            pattern = _like(req.raw)
            if pattern is None:
                pattern = req.raw.replace(".*", "%").replace(".+", "%")  # tmt's own
                self.note(req, f"the regular expression is approximated as LIKE {pattern!r}")
            element = _leaf(tag, "like", pattern, attribute, **extra)
        elif ignore_case:
            negate = op == "!="
            element = _leaf(tag, "like", _escape_like(req.raw), attribute, **extra)
        else:
            element = _leaf(tag, _op(op), req.raw, attribute, **extra)
        element = _nest(containers, element)
        return _nest(("not",), element) if negate else element


def _no_size(containers: tuple[str, ...], tag: str) -> etree._Element:
    """A size no flavor has, still a size requirement (which a VM *could* meet, as tmt's
    own comparison counts): ``>= 1`` and ``< 1`` at once."""
    both = etree.Element("and")
    both.append(_nest(containers, _leaf(tag, ">=", "1")))
    both.append(_nest(containers, _leaf(tag, "<", "1")))
    return both


def _op(op: str) -> str:
    return "==" if op == "=" else op


def _unit(tag: str) -> str:
    return "MiB" if tag == "memory" else "bytes"


def _decimal(value: Fraction) -> str:
    return format(float(value), "g")


def _leaf(tag: str, op: str, value: str, attribute: str = "value", **extra: str) -> etree._Element:
    element = etree.Element(tag)
    for name, text in extra.items():
        element.set(name, text)
    element.set("op", op)
    element.set(attribute, value)
    return element


def _nest(containers: tuple[str, ...], element: etree._Element) -> etree._Element:
    for tag in reversed(containers):
        outer = etree.Element(tag)
        outer.append(element)
        element = outer
    return element


def _escape_like(text: str) -> str:
    return re.sub(r"([\\%_])", r"\\\1", text)


def _like(regex: str) -> str | None:
    """The exact LIKE pattern of a tmt regular expression (matched at the start)."""
    if _SIMPLE_REGEX.fullmatch(regex) is None:
        return None
    body = regex.removeprefix("^")
    anchored = body.endswith("$")
    body = body.removesuffix("$")
    out = []
    index = 0
    while index < len(body):
        if body.startswith(".*", index):
            out.append("%")
            index += 2
        elif body.startswith(".+", index):
            out.append("_%")
            index += 2
        elif body[index] == ".":
            out.append("_")
            index += 1
        else:
            out.append(_escape_like(body[index]))
            index += 1
    pattern = "".join(out)
    return pattern if anchored or pattern.endswith("%") else pattern + "%"


def to_hostrequires(document: TmtDocument) -> Conversion:
    """Write a read tmt document as ``<hostRequires/>``."""
    writer = _Writer()
    root = etree.Element("hostRequires")
    top = document.root
    if top.any:
        writer.group(Group(False, (top,), top.path, top.line), root)
    else:
        writer.group(top, root)
    etree.indent(root, space="  ")
    xml = etree.tostring(root, encoding="unicode")
    # As character references, the same XML, and nothing a terminal would act on.
    xml = _UNSAFE.sub(lambda found: f"&#x{ord(found.group()):x};", xml)
    return Conversion(xml + "\n", tuple(writer.notes))
