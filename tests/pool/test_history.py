"""History that does not weigh: what pruning deletes and keeps, and that the pool's own
queries never read history (each on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa
from pool_helpers import Recorder, fast_pool

from virtprov.fake import FakeProvider
from virtprov.fake.faults import Latency
from virtprov.pool import Journal, Recipe
from virtprov.pool.history import DAY, HistoryPruner
from virtprov.pool.schema import guests, launchers, launches

NOW = 1_800_000_000.0


def add_launch(
    journal: Journal,
    recipe_id: str,
    *,
    state: str = "decided",
    decided_days_ago: float | None = 40,
    taken: bool = True,
    owner: str | None = None,
) -> None:
    decided_at = None if decided_days_ago is None else NOW - decided_days_ago * DAY
    submitted = (decided_at or NOW) - 60
    with journal.engine.begin() as conn:
        conn.execute(
            sa.insert(launches).values(
                recipe_id=recipe_id,
                request=json.dumps({}),
                state=state,
                submitted_by="a",
                owner=owner,
                provider="fake",
                flavor_id=None,
                guest_row=None,
                passed="[]",
                attempts=0,
                submitted_at=submitted,
                deadline=submitted + 1800,
                next_at=submitted,
                status="succeeded" if state == "decided" else None,
                outcome=json.dumps({}) if state == "decided" else None,
                decided_at=decided_at,
                taken=taken,
            )
        )


def add_guest(journal: Journal, recipe_id: str, state: str, days_ago: float) -> None:
    with journal.engine.begin() as conn:
        conn.execute(
            sa.insert(guests).values(
                provider="fake",
                name=f"beaker-recipe-{recipe_id}",
                guest_id=None,
                recipe_id=recipe_id,
                state=state,
                created_at=NOW - days_ago * DAY,
                next_at=NOW - days_ago * DAY,
                attempts=0,
            )
        )


def rows(journal: Journal, table: sa.Table, column: sa.Column[str]) -> list[str]:
    with journal.engine.connect() as conn:
        return sorted(str(r[0]) for r in conn.execute(sa.select(column)))


def test_pruning_deletes_old_taken_history_and_nothing_else(journal_url: str) -> None:
    journal = Journal(journal_url)
    for n in range(7):
        add_launch(journal, f"old{n}")  # decided 40 days ago, taken: history to prune
    add_launch(journal, "old-untaken", taken=False)  # the scheduler has not taken it
    add_launch(journal, "recent", decided_days_ago=29)
    add_launch(journal, "live", state="building", decided_days_ago=None, owner="gone-launcher")
    for n in range(5):
        add_guest(journal, f"old{n}", "gone", 40)
    add_guest(journal, "recent", "gone", 29)
    add_guest(journal, "old-untaken", "live", 40)  # holds a cloud resource: never pruned
    add_guest(journal, "live", "doomed", 40)
    journal.register_launcher("retired", lease=1.0, now=NOW - 40 * DAY)
    journal.register_launcher("gone-launcher", lease=1.0, now=NOW - 40 * DAY)  # owns "live"
    journal.register_launcher("current", lease=1.0, now=NOW)
    events = Recorder()
    from virtprov.pool.events import EventBus

    bus = EventBus()
    bus.subscribe(events)
    report = HistoryPruner(journal, 30, batch=3, events=bus).prune(now=NOW)
    assert (report.launches, report.guests, report.launchers) == (7, 5, 1)
    assert report.complete
    assert 0 < report.longest_batch <= report.seconds
    assert rows(journal, launches, launches.c.recipe_id) == ["live", "old-untaken", "recent"]
    assert rows(journal, guests, guests.c.recipe_id) == ["live", "old-untaken", "recent"]
    assert rows(journal, launchers, launchers.c.name) == ["current", "gone-launcher"]
    assert events.kinds("history.pruned") == [
        {"launches": 7, "guests": 5, "launchers": 1, "seconds": report.seconds}
    ]
    # nothing older is left: a second pass deletes nothing and says nothing
    again = HistoryPruner(journal, 30, events=bus).prune(now=NOW)
    assert (again.launches, again.guests, again.launchers) == (0, 0, 0)
    assert len(events.kinds("history.pruned")) == 1
    journal.close()


def test_history_days_zero_prunes_every_taken_outcome(journal_url: str) -> None:
    journal = Journal(journal_url)
    add_launch(journal, "a", decided_days_ago=0.001)
    add_launch(journal, "b", decided_days_ago=0.001, taken=False)
    report = HistoryPruner(journal, 0).prune(now=NOW)
    assert report.launches == 1
    assert rows(journal, launches, launches.c.recipe_id) == ["b"]
    journal.close()


def test_the_pool_prunes_on_its_own_thread_while_it_launches(journal_url: str) -> None:
    journal = Journal(journal_url)
    for n in range(25):
        add_launch(journal, f"old{n}", decided_days_ago=400)
    journal.close()
    events = Recorder()
    fake = FakeProvider(latency=Latency(build=0.02))
    with fast_pool({"fake": fake}, journal=journal_url, subscribe=events) as pool:
        pool.history.stop()  # the pool's own pruner waits ten minutes: run one now
        pruner = HistoryPruner(
            pool.journal, 30, events=pool.events, batch=4, first=0.0, interval=3600
        )
        pruner.start()
        handles = [pool.submit(Recipe(n)) for n in range(10)]
        outcomes = [h.wait(30) for h in handles]
        deadline = time.monotonic() + 10
        while not events.kinds("history.pruned") and time.monotonic() < deadline:
            time.sleep(0.05)
        pruner.stop()
        counts = pool.journal.counts()
    assert all(o is not None and o.status.value == "succeeded" for o in outcomes)
    assert events.kinds("history.pruned")[0]["launches"] == 25
    assert counts == {"succeeded": 10}


#: Indexes of live rows only (reading them never reads history), and of history.
LIVE_INDEXES = ("launches_live", "launches_untaken", "guests_held")
HISTORY_INDEXES = ("launches_history", "guests_gone")


def fill_history(engine: sa.Engine, count: int, *, analyze: bool = True) -> None:
    """``count`` decided, taken launches and as many gone guests, as a busy lab leaves."""
    launch_rows = []
    guest_rows = []
    for n in range(count):
        at = NOW - (1 + n / 1000) * DAY
        launch_rows.append(
            {
                "recipe_id": f"h{n}",
                "request": "{}",
                "state": "decided",
                "submitted_by": "a",
                "owner": "a",
                "provider": "fake",
                "flavor_id": "fake-medium",
                "guest_row": None,
                "passed": "[]",
                "attempts": 0,
                "submitted_at": at - 60,
                "deadline": at + 1800,
                "next_at": at,
                "status": "succeeded",
                "outcome": "{}",
                "decided_at": at,
                "taken": True,
            }
        )
        guest_rows.append(
            {
                "provider": "fake",
                "name": f"beaker-recipe-h{n}",
                "guest_id": f"id-{n}",
                "recipe_id": f"h{n}",
                "state": "gone",
                "created_at": at - 30,
                "next_at": at - 30,
                "attempts": 0,
            }
        )
    with engine.begin() as conn:
        conn.execute(sa.insert(launches), launch_rows)
        conn.execute(sa.insert(guests), guest_rows)
        if analyze:
            conn.exec_driver_sql("ANALYZE")


def migrate(url: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from virtprov.pool.journal import _MIGRATIONS

    config = Config()
    config.set_main_option("script_location", _MIGRATIONS)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    engine.dispose()


@pytest.mark.parametrize("statistics", ["analyzed", "none", "from-0001"])
def test_the_pools_queries_never_read_history(empty_journal_url: str, statistics: str) -> None:
    """Every SELECT the pool runs while launching (planning, polling, claiming, taking
    outcomes, releasing, capacity) is answered without reading history: with 3,000
    decided launches and gone guests in the journal, no query plan scans the launches
    or guests tables, nor reads the indexes of history. Whatever the planner's
    statistics: current, none (SQLite never gathers any by itself), or gathered before
    `virtprov journal upgrade` added the indexes."""
    journal_url = empty_journal_url
    migrate(journal_url, "0001" if statistics == "from-0001" else "head")
    engine = sa.create_engine(journal_url)
    fill_history(engine, 3000, analyze=statistics != "none")
    engine.dispose()
    Journal(journal_url, upgrade=True).close()

    statements: list[tuple[str, object]] = []
    fake = FakeProvider(latency=Latency(build=0.02))
    with fast_pool({"fake": fake}, journal=journal_url) as pool:

        @sa.event.listens_for(pool.journal.engine, "before_cursor_execute")
        def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            if statement.lstrip().upper().startswith("SELECT"):
                statements.append((statement, parameters))

        handles = [pool.submit(Recipe(n)) for n in range(5)]
        outcomes = [h.wait(30) for h in handles]
        for outcome in pool.poll(timeout=5):
            pool.release(outcome)
        assert all(o is not None for o in outcomes)
        time.sleep(0.3)  # a few more ticks: destroys confirmed by polls

    distinct = {statement: parameters for statement, parameters in statements}
    assert len(distinct) >= 8  # claim, take_outcomes, heartbeat, capacity, guests...
    engine = sa.create_engine(journal_url)
    sqlite = engine.dialect.name == "sqlite"
    explain = "EXPLAIN QUERY PLAN" if sqlite else "EXPLAIN"
    bad = []
    with engine.connect() as conn:
        for statement, parameters in distinct.items():
            for row in conn.exec_driver_sql(f"{explain} {statement}", parameters).all():
                step = row[-1]
                if sqlite:
                    scans = step.startswith(("SCAN launches", "SCAN guests")) and not any(
                        index in step for index in LIVE_INDEXES
                    )
                else:
                    scans = "Seq Scan on launches" in step or "Seq Scan on guests" in step
                if scans or any(index in step for index in HISTORY_INDEXES):
                    bad.append((statement, step))
    engine.dispose()
    assert bad == [], "\n".join(f"{step}: {statement}" for statement, step in bad)
