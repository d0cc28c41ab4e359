"""What every command shares: the configuration, the chosen providers, and output."""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import click

from virtprov.config import bad_byte
from virtprov.errors import ConfigError

if TYPE_CHECKING:
    from virtprov.config import Config
    from virtprov.provider import Provider

F = TypeVar("F", bound=Callable[..., Any])


class Runtime:
    """Loads the configuration and providers once per command, on first use."""

    def __init__(self, *, config_path: str | None, debug: bool = False) -> None:
        self.config_path = config_path
        self.debug = debug
        self._config: Config | None = None
        self._providers: dict[str, Provider] = {}

    @property
    def config(self) -> Config:
        if self._config is None:
            from virtprov.config import load_config

            self._config = load_config(self.config_path)
            if self._config.is_embedded_default:
                click.echo(
                    "virtprov: no configuration found; using the embedded fake cloud "
                    f"(state in {self._config.providers['fake'].options.raw('state_file')})",
                    err=True,
                )
        return self._config

    def provider(self, name: str | None = None) -> Provider:
        """The named provider, or the first configured one."""
        config = self.config
        if name is None:
            name = next(iter(config.providers))
        if name not in config.providers:
            known = ", ".join(config.providers)
            raise ConfigError(
                f"no provider named {name!r} is configured (configured: {known})",
                path=config.path,
                key="providers",
            )
        if name not in self._providers:
            from virtprov.plugins import build_provider

            self._providers[name] = build_provider(config.providers[name])
        return self._providers[name]

    def providers(self, name: str | None = None) -> list[Provider]:
        """The named provider, or every configured provider in configuration order."""
        if name is not None:
            return [self.provider(name)]
        return [self.provider(each) for each in self.config.providers]


class InputError(click.ClickException):
    """A file or value given on the command line is unusable: one line, status 2."""

    exit_code = 2


def describe_failure(error: BaseException) -> str:
    """One provider's failure, for a report that already names the provider."""
    from virtprov.errors import ProviderError, VirtprovError

    if isinstance(error, ProviderError):
        return error.message
    if isinstance(error, VirtprovError):
        return str(error)
    return f"{type(error).__name__}: {error}"  # from an SDK: its type says what it is


def read_text(path: str | Path, *, limit: int, what: str) -> str:
    """The UTF-8 text of a file named on the command line, read only up to ``limit`` bytes.

    ``what`` names it in errors (an option or an argument). A pipe works too
    (``--owned <(command)``): nothing is read beyond the limit.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise InputError(f"{what} {path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise InputError(f"{what} {path}: larger than {limit // 1024} KiB: is it the right file?")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{what} {path}: not UTF-8 text ({bad_byte(data, exc)}; "
            "convert it, e.g. iconv -f latin1 -t utf-8)"
        ) from None


def seconds(
    maximum: float = 7 * 24 * 3600,
) -> Callable[[click.Context, click.Parameter, float], float]:
    """An option callback: a duration in seconds, finite, above zero, at most ``maximum``.

    ``type=float`` alone accepts ``-1``, ``nan`` (which compares false with any bound, so
    ``click.FloatRange`` lets it through) and ``inf``: none is a poll interval or timeout.
    """

    def check(ctx: click.Context, param: click.Parameter, value: float) -> float:
        if not math.isfinite(value) or not 0 < value <= maximum:
            raise click.BadParameter(
                f"{value:g} is not a duration: give seconds above 0 and at most {maximum:g}"
            )
        return value

    return check


def json_option(function: F) -> F:
    """The ``--json`` flag every command has."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON document on stdout."
    )(function)


def provider_option(function: F) -> F:
    return click.option(
        "--provider",
        "provider_name",
        metavar="NAME",
        help="A configured provider (default: the first; for listings: all).",
    )(function)


def json_value(instance: Any, field: Any, value: Any) -> Any:
    """attrs' ``value_serializer``: an enum as its value, a datetime in ISO 8601."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _json_default(value: Any) -> Any:
    # What json cannot write by itself: attrs instances (through attrs.asdict), the
    # values json_value turns into JSON's, sets and read-only mappings.
    if attrs.has(type(value)):
        return attrs.asdict(value, value_serializer=json_value)
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, Mapping):
        return {str(key): item for key, item in value.items()}
    converted = json_value(None, None, value)
    if converted is value:
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    return converted


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, default=_json_default, indent=2, sort_keys=False))


def emit_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A plain aligned table: easy to read, easy to grep."""
    rendered = [[("-" if cell is None else str(cell)) for cell in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in rendered:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    line = "  ".join(f"{{:<{width}}}" for width in widths)
    click.echo(line.format(*headers).rstrip())
    for row in rendered:
        click.echo(line.format(*row).rstrip())
