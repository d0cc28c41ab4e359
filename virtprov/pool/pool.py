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

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from virtprov.config import Config, Defaults, load_config
from virtprov.errors import GuestNotFound
from virtprov.model import BootRequest, Guest
from virtprov.pool.abandon import abandon_orphaned, finish_destroys
from virtprov.pool.calls import reporting
from virtprov.pool.closing import Closing
from virtprov.pool.events import Event, EventBus, describe, name_of
from virtprov.pool.history import HistoryPruner
from virtprov.pool.journal import Journal, JournalUnavailable
from virtprov.pool.launcher import Launcher
from virtprov.pool.outcome import Handle, Outcome, Recipe, Status, checked_request
from virtprov.pool.settings import PoolSettings
from virtprov.pool.sweeper import SweepReport, sweep
from virtprov.provider import Provider

if TYPE_CHECKING:
    from virtprov.pool.metrics import MetricsServer, PoolMetrics

log = logging.getLogger("virtprov.pool")


@attrs.frozen
class Leftover:
    """A guest ``Pool.close()`` could not confirm destroyed in time.

    The journal keeps it doomed: the next pool on the journal destroys it.
    ``guest_id`` is ``None`` when its create's answer was lost (it is found by ``name``).
    """

    provider: str
    guest_id: str | None
    name: str


class Pool(Closing):
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

        Atomic: a submit that raises leaves no trace, so the corrected recipe can be
        submitted. It raises :class:`~virtprov.errors.HostRequiresError` (a
        ``ValueError``) naming the key of a requirement the journal cannot store (a
        ``datetime.date`` in ``hardware``...), ``ValueError`` for other fields, and
        :class:`~virtprov.pool.journal.JournalUnavailable` while the journal is out of
        reach. A document the evaluator refuses is not an error here: its launch is
        ``precluded`` with the reason.
        """
        request = checked_request(recipe)
        deadline = time.time() + self.settings.launch_timeout
        with self._lock:
            previous = self._handles.get(recipe.recipe_id)
            if previous is not None and not previous.done():
                return previous
            # Registered before the journal write, so that an outcome decided at once
            # finds it; taken back if the write fails.
            handle = self._handles[recipe.recipe_id] = Handle(recipe.recipe_id)
        try:
            self.journal.submit(recipe.recipe_id, request, self.launcher.name, deadline)
        except BaseException:
            with self._lock:
                if self._handles.get(recipe.recipe_id) is handle:
                    if previous is None:
                        del self._handles[recipe.recipe_id]
                    else:
                        self._handles[recipe.recipe_id] = previous
            raise
        self.launcher.wake()
        return handle

    def poll(self, timeout: float = 0.0) -> list[Outcome]:
        """The outcomes decided since the last call (each returned once, durably).

        Outcomes wait in the journal until taken here, so outcomes decided while the
        caller was down are returned after its restart. ``timeout``: wait up to that
        many seconds for at least one. Raises
        :class:`~virtprov.pool.journal.JournalUnavailable` while the journal is out of
        reach (the outcomes wait there: call again later).
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

        Takes the ``succeeded`` outcome, its guest, or the guest id. :meth:`close`
        waits for the guests released before it to be destroyed. Raises
        :class:`~virtprov.pool.journal.JournalUnavailable` while the journal is out of
        reach (nothing was recorded: release it again later).
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
        """Delete guests with this pool's labels that nobody owns, and what guests that are
        gone left behind (networks, ports, disks...; see :mod:`.sweeper`).

        ``owned``: the guest ids or recipe ids the scheduler still owns; ``None`` trusts
        the journal alone. Attended launches (tmt's) whose submitter died are abandoned
        first (:mod:`virtprov.pool.abandon`); then every guest the journal holds doomed
        or destroyed that no running launcher is destroying (theirs, what a pool closed
        or killed before its destroys were confirmed left) is destroyed, waiting up to
        ``close_timeout`` for the cloud, with what it left. Whatever a
        provider raises is in the report's ``errors``, never raised; only the journal's
        errors are.
        """
        problems: list[str] = []
        if not dry_run:
            abandon_orphaned(self.journal, self.events)
            # Before the sweep: a row destroyed here no longer holds its guest's name, so
            # what its destroy left unrecorded is swept as an orphan.
            problems = finish_destroys(
                self.journal, self._reporting, self.events, self.settings.close_timeout
            )
        report = sweep(
            pool=self.settings.name,
            prefix=self.defaults.guest_name_prefix,
            providers=self._reporting,
            journal=self.journal,
            events=self.events,
            owned=owned,
            sightings=self.settings.sightings,
            dry_run=dry_run,
        )
        # what an abandoned guest's destroy met is this sweep's error too
        return attrs.evolve(report, errors=(*problems, *report.errors)) if problems else report

    def enable(self, provider: str) -> None:
        """Re-enable a provider disabled after a permanent error."""
        self.journal.disable_provider(provider, None)
        self.events.emit("provider.enabled", provider=provider, reason="")
        self.launcher.wake()

    def status(self) -> dict[str, Any]:
        """What the pool holds and how its launcher is doing; never raises.

        * ``launches``: counts by state and outcome; ``disabled``: providers disabled,
          with why; ``capacity``: each provider's last snapshot (these three are
          ``None`` while the journal is unavailable);
        * ``threads``: each launcher thread by name: ``alive``, ``task`` (what it is
          doing, ``None`` when idle), ``busy_seconds`` (how long), ``stuck`` (busy
          longer than ``stuck_after``);
        * ``last_pass_age``: seconds since the driver's last complete planning pass
          (``None`` before the first);
        * ``journal``: ``{"available": True}``, or ``available`` false with ``since``,
          ``seconds`` and ``error``;
        * ``healthy``: running, every thread alive and none stuck, the journal available.
        """
        health = self.launcher.health()
        launches: dict[str, int] | None = None
        disabled: dict[str, str] | None = None
        capacity: dict[str, Any] | None = None
        try:
            launches = self.journal.counts()
            disabled = self.journal.disabled_providers()
            capacity = {}
            for name in self.providers:
                snapshot = self.journal.capacity(name)
                capacity[name] = None if snapshot is None else snapshot[0]
        except JournalUnavailable as exc:
            health["journal"] = {**health["journal"], "available": False, "error": exc.reason}
            launches = disabled = capacity = None
        threads = health["threads"]
        healthy = (
            self.launcher.running
            and health["journal"]["available"]
            and all(t["alive"] and not t["stuck"] for t in threads.values())
        )
        return {
            "launches": launches,
            "disabled": disabled,
            "capacity": capacity,
            "threads": threads,
            "last_pass_age": health["last_pass_age"],
            "journal": health["journal"],
            "healthy": healthy,
        }

    # -- life ------------------------------------------------------------------------

    def close(self, timeout: float | None = None) -> tuple[Leftover, ...]:
        """Destroy the guests released (or rolled back) before, then stop the threads.

        Waits up to ``timeout`` seconds (default ``[pool] close_timeout``) for every
        guest this pool is destroying to be confirmed gone; launches not yet decided
        stay in the journal for the next start, and no new guest is made meanwhile.
        Returns the guests it could not confirm destroyed in time (also logged at
        WARNING and counted in the ``pool.closed`` event): they stay doomed in the
        journal, and the next pool on it destroys them. Leaving a ``with`` block closes.
        """
        if self._closed:
            return ()
        self._closed = True
        wait = self.settings.close_timeout if timeout is None else timeout
        started = time.monotonic()
        left: tuple[Leftover, ...] = ()
        try:
            self.history.stop(wait)
            if self.launcher.running:
                left = self._drain(wait, started)
        finally:
            self.launcher.stop(max(1.0, wait - (time.monotonic() - started)))
            if self.metrics_server is not None:
                self.metrics_server.close()
            self.journal.close()
        return left

    def _drain(self, wait: float, started: float) -> tuple[Leftover, ...]:
        try:
            before = len(self.launcher.destroying())
        except JournalUnavailable:
            before = 0
        rows = self.launcher.drain(wait)
        seconds = time.monotonic() - started
        if rows is None:
            log.warning(
                "closing: the journal %s is unavailable, so whether the guests released "
                "before are destroyed is unknown; the next pool on it finishes them",
                self.journal.safe_url,
            )
            self.events.emit("pool.closed", destroyed=0, left=-1, seconds=seconds)
            return ()
        left = tuple(Leftover(r.provider, r.guest_id, r.name) for r in rows)
        self.events.emit(
            "pool.closed",
            destroyed=max(0, before - len(left)),
            left=len(left),
            seconds=seconds,
        )
        if left:
            shown = ", ".join(f"{g.provider}/{g.guest_id or '?'} ({g.name})" for g in left[:20])
            more = f" and {len(left) - 20} more" if len(left) > 20 else ""
            log.warning(
                "closing: %d guest(s) not confirmed destroyed within %g s: %s%s; they stay "
                "doomed in the journal %s, and the next pool on it destroys them",
                len(left),
                wait,
                shown,
                more,
                self.journal.safe_url,
            )
        return left

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
            except Exception as exc:
                where = f"done callback {name_of(callback)} of recipe {outcome.recipe_id}"
                self.events.emit(
                    "callback.error",
                    message=f"the {where} raised",
                    exc_info=exc,
                    where=where,
                    error=describe(exc),
                )


__all__ = ["Leftover", "Outcome", "Pool", "Recipe", "Status"]
