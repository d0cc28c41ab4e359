"""tmt ``hardware:`` requirements written as Beaker's ``<hostRequires/>``.

A scheduler that falls back to the hardware pool hands Beaker a ``<hostRequires/>``. Each
key becomes the element of the same requirement in the one table of both languages
(:mod:`~virtprov.hostrequires.semantics`), close to what tmt's own Beaker plugin sends
(``tmt/steps/provision/mrack.py``), and written only with what Beaker's server implements
for that element (``Server/bkr/server/needpropertyxml.py``): the operators its class
honours (``like`` nowhere it casts the value with ``int()``/``float()`` or compares it in
Python; no operator where it ignores ``op``, so ``!=`` there is a ``<not>``), and values
it can read (whole MiB for memory, whole bytes for disks, four hex digits for PCI ids).
virtprov reads the result as it reads the tmt document: ``check`` gives both the same
verdict and the same flavors, except where a note says what was written weaker or left
out. Each note names the key, its line and why.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from fractions import Fraction

import attrs
from lxml import etree

from virtprov.hostrequires import semantics as S
from virtprov.hostrequires.quantities import Span
from virtprov.hostrequires.tmt import Group, Requirement, TmtDocument
from virtprov.model import MiB


@attrs.frozen
class Conversion:
    """The ``<hostRequires/>`` text; a note per requirement it writes weaker than tmt's
    (or leaves out); and what reading the tmt document warned about."""

    xml: str
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def lossless(self) -> bool:
        """Whether virtprov judges the XML as it judges the tmt document (no note)."""
        return not self.notes


#: tmt keys with no element of their own meaning, written as the element tmt's Beaker
#: plugin uses, with what that changes: (level, tag, attribute, why it is weaker).
_NEAREST: dict[str, tuple[str, str, str, str]] = {
    "disk[N].size": (
        "disk",
        "size",
        "value",
        "Beaker has no per-disk index: any disk of the system may meet it (virtprov judges "
        "<disk><size> by the root disk)",
    ),
    "disk[N].model-name": ("disk", "model", "value", "{absent}"),
    "disk[N].logical-sector-size": ("disk", "sector_size", "value", "{absent}"),
    "disk[N].physical-sector-size": ("disk", "phys_sector_size", "value", "{absent}"),
    "disk[N].driver": ("host", "key_value[BOOTDISK]", "value", "{absent}"),
    "device.driver": ("host", "key_value[MODULE]", "value", "{absent}"),
    "device.device": ("host", "device", "device_id", "{absent}"),
    "device.vendor": ("host", "device", "vendor_id", "{absent}"),
    "device.device-name": ("host", "device", "description", "{absent}"),
}
_ABSENT = (
    "written as {element}, which virtprov judges as what no VM has (a flavor declaring "
    "{name} meets only the tmt requirement)"
)
#: PCI ids are four hex digits in Beaker's inventory (Device.vendor_id is String(4)).
_HEX_ATTRIBUTES = frozenset({"device_id", "vendor_id"})
_INDEX = re.compile(r"\[[0-9]+\]")
#: Characters XML may hold but a terminal acts on: C1 controls, DEL, bidirectional marks.
_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
# A regular expression with an exact LIKE equivalent: literals, '.', '.*', '.+', '^', '$'.
_SIMPLE_REGEX = re.compile(r"\^?(?:[^\\.*+?()\[\]{}|^$]|\.\*|\.\+|\.)*\$?")
_CONTAINERS = {"host": (), "system": ("system",), "cpu": ("cpu",), "disk": ("disk",)}


class _Dropped:
    """A requirement written as nothing: any system meets it in the XML (noted)."""


_DROPPED = _Dropped()
_Written = etree._Element | _Dropped


class _Writer:
    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, req: Requirement | Group, why: str) -> None:
        self.notes.append(f"{req.loc}: {why}")

    def item(self, item: Requirement | Group) -> _Written:
        if isinstance(item, Requirement):
            return self.requirement(item)
        if not item.any:
            element = etree.Element("and")
            for child in item.children:
                written = self.item(child)
                if isinstance(written, etree._Element):
                    element.append(written)
            if item.children and not len(element):
                return _DROPPED  # all of it left out: any system meets it
            return element
        branches = [self.item(child) for child in item.children]
        if any(branch is _DROPPED for branch in branches):
            # a branch any system meets makes the whole <or> one: weaker, never stricter
            self.note(item, "left out, since one of its alternatives could not be written")
            return _DROPPED
        element = etree.Element("or")
        for branch in branches:
            assert isinstance(branch, etree._Element)
            element.append(branch)
        return element

    def requirement(self, req: Requirement) -> _Written:
        feature = S.feature_of_tmt(req.key)
        kind = req.spec.kind
        if kind == S.VIRTUALIZED:
            virtual = req.value == (req.op == "=")
            return _nest(("system",), _leaf("hypervisor", "!=" if virtual else "==", ""))
        if kind == S.IGNORED:
            self.note(req, "a Beaker run option, not a host filter: set it on the recipe")
            return _DROPPED
        forms = S.xml_forms(feature)
        caveat = ""
        if forms:
            level, tag, form = forms[0]
            attribute = "value"
        elif feature in _NEAREST:
            level, tag, attribute, caveat = _NEAREST[feature]
            element = f"<{tag}>" if attribute == "value" else f"<{tag} {attribute}>"
            name = _INDEX.sub("[N]", req.key)
            caveat = caveat.format(absent=_ABSENT.format(element=element, name=name))
            # the element's own form: what Beaker's server implements on it
            form = S.OTHER_KEY_VALUE if tag.startswith("key_value[") else S.XML[level][tag]
        else:
            self.note(req, "Beaker has no equivalent; left out")
            return _DROPPED
        key = ""
        if tag.startswith("key_value["):
            tag, key = "key_value", tag[len("key_value[") : -1]
        written = self.leaf(req, form, tag, attribute)
        if isinstance(written, _Dropped):
            return written
        if key:  # the <key_value>, maybe inside a <not>
            _set_key(next(written.iter("key_value")), key)
        if caveat:
            self.note(req, caveat)
        return _nest(_CONTAINERS[level], written)

    def leaf(self, req: Requirement, form: S.XmlForm, tag: str, attribute: str) -> _Written:
        """The element of ``req`` (without its containers), as Beaker's server reads it."""
        if req.spec.kind == S.SIZE or isinstance(req.value, Span):
            return self.size(req, tag)
        if isinstance(req.value, bool):
            return self.flag(req, form, tag)
        op, value = req.op, req.raw
        if isinstance(req.value, int | Fraction):
            number = _number(req.value, attribute)
            if number is None:
                self.note(req, f"{req.value} is not a PCI id (four hex digits); left out")
                return _DROPPED
            value = number
            if req.value == 0 and attribute == "value":
                self.note(req, f"Beaker's server ignores a value of 0 on <{tag}>")
        negate = False
        if op in ("~", "!~"):
            negated = op == "!~"
            literal = _literal(req.raw)
            if literal is not None:  # anchored, no wildcard: (in)equality says it
                op, value = "!=" if negated else "=", literal
            elif "like" not in (form.beaker_ops or ()):
                self.note(req, f"Beaker's <{tag}> takes no pattern; left out")
                return _DROPPED
            else:
                op, value, negate = "like", _like(req.raw) or "", negated
                if not value:
                    value = req.raw.replace(".*", "%").replace(".+", "%")  # tmt's own
                    self.note(req, f"the regular expression is approximated as LIKE {value!r}")
                if negate and req.spec.kind == S.DECLARED:
                    self.note(req, _NEGATED_DECLARED.format(name=req.key))
        if op == "like":
            pass
        elif form.beaker_ops is None and op in ("=", "!="):  # Beaker reads = whatever op says
            negate, op = op == "!=", "="
        elif op not in (form.beaker_ops or ()):
            self.note(req, f"Beaker's <{tag}> does not implement op {op!r}; left out")
            return _DROPPED
        element = _leaf(tag, _op(op), value, attribute)
        return _nest(("not",), element) if negate else element

    def flag(self, req: Requirement, form: S.XmlForm, tag: str) -> _Written:
        wanted = req.value if req.op == "=" else not req.value
        if tag == "key_value":  # Beaker's inventory keeps these flags as 1 and 0
            return _leaf(tag, "==", "1" if wanted else "0")
        if form.beaker_ops is None and not wanted:
            # XmlCpuHyper only ever requires hyper-threading: "false" imposes nothing there
            self.note(
                req,
                "Beaker can only require it, so it is written as <not> of it, which a "
                f"flavor declaring no {req.key} also meets",
            )
            return _nest(("not",), _leaf(tag, "==", "true"))
        return _leaf(tag, "==", "true" if wanted else "false")

    def size(self, req: Requirement, tag: str) -> _Written:
        """Whole MiB (memory) or bytes (disks), bounds that mean the same to Beaker's
        ``int()`` and to virtprov: a decimal unit's span becomes its two ends."""
        value = req.value
        unit = MiB if tag == "memory" else 1
        if isinstance(value, int):  # vCPUs
            value = Span(Fraction(value))
        low = value.low / unit
        high = low if value.high is None else value.high / unit
        bounds: list[tuple[str, int]]
        op = req.op
        if op == "=" and low == high and low.denominator == 1:
            bounds = [("=", low.numerator)]
        elif op == "!=" and low == high and low.denominator == 1:
            bounds = [("!=", low.numerator)]
        elif op in ("=", "!="):
            first, last = math.ceil(low), math.floor(high)
            if first > last:  # no whole size is it (7629.5 MiB): none is =, every one !=
                return etree.Element("and") if op == "!=" else _no_size(tag)
            if op == "=":
                bounds = [(">=", first), ("<=", last)]
            else:
                either = etree.Element("or")
                either.append(self.bound(tag, "<", first))
                either.append(self.bound(tag, ">", last))
                return either
        elif op in (">=", "<"):
            bounds = [(op, math.ceil(low))]
        else:
            bounds = [(op, math.floor(high))]
        if len(bounds) == 1:
            return self.bound(tag, *bounds[0])
        both = etree.Element("and")
        for bound in bounds:
            both.append(self.bound(tag, *bound))
        return both

    def bound(self, tag: str, op: str, value: int) -> etree._Element:
        if value < 0 or (value == 0 and op in (">=", "<")):
            # every size is >= 0: true of all of them, or of none
            return etree.Element("and") if op in (">=", ">", "!=") else _no_size(tag)
        if value == 0:
            # Beaker ignores a 0 (or missing) size: say the same with 1 (sizes are whole)
            op, value = {"=": "<", "<=": "<", "!=": ">=", ">": ">="}[op], 1
        return _leaf(tag, _op(op), str(value))


_NEGATED_DECLARED = (
    "written as <not> of the pattern, which a flavor declaring no {name} also meets "
    "(Beaker has no 'not like')"
)


def _no_size(tag: str) -> etree._Element:
    """A size no flavor has, still a size requirement (which a VM *could* meet, as tmt's
    own comparison counts): ``>= 1`` and ``< 1`` at once."""
    both = etree.Element("and")
    both.append(_leaf(tag, ">=", "1"))
    both.append(_leaf(tag, "<", "1"))
    return both


def _number(value: int | Fraction, attribute: str) -> str | None:
    if attribute in _HEX_ATTRIBUTES:
        if isinstance(value, Fraction) or not 0 <= value <= 0xFFFF:
            return None
        return format(value, "04x")
    if isinstance(value, int) or value.denominator == 1:
        return str(int(value))
    return _decimal(value)


def _decimal(value: Fraction) -> str:
    """The exact decimal digits of a fraction that has them (tmt's quantities do)."""
    for places in range(1, 31):
        scaled = value * 10**places
        if scaled.denominator == 1:
            whole, fraction = divmod(abs(scaled.numerator), 10**places)
            sign = "-" if value < 0 else ""
            return f"{sign}{whole}.{fraction:0{places}d}".rstrip("0")
    return format(float(value), "g")


def _set_key(element: etree._Element, key: str) -> None:
    # key= first, as Beaker's documentation writes <key_value key="..." op=... value=.../>
    attributes = {str(name): str(text) for name, text in element.attrib.items()}
    element.attrib.clear()
    element.set("key", key)
    for name, text in attributes.items():
        element.set(name, text)


def _op(op: str) -> str:
    return "==" if op == "=" else op


def _leaf(tag: str, op: str, value: str, attribute: str = "value") -> etree._Element:
    element = etree.Element(tag)
    element.set("op", op)
    element.set(attribute, value)
    return element


def _nest(containers: tuple[str, ...], element: etree._Element) -> etree._Element:
    if element.tag == "and" and containers:
        if not len(element):
            return element  # every system: an empty <disk/> would ask for some disk
        outer = etree.Element(containers[-1])  # the <and>'s children, straight in it
        outer.extend(list(element))
        containers, element = containers[:-1], outer
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


def _literal(regex: str) -> str | None:
    """The text a regular expression matches exactly, if it is one (``^x86_64$``)."""
    if _SIMPLE_REGEX.fullmatch(regex) is None or not regex.endswith("$"):
        return None
    body = regex.removeprefix("^").removesuffix("$")
    return None if "." in body or not body else body


def _document(document: TmtDocument) -> tuple[etree._Element, list[str]]:
    writer = _Writer()
    root = etree.Element("hostRequires")
    written = writer.item(document.root)
    if isinstance(written, etree._Element):
        # the top-level block's requirements, straight into <hostRequires> (an <and>)
        if written.tag == "and":
            for child in list(written):
                root.append(child)
        else:
            root.append(written)
    return root, writer.notes


def _text(root: etree._Element) -> str:
    etree.indent(root, space="  ")
    xml = etree.tostring(root, encoding="unicode")
    # As character references, the same XML, and nothing a terminal would act on.
    return _UNSAFE.sub(lambda found: f"&#x{ord(found.group()):x};", xml) + "\n"


def to_hostrequires(document: TmtDocument) -> Conversion:
    """Write a read tmt document as ``<hostRequires/>``."""
    root, notes = _document(document)
    return Conversion(_text(root), tuple(notes), document.warnings)


def phase_label(name: str | None, position: int) -> str:
    """``phase NAME`` (or ``phase #N``), as ``check`` names a plan's phases."""
    return f"phase {name}" if name else f"phase #{position}"


def comment_text(text: str) -> str:
    """``text`` fit for an XML comment: the name is the user's, and ``--`` would end it."""
    return re.sub("-(?=-)", "- ", text).removesuffix("-") or "-"


def to_recipe_set(phases: Sequence[tuple[str | None, TmtDocument]]) -> Conversion:
    """Several provision phases (a multi-host plan) as one ``<recipeSet>``: a ``<recipe>``
    per phase, in order, each with its ``<hostRequires/>`` and the phase's name as its
    whiteboard, which ``virtprov check`` reads back as a job, recipe by recipe. Notes and
    warnings name their phase."""
    recipe_set = etree.Element("recipeSet")
    notes: list[str] = []
    warnings: dict[str, None] = {}  # a plan's own warnings are each phase's: once
    for position, (name, document) in enumerate(phases, start=1):
        label = phase_label(name, position)
        recipe_set.append(etree.Comment(f" provision {comment_text(label)} "))
        recipe = etree.SubElement(recipe_set, "recipe")
        if name:
            recipe.set("whiteboard", name)
        root, written = _document(document)
        recipe.append(root)
        notes += [f"{label}: {note}" for note in written]
        warnings.update(dict.fromkeys(document.warnings))
    return Conversion(_text(recipe_set), tuple(notes), tuple(warnings))
