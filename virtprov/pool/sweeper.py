"""The sweeper: delete what carries this pool's labels but that nobody owns.

**Guests.** A guest is left alone when any of these holds: the caller says it owns it
(by guest id or recipe id: the scheduler's database is the truth, so a restarted
process recovers), the journal holds it for a launch not yet decided or an outcome not
yet taken, or a create with its name is in flight. Anything else is an orphan, deleted
only once it has been seen in ``sightings`` sweeps in a row (a guest whose create answer
is a moment away is not an orphan yet). The journal row of a guest the sweeper deletes
says so (``doomed`` before the destroy call, ``destroyed`` once the cloud accepted it,
reason ``swept``): no row stays ``live`` for a guest that is gone.

**Owned resources** (:meth:`virtprov.Provider.list_resources`: routers, networks,
ports, floating IPs, disks...) are swept only when their guest is gone: a resource is
left alone while any guest of its name exists on the provider, while the journal holds
a guest of that name in any state (a create in flight makes its network before the
guest; a destroy in progress removes it itself), or while the caller owns its recipe.
The same ``sightings`` rule applies, and they are destroyed in the order the provider
listed them (dependent ones first). A resource the cloud keeps no labels on (a Nova or
EC2 key pair, an oVirt disk copied from a template) is listed with none, named after its
guest: it is this pool's only if this pool's journal made a guest of that name, on that
provider (the journal keeps a row of every guest it made).

Every provider is guarded, as the launcher's tasks are: whatever it raises (or answers
that cannot be read) is reported in :attr:`SweepReport.errors`, and that provider's
sweep stops or moves on while the others are swept; what is not a ``ProviderError`` (a
fault in the plugin or its SDK) is also logged at ERROR with its traceback. Nothing is
deleted on a partial view (a provider whose guests cannot be listed has none of its
resources swept either). Only the journal's own errors end a sweep.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence

import attrs
import sqlalchemy as sa

from virtprov.errors import JournalError, ProviderError
from virtprov.model import LABEL_POOL, LABEL_RECIPE, Guest, OwnedResource
from virtprov.pool.events import EventBus, describe
from virtprov.pool.journal import HOLDING, Journal, leftovers_json
from virtprov.provider import Provider

log = logging.getLogger("virtprov.pool")

#: The journal's ``reason`` of a guest row the sweeper destroyed.
SWEPT = "swept: nobody owned it"


@attrs.frozen
class Orphan:
    """A guest nobody owns: how many sweeps in a row saw it, and whether this one deleted it."""

    provider: str
    guest_id: str
    name: str
    sightings: int
    deleted: bool


@attrs.frozen
class OrphanResource:
    """A resource whose guest is gone (see :class:`virtprov.model.OwnedResource`)."""

    provider: str
    kind: str
    id: str
    name: str
    #: The name of the guest it was made for.
    guest: str
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
    #: Providers that could not be listed, or a deletion that failed, with the error.
    errors: tuple[str, ...] = ()
    #: Owned resources carrying this pool's label, over every provider swept.
    resources_seen: int = 0
    #: Resources whose guest is gone.
    orphan_resources: tuple[OrphanResource, ...] = ()

    @property
    def deleted(self) -> tuple[Orphan, ...]:
        return tuple(o for o in self.orphans if o.deleted)

    @property
    def deleted_resources(self) -> tuple[OrphanResource, ...]:
        return tuple(o for o in self.orphan_resources if o.deleted)


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
    guests: bool = True,
) -> SweepReport:
    """Sweep every provider once. ``guests=False`` sweeps owned resources only."""
    owned_set = None if owned is None else {str(x) for x in owned}
    totals = _Totals()
    job = _Sweep(pool, prefix, journal, events, owned_set, sightings, dry_run, guests)
    for name, provider in providers.items():
        try:
            _sweep_provider(name, provider, job, totals)
        except (JournalError, sa.exc.SQLAlchemyError):
            raise  # no provider's fault: the sweep cannot go on without its journal
        except Exception as exc:  # e.g. an answer that is not what the contract says
            failed(totals.errors, name, "sweeping", exc)
    return SweepReport(
        seen=totals.seen,
        owned=totals.kept,
        orphans=tuple(totals.orphans),
        errors=tuple(totals.errors),
        resources_seen=totals.resources_seen,
        orphan_resources=tuple(totals.orphan_resources),
    )


@attrs.frozen
class _Sweep:
    """What one sweep is asked to do."""

    pool: str
    prefix: str
    journal: Journal
    events: EventBus
    owned: set[str] | None
    sightings: int
    dry_run: bool
    guests: bool


@attrs.define
class _Totals:
    seen: int = 0
    kept: int = 0
    resources_seen: int = 0
    orphans: list[Orphan] = attrs.Factory(list)
    orphan_resources: list[OrphanResource] = attrs.Factory(list)
    errors: list[str] = attrs.Factory(list)


def _sweep_provider(name: str, provider: Provider, job: _Sweep, totals: _Totals) -> None:
    try:
        every_guest = list(provider.list_guests(job.prefix))
    except Exception as exc:  # any provider failure: report it, delete nothing here
        failed(totals.errors, name, "listing guests", exc)
        return
    try:
        listed_resources: Sequence[OwnedResource] = list(provider.list_resources(job.prefix))
    except Exception as exc:
        failed(totals.errors, name, "listing owned resources", exc)
        listed_resources = []
    # Unlabelled resources are attributed by their guest's name: to this pool only if its
    # journal made that guest here (and with the recipe the journal made it for).
    made = job.journal.made(name, {r.guest for r in listed_resources if not r.labels})
    resources = [
        r
        for r in listed_resources
        if r.labels.get(LABEL_POOL) == job.pool or (not r.labels and r.guest in made)
    ]
    # Read the journal after listing: a create that began meanwhile is in it by now.
    protected = _protected(job.journal, name, job.owned)
    listed = [g for g in every_guest if g.labels.get(LABEL_POOL) == job.pool] if job.guests else []
    unowned = {g.id: g for g in listed if not _is_owned(g, protected, job.owned)}
    totals.seen += len(listed)
    totals.kept += len(listed) - len(unowned)
    # A resource is in use while a guest of its name exists anywhere on the provider
    # (whatever its pool) or the journal holds one; its recipe may be the caller's too.
    alive = {g.name for g in every_guest} | protected.held_names
    orphaned = {
        _key(r): r
        for r in resources
        if r.guest not in alive and (job.owned is None or _recipe(r, made) not in job.owned)
    }
    totals.resources_seen += len(resources)
    for guest in unowned.values():
        job.events.emit("leak.found", provider=name, guest_id=guest.id, name=guest.name)
    for resource in orphaned.values():
        _resource_event(job, "leak.resource.found", name, resource)
    seen = {i: g.name for i, g in unowned.items()} | {k: r.name for k, r in orphaned.items()}
    if job.dry_run:  # what this sweep would count, without writing it
        before = job.journal.sightings(name)
        counts = {key: before.get(key, 0) + 1 for key in seen}
    else:
        counts = job.journal.sight(name, seen, time.time())
    for guest_id, guest in unowned.items():
        delete = counts[guest_id] >= job.sightings and not job.dry_run
        if delete:
            delete = _destroy_guest(name, provider, guest, job, totals)
        totals.orphans.append(Orphan(name, guest_id, guest.name, counts[guest_id], delete))
    for key, resource in orphaned.items():  # in the provider's order: dependents first
        delete = counts[key] >= job.sightings and not job.dry_run
        if delete:
            delete = _destroy_resource(name, provider, resource, job, totals)
        totals.orphan_resources.append(
            OrphanResource(
                name,
                resource.kind,
                resource.id,
                resource.name,
                resource.guest,
                counts[key],
                delete,
            )
        )


def _destroy_guest(
    name: str, provider: Provider, guest: Guest, job: _Sweep, totals: _Totals
) -> bool:
    row = job.journal.guest_by_id(name, guest.id)
    if row is not None and row.state != "live":
        row = None  # a launcher's own destroy: its row is not the sweeper's to write
    if row is not None:
        # The journal first: a destroy that fails (or dies after deleting the guest)
        # leaves the row doomed, destroyed again by a launcher or the next sweep; a row
        # left live would hold its name, and so what the guest made, for ever.
        job.journal.update_guest(row.id, state="doomed", reason=SWEPT)
    try:
        left = provider.destroy_guest(guest.id) or ()
    except Exception as exc:
        failed(totals.errors, name, f"destroying {guest.name}", exc)
        return False
    if row is not None:
        # A launcher's next poll (or the next sweep) confirms it gone and deletes what it
        # left, as for any destroyed guest. Without a row, a later sweep finds that.
        job.journal.update_guest(row.id, state="destroyed", leftovers=leftovers_json(left))
    job.events.emit("leak.removed", provider=name, guest_id=guest.id, name=guest.name)
    return True


def _destroy_resource(
    name: str, provider: Provider, resource: OwnedResource, job: _Sweep, totals: _Totals
) -> bool:
    try:
        provider.destroy_resource(resource)
    except Exception as exc:
        what = f"destroying {resource.kind} {resource.name or resource.id} of {resource.guest}"
        failed(totals.errors, name, what, exc)
        return False
    _resource_event(job, "leak.resource.removed", name, resource)
    return True


def _resource_event(job: _Sweep, event: str, provider: str, resource: OwnedResource) -> None:
    job.events.emit(
        event,
        provider=provider,
        resource_kind=resource.kind,
        resource_id=resource.id,
        name=resource.name,
        guest=resource.guest,
    )


def _recipe(resource: OwnedResource, made: Mapping[str, str]) -> str:
    """The recipe a resource was made for: its label, else the journal's row of its guest."""
    return resource.labels.get(LABEL_RECIPE) or made.get(resource.guest, "")


def _key(resource: OwnedResource) -> str:
    """The resource's key among the sightings, which guests share (by their ids)."""
    return f"resource:{resource.kind}:{resource.id}"


def failed(errors: list[str], provider: str, what: str, exc: Exception) -> None:
    """Record that ``what`` failed on ``provider`` (``"<provider>: <what>: <error>"``).

    A ``ProviderError`` is the cloud's answer: the report says it. Anything else is a
    fault in the plugin or its SDK, logged at ERROR with its traceback, as the launcher
    logs one.
    """
    error = f"{provider}: {what}: {_message(exc)}"
    errors.append(error)
    if isinstance(exc, ProviderError):
        log.info("sweep: %s", error)
    else:
        log.error("sweep: %s", error, exc_info=exc)


def _message(exc: BaseException) -> str:
    if isinstance(exc, ProviderError):
        return exc.message
    return describe(exc)


@attrs.frozen
class _Protected:
    ids: frozenset[str]
    names: frozenset[str]
    #: Names of every guest the journal holds on the provider, in any state.
    held_names: frozenset[str]


def _protected(journal: Journal, provider: str, owned: set[str] | None) -> _Protected:
    """What the journal holds on ``provider`` that the sweeper must not touch."""
    ids: set[str] = set()
    names: set[str] = set()
    held: set[str] = set()
    for row in journal.guests_in(HOLDING, provider):
        held.add(row.name)
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
    return _Protected(frozenset(ids), frozenset(names), frozenset(held))


def _is_owned(guest: Guest, protected: _Protected, owned: set[str] | None) -> bool:
    if guest.id in protected.ids or guest.name in protected.names:
        return True
    if owned is None:
        return False
    return guest.id in owned or guest.labels.get(LABEL_RECIPE, "") in owned
