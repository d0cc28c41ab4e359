"""The journal's schema, migrations and settings; the rate limiter."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from virtprov.config import Options
from virtprov.errors import ConfigError, JournalError
from virtprov.model import Capacity
from virtprov.pool import Journal, PoolSettings
from virtprov.pool.journal import HEAD_REVISION
from virtprov.pool.ratelimit import TokenBucket
from virtprov.pool.schema import metadata


def test_migrations_build_exactly_the_declared_schema(journal_url: str) -> None:
    journal = Journal(journal_url)
    with journal.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    assert journal.revision() == HEAD_REVISION


def test_a_newer_schema_is_a_clear_error(journal_url: str) -> None:
    url = journal_url
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose()
    with pytest.raises(JournalError, match="schema 9999, newer than this virtprov knows"):
        Journal(url)


def test_an_unreachable_journal_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(JournalError, match="cannot open the journal"):
        Journal(f"sqlite:///{tmp_path / 'dir'}")


def test_an_unreachable_postgresql_journal_is_a_clear_error_without_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = sa.make_url(f"postgresql+psycopg://virtprov@127.0.0.1:{port}/journal").set(
        password="hunter2"
    )
    with pytest.raises(JournalError, match="cannot open the journal") as raised:
        Journal(url.render_as_string(hide_password=False))
    assert "hunter2" not in str(raised.value)


def test_a_journal_that_is_not_upgraded_says_what_to_run(empty_journal_url: str) -> None:
    with pytest.raises(JournalError, match="run `virtprov journal upgrade`"):
        Journal(empty_journal_url, upgrade=False)


def test_a_postgresql_journal_is_not_upgraded_behind_the_operators_back(postgres_url: str) -> None:
    # Several processes share it; the schema changes only through `virtprov journal upgrade`.
    with pytest.raises(JournalError, match="run `virtprov journal upgrade`"):
        Journal(postgres_url)


def options(**table: object) -> Options:
    return Options(table, path="virtprov.toml", prefix="pool")


def test_settings_from_the_pool_table() -> None:
    settings = PoolSettings.from_options(
        options(
            name="lab-a",
            journal="postgresql+psycopg://virtprov@db.example.com/virtprov",
            journal_password={"env": "VIRTPROV_JOURNAL_PASSWORD"},
            workers=3,
            mutating_rate=10,
            limits={"rhv": {"mutating": 2, "read": 5}},
        )
    )
    assert settings.name == "lab-a"
    assert settings.workers == 3
    assert settings.limits_for("rhv").mutating == 2
    assert settings.limits_for("other").mutating == 10
    assert (settings.close_timeout, settings.stuck_after) == (60.0, 300.0)
    tuned = PoolSettings.from_options(options(close_timeout=5, stuck_after=30))
    assert (tuned.close_timeout, tuned.stuck_after) == (5.0, 30.0)
    assert "VIRTPROV_JOURNAL_PASSWORD" in repr(settings.journal_password)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"jurnal": "x"}, "pool.jurnal: is not a known option"),
        ({"journal": "/var/lib/j.sqlite"}, "pool.journal: must be an SQLAlchemy URL"),
        ({"journal": "postgresql+psycopg://u:hunter2@db/j"}, "must not contain a password"),
        ({"choice": "random"}, 'pool.choice: must be "ordered" or "least-loaded"'),
        ({"limits": {"rhv": {"mutate": 1}}}, "pool.limits.rhv.mutate: is not a known option"),
        ({"workers": 0}, "pool.workers: must be at least 1"),
        ({"stuck_after": 0}, "pool.stuck_after: must be more than 0 seconds, got 0"),
        ({"close_timeout": -1}, "pool.close_timeout: must not be negative, got -1"),
    ],
)
def test_bad_pool_settings_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as caught:
        PoolSettings.from_options(options(**table))
    assert "hunter2" not in str(caught.value)


def test_journal_password_comes_from_its_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIRTPROV_JOURNAL_PASSWORD", "s3cret")
    settings = PoolSettings.from_options(
        options(
            journal="postgresql+psycopg://virtprov@db.example.com/virtprov",
            journal_password={"env": "VIRTPROV_JOURNAL_PASSWORD"},
        )
    )
    assert sa.make_url(settings.journal_url()).password == "s3cret"
    assert "s3cret" not in repr(settings)


def test_token_bucket_paces_calls_at_its_rate() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(5.0, clock=lambda: now[0], sleep=sleep)
    waits = [bucket.acquire() for _ in range(10)]
    assert waits[0] == pytest.approx(0.2)  # starts empty: no burst after a (re)start
    assert now[0] == pytest.approx(2.0)  # 10 calls at 5 per second
    bucket.share_among(2)
    bucket.acquire()
    assert now[0] == pytest.approx(2.4)  # half the rate: 0.4 s per call


def test_a_guest_of_unknown_shape_holds_an_instance_of_the_capacity_left(journal_url: str) -> None:
    journal = Journal(journal_url)
    journal.set_capacity("cloud", Capacity(instances=3, vcpus=8, ram_mib=8192), taken_at=0.0)
    # found by its name after a lost create: the journal never knew its flavor
    journal.add_doomed(provider="cloud", name="g", guest_id="x", recipe_id="1", reason="lost")
    free = journal.capacity("cloud")
    assert free is not None
    assert free[0] == Capacity(instances=2, vcpus=8, ram_mib=8192)


def test_a_read_waits_for_another_threads_transaction_on_the_in_memory_journal() -> None:
    # The in-memory journal is one SQLite connection shared by the pool's threads: a read
    # that bypassed the journal's lock (a dry sweep's sightings did) began a transaction
    # inside the launcher's and failed "cannot start a transaction within a transaction".
    journal = Journal("sqlite://")
    journal.sight("fake", {"g-1": "vp-1"}, now=0.0)
    holding, release = threading.Event(), threading.Event()

    def launcher_writes() -> None:
        with journal._write():
            holding.set()
            release.wait(10)

    writer = threading.Thread(target=launcher_writes)
    writer.start()
    assert holding.wait(10)
    threading.Timer(0.2, release.set).start()
    try:
        assert journal.sightings("fake") == {"g-1": 1}
    finally:
        release.set()
        writer.join(10)
