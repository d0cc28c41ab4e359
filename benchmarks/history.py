"""History benchmark: launching beside 1,000,000 decided launches, and while a year of
history is pruned, in one run.

For each journal (an SQLite file, then a throwaway PostgreSQL on 127.0.0.1), the same
launches run on three journals:

* **empty**: a fresh journal;
* **full**: one holding 1,000,000 decided launches (and as many gone guest rows), all
  within ``history_days`` (30): nothing to prune, everything kept;
* **year**: one holding 1,000,000 decided launches spread over the last 365 days, made
  at schema 0001 and upgraded (``virtprov journal upgrade``, timed), while a pruner
  deletes the 11 months beyond ``history_days`` beside the launches.

A round is 150 recipes submitted at once on a fake cloud with no latency and no rate
limit (so the journal is what limits the pool), each outcome taken with ``poll()`` and
each guest released, as a scheduler does: launches per second from the first submit to
the last outcome. The machine is shared and noisy, so every round on the full or the
year journal is compared with a round on the empty one run just before it; 7 pairs of
each, and the figure is the median of the 7 ratios.

Prints per journal the empty journal's launch rate, ``full_ratio`` (full / empty) and
``pruning_ratio`` (year while pruning / empty): both at least 0.9 when history does not
weigh; the rows pruned during the run, the pruner's longest transaction (the longest a
launch could have waited for it), how long filling and upgrading took, and what one read
of the fleet view (``virtprov metrics serve``'s scrape) costs on the full journal,
without and with counting the history it keeps. The last
line is JSON, with each pair's ratio too. ``--quick``: 20,000 history rows, 40 recipes,
one pair (a smoke test); ``--journal sqlite|postgresql``: one of the two.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from virtprov.fake import FakeProvider
from virtprov.pool import Limits, Pool, PoolSettings, Recipe, Status
from virtprov.pool.history import DAY, HistoryPruner

REQUEST = '{"arch": null, "boot": null, "hardware": null, "host_requires": "<hostRequires/>", "labs": ["lab.example.com"], "owner": "jdoe"}'  # noqa: E501
OUTCOME = '{"error": null, "flavor_id": "fake-medium", "guest": {"addresses": ["10.0.0.1"], "flavor_id": "fake-medium", "id": "00000000-0000-0000-0000-000000000000", "labels": {"virtprov-pool": "virtprov", "virtprov-recipe": "0"}, "macs": ["52:54:00:00:00:01"], "name": "beaker-recipe-0", "provider": "fake", "state": "ready"}, "provider": "fake", "reasons": []}'  # noqa: E501


def upgrade(url: str, revision: str) -> float:
    """Migrate the journal at ``url`` to ``revision``; the seconds it took."""
    from alembic import command
    from alembic.config import Config

    from virtprov.pool.journal import _MIGRATIONS

    config = Config()
    config.set_main_option("script_location", _MIGRATIONS)
    engine = sa.create_engine(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    engine.dispose()
    return time.perf_counter() - started


def fill(url: str, count: int, days: float) -> float:
    """``count`` decided, taken launches spread evenly over the last ``days`` (and one gone
    guest row each), written by the database itself; the seconds it took."""
    now = time.time()
    step = days * DAY / count
    engine = sa.create_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    numbers = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count) "
        if sqlite
        else ""
    )
    source = "FROM n" if sqlite else "FROM generate_series(1, :count) AS n(i)"
    at = f"(:now - {days * DAY} + n.i * {step})"
    params = {"count": count, "now": now, "request": REQUEST, "outcome": OUTCOME}
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"{numbers}INSERT INTO launches (recipe_id, request, state, submitted_by, owner,"
                " provider, flavor_id, guest_row, passed, attempts, submitted_at, deadline,"
                " next_at, status, outcome, decided_at, taken)"
                f" SELECT 'history-' || n.i, :request, 'decided', 'history', 'history', 'fake',"
                f" 'fake-medium', NULL, '[]', 0, {at} - 90, {at} + 1800, {at} - 90,"
                f" 'succeeded', :outcome, {at}, {'1' if sqlite else 'true'} {source}"
            ),
            params,
        )
        conn.execute(
            sa.text(
                f"{numbers}INSERT INTO guests (provider, name, guest_id, recipe_id, state, vcpus,"
                " ram_mib, disk_bytes, created_at, next_at, attempts, reason)"
                " SELECT 'fake', 'beaker-recipe-history-' || n.i, 'history-guest-' || n.i,"
                f" 'history-' || n.i, 'gone', 2, 2048, 21474836480, {at} - 60, {at} - 60, 0,"
                f" 'released' {source}"
            ),
            params,
        )
    # As a journal that grew over months would be: PostgreSQL's autovacuum has vacuumed
    # and analysed it (else it would work through the new rows mid-run); SQLite gathers
    # no statistics by itself, so none.
    if not sqlite:
        with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE)")
    engine.dispose()
    return time.perf_counter() - started


def scrape(url: str) -> dict[str, float]:
    """What one read of the fleet view costs on a journal full of history (median of 7):
    ``virtprov metrics serve`` reads it with the history count, ``journal status`` too."""
    from virtprov.pool.fleet import read_fleet_status
    from virtprov.pool.readonly import ReadOnlyJournal

    journal = ReadOnlyJournal(url)
    figures = {}
    try:
        for name, history in (("fleet_read_ms", False), ("fleet_read_with_history_ms", True)):
            times = []
            for _ in range(7):
                started = time.perf_counter()
                with journal.snapshot() as conn:
                    read_fleet_status(conn, journal=journal.safe_url, history=history)
                times.append(time.perf_counter() - started)
            figures[name] = round(statistics.median(times) * 1000, 1)
    finally:
        journal.close()
    return figures


class Round:
    """One round of launches on a journal; with ``prune``, beside a pruner."""

    def __init__(self, url: str, tag: str, recipes: int, prune: bool = False) -> None:
        self.url, self.tag, self.recipes, self.prune = url, tag, recipes, prune
        self.pruned = 0
        self.longest_batch = 0.0

    def run(self) -> float:
        """Launches per second."""
        settings = PoolSettings(
            launcher=f"bench-{self.tag}",
            poll_interval=0.05,
            default_limits=Limits(mutating=0.0, read=0.0),
        )
        with Pool({"fake": FakeProvider()}, settings=settings, journal=self.url) as pool:
            pruner = None
            if self.prune:
                pruner = HistoryPruner(pool.journal, 30, first=0.0, interval=3600.0)
                pruner.start()
            started = time.perf_counter()
            for n in range(self.recipes):
                pool.submit(Recipe(f"{self.tag}-{n}"))
            taken = 0
            while taken < self.recipes:
                for outcome in pool.poll(timeout=5.0):
                    if outcome.status is not Status.SUCCEEDED:
                        raise SystemExit(f"{self.tag}: {outcome}")
                    pool.release(outcome)
                    taken += 1
            rate = self.recipes / (time.perf_counter() - started)
            if pruner is not None:
                pruner.stop()
                assert pruner.last is not None
                self.pruned, self.longest_batch = pruner.last.launches, pruner.last.longest_batch
            # let the releases finish, so the next round starts from a settled journal
            deadline = time.monotonic() + 60
            while pool.journal.guests_in(["doomed", "destroyed"]) and time.monotonic() < deadline:
                time.sleep(0.05)
        return rate


def measure(urls: dict[str, str], history: int, recipes: int, rounds: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    upgrade(urls["empty"], "head")
    upgrade(urls["full"], "head")
    figures["fill_s"] = round(fill(urls["full"], history, 29.0), 1)
    figures.update(scrape(urls["full"]))
    upgrade(urls["year"], "0001")
    fill(urls["year"], history, 365.0)
    figures["upgrade_s"] = round(upgrade(urls["year"], "head"), 1)

    # Adjacent rounds see the same machine: each ratio is one round over the round of the
    # empty journal run just before it; the figure is the median of those ratios.
    Round(urls["empty"], "warm-up", recipes).run()  # imports and caches: not measured
    full, pruning, empty = [], [], []
    pruned = 0
    longest = 0.0

    def pair(n: int, other: Round) -> float:
        """``other``'s rate over the empty journal's, run in turn (which first alternates)."""
        base = Round(urls["empty"], f"empty{n}-{other.tag}", recipes)
        first, second = (base, other) if n % 2 == 0 else (other, base)
        rates = {id(first): first.run(), id(second): second.run()}
        empty.append(rates[id(base)])
        return rates[id(other)] / rates[id(base)]

    for n in range(rounds):
        full.append(pair(n, Round(urls["full"], f"full{n}", recipes)))
        year = Round(urls["year"], f"year{n}", recipes, prune=True)
        pruning.append(pair(n, year))
        pruned += year.pruned
        longest = max(longest, year.longest_batch)
    figures.update(
        {
            "history": history,
            "recipes": recipes,
            "rounds": rounds,
            "empty_per_s": round(statistics.median(empty), 1),
            "full_ratio": round(statistics.median(full), 3),
            "pruning_ratio": round(statistics.median(pruning), 3),
            "full_ratios": [round(r, 2) for r in full],
            "pruning_ratios": [round(r, 2) for r in pruning],
            "pruned_during_run": pruned,
            "longest_prune_batch_ms": round(longest * 1000, 1),
        }
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a shortened smoke run")
    parser.add_argument(
        "--journal", choices=("sqlite", "postgresql", "both"), default="both", help="which to run"
    )
    args = parser.parse_args()
    history, recipes, rounds = (20_000, 40, 1) if args.quick else (1_000_000, 150, 7)
    from virtprov_testing.postgres import TemporaryPostgres

    results: dict[str, Any] = {}
    if args.journal in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            urls = {name: f"sqlite:///{tmp}/{name}.sqlite" for name in ("empty", "full", "year")}
            results["sqlite"] = measure(urls, history, recipes, rounds)
            print("sqlite:    ", json.dumps(results["sqlite"]), flush=True)
    if args.journal in ("postgresql", "both"):
        with TemporaryPostgres() as server:
            urls = {name: server.fresh_database() for name in ("empty", "full", "year")}
            results["postgresql"] = measure(urls, history, recipes, rounds)
            print("postgresql:", json.dumps(results["postgresql"]), flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
