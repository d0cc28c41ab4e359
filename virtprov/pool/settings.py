"""The ``[pool]`` table of ``virtprov.toml``: every knob of the pool, with its default."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Literal, cast

import attrs

from virtprov.config import Options, Secret

Choice = Literal["ordered", "least-loaded"]

#: Where metrics are served by default: every interface, as exporters do (Prometheus
#: scrapes from another host, and metrics carry no secret); "127.0.0.1" keeps them local.
METRICS_ADDRESS = "0.0.0.0"  # noqa: S104


@attrs.frozen
class Limits:
    """Calls per second a provider accepts: mutating (create, start, stop, destroy) and read."""

    mutating: float = 5.0
    read: float = 20.0


@attrs.frozen
class PoolSettings:
    """How the pool behaves. Durations are seconds."""

    #: The ownership label value (``virtprov-pool``) of every guest this pool makes.
    name: str = "virtprov"
    #: SQLAlchemy URL of the journal; ``None``: an SQLite file in the state directory.
    journal: str | None = None
    #: The password of a PostgreSQL journal, by reference (never in the URL).
    journal_password: Secret | None = None
    #: This process's name among the launchers sharing the journal.
    launcher: str = attrs.field(factory=socket.gethostname)
    #: Threads making cloud calls (one more thread plans and polls).
    workers: int = 2
    poll_interval: float = 2.0
    capacity_refresh: float = 60.0
    launch_timeout: float = 1800.0
    retry_delay: float = 2.0
    retry_max_delay: float = 60.0
    lease: float = 30.0
    #: Launchers expected to share the journal: each takes at least 1/this of a rate limit.
    expected_launchers: int = 1
    choice: Choice = "ordered"
    #: How many sweeps in a row must see an unowned guest before it is deleted.
    sightings: int = 2
    #: How long ``Pool.close()`` waits for the guests released before it to be destroyed.
    close_timeout: float = 60.0
    #: A launcher thread busy with one task (or one planning pass) for longer than this
    #: is reported stuck.
    stuck_after: float = 300.0
    default_limits: Limits = Limits()
    limits: Mapping[str, Limits] = attrs.field(factory=dict)
    #: Days a decided launch stays in the journal after its outcome was taken (what
    #: ``virtprov why`` can answer); older history is pruned in small batches.
    history_days: float = 30.0
    #: Port of the Prometheus exposition server (``virtprov[metrics]``); ``None``: no
    #: server unless ``Pool(metrics=True)``; 0: any free port.
    metrics_port: int | None = None
    #: Address the exposition server listens on.
    metrics_address: str = METRICS_ADDRESS

    def limits_for(self, provider: str) -> Limits:
        return self.limits.get(provider, self.default_limits)

    def journal_url(self) -> str:
        """The journal's URL, with the password put in from its reference."""
        from virtprov.pool.journal import default_journal_url

        url = self.journal or default_journal_url()
        if self.journal_password is None:
            return url
        import sqlalchemy as sa

        return (
            sa.make_url(url)
            .set(password=self.journal_password.reveal())
            .render_as_string(hide_password=False)
        )

    @classmethod
    def from_options(cls, options: Options) -> PoolSettings:
        """Read ``[pool]``; unknown keys and bad values are errors naming the key."""
        defaults = cls()
        journal = options.string("journal")
        if journal is not None and "://" not in journal:
            raise options.error(
                "journal", 'must be an SQLAlchemy URL such as "sqlite:////var/lib/x.sqlite"'
            )
        if journal is not None:
            _check_journal_url(options, journal)
        choice = options.string("choice", defaults.choice)
        if choice not in ("ordered", "least-loaded"):
            raise options.error("choice", f'must be "ordered" or "least-loaded", got "{choice}"')
        default_limits = Limits(
            mutating=options.number("mutating_rate", defaults.default_limits.mutating),
            read=options.number("read_rate", defaults.default_limits.read),
        )
        limits_table = options.table("limits")
        limits: dict[str, Limits] = {}
        for provider in limits_table.names():
            table = limits_table.table(provider)
            limits[provider] = Limits(
                mutating=table.number("mutating", default_limits.mutating),
                read=table.number("read", default_limits.read),
            )
            table.finish()
        limits_table.finish()
        settings = cls(
            name=options.string("name", defaults.name),
            journal=journal,
            journal_password=options.secret("journal_password"),
            launcher=options.string("launcher", defaults.launcher),
            workers=options.integer("workers", defaults.workers, minimum=1),
            poll_interval=options.number("poll_interval", defaults.poll_interval),
            capacity_refresh=options.number("capacity_refresh", defaults.capacity_refresh),
            launch_timeout=options.number("launch_timeout", defaults.launch_timeout),
            retry_delay=options.number("retry_delay", defaults.retry_delay),
            retry_max_delay=options.number("retry_max_delay", defaults.retry_max_delay),
            lease=options.number("lease", defaults.lease),
            expected_launchers=options.integer(
                "expected_launchers", defaults.expected_launchers, minimum=1
            ),
            choice=cast(Choice, choice),  # checked above
            sightings=options.integer("sightings", defaults.sightings, minimum=1),
            close_timeout=options.number("close_timeout", defaults.close_timeout),
            stuck_after=_positive(options, "stuck_after", defaults.stuck_after),
            default_limits=default_limits,
            limits=limits,
            history_days=options.number("history_days", defaults.history_days),
            metrics_port=_port(options, "metrics_port"),
            metrics_address=options.string("metrics_address", defaults.metrics_address),
        )
        options.finish()
        return settings


def _port(options: Options, key: str) -> int | None:
    port: int | None = options.integer(key, None)
    if port is not None and port > 65535:
        raise options.error(key, f"must be a TCP port (0 to 65535; 0: any free port), got {port}")
    return port


def _positive(options: Options, key: str, default: float) -> float:
    value: float = options.number(key, default)
    if not value > 0:
        raise options.error(key, f"must be more than 0 seconds, got {value:g}")
    return value


def _check_journal_url(options: Options, url: str) -> None:
    """No secret in the URL (userinfo or query, e.g. libpq's ``?password=``), and a
    database the journal runs on; the URL is never echoed."""
    import sqlalchemy as sa

    from virtprov.urls import secret_in_url

    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise options.error("journal", "is not an SQLAlchemy database URL") from None
    found = "a password in the URL" if parsed.password else secret_in_url(url)
    if found is not None:
        raise options.error(
            "journal",
            f"must not contain a password (it holds {found}); "
            "give it as journal_password = { env = ... }",
        )
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise options.error(
            "journal",
            f"names {parsed.get_backend_name()}; the journal runs on SQLite or PostgreSQL only",
        )
