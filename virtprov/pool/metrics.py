"""Prometheus metrics of one pool, made from its events (``pip install 'virtprov[metrics]'``).

:class:`PoolMetrics` is an event subscriber: ``Pool(..., metrics=True)`` (or ``[pool]
metrics_port``) subscribes one and serves it over HTTP for Prometheus to scrape; a
scheduler that already exposes metrics subscribes one on its own registry instead::

    from prometheus_client import REGISTRY
    from virtprov.pool.metrics import PoolMetrics

    pool = Pool.from_config(subscribers=[PoolMetrics(registry=REGISTRY)])

Every label value comes from a closed set (provider names from the configuration, the
four statuses, the reason classes and operations below, error class names of
:mod:`virtprov.errors`), never a recipe id, guest name or message: a scheduler that runs
for months keeps the same number of series. Events this module does not know (newer
kinds) are counted in ``virtprov_pool_events_total`` by kind and otherwise ignored.
The series and their meaning are listed in ``docs/operations.md``.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeVar

from virtprov import errors
from virtprov.errors import ConfigError
from virtprov.pool.events import Event
from virtprov.pool.prometheus import Collector, CollectorRegistry, prom
from virtprov.pool.settings import METRICS_ADDRESS

#: The port ``Pool(metrics=True)`` serves on when ``[pool] metrics_port`` is not set.
DEFAULT_PORT: Final = 9464

#: The reason class of each outcome (the ``reason`` label), by status.
REASONS: Final = {
    "succeeded": ("ready",),
    "precluded": ("requirements", "invalid", "lab"),
    "skipped": ("capacity", "disabled"),
    "failed": ("timeout", "transient", "permanent", "capacity", "not_found", "cloud", "other"),
}
_FAILED: Final = {
    "TimeoutError": "timeout",
    "TransientError": "transient",
    "PermanentError": "permanent",
    "CapacityExhausted": "capacity",
    "GuestNotFound": "not_found",
    "ProviderError": "cloud",
}
#: Error class names kept as label values; any other is "other".
ERRORS: Final = frozenset(
    name
    for name, value in vars(errors).items()
    if isinstance(value, type) and issubclass(value, Exception)
)
#: Capacity figures, as the ``resource`` label.
RESOURCES: Final = ("instances", "vcpus", "ram_mib", "disk_bytes")

# Submit to outcome: a precluded recipe takes milliseconds, a ready guest minutes.
_OUTCOME_BUCKETS = (0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600)
_READY_BUCKETS = (1, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 900, 1800)
_CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


def reason_class(status: str, reason: str) -> str:
    """The bounded class of an outcome's first reason (see :data:`REASONS`).

    ``failed``: the error's class (the reason starts with its name); ``precluded``: the
    requirements are malformed (``invalid``), no provider serves the recipe's lab
    (``lab``), or no provider offers what they ask (``requirements``); ``skipped``: the
    first provider passed over was disabled (``disabled``) or had no room (``capacity``).
    """
    if status == "succeeded":
        return "ready"
    if status == "failed":
        return _FAILED.get(reason.split(":", 1)[0], "other")
    if status == "precluded":
        if reason.startswith(("hostRequires:", "hardware:")):
            return "invalid"
        return "lab" if reason.startswith("no provider serves lab") else "requirements"
    if status == "skipped":
        return "disabled" if ": disabled:" in reason else "capacity"
    return "other"


def _provider(fields: Mapping[str, Any]) -> str:
    return str(fields.get("provider") or "none")


def _seconds(fields: Mapping[str, Any], key: str = "seconds") -> float | None:
    value = fields.get(key)
    return float(value) if isinstance(value, int | float) and value >= 0 else None


_Series = TypeVar("_Series")


def _labelled(
    kind: Callable[..., _Series],
    registry: CollectorRegistry,
    name: str,
    documentation: str,
    *labels: str,
    **options: Any,
) -> _Series:
    """A series of ``kind`` (``prom.Counter``...) on ``registry``, labelled ``labels``."""
    return kind(name, documentation, labels, registry=registry, **options)


class PoolMetrics:
    """Turns a pool's events into Prometheus metrics; call it with each event.

    ``registry``: where the metrics are registered; by default a registry of its own
    (with the process and Python collectors), so several pools in one process never
    clash. Thread-safe, like the metrics it updates.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        if registry is None:
            registry = CollectorRegistry()
            prom.ProcessCollector(registry=registry)
            prom.PlatformCollector(registry=registry)
            prom.GCCollector(registry=registry)
        self.registry = registry
        # Every series is registered on this pool's registry, never the global one.
        counter = functools.partial(_labelled, prom.Counter, registry)
        gauge = functools.partial(_labelled, prom.Gauge, registry)
        histogram = functools.partial(_labelled, prom.Histogram, registry)
        summary = functools.partial(_labelled, prom.Summary, registry)
        self.outcomes = counter(
            "virtprov_launch_outcomes",
            "Launches decided, by the provider last tried (none: none was), status and "
            "reason class.",
            "provider",
            "status",
            "reason",
        )
        self.outcome_seconds = histogram(
            "virtprov_launch_outcome_seconds",
            "Seconds from submit to outcome, by provider and status.",
            "provider",
            "status",
            buckets=_OUTCOME_BUCKETS,
        )
        self.attempts = counter(
            "virtprov_launch_attempts",
            "Creates the pool attempted (a launch may try several providers), by provider.",
            "provider",
        )
        self.retries = counter(
            "virtprov_launch_retries",
            "Launch retries after a transient error, by provider.",
            "provider",
        )
        self.ready_seconds = histogram(
            "virtprov_guest_ready_seconds",
            "Seconds from create to a ready guest, by provider.",
            "provider",
            buckets=_READY_BUCKETS,
        )
        self.destroyed = counter(
            "virtprov_guests_destroyed",
            "Guests the pool destroyed and saw gone, by provider.",
            "provider",
        )
        self.call_seconds = histogram(
            "virtprov_cloud_call_seconds",
            "Cloud calls and their seconds, by provider and operation.",
            "provider",
            "operation",
            buckets=_CALL_BUCKETS,
        )
        self.call_errors = counter(
            "virtprov_cloud_errors",
            "Cloud calls that raised, by provider, operation and error class.",
            "provider",
            "operation",
            "error",
        )
        self.ratelimit_wait = summary(
            "virtprov_ratelimit_wait_seconds",
            "Seconds calls waited for their rate-limit token, by provider and budget.",
            "provider",
            "budget",
        )
        self.capacity = gauge(
            "virtprov_capacity_free",
            "What each provider could still take at its last capacity read, by resource "
            "(absent: the cloud does not say).",
            "provider",
            "resource",
        )
        self.disabled = gauge(
            "virtprov_provider_disabled",
            "1 while a provider is disabled after a permanent error, else 0.",
            "provider",
        )
        self.disables = counter(
            "virtprov_provider_disables",
            "Times a provider was disabled after a permanent error.",
            "provider",
        )
        self.leaks_found = counter(
            "virtprov_leaks_found",
            "Guests with this pool's label that nobody owns, per sweep sighting, by provider.",
            "provider",
        )
        self.leaks_removed = counter(
            "virtprov_leaks_removed",
            "Leaked guests the sweeper deleted, by provider.",
            "provider",
        )
        self.pruned = counter(
            "virtprov_history_pruned",
            "History rows pruned from the journal, by table.",
            "table",
        )
        self.events = counter(
            "virtprov_pool_events",
            "Every event the pool emitted, by kind (known to this version or not).",
            "kind",
        )
        self._handlers: dict[str, Callable[[Mapping[str, Any]], None]] = {
            "launch.outcome": self._outcome,
            "launch.attempt": lambda f: self.attempts.labels(_provider(f)).inc(),
            "launch.retry": lambda f: self.retries.labels(_provider(f)).inc(),
            "guest.ready": self._ready,
            "guest.destroyed": lambda f: self.destroyed.labels(_provider(f)).inc(),
            "cloud.call": self._call,
            "ratelimit.wait": self._wait,
            "capacity": self._capacity,
            "provider.disabled": self._disabled,
            "provider.enabled": lambda f: self.disabled.labels(_provider(f)).set(0),
            "leak.found": lambda f: self.leaks_found.labels(_provider(f)).inc(),
            "leak.removed": lambda f: self.leaks_removed.labels(_provider(f)).inc(),
            "history.pruned": self._pruned,
        }

    def seed(self, providers: Iterable[str], disabled: Iterable[str] = ()) -> None:
        """Start each provider's series at zero (and ``disabled`` ones at 1), so that a
        rate or an alert sees them before their first event."""
        disabled = set(disabled)
        names = list(providers)
        for name in names:
            self.disabled.labels(name).set(1 if name in disabled else 0)
            self.attempts.labels(name)
            self.leaks_found.labels(name)
            self.leaks_removed.labels(name)
        for name in [*names, "none"]:
            for status, reasons in REASONS.items():
                for reason in reasons:
                    self.outcomes.labels(name, status, reason)

    def __call__(self, event: Event) -> None:
        self.events.labels(event.kind).inc()
        handler = self._handlers.get(event.kind)
        if handler is not None:
            handler(event.fields)

    def serve(self, port: int = DEFAULT_PORT, address: str = METRICS_ADDRESS) -> MetricsServer:
        """Serve these metrics over HTTP (``/metrics``) on a daemon thread."""
        return MetricsServer(self.registry, port, address)

    # -- one handler per kind ------------------------------------------------------------

    def _outcome(self, fields: Mapping[str, Any]) -> None:
        status = str(fields.get("status", ""))
        if status not in REASONS:
            return
        provider = _provider(fields)
        reason = reason_class(status, str(fields.get("reason") or ""))
        self.outcomes.labels(provider, status, reason).inc()
        seconds = _seconds(fields)
        if seconds is not None:
            self.outcome_seconds.labels(provider, status).observe(seconds)

    def _ready(self, fields: Mapping[str, Any]) -> None:
        seconds = _seconds(fields)
        if seconds is not None:
            self.ready_seconds.labels(_provider(fields)).observe(seconds)

    def _call(self, fields: Mapping[str, Any]) -> None:
        provider, operation = _provider(fields), str(fields.get("operation", "other"))
        seconds = _seconds(fields)
        if seconds is not None:
            self.call_seconds.labels(provider, operation).observe(seconds)
        error = fields.get("error")
        if error:
            error = error if error in ERRORS else "other"
            self.call_errors.labels(provider, operation, error).inc()

    def _wait(self, fields: Mapping[str, Any]) -> None:
        seconds = _seconds(fields)
        if seconds is not None:
            budget = "read" if fields.get("budget") == "read" else "mutating"
            self.ratelimit_wait.labels(_provider(fields), budget).observe(seconds)

    def _capacity(self, fields: Mapping[str, Any]) -> None:
        provider = _provider(fields)
        for resource in RESOURCES:
            value = fields.get(resource)
            if isinstance(value, int | float):
                self.capacity.labels(provider, resource).set(value)
            else:  # unknown: no series rather than a made-up figure
                with contextlib.suppress(KeyError):
                    self.capacity.remove(provider, resource)

    def _disabled(self, fields: Mapping[str, Any]) -> None:
        provider = _provider(fields)
        self.disabled.labels(provider).set(1)
        self.disables.labels(provider).inc()

    def _pruned(self, fields: Mapping[str, Any]) -> None:
        for table in ("launches", "guests", "launchers"):
            count = fields.get(table)
            if isinstance(count, int) and count > 0:
                self.pruned.labels(table).inc(count)


class MetricsServer:
    """The exposition server: ``/metrics`` of a registry over HTTP, on a daemon thread."""

    def __init__(self, registry: Collector, port: int, address: str = METRICS_ADDRESS) -> None:
        try:
            self._server, self._thread = prom.start_http_server(
                port, addr=address, registry=registry
            )
        except OSError as exc:
            raise ConfigError(
                f"cannot serve metrics on {address} port {port}: {exc.strerror or exc} "
                "([pool] metrics_port, metrics_address; `metrics serve --port`)"
            ) from None
        self.address = address
        self._closed = threading.Event()

    @property
    def port(self) -> int:
        """The port it listens on (the one chosen, when asked for port 0)."""
        port: int = self._server.server_port
        return port

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5.0)
