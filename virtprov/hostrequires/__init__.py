"""The ``<hostRequires/>`` evaluator: could this recipe run on a VM, on which flavor, why not.

    from virtprov.hostrequires import parse, prepare

    hr = parse(xml_text)                       # compiled once, immutable, reusable
    verdict = hr.virtualisable(provider.info)  # Verdict: bool, reasons, warnings
    flavors = prepare(provider.flavors(), provider.info)   # once per flavor list
    match = hr.match(flavors)                  # FlavorMatch: flavors, chosen, removed

Importing this package imports lxml; ``import virtprov`` does not.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from virtprov.hostrequires.compiled import MIN_ROOT_DISK_BYTES, Candidates, Loc, Target
from virtprov.hostrequires.document import HostRequires, RecipeRequires
from virtprov.hostrequires.parse import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_ELEMENTS,
    MAX_JOB_BYTES,
    front_end,
    parse,
    parse_any,
    parse_job,
)
from virtprov.hostrequires.verdict import FlavorMatch, Removal, Verdict
from virtprov.model import Flavor, ProviderInfo

if TYPE_CHECKING:
    from virtprov.config import Defaults


def prepare(
    flavors: Iterable[Flavor], target: ProviderInfo | Target, *, defaults: Defaults | None = None
) -> Candidates:
    """Prepare a flavor list for many evaluations against one provider.

    ``defaults`` (for flavorless providers' shape catalogues) drops the shapes under the
    configured default guest memory and disk size.
    """
    return Candidates(flavors, target, defaults=defaults)


__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_ELEMENTS",
    "MAX_JOB_BYTES",
    "MIN_ROOT_DISK_BYTES",
    "Candidates",
    "FlavorMatch",
    "HostRequires",
    "Loc",
    "RecipeRequires",
    "Removal",
    "Target",
    "Verdict",
    "front_end",
    "parse",
    "parse_any",
    "parse_job",
    "prepare",
]
