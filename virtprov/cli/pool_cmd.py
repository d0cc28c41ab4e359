"""``virtprov journal`` (schema and state of the pool's journal) and ``virtprov sweep``."""

from __future__ import annotations

from pathlib import Path

import click

from virtprov.cli.operators import prune
from virtprov.cli.runtime import Runtime, emit_json, emit_table, json_option


@click.group()
def journal() -> None:
    """The pool's journal: its schema and what it holds."""


@journal.command()
@json_option
@click.pass_obj
def upgrade(runtime: Runtime, as_json: bool) -> None:
    """Create the journal's tables or apply pending migrations (idempotent).

    Needed once per PostgreSQL journal and after upgrading virtprov; an SQLite journal
    is upgraded whenever a pool opens it.
    """
    from virtprov.pool.journal import Journal
    from virtprov.pool.settings import PoolSettings

    settings = PoolSettings.from_options(runtime.config.pool)
    store = Journal(settings.journal_url(), upgrade=True)
    try:
        before, after = store.revision_before_open, store.revision()
    finally:
        store.close()
    if as_json:
        emit_json({"journal": store.safe_url, "from": before, "to": after})
    elif before == after:
        click.echo(f"{store.safe_url}: schema {after}, up to date")
    else:
        click.echo(f"{store.safe_url}: schema {before or '(empty)'} -> {after}")


@journal.command()
@json_option
@click.pass_obj
def status(runtime: Runtime, as_json: bool) -> None:
    """What every launcher sharing the journal is doing: launches by state and provider,
    guests, capacity, launchers and their leases, disabled providers. Read-only: runs
    beside the schedulers, from any host that reaches the journal."""
    from virtprov.cli.operators import status_command

    status_command(runtime, as_json)


journal.add_command(prune)


@click.command()
@click.option("--dry-run", is_flag=True, help="Report what would be deleted; change nothing.")
@click.option(
    "--owned",
    "owned_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file of guest ids or recipe ids the scheduler still owns, one per line "
    "(default: trust the journal alone).",
)
@json_option
@click.pass_obj
def sweep(runtime: Runtime, dry_run: bool, owned_file: Path | None, as_json: bool) -> None:
    """Delete guests carrying this pool's labels that nobody owns.

    A guest is deleted only when two sweeps in a row found it unowned; one that the
    journal holds for a launch in flight, or that --owned lists, is never touched.
    """
    from virtprov.pool import Pool
    from virtprov.pool.settings import PoolSettings

    owned = None
    if owned_file is not None:
        owned = [line.strip() for line in owned_file.read_text().splitlines() if line.strip()]
    config = runtime.config
    settings = PoolSettings.from_options(config.pool)
    providers = {name: runtime.provider(name) for name in config.providers}
    pool = Pool(providers, settings=settings, defaults=config.defaults, start=False)
    try:
        report = pool.sweep(owned, dry_run=dry_run)
    finally:
        pool.journal.close()
    if as_json:
        emit_json(report)
        return
    verb = "would wait for a second sighting" if dry_run else "seen once, deleted next sweep"
    emit_table(
        ("PROVIDER", "GUEST", "NAME", "SEEN", "ACTION"),
        (
            (o.provider, o.guest_id, o.name, o.sightings, "deleted" if o.deleted else verb)
            for o in report.orphans
        ),
    )
    click.echo(
        f"{report.seen} labelled guests, {report.owned} owned, {len(report.orphans)} orphans, "
        f"{len(report.deleted)} deleted" + (" (dry run)" if dry_run else "")
    )
    for error in report.errors:
        click.echo(f"virtprov: {error}", err=True)
    if report.errors:
        raise SystemExit(1)
