"""What every launcher sharing a journal is doing together, read from the journal alone.

Each launcher writes its launches, guests, capacity reads and lease to the one journal,
so the journal is the fleet-wide view: :func:`read_fleet_status` reads it in one
snapshot (through a :class:`~virtprov.pool.readonly.ReadOnlyJournal`, so it works beside
running schedulers, from another host, and changes nothing). ``virtprov journal status``
prints it; ``virtprov metrics serve`` exports it to Prometheus
(:mod:`virtprov.pool.fleet_metrics`).

Every query here reads live rows or a bounded range of history through an index: the
cost of a read does not grow with the journal's age (``history`` and ``totals`` count
all of history and are read only when asked for).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from virtprov.pool import schema
from virtprov.pool.schema import capacity, guests, launchers, launches, provider_status

#: The provider label of launches that tried none.
NO_PROVIDER = "none"
#: Seconds of history "recent outcomes" count (an hour).
WINDOW = 3600.0


@attrs.frozen
class Resources:
    """Instances, vCPUs, RAM (MiB) and disk (bytes); ``None``: unknown."""

    instances: int | None
    vcpus: int | None
    ram_mib: int | None
    disk_bytes: int | None


@attrs.frozen
class CapacityStatus:
    """A provider's capacity as the planner sees it: the last snapshot the cloud gave,
    less the guests made since (the snapshot could not see them)."""

    free: Resources
    taken_at: float
    #: Seconds since the snapshot was taken.
    age: float


@attrs.frozen
class LauncherStatus:
    """One pool process sharing the journal."""

    name: str
    host: str
    pid: int
    started_at: float
    lease_until: float
    #: When it last renewed its lease (``None``: never, by this schema).
    renewed_at: float | None
    #: Its lease has not run out: it is running (or died less than a lease ago).
    alive: bool
    #: Seconds since it last renewed its lease.
    lease_age: float | None


@attrs.frozen
class FleetStatus:
    """The journal's fleet-wide state at ``read_at`` (counts by state, then provider)."""

    journal: str
    read_at: float
    #: Undecided launches: state (queued, creating, building, starting) -> provider -> count.
    launches: Mapping[str, Mapping[str, int]]
    #: Decided launches whose outcome no scheduler has taken yet: status -> provider -> count.
    waiting: Mapping[str, Mapping[str, int]]
    #: Launches decided in the last ``window`` seconds: status -> provider -> count.
    recent: Mapping[str, Mapping[str, int]]
    window: float
    #: Seconds since the oldest undecided launch was submitted (``None``: there is none).
    oldest_undecided: float | None
    #: Guests holding (or about to hold) a cloud resource: state -> provider -> count.
    guests: Mapping[str, Mapping[str, int]]
    #: What those guests hold, by provider.
    held: Mapping[str, Resources]
    capacity: Mapping[str, CapacityStatus]
    #: Disabled providers and why.
    disabled: Mapping[str, str]
    launchers: tuple[LauncherStatus, ...]
    #: Decided launches the journal keeps (``None``: not counted).
    history: int | None = None
    #: Launches by state, and decided ones by outcome, over all history (``None``: not counted).
    totals: Mapping[str, int] | None = None

    @property
    def launchers_alive(self) -> int:
        return sum(1 for launcher in self.launchers if launcher.alive)


def read_fleet_status(
    conn: Connection,
    *,
    journal: str,
    now: float | None = None,
    window: float = WINDOW,
    history: bool = False,
    totals: bool = False,
) -> FleetStatus:
    """Read the fleet's state through ``conn`` (one snapshot: see ``ReadOnlyJournal``)."""
    now = time.time() if now is None else now
    live = _by_two(_launch_counts(conn, launches.c.state, schema.launch_is_live))
    oldest = conn.execute(
        sa.select(sa.func.min(launches.c.submitted_at)).where(schema.launch_is_live)
    ).scalar()
    waiting = _by_two(_launch_counts(conn, launches.c.status, schema.outcome_waits))
    # Decided launches are history (taken) or waiting (not yet): each has its index.
    recent = _by_two(
        *(
            _launch_counts(conn, launches.c.status, part, launches.c.decided_at >= now - window)
            for part in (schema.launch_is_history, schema.outcome_waits)
        )
    )
    held_rows = conn.execute(
        sa.select(
            guests.c.state,
            guests.c.provider,
            sa.func.count(),
            sa.func.sum(guests.c.vcpus),
            sa.func.sum(guests.c.ram_mib),
            sa.func.sum(guests.c.disk_bytes),
        )
        .where(schema.guest_is_held)
        .group_by(guests.c.state, guests.c.provider)
    ).all()
    guest_counts: dict[str, dict[str, int]] = {}
    held: dict[str, list[int]] = {}
    for state, provider, count, vcpus, ram, disk in held_rows:
        guest_counts.setdefault(state, {})[provider] = int(count)
        total = held.setdefault(provider, [0, 0, 0, 0])
        for i, value in enumerate((count, vcpus, ram, disk)):
            total[i] += int(value or 0)
    return FleetStatus(
        journal=journal,
        read_at=now,
        launches=live,
        waiting=waiting,
        recent=recent,
        window=window,
        oldest_undecided=None if oldest is None else max(0.0, now - float(oldest)),
        guests=guest_counts,
        held={name: Resources(*total) for name, total in sorted(held.items())},
        capacity=_capacity(conn, now),
        disabled={
            row.provider: row.disabled
            for row in conn.execute(sa.select(provider_status).order_by(provider_status.c.provider))
            if row.disabled
        },
        launchers=tuple(
            schema.from_row(
                LauncherStatus,
                row,
                alive=row.lease_until > now,
                lease_age=None if row.renewed_at is None else max(0.0, now - row.renewed_at),
            )
            for row in conn.execute(sa.select(launchers).order_by(launchers.c.name))
        ),
        history=_history(conn) if history else None,
        totals=_totals(conn) if totals else None,
    )


def _launch_counts(
    conn: Connection, first: sa.Column[str], *where: sa.ColumnElement[bool]
) -> Sequence[sa.Row[Any]]:
    """(``first``, provider, count) rows of the launches ``where`` selects."""
    return conn.execute(
        sa.select(first, launches.c.provider, sa.func.count())
        .where(*where)
        .group_by(first, launches.c.provider)
    ).all()


def _by_two(*results: Any) -> dict[str, dict[str, int]]:
    """``{first column: {provider: count}}`` of (first, provider, count) rows, summed."""
    result: dict[str, dict[str, int]] = {}
    for rows in results:
        for first, provider, count in rows:
            inner = result.setdefault(first, {})
            key = provider or NO_PROVIDER
            inner[key] = inner.get(key, 0) + int(count)
    return result


def _capacity(conn: Connection, now: float) -> dict[str, CapacityStatus]:
    """Each snapshot less the guests made since it (the planner's view, as
    :meth:`virtprov.pool.journal.Journal.capacity` computes it)."""
    result: dict[str, CapacityStatus] = {}
    for snapshot in conn.execute(sa.select(capacity).order_by(capacity.c.provider)).all():
        since = conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(guests.c.vcpus), 0),
                sa.func.coalesce(sa.func.sum(guests.c.ram_mib), 0),
                sa.func.coalesce(sa.func.sum(guests.c.disk_bytes), 0),
            ).where(
                guests.c.provider == snapshot.provider,
                schema.guest_is_held,
                sa.or_(guests.c.created_at >= snapshot.taken_at, guests.c.state == "creating"),
            )
        ).one()

        def less(value: int | None, amount: Any) -> int | None:
            return None if value is None else value - int(amount)

        result[snapshot.provider] = CapacityStatus(
            free=Resources(
                instances=less(snapshot.instances, since[0]),
                vcpus=less(snapshot.vcpus, since[1]),
                ram_mib=less(snapshot.ram_mib, since[2]),
                disk_bytes=less(snapshot.disk_bytes, since[3]),
            ),
            taken_at=snapshot.taken_at,
            age=max(0.0, now - snapshot.taken_at),
        )
    return result


def _history(conn: Connection) -> int:
    # decided_at >= 0 lets the planner count each part's index, not the table.
    total = 0
    for part in (schema.launch_is_history, schema.outcome_waits):
        count = conn.execute(
            sa.select(sa.func.count()).where(part, launches.c.decided_at >= 0)
        ).scalar()
        total += int(count or 0)
    return total


def _totals(conn: Connection) -> dict[str, int]:
    counts: dict[str, int] = {}
    rows = conn.execute(
        sa.select(launches.c.state, launches.c.status, sa.func.count()).group_by(
            launches.c.state, launches.c.status
        )
    )
    for state, status, n in rows:
        key = status if state == "decided" else state
        counts[key] = counts.get(key, 0) + int(n)
    return counts
