"""A throwaway PostgreSQL server on 127.0.0.1, for the journal's tests and benchmarks.

The pool's journal is SQLite by default and PostgreSQL when several scheduler processes
share the clouds; the PostgreSQL path is only trustworthy if the tests run it. This
starts a private cluster from the Debian ``postgresql`` package's binaries (the newest
under ``/usr/lib/postgresql/*/bin``, or whatever ``initdb`` is on ``PATH``) in a
temporary directory, listening on a free loopback port and a private socket directory,
with ``fsync`` off: nothing here must survive the test run.

PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user
(which the Debian package creates) and the directory is handed to it.

The pytest fixtures (registered through the ``pytest11`` entry point):

* ``postgres_server`` (session scope): the running :class:`TemporaryPostgres`; tests
  that use it are skipped, with the reason, only when no PostgreSQL binaries exist (and
  fail instead when ``VIRTPROV_REQUIRE_POSTGRES`` is set, as the project's test command does);
* ``postgres_url``: a fresh, empty database on that server for each test.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import sqlalchemy

__all__ = ["PostgresUnavailable", "TemporaryPostgres", "find_bin_dir"]

_USER = "postgres"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine, or the server would not start."""


def find_bin_dir() -> Path:
    """The directory of the newest installed PostgreSQL server binaries.

    Debian keeps them off ``PATH``, under ``/usr/lib/postgresql/VERSION/bin``; elsewhere
    they are wherever ``pg_ctl`` is.
    """
    candidates = sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if _has_server(Path(p))),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    on_path = shutil.which("pg_ctl")
    if on_path and _has_server(Path(on_path).parent):
        return Path(on_path).parent
    raise PostgresUnavailable(
        "no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin"
        " or on PATH; install the Debian package 'postgresql'"
    )


def _has_server(bin_dir: Path) -> bool:
    return all((bin_dir / program).exists() for program in ("initdb", "pg_ctl", "postgres"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class TemporaryPostgres:
    """A private PostgreSQL cluster, started on enter and removed on exit."""

    def __init__(self, bin_dir: Path | None = None) -> None:
        self.bin_dir = bin_dir or find_bin_dir()
        self.port = _free_port()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._databases = itertools.count(1)
        self._as_root = os.geteuid() == 0

    @property
    def directory(self) -> Path:
        if self._tmp is None:
            raise RuntimeError("TemporaryPostgres is not running")
        return Path(self._tmp.name)

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the ``postgres`` database (for a fresh one, see below)."""
        return self.url_of("postgres")

    def url_of(self, database: str) -> str:
        return f"postgresql+psycopg://{_USER}@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, args: Sequence[str]) -> None:
        command = [str(self.bin_dir / program), *args]
        if self._as_root:
            command = ["runuser", "-u", _USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise PostgresUnavailable(
                f"{program} failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()}"
            )

    def start(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="virtprov-pg-")
        root = self.directory
        if self._as_root:
            shutil.chown(root, user=_USER)
        data = root / "data"
        self._run(
            "initdb",
            ["-D", str(data), "-A", "trust", "-U", _USER, "-E", "UTF8", "--locale=C", "--no-sync"],
        )
        try:
            self.start_server()
        except PostgresUnavailable:
            self.stop()
            raise

    def start_server(self) -> None:
        """Start the server on its data directory (again, after :meth:`stop_server`)."""
        root = self.directory
        data, log = root / "data", root / "server.log"
        # -h: loopback only; -k: a private socket directory; -F: no fsync.
        options = f"-h 127.0.0.1 -p {self.port} -k {root} -F -c max_connections=200"
        try:
            self._run(
                "pg_ctl",
                ["-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start"],
            )
        except PostgresUnavailable as error:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise PostgresUnavailable(f"{error}\n{tail}") from None

    def stop_server(self) -> None:
        """Stop the server but keep its data: a database outage, for tests and soaks.

        Open connections are cut (``-m fast``); :meth:`start_server` brings the same
        databases back on the same port.
        """
        self._run("pg_ctl", ["-D", str(self.directory / "data"), "-m", "fast", "-w", "stop"])

    def fresh_database(self) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        name = f"journal_{next(self._databases)}"
        engine = sqlalchemy.create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {name}")
        finally:
            engine.dispose()
        return self.url_of(name)

    def stop(self) -> None:
        if self._tmp is None:
            return
        data = self.directory / "data"
        if (data / "postmaster.pid").exists():
            # Already gone is fine: the directory is removed either way.
            with contextlib.suppress(PostgresUnavailable):
                self._run("pg_ctl", ["-D", str(data), "-m", "immediate", "-w", "stop"])
        self._tmp.cleanup()
        self._tmp = None

    def __enter__(self) -> TemporaryPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[TemporaryPostgres]:
    try:
        bin_dir = find_bin_dir()
    except PostgresUnavailable as missing:
        if os.environ.get("VIRTPROV_REQUIRE_POSTGRES"):
            pytest.fail(f"VIRTPROV_REQUIRE_POSTGRES is set but {missing}")
        pytest.skip(str(missing))
    with TemporaryPostgres(bin_dir) as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: TemporaryPostgres) -> str:
    return postgres_server.fresh_database()
