"""tmt's ``hardware:`` requirements, read into the compiled form ``<hostRequires/>`` uses.

Newer test tooling (tmt, Testing Farm) states hardware needs as a mapping::

    hardware:
      memory: ">= 8 GB"
      cpu:
        processors: ">= 4"
        flag: [vmx]
      disk:
        - size: ">= 40 GiB"

Reading follows tmt (``tmt/hardware/`` and ``spec/hardware/`` of its repository): a value
is ``[operator] value``; operators ``=`` (the default, also ``==``), ``!=``, ``>``, ``>=``,
``<``, ``<=``, ``~`` and ``!~`` (regular expressions matched at the start, as Python's
``re.match``, but run on RE2: see :mod:`~virtprov.hostrequires.patterns`); ``and``/``or``
take lists of blocks and may not sit beside other keys;
``disk`` and ``network`` are lists; units are pint's, as in tmt (``MB`` is 10**6 bytes).
Every requirement becomes a node of :mod:`~virtprov.hostrequires.compiled`, located by its
key path (``hardware.and[1].cpu.flag``) and line, so reasons read alike in both languages.
What a VM satisfies is in :data:`KEYS`. Unlike tmt, an unknown key, a key beside ``and``
or a flag that is neither true nor false is an error, never a silent pass; and a
document, as YAML text or as a Python mapping, is read within the same bounds (size,
depth, values with aliases expanded, text, digits, patterns) before anything is built.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import attrs

from virtprov.errors import HostRequiresError
from virtprov.hostrequires import compiled as C
from virtprov.hostrequires import properties as props
from virtprov.hostrequires import semantics as S
from virtprov.hostrequires.document import HostRequires, RecipeRequires
from virtprov.hostrequires.patterns import Budget, Pattern
from virtprov.hostrequires.quantities import quantity, span, whole
from virtprov.hostrequires.units import MAX_DIGITS
from virtprov.model import MiB
from virtprov.printable import excerpt, printable

#: A ``hardware:`` document is a few hundred bytes; a plan with several phases a few KiB.
MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64
#: Requirements in one document; real ones have a few dozen.
MAX_ELEMENTS = 500
#: Values (mappings, lists, scalars; an alias counts what it stands for) per requirement
#: a document may have: its YAML text, or its mapping, holds at most 5 x MAX_ELEMENTS.
VALUES_PER_ELEMENT = 5
#: Values in a plan file (``virtprov check plan.fmf``): a plan holds more than hardware.
MAX_PLAN_VALUES = 20_000
#: Characters in one key or value (a lab name, a CPU model name, a pattern...).
MAX_VALUE_LENGTH = 4096

# -- the vocabulary -----------------------------------------------------------------------

# How a value is read (semantics.py: the one table of both languages).
SIZE_MIB = S.SIZE_MIB  # a size, MiB without a unit (memory)
SIZE_BYTES = S.SIZE_BYTES  # a size, bytes without a unit (disks)
INTEGER = S.INTEGER
TEXT = S.TEXT
FLAG = S.FLAG
LIST = S.LIST  # a list of words, each with its own = or != (cpu.flag, compatible.distro)


class Key(NamedTuple):
    """One tmt key: how its value is read, what a guest offers for it (``kind`` and
    ``arg``, as in :data:`~virtprov.hostrequires.semantics.FEATURES`), which operators
    it takes."""

    reads: str
    kind: str
    arg: str
    ops: tuple[str, ...]


def _key_of(form: S.TmtForm) -> Key:
    feature = S.FEATURES[form.feature]
    return Key(form.reads, feature.kind, feature.arg, form.ops)


#: Every key tmt knows, by its path with list indices dropped (``disk.size``).
KEYS: dict[str, Key] = {name: _key_of(form) for name, form in S.TMT.items()}
#: disk[N].size for N >= 1: a disk a flavor may declare (disk[0] is its root disk).
_FURTHER_DISK = _key_of(S.TmtForm("disk[N].size", SIZE_BYTES, S.NUMBER_OPS))
#: Keys whose value is a list of blocks (``disk[N].size``).
LISTS = frozenset(S.INDEXED_KEYS)
#: Keys whose value is a mapping of keys (``cpu.cores``).
GROUPS = frozenset(name.split(".", 1)[0] for name in KEYS if "." in name)

#: The operators a value may start with, longest first (so that ">=" is not ">").
_WRITTEN_OPS = ("==", "!=", "!~", "=~", ">=", "<=", "~", "=", ">", "<")
_CANONICAL = {"==": "=", "=~": "~"}
#: Characters XML 1.0 cannot hold (C0 controls but tab and newlines, surrogates, U+FFFE,
#: U+FFFF): a requirement could not be written as <hostRequires/>, nor shown safely.
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: A YAML number longer than this is not read (sign, separators and exponent included).
_MAX_NUMBER_TEXT = MAX_DIGITS + 10
_EMPTY = "empty document (write {} to require nothing)"
_YAML_STR = "tag:yaml.org,2002:str"
_YAML_NUMBERS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})


def split_operator(written: str) -> tuple[str, str]:
    """``(operator, value)`` of a tmt value such as ``">= 8 GB"`` (``=`` when none).

    Strips as tmt's regular expression does, in one pass (that expression takes time
    quadratic in the spaces between two words).
    """
    text = written.strip()
    for op in _WRITTEN_OPS:
        if text.startswith(op):
            return _CANONICAL.get(op, op), text[len(op) :].strip()
    return "=", text


# -- reading: a located tree ---------------------------------------------------------------


class _Value(NamedTuple):
    """A value of the document: a dict of ``_Value``, a list of them, or a scalar."""

    data: Any
    line: int | None


@attrs.frozen
class Requirement:
    """One ``key: [op] value`` of a tmt document.

    ``key`` is the canonical name (``cpu.flag``, ``disk[1].size``, ``memory``), ``path``
    where it was written (``hardware.and[0].cpu.flag``), ``raw`` the value as written
    (without the operator), ``value`` the value read (bytes, an int, a word...).
    """

    key: str
    spec: Key
    op: str
    raw: str
    value: Any
    path: str
    line: int | None

    @property
    def loc(self) -> C.Loc:
        shown = self.raw if self.op == "=" else f"{self.op} {self.raw}"
        return C.Loc(self.path, (("value", shown),), self.line, "tmt")


@attrs.frozen
class Group:
    """``and``/``or`` of requirements and groups (a block of keys is an ``and``)."""

    any: bool
    children: tuple[Requirement | Group, ...]
    path: str
    line: int | None

    @property
    def loc(self) -> C.Loc:
        return C.Loc(self.path, (), self.line, "tmt")

    def requirements(self) -> Iterator[Requirement]:
        for child in self.children:
            if isinstance(child, Group):
                yield from child.requirements()
            else:
                yield child


@attrs.frozen
class TmtDocument:
    """A read ``hardware:`` mapping: its requirements and what reading warned about."""

    root: Group
    warnings: tuple[str, ...] = ()


class _Reader:
    def __init__(
        self, presets: Mapping[str, Any] | None, max_elements: int, max_bytes: int = 0
    ) -> None:
        self.presets = presets or {}
        self.max_elements = max_elements
        self.count = 0
        self.patterns = Budget()
        self.warnings: list[str] = []
        self.resolving: list[str] = []
        #: what presets may still expand to (shared by every use of every preset)
        self.budget = _Budget(max_elements, max_bytes or MAX_BYTES)

    def error(self, message: str, path: str, line: int | None) -> HostRequiresError:
        return HostRequiresError(printable(message), key=excerpt(path, 200), line=line)

    def counted(self, path: str, line: int | None) -> None:
        self.count += 1
        if self.count > self.max_elements:
            raise self.error(f"more than {self.max_elements} requirements", path, line)

    def block(self, node: _Value, path: str, *, top: bool = False) -> Group:
        data = node.data
        if data is None:
            return Group(False, (), path, node.line)
        if not isinstance(data, dict):
            raise self.error(
                f"expected a mapping of requirements, got {_kind(data)}", path, node.line
            )
        keys = list(data)
        if top and "import-preset" in data:
            self.warnings.append(
                f"{path}.import-preset: presets are never fetched; give them to virtprov "
                "(--presets FILE, or presets= in Python)"
            )
            keys.remove("import-preset")
        for logic in ("and", "or"):
            if logic in data:
                others = [key for key in keys if key != logic]
                if others:
                    raise self.error(
                        f"'{logic}' cannot be combined with other keys on the same level "
                        f"({', '.join(others)}); put them inside the '{logic}' list",
                        path,
                        node.line,
                    )
                return self.logic(data[logic], f"{path}.{logic}", logic == "or")
        children: list[Requirement | Group] = []
        for key in keys:
            value = data[key]
            where = f"{path}.{key}"
            if key == "preset":
                children.append(self.preset(value, where))
            elif key in LISTS:
                children.extend(self.listed(key, value, where))
            elif key in GROUPS:
                children.extend(self.grouped(key, key, value, where))
            elif key in KEYS:
                children.extend(self.leaf(key, KEYS[key], value, where))
            else:
                raise self.error(
                    f"unknown hardware requirement '{excerpt(key, 60)}'", where, value.line
                )
        return Group(False, tuple(children), path, node.line)

    def logic(self, node: _Value, path: str, any_: bool) -> Group:
        if not isinstance(node.data, list) or not node.data:
            raise self.error("expects a non-empty list of blocks", path, node.line)
        children = tuple(
            self.block(item, f"{path}[{index}]") for index, item in enumerate(node.data)
        )
        return Group(any_, children, path, node.line)

    def preset(self, node: _Value, path: str) -> Group:
        name = node.data
        if not isinstance(name, str):
            raise self.error(f"expects a preset name, got {_kind(name)}", path, node.line)
        if name not in self.presets:
            raise self.error(f"preset '{excerpt(name, 60)}' is not defined", path, node.line)
        if name in self.resolving:
            raise self.error(f"preset '{excerpt(name, 60)}' refers to itself", path, node.line)
        if len(self.resolving) >= MAX_DEPTH:
            raise self.error(f"presets nested deeper than {MAX_DEPTH} levels", path, node.line)
        self.resolving.append(name)
        try:
            value = _from_python(self.presets[name], 1, self.budget)
            group = self.block(value, f"{path}({excerpt(name, 60)})")
        finally:
            self.resolving.pop()
        return group

    def listed(self, group: str, node: _Value, path: str) -> Iterator[Requirement | Group]:
        if not isinstance(node.data, list):
            raise self.error(f"expects a list of {group} blocks", path, node.line)
        for index, item in enumerate(node.data):
            where = f"{path}[{index}]"
            if not isinstance(item.data, dict) or not item.data:
                raise self.error("expects a non-empty mapping", where, item.line)
            for key, value in item.data.items():
                name = f"{group}.{key}"
                spec = KEYS.get(name)
                if spec is None:
                    raise self.error(
                        f"unknown hardware requirement '{excerpt(name, 60)}'",
                        f"{where}.{key}",
                        value.line,
                    )
                if index and spec.kind == S.SIZE:
                    spec = _FURTHER_DISK
                yield from self.leaf(f"{group}[{index}].{key}", spec, value, f"{where}.{key}")

    def grouped(
        self, prefix: str, group: str, node: _Value, path: str
    ) -> Iterator[Requirement | Group]:
        if not isinstance(node.data, dict) or not node.data:
            raise self.error(f"expects a non-empty mapping of {group} keys", path, node.line)
        for key, value in node.data.items():
            name = f"{prefix}.{key}"
            if name in KEYS:
                yield from self.leaf(name, KEYS[name], value, f"{path}.{key}")
            elif any(known.startswith(name + ".") for known in KEYS):
                yield from self.grouped(name, key, value, f"{path}.{key}")
            else:
                raise self.error(
                    f"unknown hardware requirement '{excerpt(name, 60)}'",
                    f"{path}.{key}",
                    value.line,
                )

    def leaf(self, key: str, spec: Key, node: _Value, path: str) -> Iterator[Requirement]:
        if spec.reads == LIST:
            if not isinstance(node.data, list):
                raise self.error("expects a list", path, node.line)
            for item in node.data:
                yield self.requirement(key, spec, item, path)
            return
        yield self.requirement(key, spec, node, path)

    def requirement(self, key: str, spec: Key, node: _Value, path: str) -> Requirement:
        self.counted(path, node.line)
        data = node.data
        if isinstance(data, dict | list) or data is None:
            raise self.error(f"expects a value, got {_kind(data)}", path, node.line)
        # as tmt does (str(4) is "4"), but a flag shows as YAML writes it
        written = str(data).lower() if isinstance(data, bool) else str(data)
        op, raw = split_operator(written)
        if op not in spec.ops:
            raise self.error(
                f"operator '{op}' is not allowed here (use {', '.join(spec.ops)})",
                path,
                node.line,
            )
        if not raw:
            raise self.error("has no value", path, node.line)
        try:
            value = _read(spec, key, op, raw, self.patterns)
        except ValueError as exc:
            raise self.error(str(exc), path, node.line) from None
        return Requirement(key, spec, op, raw, value, path, node.line)


def _read(spec: Key, key: str, op: str, raw: str, patterns: Budget) -> Any:
    if op in ("~", "!~"):  # text ignores case, as Beaker's database compares it
        return patterns.regex(raw, ignore_case=True)
    reads = spec.reads
    if reads == SIZE_MIB:
        return span(raw, "MiB")
    if reads == SIZE_BYTES:
        return span(raw, "byte")
    if reads == S.FREQUENCY:
        return whole(quantity(raw, "MHz", "MHz"))
    if reads == INTEGER:
        return props.parse_integer(raw)
    if reads == FLAG:
        lowered = raw.lower()
        if lowered not in ("true", "false"):
            raise ValueError(f"{raw!r} is neither true nor false")
        return lowered == "true"
    return raw


def _kind(data: Any) -> str:
    """What a value is, for a message (a bounded excerpt of it)."""
    if isinstance(data, dict):
        return "a mapping"
    if isinstance(data, list):
        return "a list"
    if data is None:
        return "nothing"
    if isinstance(data, int) and not isinstance(data, bool) and data.bit_length() > 100:
        return "int of more than 30 digits"
    if isinstance(data, str | int | float | bool | datetime.date):
        return f"{type(data).__name__} {excerpt(repr(data), 60)}"
    return type(data).__name__


#: Values a mapping may hold besides mappings and lists: what YAML's safe loader makes.
_SCALARS = (str, bool, int, float, datetime.date)


class _Budget:
    """What a Python mapping may still expand to: values visited (an object used twice
    counts twice, as an alias in YAML text does) and characters of text (keys included)."""

    __slots__ = ("characters", "values")

    def __init__(self, max_elements: int, max_bytes: int) -> None:
        self.values = max_elements * VALUES_PER_ELEMENT
        self.characters = max_bytes

    def spend(self, characters: int = 0) -> None:
        self.values -= 1
        self.text(characters)
        if self.values < 0:
            raise HostRequiresError("document too large (too many values)")

    def text(self, characters: int) -> None:
        self.characters -= characters
        if self.characters < 0:
            raise HostRequiresError("document too large (too much text)")


def _checked_text(text: str, line: int | None = None) -> str:
    if len(text) > MAX_VALUE_LENGTH:
        raise HostRequiresError(
            f"text of {len(text)} characters ('{excerpt(text, 40)}') is over the limit of "
            f"{MAX_VALUE_LENGTH}",
            line=line,
        )
    if text.isprintable():  # the usual case, without a regex
        return text
    bad = _NOT_TEXT.search(text)
    if bad is not None:
        raise HostRequiresError(
            f"text holds the control character U+{ord(bad.group()):04X}, which no "
            "requirement can hold",
            line=line,
        )
    return text


def _scalar(data: Any, budget: _Budget) -> None:
    """Check one value that is not a mapping or a list (and count it)."""
    if isinstance(data, str):
        budget.spend(len(data))
        _checked_text(data)
        return
    budget.spend(0)
    if data is None or isinstance(data, _SCALARS):
        if isinstance(data, int) and not isinstance(data, bool) and data.bit_length() > 100:
            raise HostRequiresError(f"a number of more than {MAX_DIGITS} digits")
        return
    raise HostRequiresError(
        f"expected text, a number, a flag, a list or a mapping, got {type(data).__name__}"
    )


def _key(key: Any, budget: _Budget) -> str:
    if not isinstance(key, str):
        raise HostRequiresError(f"keys must be text, got {_kind(key)}")
    budget.text(len(key))
    return _checked_text(key)


def _from_python(data: Any, depth: int, budget: _Budget, line: int | None = None) -> _Value:
    """The located tree of an already loaded mapping (no lines), through the same
    bounds as YAML text: depth, values (shared objects count at every use), text size,
    digits, and only the kinds of values YAML's safe loader makes."""
    if depth > MAX_DEPTH:
        raise HostRequiresError(f"nested deeper than {MAX_DEPTH} levels")
    kind = type(data)  # exact types first: isinstance() of an ABC is slow
    if kind is list or kind is tuple or (kind is not dict and isinstance(data, list | tuple)):
        budget.spend(0)
        return _Value([_from_python(item, depth + 1, budget) for item in data], line)
    if kind is dict or isinstance(data, Mapping):
        budget.spend(0)
        return _Value(
            {
                _key(key, budget): _from_python(value, depth + 1, budget)
                for key, value in data.items()
            },
            line,
        )
    _scalar(data, budget)
    return _Value(data, line)


def _measure(data: Any, depth: int, budget: _Budget) -> None:
    """What :func:`_from_python` checks, without building anything. A refusal carries the
    path below ``data`` where it happened (:class:`_Misplaced`), added as it unwinds: the
    way down costs nothing for the documents that pass."""
    if depth > MAX_DEPTH:
        raise HostRequiresError(f"nested deeper than {MAX_DEPTH} levels")
    kind = type(data)
    if kind is list or kind is tuple or (kind is not dict and isinstance(data, list | tuple)):
        budget.spend(0)
        for index, item in enumerate(data):
            try:
                _measure(item, depth + 1, budget)
            except HostRequiresError as exc:
                raise _Misplaced.below(exc, f"[{index}]") from None
    elif kind is dict or isinstance(data, Mapping):
        budget.spend(0)
        for key, value in data.items():
            _key(key, budget)
            try:
                _measure(value, depth + 1, budget)
            except HostRequiresError as exc:
                raise _Misplaced.below(exc, f".{key}") from None
    else:
        _scalar(data, budget)


class _Misplaced(HostRequiresError):
    """A refusal of :func:`_measure`, with the path (``.key``, ``[index]``) to the value."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path

    @classmethod
    def below(cls, exc: HostRequiresError, step: str) -> _Misplaced:
        path = exc.path if isinstance(exc, _Misplaced) else ""
        return cls(exc.message, step + path)


def check_mapping(
    data: Any,
    *,
    max_bytes: int = MAX_BYTES,
    max_elements: int = MAX_ELEMENTS,
    name: str = "hardware",
) -> None:
    """Refuse a ``hardware:`` mapping that is too large or too deep once expanded (an
    alias bomb loaded with ``yaml.safe_load``), before anything copies or serialises it.

    The same bounds as :func:`parse_tmt` apply; cheap for real documents. The error's
    ``key`` is the path to the refused value, from ``name`` (``hardware.disk[0].size``).
    """
    try:
        _measure(data, 0, _Budget(max_elements, max_bytes))
    except HostRequiresError as exc:
        path = exc.path if isinstance(exc, _Misplaced) else ""
        if len(path) > 120:  # a path as deep as the nesting limit: its start says enough
            path = path[:120] + "..."
        raise HostRequiresError(exc.message, key=name + path) from None


# -- YAML ----------------------------------------------------------------------------------


def _from_yaml(text: str | bytes, max_bytes: int, max_values: int, warnings: list[str]) -> _Value:
    import yaml

    size = len(text)
    if size > max_bytes:
        raise HostRequiresError(
            f"document of {size} {'characters' if isinstance(text, str) else 'bytes'} is "
            f"over the limit of {max_bytes} bytes"
        )
    if not text.strip():  # YAML would refuse a tab where a token may start
        raise HostRequiresError(_EMPTY)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        _check_events(yaml.parse(text, Loader=loader), max_values)
        node = yaml.compose(text, Loader=loader)
    except HostRequiresError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise HostRequiresError(
            f"not valid YAML: {exc.problem}",
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise HostRequiresError(f"not valid YAML: {excerpt(str(exc), 200)}") from None
    if node is None or node.tag == "tag:yaml.org,2002:null":
        # nothing but blanks, comments, "---" or null: a mistake, not "any system"
        raise HostRequiresError(_EMPTY, line=node.start_mark.line + 1 if node else None)
    return _YamlTree(max_values, warnings).value(node, 0)


def _check_events(events: Iterator[Any], max_values: int) -> None:
    """Refuse deep nesting and alias bombs from libyaml's event stream, before anything
    is composed: each collection's size counts what its aliases would expand to."""
    import yaml

    kinds = {  # by type, not isinstance(): this loop sees every event of the document
        yaml.MappingStartEvent: _OPEN,
        yaml.SequenceStartEvent: _OPEN,
        yaml.MappingEndEvent: _CLOSE,
        yaml.SequenceEndEvent: _CLOSE,
        yaml.ScalarEvent: _SCALAR,
        yaml.AliasEvent: _ALIAS,
    }
    sizes: dict[str, int] = {}  # anchor -> values it stands for
    stack: list[list[Any]] = []  # open collections: [anchor, values so far]
    seen = 0  # values so far, aliases expanded: checked as the events come
    for event in events:
        kind = kinds.get(type(event))
        if kind == _OPEN:
            stack.append([event.anchor, 1])
            if len(stack) > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else None
                raise HostRequiresError(f"nested deeper than {MAX_DEPTH} levels", line=line)
            size = 1
        elif kind == _CLOSE:
            anchor, size = stack.pop()
            if anchor:
                sizes[anchor] = size
            if stack:
                stack[-1][1] += size
            continue
        elif kind == _SCALAR:
            size = 1
            if event.anchor:
                sizes[event.anchor] = size
            if stack:
                stack[-1][1] += size
        elif kind == _ALIAS:
            size = sizes.get(event.anchor or "", 1)
            if stack:
                stack[-1][1] += size
        else:
            continue
        seen += size
        if seen > max_values:
            line = event.start_mark.line + 1 if event.start_mark else None
            raise HostRequiresError("document too large (too many values)", line=line)


_OPEN, _CLOSE, _SCALAR, _ALIAS = range(4)


class _YamlTree:
    """YAML nodes to located values; scalars read as YAML's safe loader reads them."""

    def __init__(self, max_values: int, warnings: list[str]) -> None:
        import yaml

        self.warnings = warnings
        self.yaml = yaml
        self.constructor = yaml.constructor.SafeConstructor()
        self.max_nodes = max_values
        self.nodes = 0

    def value(self, node: Any, depth: int) -> _Value:
        yaml = self.yaml
        line = node.start_mark.line + 1
        # Aliases share nodes: count every visit, so a "billion laughs" stops here.
        self.nodes += 1
        if self.nodes > self.max_nodes:
            raise HostRequiresError("document too large (too many values)", line=line)
        if depth > MAX_DEPTH:
            raise HostRequiresError(f"nested deeper than {MAX_DEPTH} levels", line=line)
        if isinstance(node, yaml.MappingNode):
            data: dict[str, _Value] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise HostRequiresError("YAML merge keys (<<) are not accepted", line=line)
                key = self.scalar(key_node)
                if not isinstance(key, str):
                    raise HostRequiresError(
                        f"keys must be text, got {_kind(key)}", line=key_node.start_mark.line + 1
                    )
                if key in data:  # YAML loaders keep the last one; say so
                    self.warnings.append(
                        f"line {key_node.start_mark.line + 1}: key '{excerpt(key, 60)}' is "
                        "given twice in one mapping; only this last one counts"
                    )
                data[key] = self.value(value_node, depth + 1)
            return _Value(data, line)
        if isinstance(node, yaml.SequenceNode):
            return _Value([self.value(item, depth + 1) for item in node.value], line)
        return _Value(self.scalar(node), line)

    def scalar(self, node: Any) -> Any:
        line = node.start_mark.line + 1
        if not isinstance(node, self.yaml.ScalarNode):
            raise HostRequiresError("a key must be a plain value", line=line)
        if node.tag == _YAML_STR:  # what the constructor would return, without it
            return _checked_text(node.value, line)
        if node.tag in _YAML_NUMBERS and len(node.value) > _MAX_NUMBER_TEXT:
            # before int() builds it (or refuses it past 4300 digits)
            raise HostRequiresError(
                f"a number of more than {MAX_DIGITS} digits ('{excerpt(node.value, 40)}')",
                line=line,
            )
        try:
            value = self.constructor.construct_object(node)
        except self.yaml.YAMLError as exc:
            raise HostRequiresError(f"not accepted: {excerpt(str(exc), 200)}", line=line) from None
        if isinstance(value, str):
            _checked_text(value, line)
        return value


# -- compiling -----------------------------------------------------------------------------


def to_node(item: Requirement | Group) -> C.Node:
    """The compiled node of a requirement or group."""
    if isinstance(item, Group):
        children = tuple(to_node(child) for child in item.children)
        return C.AnyOf(children, item.loc) if item.any else C.AllOf(children, item.loc)
    return _requirement_node(item)


def _requirement_node(req: Requirement) -> C.Node:
    kind, arg, op, value, loc = req.spec.kind, req.spec.arg, req.op, req.value, req.loc
    negated = op == "!~"
    if negated:
        op = "~"
    node: C.Node
    if kind == S.SIZE:
        if arg == "vcpus":
            node = C.SizeTest(arg, op, value, loc)
        else:  # a Span of bytes
            unit = MiB if arg == "ram_mib" else 1
            high = None if value.high is None else whole(value.high / unit)
            node = C.SizeTest(arg, op, whole(value.low / unit), loc, high)
    elif kind == S.ARCH:
        node = C.ArchTest(op, req.raw, _pattern(op, value), loc)
    elif kind == S.TARGET:
        node = C.TargetTest(arg, op, req.raw, _pattern(op, value), loc)
    elif kind == S.VIRTUALIZED:
        if value == (op == "="):
            return C.always(loc)
        return C.Unsatisfiable(req.key, req.op, req.raw, loc)
    elif kind == S.IGNORED:
        return C.always(loc)
    elif kind == S.NEVER:
        if req.op in ("!=", "!~"):  # a new VM is not the system (pool, vendor...) named
            return C.always(loc)
        return C.Unsatisfiable(arg, req.op, req.raw, loc)
    else:
        kind = props.kind_of(req.key) or props.TEXT
        pattern = value if req.op in ("~", "!~") else None
        declared = value if pattern is None else req.raw
        return C.DeclaredTest(req.key, kind, req.op, declared, pattern, loc)
    return C.NoneOf((node,), loc) if negated else node


def _pattern(op: str, value: Any) -> Pattern | None:
    return value if op == "~" else None


def compile_document(document: TmtDocument) -> HostRequires:
    """The compiled form of a read document (one engine with ``<hostRequires/>``)."""
    root = to_node(document.root)
    assert isinstance(root, C.AllOf | C.AnyOf)
    if isinstance(root, C.AnyOf):
        root = C.AllOf((root,), document.root.loc)
    lab_locs = tuple(
        req.loc
        for req in document.root.requirements()
        if req.spec.kind == S.TARGET and req.spec.arg == "lab"
    )
    warnings = list(document.warnings)
    for req in document.root.requirements():
        if req.spec.kind == S.IGNORED:
            warnings.append(f"{req.loc}: a Beaker run option, not a hardware requirement: ignored")
    return HostRequires(root, document.root.loc, None, tuple(warnings), lab_locs)


# -- entry points --------------------------------------------------------------------------


def read_tmt(
    document: Mapping[str, Any] | str | bytes | None,
    *,
    presets: Mapping[str, Any] | None = None,
    max_bytes: int = MAX_BYTES,
    max_elements: int = MAX_ELEMENTS,
) -> TmtDocument:
    """Read a ``hardware:`` mapping (a Python mapping, or YAML text of one)."""
    reader = _Reader(presets, max_elements, max_bytes)
    if isinstance(document, str | bytes):
        values = max_elements * VALUES_PER_ELEMENT
        value = _from_yaml(document, max_bytes, values, reader.warnings)
    elif document is None or isinstance(document, Mapping):
        value = _from_python(document, 0, reader.budget)
    else:
        raise HostRequiresError(
            f"expected a mapping of requirements or YAML text, got {type(document).__name__}"
        )
    root = reader.block(value, "hardware", top=True)
    return TmtDocument(root, tuple(reader.warnings))


def parse_tmt(
    document: Mapping[str, Any] | str | bytes | None,
    *,
    presets: Mapping[str, Any] | None = None,
    max_bytes: int = MAX_BYTES,
    max_elements: int = MAX_ELEMENTS,
) -> HostRequires:
    """Compile tmt ``hardware:`` requirements: a mapping, or YAML text of the mapping.

    The result is the same :class:`HostRequires` that :func:`parse` gives for XML.
    ``presets`` resolves ``preset: NAME`` keys (tmt's ``import-preset`` is never
    fetched). Raises :class:`~virtprov.errors.HostRequiresError` naming the key path and
    line for anything malformed, unknown or hostile.
    """
    read = read_tmt(document, presets=presets, max_bytes=max_bytes, max_elements=max_elements)
    return compile_document(read)


def tmt_phases(
    text: str | bytes,
    *,
    presets: Mapping[str, Any] | None = None,
    max_bytes: int = MAX_BYTES,
) -> tuple[str, tuple[tuple[str | None, TmtDocument], ...]]:
    """The ``hardware:`` documents of a YAML/fmf file, whatever its shape.

    A plan (``provision:`` a mapping, or a list of phases for several guests), a mapping
    with a ``hardware:`` key, or the ``hardware:`` mapping itself. Returns the shape
    (``"plan"`` or ``"hardware"``) and each phase's name (``None`` when it has none) with
    its read document.
    """
    warnings: list[str] = []
    value = _from_yaml(text, max_bytes, MAX_PLAN_VALUES, warnings)
    data = value.data
    if isinstance(data, dict) and "provision" in data:
        provision = data["provision"]
        phases = provision.data if isinstance(provision.data, list) else [provision]
        result = []
        for index, phase in enumerate(phases):
            if not isinstance(phase.data, dict):
                raise HostRequiresError(
                    "a provision phase must be a mapping",
                    key=f"provision[{index}]",
                    line=phase.line,
                )
            name = phase.data.get("name")
            hardware = phase.data.get("hardware", _Value(None, phase.line))
            label = str(name.data) if name is not None else None
            result.append((label, _phase_document(hardware, presets, warnings)))
        return "plan", tuple(result)
    if isinstance(data, dict) and "hardware" in data:
        value = data["hardware"]
    return "hardware", ((None, _phase_document(value, presets, warnings)),)


def _phase_document(
    hardware: _Value, presets: Mapping[str, Any] | None, warnings: list[str]
) -> TmtDocument:
    """One ``hardware:`` of a file, read after what reading the file warned about."""
    reader = _Reader(presets, MAX_ELEMENTS)
    reader.warnings.extend(warnings)
    root = reader.block(hardware, "hardware", top=True)
    return TmtDocument(root, tuple(reader.warnings))


def _plain(value: _Value) -> Any:
    """A located value as plain Python data."""
    data = value.data
    if isinstance(data, dict):
        return {key: _plain(item) for key, item in data.items()}
    if isinstance(data, list):
        return [_plain(item) for item in data]
    return data


def load_presets(text: str | bytes, *, max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """tmt hardware presets (``name: requirements``) from YAML text, read through the
    same guard as a document (size, depth, aliases, digits), for ``presets=``."""
    value = _from_yaml(text, max_bytes, MAX_ELEMENTS * VALUES_PER_ELEMENT, [])
    if not isinstance(value.data, dict):
        raise HostRequiresError(
            "expected a mapping of preset names to hardware requirements", line=value.line
        )
    presets: dict[str, Any] = _plain(value)
    return presets


def parse_tmt_any(
    text: str | bytes, *, presets: Mapping[str, Any] | None = None
) -> HostRequires | tuple[RecipeRequires, ...]:
    """A ``hardware:`` document, or a tmt plan's phases (as :func:`parse_any` gives a
    job's recipes), from YAML/fmf text."""
    shape, phases = tmt_phases(text, presets=presets)
    if shape == "hardware":
        return compile_document(phases[0][1])
    return tuple(
        RecipeRequires(position, name, compile_document(doc), doc.root.line, kind="phase")
        for position, (name, doc) in enumerate(phases, start=1)
    )


def looks_like_xml(text: str | bytes) -> bool:
    """Whether a document is XML (``<...``) rather than YAML."""
    head = text[:64].lstrip() if isinstance(text, str) else text[:64].lstrip().decode("latin-1")
    return head.lstrip("\ufeff").startswith("<")
