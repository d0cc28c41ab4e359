"""The compiled form of a host filter: the one engine every front end produces.

A front end (``<hostRequires/>`` XML today, tmt ``hardware:`` later) turns its document
into a tree of the nodes below; every node knows where it was written (:class:`Loc`), so a
reason can point at an XML element and line or at a tmt key path alike.

Two evaluations, for the two questions a scheduler asks:

* :meth:`Node.tri` - could a guest of this target ever satisfy it? Three-valued: ``NO``,
  ``DEPENDS`` (on the flavor), ``YES``. No flavor list needed.
* :meth:`Node.mask` - which candidates of a prepared flavor set satisfy it, as a bit mask:
  bit ``i`` is candidate ``i`` of :class:`Candidates`. Size comparisons are a binary search
  over values sorted once per flavor set, so evaluating a document costs a few operations
  per element, whatever the number of flavors.

Nodes are immutable named tuples (cheap to build: a document compiles to one per element).
"""

from __future__ import annotations

import operator
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from fractions import Fraction
from itertools import islice
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import attrs

from virtprov.hostrequires import properties
from virtprov.hostrequires.patterns import Like, Pattern, fold, like
from virtprov.hostrequires.quantities import span_holds
from virtprov.hostrequires.units import format_bytes
from virtprov.model import Flavor, GiB, ProviderInfo
from virtprov.printable import excerpt

if TYPE_CHECKING:
    from typing import TypeAlias

    from lxml import etree

    from virtprov.config import Defaults

    #: Where a node was written: a :class:`Loc`, or (XML front end) the parsed element
    #: itself, so that compiling costs nothing per element and messages are made on demand.
    Where: TypeAlias = "Loc | etree._Element"

#: Three-valued answers of :meth:`Node.tri`.
NO, DEPENDS, YES = 0, 1, 2

#: Arch names a flavor set remembers the candidates of (real documents name a few).
_REMEMBERED_ARCHES = 256

#: Flavors whose root disk is smaller cannot hold an installed system (Beaker's rule).
MIN_ROOT_DISK_BYTES = 10 * GiB

#: Canonical operators. ``==`` is folded into ``=`` when compiling; ``like`` is SQL's
#: (``<hostRequires/>``), ``~`` a regular expression matched at the start (tmt's).
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "like", "~")

#: Characters of a user's value (and of a key path) shown in a reason: reasons name the
#: requirement, they need not repeat a long value whole (nor one per flavor).
_SHOWN = 80
_SHOWN_PATH = 200

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def like_pattern(value: str) -> Like:
    """SQL ``LIKE``: ``%`` any run, ``_`` one character, ``\\`` escapes; case-insensitive.

    Case-insensitive because Beaker's database (MySQL, default collation) compares so.
    Matched without backtracking (:mod:`~virtprov.hostrequires.patterns`); ``ValueError``
    for a pattern over :data:`~virtprov.hostrequires.patterns.MAX_PATTERN_LENGTH`.
    """
    return like(value)


def compare_text(op: str, left: str, value: str, pattern: Pattern | None) -> bool:
    """``op(left, value)`` on text, ignoring case as Beaker's database compares (every
    operator: ``=``, ``!=``, the orderings; patterns ignore case themselves)."""
    if pattern is not None:
        return pattern.matches(left)
    if left == value:  # the usual case, without folding
        return op in ("=", "<=", ">=")
    if len(left) != len(value) and op in ("=", "!="):  # folding keeps the length
        return op == "!="
    return _COMPARE[op](fold(left), fold(value))


def _quote(value: str) -> str:
    shown = excerpt(value, _SHOWN)
    return shown.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


class Loc(NamedTuple):
    """Where a requirement was written.

    For XML: ``tag`` is the element name, ``attrs`` its attributes, ``line`` its line. For
    a key-path language (tmt): ``tag`` is the key path, ``attrs`` may hold ``("value",
    text)``, ``language`` is ``"tmt"``.
    """

    tag: str
    attrs: tuple[tuple[str, str], ...] = ()
    line: int | None = None
    language: str = "xml"

    def __str__(self) -> str:
        if self.language == "xml":
            attrs = "".join(f' {name}="{_quote(value)}"' for name, value in self.attrs)
            text = f"<{self.tag}{attrs}>"
        else:
            tag = excerpt(self.tag, _SHOWN_PATH)
            text = tag + "".join(f": {excerpt(value, _SHOWN)}" for _, value in self.attrs)
        return f"{text} (line {self.line})" if self.line is not None else text


def describe(where: Where) -> str:
    """``<memory op=">=" value="4096"> (line 3)`` for an XML element, ``str(loc)`` for a Loc."""
    if isinstance(where, Loc):
        return str(where)
    return str(Loc(where.tag, tuple(where.items()), where.sourceline))  # type: ignore[arg-type]


def _names(names: Iterable[str]) -> frozenset[str]:
    return frozenset(names)


@attrs.frozen
class Target:
    """What the requirements are compared with: one provider's guests.

    ``lab`` is the FQDN of the lab the provider serves; ``None`` means unknown (the
    ``virtprov check`` command without ``--lab``): lab requirements are then assumed to
    hold, with a warning.

    ``declared`` names the properties (:mod:`~virtprov.hostrequires.properties`) that
    some flavor of the provider declares: a requirement on any other property cannot be
    met by a guest here (Beaker's default-deny). It does not take part in equality.
    """

    hypervisor: str = "KVM"
    arches: tuple[str, ...] = ("x86_64", "i386")
    lab: str | None = None
    system_type: str = "Machine"
    declared: frozenset[str] = attrs.field(default=frozenset(), converter=_names, eq=False)

    @classmethod
    def from_info(cls, info: ProviderInfo, flavors: Iterable[Flavor] = ()) -> Target:
        """The target of a provider; ``flavors`` (its flavor list) tell what is declared."""
        return cls(
            hypervisor=info.hypervisor,
            arches=tuple(info.arches),
            lab=info.lab,
            system_type=info.system_type,
            declared=properties.declared_names(flavor.properties for flavor in flavors),
        )

    @classmethod
    def coerce(cls, target: Target | ProviderInfo) -> Target:
        return target if isinstance(target, Target) else cls.from_info(target)


# The dimensions a flavor has, and how a reason names a flavor's value in each.
SIZE_DIMENSIONS: dict[str, Callable[[int], str]] = {
    "ram_mib": lambda value: f"{value} MiB RAM",
    "vcpus": lambda value: f"{value} vCPUs",
    "disk_bytes": lambda value: f"a {format_bytes(value)} root disk",
}


class Candidates:
    """A flavor list prepared for evaluation against one target.

    Prepare once per flavor list (a scheduler asks for every queued recipe against the same
    provider's flavors); evaluating a document is then a few bit operations per element.

    A candidate is a (flavor, arch) pair: a flavor without a declared arch runs each arch
    the target offers. Candidates are numbered cheapest first (``Flavor.sort_key``), so
    the lowest set bit of a mask is the flavor Beaker would choose.
    """

    __slots__ = (
        "all",
        "arch_lookup",
        "arch_masks",
        "arches",
        "declared",
        "declared_masks",
        "defaults",
        "eligible",
        "flavor_masks",
        "flavor_of",
        "flavors",
        "folded_arch_masks",
        "index",
        "target",
        "unfit",
        "values",
    )

    def __init__(
        self,
        flavors: Iterable[Flavor],
        target: Target | ProviderInfo,
        *,
        defaults: Defaults | None = None,
    ) -> None:
        self.target = Target.coerce(target)
        self.defaults = defaults
        self.flavors: tuple[Flavor, ...] = tuple(sorted(flavors, key=Flavor.sort_key))
        arches: list[str] = []
        flavor_of: list[int] = []
        masks: list[int] = []
        for number, flavor in enumerate(self.flavors):
            first = len(arches)
            if flavor.arch is None:
                runs: tuple[str, ...] = self.target.arches
            else:  # a flavor of an arch the provider does not offer has no candidate
                runs = (flavor.arch,) if flavor.arch in self.target.arches else ()
            for arch in runs:
                arches.append(arch)
                flavor_of.append(number)
            masks.append(((1 << len(arches)) - 1) ^ ((1 << first) - 1))
        self.arches: tuple[str, ...] = tuple(arches)
        self.flavor_of: tuple[int, ...] = tuple(flavor_of)
        self.flavor_masks: tuple[int, ...] = tuple(masks)
        self.all = (1 << len(arches)) - 1
        self.values: dict[str, tuple[int, ...]] = {
            dim: tuple(getattr(self.flavors[f], dim) for f in flavor_of) for dim in SIZE_DIMENSIONS
        }
        self.index: dict[str, tuple[list[int], list[int]]] = {}
        for dim, values in self.values.items():
            order = sorted(range(len(values)), key=values.__getitem__)
            prefix = [0]
            for position in order:
                prefix.append(prefix[-1] | (1 << position))
            self.index[dim] = ([values[p] for p in order], prefix)
        self.arch_masks: dict[str, int] = {}
        for position, arch in enumerate(arches):
            self.arch_masks[arch] = self.arch_masks.get(arch, 0) | (1 << position)
        #: the same by the arch's case-folded name (arches compare ignoring case)
        self.folded_arch_masks: dict[str, int] = {}
        #: arch_mask's answers (a few arch names recur in every document)
        self.arch_lookup: dict[str, int] = dict(self.arch_masks)
        for arch, arch_mask in self.arch_masks.items():
            folded = fold(arch)
            self.folded_arch_masks[folded] = self.folded_arch_masks.get(folded, 0) | arch_mask
        # Rules applied after the filter, whatever the document says.
        self.unfit: dict[int, tuple[str, ...]] = {}
        eligible = self.all
        for number, flavor in enumerate(self.flavors):
            why = _unfit(flavor, defaults, self.target)
            if why:
                self.unfit[number] = why
                eligible &= ~self.flavor_masks[number]
        self.eligible = eligible
        #: per flavor: its declared properties, read (see properties.declared)
        self.declared: tuple[dict[str, Any], ...] = tuple(
            properties.declared(flavor.properties) for flavor in self.flavors
        )
        #: masks of the declared-property tests asked so far (few distinct ones recur)
        self.declared_masks: dict[tuple[Any, ...], int] = {}

    def declared_mask(
        self, name: str, kind: str, op: str, value: Any, pattern: Pattern | None
    ) -> int:
        """The candidates whose flavor declares ``name`` with a value meeting ``op value``."""
        key = (name, op, value, kind)
        mask = self.declared_masks.get(key)
        if mask is None:
            mask = 0
            for number, values in enumerate(self.declared):
                if properties.meets(kind, values.get(name), op, value, pattern):
                    mask |= self.flavor_masks[number]
            self.declared_masks[key] = mask
        return mask

    def arch_mask(self, value: str) -> int:
        """The candidates running arch ``value`` (ignoring case)."""
        found = self.arch_lookup.get(value)
        if found is None:
            found = self.folded_arch_masks.get(fold(value), 0)
            if len(self.arch_lookup) < _REMEMBERED_ARCHES:  # bounded: names are the user's
                self.arch_lookup[value] = found
        return found

    def size_mask(
        self, dim: str, op: str, value: int | Fraction, high: int | Fraction | None = None
    ) -> int:
        """The candidates whose ``dim`` meets ``op value`` (``value..high``: a span, as
        :func:`~virtprov.hostrequires.quantities.span_holds` compares)."""
        if high is not None and op not in (">=", "<"):
            if op in ("<=", ">"):
                value = high
            else:
                inside = self.size_mask(dim, ">=", value) & self.size_mask(dim, "<=", high)
                return inside if op == "=" else self.all ^ inside
        values, prefix = self.index[dim]
        if op == ">=":
            return self.all ^ prefix[bisect_left(values, value)]
        if op == "<=":
            return prefix[bisect_right(values, value)]
        if op == ">":
            return self.all ^ prefix[bisect_right(values, value)]
        if op == "<":
            return prefix[bisect_left(values, value)]
        equal = prefix[bisect_right(values, value)] ^ prefix[bisect_left(values, value)]
        return equal if op == "=" else self.all ^ equal

    def flavors_in(self, mask: int) -> list[Flavor]:
        """The flavors having at least one candidate in ``mask``, cheapest first."""
        return [
            flavor
            for flavor, flavor_mask in zip(self.flavors, self.flavor_masks, strict=True)
            if mask & flavor_mask
        ]

    def candidates_of(self, number: int) -> range:
        mask = self.flavor_masks[number]
        return range((mask & -mask).bit_length() - 1 if mask else 0, mask.bit_length())


def _unfit(flavor: Flavor, defaults: Defaults | None, target: Target) -> tuple[str, ...]:
    why = []
    if flavor.arch is not None and flavor.arch not in target.arches:
        why.append(f"its arch {flavor.arch} is not one the provider offers")
    if flavor.disk_bytes < MIN_ROOT_DISK_BYTES:
        why.append(
            f"its root disk ({format_bytes(flavor.disk_bytes)}) is under the "
            f"{format_bytes(MIN_ROOT_DISK_BYTES)} an installed system needs"
        )
    if defaults is not None:
        if flavor.ram_mib < defaults.default_guest_memory_mib:
            why.append(
                f"its RAM ({flavor.ram_mib} MiB) is under the default guest memory "
                f"({defaults.default_guest_memory_mib} MiB)"
            )
        if flavor.disk_bytes < defaults.default_guest_disk_bytes:
            why.append(
                f"its disk ({format_bytes(flavor.disk_bytes)}) is under the default guest "
                f"disk size ({format_bytes(defaults.default_guest_disk_bytes)})"
            )
    return tuple(why)


class Node(Protocol):
    """What every compiled node offers. ``explain``/``why_not`` are only asked on failure."""

    @property
    def loc(self) -> Where: ...

    def mask(self, c: Candidates) -> int:
        """The candidates that satisfy this node."""
        ...

    def holds(self, c: Candidates, i: int) -> bool:
        """Whether candidate ``i`` satisfies this node."""
        ...

    def explain(self, c: Candidates, i: int) -> list[str]:
        """Why candidate ``i`` does not satisfy this node."""
        ...

    def tri(self, t: Target, arch: str) -> int:
        """``NO``, ``DEPENDS`` or ``YES``: could a guest of ``t`` running ``arch`` satisfy it?"""
        ...

    def why_not(self, t: Target, arch: str) -> list[str]:
        """Why ``tri`` is ``NO``."""
        ...


def _all_mask(children: tuple[Node, ...], c: Candidates) -> int:
    """The candidates that satisfy every one of ``children``."""
    result = c.all
    for child in children:
        result &= child.mask(c)
        if not result:
            break
    return result


def _decided_by(decisive: int, children: tuple[Node, ...], t: Target, arch: str) -> int:
    """The :meth:`Node.tri` of an ``<and>`` (``decisive``: ``NO``, as one child's ``NO``
    decides it) or an ``<or>`` (``YES``); else ``DEPENDS`` if a child depends."""
    result = YES - decisive
    for child in children:
        answer = child.tri(t, arch)
        if answer == decisive:
            return decisive
        if answer == DEPENDS:
            result = DEPENDS
    return result


class AllOf(NamedTuple):
    """``<and>`` and every container (``<system>``, ``<cpu>``, ``<disk>``, unknown tags)."""

    children: tuple[Node, ...]
    loc: Where

    def mask(self, c: Candidates) -> int:
        return _all_mask(self.children, c)

    def holds(self, c: Candidates, i: int) -> bool:
        return all(child.holds(c, i) for child in self.children)

    def explain(self, c: Candidates, i: int) -> list[str]:
        return first_reasons(
            r for child in self.children if not child.holds(c, i) for r in child.explain(c, i)
        )

    def tri(self, t: Target, arch: str) -> int:
        return _decided_by(NO, self.children, t, arch)

    def why_not(self, t: Target, arch: str) -> list[str]:
        return first_reasons(
            r for ch in self.children if ch.tri(t, arch) == NO for r in ch.why_not(t, arch)
        )


class AnyOf(NamedTuple):
    """``<or>``: any child. An empty ``<or/>`` matches nothing, as in Beaker."""

    children: tuple[Node, ...]
    loc: Where

    def mask(self, c: Candidates) -> int:
        result = 0
        for child in self.children:
            result |= child.mask(c)
            if result == c.all:
                break
        return result

    def holds(self, c: Candidates, i: int) -> bool:
        return any(child.holds(c, i) for child in self.children)

    def _none(self, reasons: Iterable[str]) -> list[str]:
        if not self.children:
            return [
                f"{describe(self.loc)} is empty, and an empty <or/> matches nothing (as in Beaker)"
            ]
        return [f"{describe(self.loc)}: no alternative holds: " + "; ".join(reasons)]

    def explain(self, c: Candidates, i: int) -> list[str]:
        return self._none(first_reasons(r for ch in self.children for r in ch.explain(c, i)))

    def tri(self, t: Target, arch: str) -> int:
        return _decided_by(YES, self.children, t, arch)

    def why_not(self, t: Target, arch: str) -> list[str]:
        return self._none(first_reasons(r for ch in self.children for r in ch.why_not(t, arch)))


class NoneOf(NamedTuple):
    """``<not>``: everything except what satisfies all its children.

    A child no guest can satisfy excludes nothing, so ``<not><device .../></not>`` holds.
    """

    children: tuple[Node, ...]
    loc: Where

    def mask(self, c: Candidates) -> int:
        return c.all ^ _all_mask(self.children, c)

    def holds(self, c: Candidates, i: int) -> bool:
        return not all(child.holds(c, i) for child in self.children)

    def explain(self, c: Candidates, i: int) -> list[str]:
        return [f"{describe(self.loc)}: the flavor satisfies what it excludes"]

    def tri(self, t: Target, arch: str) -> int:
        return YES - AllOf(self.children, self.loc).tri(t, arch)

    def why_not(self, t: Target, arch: str) -> list[str]:
        return [f"{describe(self.loc)}: every guest here satisfies what it excludes"]


class TargetTest(NamedTuple):
    """A property of the provider, the same for all its flavors: all or none.

    ``attr`` is ``lab``, ``hypervisor`` or ``system_type`` (a :class:`Target` field).
    """

    attr: str
    op: str
    value: str
    pattern: Pattern | None
    loc: Where

    def _holds(self, t: Target) -> bool:
        actual: str | None = getattr(t, self.attr)
        if actual is None:  # unknown lab: assumed to hold (a warning says so)
            return True
        if self.attr == "lab" and not self.value:
            return False  # Beaker: an empty lab controller matches none
        return compare_text(self.op, actual, self.value, self.pattern)

    def mask(self, c: Candidates) -> int:
        return c.all if self._holds(c.target) else 0

    def holds(self, c: Candidates, i: int) -> bool:
        return self._holds(c.target)

    def explain(self, c: Candidates, i: int) -> list[str]:
        return self.why_not(c.target, c.arches[i])

    def tri(self, t: Target, arch: str) -> int:
        return YES if self._holds(t) else NO

    def why_not(self, t: Target, arch: str) -> list[str]:
        if self.attr == "lab":
            if not self.value:
                return [
                    f"{describe(self.loc)}: an empty lab controller matches none (as in Beaker)"
                ]
            return [f"{describe(self.loc)} not met: this provider serves lab {t.lab}"]
        if self.attr == "hypervisor":
            bare = " (an empty hypervisor means bare metal)" if not self.value else ""
            return [f"{describe(self.loc)} not met: guests here run on {t.hypervisor}{bare}"]
        return [f"{describe(self.loc)} not met: a guest's system type is {t.system_type}"]


class ArchTest(NamedTuple):
    """An architecture requirement: met by candidates running a matching arch."""

    op: str
    value: str
    pattern: Pattern | None
    loc: Where

    def _holds(self, arch: str) -> bool:
        return compare_text(self.op, arch, self.value, self.pattern)

    def mask(self, c: Candidates) -> int:
        result = 0
        for arch, arch_mask in c.arch_masks.items():
            if self._holds(arch):
                result |= arch_mask
        return result

    def holds(self, c: Candidates, i: int) -> bool:
        return self._holds(c.arches[i])

    def explain(self, c: Candidates, i: int) -> list[str]:
        return [f"{describe(self.loc)} not met by {c.arches[i]}"]

    def tri(self, t: Target, arch: str) -> int:
        return YES if self._holds(arch) else NO

    def why_not(self, t: Target, arch: str) -> list[str]:
        if any(self._holds(offered) for offered in t.arches):
            return [f"{describe(self.loc)} not met by {arch}"]  # another arch meets it
        return [
            f"{describe(self.loc)} not met: this provider offers {', '.join(t.arches) or 'no arch'}"
        ]


class SizeTest(NamedTuple):
    """``op(flavor.<dim>, value)`` for ``ram_mib``, ``vcpus`` or ``disk_bytes``.

    ``value`` is a Fraction when a size is not a whole number of the dimension's unit
    (``memory: >= 8 GB`` is 7629.39... MiB): comparisons stay exact. ``high``, when not
    None, makes the value the span ``value..high`` of a size written with a decimal unit
    (``8 GB``: 7629.39... to 8192 MiB; see :func:`~virtprov.hostrequires.quantities.
    span_holds`).
    """

    dim: str
    op: str
    value: int | Fraction
    loc: Where
    high: int | Fraction | None = None

    def mask(self, c: Candidates) -> int:
        return c.size_mask(self.dim, self.op, self.value, self.high)

    def holds(self, c: Candidates, i: int) -> bool:
        return span_holds(self.op, c.values[self.dim][i], self.value, self.high)

    def explain(self, c: Candidates, i: int) -> list[str]:
        have = SIZE_DIMENSIONS[self.dim](c.values[self.dim][i])
        return [f"{describe(self.loc)} not met: the flavor has {have}"]

    def tri(self, t: Target, arch: str) -> int:
        return DEPENDS

    def why_not(self, t: Target, arch: str) -> list[str]:  # pragma: no cover - never NO
        return []


class Unsatisfiable(NamedTuple):
    """A requirement on something a guest does not offer (default-deny).

    ``feature`` names it independently of the front end (``hostname``, ``device``,
    ``system.vendor-name``...; see :mod:`~virtprov.hostrequires.semantics`), with the
    requested ``op`` and ``value``. Its negation (``!=``, ``!~``) is not one: a new VM is
    not the system named, so the front ends compile that to a requirement every guest
    meets (:func:`always`).
    """

    feature: str
    op: str
    value: str
    loc: Where

    def mask(self, c: Candidates) -> int:
        return 0

    def holds(self, c: Candidates, i: int) -> bool:
        return False

    def explain(self, c: Candidates, i: int) -> list[str]:
        return self.why_not(c.target, c.arches[i])

    def tri(self, t: Target, arch: str) -> int:
        return NO

    def why_not(self, t: Target, arch: str) -> list[str]:
        return [
            f"{describe(self.loc)}: a virtual machine cannot satisfy a {self.feature} requirement"
        ]


class DeclaredTest(NamedTuple):
    """A requirement on a property a flavor may *declare* (:mod:`.properties`).

    Met by the flavors declaring a value that meets it; by none when no flavor declares
    the property (Beaker's default-deny, which is also the answer without a flavor list).
    ``value`` is read by the property's ``kind``: a word, a number, bytes, MHz, a flag.
    """

    name: str
    kind: str
    op: str
    value: Any
    pattern: Pattern | None
    loc: Where

    def mask(self, c: Candidates) -> int:
        return c.declared_mask(self.name, self.kind, self.op, self.value, self.pattern)

    def holds(self, c: Candidates, i: int) -> bool:
        have = c.declared[c.flavor_of[i]].get(self.name)
        return properties.meets(self.kind, have, self.op, self.value, self.pattern)

    def explain(self, c: Candidates, i: int) -> list[str]:
        have = c.declared[c.flavor_of[i]].get(self.name)
        if have is None:
            return [f"{describe(self.loc)} not met: the flavor does not declare {self.name}"]
        return [
            f"{describe(self.loc)} not met: the flavor declares {self.name} {properties.show(have)}"
        ]

    def tri(self, t: Target, arch: str) -> int:
        return DEPENDS if self.name in t.declared else NO

    def why_not(self, t: Target, arch: str) -> list[str]:
        return [
            f"{describe(self.loc)}: a virtual machine cannot satisfy a {self.name} "
            f"requirement: no flavor here declares {self.name}"
        ]


def always(loc: Where) -> AllOf:
    """A node every guest satisfies (a requirement with no value imposes nothing)."""
    return AllOf((), loc)


#: Reasons given for one flavor, one verdict or one <or>: the first ones say what to
#: change, and a document of a thousand unmet requirements must not make a thousand
#: lines per flavor (nor the time to make them).
MAX_REASONS = 10
LEFT_OUT = "(further reasons left out)"


def first_reasons(reasons: Iterable[str]) -> list[str]:
    """At most :data:`MAX_REASONS` of ``reasons`` (the rest is never computed)."""
    shown = list(islice(reasons, MAX_REASONS + 1))
    if len(shown) > MAX_REASONS:
        shown[MAX_REASONS:] = [LEFT_OUT]
    return shown


def dedupe(reasons: Iterable[str]) -> tuple[str, ...]:
    """The distinct reasons, in order, at most :data:`MAX_REASONS` of them."""
    distinct: dict[str, None] = {}
    for reason in reasons:
        if reason not in distinct:
            if len(distinct) == MAX_REASONS:
                distinct[LEFT_OUT] = None
                break
            distinct[reason] = None
    return tuple(distinct)


def across(guests: Iterable[tuple[str, list[str]]]) -> tuple[str, ...]:
    """The reasons of a "no" for several guests (a flavor's, or a provider's: one per arch
    it runs), given each guest's own: those true of every guest, which say why none can;
    or, when no reason is, each guest's own, named by its arch. So a requirement one of
    the guests meets is never given as the reason for all (``<arch value="x86_64"/>`` is
    not "unmet" because an i386 guest would not meet it)."""
    listed = [(arch, reasons) for arch, reasons in guests]
    if not listed:
        return ()
    if len(listed) == 1:
        return dedupe(listed[0][1])
    common = [
        r for r in listed[0][1] if r != LEFT_OUT and all(r in others for _, others in listed[1:])
    ]
    if common:
        cut = any(LEFT_OUT in reasons for _, reasons in listed)  # some were never computed
        return dedupe([*common, LEFT_OUT] if cut else common)
    return dedupe(f"as {arch}: {reason}" for arch, reasons in listed for reason in reasons)


def masked_parts(root: Node, c: Candidates) -> tuple[tuple[Node, int], ...]:
    """The requirements of an ``<and>`` root (through lone nested ``<and>``s), each with
    the candidates satisfying it: the question explaining each flavor asks of every one
    of them, asked once for all flavors (empty for any other root)."""
    while isinstance(root, AllOf) and len(root.children) == 1:
        if not isinstance(root.children[0], AllOf):
            break
        root = root.children[0]
    if not isinstance(root, AllOf):
        return ()
    return tuple((child, child.mask(c)) for child in root.children)


def explain_flavor(
    root: Node,
    c: Candidates,
    number: int,
    matched: int | None = None,
    parts: tuple[tuple[Node, int], ...] = (),
) -> tuple[str, ...]:
    """Why flavor ``number`` of ``c`` was removed (by the document or by the fixed rules).

    ``matched``: the candidates satisfying ``root``, when known (it saves asking);
    ``parts``: :func:`masked_parts` of ``root``, when known.
    """

    def explain(i: int) -> Iterable[str]:
        if not parts:
            return root.explain(c, i)
        return first_reasons(
            reason for child, mask in parts if not mask >> i & 1 for reason in child.explain(c, i)
        )

    candidates = c.candidates_of(number)
    if matched is None:
        met = any(root.holds(c, i) for i in candidates)
    else:
        met = any(matched >> i & 1 for i in candidates)
    if met:  # the document is met (as one of its arches): only the fixed rules removed it
        return c.unfit.get(number, ())
    reasons = across((c.arches[i], list(explain(i))) for i in candidates)
    return reasons + c.unfit.get(number, ())


__all__ = [
    "DEPENDS",
    "MIN_ROOT_DISK_BYTES",
    "NO",
    "OPERATORS",
    "YES",
    "AllOf",
    "AnyOf",
    "ArchTest",
    "Candidates",
    "DeclaredTest",
    "Loc",
    "Node",
    "NoneOf",
    "SizeTest",
    "Target",
    "TargetTest",
    "Unsatisfiable",
    "across",
    "always",
    "explain_flavor",
    "like_pattern",
    "masked_parts",
]
