"""The scheduler-facing pool: ``submit`` recipes, take outcomes, ``release`` guests.

::

    from virtprov.pool import Pool, Recipe

    with Pool.from_config() as pool:          # virtprov.toml, or the embedded fake
        handle = pool.submit(Recipe(1234, host_requires_xml, labs=["lab.example.com"]))
        ...
        for outcome in pool.poll():           # never blocks unless given a timeout
            ...                               # precluded / skipped / succeeded / failed
        pool.release(outcome)                 # at the end of the recipe

The state lives in the journal (:mod:`virtprov.pool.journal`); the threads that make
cloud calls are the launcher's (:mod:`virtprov.pool.launcher`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from virtprov.config import Config, Defaults, load_config
from virtprov.errors import GuestNotFound
from virtprov.model import BootRequest, Guest
from virtprov.pool.calls import reporting
from virtprov.pool.events import Event, EventBus
from virtprov.pool.history import HistoryPruner
from virtprov.pool.journal import Journal
from virtprov.pool.launcher import Launcher
from virtprov.pool.outcome import Handle, Outcome, Recipe, Status
from virtprov.pool.settings import PoolSettings
from virtprov.pool.sweeper import SweepReport, sweep
from virtprov.provider import Provider

if TYPE_CHECKING:
    from virtprov.pool.metrics import MetricsServer, PoolMetrics


class Pool:
    """Launches VMs for recipes on the configured providers, never blocking the caller.

    Build it with :meth:`from_config` (which also loads the providers) or from provider
    objects directly (tests, embedding). It starts its threads at once; use it as a
    context manager or call :meth:`close`.
    """

    def __init__(
        self,
        providers: Mapping[str, Provider],
        *,
        settings: PoolSettings | None = None,
        defaults: Defaults | None = None,
        journal: Journal | str | None = None,
        subscribers: Iterable[Callable[[Event], None]] = (),
        start: bool = True,
        metrics: bool | None = None,
    ) -> None:
        """``subscribers`` get every event from the start (the first capacity reads
        happen as soon as the threads run: a :meth:`subscribe` afterwards may miss them).

        ``metrics``: serve Prometheus metrics of this pool (``virtprov[metrics]``) on
        ``[pool] metrics_port`` (default 9464); ``None``: when ``metrics_port`` is set.
        """
        self.settings = settings or PoolSettings()
        self.defaults = defaults or Defaults()
        self.providers = dict(providers)
        if journal is None or isinstance(journal, str):
            journal = Journal(journal or self.settings.journal_url())
        self.journal = journal
        self.events = EventBus()
        for callback in subscribers:
            self.events.subscribe(callback)
        self._handles: dict[str, Handle] = {}
        self._lock = threading.Lock()
        self._outcomes = threading.Condition(self._lock)
        # Cloud calls are reported as ``cloud.call`` events (metrics of calls and errors).
        self._reporting = {
            name: reporting(provider, name, self.events) for name, provider in providers.items()
        }
        #: Prometheus metrics of this pool and their server, when enabled.
        self.metrics: PoolMetrics | None = None
        self.metrics_server: MetricsServer | None = None
        if metrics or (metrics is None and self.settings.metrics_port is not None):
            self._serve_metrics()
        self.history = HistoryPruner(self.journal, self.settings.history_days, events=self.events)
        self.launcher = Launcher(
            providers=self._reporting,
            settings=self.settings,
            defaults=self.defaults,
            journal=self.journal,
            events=self.events,
            on_outcome=self._resolve,
        )
        self._closed = False
        if start:
            self.launcher.start()
            self.history.start()

    @classmethod
    def from_config(
        cls,
        config: Config | str | Path | None = None,
        *,
        journal: Journal | str | None = None,
        subscribers: Iterable[Callable[[Event], None]] = (),
        metrics: bool | None = None,
    ) -> Pool:
        """A pool for ``virtprov.toml`` (found as the CLI finds it) and its providers."""
        from virtprov.plugins import build_providers

        if not isinstance(config, Config):
            config = load_config(config)
        settings = PoolSettings.from_options(config.pool)
        return cls(
            build_providers(config),
            settings=settings,
            defaults=config.defaults,
            journal=journal,
            subscribers=subscribers,
            metrics=metrics,
        )

    # -- the scheduler's calls -----------------------------------------------------------

    def submit(self, recipe: Recipe) -> Handle:
        """Queue a launch for ``recipe``; returns at once with its :class:`Handle`.

        Submitting a recipe whose launch is still undecided returns the same handle
        (submit is idempotent); after its outcome has been taken, a recipe may be
        submitted again (e.g. after ``skipped``).
        """
        deadline = time.time() + self.settings.launch_timeout
        with self._lock:
            handle = self._handles.get(recipe.recipe_id)
            if handle is not None and not handle.done():
                return handle
            handle = self._handles[recipe.recipe_id] = Handle(recipe.recipe_id)
        self.journal.submit(recipe.recipe_id, recipe.to_json(), self.launcher.name, deadline)
        self.launcher.wake()
        return handle

    def poll(self, timeout: float = 0.0) -> list[Outcome]:
        """The outcomes decided since the last call (each returned once, durably).

        Outcomes wait in the journal until taken here, so outcomes decided while the
        caller was down are returned after its restart. ``timeout``: wait up to that
        many seconds for at least one.
        """
        deadline = time.monotonic() + timeout
        while True:
            rows = self.journal.take_outcomes(self.launcher.name)
            outcomes = [
                Outcome.from_json(row.recipe_id, row.status or "failed", row.outcome or {})
                for row in rows
            ]
            for outcome in outcomes:
                self._resolve(outcome)
            left = deadline - time.monotonic()
            if outcomes or left <= 0:
                return outcomes
            with self._outcomes:
                self._outcomes.wait(min(left, 0.5))

    def handle(self, recipe_id: str) -> Handle | None:
        with self._lock:
            return self._handles.get(str(recipe_id))

    def subscribe(self, callback: Callable[[Event], None]) -> None:
        """Call ``callback(event)`` for every event from now on (see
        :mod:`virtprov.pool.events`); to see the first ones too, pass it as ``subscribers``."""
        self.events.subscribe(callback)

    def release(self, guest: Outcome | Guest | str) -> None:
        """Destroy a guest the scheduler is done with. Idempotent; retried until confirmed.

        Takes the ``succeeded`` outcome, its guest, or the guest id.
        """
        if isinstance(guest, Outcome):
            if guest.guest is None:
                return  # nothing was made for a precluded, skipped or failed launch
            guest = guest.guest
        provider, guest_id = (
            (guest.provider, guest.id) if isinstance(guest, Guest) else (None, guest)
        )
        row = self.journal.guest_by_id(provider, guest_id)
        if row is None:
            raise GuestNotFound(f"{guest_id} is not a guest of this pool's journal")
        if row.state == "live":
            self.journal.update_guest(row.id, state="doomed", reason="released")
            self.launcher.wake()

    def start(self, guest: Outcome | Guest, boot: BootRequest | None = None) -> None:
        """Power a ready guest on (within the provider's mutating rate limit).

        This is one cloud call made in the caller's thread; schedulers that want the
        pool to start guests pass ``Recipe(boot=...)`` instead.
        """
        if isinstance(guest, Outcome):
            if guest.guest is None:
                raise ValueError(f"recipe {guest.recipe_id} has no guest ({guest.status.value})")
            guest = guest.guest
        state = self.launcher.providers[guest.provider]
        state.mutating.acquire()
        state.provider.start_guest(guest.id, boot)

    def sweep(self, owned: Iterable[str] | None = None, *, dry_run: bool = False) -> SweepReport:
        """Delete guests with this pool's labels that nobody owns (see :mod:`.sweeper`).

        ``owned``: the guest ids or recipe ids the scheduler still owns; ``None`` trusts
        the journal alone.
        """
        return sweep(
            pool=self.settings.name,
            prefix=self.defaults.guest_name_prefix,
            providers=self._reporting,
            journal=self.journal,
            events=self.events,
            owned=owned,
            sightings=self.settings.sightings,
            dry_run=dry_run,
        )

    def enable(self, provider: str) -> None:
        """Re-enable a provider disabled after a permanent error."""
        self.journal.disable_provider(provider, None)
        self.events.emit("provider.enabled", provider=provider, reason="")
        self.launcher.wake()

    def status(self) -> dict[str, Any]:
        """Launch counts by state/outcome, disabled providers, capacity snapshots."""
        capacity = {}
        for name in self.providers:
            snapshot = self.journal.capacity(name)
            capacity[name] = None if snapshot is None else snapshot[0]
        return {
            "launches": self.journal.counts(),
            "disabled": self.journal.disabled_providers(),
            "capacity": capacity,
            "threads": self.launcher.threads,
        }

    # -- life ------------------------------------------------------------------------

    def close(self, timeout: float = 30.0) -> None:
        """Stop the threads (launches stay in the journal for the next start)."""
        if self._closed:
            return
        self._closed = True
        self.history.stop(timeout)
        self.launcher.stop(timeout)
        if self.metrics_server is not None:
            self.metrics_server.close()
        self.journal.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _serve_metrics(self) -> None:
        try:
            from virtprov.pool.metrics import DEFAULT_PORT, PoolMetrics

            self.metrics = PoolMetrics()
            self.metrics.seed(self.providers, self.journal.disabled_providers())
            port = self.settings.metrics_port
            self.metrics_server = self.metrics.serve(
                DEFAULT_PORT if port is None else port, self.settings.metrics_address
            )
        except Exception:  # no extra, or the port is taken: nothing may stay open
            self.journal.close()
            raise
        self.events.subscribe(self.metrics)

    def _resolve(self, outcome: Outcome) -> None:
        with self._lock:
            handle = self._handles.get(outcome.recipe_id)
            self._outcomes.notify_all()
        if handle is None:
            return
        for callback in handle._resolve(outcome):
            try:
                callback(outcome)
            except Exception:
                self.events.emit(
                    "callback.error", where=f"recipe {outcome.recipe_id}", error="raised"
                )


__all__ = ["Outcome", "Pool", "Recipe", "Status"]
