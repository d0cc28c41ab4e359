"""The operator's view of the journal: ``virtprov journal status`` and ``journal prune``.

Shared with ``virtprov metrics`` and ``virtprov why``: the journal opened read-only (so
these commands run beside the schedulers, from any host, changing nothing) and times
written for people.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from virtprov.cli.runtime import Runtime, emit_json, emit_table, json_option

if TYPE_CHECKING:
    from virtprov.pool.fleet import FleetStatus
    from virtprov.pool.history import PruneReport
    from virtprov.pool.readonly import ReadOnlyJournal


def open_read_only(runtime: Runtime) -> ReadOnlyJournal:
    """The configured journal (``[pool] journal``), read-only."""
    from virtprov.pool.readonly import ReadOnlyJournal
    from virtprov.pool.settings import PoolSettings

    settings = PoolSettings.from_options(runtime.config.pool)
    return ReadOnlyJournal(settings.journal_url())


def duration(seconds: float) -> str:
    """``3 s``, ``2 m 05 s``, ``1 h 02 m``, ``3 d 04 h``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} m {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} m"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours:02d} h"


def moment(when: datetime | float) -> str:
    """A time as ``2026-11-25 10:00:01 UTC``."""
    if not isinstance(when, datetime):
        when = datetime.fromtimestamp(when, UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def status_command(runtime: Runtime, as_json: bool) -> None:
    """``virtprov journal status``: every launcher's work, from the journal, read-only."""
    from virtprov.pool.fleet import read_fleet_status

    journal = open_read_only(runtime)
    try:
        with journal.snapshot() as conn:
            status = read_fleet_status(conn, journal=journal.safe_url, history=True, totals=True)
    finally:
        journal.close()
    if as_json:
        emit_json(_status_json(status))
        return
    _print_status(status)


def _status_json(status: FleetStatus) -> dict[str, Any]:
    guests: dict[str, int] = {}
    for state, by_provider in status.guests.items():
        guests[state] = sum(by_provider.values())
    return {
        "journal": status.journal,
        # Over all history: launches by state, decided ones by outcome.
        "launches": dict(status.totals or {}),
        "guests": guests,
        "disabled": dict(status.disabled),
        "undecided": status.launches,
        "oldest_undecided_seconds": status.oldest_undecided,
        "outcomes_waiting": status.waiting,
        "outcomes_recent": status.recent,
        "recent_window_seconds": status.window,
        "guests_by_provider": status.guests,
        "held": status.held,
        "capacity": status.capacity,
        "launchers": status.launchers,
        "launchers_alive": status.launchers_alive,
        "history": status.history,
        "read_at": datetime.fromtimestamp(status.read_at, UTC),
    }


def _by_provider(counts: Mapping[str, Mapping[str, int]]) -> Iterator[tuple[str, str, int]]:
    """Counts by state, then provider, as sorted (state, provider, count) rows."""
    for state, by_provider in sorted(counts.items()):
        for provider, count in sorted(by_provider.items()):
            yield state, provider, count


def _print_status(status: FleetStatus) -> None:
    click.echo(f"journal {status.journal}")
    emit_table(("LAUNCHES", "COUNT"), sorted((status.totals or {}).items()))
    click.echo()
    emit_table(("UNDECIDED", "PROVIDER", "COUNT"), _by_provider(status.launches))
    if status.oldest_undecided is not None:
        click.echo(f"oldest undecided launch: submitted {duration(status.oldest_undecided)} ago")
    waiting = sum(n for by in status.waiting.values() for n in by.values())
    click.echo(f"outcomes waiting to be taken: {waiting}")
    click.echo()
    emit_table(("GUESTS", "PROVIDER", "COUNT"), _by_provider(status.guests))
    click.echo()
    emit_table(
        (
            "PROVIDER",
            "HELD VCPUS",
            "HELD RAM_MIB",
            "FREE INSTANCES",
            "FREE VCPUS",
            "FREE RAM_MIB",
            "READ",
        ),
        (
            (
                name,
                status.held[name].vcpus if name in status.held else 0,
                status.held[name].ram_mib if name in status.held else 0,
                snapshot.free.instances,
                snapshot.free.vcpus,
                snapshot.free.ram_mib,
                f"{duration(snapshot.age)} ago",
            )
            for name, snapshot in sorted(status.capacity.items())
        ),
    )
    click.echo()
    emit_table(
        ("LAUNCHER", "HOST", "PID", "ALIVE", "LEASE RENEWED"),
        (
            (
                launcher.name,
                launcher.host,
                launcher.pid,
                "yes" if launcher.alive else "no",
                "-" if launcher.lease_age is None else f"{duration(launcher.lease_age)} ago",
            )
            for launcher in status.launchers
        ),
    )
    if status.history is not None:
        click.echo(f"\nhistory: {status.history} decided launches kept")
    for name, reason in sorted(status.disabled.items()):
        click.echo(f"provider {name} is DISABLED: {reason}")


@click.command()
@click.option(
    "--days",
    type=click.FloatRange(min=0),
    help="Keep this many days of history (default: [pool] history_days, 30).",
)
@json_option
@click.pass_obj
def prune(runtime: Runtime, days: float | None, as_json: bool) -> None:
    """Delete decided launches older than the history to keep, in small batches.

    Pools do this by themselves every ten minutes; run it by hand after lowering
    history_days, or from cron for a journal no pool runs on. Launches go on meanwhile:
    each batch is one short transaction, and the command rests between batches.
    """
    from virtprov.pool.history import HistoryPruner
    from virtprov.pool.journal import Journal
    from virtprov.pool.settings import PoolSettings

    settings = PoolSettings.from_options(runtime.config.pool)
    keep = settings.history_days if days is None else days
    journal = Journal(settings.journal_url())
    try:
        report = HistoryPruner(journal, keep).prune()
    finally:
        journal.close()
    if as_json:
        emit_json({"journal": journal.safe_url, "days": keep, **_report_json(report)})
        return
    click.echo(
        f"{journal.safe_url}: pruned {report.launches} decided launches, {report.guests} guest "
        f"rows and {report.launchers} launchers older than {keep:g} days "
        f"in {duration(report.seconds)}"
    )


def _report_json(report: PruneReport) -> dict[str, Any]:
    return {
        "launches": report.launches,
        "guests": report.guests,
        "launchers": report.launchers,
        "seconds": round(report.seconds, 3),
        "longest_batch_seconds": round(report.longest_batch, 4),
    }
