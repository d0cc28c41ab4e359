"""The ``virtprov`` command line.

Exit status: 0 done, 1 the operation failed (a cloud said no, a guest did not become
ready), 2 bad input or configuration. Errors are one line on stderr, never a
traceback (``--debug`` shows one). Every command takes ``--json``.

Commands load lazily: ``virtprov --help`` imports no provider, and commands from other
distributions come from the entry-point group ``virtprov.cli``.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from virtprov.errors import (
    ConfigError,
    HostRequiresError,
    JournalError,
    PluginError,
    ProviderError,
    VirtprovError,
)

#: Built-in commands: name -> (module, attribute). Loaded only when invoked or listed.
_BUILTIN: dict[str, tuple[str, str]] = {
    "providers": ("virtprov.cli.inventory", "providers"),
    "flavors": ("virtprov.cli.inventory", "flavors"),
    "capacity": ("virtprov.cli.inventory", "capacity"),
    "provision": ("virtprov.cli.guests", "provision"),
    "destroy": ("virtprov.cli.guests", "destroy"),
    "list": ("virtprov.cli.guests", "list_guests"),
    "check": ("virtprov.cli.check", "command"),
    "convert": ("virtprov.cli.convert", "command"),
    "config": ("virtprov.cli.config_cmd", "group"),
    "journal": ("virtprov.cli.pool_cmd", "journal"),
    "sweep": ("virtprov.cli.pool_cmd", "sweep"),
    "metrics": ("virtprov.cli.metrics_cmd", "metrics"),
    "why": ("virtprov.cli.why_cmd", "why"),
}


class LazyGroup(click.Group):
    """A group whose commands are imported on use, plus plugin commands from entry points."""

    def _plugin_commands(self) -> dict[str, Any]:
        from virtprov.plugins import cli_entry_points

        return {ep.name: ep for ep in cli_entry_points()}

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(_BUILTIN) | set(self.commands)
        names |= set(self._plugin_commands())
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name in _BUILTIN:
            module, attribute = _BUILTIN[cmd_name]
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command)
            return command
        entry_point = self._plugin_commands().get(cmd_name)
        if entry_point is None:
            return None
        try:
            command = entry_point.load()
        except Exception as exc:  # a broken plugin must not break the whole CLI
            raise PluginError(
                f"command {cmd_name!r} cannot be loaded: {type(exc).__name__}: {exc}",
                name=cmd_name,
            ) from exc
        if not isinstance(command, click.Command):
            raise PluginError(f"entry point {cmd_name!r} is not a click command", name=cmd_name)
        return command


@click.group(cls=LazyGroup)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="VIRTPROV_CONFIG",
    help="virtprov.toml to use (default: $VIRTPROV_CONFIG, then /etc/virtprov/virtprov.toml, "
    "else the embedded fake cloud).",
)
@click.option("-v", "--verbose", count=True, help="Log more (-vv for debug).")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.version_option(package_name="virtprov")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int, debug: bool) -> None:
    """Create virtual machines on demand for test-lab recipes."""
    from virtprov.cli.runtime import Runtime

    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = Runtime(config_path=config_path, debug=debug)


def _exit_status(error: BaseException) -> int:
    if isinstance(error, HostRequiresError | ConfigError | PluginError | JournalError):
        return 2
    return 1


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``virtprov`` script."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="virtprov", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("virtprov: aborted", err=True)
        sys.exit(1)
    except VirtprovError as exc:
        if debug:
            raise
        kind = "error" if isinstance(exc, ProviderError) else type(exc).__name__
        click.echo(f"virtprov: {kind}: {exc}", err=True)
        sys.exit(_exit_status(exc))
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(0)
