"""``virtprov provision``, ``destroy`` and ``list``: one guest's life by hand."""

from __future__ import annotations

import functools
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from virtprov.cli.runtime import (
    Runtime,
    emit_json,
    emit_table,
    json_option,
    provider_option,
    seconds,
)
from virtprov.errors import ConfigError, HostRequiresError, ProviderError
from virtprov.model import Flavor, Guest, GuestState
from virtprov.provider import Provider
from virtprov.teardown import DEFAULT_TIMEOUT, Progress, destroy_and_wait

if TYPE_CHECKING:
    from virtprov.cli.provisions import CliJournal, Finished, Run


def _choose_flavor(
    provider: Provider, flavor_name: str | None, host_requires: Path | None
) -> Flavor:
    available = provider.declared_flavors()
    if flavor_name is not None:
        for flavor in available:
            if flavor_name in (flavor.name, flavor.id):
                return flavor
        known = ", ".join(sorted(flavor.name for flavor in available))
        raise ConfigError(f"{provider.info.name} has no flavor {flavor_name!r} (it has: {known})")
    from virtprov.hostrequires import MAX_BYTES, Target, parse
    from virtprov.hostrequires.reading import TooLarge, read_file
    from virtprov.hostrequires.tmt import looks_like_xml, parse_tmt

    # An empty filter still applies the fixed rules (root disk >= 10 GiB, cheapest first).
    text = b"<hostRequires/>"
    try:
        if host_requires is not None:  # read as bytes, bounded: the parsers check the rest
            text = read_file(str(host_requires), MAX_BYTES)
        requires = parse(text) if looks_like_xml(text) else parse_tmt(text)
    except (OSError, TooLarge, HostRequiresError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise HostRequiresError(f"--host-requires {host_requires}: {why}") from None
    match = requires.match(available, Target.from_info(provider.info, available))
    if match.chosen is None:
        raise ProviderError(
            "no flavor satisfies the requirements: " + "; ".join(match.reasons),
            provider=provider.info.name,
        )
    return match.chosen


def _wait_for(
    provider: Provider,
    guest: Guest,
    wanted: GuestState,
    *,
    timeout: float,
    interval: float,
    report: Callable[[Guest], None],
    alive: Callable[[], None],
    sleep: Callable[[float], None] = time.sleep,
) -> Guest:
    """Poll one guest until it reaches ``wanted``; raise if it fails or time runs out."""
    deadline = time.monotonic() + timeout
    while guest.state is not wanted:
        if guest.state is GuestState.ERROR:
            raise provider.classify_fault(guest)(
                f"guest {guest.id} failed: {guest.fault or 'no reason given'}",
                provider=provider.info.name,
                guest_id=guest.id,
            )
        if time.monotonic() > deadline:
            raise ProviderError(
                f"guest {guest.id} is still {guest.state.value} after {timeout:g} s",
                provider=provider.info.name,
                guest_id=guest.id,
            )
        sleep(interval)
        alive()
        found = provider.poll([guest.id]).get(guest.id)
        if found is None:
            raise ProviderError(
                f"guest {guest.id} disappeared", provider=provider.info.name, guest_id=guest.id
            )
        if found.state is not guest.state:
            report(found)
        guest = found
    return guest


def finish_killed(
    runtime: Runtime, record: CliJournal, by: str, *, dry_run: bool = False
) -> list[Finished]:
    """Finish the provisions a kill interrupted; say so on stderr."""
    finished = record.finish_killed(runtime.provider, by, dry_run=dry_run)
    for each in finished:
        what = f"{each.name} ({each.guest_id})" if each.guest_id else each.name
        click.echo(
            f"virtprov: a killed provision left {what} on {each.provider}: {each.result}",
            err=True,
        )
    return finished


@click.command()
@provider_option
@click.option("--recipe-id", help="Recipe id the guest is named after (default: random).")
@click.option("--flavor", "flavor_name", metavar="NAME", help="Flavor name or id to use.")
@click.option(
    "--host-requires",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Pick the cheapest flavor satisfying this <hostRequires/> or tmt hardware: document.",
)
@click.option("--no-start", is_flag=True, help="Stop at ready: do not start the guest.")
@click.option(
    "--timeout",
    type=float,
    callback=seconds(),
    default=900.0,
    show_default=True,
    help="Seconds to wait in all.",
)
@click.option(
    "--poll-interval",
    type=float,
    callback=seconds(maximum=3600),
    default=1.0,
    show_default=True,
    help="Seconds between polls.",
)
@json_option
@click.pass_obj
def provision(
    runtime: Runtime,
    provider_name: str | None,
    recipe_id: str | None,
    flavor_name: str | None,
    host_requires: Path | None,
    no_start: bool,
    timeout: float,
    poll_interval: float,
    as_json: bool,
) -> None:
    """Create a guest, wait until it is ready, and start it.

    Prints the guest's id, name, MACs and state. If anything fails on the way, the
    guest is destroyed again before virtprov exits with status 1.
    """
    from virtprov.cli.interrupts import DeferredInterrupt
    from virtprov.cli.provisions import CliJournal

    provider = runtime.provider(provider_name)
    flavor = _choose_flavor(provider, flavor_name, host_requires)
    with CliJournal() as record:
        finish_killed(runtime, record, "provision")
        spec, token = record.spec(
            recipe_id or uuid.uuid4().hex[:8], flavor, runtime.config.defaults.guest_name_prefix
        )
        started = time.monotonic()
        show = sys.stderr.isatty()

        def report(guest: Guest) -> None:
            if show:
                click.echo(f"  {time.monotonic() - started:6.1f}s  {guest.state.value}", err=True)

        if show:
            click.echo(f"creating {spec.name} ({flavor.name}) on {provider.info.name}", err=True)
        # The intent first: killed from here on, the next sweep finds what was made.
        run = record.begin(provider.info.name, spec, token, time.time() + timeout)
        # A Ctrl-C from here on is raised where the guest can be cleaned up, never inside
        # a journal's or a cloud client's bookkeeping (see virtprov.cli.interrupts).
        with DeferredInterrupt() as interrupt:
            try:
                guest = provider.create_guest(spec)
            except BaseException:
                # The answer may be lost after the cloud made it: look for it by name.
                _clean_up(record, run, provider, None)
                raise
            try:
                record.created(run, guest.id)
                interrupt.check()
                # Both waits poll alike: progress shown, the provision kept alive, Ctrl-C heard.
                wait_for = functools.partial(
                    _wait_for,
                    provider,
                    interval=poll_interval,
                    report=report,
                    alive=record.alive,
                    sleep=interrupt.sleep,
                )
                guest = wait_for(guest, GuestState.READY, timeout=timeout)
                if not no_start:
                    provider.start_guest(guest.id)
                    remaining = max(timeout - (time.monotonic() - started), poll_interval)
                    guest = wait_for(guest, GuestState.RUNNING, timeout=remaining)
                interrupt.check()
            except BaseException:
                # Never leave a half-made guest behind (Beaker leaked these).
                _clean_up(record, run, provider, guest.id)
                raise
            record.succeeded(run, guest)
    if as_json:
        emit_json(guest)
    else:
        _print_guest(guest)


def _clean_up(record: CliJournal, run: Run, provider: Provider, guest_id: str | None) -> None:
    """Destroy what a failed provision made and record it; a failure is left to the sweep.

    The guest row stays as it is when this fails, and this process is about to exit: the
    next ``virtprov sweep`` (or ``provision``) sees a dead provision and finishes it.
    """
    try:
        ids = [guest_id] if guest_id else record.find(provider, run)
        destroy_and_wait(provider, ids, timeout=DEFAULT_TIMEOUT)
    except Exception:
        click.echo(f"virtprov: could not destroy {run.name} now; `virtprov sweep` will", err=True)
        return
    record.gone(run, "provision failed; destroyed" if ids else "create failed; nothing made")


def _print_guest(guest: Guest) -> None:
    click.echo(f"id:        {guest.id}")
    click.echo(f"name:      {guest.name}")
    click.echo(f"provider:  {guest.provider}")
    click.echo(f"state:     {guest.state.value}")
    click.echo(f"macs:      {', '.join(guest.macs) or '-'}")
    click.echo(f"addresses: {', '.join(guest.addresses) or '-'}")


@click.command()
@click.argument("guest_ids", nargs=-1, required=True)
@provider_option
@click.option(
    "--missing-ok",
    is_flag=True,
    help="An id the cloud does not know is not an error (already gone is fine).",
)
@click.option(
    "--timeout",
    type=float,
    callback=seconds(),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds to wait until the cloud has deleted them.",
)
@json_option
@click.pass_context
def destroy(
    ctx: click.Context,
    guest_ids: Sequence[str],
    provider_name: str | None,
    missing_ok: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Destroy guests and everything made for them, and wait until the cloud has.

    All are deleted at once, then watched with one look at the cloud for all of them
    at a time; progress goes to stderr on a terminal. An id the cloud does not know is
    reported as "not found, nothing destroyed", and the status is 1 unless --missing-ok
    is given.
    """
    from virtprov.cli.provisions import CliJournal

    runtime: Runtime = ctx.obj
    provider = runtime.provider(provider_name)
    wanted = list(dict.fromkeys(guest_ids))
    show = sys.stderr.isatty() and not as_json
    shown: list[Progress] = []

    def report(now: Progress) -> None:
        """A line on stderr whenever another guest is gone (or stuck)."""
        before = (shown[-1].gone, shown[-1].blocked) if shown else None
        if show and (now.gone, now.blocked) != before:
            waiting = f", {len(now.deleting)} being deleted" if now.deleting else ""
            click.echo(f"  {now.seconds:6.1f}s  {len(now.gone)} gone{waiting}", err=True)
            for guest_id, why in now.blocked:
                click.echo(f"           {guest_id}: what it left is not deleted: {why}", err=True)
        shown[:] = [now]

    with CliJournal() as record:
        finish_killed(runtime, record, "destroy")
        # One batched look first: destroy_guest is idempotent, so it cannot say what it found.
        known = provider.poll(wanted)
        found = [i for i in wanted if i in known and known[i].state is not GuestState.DELETED]
        missing = [guest_id for guest_id in wanted if guest_id not in found]
        for guest_id in found:
            record.destroying(provider.info.name, guest_id)
        if show and found:
            click.echo(f"destroying {len(found)} on {provider.info.name}", err=True)
        destroy_and_wait(provider, found, timeout=timeout, progress=report)
        for guest_id in found:
            record.destroyed(provider.info.name, guest_id, "destroyed by virtprov destroy")
    if as_json:
        emit_json({"destroyed": found, "not_found": missing, "provider": provider.info.name})
    else:
        for guest_id in found:
            click.echo(f"destroyed {guest_id}")
        for guest_id in missing:
            click.echo(
                f"virtprov: {guest_id}: not found on {provider.info.name}, nothing destroyed",
                err=True,
            )
    if missing and not missing_ok:
        ctx.exit(1)


@click.command("list")
@provider_option
@click.option("--prefix", help="Name prefix (default: guest_name_prefix of the configuration).")
@json_option
@click.pass_obj
def list_guests(
    runtime: Runtime, provider_name: str | None, prefix: str | None, as_json: bool
) -> None:
    """Guests that virtprov made (by name prefix and ownership label)."""
    prefix = runtime.config.defaults.guest_name_prefix if prefix is None else prefix
    found = [
        (guest, provider.guest_url(guest.id))
        for provider in runtime.providers(provider_name)
        for guest in provider.list_guests(prefix)
    ]
    if as_json:
        emit_json([guest for guest, _ in found])
        return
    rows = [(g.provider, g.id, g.name, g.state.value, ",".join(g.macs), url) for g, url in found]
    if any(url for *_, url in rows):  # a dashboard to link to
        emit_table(("PROVIDER", "ID", "NAME", "STATE", "MACS", "URL"), rows)
    else:
        emit_table(("PROVIDER", "ID", "NAME", "STATE", "MACS"), (row[:-1] for row in rows))
