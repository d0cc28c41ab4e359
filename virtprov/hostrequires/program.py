"""The evaluation form of a host filter: the node tree folded into plain tuples.

:mod:`~virtprov.hostrequires.compiled` nodes carry everything a reason needs; evaluating
them costs a method call and a named tuple per element. A scheduler asks every queued
recipe on every pass, so the questions are answered from this smaller form instead:

* requirements no guest can meet (``Unsatisfiable``) and requirements with no value are
  folded away when compiling: an ``<and>`` holding one is false, an ``<or>`` drops it...
* every node is a tuple ``(kind, static, ...)``: ``static`` is the node's
  :meth:`~virtprov.hostrequires.compiled.Node.tri` when it does not depend on the target
  (sizes are always ``DEPENDS``), so :func:`tri` only walks what names an arch or a
  provider property;
* a size test is a binary search in the values :class:`Candidates` sorted once.

The two forms answer alike (``tests/hostrequires/test_hr_program.py`` checks it); reasons
are still made from the node tree, built only when a reason is asked for.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from virtprov.hostrequires.compiled import (
    DEPENDS,
    NO,
    YES,
    AllOf,
    AnyOf,
    ArchTest,
    Candidates,
    DeclaredTest,
    Node,
    NoneOf,
    SizeTest,
    Target,
    TargetTest,
    Unsatisfiable,
)
from virtprov.hostrequires.patterns import fold

if TYPE_CHECKING:
    from typing import TypeAlias

    #: ``(kind, static tri or None, ...)``; see the layouts below.
    Program: TypeAlias = tuple[Any, ...]

# Kinds. Layouts:
#   (AND | OR, static, children)    children: tuple of programs, never TRUE or FALSE
#   (NOT, static, inner)            inner: the <and> of the <not>'s children
#   (SIZE, DEPENDS, dim, op, value) dim: a Candidates.index key, op: an opcode below
#   (ARCH, None, op, value, pattern)
#   (TARGET, None, attr, op, value, pattern)
#   (DECLARED, None, name, kind, op, value, pattern)   op: the operator's text
#   TRUE, FALSE                     only ever a whole document
AND, OR, NOT, SIZE, ARCH, TARGET, CONSTANT, DECLARED = range(8)
TRUE: Program = (CONSTANT, YES, True)
FALSE: Program = (CONSTANT, NO, False)

# Opcodes: the order of compiled.OPERATORS.
EQ, NE, LT, LE, GT, GE, LIKE, MATCH = range(8)
OPCODES: dict[str, int] = {
    "=": EQ,
    "!=": NE,
    "<": LT,
    "<=": LE,
    ">": GT,
    ">=": GE,
    "like": LIKE,
    "~": MATCH,
}


def fold_all(children: list[Program], kind: int = AND) -> Program:
    """``<and>`` (or the inside of a ``<not>``) of folded children; TRUE ones dropped."""
    kept = [child for child in children if child is not TRUE]
    folded = _container(kept, AND) if kept else TRUE
    for child in kept:
        if child is FALSE:
            folded = FALSE
            break
    return folded if kind == AND else negate(folded)


def fold_any(children: list[Program]) -> Program:
    """``<or>`` of folded children; FALSE ones dropped."""
    kept = [child for child in children if child is not FALSE]
    if not kept:
        return FALSE
    for child in kept:
        if child is TRUE:
            return TRUE
    return _container(kept, OR)


def _container(children: list[Program], kind: int) -> Program:
    if len(children) == 1:
        return children[0]  # a one-child <and>/<or> answers what its child answers
    static: int | None
    statics = [child[1] for child in children]
    if None in statics:
        static = None
    elif kind == AND:
        static = min(statics)  # NO < DEPENDS < YES
    else:
        static = max(statics)
    return (kind, static, tuple(children))


def negate(inner: Program) -> Program:
    if inner is TRUE:
        return FALSE
    if inner is FALSE:
        return TRUE
    static = inner[1]
    return (NOT, None if static is None else YES - static, inner)


def from_node(node: Node) -> Program:
    """The evaluation form of a node tree (for front ends that build nodes directly)."""
    if isinstance(node, AllOf):
        return fold_all([from_node(child) for child in node.children])
    if isinstance(node, AnyOf):
        return fold_any([from_node(child) for child in node.children])
    if isinstance(node, NoneOf):
        return fold_all([from_node(child) for child in node.children], NOT)
    if isinstance(node, SizeTest):
        return size_program(node.dim, OPCODES[node.op], node.value, node.high)
    if isinstance(node, ArchTest):
        return (ARCH, None, OPCODES[node.op], node.value, node.pattern)
    if isinstance(node, TargetTest):
        return (TARGET, None, node.attr, OPCODES[node.op], node.value, node.pattern)
    if isinstance(node, DeclaredTest):
        return (DECLARED, None, node.name, node.kind, node.op, node.value, node.pattern)
    if isinstance(node, Unsatisfiable):
        return FALSE
    raise TypeError(f"not a compiled node: {node!r}")


def declared_names(node: Program) -> frozenset[str]:
    """The declarable properties a program asks about (see :mod:`.properties`)."""
    kind = node[0]
    if kind == AND or kind == OR:  # noqa: SIM109 - no tuple built per node (hot)
        return frozenset().union(*(declared_names(child) for child in node[2]))
    if kind == NOT:
        return declared_names(node[2])
    return frozenset((node[2],)) if kind == DECLARED else frozenset()


def compare(op: int, left: str, value: str, pattern: Any) -> bool:
    """Text compared ignoring case, as :func:`~virtprov.hostrequires.compiled.compare_text`.

    Case-folding keeps the length (one character for one), so texts of two lengths are
    never equal: most answers need no folding."""
    if op == EQ:
        return left == value or (len(left) == len(value) and fold(left) == fold(value))
    if op == NE:
        return left != value and (len(left) != len(value) or fold(left) != fold(value))
    if op in (LIKE, MATCH):
        return bool(pattern.matches(left))
    left, value = fold(left), fold(value)
    if op == LT:
        return left < value
    if op == LE:
        return left <= value
    if op == GT:
        return left > value
    return left >= value


def size_program(dim: str, op: int, low: int | Fraction, high: int | Fraction | None) -> Program:
    """The program of a size test: ``op(flavor's dim, low)``, or, for a span ``low..high``
    (a size written with a decimal unit), what :func:`~virtprov.hostrequires.quantities.
    span_holds` means by it, in plain size tests."""
    if high is None or op in (GE, LT):
        return (SIZE, DEPENDS, dim, op, low)
    if op in (LE, GT):
        return (SIZE, DEPENDS, dim, op, high)
    if op == EQ:
        return (AND, DEPENDS, ((SIZE, DEPENDS, dim, GE, low), (SIZE, DEPENDS, dim, LE, high)))
    return (OR, DEPENDS, ((SIZE, DEPENDS, dim, LT, low), (SIZE, DEPENDS, dim, GT, high)))


def target_holds(node: Program, t: Target) -> bool:
    """A ``TARGET`` node: see :class:`~virtprov.hostrequires.compiled.TargetTest`."""
    _, _, attr, op, value, pattern = node
    actual: str | None = getattr(t, attr)
    if actual is None:  # unknown lab: assumed to hold (a warning says so)
        return True
    if attr == "lab" and not value:
        return False  # Beaker: an empty lab controller matches none
    return compare(op, actual, value, pattern)


def mask(node: Program, c: Candidates) -> int:
    """The candidates of ``c`` satisfying ``node``, as :meth:`Node.mask` gives them."""
    kind = node[0]
    if kind == SIZE:
        values, prefix = c.index[node[2]]
        op, value = node[3], node[4]
        if op == GE:
            return c.all ^ prefix[bisect_left(values, value)]
        if op == LE:
            return prefix[bisect_right(values, value)]
        if op == GT:
            return c.all ^ prefix[bisect_right(values, value)]
        if op == LT:
            return prefix[bisect_left(values, value)]
        equal = prefix[bisect_right(values, value)] ^ prefix[bisect_left(values, value)]
        return equal if op == EQ else c.all ^ equal
    if kind == AND:
        result = c.all
        for child in node[2]:
            result &= mask(child, c)
            if not result:
                break
        return result
    if kind == OR:
        result = 0
        everything = c.all
        for child in node[2]:
            result |= mask(child, c)
            if result == everything:
                break
        return result
    if kind == NOT:
        return c.all ^ mask(node[2], c)
    if kind == ARCH:
        _, _, op, value, pattern = node
        if op == EQ:
            found = c.arch_lookup.get(value)
            return c.arch_mask(value) if found is None else found
        result = 0
        for arch, arch_mask in c.arch_masks.items():
            if compare(op, arch, value, pattern):
                result |= arch_mask
        return result
    if kind == TARGET:
        return c.all if target_holds(node, c.target) else 0
    if kind == DECLARED:
        _, _, name, declared_kind, op, value, pattern = node
        return c.declared_mask(name, declared_kind, op, value, pattern)
    return c.all if node is TRUE else 0


def tri(node: Program, t: Target, arch: str) -> int:
    """``NO``, ``DEPENDS`` or ``YES``, as :meth:`Node.tri` gives them."""
    static: int | None = node[1]
    if static is not None:
        return static
    kind = node[0]
    if kind == AND or kind == OR:  # noqa: SIM109 - no tuple built per node (hot)
        # A child's NO decides an <and>, a YES an <or>; else either depends if a child does.
        decisive = NO if kind == AND else YES
        result = YES - decisive
        for child in node[2]:
            answer = tri(child, t, arch)
            if answer == decisive:
                return decisive
            if answer == DEPENDS:
                result = DEPENDS
        return result
    if kind == NOT:
        return YES - tri(node[2], t, arch)
    if kind == ARCH:
        return YES if compare(node[2], arch, node[3], node[4]) else NO
    if kind == DECLARED:
        return DEPENDS if node[2] in t.declared else NO
    return YES if target_holds(node, t) else NO


__all__ = [
    "AND",
    "ARCH",
    "CONSTANT",
    "DECLARED",
    "FALSE",
    "NOT",
    "OPCODES",
    "OR",
    "SIZE",
    "TARGET",
    "TRUE",
    "declared_names",
    "fold_all",
    "fold_any",
    "from_node",
    "mask",
    "size_program",
    "tri",
]
