"""``virtprov journal`` (schema and state of the pool's journal) and ``virtprov sweep``."""

from __future__ import annotations

from pathlib import Path

import click

from virtprov.cli import one_line
from virtprov.cli.operators import prune
from virtprov.cli.runtime import (
    Runtime,
    emit_json,
    emit_table,
    json_option,
    read_text,
    to_jsonable,
)

#: An --owned file lists ids, one a line: a million of them fit.
OWNED_LIMIT = 64 * 1024 * 1024


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
    type=click.Path(dir_okay=False, path_type=Path),
    help="A file of guest ids or recipe ids the scheduler still owns, one per line "
    "(default: trust the journal alone).",
)
@json_option
@click.pass_obj
def sweep(runtime: Runtime, dry_run: bool, owned_file: Path | None, as_json: bool) -> None:
    """Delete guests, and what was made for them, that nobody owns.

    Guests carrying this pool's labels are deleted when two sweeps in a row found them
    unowned; one that the journal holds for a launch in flight, or that --owned lists,
    is never touched. Networks, ports, disks... left by a guest that is gone go the same
    way, never while their guest exists. First, a `virtprov provision` that was killed
    has its guest destroyed (the CLI journal says which); CLI guests in use stay.
    """
    from virtprov.cli.guests import finish_killed
    from virtprov.cli.provisions import CLI_POOL, CliJournal
    from virtprov.pool import Pool
    from virtprov.pool.events import EventBus
    from virtprov.pool.settings import PoolSettings
    from virtprov.pool.sweeper import sweep as sweep_resources

    owned = None
    if owned_file is not None:
        text = read_text(owned_file, limit=OWNED_LIMIT, what="--owned")
        owned = [line.strip() for line in text.splitlines() if line.strip()]
    config = runtime.config
    settings = PoolSettings.from_options(config.pool)
    providers = {name: runtime.provider(name) for name in config.providers}
    prefix = config.defaults.guest_name_prefix
    with CliJournal() as record:
        killed = finish_killed(runtime, record, "sweep", dry_run=dry_run)
        stale = [] if dry_run else record.reconcile(runtime.provider, "sweep")
        # What a CLI guest left when its destroy died (never a CLI guest itself).
        cli = sweep_resources(
            pool=CLI_POOL,
            prefix=prefix,
            providers=providers,
            journal=record.journal,
            events=EventBus(),
            sightings=settings.sightings,
            dry_run=dry_run,
            guests=False,
        )
    pool = Pool(providers, settings=settings, defaults=config.defaults, start=False)
    try:
        report = pool.sweep(owned, dry_run=dry_run)
    finally:
        pool.journal.close()
    resources = report.orphan_resources + cli.orphan_resources
    left = [f"{p.provider}: killed provision {p.name}: {p.result}" for p in killed if not p.done]
    errors = (*report.errors, *(e for e in cli.errors if e not in report.errors), *stale)
    errors += tuple(left) if not dry_run else ()
    if as_json:
        emit_json(
            {
                **to_jsonable(report),
                "orphan_resources": to_jsonable(resources),
                "resources_seen": report.resources_seen + cli.resources_seen,
                "errors": list(errors),
                "killed_provisions": to_jsonable(killed),
            }
        )
        if errors:
            raise SystemExit(1)
        return

    def action(seen: int, deleted: bool) -> str:
        if deleted:
            return "deleted"
        if seen >= settings.sightings:
            return "would be deleted" if dry_run else "failed (see below)"
        return f"{'would wait' if dry_run else 'waits'} for sighting {settings.sightings}"

    emit_table(
        ("PROVIDER", "KIND", "ID", "NAME", "GUEST", "SEEN", "ACTION"),
        [
            *(
                (
                    o.provider,
                    "guest",
                    o.guest_id,
                    o.name,
                    None,
                    o.sightings,
                    action(o.sightings, o.deleted),
                )
                for o in report.orphans
            ),
            *(
                (
                    o.provider,
                    o.kind,
                    o.id,
                    o.name,
                    o.guest,
                    o.sightings,
                    action(o.sightings, o.deleted),
                )
                for o in resources
            ),
        ],
    )
    click.echo(
        f"{report.seen} labelled guests, {report.owned} owned, {len(report.orphans)} orphans, "
        f"{len(report.deleted)} deleted; {report.resources_seen + cli.resources_seen} owned "
        f"resources, {len(resources)} without their guest, "
        f"{sum(o.deleted for o in resources)} deleted" + (" (dry run)" if dry_run else "")
    )
    for error in errors:  # a cloud's or an SDK's words: one line, escaped
        click.echo(f"virtprov: {one_line(error)}", err=True)
    if errors:
        raise SystemExit(1)
