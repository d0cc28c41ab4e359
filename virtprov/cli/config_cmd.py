"""``virtprov config``: migrate Beaker's configuration, check a configuration file."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from virtprov.cli.runtime import InputError, Runtime, emit_json, json_option, read_text

#: Beaker's server.cfg is a few kilobytes.
SERVER_CFG_LIMIT = 1024 * 1024


@click.group("config")
def group() -> None:
    """Work with virtprov.toml."""


@group.command("from-beaker")
@click.argument("server_cfg", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write virtprov.toml here instead of printing it.",
)
@click.option("--guest-name-prefix", help="Beaker's guest_name_prefix config item.")
@click.option(
    "--guest-private-network", metavar="CIDR", help="Beaker's guest_private_network config item."
)
@click.option(
    "--default-guest-memory",
    type=click.IntRange(min=1),
    metavar="MiB",
    help="Beaker's default_guest_memory config item.",
)
@click.option(
    "--default-guest-disk-size",
    type=click.IntRange(min=1),
    metavar="GiB",
    help="Beaker's default_guest_disk_size config item.",
)
@click.option(
    "--openstack-lab", metavar="FQDN", help="Lab controller of Beaker's openstack_region row."
)
@click.option("--ipxe-image", metavar="ID", help="iPXE image id of that row.")
@click.option("--ovirt-lab", metavar="FQDN", help="Lab controller the oVirt engine serves.")
@json_option
def from_beaker(
    server_cfg: Path,
    output: Path | None,
    guest_name_prefix: str | None,
    guest_private_network: str | None,
    default_guest_memory: int | None,
    default_guest_disk_size: int | None,
    openstack_lab: str | None,
    ipxe_image: str | None,
    ovirt_lab: str | None,
    as_json: bool,
) -> None:
    """Print a virtprov.toml equivalent to Beaker's server.cfg.

    Secrets are not copied: they become environment-variable references. What cannot be
    carried over is reported on stderr, one line each.
    """
    from virtprov.beaker_migration import BeakerItems, migrate, read_server_cfg

    if output is not None and not output.parent.is_dir():
        raise InputError(f"-o {output}: the directory {output.parent} does not exist")
    source = read_text(server_cfg, limit=SERVER_CFG_LIMIT, what="server.cfg")
    settings = read_server_cfg(source, path=str(server_cfg))
    items = BeakerItems(
        guest_name_prefix=guest_name_prefix,
        guest_private_network=guest_private_network,
        default_guest_memory=default_guest_memory,
        default_guest_disk_size=default_guest_disk_size,
        openstack_lab=openstack_lab,
        ipxe_image=ipxe_image,
        ovirt_lab=ovirt_lab,
    )
    migration = migrate(settings, items)
    text = migration.toml(str(server_cfg))
    if output is not None:
        _write_whole(output, text)
    if as_json:
        emit_json(
            {
                "config": migration.document,
                "report": list(migration.report),
                "written_to": None if output is None else str(output),
            }
        )
    elif output is None:
        click.echo(text, nl=False)
    for line in migration.report:
        click.echo(f"virtprov: to do: {line}", err=True)


def _write_whole(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a temporary file renamed over it)."""
    import os
    import tempfile

    temporary: str | None = None
    try:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with open(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, 0o644)  # a configuration holds no secret, as any in /etc
        os.replace(temporary, path)
    except OSError as exc:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        raise InputError(f"-o {path}: cannot write: {exc.strerror or exc}") from None


@group.command("check")
@json_option
@click.pass_obj
def check(runtime: Runtime, as_json: bool) -> None:
    """Load the configuration and build every provider (offline): report what is wrong."""
    from virtprov.pool.settings import PoolSettings

    config = runtime.config
    found = {p.info.name: {"driver": p.info.driver, "lab": p.info.lab} for p in runtime.providers()}
    pool = PoolSettings.from_options(config.pool)  # [pool] errors name their key too
    for name in pool.limits:
        if name not in config.providers:
            raise config.pool.error(f"limits.{name}", "names no configured provider")
    if as_json:
        emit_json({"path": config.path, "providers": found, "pool": {"name": pool.name}})
        return
    click.echo(f"{config.path or 'embedded default'}: {len(found)} provider(s) ok")
    for name, details in found.items():
        click.echo(f"  {name}: driver {details['driver']}, lab {details['lab']}")
