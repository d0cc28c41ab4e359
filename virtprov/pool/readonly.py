"""A journal opened read-only, for the operator's tools: ``virtprov journal status``,
``virtprov metrics serve``, ``virtprov why``.

They run beside the schedulers (on their host or, with PostgreSQL, on another one) and
must never change or slow what the launchers do:

* **read-only for real**: an SQLite file is opened with ``mode=ro`` (SQLite refuses any
  write); a PostgreSQL session starts with ``default_transaction_read_only`` on (the
  server refuses any write). Nothing is created or migrated.
* **one consistent snapshot** per :meth:`ReadOnlyJournal.snapshot`, taken without
  locks: a deferred transaction on SQLite (in WAL mode readers never block the writer),
  ``REPEATABLE READ`` on PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from virtprov.errors import JournalError
from virtprov.pool.closing import Closing
from virtprov.pool.journal import checked_url, opening, revision_problem
from virtprov.urls import redact_url


class ReadOnlyJournal(Closing):
    """The journal at ``url`` (an SQLAlchemy URL), for reading only."""

    def __init__(self, url: str) -> None:
        self.url = checked_url(url)  # the same rules as the journal's writers
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            self.engine = _sqlite_engine(self.url, self.safe_url)
        else:
            self.engine = sa.create_engine(
                self.url,
                pool_pre_ping=True,
                isolation_level="REPEATABLE READ",
                connect_args={"options": "-c default_transaction_read_only=on"},
            )
        with opening(self.url, self.safe_url, self.engine):
            self._check_schema()

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages."""
        return redact_url(self.url.render_as_string(hide_password=True))

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A connection whose reads all see the journal at one moment."""
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except sa.exc.DBAPIError as exc:  # unreachable, restarting, refused...
            raise JournalError(f"cannot read the journal {self.safe_url}: {exc.orig}") from None

    def close(self) -> None:
        self.engine.dispose()

    def _check_schema(self) -> None:
        with self.engine.connect() as conn:
            found = None
            if sa.inspect(conn).has_table("alembic_version"):
                found = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        revision_problem(found, self.safe_url)


def _sqlite_engine(url: sa.URL, safe_url: str) -> sa.Engine:
    database = url.database or ""
    if not database or database == ":memory:":
        raise JournalError(
            f"the journal {safe_url} is in memory: only the pool that holds it can read it"
        )
    path = Path(database).absolute()
    if not path.is_file():
        raise JournalError(f"there is no journal at {path}: no pool has used it yet")
    uri = f"{path.as_uri()}?mode=ro"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)

    # A connection per snapshot: opening an SQLite file costs less than sharing one.
    engine = sa.create_engine("sqlite://", creator=connect, poolclass=sa.NullPool)

    # Python's driver would start no transaction for reads; take one deferred snapshot.
    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine
