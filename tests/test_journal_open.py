"""Opening the journal: every way its URL or file can be wrong is one ``JournalError``."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest

from virtprov.errors import ConfigError, JournalError
from virtprov.fake import FakeProvider
from virtprov.pool import Journal
from virtprov.pool.journal import url_problem


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("not a url", "is not a database URL"),
        ("nosuchdb://h/d", "names a database SQLAlchemy does not know ('nosuchdb')"),
        ("mysql://h/d", "names mysql; the journal runs on SQLite or PostgreSQL only"),
        ("postgresql+pg8000://h/d", "needs the database driver 'pg8000', which is not installed"),
        ("postgresql+asyncpg://h/d", "names the asyncio driver 'asyncpg'"),
    ],
)
def test_a_url_that_cannot_be_a_journal(url: str, problem: str) -> None:
    assert problem in (url_problem(url) or "")
    with pytest.raises(JournalError) as raised:
        Journal(url)
    assert str(raised.value).startswith("cannot open the journal ")
    assert problem in str(raised.value)


def test_a_good_url_has_no_problem(tmp_path: Path) -> None:
    assert url_problem(f"sqlite:///{tmp_path / 'j.sqlite'}") is None
    assert url_problem("postgresql+psycopg://u:pw@db.example.com/j") is None


def test_the_password_is_hidden_wherever_it_is_in_the_url() -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://u@127.0.0.1:{port}/j?password=hunter2&connect_timeout=5"
    with pytest.raises(JournalError) as raised:
        Journal(url)
    assert "hunter2" not in str(raised.value)
    assert f"postgresql+psycopg://u@127.0.0.1:{port}/j?" in str(raised.value)
    assert "password=***" in str(raised.value)


def test_a_revision_no_virtprov_made_is_never_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    Journal(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'ae1027a6acf'")
    for upgrade in (True, False):
        with pytest.raises(JournalError, match="which no virtprov made"):
            Journal(f"sqlite:///{path}", upgrade=upgrade)
    with sqlite3.connect(path) as connection:  # left as it was
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [
            ("ae1027a6acf",)
        ]


def test_a_fake_cloud_state_file_that_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        FakeProvider(state_file=tmp_path)
    assert str(raised.value) == (
        f"state_file: the fake cloud's state file {tmp_path} is a directory: name a file in it"
    )
