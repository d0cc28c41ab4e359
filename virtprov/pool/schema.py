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
"""

from __future__ import annotations

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
    Index("launches_by_state", "state", "owner"),
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
    Index("guests_by_state", "state", "provider"),
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
