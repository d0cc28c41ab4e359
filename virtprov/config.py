"""``virtprov.toml``: where it is found, what it holds, and typed access to it.

Search order: an explicit path (``--config``), ``$VIRTPROV_CONFIG``, then
``/etc/virtprov/virtprov.toml``. With none of them, :func:`embedded_default` gives a
configuration with one fake provider, so virtprov runs on a machine with no cloud.

Every error names the file, the key and the fix. Secrets are never written in the
file: a secret option is a reference, ``{ env = "NAME" }`` or ``{ file = "/path" }``,
resolved only when the provider needs it (see :class:`Secret`).
"""

from __future__ import annotations

import logging
import os
import re
import stat
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias, TypeVar, overload

import attrs

from virtprov.errors import ConfigError
from virtprov.model import DEFAULT_NAME_PREFIX, GiB

ENV_CONFIG: Final = "VIRTPROV_CONFIG"
SYSTEM_CONFIG: Final = Path("/etc/virtprov/virtprov.toml")

_SECRET_HELP = 'write a reference instead: { env = "VARIABLE" } or { file = "/path/to/file" }'  # noqa: S105

#: A configuration file is read only up to this size: it is a few kilobytes.
MAX_CONFIG_BYTES: Final = 1024 * 1024
#: Tables and arrays nest at most this deep (virtprov's own go to 5 levels).
MAX_CONFIG_DEPTH: Final = 16
#: A secret file is read only up to this size: a password, a token, a key.
MAX_SECRET_BYTES: Final = 64 * 1024

_log = logging.getLogger(__name__)

#: A value as TOML gives it (what :meth:`Options.raw` returns).
TomlValue: TypeAlias = (
    "str | int | float | bool | datetime | date | time | list[TomlValue] | dict[str, TomlValue]"
)
_T = TypeVar("_T")


@attrs.frozen(repr=False)
class Secret:
    """A reference to a secret; the value is read only by :meth:`reveal`.

    The ``repr`` and ``str`` show where the secret comes from, never the secret.
    ``where`` is the option's key and ``path`` the configuration file, for messages.
    """

    env: str | None = None
    file: str | None = None
    where: str = ""
    path: str | None = None

    def reveal(self) -> str:
        """Read the secret now. Raises ``ConfigError`` naming the file, key and reference."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise self._error(f"environment variable {self.env} is not set")
            return value
        assert self.file is not None
        mode, data = self._read_file()
        if mode & stat.S_IROTH:
            _log.warning(
                "%s: secret file %s is readable by every user (mode %04o): chmod o-rwx it",
                self.where or "a secret",
                self.file,
                stat.S_IMODE(mode),
            )
        return data.rstrip("\r\n")

    def verify(self) -> None:
        """Check the reference as ``virtprov config check`` does, without keeping the value.

        Raises ``ConfigError`` (file, key, reference) when the variable is unset or empty,
        or the file is missing, unreadable, not UTF-8, empty, or readable by every user.
        """
        if self.env is not None:
            if not self.reveal():
                raise self._error(f"environment variable {self.env} is empty")
            return
        mode, data = self._read_file()
        if mode & stat.S_IROTH:
            raise self._error(
                f"secret file {self.file} is readable by every user "
                f"(mode {stat.S_IMODE(mode):04o}): chmod o-rwx {self.file}"
            )
        if not data.rstrip("\r\n"):
            raise self._error(f"secret file {self.file} is empty")

    def _read_file(self) -> tuple[int, str]:
        """The file's mode and text: a regular file, bounded, UTF-8."""
        assert self.file is not None
        try:
            # O_NONBLOCK: a FIFO named by mistake must not hang the caller.
            fd = os.open(self.file, os.O_RDONLY | os.O_NONBLOCK)
            with open(fd, "rb") as handle:
                mode = os.fstat(handle.fileno()).st_mode
                if not stat.S_ISREG(mode):
                    raise self._error(f"secret file {self.file} is not a regular file")
                data = handle.read(MAX_SECRET_BYTES + 1)
        except OSError as exc:
            raise self._error(f"cannot read secret file {self.file}: {exc.strerror}") from None
        if len(data) > MAX_SECRET_BYTES:
            raise self._error(
                f"secret file {self.file} is larger than {MAX_SECRET_BYTES // 1024} KiB: "
                "is it the right file?"
            )
        try:
            return mode, data.decode("utf-8")
        except UnicodeDecodeError as exc:
            # Never show the bytes: they are the secret.
            raise self._error(
                f"secret file {self.file} is not UTF-8 text (at byte {exc.start})"
            ) from None

    def _error(self, message: str) -> ConfigError:
        return ConfigError(message, path=self.path, key=self.where or None)

    def __repr__(self) -> str:
        source = f"env={self.env!r}" if self.env is not None else f"file={self.file!r}"
        return f"Secret({source})"

    __str__ = __repr__


class Options:
    """Typed, path-aware access to one TOML table (a ``[providers.NAME]`` table, or a
    table inside it).

    Every accessor reads one key and *consumes* it; :meth:`finish` then reports the keys
    nobody read, so that a misspelt option is an error instead of being ignored. Every
    error is a :class:`~virtprov.errors.ConfigError` naming the file and the whole key
    (``virtprov.toml: providers.east.timeout: must be a number, got a string``).

    A missing key and a key whose value is absent are the same: the accessor returns
    ``default`` (``None`` unless given), or raises when ``required=True``.
    """

    def __init__(
        self,
        table: Mapping[str, Any],
        *,
        path: str | None,
        prefix: str,
        parent: Options | None = None,
    ) -> None:
        self._table = dict(table)
        self._seen: set[str] = set()
        #: The configuration file, for messages (``None``: not from a file).
        self.path = path
        #: The dotted key of this table (``providers.east``), for messages.
        self.prefix = prefix
        self._parent = parent
        self._secrets: list[Secret] = []

    def error(self, key: str, message: str) -> ConfigError:
        """A :class:`~virtprov.errors.ConfigError` about ``key`` of this table, naming the
        file and the whole key; for checks of your own::

            if port > 65535:
                raise options.error("port", f"must be at most 65535, got {port}")
        """
        return ConfigError(message, path=self.path, key=self._key(key))

    def _key(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def _get(self, key: str, kind: type | tuple[type, ...], what: str) -> Any:
        self._seen.add(key)
        value = self._table.get(key)
        if value is None:
            return None
        # bool is an int in Python; a TOML boolean is never a number here.
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _kinds(kind)):
            raise self.error(key, f"must be {what}, got {_describe(value)}")
        return value

    def __contains__(self, key: str) -> bool:
        """Whether the table holds ``key`` (without consuming it)."""
        return key in self._table

    def names(self) -> list[str]:
        """The keys of the table, in file order (without consuming them)."""
        return list(self._table)

    @overload
    def string(self, key: str, default: str, *, required: bool = False) -> str: ...
    @overload
    def string(self, key: str, default: None = None, *, required: Literal[True]) -> str: ...
    @overload
    def string(self, key: str, default: None = None, *, required: bool = False) -> str | None: ...
    def string(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        """A TOML string: ``url = "https://cloud.example.com"``.

        ``options.string("url", required=True)`` is a ``str``; ``options.string("region",
        "east")`` is ``"east"`` when absent; ``options.string("zone")`` is ``None`` then.
        """
        value: str | None = self._get(key, str, "a string")
        return self._default(key, value, default, required, '"..."')

    @overload
    def integer(
        self, key: str, default: int, *, required: bool = False, minimum: int = 0
    ) -> int: ...
    @overload
    def integer(
        self, key: str, default: None = None, *, required: Literal[True], minimum: int = 0
    ) -> int: ...
    @overload
    def integer(
        self, key: str, default: None = None, *, required: bool = False, minimum: int = 0
    ) -> int | None: ...
    def integer(
        self, key: str, default: int | None = None, *, required: bool = False, minimum: int = 0
    ) -> int | None:
        """A whole number at least ``minimum`` (0 unless given): ``max_instances = 20``.

        ``options.integer("retries", 3, minimum=1)`` is an ``int``; ``1.5`` or ``"3"`` in
        the file is an error, as is a number below ``minimum``.
        """
        value: int | None = self._get(key, int, "a whole number")
        value = self._default(key, value, default, required, "a number")
        if value is not None and value < minimum:
            raise self.error(key, f"must be at least {minimum}, got {value}")
        return value

    @overload
    def number(
        self, key: str, default: float, *, required: bool = False, minimum: float = 0.0
    ) -> float: ...
    @overload
    def number(
        self, key: str, default: None = None, *, required: Literal[True], minimum: float = 0.0
    ) -> float: ...
    @overload
    def number(
        self, key: str, default: None = None, *, required: bool = False, minimum: float = 0.0
    ) -> float | None: ...
    def number(
        self,
        key: str,
        default: float | None = None,
        *,
        required: bool = False,
        minimum: float = 0.0,
    ) -> float | None:
        """A number (whole or not), as a ``float``, at least ``minimum`` (0 unless given):
        ``timeout = 30`` or ``timeout = 2.5``.

        ``options.number("timeout", 30.0)`` is a ``float``.
        """
        value: float | None = self._get(key, (int, float), "a number")
        value = self._default(key, value, default, required, "a number")
        if value is not None and value < minimum:
            if minimum == 0:
                raise self.error(key, f"must not be negative, got {value}")
            raise self.error(key, f"must be at least {minimum:g}, got {value}")
        return None if value is None else float(value)

    @overload
    def boolean(self, key: str, default: bool, *, required: bool = False) -> bool: ...
    @overload
    def boolean(self, key: str, default: None = None, *, required: Literal[True]) -> bool: ...
    @overload
    def boolean(self, key: str, default: None = None, *, required: bool = False) -> bool | None: ...
    def boolean(
        self, key: str, default: bool | None = None, *, required: bool = False
    ) -> bool | None:
        """``true`` or ``false``: ``insecure = false``. ``options.boolean("insecure", False)``
        is a ``bool``; ``"yes"`` or ``1`` in the file is an error."""
        value: bool | None = self._get(key, bool, "true or false")
        return self._default(key, value, default, required, "true")

    def string_list(
        self, key: str, default: Sequence[str] | None = None, *, required: bool = False
    ) -> list[str]:
        """A list of strings: ``arches = ["x86_64", "aarch64"]``. Absent: a copy of
        ``default`` (empty unless given), or an error with ``required=True``."""
        value: list[object] | None = self._get(key, list, "a list of strings")
        if value is None:
            if required:
                raise self.error(key, f'is required (add {key} = ["..."])')
            return list(default or [])
        strings = [item for item in value if isinstance(item, str)]
        if len(strings) != len(value):
            raise self.error(key, "must be a list of strings")
        return strings

    def table(self, key: str) -> Options:
        """A nested table (``[providers.NAME.capacity]``, or an inline ``capacity = {
        instances = 5 }``) with the same error reporting; absent, an empty one.

        Call :meth:`finish` on it too, so that its unknown keys are reported.
        """
        value = self._get(key, dict, "a table")
        return Options(value or {}, path=self.path, prefix=self._key(key), parent=self)

    def secrets(self) -> list[Secret]:
        """The secret references read so far from this table and the tables below it."""
        return list(self._secrets)

    def raw(self, key: str) -> TomlValue | None:
        """The value as TOML gave it (``None`` when absent), consumed, for options with a
        shape of their own (a list of tables, a number or a range...). Check its type
        yourself and report with :meth:`error`."""
        self._seen.add(key)
        value: TomlValue | None = self._table.get(key)
        return value

    @overload
    def secret(self, key: str, *, required: Literal[True]) -> Secret: ...
    @overload
    def secret(self, key: str, *, required: bool = False) -> Secret | None: ...
    def secret(self, key: str, *, required: bool = False) -> Secret | None:
        """A secret, given by reference: ``password = { env = "MYCLOUD_PASSWORD" }`` or
        ``password = { file = "/etc/virtprov/mycloud.password" }``.

        Returns a :class:`Secret`, whose ``repr`` names the reference, never the value;
        read the value with :meth:`Secret.reveal` when you connect, not here. A secret
        written in the file as text is refused without being repeated.
        """
        self._seen.add(key)
        value = self._table.get(key)
        if value is None:
            if required:
                raise self.error(key, f"is required; {_SECRET_HELP}")
            return None
        if isinstance(value, str):
            # Never echo the value: it may be the secret itself.
            raise self.error(
                key, f"is a secret and must not be written in the file; {_SECRET_HELP}"
            )
        if not isinstance(value, dict) or len(value) != 1 or not ({"env", "file"} >= value.keys()):
            raise self.error(key, f"is not a secret reference; {_SECRET_HELP}")
        ((kind, ref),) = value.items()
        if not isinstance(ref, str) or not ref:
            raise self.error(key, f"{kind} must be a non-empty string")
        secret = Secret(**{kind: ref}, where=self._key(key), path=self.path)
        table: Options | None = self
        while table is not None:  # so that secrets() of every table above sees it
            if secret not in table._secrets:
                table._secrets.append(secret)
            table = table._parent
        return secret

    def finish(self) -> None:
        """Raise a :class:`~virtprov.errors.ConfigError` for the first key (in sorted order)
        that no accessor read, with the closest known key as a suggestion. Call it once all
        options are read, in ``from_config``."""
        unknown = sorted(set(self._table) - self._seen)
        if unknown:
            raise self.error(unknown[0], "is not a known option" + _suggest(unknown[0], self._seen))

    def _default(
        self, key: str, value: _T | None, default: _T | None, required: bool, example: str
    ) -> _T | None:
        if value is None:
            if required:
                raise self.error(key, f"is required (add {key} = {example})")
            return default
        return value


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _describe(value: Any) -> str:
    names = {
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "a table",
    }
    return names.get(type(value), type(value).__name__)


def _suggest(key: str, known: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, sorted(known), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


@attrs.frozen
class Defaults:
    """``[defaults]``: Beaker's config items, in virtprov's units."""

    guest_name_prefix: str = DEFAULT_NAME_PREFIX
    default_guest_memory_mib: int = 1024
    default_guest_disk_bytes: int = 20 * GiB


@attrs.frozen
class ProviderConfig:
    """One ``[providers.NAME]`` table, handed to the driver's ``from_config``."""

    name: str
    driver: str
    lab: str
    options: Options = attrs.field(eq=False)
    defaults: Defaults = attrs.field(factory=Defaults)
    path: str | None = None
    #: ``flavor_properties``: what the operator declares the flavors offer beyond size,
    #: by flavor name (``"*"``: every flavor), as property name -> text
    flavor_properties: Mapping[str, Mapping[str, str]] = attrs.field(factory=dict)


@attrs.frozen
class Config:
    """A whole configuration. ``path`` is ``None`` for the embedded default."""

    defaults: Defaults
    providers: Mapping[str, ProviderConfig]
    pool: Options = attrs.field(eq=False)
    path: str | None = None

    @property
    def is_embedded_default(self) -> bool:
        return self.path is None

    def __iter__(self) -> Iterator[ProviderConfig]:
        return iter(self.providers.values())


def find_config_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The configuration file to use, or ``None`` for the embedded default."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError("no such configuration file (given with --config)", path=str(path))
        return path
    from_env = os.environ.get(ENV_CONFIG)
    if from_env:
        path = Path(from_env)
        if not path.is_file():
            raise ConfigError(
                f"no such configuration file (named by ${ENV_CONFIG})", path=str(path)
            )
        return path
    return SYSTEM_CONFIG if SYSTEM_CONFIG.is_file() else None


def load_config(explicit: str | os.PathLike[str] | None = None) -> Config:
    """Find and parse the configuration; the embedded default when there is none."""
    path = find_config_path(explicit)
    return embedded_default() if path is None else parse_config_file(path)


def parse_config_file(path: str | os.PathLike[str]) -> Config:
    where = str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=where) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"is larger than {MAX_CONFIG_BYTES // 1024} KiB: is it a virtprov.toml?", path=where
        )
    return parse_config(_decode_utf8(data, path=where), path=where)


def _decode_utf8(data: bytes, *, path: str) -> str:
    """``data`` as UTF-8 text, or a ``ConfigError`` naming the line of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"is not UTF-8 text: byte 0x{data[exc.start]:02x} on line {line} "
            "(convert the file, e.g. iconv -f latin1 -t utf-8)",
            path=path,
        ) from None


def parse_config(text: str, *, path: str | None = None) -> Config:
    """Parse ``virtprov.toml`` text. ``path`` is only used in messages."""
    where = path or "<config>"
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=where) from None
    except RecursionError:
        # tomllib recurses once per nested array or inline table.
        raise ConfigError(
            "nests arrays or inline tables too deeply to be a configuration", path=where
        ) from None
    _check_values(document, where)
    root = Options(document, path=where, prefix="")
    defaults = _read_defaults(root.table("defaults"))
    pool = root.table("pool")
    providers_table = root.table("providers")
    providers: dict[str, ProviderConfig] = {}
    for name in providers_table.names():
        table = providers_table.table(name)
        providers[name] = ProviderConfig(
            name=name,
            driver=table.string("driver", required=True),
            lab=table.string("lab", required=True),
            options=table,
            defaults=defaults,
            path=where,
            flavor_properties=_read_flavor_properties(table),
        )
    if not providers:
        raise ConfigError(
            "defines no provider; add a [providers.NAME] table with driver and lab",
            path=where,
        )
    root.finish()
    return Config(defaults=defaults, providers=providers, pool=pool, path=where)


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")

# What to do with a URL holding a secret, for the options that have a secret of their own.
_URL_SECRET_FIX: Final = {
    "pool.journal": 'give the password as journal_password = { env = "VARIABLE" }',
}


def _check_values(document: Mapping[str, Any], path: str) -> None:
    """Refuse, before any option is read, what no option may hold anywhere in the file:
    nesting deeper than :data:`MAX_CONFIG_DEPTH`, and a URL with a secret in it.

    The URL's value is never repeated: it is, or holds, a password.
    """
    stack: list[tuple[str, Any, int]] = [("", document, 0)]
    while stack:
        key, value, depth = stack.pop()
        if depth > MAX_CONFIG_DEPTH:
            raise ConfigError(f"nests deeper than {MAX_CONFIG_DEPTH} levels", path=path, key=key)
        if isinstance(value, dict):
            for name, item in value.items():
                part = name if _BARE_KEY.fullmatch(name) else f'"{name}"'
                stack.append((f"{key}.{part}" if key else part, item, depth + 1))
        elif isinstance(value, list):
            stack.extend((f"{key}[{n}]", item, depth + 1) for n, item in enumerate(value))
        elif isinstance(value, str):
            from virtprov.urls import secret_in_url

            found = secret_in_url(value)
            if found is not None:
                fix = _URL_SECRET_FIX.get(
                    key,
                    "remove it and give the secret by reference in the option made for it "
                    '(e.g. password = { env = "VARIABLE" })',
                )
                raise ConfigError(
                    f"holds {found}; a secret must never be written in a URL: {fix}",
                    path=path,
                    key=key,
                )


def _read_flavor_properties(table: Options) -> dict[str, dict[str, str]]:
    """``[providers.NAME.flavor_properties]``: flavor name (or ``"*"``) -> properties.

    Values are TOML strings, numbers, booleans or lists of words (CPU flags); each is
    checked against its property's kind, so a typo fails at load, naming its key.
    """
    raw = table.raw("flavor_properties")
    if raw is None:
        return {}
    from virtprov.hostrequires import properties

    base = f"{table.prefix}.flavor_properties"
    if not isinstance(raw, dict):
        raise ConfigError(f"must be a table, got {_describe(raw)}", path=table.path, key=base)
    result: dict[str, dict[str, str]] = {}
    for flavor, declared in raw.items():
        key = f'{base}."{flavor}"'
        if not isinstance(declared, dict):
            raise ConfigError(
                f"must be a table of properties, got {_describe(declared)}",
                path=table.path,
                key=key,
            )
        result[flavor] = {}
        for name, value in declared.items():
            kind = properties.kind_of(name)
            if kind is None:
                known = set(properties.PROPERTIES)
                raise ConfigError(
                    f"unknown property{_suggest(name, known)}; the declared properties are "
                    "listed in the documentation (docs/declared-properties.md)",
                    path=table.path,
                    key=f'{key}."{name}"',
                )
            words = [w for w in value if isinstance(w, str)] if isinstance(value, list) else []
            if isinstance(value, list) and len(words) == len(value):
                text = " ".join(words)
            elif isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, str | int | float):
                text = str(value)
            else:
                raise ConfigError(
                    f"must be text, a number, a boolean or a list of words, got {_describe(value)}",
                    path=table.path,
                    key=f'{key}."{name}"',
                )
            try:
                properties.read(kind, text)
            except ValueError as exc:
                raise ConfigError(str(exc), path=table.path, key=f'{key}."{name}"') from None
            result[flavor][name] = text
    return result


def _read_defaults(table: Options) -> Defaults:
    defaults = Defaults(
        guest_name_prefix=table.string("guest_name_prefix", DEFAULT_NAME_PREFIX),
        default_guest_memory_mib=table.integer("default_guest_memory", 1024, minimum=1),
        default_guest_disk_bytes=table.integer("default_guest_disk_size", 20, minimum=1) * GiB,
    )
    table.finish()
    return defaults


def default_state_dir() -> Path:
    """Where virtprov keeps state when nothing says otherwise ($XDG_STATE_HOME/virtprov)."""
    import platformdirs

    return platformdirs.user_state_path("virtprov")


#: The name of the provider of the embedded default.
EMBEDDED_PROVIDER: Final = "fake"


def embedded_default() -> Config:
    """One fake provider whose cloud lives in a state file, so separate CLI calls share it."""
    state_file = default_state_dir() / "fake-cloud.sqlite"
    options = Options({"state_file": str(state_file)}, path=None, prefix="providers.fake")
    provider = ProviderConfig(
        name=EMBEDDED_PROVIDER, driver="fake", lab="localhost", options=options
    )
    return Config(
        defaults=Defaults(),
        providers={EMBEDDED_PROVIDER: provider},
        pool=Options({}, path=None, prefix="pool"),
        path=None,
    )
