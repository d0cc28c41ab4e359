"""What the evaluator answers: a verdict with reasons, and a flavor match with reasons."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from virtprov.hostrequires.compiled import Candidates, explain_flavor, masked_parts
from virtprov.model import Flavor

if TYPE_CHECKING:
    from virtprov.hostrequires.document import HostRequires


# Not slotted: ``reasons`` of a "no" may be computed on first use (cached_property), since
# a scheduler asking for every queued recipe mostly needs only the answer.
@attrs.frozen(slots=False, repr=False)
class Verdict:
    """Could the recipe ever run on a guest of this provider?

    ``reasons`` say why not (each names the element and its line); ``warnings`` report
    what was ignored or assumed (unknown elements, requirements without a value...).
    A verdict is truthy when the answer is yes.
    """

    virtualisable: bool
    _reasons: tuple[str, ...] | Callable[[], tuple[str, ...]] = attrs.field(
        default=(), alias="reasons", eq=False
    )
    warnings: tuple[str, ...] = ()

    @functools.cached_property
    def reasons(self) -> tuple[str, ...]:
        reasons = self._reasons
        return reasons() if callable(reasons) else reasons

    def __bool__(self) -> bool:
        return self.virtualisable

    def __repr__(self) -> str:
        return (
            f"Verdict(virtualisable={self.virtualisable!r}, reasons={self.reasons!r}, "
            f"warnings={self.warnings!r})"
        )


@attrs.frozen
class Removal:
    """A flavor the requirements (or the fixed rules) removed, and why."""

    flavor: Flavor
    reasons: tuple[str, ...]


# Not slotted: the lists below are computed on first use (cached_property), because a
# scheduler usually needs only ``chosen`` and reasons cost more than the match itself.
@attrs.frozen(slots=False)
class FlavorMatch:
    """The flavors that satisfy a document on one provider, cheapest first.

    ``chosen`` is the cheapest (smallest RAM, then disk, vCPUs, id), or ``None``.
    ``removed`` gives every other flavor with the reasons it was removed.
    """

    requires: HostRequires = attrs.field(repr=False, eq=False)
    candidates: Candidates = attrs.field(repr=False, eq=False)
    #: candidates satisfying the document, before the fixed rules (root disk, floor)
    matched: int = attrs.field(repr=False)
    #: candidates satisfying the document and the fixed rules
    selected: int = attrs.field(repr=False)

    @classmethod
    def of(
        cls, requires: HostRequires, candidates: Candidates, matched: int, selected: int
    ) -> FlavorMatch:
        """What ``FlavorMatch(...)`` makes, without attrs' frozen ``__init__`` (one
        ``object.__setattr__`` per field): a scheduler makes one per recipe and pass."""
        self = cls.__new__(cls)
        self.__dict__.update(
            requires=requires, candidates=candidates, matched=matched, selected=selected
        )
        return self

    @property
    def chosen(self) -> Flavor | None:
        selected = self.selected
        if not selected:
            return None
        lowest = (selected & -selected).bit_length() - 1
        return self.candidates.flavors[self.candidates.flavor_of[lowest]]

    @functools.cached_property
    def flavors(self) -> tuple[Flavor, ...]:
        return tuple(self.candidates.flavors_in(self.selected))

    @functools.cached_property
    def removed(self) -> tuple[Removal, ...]:
        c = self.candidates
        removals = []
        parts = None
        for number, flavor in enumerate(c.flavors):
            if self.selected & c.flavor_masks[number]:
                continue
            if self.requires.force:
                reasons: tuple[str, ...] = (self.requires.force_reason(),)
            else:
                if parts is None:  # what every flavor's reasons ask of each part, once
                    parts = masked_parts(self.requires.root, c)
                reasons = explain_flavor(self.requires.root, c, number, self.matched, parts)
            removals.append(Removal(flavor, reasons))
        return tuple(removals)

    @functools.cached_property
    def passed_over(self) -> tuple[Removal, ...]:
        """The removals that explain the answer. With a chosen flavor: those of the
        flavors cheaper than it that could run an arch it runs here (each would have been
        chosen but for its reasons); a flavor of another arch, or a dearer one, is not
        passed over. With no chosen flavor: every removal."""
        selected = self.selected
        if not selected:
            return self.removed
        c = self.candidates
        chosen = c.flavor_of[(selected & -selected).bit_length() - 1]
        arches = {c.arches[i] for i in c.candidates_of(chosen) if selected >> i & 1}
        cheaper = {
            id(flavor)
            for number, flavor in enumerate(c.flavors[:chosen])
            if any(c.arches[i] in arches for i in c.candidates_of(number))
        }
        return tuple(removal for removal in self.removed if id(removal.flavor) in cheaper)

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.requires.warnings_for(self.candidates.target)

    @property
    def reasons(self) -> tuple[str, ...]:
        """One line per removed flavor (``"m1.small: <memory ...> (line 3) not met..."``)."""
        return self.reasons_of(self.removed)

    def reasons_of(self, removals: tuple[Removal, ...]) -> tuple[str, ...]:
        """The lines of :attr:`reasons` for some of the removals (:attr:`passed_over`)."""
        if not self.candidates.flavors:
            return ("the provider offers no flavor",)
        return tuple(
            f"{removal.flavor.name}: {reason}" for removal in removals for reason in removal.reasons
        )

    def __bool__(self) -> bool:
        return bool(self.selected)
