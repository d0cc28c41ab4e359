"""The ``virtprov`` command line.

Exit status: 0 done, 1 the operation failed (a cloud said no, a guest did not become
ready, an unexpected error), 2 bad input or configuration, 130 interrupted (Ctrl-C);
a command's own ``ctx.exit(n)`` (plugins' too) is its status. Errors are one line on
stderr, never a traceback (``--debug`` shows one). Every command but ``convert`` takes
``--json``.

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
from virtprov.printable import printable

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

    def invoke(self, ctx: click.Context) -> None:
        # The CLI runs click with standalone_mode=False, where click.main returns a
        # command's return value or the code of a ctx.exit(n); dropping return values
        # leaves only exit codes, so main() can honour them as standalone click does.
        super().invoke(ctx)

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
    handler = logging.StreamHandler()
    handler.setFormatter(_LogLines(debug=debug))
    logging.basicConfig(level=level, handlers=[handler])
    ctx.obj = Runtime(config_path=config_path, debug=debug)


class _LogLines(logging.Formatter):
    """What the CLI logs, as its errors: one line per record with control characters
    escaped (a message may carry a cloud's answer or a document's text), and a
    traceback only with ``--debug``, escaped line by line."""

    def __init__(self, *, debug: bool) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self.debug = debug

    def formatMessage(self, record: logging.LogRecord) -> str:
        return printable(super().formatMessage(record))

    def formatException(self, ei: Any) -> str:
        if not self.debug:
            return ""
        return "\n".join(printable(line) for line in super().formatException(ei).splitlines())

    def formatStack(self, stack_info: str) -> str:
        if not self.debug:
            return ""
        return "\n".join(printable(line) for line in stack_info.splitlines())


#: Exit status of each outcome, as docs/cli.md states them.
DONE, FAILED, BAD_INPUT, INTERRUPTED = 0, 1, 2, 130


def _exit_status(error: BaseException) -> int:
    if isinstance(error, HostRequiresError | ConfigError | PluginError | JournalError):
        return BAD_INPUT
    return FAILED


def one_line(text: str) -> str:
    """``text`` fit for one line of a terminal: line breaks become spaces, and other
    control characters (escape sequences from a document or a cloud) are shown escaped,
    as everywhere text is shown (:func:`virtprov.printable.printable`)."""
    return printable(" ".join(text.split("\n")).replace("\r", " "))


def _say(message: str) -> None:
    click.echo(f"virtprov: {one_line(message)}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``virtprov`` script."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        status = cli.main(args=args, prog_name="virtprov", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        exc.show()  # `virtprov` alone, or a group alone: its help
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "virtprov"
        _say(f"usage: {exc.format_message()} (see '{command} --help')")
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        _say(exc.format_message())
        sys.exit(exc.exit_code)
    except click.Abort as exc:
        # click turns Ctrl-C into Abort; a prompt answered "no" is an Abort too.
        if isinstance(exc.__cause__, KeyboardInterrupt):
            _say("interrupted")
            sys.exit(INTERRUPTED)
        _say("aborted")
        sys.exit(FAILED)
    except VirtprovError as exc:
        if debug:
            raise
        kind = "error" if isinstance(exc, ProviderError) else type(exc).__name__
        _say(f"{kind}: {exc}")
        sys.exit(_exit_status(exc))
    except KeyboardInterrupt:
        _say("interrupted")
        sys.exit(INTERRUPTED)
    except Exception as exc:  # an SDK or a plugin may raise anything: one line still
        if debug:
            raise
        _say(
            f"unexpected error: {type(exc).__name__}: {exc} "
            "(run again with --debug for the traceback, and report it)"
        )
        sys.exit(FAILED)
    sys.exit(status if isinstance(status, int) else DONE)
