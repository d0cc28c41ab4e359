"""The fleet-wide status from a journal two launcher processes share: `virtprov metrics
serve`, `metrics show` and `journal status --json`, read-only, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from pool_helpers import VIRTPROV, one_line_failure
from prometheus_client.parser import text_string_to_metric_families

from virtprov.cli import cli
from virtprov.errors import JournalError
from virtprov.pool.fleet import read_fleet_status
from virtprov.pool.fleet_metrics import JournalCollector
from virtprov.pool.readonly import ReadOnlyJournal

#: One scheduler process: submits its recipes ("id@lab"), never takes an outcome, and
#: keeps running (its lease alive) until its standard input closes.
LAUNCHER = textwrap.dedent(
    """
    import sys
    from virtprov.pool import Pool, Recipe

    config, *recipes = sys.argv[1:]
    with Pool.from_config(config) as pool:
        for spec in recipes:
            recipe_id, lab = spec.split("@")
            pool.submit(Recipe(recipe_id, labs=[lab]))
        print("submitted", flush=True)
        sys.stdin.read()
    """
)


def config(tmp_path: Path, journal_url: str, launcher: str) -> Path:
    path = tmp_path / f"{launcher}.toml"
    path.write_text(
        f"""
[pool]
journal = "{journal_url}"
launcher = "{launcher}"
poll_interval = 0.1

[providers.fast]
driver = "fake"
lab = "fast.example.com"
state_file = "{tmp_path / "fast.sqlite"}"

[providers.slow]
driver = "fake"
lab = "slow.example.com"
state_file = "{tmp_path / "slow.sqlite"}"
latency = {{ build = 3600 }}
"""
    )
    return path


@pytest.fixture
def two_launchers(tmp_path: Path, journal_url: str) -> Iterator[tuple[Path, str]]:
    """Launchers a and b on one journal: 7 recipes for the fast cloud (decided), 3 for
    the slow one (building for an hour), 1 for a lab nobody serves (precluded)."""
    recipes = {
        "a": [
            "a1@fast.example.com",
            "a2@fast.example.com",
            "a3@fast.example.com",
            "a4@fast.example.com",
            "a5@slow.example.com",
            "a6@slow.example.com",
        ],
        "b": [
            "b1@fast.example.com",
            "b2@fast.example.com",
            "b3@fast.example.com",
            "b4@slow.example.com",
            "b5@nowhere.example.com",
        ],
    }
    processes = {}
    for name, specs in recipes.items():
        processes[name] = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(config(tmp_path, journal_url, name)), *specs],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
    try:
        for process in processes.values():
            assert process.stdout is not None
            assert process.stdout.readline() == "submitted\n"
        wait_until_settled(journal_url)
        yield tmp_path / "a.toml", journal_url
    finally:
        for process in processes.values():
            assert process.stdin is not None
            process.stdin.close()
            process.wait(30)


def wait_until_settled(journal_url: str, timeout: float = 60) -> None:
    """Until 8 launches are decided and 3 slow guests are building."""
    engine = sa.create_engine(journal_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                rows = conn.exec_driver_sql(
                    "SELECT state, count(*) FROM launches GROUP BY state"
                ).all()
            if dict((state, int(n)) for state, n in rows) == {"decided": 8, "building": 3}:
                return
            time.sleep(0.1)
    finally:
        engine.dispose()
    raise AssertionError(f"the launchers did not settle: {rows}")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_serve_reports_both_launchers_and_the_right_counts(
    two_launchers: tuple[Path, str],
) -> None:
    config_a, _journal_url = two_launchers
    server = subprocess.Popen(
        [
            *VIRTPROV,
            "--config",
            str(config_a),
            "metrics",
            "serve",
            "--port",
            "0",
            "--address",
            "127.0.0.1",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        found = re.search(r"on http://127\.0\.0\.1:(\d+)/metrics", line)
        assert found, line
        assert "password" not in line
        url = f"http://127.0.0.1:{found.group(1)}/metrics"
        with urllib.request.urlopen(url, timeout=30) as response:
            got = samples(response.read().decode())
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 0

    def value(name: str, **labels: str) -> float:
        return got[(name, tuple(sorted(labels.items())))]

    assert value("virtprov_journal_up") == 1
    assert value("virtprov_journal_launchers_alive") == 2
    host = os.uname().nodename
    assert value("virtprov_journal_launcher_up", launcher="a", host=host) == 1
    assert value("virtprov_journal_launcher_up", launcher="b", host=host) == 1
    assert 0 <= value("virtprov_journal_launcher_lease_age_seconds", launcher="a") < 10
    assert 0 <= value("virtprov_journal_launcher_lease_age_seconds", launcher="b") < 10
    launches = {
        labels: v for (name, labels), v in got.items() if name == "virtprov_journal_launches" and v
    }
    assert launches == {(("provider", "slow"), ("state", "building")): 3}
    waiting = {
        labels: v
        for (name, labels), v in got.items()
        if name == "virtprov_journal_outcomes_waiting" and v
    }
    assert waiting == {
        (("provider", "fast"), ("status", "succeeded")): 7,
        (("provider", "none"), ("status", "precluded")): 1,
    }
    # every (status, provider) is there from zero, so that a sum or an alert sees it
    assert value("virtprov_journal_outcomes_waiting", status="failed", provider="slow") == 0
    assert not any(
        dict(labels).get("provider") == "none"
        for name, labels in got
        if name in ("virtprov_journal_guests", "virtprov_journal_provider_disabled")
    )
    assert value("virtprov_journal_outcomes_recent", status="succeeded", provider="fast") == 7
    assert value("virtprov_journal_guests", state="live", provider="fast") == 7
    assert value("virtprov_journal_guests", state="live", provider="slow") == 3
    assert value("virtprov_journal_held", provider="slow", resource="instances") == 3
    assert value("virtprov_journal_history_launches") == 8
    assert value("virtprov_journal_provider_disabled", provider="fast") == 0
    assert 0 < value("virtprov_journal_oldest_undecided_seconds") < 120


def test_journal_status_json_and_metrics_show_agree(two_launchers: tuple[Path, str]) -> None:
    config_a, _ = two_launchers
    result = CliRunner().invoke(cli, ["--config", str(config_a), "journal", "status", "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["launches"] == {"building": 3, "succeeded": 7, "precluded": 1}
    assert status["undecided"] == {"building": {"slow": 3}}
    assert status["outcomes_waiting"] == {"succeeded": {"fast": 7}, "precluded": {"none": 1}}
    assert status["guests"] == {"live": 10}
    assert status["guests_by_provider"] == {"live": {"fast": 7, "slow": 3}}
    assert status["held"]["fast"]["instances"] == 7
    assert [(x["name"], x["alive"]) for x in status["launchers"]] == [("a", True), ("b", True)]
    assert status["launchers_alive"] == 2
    assert status["history"] == 8

    result = CliRunner().invoke(cli, ["--config", str(config_a), "metrics", "show"])
    assert result.exit_code == 0, result.output
    got = samples(result.output)
    assert got[("virtprov_journal_launchers_alive", ())] == 2
    assert got[("virtprov_journal_guests", (("provider", "fast"), ("state", "live")))] == 7

    human = CliRunner().invoke(cli, ["--config", str(config_a), "journal", "status"])
    assert human.exit_code == 0
    assert re.search(r"^building +slow +3$", human.output, re.M)
    assert re.search(r"^a +\S+ +\d+ +yes +", human.output, re.M)
    assert "outcomes waiting to be taken: 8" in human.output


def test_the_operators_reader_cannot_write(journal_url: str) -> None:
    journal = ReadOnlyJournal(journal_url)
    try:
        with (
            pytest.raises(JournalError, match="cannot read the journal"),
            journal.snapshot() as conn,
        ):
            conn.exec_driver_sql("DELETE FROM launches")
    finally:
        journal.close()


def test_a_journal_that_cannot_be_read_is_up_0_not_a_failed_scrape(journal_url: str) -> None:
    journal = ReadOnlyJournal(journal_url)

    class Unreachable(ReadOnlyJournal):
        def __init__(self) -> None:
            self.url = journal.url

        def snapshot(self):  # type: ignore[no-untyped-def, override]
            raise JournalError("cannot read the journal: connection refused")

    (up,) = JournalCollector(Unreachable(), ["fast"]).collect()
    assert [(s.name, s.value) for s in up.samples] == [("virtprov_journal_up", 0)]
    with journal.snapshot() as conn:
        status = read_fleet_status(conn, journal=journal.safe_url)
    journal.close()
    assert status.launchers == ()
    assert status.oldest_undecided is None


def test_no_journal_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "virtprov.toml"
    path.write_text(
        f'[pool]\njournal = "sqlite:///{tmp_path / "absent.sqlite"}"\n'
        f'[providers.fake]\ndriver = "fake"\nlab = "x"\n'
    )
    assert one_line_failure("--config", path, "metrics", "show") == (
        2,
        f"virtprov: JournalError: there is no journal at {tmp_path / 'absent.sqlite'}: "
        "no pool has used it yet",
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "mysql://virtprov@db.example.com/journal",
            "its URL names mysql; the journal runs on SQLite or PostgreSQL only",
        ),
        ("sqlite://", "is in memory: only the pool that holds it can read it"),
        ("not a url", "its URL is not a database URL"),
    ],
)
def test_journals_the_reader_cannot_use_are_one_clear_error(url: str, message: str) -> None:
    with pytest.raises(JournalError, match=message):
        ReadOnlyJournal(url)
