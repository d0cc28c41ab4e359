"""``virtprov config``: migrate Beaker's configuration, check a configuration file."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import click

from virtprov.cli import one_line
from virtprov.cli.runtime import (
    InputError,
    Runtime,
    describe_failure,
    emit_json,
    json_option,
    read_text,
)
from virtprov.errors import ConfigError, VirtprovError

if TYPE_CHECKING:
    from virtprov.config import Config

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
def from_beaker(server_cfg: Path, output: Path | None, as_json: bool, **items: Any) -> None:
    """Print a virtprov.toml equivalent to Beaker's server.cfg.

    Secrets are not copied: they become environment-variable references. What cannot be
    carried over is reported on stderr, one line each.
    """
    # ``items``: the options named after Beaker's config items, BeakerItems' fields.
    from virtprov.beaker_migration import BeakerItems, migrate, read_server_cfg

    if output is not None and not output.parent.is_dir():
        raise InputError(f"-o {output}: the directory {output.parent} does not exist")
    source = read_text(server_cfg, limit=SERVER_CFG_LIMIT, what="server.cfg")
    settings = read_server_cfg(source, path=str(server_cfg))
    migration = migrate(settings, BeakerItems(**items))
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


@attrs.define
class ProviderCheck:
    """What ``config check`` found for one provider."""

    driver: str
    lab: str
    problems: list[str] = attrs.Factory(list)
    #: with --connect: the flavors the cloud listed, or why it could not
    flavors: list[str] | None = None
    connect_error: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and self.connect_error is None


def _check_provider(runtime: Runtime, name: str, connect: bool) -> ProviderCheck:
    config = runtime.config.providers[name]
    result = ProviderCheck(driver=config.driver, lab=config.lab)
    try:
        provider = runtime.provider(name)
    except VirtprovError as exc:
        result.problems.append(str(exc))
        return result
    for secret in config.options.secrets():
        try:
            secret.verify()
        except ConfigError as exc:
            result.problems.append(str(exc))
    if connect and not result.problems:
        try:
            # One cheap call that needs a login: the project's flavors.
            result.flavors = [flavor.name for flavor in provider.flavors()]
        except Exception as exc:  # an SDK may raise anything: report it, check the rest
            result.connect_error = describe_failure(exc)
    return result


def _check_pool(config: Config) -> tuple[dict[str, Any], list[str]]:
    """``[pool]``: its options, its journal URL (without connecting), its secret."""
    from virtprov.pool.journal import default_journal_url, url_problem
    from virtprov.pool.settings import PoolSettings
    from virtprov.urls import redact_url

    try:
        pool = PoolSettings.from_options(config.pool)  # errors name their key too
    except ConfigError as exc:
        return {"name": None, "journal": None}, [str(exc)]
    problems = []
    for name in pool.limits:
        if name not in config.providers:
            problems.append(
                str(config.pool.error(f"limits.{name}", "names no configured provider"))
            )
    journal = pool.journal or default_journal_url()
    problem = url_problem(journal)
    if problem is not None:
        problems.append(str(config.pool.error("journal", problem)))
    if pool.journal_password is not None:
        try:
            pool.journal_password.verify()
        except ConfigError as exc:
            problems.append(str(exc))
    return {"name": pool.name, "journal": redact_url(journal)}, problems


@group.command("check")
@click.option(
    "--connect",
    is_flag=True,
    help="Also log in to each provider and list its flavors (one call each).",
)
@json_option
@click.pass_context
def check(ctx: click.Context, connect: bool, as_json: bool) -> None:
    """Check the configuration: build every provider, resolve every secret reference,
    check the [pool] table; with --connect, also log in to each provider.

    Every problem is reported (file, key, what to do), not only the first. Status 2 when
    the configuration has a problem, 1 when only a --connect login failed, else 0.
    """
    runtime: Runtime = ctx.obj
    config = runtime.config  # an unreadable file or bad TOML stops here (status 2)
    results = {name: _check_provider(runtime, name, connect) for name in config.providers}
    pool, pool_problems = _check_pool(config)
    problems = [p for result in results.values() for p in result.problems] + pool_problems
    failed = [f"{name}: {r.connect_error}" for name, r in results.items() if r.connect_error]
    if as_json:
        emit_json(
            {
                "path": config.path,
                "ok": not problems and not failed,
                "providers": {
                    name: attrs.asdict(result) | {"ok": result.ok}
                    for name, result in results.items()
                },
                "pool": pool | {"problems": pool_problems},
                "problems": problems,
            }
        )
    else:
        where = config.path or "embedded default"
        good = sum(result.ok for result in results.values())
        click.echo(f"{where}: {good} of {len(results)} provider(s) ok")
        for name, result in results.items():
            state = "ok" if result.ok else "FAILED"
            click.echo(f"  {name}: driver {result.driver}, lab {result.lab}: {state}")
            if result.flavors is not None:
                listed = ", ".join(result.flavors) or "none"
                click.echo(f"    logged in; {len(result.flavors)} flavor(s): {listed}")
        if pool["name"] is not None:
            click.echo(f"  pool {pool['name']}: journal {pool['journal']}")
    for problem in problems:
        click.echo(f"virtprov: {one_line(problem)}", err=True)
    for failure in failed:
        click.echo(f"virtprov: cannot connect: {one_line(failure)}", err=True)
    if problems:
        ctx.exit(2)
    if failed:
        ctx.exit(1)
