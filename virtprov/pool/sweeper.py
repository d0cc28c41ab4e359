"""The sweeper: delete guests that carry this pool's labels but that nobody owns.

A guest is left alone when any of these holds: the caller says it owns it (by guest id
or recipe id: the scheduler's database is the truth, so a restarted process recovers),
the journal holds it for a launch not yet decided or an outcome not yet taken, or a
create with its name is in flight. Anything else is an orphan, deleted only once it has
been seen in ``sightings`` sweeps in a row (a guest whose create answer is a moment away
is not an orphan yet).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

import attrs

from virtprov.errors import ProviderError
from virtprov.model import LABEL_POOL, LABEL_RECIPE, Guest
from virtprov.pool.events import EventBus
from virtprov.pool.journal import HOLDING, Journal
from virtprov.provider import Provider


@attrs.frozen
class Orphan:
    provider: str
    guest_id: str
    name: str
    sightings: int
    deleted: bool


@attrs.frozen
class SweepReport:
    """What one sweep saw and did."""

    #: Guests carrying this pool's label, over every provider swept.
    seen: int
    #: Guests left alone because the caller or the journal owns them.
    owned: int
    orphans: tuple[Orphan, ...]
    #: Providers that could not be listed, with the error.
    errors: tuple[str, ...] = ()

    @property
    def deleted(self) -> tuple[Orphan, ...]:
        return tuple(o for o in self.orphans if o.deleted)


def sweep(
    *,
    pool: str,
    prefix: str,
    providers: Mapping[str, Provider],
    journal: Journal,
    events: EventBus,
    owned: Iterable[str] | None = None,
    sightings: int = 2,
    dry_run: bool = False,
) -> SweepReport:
    owned_set = None if owned is None else {str(x) for x in owned}
    seen = kept = 0
    orphans: list[Orphan] = []
    errors: list[str] = []
    now = time.time()
    for name, provider in providers.items():
        try:
            listed = [g for g in provider.list_guests(prefix) if g.labels.get(LABEL_POOL) == pool]
        except ProviderError as exc:
            errors.append(f"{name}: {exc.message}")
            continue
        seen += len(listed)
        protected = _protected(journal, name, owned_set)
        unowned = {g.id: g for g in listed if not _is_owned(g, protected, owned_set)}
        kept += len(listed) - len(unowned)
        for guest in unowned.values():
            events.emit("leak.found", provider=name, guest_id=guest.id, name=guest.name)
        if dry_run:
            counts = {guest_id: 1 for guest_id in unowned}
        else:
            counts = journal.sight(name, {i: g.name for i, g in unowned.items()}, now)
        for guest_id, guest in unowned.items():
            delete = counts[guest_id] >= sightings and not dry_run
            if delete:
                try:
                    provider.destroy_guest(guest_id)
                except ProviderError as exc:
                    errors.append(f"{name}: destroying {guest.name}: {exc.message}")
                    delete = False
                else:
                    events.emit("leak.removed", provider=name, guest_id=guest_id, name=guest.name)
            orphans.append(Orphan(name, guest_id, guest.name, counts[guest_id], delete))
    return SweepReport(seen=seen, owned=kept, orphans=tuple(orphans), errors=tuple(errors))


@attrs.frozen
class _Protected:
    ids: frozenset[str]
    names: frozenset[str]


def _protected(journal: Journal, provider: str, owned: set[str] | None) -> _Protected:
    """What the journal holds on ``provider`` that the sweeper must not touch."""
    ids: set[str] = set()
    names: set[str] = set()
    for row in journal.guests_in(HOLDING, provider):
        if row.guest_id is None:
            names.add(row.name)  # a create (or the cleanup of a lost one) in flight
            continue
        if row.state != "live":
            ids.add(row.guest_id)  # already being destroyed
            continue
        launch = journal.launch(row.recipe_id)
        # Until the caller has taken the outcome, it cannot have said it owns the guest.
        in_flight = launch is not None and (launch.state != "decided" or not launch.taken)
        if owned is None or in_flight:
            ids.add(row.guest_id)
    return _Protected(frozenset(ids), frozenset(names))


def _is_owned(guest: Guest, protected: _Protected, owned: set[str] | None) -> bool:
    if guest.id in protected.ids or guest.name in protected.names:
        return True
    if owned is None:
        return False
    return guest.id in owned or guest.labels.get(LABEL_RECIPE, "") in owned
