"""A compiled ``<hostRequires/>`` document and the questions it answers."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

from virtprov.hostrequires.compiled import NO, Candidates, Node, Target, across, describe
from virtprov.hostrequires.program import declared_names, from_node, mask, tri
from virtprov.hostrequires.verdict import FlavorMatch, Verdict
from virtprov.model import Flavor, ProviderInfo

if TYPE_CHECKING:
    from lxml import etree

    from virtprov.config import Defaults
    from virtprov.hostrequires.compiled import Where
    from virtprov.hostrequires.program import Program


_YES = Verdict(True)


# Not slotted: the node tree and the evaluation form are computed on first use
# (cached_property) when not given. Equality and hash are those of the node tree.
@attrs.frozen(slots=False, eq=False, repr=False)
class HostRequires:
    """A compiled host filter: immutable, reusable, safe to share between threads.

    Build it with :func:`virtprov.hostrequires.parse`. Ask :meth:`virtualisable` when the
    recipe is queued and :meth:`match` when a provider is about to create a guest.

    ``root`` is the node tree (:mod:`~virtprov.hostrequires.compiled`), which reasons are
    made from; the questions are answered from the folded ``program``
    (:mod:`~virtprov.hostrequires.program`). The XML front end gives only the program and
    builds the tree from the parsed element when a reason is first asked for.
    """

    _root: Node | None = attrs.field(alias="root")
    loc: Where = attrs.field(eq=False)
    force: str | None = None
    warnings: tuple[str, ...] = ()
    #: where lab requirements were written (they are assumed to hold for an unknown lab)
    lab_locs: tuple[Where, ...] = attrs.field(default=(), eq=False)
    _program: Program | None = attrs.field(default=None, alias="program", repr=False)

    @classmethod
    def compiled(
        cls,
        el: etree._Element,
        program: Program,
        warnings: tuple[str, ...],
        lab_locs: tuple[Where, ...],
    ) -> HostRequires:
        """The XML front end's result: the node tree is built from ``el`` when needed."""
        # attrs' frozen __init__ sets each field through object.__setattr__; this is the
        # per-document hot path, so fill the (unslotted) instance's dict at once.
        self = cls.__new__(cls)
        self.__dict__.update(
            _root=None,
            loc=el,
            force=None,
            warnings=warnings,
            lab_locs=lab_locs,
            _program=program,
            program=program,
        )
        return self

    @functools.cached_property
    def root(self) -> Node:
        if self._root is not None:
            return self._root
        from virtprov.hostrequires.parse import node_tree

        return node_tree(self.loc)  # type: ignore[arg-type]

    @functools.cached_property
    def program(self) -> Program:
        return self._program if self._program is not None else from_node(self.root)

    @functools.cached_property
    def declared(self) -> frozenset[str]:
        """The declarable properties (CPU flags, TPM...) the document asks about: only for
        these do a provider's flavors matter to :meth:`virtualisable`."""
        return declared_names(self.program)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, HostRequires)
        return (self.root, self.force, self.warnings) == (other.root, other.force, other.warnings)

    def __hash__(self) -> int:
        return hash((self.root, self.force, self.warnings))

    def __repr__(self) -> str:
        return (
            f"HostRequires(root={self.root!r}, loc={self.loc!r}, force={self.force!r}, "
            f"warnings={self.warnings!r}, lab_locs={self.lab_locs!r})"
        )

    def force_reason(self) -> str:
        return f'{describe(self.loc)}: force="{self.force}" asks for that exact system, never a VM'

    def warnings_for(self, target: Target) -> tuple[str, ...]:
        if target.lab is None and self.lab_locs and not self.force:
            assumed = tuple(
                f"{describe(loc)}: no lab given, assumed to match" for loc in self.lab_locs
            )
            return self.warnings + assumed
        return self.warnings

    def virtualisable(self, target: ProviderInfo | Target) -> Verdict:
        """Could a guest of this provider ever satisfy the document? With reasons if not.

        Static and cheap: no flavor list needed. Requirements on sizes count as
        satisfiable (some flavor may have them); :meth:`match` gives the final answer.
        """
        t = Target.coerce(target)
        warnings = self.warnings_for(t) if self.lab_locs else self.warnings
        if self.force:
            return Verdict(False, (self.force_reason(),), warnings)
        if not t.arches:
            return Verdict(False, ("the provider offers no architecture",), warnings)
        program = self.program
        static = program[1]
        if static is not None:  # no arch or provider property decides: same for every guest
            if static != NO:
                return Verdict(True, (), warnings) if warnings else _YES
        else:
            for arch in t.arches:
                if tri(program, t, arch) != NO:
                    return Verdict(True, (), warnings) if warnings else _YES

        def reasons() -> tuple[str, ...]:
            root = self.root
            return across((arch, root.why_not(t, arch)) for arch in t.arches)

        return Verdict(False, reasons, warnings)

    def match(
        self,
        flavors: Iterable[Flavor] | Candidates,
        target: ProviderInfo | Target | None = None,
        *,
        defaults: Defaults | None = None,
    ) -> FlavorMatch:
        """The flavors satisfying the document, cheapest first, and why the others do not.

        ``flavors`` is a flavor list (with ``target`` the provider's info) or a flavor set
        prepared once with :func:`virtprov.hostrequires.prepare` for many documents.
        ``defaults`` (flavorless providers' shape catalogues) drops shapes under the
        configured default guest memory and disk size.
        """
        if isinstance(flavors, Candidates):
            candidates = flavors
            if defaults is not None and defaults != candidates.defaults:
                raise ValueError("pass defaults to prepare(), not to match() of a prepared set")
            if target is not None and Target.coerce(target) != candidates.target:
                raise ValueError("the flavor set was prepared for another target")
        else:
            if target is None:
                raise TypeError("match() of a flavor list needs the provider's info")
            candidates = Candidates(flavors, target, defaults=defaults)
        matched = 0 if self.force else mask(self.program, candidates)
        return FlavorMatch.of(self, candidates, matched, matched & candidates.eligible)


@attrs.frozen
class RecipeRequires:
    """One recipe's requirements in a Beaker job: its id when the job has ids, its position.

    Also one provision phase of a tmt plan (``kind`` ``"phase"``, ``recipe_id`` its name).
    """

    position: int
    recipe_id: str | None
    requires: HostRequires
    line: int | None = None
    kind: str = "recipe"

    @property
    def label(self) -> str:
        if self.kind == "phase":
            return f"phase {self.recipe_id}" if self.recipe_id else f"phase #{self.position}"
        if self.recipe_id:
            return f"recipe R:{self.recipe_id}"
        return f"recipe #{self.position}"
