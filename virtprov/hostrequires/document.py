"""A compiled ``<hostRequires/>`` document and the questions it answers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

from virtprov.hostrequires.compiled import NO, Candidates, Node, Target, dedupe, describe
from virtprov.hostrequires.verdict import FlavorMatch, Verdict
from virtprov.model import Flavor, ProviderInfo

if TYPE_CHECKING:
    from virtprov.config import Defaults
    from virtprov.hostrequires.compiled import Where


_YES = Verdict(True)


@attrs.frozen
class HostRequires:
    """A compiled host filter: immutable, reusable, safe to share between threads.

    Build it with :func:`virtprov.hostrequires.parse`. Ask :meth:`virtualisable` when the
    recipe is queued and :meth:`match` when a provider is about to create a guest.
    """

    root: Node
    loc: Where = attrs.field(eq=False)
    force: str | None = None
    warnings: tuple[str, ...] = ()
    #: where lab requirements were written (they are assumed to hold for an unknown lab)
    lab_locs: tuple[Where, ...] = attrs.field(default=(), eq=False)

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
        warnings = self.warnings_for(t)
        if self.force:
            return Verdict(False, (self.force_reason(),), warnings)
        if not t.arches:
            return Verdict(False, ("the provider offers no architecture",), warnings)
        root = self.root
        for arch in t.arches:
            if root.tri(t, arch) != NO:
                return Verdict(True, (), warnings) if warnings else _YES

        def reasons() -> tuple[str, ...]:
            return dedupe(reason for arch in t.arches for reason in root.why_not(t, arch))

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
        matched = 0 if self.force else self.root.mask(candidates)
        return FlavorMatch(self, candidates, matched, matched & candidates.eligible)


@attrs.frozen
class RecipeRequires:
    """One recipe's requirements in a Beaker job: its id when the job has ids, its position."""

    position: int
    recipe_id: str | None
    requires: HostRequires
    line: int | None = None

    @property
    def label(self) -> str:
        if self.recipe_id:
            return f"recipe R:{self.recipe_id}"
        return f"recipe #{self.position}"
