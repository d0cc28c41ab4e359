"""The journal's tables (SQLAlchemy Core), one definition for SQLite and PostgreSQL.

The Alembic migrations under ``migrations/versions`` create exactly these tables; a test
compares the two, so a change here without a migration fails.

* ``launchers``: each pool process, its host, pid and lease (a process whose lease has
  run out is presumed dead and its launches are taken over).
* ``launches``: one row per recipe: the request, the state of its launch, the launcher
  that owns it, and the outcome until the caller has taken it.
* ``guests``: every cloud resource a launch made or is about to make. A row is written
  *before* ``create_guest`` (state ``creating``, the name it will carry), so that a
  create whose answer is lost can still be found by name and removed. A destroyed
  guest keeps in ``leftovers`` what its destroy left to delete once it is gone.
* ``capacity``: each provider's last capacity snapshot; launches in flight are counted
  against it from ``guests``.
* ``provider_status``: providers disabled after a permanent error, with the reason.
* ``sightings``: guests the sweeper saw that nobody owns, and how often.

:func:`from_row` reads a row into an attrs value whose fields are named as its columns.

Decided launches and gone guests are *history*: kept for ``[pool] history_days`` (what
``virtprov why`` can answer), then pruned. The pool's own queries (planning, polling,
claiming, taking outcomes) never read history: they are answered from partial indexes
that hold only live rows, so their cost does not grow with the journal's age.
"""

from __future__ import annotations

from typing import Any, TypeVar

import attrs
import sqlalchemy as sa
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

launchers = Table(
    "launchers",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("lease_until", Float, nullable=False),
    # When the lease was last renewed (None: by a virtprov older than schema 0002).
    Column("renewed_at", Float, nullable=True),
)

launches = Table(
    "launches",
    metadata,
    Column("recipe_id", String(100), primary_key=True),
    # The request as JSON: hostRequires, labs, owner, boot, arch.
    Column("request", Text, nullable=False),
    # queued | creating | building | starting | decided
    Column("state", String(20), nullable=False),
    Column("submitted_by", String(200), nullable=False),
    Column("owner", String(200), nullable=True),
    Column("provider", String(100), nullable=True),
    Column("flavor_id", String(255), nullable=True),
    Column("guest_row", Integer, nullable=True),
    # Providers this launch has given up on (JSON list), and why (JSON list of reasons).
    Column("passed", Text, nullable=False, default="[]"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("submitted_at", Float, nullable=False),
    Column("deadline", Float, nullable=False),
    Column("next_at", Float, nullable=False),
    # The outcome: precluded | skipped | succeeded | failed, and its details as JSON.
    Column("status", String(20), nullable=True),
    Column("outcome", Text, nullable=True),
    Column("decided_at", Float, nullable=True),
    Column("taken", Boolean, nullable=False, default=False),
)

guests = Table(
    "guests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("provider", String(100), nullable=False),
    Column("name", String(255), nullable=False),
    Column("guest_id", String(255), nullable=True),
    Column("recipe_id", String(100), nullable=False),
    # creating | live | doomed | destroyed | gone
    Column("state", String(20), nullable=False),
    Column("vcpus", Integer, nullable=True),
    Column("ram_mib", Integer, nullable=True),
    Column("disk_bytes", BigInteger, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("next_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("reason", Text, nullable=True),
    # What destroy_guest left to delete once the guest is gone (JSON list of
    # OwnedResource), emptied as they are deleted; NULL: nothing.
    Column("leftovers", Text, nullable=True),
    UniqueConstraint("provider", "guest_id", name="guests_provider_guest_id"),
    # A guest released by its id alone; one recipe's attempts (`virtprov why`).
    Index("guests_by_guest_id", "guest_id"),
    Index("guests_by_recipe", "recipe_id"),
)

capacity = Table(
    "capacity",
    metadata,
    Column("provider", String(100), primary_key=True),
    Column("taken_at", Float, nullable=False),
    Column("instances", Integer, nullable=True),
    Column("vcpus", Integer, nullable=True),
    Column("ram_mib", Integer, nullable=True),
    Column("disk_bytes", BigInteger, nullable=True),
)

provider_status = Table(
    "provider_status",
    metadata,
    Column("provider", String(100), primary_key=True),
    Column("disabled", Text, nullable=True),
    Column("since", Float, nullable=False),
)

sightings = Table(
    "sightings",
    metadata,
    Column("provider", String(100), primary_key=True),
    Column("guest_id", String(255), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("count", Integer, nullable=False),
)

_Record = TypeVar("_Record", bound=attrs.AttrsInstance)


def from_row(cls: type[_Record], row: Any, **computed: Any) -> _Record:
    """``cls`` (an attrs class) from a row of these tables: each field ``computed`` gives
    as given, every other one from the column of its name."""
    columns = row._mapping
    named = {f.name: columns[f.name] for f in attrs.fields(cls) if f.name not in computed}
    return cls(**named, **computed)


def _literals(*values: str) -> list[sa.ColumnElement[str]]:
    return [sa.literal_column(f"'{value}'") for value in values]


# The conditions below are written with literal values, not bound parameters: a planner
# uses a partial index only when it can prove from the query text that the query's
# condition implies the index's (SQLite cannot through an IN list of parameters, nor
# PostgreSQL in a generic plan). The journal's queries use these very expressions.

#: Launch states before the outcome.
LIVE_STATES = ("queued", "creating", "building", "starting")
#: A launch not yet decided.
launch_is_live = launches.c.state.in_(_literals(*LIVE_STATES))
#: A decided launch.
launch_is_decided = launches.c.state == sa.literal_column("'decided'")
#: A decided launch whose outcome the scheduler has not taken yet.
outcome_waits = sa.and_(launch_is_decided, launches.c.taken.is_(False))
#: A decided launch whose outcome was taken: history, kept for ``history_days``.
launch_is_history = sa.and_(launch_is_decided, launches.c.taken.is_(True))
#: Guest states that hold (or may hold) a cloud resource and count against capacity.
HELD_STATES = ("creating", "live", "doomed", "destroyed")
#: A guest row that holds (or may hold) a cloud resource.
guest_is_held = guests.c.state.in_(_literals(*HELD_STATES))
#: A guest row that holds nothing any more (history).
guest_is_gone = guests.c.state == sa.literal_column("'gone'")


def _partial_index(name: str, *columns: Column[Any], where: sa.ColumnElement[bool]) -> Index:
    """An index of only the rows ``where`` holds, the same on both databases."""
    return Index(name, *columns, sqlite_where=where, postgresql_where=where)


# Live rows only: claiming and planning read these, never the decided history.
_partial_index("launches_live", launches.c.state, launches.c.owner, where=launch_is_live)
# Outcomes waiting to be taken (each scheduler's poll), oldest first.
_partial_index("launches_untaken", launches.c.decided_at, where=outcome_waits)
# Guests that hold something: capacity reservations, polls, destroys, sweeps.
_partial_index("guests_held", guests.c.state, guests.c.provider, where=guest_is_held)
# History by age: pruning takes the oldest; recent outcomes are a range of it. Its rows
# and launches_untaken's never overlap, so no planner can take one for the other (with
# statistics missing or stale, SQLite would read all of history to take outcomes).
_partial_index("launches_history", launches.c.decided_at, where=launch_is_history)
_partial_index("guests_gone", guests.c.created_at, where=guest_is_gone)
