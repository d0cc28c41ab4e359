"""The journal: the pool's state in a database, so that no launch is lost to a crash.

One code path for SQLite (the default: a file, nothing to run) and PostgreSQL (several
scheduler processes sharing the clouds). Every method is one short transaction. Writes
that precede a cloud call whose answer could be lost (``begin_create``) are *intent*:
after a crash, the row says what may exist in the cloud and under which name.

Claims are conditional updates (``UPDATE ... WHERE owner IS NULL OR owner = <dead>``,
checked by the row count), which both databases run atomically: a recipe is launched by
exactly one launcher. ``begin_create`` checks capacity and writes the reservation in one
transaction that locks the provider's capacity row (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises writers), so processes never
reserve more than a provider has.

When the database cannot be reached (PostgreSQL restarting, the network down) or stays
busy (SQLite's lock held past its timeout), every method raises
:class:`JournalUnavailable`: a :class:`~virtprov.errors.JournalError` whose message is
one line naming the journal (never its password). The caller tries again later; every
write is safe to repeat, or to find done (the connection may drop after a commit).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from virtprov.errors import JournalError
from virtprov.model import Capacity, Flavor, OwnedResource
from virtprov.pool import schema
from virtprov.pool.schema import capacity, guests, launchers, launches, provider_status, sightings
from virtprov.urls import redact_url

#: The schema revision this code reads and writes (the newest migration).
HEAD_REVISION: Final = "0003"
_MIGRATIONS: Final = str(Path(__file__).with_name("migrations"))

#: Guest rows that hold (or may hold) a cloud resource and count against capacity.
HOLDING: Final = schema.HELD_STATES
#: Launch states before the outcome.
UNDECIDED: Final = schema.LIVE_STATES


def default_journal_url() -> str:
    """``sqlite:///$XDG_STATE_HOME/virtprov/journal.sqlite``."""
    from virtprov.config import default_state_dir

    return f"sqlite:///{default_state_dir() / 'journal.sqlite'}"


@attrs.frozen
class LaunchRow:
    """One ``launches`` row."""

    recipe_id: str
    request: Mapping[str, Any]
    state: str
    submitted_by: str
    owner: str | None
    provider: str | None
    flavor_id: str | None
    guest_row: int | None
    passed: tuple[str, ...]
    attempts: int
    submitted_at: float
    deadline: float
    next_at: float
    status: str | None
    outcome: Mapping[str, Any] | None
    taken: bool

    @classmethod
    def of(cls, row: Any) -> LaunchRow:
        m = row._mapping
        return schema.from_row(
            cls,
            row,
            request=_loads(m["request"], "request"),
            passed=tuple(_loads(m["passed"], "passed") or ()),
            outcome=None if m["outcome"] is None else _loads(m["outcome"], "outcome"),
            taken=bool(m["taken"]),
        )


def _loads(text: str, column: str) -> Any:
    """A JSON column; one that cannot be read (edited by hand, written by another
    version) becomes ``{"unreadable": why}``, so that the launch it belongs to fails with
    that reason instead of every read of the table raising."""
    try:
        return json.loads(text)
    except ValueError as exc:
        return {"unreadable": f"the journal's {column} column cannot be read: {exc}"}


@attrs.frozen
class GuestRow:
    """One ``guests`` row."""

    id: int
    provider: str
    name: str
    guest_id: str | None
    recipe_id: str
    state: str
    created_at: float
    #: when the next attempt to destroy it (or what it left) is due, after a failed one
    next_at: float
    attempts: int
    reason: str | None
    #: what its destroy left to delete once it is gone, in order (``destroy_resource``)
    leftovers: tuple[OwnedResource, ...] = ()

    @classmethod
    def of(cls, row: Any) -> GuestRow:
        return schema.from_row(cls, row, leftovers=leftovers_of(row._mapping["leftovers"]))


def leftovers_json(resources: Sequence[OwnedResource]) -> str | None:
    """``guests.leftovers`` of ``resources`` (``None`` for none)."""
    if not resources:
        return None
    return json.dumps(
        [
            {
                "provider": r.provider,
                "kind": r.kind,
                "id": r.id,
                "name": r.name,
                "guest": r.guest,
                "labels": dict(r.labels),
            }
            for r in resources
        ]
    )


def leftovers_of(text: str | None) -> tuple[OwnedResource, ...]:
    """The resources ``guests.leftovers`` holds. One that cannot be read (edited by hand)
    is dropped: the sweeper finds what it named by its labels."""
    if not text:
        return ()
    try:
        return tuple(OwnedResource(**item) for item in json.loads(text))
    except (TypeError, ValueError):
        return ()


def destroys_for(
    journal: Journal, rows: Iterable[GuestRow], launcher: str | None, now: float
) -> list[GuestRow]:
    """The guests among ``rows`` (doomed or destroyed) that ``launcher`` is to finish
    destroying: those of a launch no other launcher with a running lease owns (that one
    finishes them). ``launcher=None``: a sweep, which finishes whatever no running
    launcher does (a pool closed before its destroys were confirmed, a killed one)."""
    alive: set[str] | None = None
    found = []
    for guest in rows:
        launch = journal.launch(guest.recipe_id)
        if launch is not None and launch.owner not in (None, launcher):
            if alive is None:
                alive = journal.alive_launchers(now)
            if launch.owner in alive:
                continue
        found.append(guest)
    return found


class JournalUnavailable(JournalError):
    """The journal's database cannot be reached, or stayed busy, just now; try again later.

    ``reason`` is the database driver's message (its first line).
    """

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"the journal {url} is unavailable: {reason}")


def _is_outage(error: sa.exc.SQLAlchemyError) -> bool:
    """Whether ``error`` says the database is out of reach or busy, not that a statement
    is wrong: connection refused or lost, a server shutting down, SQLite's lock timeout."""
    if isinstance(error, sa.exc.DBAPIError):
        return error.connection_invalidated or isinstance(
            error, sa.exc.OperationalError | sa.exc.InterfaceError
        )
    return isinstance(error, sa.exc.TimeoutError)  # no connection free in the pool


def _first_line(error: sa.exc.SQLAlchemyError) -> str:
    cause = error.orig if isinstance(error, sa.exc.DBAPIError) else error
    text = str(cause).strip() or type(cause).__name__
    return text.splitlines()[0][:500]


class Journal:
    """The pool's state in SQLite or PostgreSQL. Thread-safe."""

    def __init__(self, url: str, *, upgrade: bool | None = None) -> None:
        """Open the journal at ``url`` (an SQLAlchemy URL).

        ``upgrade``: apply pending migrations first. By default an SQLite journal is
        upgraded on open (it belongs to one process) and a PostgreSQL one must be
        upgraded by the operator (``virtprov journal upgrade``), so that several
        processes never race to migrate it.

        Whatever is wrong (a URL of an unknown dialect or a driver not installed, a file
        that is a directory, read-only or not SQLite, a schema this virtprov does not
        know), the error is one :class:`JournalError` with the URL's password hidden.
        """
        self.url = checked_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.engine = _engine(self.url, self.safe_url)
        self.writes = 0
        # One writer at a time inside this process: SQLite would make the others wait
        # on its file lock anyway, and counting writes stays exact.
        self._lock = threading.RLock()
        if upgrade is None:
            upgrade = self.is_sqlite
        #: The schema revision found when opening (before any upgrade).
        self.revision_before_open: str | None = None
        with opening(self.url, self.safe_url, self.engine):
            self.revision_before_open = self.revision()
            if upgrade:
                self.upgrade()
            self.check_revision()

    @property
    def safe_url(self) -> str:
        """The URL with any password (and credential query parameter) hidden, for messages."""
        return redact_url(self.url.render_as_string(hide_password=True))

    # -- schema ------------------------------------------------------------------------

    def revision(self) -> str | None:
        """The schema revision of the database, ``None`` when it is empty."""
        with self._read() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    def check_revision(self) -> None:
        revision_problem(self.revision(), self.safe_url)

    def upgrade(self) -> tuple[str | None, str]:
        """Apply pending migrations; ``(revision before, revision after)``."""
        from alembic import command
        from alembic.config import Config as AlembicConfig
        from alembic.util import CommandError

        before = self.revision()
        if before is not None and before != HEAD_REVISION and not _known_revision(before):
            self.check_revision()  # raises: never "upgrade" a newer or a foreign schema
        config = AlembicConfig()
        config.set_main_option("script_location", _MIGRATIONS)
        try:
            with self._available(), self._lock, self.engine.begin() as conn:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        except CommandError as exc:
            raise JournalError(f"cannot upgrade the journal {self.safe_url}: {exc}") from None
        return before, HEAD_REVISION

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._available():
            if not self.is_sqlite:
                with self.engine.connect() as conn:
                    yield conn
                return
            # SQLite: a read begins with BEGIN IMMEDIATE too (see _engine), and the
            # in-memory database is one connection; so one thread at a time.
            with self._lock, self.engine.connect() as conn:
                yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._available(), self._lock, self.engine.begin() as conn:
            self.writes += 1
            yield conn

    @contextmanager
    def _available(self) -> Iterator[None]:
        """Turn "the database is out of reach" into :class:`JournalUnavailable`."""
        try:
            yield
        except sa.exc.SQLAlchemyError as exc:
            if not _is_outage(exc):
                raise
            raise JournalUnavailable(self.safe_url, _first_line(exc)) from exc

    # -- launchers ---------------------------------------------------------------------

    def register_launcher(self, name: str, lease: float, now: float | None = None) -> None:
        """Take the launcher name ``name``, or fail if a live process holds it.

        A process restarted on the same host takes its name back at once when the old
        process is gone (its pid no longer runs); elsewhere it waits for the lease.
        """
        now = time.time() if now is None else now
        host, pid = socket.gethostname(), os.getpid()
        with self._write() as conn:
            old = conn.execute(sa.select(launchers).where(launchers.c.name == name)).first()
            if (
                old is not None
                and old.lease_until > now
                and (old.host, old.pid) != (host, pid)
                and (old.host != host or pid_alive(old.pid))
            ):
                raise JournalError(
                    f"launcher name {name!r} is held by pid {old.pid} on {old.host} "
                    f"(lease until {time.ctime(old.lease_until)}): give each scheduler "
                    "process its own [pool] launcher name"
                )
            values = {
                "host": host,
                "pid": pid,
                "started_at": now,
                "lease_until": now + lease,
                "renewed_at": now,
            }
            if old is None:
                conn.execute(sa.insert(launchers).values(name=name, **values))
            else:
                conn.execute(sa.update(launchers).where(launchers.c.name == name).values(values))

    def heartbeat(self, name: str, lease: float, now: float | None = None) -> int:
        """Extend ``name``'s lease; the number of launchers now alive (itself included)."""
        now = time.time() if now is None else now
        with self._write() as conn:
            conn.execute(
                sa.update(launchers)
                .where(launchers.c.name == name)
                .values(lease_until=now + lease, renewed_at=now)
            )
            alive = conn.execute(
                sa.select(sa.func.count()).where(launchers.c.lease_until > now)
            ).scalar()
        return max(1, int(alive or 1))

    def alive_launchers(self, now: float | None = None) -> set[str]:
        """The names of the launchers whose lease has not run out."""
        now = time.time() if now is None else now
        with self._read() as conn:
            rows = conn.execute(
                sa.select(launchers.c.name).where(launchers.c.lease_until > now)
            ).all()
        return {row.name for row in rows}

    def retire_launcher(self, name: str) -> None:
        """Give the lease up (a clean shutdown): others may take over at once."""
        with self._write() as conn:
            conn.execute(
                sa.update(launchers).where(launchers.c.name == name).values(lease_until=0.0)
            )

    # -- launches ----------------------------------------------------------------------

    def submit(
        self, recipe_id: str, request: Mapping[str, Any], submitted_by: str, deadline: float
    ) -> bool:
        """Queue a launch; ``False`` when one for this recipe is already undecided.

        A decided launch whose outcome was taken is replaced (a recipe may be submitted
        again after ``skipped``).
        """
        now = time.time()
        values = {
            "request": json.dumps(request, sort_keys=True),
            "state": "queued",
            "submitted_by": submitted_by,
            "owner": None,
            "provider": None,
            "flavor_id": None,
            "guest_row": None,
            "passed": "[]",
            "attempts": 0,
            "submitted_at": now,
            "deadline": deadline,
            "next_at": now,
            "status": None,
            "outcome": None,
            "decided_at": None,
            "taken": False,
        }
        with self._write() as conn:
            old = conn.execute(
                sa.select(launches.c.state, launches.c.taken).where(
                    launches.c.recipe_id == recipe_id
                )
            ).first()
            if old is None:
                try:
                    with conn.begin_nested():
                        conn.execute(sa.insert(launches).values(recipe_id=recipe_id, **values))
                except sa.exc.IntegrityError:
                    return False  # another process submitted it a moment ago
                return True
            if old.state != "decided" or not old.taken:
                return False  # in flight, or its outcome still waits to be taken
            conn.execute(
                sa.update(launches).where(launches.c.recipe_id == recipe_id).values(values)
            )
            return True

    def claim(self, launcher: str, now: float, share: int = 1) -> list[LaunchRow]:
        """Every undecided launch this launcher owns, after claiming unowned ones.

        Unowned means never claimed, or owned by a launcher whose lease ran out: that
        is how a restarted (or another) process takes over a dead one's launches. With
        ``share`` launchers alive, each claims a ``1/share`` part of what is unowned per
        call, so the work spreads over them instead of going to whoever looks first.
        """
        dead = sa.select(launchers.c.name).where(launchers.c.lease_until <= now)
        unowned = sa.select(launches.c.recipe_id, launches.c.owner).where(
            schema.launch_is_live,
            sa.or_(launches.c.owner.is_(None), launches.c.owner.in_(dead)),
        )
        # oldest first: a recipe that waited (for a first capacity read, for flavors)
        # keeps its place before those submitted after it
        mine = (
            sa.select(launches)
            .where(launches.c.owner == launcher, schema.launch_is_live)
            .order_by(launches.c.submitted_at, launches.c.recipe_id)
        )
        with self._read() as conn:
            candidates = conn.execute(unowned.order_by(launches.c.submitted_at)).all()
            if not candidates:  # the usual case: no write at all
                return [LaunchRow.of(row) for row in conn.execute(mine).all()]
        take = candidates[: max(1, -(-len(candidates) // max(1, share)))]
        with self._write() as conn:
            for recipe_id, owner in take:
                condition = (
                    launches.c.owner.is_(None) if owner is None else launches.c.owner == owner
                )
                # Conditional: if another launcher claimed it meanwhile, nothing changes.
                conn.execute(
                    sa.update(launches)
                    .where(launches.c.recipe_id == recipe_id, condition)
                    .values(owner=launcher)
                )
            rows = conn.execute(mine).all()
        return [LaunchRow.of(row) for row in rows]

    def launch(self, recipe_id: str) -> LaunchRow | None:
        with self._read() as conn:
            row = conn.execute(sa.select(launches).where(launches.c.recipe_id == recipe_id)).first()
        return None if row is None else LaunchRow.of(row)

    def launches(self, recipe_ids: Sequence[str]) -> dict[str, LaunchRow]:
        """The launches of ``recipe_ids`` that exist, by recipe id (one query per 500)."""
        found: dict[str, LaunchRow] = {}
        wanted = list(dict.fromkeys(recipe_ids))
        with self._read() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                rows = conn.execute(sa.select(launches).where(launches.c.recipe_id.in_(chunk)))
                for row in rows.all():
                    found[row.recipe_id] = LaunchRow.of(row)
        return found

    def update_launch(self, recipe_id: str, launcher: str, **values: Any) -> bool:
        """Change an undecided launch this launcher owns; ``False`` if it lost the launch
        or it is decided (a step that began before the decision must not undo it)."""
        if "passed" in values:
            values["passed"] = json.dumps(list(values["passed"]))
        with self._write() as conn:
            result = conn.execute(_undecided_launch(recipe_id, launcher).values(values))
            return bool(result.rowcount)

    def decide(
        self, recipe_id: str, launcher: str, status: str, outcome: Mapping[str, Any]
    ) -> bool:
        """Record the outcome; ``False`` if the launch was not this launcher's to decide."""
        return self.update_launch(
            recipe_id,
            launcher,
            state="decided",
            status=status,
            outcome=json.dumps(outcome, sort_keys=True),
            decided_at=time.time(),
        )

    def take_outcomes(self, submitted_by: str | None) -> list[LaunchRow]:
        """Decided launches not yet taken (of one submitter, or all); marks them taken."""
        with self._write() as conn:
            query = sa.select(launches).where(schema.outcome_waits)
            if submitted_by is not None:
                query = query.where(launches.c.submitted_by == submitted_by)
            rows = conn.execute(query.order_by(launches.c.decided_at)).all()
            if rows:
                conn.execute(
                    sa.update(launches)
                    .where(launches.c.recipe_id.in_([r.recipe_id for r in rows]))
                    .values(taken=True)
                )
        return [LaunchRow.of(row) for row in rows]

    def counts(self) -> dict[str, int]:
        """Launches by state and outcome (``queued``, ..., ``succeeded``, ...)."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(launches.c.state, launches.c.status, sa.func.count()).group_by(
                    launches.c.state, launches.c.status
                )
            ).all()
        counts: dict[str, int] = {}
        for state, status, n in rows:
            key = status if state == "decided" else state
            counts[key] = counts.get(key, 0) + n
        return counts

    # -- guests ------------------------------------------------------------------------

    def begin_create(
        self,
        *,
        recipe_id: str,
        launcher: str,
        provider: str,
        flavor: Flavor,
        name: str,
        now: float,
    ) -> int | None:
        """Reserve capacity and write the intent to create; the guest row, or ``None``.

        ``None`` when the provider's last capacity snapshot, minus every guest made
        since it was taken, cannot fit ``flavor`` (or the launch is no longer ours, or
        was decided meanwhile).
        """
        try:
            return self._begin_create(recipe_id, launcher, provider, flavor, name, now)
        except _LostLaunch:
            return None

    def _begin_create(
        self, recipe_id: str, launcher: str, provider: str, flavor: Flavor, name: str, now: float
    ) -> int | None:
        with self._write() as conn:
            snapshot = conn.execute(
                sa.select(capacity).where(capacity.c.provider == provider).with_for_update()
            ).first()
            if snapshot is not None:
                free = self._left(conn, provider, snapshot)
                if not free.fits(flavor):
                    return None
            row = _add_guest(
                conn,
                now,
                provider=provider,
                name=name,
                guest_id=None,
                recipe_id=recipe_id,
                state="creating",
                vcpus=flavor.vcpus,
                ram_mib=flavor.ram_mib,
                disk_bytes=flavor.disk_bytes,
                reason=None,
            )
            result = conn.execute(
                _undecided_launch(recipe_id, launcher).values(
                    state="creating", provider=provider, flavor_id=flavor.id, guest_row=row
                )
            )
            if not result.rowcount:
                raise _LostLaunch  # rolls the reservation back
            return row

    def add_doomed(
        self, *, provider: str, name: str, guest_id: str, recipe_id: str, reason: str
    ) -> int:
        """A guest the journal did not know (found by name after a lost create), doomed:
        destroyed like any other, and counted against capacity until it is gone."""
        now = time.time()
        with self._write() as conn:
            return _add_guest(
                conn,
                now,
                provider=provider,
                name=name,
                guest_id=guest_id,
                recipe_id=recipe_id,
                state="doomed",
                reason=reason,
            )

    def guest(self, row: int) -> GuestRow:
        with self._read() as conn:
            found = conn.execute(sa.select(guests).where(guests.c.id == row)).one()
        return GuestRow.of(found)

    def update_guest(self, row: int, **values: Any) -> None:
        with self._write() as conn:
            conn.execute(sa.update(guests).where(guests.c.id == row).values(values))

    def guests_in(self, states: Sequence[str], provider: str | None = None) -> list[GuestRow]:
        query = sa.select(guests).where(guests.c.state.in_(states))
        if set(states) <= set(HOLDING):
            query = query.where(schema.guest_is_held)  # the small index of held guests
        if provider is not None:
            query = query.where(guests.c.provider == provider)
        with self._read() as conn:
            return [GuestRow.of(r) for r in conn.execute(query.order_by(guests.c.id)).all()]

    def guest_by_id(self, provider: str | None, guest_id: str) -> GuestRow | None:
        query = sa.select(guests).where(guests.c.guest_id == guest_id)
        if provider is not None:
            query = query.where(guests.c.provider == provider)
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else GuestRow.of(row)

    def holding(self, provider: str) -> tuple[set[str], set[str]]:
        """(guest ids, names of creates in flight) the journal holds on ``provider``."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(guests.c.guest_id, guests.c.name, guests.c.state).where(
                    guests.c.provider == provider, schema.guest_is_held
                )
            ).all()
        ids = {r.guest_id for r in rows if r.guest_id is not None}
        names = {r.name for r in rows if r.guest_id is None}
        return ids, names

    def made(self, provider: str, names: Iterable[str]) -> dict[str, str]:
        """Of ``names``, those of guests this journal ever made on ``provider``, in any
        state (its rows are kept): name -> the recipe it was made for."""
        wanted = sorted(set(names))
        if not wanted:
            return {}
        query = sa.select(guests.c.name, guests.c.recipe_id).where(
            guests.c.provider == provider, guests.c.name.in_(wanted)
        )
        with self._read() as conn:
            return {str(name): str(recipe) for name, recipe in conn.execute(query).all()}

    # -- capacity ----------------------------------------------------------------------

    def set_capacity(self, provider: str, free: Capacity, taken_at: float) -> None:
        values = {
            "taken_at": taken_at,
            "instances": free.instances,
            "vcpus": free.vcpus,
            "ram_mib": free.ram_mib,
            "disk_bytes": free.disk_bytes,
        }
        with self._write() as conn:
            result = conn.execute(
                sa.update(capacity).where(capacity.c.provider == provider).values(values)
            )
            if not result.rowcount:
                try:
                    with conn.begin_nested():
                        conn.execute(sa.insert(capacity).values(provider=provider, **values))
                except sa.exc.IntegrityError:  # another launcher inserted it meanwhile
                    conn.execute(
                        sa.update(capacity).where(capacity.c.provider == provider).values(values)
                    )

    def drop_capacity(self, provider: str) -> None:
        with self._write() as conn:
            conn.execute(sa.delete(capacity).where(capacity.c.provider == provider))

    def capacity(self, provider: str) -> tuple[Capacity, float] | None:
        """(free capacity now, when the snapshot was taken), or ``None`` if there is none."""
        with self._read() as conn:
            snapshot = conn.execute(
                sa.select(capacity).where(capacity.c.provider == provider)
            ).first()
            if snapshot is None:
                return None
            free = self._left(conn, provider, snapshot)
        return free, snapshot.taken_at

    def _left(self, conn: Connection, provider: str, snapshot: Any) -> Capacity:
        """The snapshot's capacity less what guests made since it was taken hold (the
        snapshot did not see them), counted once per shape.

        Conservative: a guest destroyed since the snapshot still counts until the next
        one, so reservations can only under-use a provider, never overbook it.
        """
        shapes = conn.execute(
            sa.select(guests.c.vcpus, guests.c.ram_mib, guests.c.disk_bytes, sa.func.count())
            .where(
                guests.c.provider == provider,
                schema.guest_is_held,
                # A create in flight may or may not be in the snapshot: count it anyway.
                sa.or_(guests.c.created_at >= snapshot.taken_at, guests.c.state == "creating"),
            )
            .group_by(guests.c.vcpus, guests.c.ram_mib, guests.c.disk_bytes)
        ).all()
        free = Capacity(
            instances=snapshot.instances,
            vcpus=snapshot.vcpus,
            ram_mib=snapshot.ram_mib,
            disk_bytes=snapshot.disk_bytes,
        )
        for vcpus, ram_mib, disk_bytes, count in shapes:
            # The journal keeps a guest's shape, not its flavor's name; a guest found by
            # its name after a lost create (add_doomed) has none: it holds an instance.
            shape = Flavor(
                id="", name="", vcpus=vcpus or 0, ram_mib=ram_mib or 0, disk_bytes=disk_bytes or 0
            )
            free = free.minus(shape, int(count))
        return free

    # -- providers ---------------------------------------------------------------------

    def disable_provider(self, provider: str, reason: str | None) -> None:
        """Disable ``provider`` with ``reason``; ``None`` enables it again."""
        with self._write() as conn:
            conn.execute(sa.delete(provider_status).where(provider_status.c.provider == provider))
            if reason is None:
                return
            with contextlib.suppress(sa.exc.IntegrityError), conn.begin_nested():
                # Lost a race with another launcher disabling it: its reason stands.
                conn.execute(
                    sa.insert(provider_status).values(
                        provider=provider, disabled=reason, since=time.time()
                    )
                )

    def disabled_providers(self) -> dict[str, str]:
        with self._read() as conn:
            rows = conn.execute(sa.select(provider_status)).all()
        return {r.provider: r.disabled for r in rows if r.disabled}

    # -- sweeping ----------------------------------------------------------------------

    def sight(self, provider: str, seen: Mapping[str, str], now: float) -> dict[str, int]:
        """Record one sweep's sightings of unowned guests ``{id: name}``; counts by id.

        Sightings of guests not seen this time are forgotten: "twice" means in two
        sweeps in a row.
        """
        try:
            return self._sight(provider, seen, now)
        except sa.exc.IntegrityError:
            raise JournalError(
                f"another sweep of {provider} wrote its sightings at the same moment; "
                "run one sweeper at a time"
            ) from None

    def sightings(self, provider: str) -> dict[str, int]:
        """The sightings recorded so far on ``provider``, by id (what a dry run counts)."""
        with self._read() as conn:
            return _sightings_of(conn, provider)

    def _sight(self, provider: str, seen: Mapping[str, str], now: float) -> dict[str, int]:
        with self._write() as conn:
            old = _sightings_of(conn, provider)
            conn.execute(sa.delete(sightings).where(sightings.c.provider == provider))
            counts = {guest_id: old.get(guest_id, 0) + 1 for guest_id in seen}
            if counts:
                conn.execute(
                    sa.insert(sightings),
                    [
                        {
                            "provider": provider,
                            "guest_id": guest_id,
                            "name": seen[guest_id],
                            "first_seen": now,
                            "last_seen": now,
                            "count": count,
                        }
                        for guest_id, count in counts.items()
                    ],
                )
        return counts

    # -- history (pruned by virtprov.pool.history) ---------------------------------------

    def prune_launches(self, before: float, limit: int) -> int:
        """Delete up to ``limit`` launches decided before ``before`` whose outcome was
        taken, oldest first; how many. One short transaction: launches go on meanwhile.

        On PostgreSQL rows another launcher is pruning at the same moment are skipped
        (``SKIP LOCKED``), so several launchers pruning together never wait on each other.
        """
        return self._prune_oldest(
            launches.c.recipe_id, schema.launch_is_history, launches.c.decided_at, before, limit
        )

    def prune_guests(self, before: float, limit: int) -> int:
        """Delete up to ``limit`` guest rows gone (nothing left in the cloud) and created
        before ``before``, oldest first; how many."""
        return self._prune_oldest(
            guests.c.id, schema.guest_is_gone, guests.c.created_at, before, limit
        )

    def _prune_oldest(
        self,
        key: sa.Column[Any],
        prunable: sa.ColumnElement[bool],
        age: sa.Column[Any],
        before: float,
        limit: int,
    ) -> int:
        """Delete up to ``limit`` rows of ``key``'s table that are ``prunable`` with an
        ``age`` before ``before``, oldest first (rows another launcher is deleting at the
        same moment skipped); how many."""
        oldest = (
            sa.select(key)
            .where(prunable, age < before)
            .order_by(age)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self._write() as conn:
            result = conn.execute(sa.delete(key.table).where(key.in_(oldest)))
        return int(result.rowcount)

    def prune_launchers(self, before: float) -> int:
        """Forget launchers whose lease ended before ``before`` and that own no live launch
        (renamed or retired scheduler processes); how many."""
        owners = sa.select(launches.c.owner).where(
            schema.launch_is_live, launches.c.owner.is_not(None)
        )
        with self._write() as conn:
            result = conn.execute(
                sa.delete(launchers).where(
                    launchers.c.lease_until < before, launchers.c.name.not_in(owners)
                )
            )
        return int(result.rowcount)


def _add_guest(conn: Connection, now: float, **values: Any) -> int:
    """Insert a guests row made at ``now``, with no destroy attempted yet; its id."""
    row = conn.execute(
        sa.insert(guests)
        .values(**values, created_at=now, next_at=now, attempts=0)
        .returning(guests.c.id)
    ).scalar_one()
    return int(row)


def _undecided_launch(recipe_id: str, launcher: str) -> sa.Update:
    """An update of the launch if this launcher owns it and it is not decided yet."""
    return sa.update(launches).where(
        launches.c.recipe_id == recipe_id,
        launches.c.owner == launcher,
        launches.c.state != "decided",
    )


class _LostLaunch(Exception):
    """Raised inside a transaction to roll it back: the launch is another's now."""


def pid_alive(pid: int) -> bool:
    """Whether a process of this machine has that id (a launcher's lease names one)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: The databases the journal is written for and tested on.
_BACKENDS: Final = ("sqlite", "postgresql")


def revision_problem(found: str | None, shown: str) -> None:
    """Raise the :class:`JournalError` that says why a journal stamped ``found`` (``None``:
    empty) cannot be used by this virtprov; nothing when it is at the head. ``shown`` is
    the journal's URL with any password hidden."""
    if found == HEAD_REVISION:
        return
    if found is None:
        raise JournalError(
            f"the journal {shown} is empty: run `virtprov journal upgrade` to create its tables"
        )
    if found.isdigit() and int(found) > int(HEAD_REVISION):
        raise JournalError(
            f"the journal {shown} has schema {found}, newer than this virtprov "
            f"knows ({HEAD_REVISION}): upgrade virtprov on this machine"
        )
    if not _known_revision(found):
        raise JournalError(
            f"the journal {shown} is stamped with schema revision {found[:40]!r}, "
            f"which no virtprov made (this one knows up to {HEAD_REVISION}): is [pool] "
            "journal the database of another program?"
        )
    raise JournalError(
        f"the journal {shown} has schema {found}, this virtprov needs "
        f"{HEAD_REVISION}: run `virtprov journal upgrade`"
    )


def refusal(url: sa.URL, exc: sa.exc.DBAPIError) -> str:
    """What the operator can act on, for a journal the database refused to open."""
    database = url.database or ""
    on_file = url.get_backend_name() == "sqlite" and database not in ("", ":memory:")
    # sqlite3 says "file is not a database" as a DatabaseError that is no OperationalError
    not_sqlite = isinstance(exc.orig, sqlite3.DatabaseError) and not isinstance(
        exc.orig, sqlite3.OperationalError
    )
    if on_file and not_sqlite:
        return f"{database} is not an SQLite database (is [pool] journal the right file?)"
    return str(exc.orig).strip().replace("\n", " ")


def checked_url(url: str) -> sa.URL:
    """``url`` as an SQLAlchemy URL; a :class:`JournalError` when :func:`url_problem`
    finds one."""
    problem = url_problem(url)
    if problem is not None:
        raise JournalError(f"cannot open the journal {redact_url(url)}: its URL {problem}")
    return sa.make_url(url)


@contextmanager
def opening(url: sa.URL, safe_url: str, engine: Engine) -> Iterator[None]:
    """Around what opening a journal checks: whatever fails, ``engine`` is disposed and
    the error is one :class:`JournalError` naming the journal."""
    try:
        yield
    except JournalUnavailable as exc:
        engine.dispose()
        raise JournalError(f"cannot open the journal {safe_url}: {exc.reason}") from None
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        raise JournalError(f"cannot open the journal {safe_url}: {refusal(url, exc)}") from None
    except JournalError:
        engine.dispose()
        raise


def url_problem(url: str) -> str | None:
    """What makes ``url`` unusable as a journal, found without connecting or creating
    anything (so ``virtprov config check`` can ask); ``None`` when nothing does.

    The answer never repeats the URL (it may hold a password): callers name it. A
    password in it is not a problem here: configuration refuses one written in the file,
    and puts the ``journal_password`` reference's value in.
    """
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return 'is not a database URL (e.g. "sqlite:////var/lib/virtprov/journal.sqlite")'
    try:
        dialect = parsed.get_dialect()
    except sa.exc.NoSuchModuleError:
        return (
            f"names a database SQLAlchemy does not know ({parsed.drivername!r}): "
            'use "sqlite:///PATH" or "postgresql+psycopg://USER@HOST/DATABASE"'
        )
    if parsed.get_backend_name() not in _BACKENDS:
        return f"names {parsed.get_backend_name()}; the journal runs on SQLite or PostgreSQL only"
    if getattr(dialect, "is_async", False):
        return f"names the asyncio driver {parsed.get_driver_name()!r}: use postgresql+psycopg"
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        postgresql = parsed.get_backend_name() == "postgresql"
        # psycopg itself may be there without a libpq to load ("no pq wrapper available").
        extra = (
            " (pip install 'virtprov[postgresql]'; psycopg needs the system's libpq, "
            "or pip install 'psycopg[binary]')"
            if postgresql
            else ""
        )
        return (
            f"needs the database driver {parsed.get_driver_name()!r}, which is not installed: "
            f"{exc}{extra}"
        )
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:"):
        return _sqlite_file_problem(Path(database))
    return None


def _sqlite_file_problem(path: Path) -> str | None:
    if path.is_dir():
        return f"names {path}, which is a directory: name a file in it"
    # SQLite opens a file it cannot write read-only, and fails only at the first write:
    # say it now. It also writes -wal and -shm files next to the database.
    if path.exists() and not (
        os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)
    ):
        return (
            f"names {path}, which (or whose directory) is read-only; the pool writes its "
            "journal: make both writable, or name another file"
        )
    return None


def _known_revision(revision: str) -> bool:
    """Whether one of virtprov's migrations made ``revision``."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        return ScriptDirectory(_MIGRATIONS).get_revision(revision) is not None
    except CommandError:
        return False


def _sightings_of(conn: Connection, provider: str) -> dict[str, int]:
    query = sa.select(sightings.c.guest_id, sightings.c.count).where(
        sightings.c.provider == provider
    )
    return {guest_id: int(count) for guest_id, count in conn.execute(query).all()}


def _engine(url: sa.URL, shown: str) -> Engine:
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    database = url.database or ""
    if database and database != ":memory:":
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(
                f"cannot open the journal {shown}: cannot make its directory: {exc.strerror}"
            ) from None
        # How long a writer waits for another's lock before the journal is "unavailable";
        # `?timeout=SECONDS` in the URL says otherwise.
        busy = {} if "timeout" in url.query else {"timeout": 30}
        engine = sa.create_engine(url, connect_args=busy)
    else:  # one in-memory database shared by the pool's threads (tests)
        engine = sa.create_engine(
            "sqlite://", connect_args={"check_same_thread": False}, poolclass=sa.StaticPool
        )

    # SQLite's Python driver starts transactions lazily and in DEFERRED mode, so two
    # writers can deadlock; take the write lock at BEGIN instead (SQLAlchemy's recipe).
    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        if database and database != ":memory:":
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


__all__ = [
    "HEAD_REVISION",
    "GuestRow",
    "Journal",
    "JournalUnavailable",
    "LaunchRow",
    "default_journal_url",
    "schema",
    "url_problem",
]
