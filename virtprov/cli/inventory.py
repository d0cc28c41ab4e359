"""``virtprov providers``, ``flavors`` and ``capacity``: what is installed and available."""

from __future__ import annotations

import click

from virtprov.cli.runtime import (
    Runtime,
    emit_json,
    emit_table,
    json_option,
    provider_option,
)
from virtprov.model import Flavor, GiB


@click.command()
@json_option
@click.option("--traceback", "show_traceback", is_flag=True, help="Show load tracebacks.")
def providers(as_json: bool, show_traceback: bool) -> None:
    """Installed provider plugins: distribution, version, and why one fails to load."""
    from virtprov.plugins import discover

    statuses = discover()
    if as_json:
        emit_json(
            [
                {
                    "name": status.name,
                    "target": status.target,
                    "distribution": status.distribution,
                    "version": status.version,
                    "ok": status.ok,
                    "error": status.error,
                    "traceback": status.traceback,
                }
                for status in statuses
            ]
        )
        return
    if not statuses:
        click.echo("no provider plugins are installed (pip install virtprov-openstack, ...)")
        return
    emit_table(
        ("NAME", "DISTRIBUTION", "VERSION", "STATUS"),
        (
            (s.name, s.distribution, s.version, "ok" if s.ok else "BROKEN (see below)")
            for s in statuses
        ),
    )
    for status in statuses:
        if not status.ok:
            click.echo(f"\n{status.error}", err=True)
            if show_traceback and status.traceback:
                click.echo(status.traceback.rstrip(), err=True)
    if any(not status.ok for status in statuses) and not show_traceback:
        click.echo("\n(--traceback shows where a broken plugin fails)", err=True)


@click.command()
@provider_option
@json_option
@click.pass_obj
def flavors(runtime: Runtime, provider_name: str | None, as_json: bool) -> None:
    """The shapes each provider can create, cheapest first, and what each declares."""
    from virtprov.hostrequires.properties import kind_of

    listing = {
        provider.info.name: sorted(provider.declared_flavors(), key=lambda f: f.sort_key())
        for provider in runtime.providers(provider_name)
    }
    if as_json:
        emit_json(listing)
        return

    def declares(flavor: Flavor) -> str:
        declared = [f"{k}={v}" for k, v in sorted(flavor.properties.items()) if kind_of(k)]
        return "; ".join(declared) or "-"

    emit_table(
        ("PROVIDER", "FLAVOR", "ID", "VCPUS", "RAM_MIB", "DISK_GIB", "ARCH", "DECLARES"),
        (
            (
                name,
                f.name,
                f.id,
                f.vcpus,
                f.ram_mib,
                f"{f.disk_bytes / GiB:g}",
                f.arch or "any",
                declares(f),
            )
            for name, found in listing.items()
            for f in found
        ),
    )


@click.command()
@provider_option
@json_option
@click.pass_obj
def capacity(runtime: Runtime, provider_name: str | None, as_json: bool) -> None:
    """What each provider can still take now ('-' = the cloud does not say)."""
    rows = {}
    for provider in runtime.providers(provider_name):
        rows[provider.info.name] = (provider.info, provider.capacity())
    if as_json:
        emit_json(
            {
                name: {"lab": info.lab, "driver": info.driver, "capacity": free}
                for name, (info, free) in rows.items()
            }
        )
        return
    emit_table(
        ("PROVIDER", "DRIVER", "LAB", "INSTANCES", "VCPUS", "RAM_MIB", "DISK_GIB"),
        (
            (
                name,
                info.driver,
                info.lab,
                free.instances,
                free.vcpus,
                free.ram_mib,
                None if free.disk_bytes is None else f"{free.disk_bytes / GiB:g}",
            )
            for name, (info, free) in rows.items()
        ),
    )
