"""Safe parsing of ``<hostRequires/>`` (and whole Beaker jobs) into the compiled form.

Job XML comes from every user of a lab, so the parser is configured for hostile input:
no DTD is loaded, no entity is expanded or fetched, no network access, libxml2's own
limits stay on (``huge_tree`` off), a resolver refuses whatever libxml2 still asks for,
and every document is read as UTF-8. Before parsing, a document with a ``DOCTYPE`` or
entity declaration, or declaring an encoding but UTF-8, is refused outright. On top of
that virtprov caps the size, the depth, the number of elements, the length of values,
the digits of numbers and the ``like`` patterns itself, so that a bad document costs
microseconds, not the scheduler.
"""

from __future__ import annotations

import copy
import os
import re
import sys
import threading
from fractions import Fraction
from types import ModuleType
from typing import Any, NoReturn, cast

from lxml import etree

from virtprov.errors import HostRequiresError
from virtprov.hostrequires import elements as E
from virtprov.hostrequires import program as P
from virtprov.hostrequires.compiled import (
    DEPENDS,
    YES,
    AllOf,
    AnyOf,
    ArchTest,
    DeclaredTest,
    Loc,
    Node,
    NoneOf,
    SizeTest,
    TargetTest,
    Unsatisfiable,
    always,
    describe,
    like_pattern,
)
from virtprov.hostrequires.document import HostRequires, RecipeRequires
from virtprov.hostrequires.patterns import (
    MAX_PATTERN_CHARACTERS,
    MAX_PATTERN_LENGTH,
    MAX_PATTERNS,
    Budget,
    Pattern,
)
from virtprov.hostrequires.properties import kind_of
from virtprov.hostrequires.units import (
    BINARY_TWINS,
    BYTE_UNITS,
    MAX_DIGITS,
    byte_multiplier,
    parse_decimal,
    parse_integer,
)
from virtprov.printable import excerpt, printable

#: A recipe's ``<hostRequires/>`` is a few hundred bytes; a whole job rarely a megabyte.
MAX_BYTES = 1024 * 1024
MAX_JOB_BYTES = 8 * 1024 * 1024
#: Nesting below ``<hostRequires>``; real documents stay under 10.
MAX_DEPTH = 64
#: Elements in one ``<hostRequires>``; real documents have a few dozen (the largest seen,
#: listing systems to avoid, a few hundred). Reasons for a flavor walk them all.
MAX_ELEMENTS = 1_000
#: Characters in one attribute value (an FQDN has at most 253); checked before a value
#: is read, and so that a reason, which quotes its element, never decodes a megabyte.
MAX_VALUE_LENGTH = 4096

#: Root tags that make a document a Beaker job rather than a host filter.
JOB_TAGS = frozenset({"job", "recipeSet", "recipe"})

_OPERATORS = {
    "=": "=",
    "==": "=",
    "!=": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
    "like": "like",
}
_NOT_UTF8 = (b"\xfe\xff", b"\xff\xfe", b"\x4c\x6f\xa7\x94")
_BOM = b"\xef\xbb\xbf"
_DECLARATIONS = (b"<?xml", _BOM + b"<?xml")
#: The encodings a document may declare: UTF-8, and ASCII (which is UTF-8). Any other
#: is refused before parsing: a declared UTF-7 or UTF-16 would hide a DOCTYPE from the
#: byte scan below, and documents are read as UTF-8 whatever they declare.
ACCEPTED_ENCODINGS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_ENCODING = re.compile(rb"""\sencoding\s*=\s*(["'])([^"']{0,40})\1""")
_UNKNOWN = E.Element(E.AND)
_local = threading.local()


class _Refused(Exception):
    """libxml2 asked for an external resource (a DTD, an entity): nothing is ever loaded."""


class _RefuseAll(etree.Resolver):
    def resolve(self, system_url: str, public_id: str, context: object = None) -> NoReturn:
        raise _Refused(system_url)


def _parser() -> etree.XMLParser:
    """This thread's parser (lxml parsers must not be shared between threads)."""
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _safe_parser()
        _local.parser = parser
    return parser


def _safe_parser() -> etree.XMLParser:
    # Read as UTF-8 whatever the document declares, load and expand nothing, reach no
    # network, keep libxml2's limits; and should libxml2 still ask for a resource (it
    # does for an external DTD, load_dtd=False or not), refuse it.
    parser = etree.XMLParser(
        encoding="utf-8",
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        no_network=True,
        huge_tree=False,
        collect_ids=False,
    )
    parser.resolvers.add(_RefuseAll())
    return parser


def _line(el: etree._Element) -> int | None:
    return cast("int | None", el.sourceline)  # lxml-stubs type it oddly


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _unknown_op(written: str | None) -> str:
    shown = "None" if written is None else f"'{excerpt(written, 20)}'"
    return f"unknown op {shown} (use one of =, ==, !=, <, <=, >, >=, like)"


def _check_values(el: etree._Element) -> None:
    for name, value in el.items():
        if len(value) > MAX_VALUE_LENGTH:
            raise _Compiler.error(
                el,
                f"{cast(str, name)}= of {len(value)} characters is over the limit of "
                f"{MAX_VALUE_LENGTH}",
            )


def _like(el: etree._Element, text: str) -> Pattern:
    """The compiled ``like`` pattern of element ``el``; a located error when too long."""
    try:
        return like_pattern(text)
    except ValueError as exc:
        raise _Compiler.error(el, str(exc)) from None


def _xml_flag(text: str) -> bool:
    # Beaker's inventory writes booleans as True/False or 1/0.
    return text.strip().lower() in ("true", "1", "yes")


def _declared_text(value_type: str, text: str) -> Any:
    """A text-written declared requirement's value (a word, or a flag)."""
    return _xml_flag(text) if value_type == E.BOOLEAN else text


def _declared_number(value_type: str, value: str, number: float) -> int | Fraction:
    """A number-written declared requirement's value, exact (``<speed>`` is decimal MHz).

    ``value`` was read by :func:`~virtprov.hostrequires.units.parse_decimal`, which caps
    its digits and exponent: the exact fraction stays small.
    """
    if value_type == E.DECIMAL and not isinstance(number, int):
        return Fraction(value.strip())
    return int(number)


def _declared_encoding(data: bytes) -> str | None:
    """The encoding an XML declaration at the start of ``data`` names, if any."""
    head = data[len(_BOM) :] if data.startswith(_BOM) else data
    if not head.startswith(b"<?xml"):
        return None
    end = head.find(b"?>", 0, 200)
    found = _ENCODING.search(head, 0, end if end >= 0 else 200)
    return found[2].decode("ascii", "replace") if found else None


def _as_bytes(text: object, max_bytes: int) -> bytes:
    """The document as UTF-8 bytes, its size checked before anything is copied."""
    if text.__class__ is bytes:  # the usual case (a scheduler's, the CLI's), first
        data: bytes = text
    elif isinstance(text, str):
        if str.__len__(text) > max_bytes:  # before encoding: never shorter in UTF-8
            raise HostRequiresError(
                f"document of {str.__len__(text)} characters is over the limit of {max_bytes} bytes"
            )
        data = str.encode(text, "utf-8", "surrogatepass")
    elif isinstance(text, bytes | bytearray | memoryview):
        size = memoryview(text).nbytes
        if size > max_bytes:
            raise HostRequiresError(
                f"document of {size} bytes is over the limit of {max_bytes} bytes"
            )
        data = bytes(text)
    else:
        raise HostRequiresError(
            f"expected the document as text (str or bytes), got {type(text).__name__}"
        )
    if len(data) > max_bytes:
        raise HostRequiresError(
            f"document of {len(data)} bytes is over the limit of {max_bytes} bytes"
        )
    return data


def load_xml(text: str | bytes, *, max_bytes: int = MAX_BYTES) -> etree._Element:
    """Parse untrusted XML safely; :class:`HostRequiresError` for anything refused."""
    data = _as_bytes(text, max_bytes)
    # UTF-16 and UCS-4 (NULs or a BOM), EBCDIC ("<?xm" in it)
    if data.find(b"\x00", 0, 4) >= 0 or data.startswith(_NOT_UTF8):
        raise HostRequiresError("only UTF-8 (or ASCII-compatible) documents are accepted")
    if data.startswith(_DECLARATIONS) and not isinstance(text, str):
        # a str was decoded already: what it declares is moot
        encoding = _declared_encoding(data)
        if encoding is not None and encoding.lower() not in ACCEPTED_ENCODINGS:
            raise HostRequiresError(
                f"the document declares encoding '{excerpt(encoding, 40)}': only UTF-8 is "
                'accepted (convert it to UTF-8 and declare encoding="UTF-8")',
                line=1,
            )
    for marker in (b"<!DOCTYPE", b"<!ENTITY"):
        offset = data.find(marker)
        if offset >= 0:
            raise HostRequiresError(
                "DOCTYPE and entity declarations are not accepted in job XML",
                line=_line_of(data, offset),
            )
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        if not data.strip():
            raise HostRequiresError("empty document") from None
        line, column = exc.position
        message = exc.msg or "not well-formed"
        if "Excessive depth" in message:
            message = "elements nested too deep"
        raise HostRequiresError(
            f"not well-formed XML: {excerpt(message, 200)}",
            line=line or None,
            column=column or None,
        ) from None
    except _Refused as exc:
        raise HostRequiresError(
            f"the document refers to an external resource ('{excerpt(str(exc), 80)}'); "
            "nothing is loaded"
        ) from None
    except (ValueError, LookupError) as exc:
        raise HostRequiresError(f"cannot read the document: {excerpt(str(exc), 200)}") from None
    # Defence in depth: no declared encoding can bring a DTD past the scan above.
    if data.startswith(_DECLARATIONS) and root.getroottree().docinfo.internalDTD is not None:
        raise HostRequiresError("DOCTYPE and entity declarations are not accepted in job XML")
    return root


class _Compiler:
    """Turns one ``<hostRequires>`` element tree into compiled nodes.

    Nodes keep their element as location: messages are rendered only when asked for, so
    compiling costs a handful of operations per element.
    """

    __slots__ = ("elements", "lab_locs", "max_depth", "max_elements", "warnings")

    def __init__(self, max_depth: int, max_elements: int) -> None:
        self.max_depth = max_depth
        self.max_elements = max_elements
        self.elements = 0
        self.warnings: list[str] = []
        self.lab_locs: list[etree._Element] = []

    @staticmethod
    def error(el: etree._Element, message: str) -> HostRequiresError:
        return HostRequiresError(printable(message), line=_line(el), element=str(el.tag))

    def children(self, el: etree._Element, level: str, depth: int) -> tuple[Node, ...]:
        if depth > self.max_depth:
            raise self.error(el, f"nested deeper than {self.max_depth} levels")
        vocabulary = E.LEVELS[level]
        nodes: list[Node] = []
        append = nodes.append
        for child in el:
            tag = child.tag
            if tag.__class__ is not str:  # comments, processing instructions
                continue
            self.elements += 1
            if self.elements > self.max_elements:
                raise self.error(child, f"more than {self.max_elements} elements")
            spec = vocabulary.get(tag)
            if spec is None:
                spec = _UNKNOWN
                self.warnings.append(
                    f"{describe(child)}: not an element Beaker knows inside "
                    f"{E.LEVEL_NAMES[level]}; treated as <and> (as Beaker does)"
                )
            kind, arg, value_type, inner = spec
            if kind is E.KEY_VALUE:
                spec = E.key_value(child.get("key"))
                kind, arg, value_type, inner = spec
            if kind is E.AND:
                append(AllOf(self.children(child, inner or level, depth + 1), child))
            elif kind is E.OR:
                append(AnyOf(self.children(child, level, depth + 1), child))
            elif kind is E.NOT:
                append(NoneOf(self.children(child, level, depth + 1), child))
            else:
                written = child.get("op")
                op = "=" if written is None else _OPERATORS.get(written)
                if op is None:
                    raise self.error(child, _unknown_op(written))
                value = child.get("value")
                if value_type is not E.TEXT and value_type is not E.BOOLEAN:
                    append(self.number(child, spec, op, value))
                    continue
                text = value or ""
                wanted = op == "like" and kind is not E.NEVER
                pattern = _like(child, text) if wanted else None
                if kind is E.TARGET:
                    if arg == "lab":
                        self.lab_locs.append(child)
                    append(TargetTest(arg, op, text, pattern, child))
                elif kind is E.ARCH:
                    append(ArchTest(op, text, pattern, child))
                elif kind is E.DECLARED:
                    typed = _declared_text(value_type, text)
                    append(DeclaredTest(arg, kind_of(arg) or "", op, typed, pattern, child))
                elif op == "!=":  # a new VM is not the system (pool, vendor...) named
                    append(always(child))
                else:
                    append(Unsatisfiable(arg, op, text, child))
        return tuple(nodes)

    def number(self, el: etree._Element, spec: E.Element, op: str, value: str | None) -> Node:
        if op == "like":
            raise self.error(el, "op 'like' compares text, and this element takes a number")
        number, high = _read_number(el, spec.value_type, value)
        if spec.kind is E.DECLARED and number is not None and value is not None:
            typed = _declared_number(spec.value_type, value, number)
            return DeclaredTest(spec.arg, kind_of(spec.arg) or "", op, typed, None, el)
        if spec.kind != E.SIZE:
            if spec.kind is E.NEVER and op == "!=":
                return always(el)  # a new VM is not the system named
            return Unsatisfiable(spec.arg, op, value or "", el)
        if not number:  # Beaker: a missing or zero value imposes nothing
            self.warnings.append(
                f"{describe(el)}: no value (or 0), so it imposes nothing (as in Beaker)"
            )
            return always(el)
        return SizeTest(spec.arg, op, int(number), el, high)


def _read_number(
    el: etree._Element, value_type: str, value: str | None
) -> tuple[float | None, int | None]:
    """The number an element's ``value`` (and ``units``) says, and for a size in a decimal
    unit the high end of its span (``units="GB"``: to the GiB; see semantics.py)."""
    number: float | None = None
    high: int | None = None
    try:
        if value is None or not value.strip():
            pass
        elif value.isascii() and value.isdigit() and len(value) <= MAX_DIGITS:
            number = int(value)  # the usual case, without a regex
        elif value_type == E.DECIMAL:
            number = parse_decimal(value)
        else:
            number = parse_integer(value)
        if value_type == E.BYTES:
            units = el.get("units")
            if units is not None:
                multiplier = byte_multiplier(units)
                if number is not None:
                    twin = BINARY_TWINS.get(units)
                    high = None if twin is None else int(number) * twin
                    number = number * multiplier
    except ValueError as exc:
        raise _Compiler.error(el, str(exc)) from None
    return number, high


# The vocabulary as dispatch tables for the compiler below. Per level, tag -> (what to do,
# the element's kind, its number type (None: text), and the level inside a container or
# the leaf's argument). What to do: a container's program kind (AND, OR, NOT), or one of:
_INTEGER_SIZE = 3  # a size written as an integer (memory, vCPUs): the common leaf
_TEXT = 4  # compared as text: target properties, arch, features a VM does not have
_NUMBER = 5  # any other number
_LIKE = P.LIKE
_CONTAINER_KINDS = {E.AND: P.AND, E.OR: P.OR, E.NOT: P.NOT}
_Entry = tuple[int, str, "str | None", str]


def _entry(spec: E.Element, level: str) -> _Entry:
    number = None if spec.value_type in (E.TEXT, E.BOOLEAN) else spec.value_type
    if spec.kind in _CONTAINER_KINDS:
        return (_CONTAINER_KINDS[spec.kind], spec.kind, number, spec.level or level)
    if number is None:
        what = _TEXT
        if spec.value_type is E.BOOLEAN:
            number = E.BOOLEAN  # read as a flag when declared (see _declared_text)
    elif spec.kind is E.SIZE and number is E.INTEGER:
        what = _INTEGER_SIZE
    else:
        what = _NUMBER
    return (what, spec.kind, number, spec.arg)


_TABLES: dict[str, dict[str, _Entry]] = {
    level: {tag: _entry(spec, level) for tag, spec in vocabulary.items()}
    for level, vocabulary in E.LEVELS.items()
}
_UNKNOWN_ENTRIES = {level: _entry(_UNKNOWN, level) for level in E.LEVELS}
_KEY_VALUE_ENTRIES = {key: _entry(spec, "host") for key, spec in E.KEY_VALUES.items()}
_NEVER_KEY_VALUE = _entry(E.key_value(None), "host")
_OP_TEXT: dict[str | None, str] = {None: "=", **dict(_OPERATORS.items())}
_OPCODES: dict[str | None, int] = {None: P.EQ, **{w: P.OPCODES[o] for w, o in _OPERATORS.items()}}


class _FastCompiler:
    """Compiles straight to the evaluation form (:mod:`~virtprov.hostrequires.program`).

    It checks and warns exactly as :class:`_Compiler` does, in the same order, but makes
    no object per element (the node tree for reasons is made from the element only when a
    reason is asked for) and folds as it goes (see :func:`program.fold_all`). This loop
    is most of what parsing costs beyond libxml2 itself: keep it flat.

    virtprov-speedups has the same walk in Cython (used when installed, see
    :data:`native`); a change here goes there too (docs/development.md).
    """

    __slots__ = (
        "budget",
        "counting",
        "elements",
        "lab_locs",
        "long_values",
        "max_depth",
        "max_elements",
        "warnings",
    )

    def __init__(
        self, max_depth: int, max_elements: int, counting: bool = True, long_values: bool = True
    ) -> None:
        self.max_depth = max_depth
        self.max_elements = max_elements
        #: False when the document cannot hold more elements than the cap
        self.counting = counting
        #: False when the document cannot hold a value over MAX_VALUE_LENGTH
        self.long_values = long_values
        self.elements = 0
        self.budget: Budget | None = None  # made on the first like pattern
        self.warnings: list[str] = []
        self.lab_locs: list[etree._Element] = []

    def walk(self, el: etree._Element, level: str, depth: int, container: int) -> P.Program:
        """The folded program of container ``el`` (``container``: AND, OR or NOT)."""
        if depth > self.max_depth:
            raise _Compiler.error(el, f"nested deeper than {self.max_depth} levels")
        table = _TABLES[level]
        counting = self.counting
        long_values = self.long_values
        any_of = container == P.OR
        kept: list[P.Program] = []  # the children that can change the answer
        decided = False  # a child decides alone: a FALSE in an <and>, a TRUE in an <or>
        dynamic = False  # a child depends on the target (static tri otherwise DEPENDS)
        for child in el:
            tag = child.tag
            if tag.__class__ is not str:  # comments, processing instructions
                continue
            if counting:
                self.elements += 1
                if self.elements > self.max_elements:
                    raise _Compiler.error(child, f"more than {self.max_elements} elements")
            if long_values:
                _check_values(child)
            entry = table.get(tag)
            if entry is None:
                entry = _UNKNOWN_ENTRIES[level]
                self.warnings.append(
                    f"{describe(child)}: not an element Beaker knows inside "
                    f"{E.LEVEL_NAMES[level]}; treated as <and> (as Beaker does)"
                )
            what, kind, number, name = entry
            if kind is E.KEY_VALUE:
                entry = _KEY_VALUE_ENTRIES.get(child.get("key") or "", _NEVER_KEY_VALUE)
                what, kind, number, name = entry
            if what < _INTEGER_SIZE:
                node = self.walk(child, name, depth + 1, what)
            else:
                written = child.get("op")
                op = _OPCODES.get(written)
                if op is None:
                    raise _Compiler.error(child, _unknown_op(written))
                value = child.get("value")
                if what == _INTEGER_SIZE and op != _LIKE and value and value.isdigit():
                    # the usual case, read as number() reads it, without the call
                    amount = int(value) if value.isascii() and len(value) <= MAX_DIGITS else 0
                    if amount:
                        kept.append((P.SIZE, DEPENDS, name, op, amount))
                        continue
                if what != _TEXT:
                    node = self.number(child, kind, number or "", name, op, value)
                elif kind is E.NEVER:  # a new VM is not the system (pool...) named
                    node = P.TRUE if op == P.NE else P.FALSE
                elif kind is E.DECLARED:
                    text = value or ""
                    pattern = self.like(child, text) if op == _LIKE else None
                    typed = _declared_text(number or E.TEXT, text)
                    dynamic = True
                    kept.append(
                        (P.DECLARED, None, name, kind_of(name), _OP_TEXT[written], typed, pattern)
                    )
                    continue
                else:
                    text = value or ""
                    pattern = self.like(child, text) if op == _LIKE else None
                    dynamic = True
                    if kind is E.TARGET:
                        if name == "lab":
                            self.lab_locs.append(child)
                        kept.append((P.TARGET, None, name, op, text, pattern))
                    else:
                        kept.append((P.ARCH, None, op, text, pattern))
                    continue
            if node[0] == P.CONSTANT:
                if (node is P.TRUE) is any_of:
                    decided = True
                continue
            if node[1] is None:
                dynamic = True
            kept.append(node)
        # The same folding as program.fold_all/fold_any (tests compare the two).
        if decided:
            folded = P.TRUE if any_of else P.FALSE
        elif not kept:
            folded = P.FALSE if any_of else P.TRUE
        elif len(kept) == 1:
            folded = kept[0]
        else:
            folded = (
                P.OR if any_of else P.AND,
                None if dynamic else DEPENDS,  # sizes only: always DEPENDS, folded or not
                tuple(kept),
            )
        if container == P.NOT:
            return P.negate(folded)
        return folded

    def like(self, el: etree._Element, text: str) -> Pattern:
        """A ``like`` pattern, within the document's budget (patterns.Budget)."""
        if self.budget is None:
            self.budget = Budget()
        try:
            return self.budget.like(text)
        except ValueError as exc:
            raise _Compiler.error(el, str(exc)) from None

    def number(
        self, el: etree._Element, kind: str, value_type: str, dim: str, op: int, value: str | None
    ) -> P.Program:
        if op == P.LIKE:
            raise _Compiler.error(el, "op 'like' compares text, and this element takes a number")
        number, high = _read_number(el, value_type, value)
        if kind is E.DECLARED and number is not None and value is not None:
            typed = _declared_number(value_type, value, number)
            written = el.get("op")
            return (P.DECLARED, None, dim, kind_of(dim), _OP_TEXT[written], typed, None)
        if kind is not E.SIZE:
            return P.TRUE if kind is E.NEVER and op == P.NE else P.FALSE
        if not number:  # Beaker: a missing or zero value imposes nothing
            self.warnings.append(
                f"{describe(el)}: no value (or 0), so it imposes nothing (as in Beaker)"
            )
            return P.TRUE
        return P.size_program(dim, op, int(number), high)


#: The contract of virtprov-speedups' compiler this module speaks (its ``ABI``).
_NATIVE_ABI = 3


def _load_native() -> ModuleType | None:
    """virtprov-speedups' compiled :class:`_FastCompiler`, configured with this module's
    tables; ``None`` when it is not installed, of another contract, built against another
    lxml, or ``VIRTPROV_NO_SPEEDUPS`` is set (then everything runs in Python, alike)."""
    if os.environ.get("VIRTPROV_NO_SPEEDUPS"):
        return None
    try:
        from virtprov_speedups import _hostrequires
    except (ImportError, ValueError):  # ValueError: Cython's check of lxml's struct sizes
        return None
    if getattr(_hostrequires, "ABI", None) != _NATIVE_ABI:
        return None
    try:
        _configure(_hostrequires)
    except Exception:  # a broken build must not break virtprov (tests insist on it)
        return None
    return _hostrequires


def _configure(compiled: ModuleType) -> None:
    compiled.configure(
        {
            "tables": _TABLES,
            "key_value_entries": _KEY_VALUE_ENTRIES,
            "never_key_value": _NEVER_KEY_VALUE,
            "opcodes": _OPCODES,
            "op_text": _OP_TEXT,
            "KEY_VALUE": E.KEY_VALUE,
            "NEVER": E.NEVER,
            "DECLARED": E.DECLARED,
            "TARGET": E.TARGET,
            "ARCH": E.ARCH,
            "SIZE": E.SIZE,
            "value_TEXT": E.TEXT,
            "value_BYTES": E.BYTES,
            "TRUE": P.TRUE,
            "FALSE": P.FALSE,
            "DEPENDS": DEPENDS,
            "YES": YES,
            "lab": "lab",
            "P_AND": P.AND,
            "P_OR": P.OR,
            "P_NOT": P.NOT,
            "P_SIZE": P.SIZE,
            "P_ARCH": P.ARCH,
            "P_TARGET": P.TARGET,
            "P_CONSTANT": P.CONSTANT,
            "P_DECLARED": P.DECLARED,
            "P_LIKE": P.LIKE,
            "P_NE": P.NE,
            "what_INTEGER_SIZE": _INTEGER_SIZE,
            "what_TEXT": _TEXT,
            "like_pattern": like_pattern,
            "declared_text": _declared_text,
            "kind_of": kind_of,
            "byte_units": BYTE_UNITS,
            "binary_twins": BINARY_TWINS,
            "size_program": P.size_program,
            "max_pattern_length": MAX_PATTERN_LENGTH,
            "max_patterns": MAX_PATTERNS,
            "max_pattern_characters": MAX_PATTERN_CHARACTERS,
            "max_value_length": MAX_VALUE_LENGTH,
        }
    )


#: The compiled front end when available (tests switch it off to compare the two).
native: ModuleType | None = _load_native()


def front_end() -> str:
    """``"compiled"`` when virtprov-speedups compiles documents here, else ``"python"``."""
    return "python" if native is None else "compiled"


def node_tree(el: etree._Element) -> AllOf:
    """The node tree of an element :func:`compile_element` accepted (for reasons)."""
    return AllOf(_Compiler(sys.maxsize, sys.maxsize).children(el, "host", 1), el)


def compile_element(
    el: etree._Element,
    *,
    max_depth: int = MAX_DEPTH,
    max_elements: int = MAX_ELEMENTS,
    long_values: bool = True,
) -> HostRequires:
    """Compile an already parsed ``<hostRequires>`` element (its tag does not matter).

    ``long_values=False`` skips looking for attribute values over MAX_VALUE_LENGTH (for a
    document too short to hold one).
    """
    if native is not None:
        # None: force=, or a document that warns, fails or is unusual: Python compiles it
        done = native.compile_tree(el, max_depth, max_elements)
        if done is not None:
            program, labs = done
            return HostRequires.compiled(el, program, (), tuple(labs) if labs else ())
    if long_values:
        _check_values(el)
    force = el.get("force")
    if force:
        warnings = (f"{describe(el)}: force= is set, so the other requirements are ignored",)
        return HostRequires(AllOf((), el), el, force, warnings if len(el) else ())
    compiler = _FastCompiler(max_depth, max_elements, long_values=long_values)
    program = compiler.walk(el, "host", 1, P.AND)
    return HostRequires.compiled(
        el,
        program,
        tuple(compiler.warnings) if compiler.warnings else (),
        tuple(compiler.lab_locs) if compiler.lab_locs else (),
    )


def parse(
    text: str | bytes,
    *,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    max_elements: int = MAX_ELEMENTS,
) -> HostRequires:
    """Parse and compile one ``<hostRequires/>`` document (the root's tag does not matter).

    Raises :class:`~virtprov.errors.HostRequiresError` with the line (and column) of the
    problem for malformed, hostile or meaningless input; never anything else.
    """
    root = load_xml(text, max_bytes=max_bytes)
    return compile_element(
        root, max_depth=max_depth, max_elements=max_elements, long_values=_may_hold_long(text)
    )


def _may_hold_long(text: object) -> bool:
    """Whether a document may hold a value over MAX_VALUE_LENGTH (most are far shorter)."""
    if text.__class__ is bytes or text.__class__ is str:
        return len(text) > MAX_VALUE_LENGTH
    return True


def _recipes(root: etree._Element) -> tuple[RecipeRequires, ...]:
    recipes = [root] if root.tag == "recipe" else list(root.iter("recipe"))
    result = []
    for position, recipe in enumerate(recipes, start=1):
        host = next((child for child in recipe if child.tag == "hostRequires"), None)
        if host is None:
            requires = HostRequires(AllOf((), Loc("hostRequires")), Loc("hostRequires"))
        else:
            # A copy, so that the recipe's requirements do not keep the whole job alive.
            requires = compile_element(copy.deepcopy(host))
        result.append(RecipeRequires(position, recipe.get("id"), requires, _line(recipe)))
    return tuple(result)


def parse_job(text: str | bytes, *, max_bytes: int = MAX_JOB_BYTES) -> tuple[RecipeRequires, ...]:
    """Each recipe's compiled ``<hostRequires/>`` in a Beaker job (``<job>``, ``<recipeSet>``
    or ``<recipe>`` root), in document order. Guest recipes are not scheduled on hosts and
    are skipped; a recipe without ``<hostRequires/>`` accepts any system.
    """
    root = load_xml(text, max_bytes=max_bytes)
    if root.tag not in JOB_TAGS:
        raise HostRequiresError(
            f"<{root.tag}> is not a Beaker job (expected <job>, <recipeSet> or <recipe>)",
            line=_line(root),
        )
    return _recipes(root)


def parse_any(
    text: str | bytes, *, max_bytes: int = MAX_JOB_BYTES
) -> HostRequires | tuple[RecipeRequires, ...]:
    """A whole job (per recipe) or a single ``<hostRequires/>``, whichever the text is."""
    root = load_xml(text, max_bytes=max_bytes)
    if root.tag in JOB_TAGS:
        return _recipes(root)
    return compile_element(root, long_values=_may_hold_long(text))
