"""The launcher: a few threads that drive every launch through the journal.

One *driver* thread plans: it reads the launches this process owns from the journal,
chooses a provider and flavor, batches one ``poll`` per provider for every guest that
is building, starting or being destroyed, and hands cloud calls to a small fixed set of
*worker* threads (each call behind its provider's rate limit). No thread ever waits for
one VM, to be built, started or deleted: a launch is a row whose state the driver
advances (``queued`` -> ``creating`` -> ``building`` [-> ``starting``] -> ``decided``),
and so is the destruction of a guest (``doomed`` -> ``destroyed`` -> ``gone``), so 2
workers drive hundreds of launches.

Every cloud call whose answer could be lost is preceded by a journal write (the guest
row in state ``creating``, with its name) and followed by one (its id). A guest that
may exist but is not wanted is *doomed*. Its destroy is one call the cloud accepts
(``destroyed``, with what the destroy left to delete once the guest is gone: a port and
its network); a later poll that no longer sees the guest confirms it, the leftovers are
deleted, one call each, and it is ``gone``. A guest whose create's answer was lost is
found by name and doomed in its own row.

``starting`` is for a recipe with a boot request: the start is due at the launch's
``next_at``; once the cloud accepted it, ``next_at`` moves to the deadline and the launch
waits, polled with the building ones, until a poll sees the guest ``running``: only
then is it ``succeeded`` (``guest.running`` says how long the start took).

Polls adapt to the cloud: a provider is polled soon (:data:`POLL_SOON`) after a call
that changes something (a create, start or destroy the cloud accepted) and after a poll
that saw a guest change state; while nothing changes the wait doubles, up to
``poll_interval``. Each poll is one read of the provider's budget, like any other.

No fault stops it. Whatever one recipe or one provider call raises decides or retries
that launch alone (or backs that provider's reads off), with the error recorded and the
traceback logged. While the journal is unavailable the launcher pauses and resumes by
itself: every step is re-derived from the journal's rows, so nothing is lost or done
twice. A *watchdog* thread reports a thread that died (and starts a new one) or that has
been busy with one task for longer than ``stuck_after``.
"""

from __future__ import annotations

import functools
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from virtprov.config import Defaults
from virtprov.errors import (
    CapacityExhausted,
    GuestNotFound,
    HostRequiresError,
    PermanentError,
    ProviderError,
)
from virtprov.model import Flavor, Guest, GuestSpec, GuestState, ImageBoot
from virtprov.pool import backoff
from virtprov.pool.abandon import abandon_orphaned
from virtprov.pool.events import EventBus, describe
from virtprov.pool.journal import (
    GuestRow,
    Journal,
    JournalUnavailable,
    LaunchRow,
    destroys_for,
    leftovers_json,
)
from virtprov.pool.outcome import Outcome, Recipe, Status
from virtprov.pool.ratelimit import TokenBucket
from virtprov.pool.settings import PoolSettings
from virtprov.pool.watchdog import Watchdog, Work
from virtprov.provider import Provider

if TYPE_CHECKING:
    from virtprov.hostrequires import Candidates, HostRequires

log = logging.getLogger("virtprov.pool")

#: The guest label naming who the guest is for (``Recipe.owner``).
LABEL_OWNER = "virtprov-owner"
#: How many times one launch tries again after transient errors before it fails.
MAX_ATTEMPTS = 5
#: Seconds between lease renewals (at most; a third of the lease when that is shorter).
HEARTBEAT = 1.0
#: Task priorities (lowest first).
STOP, READ, MUTATING = range(3)
#: The longest pause between two tries to reach a journal that is unavailable: the
#: launcher should resume within seconds of the database's return.
JOURNAL_RETRY_MAX = 10.0
#: Error texts kept in outcomes and events are cut here (a cloud may answer a whole page).
MAX_ERROR_CHARS = 2000
#: Seconds from a call that changes a guest (or a poll that saw one change) to the next
#: poll of its provider (at most ``poll_interval``): a fraction of a real cloud's step.
POLL_SOON = 0.25

DRIVER = "virtprov-driver"

#: What a dispatched task is keyed by: ("launch", recipe id) or ("guest", guest row).
Key = tuple[str, str]


def launch_key(recipe_id: str) -> Key:
    """The key of a task on the launch of ``recipe_id``."""
    return ("launch", recipe_id)


def guest_key(guest: GuestRow) -> Key:
    """The key of a task on the guest row ``guest``."""
    return ("guest", str(guest.id))


@attrs.define
class _ProviderState:
    provider: Provider
    mutating: TokenBucket
    read: TokenBucket
    next_poll: float = 0.0
    #: seconds from the end of one poll to the next: POLL_SOON after a change, doubling
    #: while nothing changes, up to poll_interval
    poll_delay: float = 0.0
    #: a call that changes a guest was accepted since the last poll began
    soon: bool = False
    #: each polled guest's state in the last poll (None: gone), to see what changed
    last_seen: dict[str, GuestState | None] = attrs.Factory(dict)
    polling: bool = False
    refreshing: bool = False
    listing: bool = False
    #: the provider's flavors, prepared once for every recipe's match
    flavors: Candidates | None = None
    listing_backoff: backoff.Backoff = attrs.Factory(backoff.Backoff)
    capacity_backoff: backoff.Backoff = attrs.Factory(backoff.Backoff)
    poll_backoff: backoff.Backoff = attrs.Factory(backoff.Backoff)


@attrs.frozen
class _NotListed:
    """A provider whose flavors are not known: disabled, or listing them failed (so far)."""

    reason: str
    disabled: bool


@attrs.frozen
class _Outage:
    since: float
    error: str


class Launcher:
    """Drives launches; built and owned by :class:`virtprov.pool.Pool`."""

    def __init__(
        self,
        *,
        providers: Mapping[str, Provider],
        settings: PoolSettings,
        defaults: Defaults,
        journal: Journal,
        events: EventBus,
        on_outcome: Callable[[Outcome], None],
    ) -> None:
        self.settings = settings
        self.defaults = defaults
        self.journal = journal
        self.events = events
        self.on_outcome = on_outcome
        self.name = settings.launcher
        self.providers = {
            name: _ProviderState(
                provider,
                TokenBucket(settings.limits_for(name).mutating),
                TokenBucket(settings.limits_for(name).read),
            )
            for name, provider in providers.items()
        }
        # Reads (polls, capacity, listings) before mutating calls: a poll must never
        # wait behind a queue of creates that are waiting for their rate budget.
        self._tasks: queue.PriorityQueue[tuple[int, int, tuple[str, Callable[[], None]] | None]] = (
            queue.PriorityQueue()
        )
        self._sequence = itertools.count()
        self._busy: set[Key] = set()
        #: keys whose task ended since the driver last read the journal: their rows in
        #: that read may be older than what the task wrote (see _reading)
        self._ended: set[Key] = set()
        self._busy_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._draining = False
        self._watchdog = Watchdog(events, settings.stuck_after, self._stopping)
        self._next_heartbeat = 0.0
        self._share = 1
        self._host_requires: dict[str, HostRequires] = {}
        #: why a queued launch is waiting (not decided) in the last planning pass
        self._waiting: dict[str, str] = {}
        # Providers an earlier recipe of this pass waits for (flavors, a first capacity
        # read), with why: later recipes wait too rather than jump the queue when a worker
        # fills the gap in the middle of the pass.
        self._unready: dict[str, str] = {}
        #: when the cloud accepted the start of a launch's guest (for guest.running)
        self._started: dict[str, float] = {}
        #: destroyed guests (rows) a poll saw gone, whose leftovers are being deleted: not
        #: polled again (after a restart, one more poll finds them gone again)
        self._seen_gone: set[int] = set()
        self._seen_gone_lock = threading.Lock()
        #: launches that could not even be decided after a failure: left alone until then
        self._quarantine: dict[str, float] = {}
        self._outage: _Outage | None = None
        self._outage_lock = threading.Lock()
        #: wall-clock time of the end of the last planning pass
        self.last_pass: float | None = None

    # -- life --------------------------------------------------------------------------

    def start(self) -> None:
        self.journal.register_launcher(self.name, self.settings.lease)
        self._watchdog.spawn(DRIVER, self._drive)
        for n in range(self.settings.workers):
            self._watchdog.spawn(f"virtprov-worker-{n}", self._serve)
        self._watchdog.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the calls in flight, then stop. Launches stay in the journal."""
        if not self.running:
            return
        self._stopping.set()
        self._wake.set()
        for _ in range(self.settings.workers):
            self._tasks.put((STOP, next(self._sequence), None))
        self._watchdog.join(timeout)
        try:
            self.journal.retire_launcher(self.name)
        except JournalUnavailable as exc:
            log.warning(
                "could not give up the lease of launcher %s (%s): other launchers take its "
                "launches over when the lease runs out",
                self.name,
                exc.reason,
            )

    def drain(self, timeout: float) -> list[GuestRow] | None:
        """Stop launching and wait up to ``timeout`` seconds until every guest this
        launcher is destroying is confirmed gone.

        What is left (doomed or not yet confirmed destroyed), or ``None`` when the journal
        could not be read to tell.
        """
        self._draining = True
        self._wake.set()
        deadline = time.monotonic() + timeout
        while True:
            try:
                left: list[GuestRow] | None = self.destroying()
            except JournalUnavailable:
                left = None
            if left == [] or time.monotonic() >= deadline:
                return left
            self._stopping.wait(min(0.05, max(0.0, deadline - time.monotonic())))

    def destroying(self) -> list[GuestRow]:
        """The guests this launcher is destroying: doomed, or destroyed and not yet
        confirmed gone."""
        return self._ours_to_destroy(self.journal.guests_in(["doomed", "destroyed"]), time.time())

    def wake(self) -> None:
        self._wake.set()

    @property
    def running(self) -> bool:
        """Started and not stopped."""
        return len(self._watchdog) > 0 and not self._stopping.is_set()

    @property
    def threads(self) -> int:
        """How many threads this launcher runs (driver, workers, watchdog)."""
        return len(self._watchdog)

    def health(self) -> dict[str, Any]:
        """Each thread's liveness and task, the age of the last planning pass, the journal."""
        threads = self._watchdog.health()
        outage = self._outage
        journal = (
            {"available": True}
            if outage is None
            else {
                "available": False,
                "since": outage.since,
                "seconds": time.time() - outage.since,
                "error": outage.error,
            }
        )
        age = None if self.last_pass is None else time.time() - self.last_pass
        return {"threads": threads, "last_pass_age": age, "journal": journal}

    # -- the journal's availability ---------------------------------------------------

    def _journal_down(self, exc: JournalUnavailable) -> None:
        with self._outage_lock:
            if self._outage is not None:
                return
            self._outage = _Outage(time.time(), exc.reason)
        self.events.emit(
            "journal.unavailable",
            message=f"{exc}; the launcher pauses and resumes by itself when it is back",
            error=exc.reason,
        )

    def _journal_up(self) -> None:
        if self._outage is None:
            return
        with self._outage_lock:
            outage, self._outage = self._outage, None
        if outage is not None:
            seconds = time.time() - outage.since
            self.events.emit(
                "journal.available",
                message=f"the journal is back after {seconds:.1f} s; the launcher resumes",
                seconds=seconds,
            )

    # -- the driver --------------------------------------------------------------------

    def _drive(self, work: Work) -> None:
        tick = min(self.settings.poll_interval, 0.5) or 0.05
        failures = 0
        while not self._stopping.is_set():
            pause: float | None = None
            work.current = ("a planning pass", time.monotonic())
            try:
                self.tick()
            except JournalUnavailable as exc:
                failures += 1
                self._journal_down(exc)
                pause = backoff.delay(failures, self.settings.retry_delay, JOURNAL_RETRY_MAX)
            except Exception:  # the driver outlives anything; per-launch faults end earlier
                failures += 1
                pause = backoff.delay(
                    failures, self.settings.retry_delay, self.settings.retry_max_delay
                )
                log.exception("launcher planning pass failed; next try in %.1f s", pause)
            else:
                failures = 0
                self.last_pass = time.time()
                self._journal_up()
            finally:
                work.current = None
            if pause is None:
                self._wake.wait(self._until_due(tick))
                self._wake.clear()
            else:
                self._stopping.wait(pause)

    def _until_due(self, tick: float) -> float:
        """Seconds the driver may sleep: ``tick``, or less when a poll is due sooner."""
        now = time.time()
        due = [s.next_poll - now for s in self.providers.values() if s.next_poll > now]
        return min([tick, *due])

    def tick(self, now: float | None = None) -> None:
        """One planning round (the driver calls it; tests may too)."""
        now = time.time() if now is None else now
        if now >= self._next_heartbeat:
            alive = self.journal.heartbeat(self.name, self.settings.lease, now)
            share = self._share = max(alive, self.settings.expected_launchers)
            for state in self.providers.values():
                state.mutating.share_among(share)
                state.read.share_among(share)
            # Often enough that a launcher joining or dying changes the shares within a
            # second (the rate limit's error bound), rarely enough to cost nothing.
            self._next_heartbeat = now + min(self.settings.lease / 3, HEARTBEAT)
            # attended launches of a dead submitter are abandoned, never claimed below
            abandon_orphaned(self.journal, self.events, now)
        if self._draining:  # closing: only destroy what is doomed, and confirm it
            self._poll({}, now)
            self._destroy_doomed(now)
            return
        self._refresh_capacity(now)
        disabled = self.journal.disabled_providers()
        building: dict[str, list[LaunchRow]] = {}
        self._reading()
        self._unready = {}
        for row in self.journal.claim(self.name, now, self._share):
            if self._is_busy(launch_key(row.recipe_id)):
                continue
            if self._quarantine.get(row.recipe_id, 0.0) > now:
                continue
            try:
                self._step(row, disabled, building, now)
            except JournalUnavailable:
                raise
            except Exception as exc:  # one launch's fault is that launch's alone
                self._fail_alone(row, exc, now)
        self._poll(building, now)
        self._destroy_doomed(now)

    def _step(
        self,
        row: LaunchRow,
        disabled: Mapping[str, str],
        building: dict[str, list[LaunchRow]],
        now: float,
    ) -> None:
        if now > row.deadline:
            self._time_out(row)
        elif row.state == "queued" and row.next_at <= now:
            self._plan(row, disabled, now)
        elif row.state == "creating" and row.next_at <= now:
            self._dispatch(
                launch_key(row.recipe_id),
                f"the recovery of recipe {row.recipe_id}'s create",
                self._recover_create,
                row,
                read=True,
            )
        elif row.state == "building" and row.provider is not None:
            building.setdefault(row.provider, []).append(row)
        elif row.state == "starting" and row.next_at <= now:
            self._dispatch(
                launch_key(row.recipe_id),
                f"the start of recipe {row.recipe_id}'s guest",
                self._start,
                row,
            )
        elif row.state == "starting" and row.provider is not None:
            # started: polled with the building ones until it runs
            building.setdefault(row.provider, []).append(row)

    def _fail_alone(self, row: LaunchRow, exc: Exception, now: float) -> None:
        """Something no launch step expects: fail this launch, and only this one."""
        error = _error(exc)
        log.error(
            "recipe %s: %s while planning; the launch fails", row.recipe_id, error, exc_info=exc
        )
        try:
            launch = self.journal.launch(row.recipe_id) or row  # as far as it got
            if launch.guest_row is not None:
                self._doom(self.journal.guest(launch.guest_row), f"launch failed: {error}")
            self._decide(launch, Status.FAILED, error=error)
        except JournalUnavailable:
            raise
        except Exception:
            # Not even its failure can be recorded: leave it alone for a while, so that
            # one launch cannot fill the log on every pass.
            self._quarantine[row.recipe_id] = now + self.settings.retry_max_delay
            log.exception("recipe %s: its failure cannot be recorded either", row.recipe_id)

    def _reading(self) -> None:
        """The driver is about to read rows to plan from: a task that ends from now on
        may change them after the read, so its key is left alone until the next read."""
        with self._busy_lock:
            self._ended.clear()

    def _is_busy(self, key: Key) -> bool:
        """A task on ``key`` is queued or running, or ended since the driver's last read
        (which may then hold the row as it was before the task: planning from it would
        do the step again, e.g. recover a create that already lost its answer and adopt
        the lost guest, or destroy again a guest already confirmed gone). The next pass
        reads the row afresh."""
        with self._busy_lock:
            return key in self._busy or key in self._ended

    def _put(self, priority: int, label: str, task: Callable[[], None]) -> None:
        self._tasks.put((priority, next(self._sequence), (label, task)))

    def _dispatch(
        self, key: Key, label: str, task: Callable[..., None], *args: Any, read: bool = False
    ) -> None:
        with self._busy_lock:
            if key in self._busy or key in self._ended:
                return
            self._busy.add(key)

        def run() -> None:
            try:
                # While the journal is away or the pool is closing, a launch step would
                # make cloud calls it cannot record (or new guests): the journal's rows
                # bring the step back once that is over. Destroys go on while closing.
                if self._outage is None and not (self._draining and key[0] == "launch"):
                    task(*args)
            except JournalUnavailable as exc:
                self._journal_down(exc)
            except Exception as exc:
                self._task_failed(key, label, exc)
            finally:
                with self._busy_lock:
                    self._busy.discard(key)
                    self._ended.add(key)
                self._wake.set()

        self._put(READ if read else MUTATING, label, run)

    def _serve(self, work: Work) -> None:
        while True:
            _, _, item = self._tasks.get()
            if item is None:
                return
            label, task = item
            work.current = (label, time.monotonic())
            try:
                task()
            except JournalUnavailable as exc:
                self._journal_down(exc)
            except Exception:  # each task guards itself; this is the last line
                log.exception("launcher task %s failed", label)
            finally:
                work.current = None

    def _task_failed(self, key: Key, label: str, exc: Exception) -> None:
        """A dispatched task raised what it did not expect: retry (or fail) its launch,
        or back its destroy off; the worker lives on."""
        log.error("%s failed: %s", label, _error(exc), exc_info=exc)
        try:
            if key[0] == "guest":
                self._guest_failed(self.journal.guest(int(key[1])), exc)
                return
            launch = self._current(key[1])
            if launch is not None:
                self._retry(launch.recipe_id, launch.provider or "", exc, state=launch.state)
        except JournalUnavailable as outage:
            self._journal_down(outage)
        except Exception:
            log.exception("%s: its failure could not be recorded", label)

    # -- planning ----------------------------------------------------------------------

    def _plan(self, row: LaunchRow, disabled: Mapping[str, str], now: float) -> None:
        """Choose a provider and flavor, write the intent, and hand the create over."""
        recipe = Recipe.from_json(row.recipe_id, row.request)
        language = "hardware" if recipe.hardware is not None else "hostRequires"
        hr = self._host_requires.get(row.recipe_id)
        if hr is None:
            from virtprov.hostrequires import parse
            from virtprov.hostrequires.tmt import parse_tmt

            try:
                if recipe.hardware is not None:
                    hr = parse_tmt(recipe.hardware)
                else:
                    hr = parse(recipe.host_requires)
            except HostRequiresError as exc:
                self._decide(row, Status.PRECLUDED, reasons=(f"{language}: {exc}",))
                return
            except Exception as exc:
                self._unjudgeable(row, language, exc)
                return
            self._host_requires[row.recipe_id] = hr
        serving = [
            (name, state)
            for name, state in self.providers.items()
            if not recipe.labs or state.provider.info.lab in recipe.labs
        ]
        if not serving:
            labs = ", ".join(recipe.labs)
            self._decide(row, Status.PRECLUDED, reasons=(f"no provider serves lab {labs}",))
            return
        precluded: list[str] = []
        unknown: list[str] = []  # flavors not listed (yet): no verdict either way
        blocked: list[str] = []  # disabled before its flavors could be listed
        choices: list[tuple[str, _ProviderState, Flavor]] = []
        try:
            for name, state in serving:
                verdict = hr.virtualisable(state.provider.info)
                if not verdict and hr.declared:
                    # a flavor may declare what it asks for (CPU flags, TPM...): look, then
                    # ask again; any other "no" is decided before any cloud call
                    listed = self._listed(name, state, disabled)
                    if isinstance(listed, _NotListed):
                        (blocked if listed.disabled else unknown).append(f"{name}: {listed.reason}")
                        continue
                    verdict = hr.virtualisable(listed.target)
                if not verdict:
                    precluded += [f"{name}: {reason}" for reason in verdict.reasons]
                    continue
                listed = self._listed(name, state, disabled)
                if isinstance(listed, _NotListed):
                    (blocked if listed.disabled else unknown).append(f"{name}: {listed.reason}")
                    continue
                match = hr.match(listed)
                if match.chosen is None:
                    precluded += [f"{name}: {reason}" for reason in match.reasons] or [
                        f"{name}: no flavor satisfies the recipe"
                    ]
                    continue
                choices.append((name, state, match.chosen))
        except Exception as exc:  # the evaluator failed on this document: it alone
            self._unjudgeable(row, language, exc)
            return
        if not choices:
            if unknown:  # a provider that could not be asked may still take it
                self._wait(row, unknown)
            elif blocked:
                self._decide(row, Status.SKIPPED, reasons=(*blocked, *precluded))
            else:
                self._decide(row, Status.PRECLUDED, reasons=tuple(precluded))
            return
        passed = list(row.passed)
        given_up = {entry.split(":", 1)[0] for entry in passed}
        waiting = list(unknown)
        for name, state, flavor in self._order(choices):
            if name in given_up:
                continue
            if name in disabled:
                passed.append(f"{name}: disabled: {disabled[name]}")
                continue
            free = None if name in self._unready else self.journal.capacity(name)
            if free is None:
                # no snapshot yet: plan again once the first one is in
                trouble = state.capacity_backoff.error
                reason = self._unready.setdefault(
                    name, f"cannot read capacity: {trouble}" if trouble else "capacity not read yet"
                )
                waiting.append(f"{name}: {reason}")
                continue
            if not free[0].fits(flavor):
                passed.append(f"{name}: not enough capacity for {flavor.name}")
                continue
            spec = self._spec(recipe, flavor)
            guest_row = self.journal.begin_create(
                recipe_id=row.recipe_id,
                launcher=self.name,
                provider=name,
                flavor=flavor,
                name=spec.name,
                now=now,
            )
            if guest_row is None:
                passed.append(f"{name}: not enough capacity for {flavor.name}")
                continue
            self._waiting.pop(row.recipe_id, None)
            self.events.emit(
                "launch.attempt", recipe_id=row.recipe_id, provider=name, flavor=flavor.name
            )
            self._dispatch(
                launch_key(row.recipe_id),
                f"the create of recipe {row.recipe_id}'s guest on {name}",
                self._create,
                row.recipe_id,
                state,
                spec,
                guest_row,
            )
            return
        if waiting:
            self._wait(row, waiting)
            return
        self._decide(row, Status.SKIPPED, reasons=(*passed, *blocked))

    def _unjudgeable(self, row: LaunchRow, language: str, exc: Exception) -> None:
        """The evaluator raised something other than a verdict on this recipe's document."""
        error = _error(exc)
        log.error(
            "recipe %s: judging its %s raised %s; it is precluded",
            row.recipe_id,
            language,
            error,
            exc_info=exc,
        )
        self._decide(row, Status.PRECLUDED, reasons=(f"{language}: cannot be judged: {error}",))

    def _wait(self, row: LaunchRow, reasons: Iterable[str]) -> None:
        """Leave a launch queued for the next pass; remember why, for its deadline."""
        self._waiting[row.recipe_id] = "; ".join(reasons)

    def _order(
        self, choices: list[tuple[str, _ProviderState, Flavor]]
    ) -> list[tuple[str, _ProviderState, Flavor]]:
        if self.settings.choice == "ordered":
            return choices

        def load(choice: tuple[str, _ProviderState, Flavor]) -> float:
            free = self.journal.capacity(choice[0])
            if free is None or free[0].instances is None:
                return 0.0
            return -float(free[0].instances)

        return sorted(choices, key=load)

    def _listed(
        self, name: str, state: _ProviderState, disabled: Mapping[str, str]
    ) -> Candidates | _NotListed:
        """The provider's flavors (with their declarations), listed once by a worker.

        Until they are listed (or while listing them fails) the provider is unknown, not
        a "no": only a verdict on the requirements precludes a recipe.
        """
        if name in self._unready:
            return _NotListed(self._unready[name], disabled=False)
        if state.flavors is not None:
            return state.flavors
        if name in disabled:
            return _NotListed(f"disabled: {disabled[name]}", disabled=True)
        if not state.listing and state.listing_backoff.ready(time.time()):
            state.listing = True
            self._put(
                READ, f"the flavor listing of {name}", functools.partial(self._list, name, state)
            )
        error = state.listing_backoff.error
        reason = f"cannot list flavors: {error}" if error else "flavors not listed yet"
        self._unready[name] = reason
        return _NotListed(reason, disabled=False)

    def _list(self, name: str, state: _ProviderState) -> None:
        from virtprov.hostrequires import Target, prepare

        try:
            self._acquire(name, state.read, "read")
            flavors = state.provider.declared_flavors()
            target = Target.from_info(state.provider.info, flavors)
            state.flavors = prepare(flavors, target, defaults=self.defaults)
            state.listing_backoff.succeeded()
        except Exception as exc:
            self._provider_failed(name, state.listing_backoff, "listing the flavors", exc)
        finally:
            state.listing = False
            self._wake.set()

    def _spec(self, recipe: Recipe, flavor: Flavor) -> GuestSpec:
        extra = {LABEL_OWNER: recipe.owner} if recipe.owner else None
        return GuestSpec.for_recipe(
            recipe.recipe_id,
            flavor,
            pool=self.settings.name,
            prefix=self.defaults.guest_name_prefix,
            arch=recipe.arch,
            # an image boot is how the guest is created; other boots are how it is started
            boot=recipe.boot if isinstance(recipe.boot, ImageBoot) else None,
            extra_labels=extra,
        )

    # -- cloud calls (worker threads) ----------------------------------------------------

    def _acquire(self, provider: str, bucket: TokenBucket, budget: str) -> None:
        waited = bucket.acquire()
        if waited > 0:
            self.events.emit("ratelimit.wait", provider=provider, budget=budget, seconds=waited)

    def _provider_failed(
        self, name: str, trouble: backoff.Backoff, what: str, exc: Exception
    ) -> float:
        """A read of a provider failed: back off (with jitter), disable it on a permanent
        error; the seconds until the next try."""
        if isinstance(exc, JournalUnavailable):
            raise exc
        message = exc.message if isinstance(exc, ProviderError) else _error(exc)
        wait = trouble.failed(
            message,
            time.time(),
            self.settings.retry_delay,
            self.settings.retry_max_delay,
            backoff.retry_after_of(exc),
        )
        if isinstance(exc, PermanentError):
            self._disable(name, exc.message)
        elif isinstance(exc, ProviderError):
            log.info("%s of %s failed, next try in %.1f s: %s", what, name, wait, message)
        else:
            log.error(
                "%s of %s raised %s; next try in %.1f s", what, name, message, wait, exc_info=exc
            )
        return wait

    def _create(self, recipe_id: str, state: _ProviderState, spec: GuestSpec, row: int) -> None:
        name = state.provider.info.name
        self._acquire(name, state.mutating, "mutating")
        try:
            guest = state.provider.create_guest(spec)
        except CapacityExhausted as exc:
            # The cloud refused: nothing was made. Its capacity is not what we thought.
            self.journal.update_guest(row, state="gone", reason=str(exc))
            self.journal.drop_capacity(name)
            self._pass(recipe_id, name, f"{exc.message}")
        except PermanentError as exc:
            self.journal.update_guest(row, state="gone", reason=str(exc))
            self._disable(name, exc.message)
            self._pass(recipe_id, name, f"disabled: {exc.message}")
        except Exception as exc:
            # Transient, or unknown: the create may have happened with its answer lost.
            # created_at is when the guest came to be (for capacity snapshots taken
            # while the call was in flight): here, possibly just now.
            _log_unexpected(exc, "create of %s on %s", spec.name, name)
            self.journal.update_guest(
                row,
                state="doomed",
                reason=f"create failed: {_error(exc)}",
                created_at=time.time(),
            )
            self._retry(recipe_id, name, exc)
        else:
            self.journal.update_guest(row, guest_id=guest.id, state="live", created_at=time.time())
            if not self.journal.update_launch(recipe_id, self.name, state="building"):
                self.journal.update_guest(row, state="doomed", reason="launch taken over")
            self._poll_soon(state)

    def _recover_create(self, row: LaunchRow) -> None:
        """A create was in flight when the owner died: adopt the guest, or start over."""
        assert row.guest_row is not None
        assert row.provider is not None
        guest_row = self.journal.guest(row.guest_row)
        state = self.providers.get(row.provider)
        if state is None:  # the provider is gone from the configuration
            self.journal.update_guest(guest_row.id, state="doomed", reason="provider removed")
            self._decide(row, Status.FAILED, error=f"provider {row.provider} is not configured")
            return
        if guest_row.guest_id is not None:  # the answer was written; only the state lagged
            self.journal.update_launch(row.recipe_id, self.name, state="building")
            return
        # Guests of this name that the journal already knows belong to an earlier attempt
        # (doomed, being destroyed): only an unknown one can be this create's.
        found = [
            g
            for g in self._find_by_name(state, guest_row.name)
            if self.journal.guest_by_id(row.provider, g.id) is None
        ]
        if found:
            first, *rest = found
            self.journal.update_guest(guest_row.id, guest_id=first.id, state="live")
            self.journal.update_launch(row.recipe_id, self.name, state="building")
            for extra in rest:
                self._doom_found(
                    row.provider,
                    extra,
                    row.recipe_id,
                    "lost: a second guest of an interrupted create",
                )
            return
        self.journal.update_guest(guest_row.id, state="gone", reason="create never happened")
        self.journal.update_launch(row.recipe_id, self.name, state="queued", next_at=time.time())

    def _start(self, row: LaunchRow) -> None:
        """Start the guest; a later poll that sees it running decides the launch."""
        assert row.guest_row is not None
        assert row.provider is not None
        recipe = Recipe.from_json(row.recipe_id, row.request)
        guest_row = self.journal.guest(row.guest_row)
        state = self.providers[row.provider]
        self._acquire(row.provider, state.mutating, "mutating")
        image_boot = isinstance(recipe.boot, ImageBoot)
        try:
            assert guest_row.guest_id is not None
            # an image boot was given to the create; this is a plain power-on
            state.provider.start_guest(guest_row.guest_id, None if image_boot else recipe.boot)
        except GuestNotFound as exc:
            self.journal.update_guest(guest_row.id, state="gone", reason=str(exc))
            self._retry(row.recipe_id, row.provider, exc)
            return
        except PermanentError as exc:
            self._doom(guest_row, f"start failed: {exc}")
            self._decide(row, Status.FAILED, error=_error(exc))
            return
        except Exception as exc:
            _log_unexpected(exc, "start of %s on %s", guest_row.guest_id, row.provider)
            self._retry(row.recipe_id, row.provider, exc, state="starting")
            return
        # Accepted: nothing is due before the deadline but the polls that see it run.
        self._started[row.recipe_id] = time.time()
        self._waiting[row.recipe_id] = f"{row.provider}: started, not running yet"
        self.journal.update_launch(row.recipe_id, self.name, next_at=row.deadline)
        self._poll_soon(state)

    def _poll(self, building: dict[str, list[LaunchRow]], now: float) -> None:
        destroyed = {guest.provider for guest in self._destroyed()}
        for name in set(building) | destroyed:
            state = self.providers.get(name)
            if state is None or state.polling or now < state.next_poll:
                continue
            state.polling = True
            self._put(
                READ,
                f"the poll of {name}",
                functools.partial(self._poll_provider, state, building.get(name, [])),
            )

    def _poll_soon(self, state: _ProviderState) -> None:
        """The cloud accepted a call that changes a guest: poll its provider soon."""
        state.soon = True
        state.next_poll = min(state.next_poll, time.time() + self._first_poll_delay)
        self._wake.set()

    @property
    def _first_poll_delay(self) -> float:
        return min(POLL_SOON, self.settings.poll_interval)

    def _poll_provider(self, state: _ProviderState, building: list[LaunchRow]) -> None:
        """One batched poll: advance the launches building or starting, confirm destroyed
        guests gone and delete what they left."""
        name = state.provider.info.name
        changed = False
        state.soon = False
        try:
            # The rows were read when the poll was planned: a launch decided or moved on
            # since (its guest released, another attempt begun), or with a step in flight
            # (its start), is not this poll's. The fresh rows are what it advances.
            current = self.journal.launches([r.recipe_id for r in building])
            building = [
                fresh
                for r in building
                if (fresh := current.get(r.recipe_id)) is not None
                and fresh.state in ("building", "starting")
                and fresh.owner == self.name
                and fresh.guest_row == r.guest_row
                and not self._is_busy(launch_key(r.recipe_id))
            ]
            destroyed = self._destroyed(name)
            rows = {r.guest_row: self.journal.guest(r.guest_row) for r in building if r.guest_row}
            ids = [g.guest_id for g in rows.values() if g.guest_id]
            ids += [g.guest_id for g in destroyed if g.guest_id]
            self._acquire(name, state.read, "read")
            try:
                seen = state.provider.poll(ids)
            except Exception as exc:
                wait = self._provider_failed(name, state.poll_backoff, "the poll", exc)
                state.next_poll = max(state.next_poll, time.time() + wait)
                return
            state.poll_backoff.succeeded()
            now_seen = {i: (seen[i].state if i in seen else None) for i in ids}
            changed = any(state.last_seen.get(i, now_seen[i]) != now_seen[i] for i in ids)
            state.last_seen = now_seen
            self._confirm_gone([g for g in destroyed if g.guest_id not in seen], state)
            for launch in building:
                guest_row = rows.get(launch.guest_row or -1)
                if guest_row is None or guest_row.guest_id is None:
                    continue
                try:
                    self._advance(launch, guest_row, seen.get(guest_row.guest_id), state)
                except JournalUnavailable:
                    raise
                except Exception as exc:  # e.g. classify_fault raised: this launch only
                    self._task_failed(
                        launch_key(launch.recipe_id), f"advancing recipe {launch.recipe_id}", exc
                    )
        finally:
            # Soon again after a change (or a call that makes one), later while nothing
            # changes; a longer wait already set (the poll failed: its backoff) stays. A
            # tick that read these launches before this poll decided them may plan the
            # next poll soon: that poll reads their rows afresh (above) and leaves them.
            if changed or state.soon:
                state.poll_delay = self._first_poll_delay
            else:
                state.poll_delay = min(
                    max(2 * state.poll_delay, self._first_poll_delay), self.settings.poll_interval
                )
            state.next_poll = max(state.next_poll, time.time() + state.poll_delay)
            state.polling = False
            self._wake.set()

    def _destroyed(self, provider: str | None = None) -> list[GuestRow]:
        """The destroyed guests a poll has not seen gone yet."""
        rows = self.journal.guests_in(["destroyed"], provider)
        with self._seen_gone_lock:
            return [row for row in rows if row.id not in self._seen_gone]

    def _confirm_gone(self, rows: list[GuestRow], state: _ProviderState) -> None:
        """Destroyed guests the poll no longer sees: gone, once what they left is deleted."""
        for gone in rows:
            if not gone.leftovers:
                self._gone(gone)
        clear = [g for g in rows if g.leftovers]
        with self._seen_gone_lock:
            self._seen_gone.update(g.id for g in clear)
        self._clear_due(clear, time.time())

    def _clear_due(self, rows: list[GuestRow], now: float) -> None:
        """Delete what the guests of ``rows`` (gone) left, those due and ours."""
        due = [g for g in rows if g.next_at <= now and not self._is_busy(guest_key(g))]
        for guest in self._ours_to_destroy(due, now):
            self._dispatch(
                guest_key(guest),
                f"deleting what {guest.name} left on {guest.provider}",
                self._clear,
                guest,
            )

    def _gone(self, guest: GuestRow) -> None:
        with self._seen_gone_lock:
            self._seen_gone.discard(guest.id)
        self.journal.update_guest(guest.id, state="gone", leftovers=None)
        self.events.emit(
            "guest.destroyed",
            provider=guest.provider,
            guest_id=guest.guest_id or "",
            reason=guest.reason or "",
        )

    def _clear(self, guest: GuestRow) -> None:
        """Delete, in order, what a destroyed guest left; each deletion is recorded, so a
        failure (retried after a backoff) goes on from where it stopped."""
        state = self.providers[guest.provider]
        left = list(self.journal.guest(guest.id).leftovers)
        while left:
            self._acquire(guest.provider, state.mutating, "mutating")
            state.provider.destroy_resource(left[0])
            del left[0]
            self.journal.update_guest(guest.id, leftovers=leftovers_json(left))
        self._gone(guest)

    def _advance(
        self, launch: LaunchRow, guest_row: GuestRow, guest: Guest | None, state: _ProviderState
    ) -> None:
        name = state.provider.info.name
        if guest is None:
            why = f"vanished while {launch.state}"
            self.journal.update_guest(guest_row.id, state="gone", reason=why)
            self._retry(launch.recipe_id, name, GuestNotFound(f"the guest {why}"))
            return
        if guest.state is GuestState.ERROR:
            kind = state.provider.classify_fault(guest)
            self._doom(guest_row, f"build failed: {guest.fault}")
            if issubclass(kind, CapacityExhausted):
                self.journal.drop_capacity(name)
                self._pass(launch.recipe_id, name, guest.fault or "no capacity")
            elif issubclass(kind, PermanentError):
                self._disable(name, guest.fault or "permanent build failure")
                self._pass(launch.recipe_id, name, f"disabled: {guest.fault}")
            else:
                self._retry(launch.recipe_id, name, kind(guest.fault or "build failed"))
            return
        if guest.state not in (GuestState.READY, GuestState.STOPPED, GuestState.RUNNING):
            return  # building (or being deleted by someone): the next poll looks again
        recipe = Recipe.from_json(launch.recipe_id, launch.request)
        running = guest.state is GuestState.RUNNING
        if isinstance(recipe.boot, ImageBoot) and running and not _reachable(guest):
            return  # running, its address not known yet: the next poll looks again
        if launch.state == "starting":
            # Started (or its start is due): succeeded only once it runs.
            if running:
                started = self._started.pop(launch.recipe_id, None)
                self.events.emit(
                    "guest.running",
                    recipe_id=launch.recipe_id,
                    provider=name,
                    guest_id=guest.id,
                    seconds=None if started is None else time.time() - started,
                )
                self._succeed(launch, guest, guest_row)
            return
        self.events.emit(
            "guest.ready",
            recipe_id=launch.recipe_id,
            provider=name,
            guest_id=guest.id,
            seconds=time.time() - guest_row.created_at,
        )
        if recipe.boot is not None and not running:
            self.journal.update_launch(
                launch.recipe_id, self.name, state="starting", next_at=time.time()
            )
            self._wake.set()
        else:
            self._succeed(launch, guest, guest_row)

    def _ours_to_destroy(self, rows: list[GuestRow], now: float) -> list[GuestRow]:
        """The rows among ``rows`` this launcher destroys: of a provider it has, and of a
        launch it owns, that nobody owns, or whose owner's lease ran out."""
        mine = [guest for guest in rows if guest.provider in self.providers]
        return destroys_for(self.journal, mine, self.name, now)

    def _destroy_doomed(self, now: float) -> None:
        self._reading()
        due = [
            guest
            for guest in self.journal.guests_in(["doomed"])
            if not self._is_busy(guest_key(guest))
            and guest.created_at <= now
            and guest.next_at <= now
        ]
        for guest in self._ours_to_destroy(due, now):
            self._dispatch(
                guest_key(guest),
                f"the destroy of {guest.name} on {guest.provider}",
                self._destroy,
                guest,
            )
        with self._seen_gone_lock:
            clearing = set(self._seen_gone)
        if clearing:  # gone, what they left not all deleted yet (a deletion failed)
            rows = [row for row in self.journal.guests_in(["destroyed"]) if row.id in clearing]
            with self._seen_gone_lock:  # finished meanwhile, here or by another launcher
                self._seen_gone -= clearing - {row.id for row in rows}
            self._clear_due(rows, now)

    def _destroy(self, guest: GuestRow) -> None:
        """Ask the cloud to delete the guest; a later poll confirms it gone."""
        state = self.providers[guest.provider]
        try:
            if guest.guest_id is None:
                self._destroy_by_name(state, guest)
                return
            self._acquire(guest.provider, state.mutating, "mutating")
            try:
                left = tuple(state.provider.destroy_guest(guest.guest_id) or ())
            except GuestNotFound:
                left = ()
            # A destroy asked again (after a failure) may no longer know what the first
            # one left: keep that.
            left = left or guest.leftovers
            self.journal.update_guest(guest.id, state="destroyed", leftovers=leftovers_json(left))
            self._poll_soon(state)
        except JournalUnavailable:
            raise
        except Exception as exc:
            self._guest_failed(guest, exc)

    def _destroy_by_name(self, state: _ProviderState, guest: GuestRow) -> None:
        """The create's answer was lost: doom the guests of its name nobody knows, each in
        a row of its own, destroyed like any other."""
        # The cloud first, the journal second: a create that ends in between has its
        # guest in the journal by then (or is still "creating"), so it is never taken
        # for this lost one.
        found = self._find_by_name(state, guest.name)
        if any(
            g.name == guest.name and g.id != guest.id
            for g in self.journal.guests_in(["creating"], guest.provider)
        ):
            return  # a create with the same name is in flight: wait for its answer
        ids, _ = self.journal.holding(guest.provider)
        for orphan in found:
            if orphan.id not in ids:
                self._doom_found(guest.provider, orphan, guest.recipe_id, "lost")
        self.journal.update_guest(guest.id, state="gone")
        self._wake.set()

    def _guest_failed(self, guest: GuestRow, exc: Exception) -> None:
        """A destroy failed: try again after a jittered backoff, for as long as it takes."""
        attempts = guest.attempts + 1
        wait = backoff.delay(
            attempts,
            self.settings.retry_delay,
            self.settings.retry_max_delay,
            retry_after=backoff.retry_after_of(exc),
        )
        log.log(
            logging.INFO if isinstance(exc, ProviderError) else logging.ERROR,
            "destroy of %s on %s failed (attempt %d), next try in %.1f s: %s",
            guest.guest_id or guest.name,
            guest.provider,
            attempts,
            wait,
            _error(exc),
            exc_info=None if isinstance(exc, ProviderError) else exc,
        )
        self.journal.update_guest(guest.id, attempts=attempts, next_at=time.time() + wait)

    def _find_by_name(self, state: _ProviderState, name: str) -> list[Guest]:
        self._acquire(state.provider.info.name, state.read, "read")
        return [g for g in state.provider.list_guests(name) if g.name == name]

    def _doom_found(self, provider: str, guest: Guest, recipe_id: str, reason: str) -> None:
        """Write ``guest``, found by name but unknown to the journal, as doomed."""
        self.journal.add_doomed(
            provider=provider,
            name=guest.name,
            guest_id=guest.id,
            recipe_id=recipe_id,
            reason=reason,
        )

    def _refresh_capacity(self, now: float) -> None:
        for name, state in self.providers.items():
            if state.refreshing or not state.capacity_backoff.ready(now):
                continue
            snapshot = self.journal.capacity(name)
            if snapshot is not None and now - snapshot[1] < self.settings.capacity_refresh:
                continue
            state.refreshing = True
            self._put(
                READ,
                f"the capacity read of {name}",
                functools.partial(self._fetch_capacity, name, state),
            )

    def _fetch_capacity(self, name: str, state: _ProviderState) -> None:
        try:
            self._acquire(name, state.read, "read")
            taken_at = time.time()
            try:
                free = state.provider.capacity()
            except Exception as exc:
                self._provider_failed(name, state.capacity_backoff, "reading the capacity", exc)
                return
            state.capacity_backoff.succeeded()
            self.journal.set_capacity(name, free, taken_at)
            self.events.emit(
                "capacity",
                provider=name,
                instances=free.instances,
                vcpus=free.vcpus,
                ram_mib=free.ram_mib,
                disk_bytes=free.disk_bytes,
            )
        finally:
            state.refreshing = False
            self._wake.set()

    # -- decisions -----------------------------------------------------------------------

    def _doom(self, guest_row: GuestRow, reason: str) -> None:
        if guest_row.state in ("creating", "live"):
            self.journal.update_guest(guest_row.id, state="doomed", reason=reason)

    def _current(self, recipe_id: str) -> LaunchRow | None:
        """The launch as the journal has it now, if it is still this launcher's to drive."""
        launch = self.journal.launch(recipe_id)
        if launch is None or launch.state == "decided" or launch.owner != self.name:
            return None
        return launch

    def _pass(self, recipe_id: str, provider: str, reason: str) -> None:
        """Give up on ``provider`` for this launch and plan again at once."""
        launch = self._current(recipe_id)
        if launch is None:
            return
        self.journal.update_launch(
            recipe_id,
            self.name,
            state="queued",
            passed=[*launch.passed, f"{provider}: {reason}"],
            guest_row=None,
            next_at=time.time(),
        )

    def _retry(
        self, recipe_id: str, provider: str, error: Exception, state: str = "queued"
    ) -> None:
        """Try the launch again after a jittered backoff (``state``: from which step), or
        fail it after :data:`MAX_ATTEMPTS` with the error."""
        launch = self._current(recipe_id)
        if launch is None:
            return
        attempts = launch.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            if launch.guest_row is not None:
                self._doom(self.journal.guest(launch.guest_row), f"gave up: {_error(error)}")
            self._decide(launch, Status.FAILED, error=_error(error))
            return
        delay = backoff.delay(
            attempts,
            self.settings.retry_delay,
            self.settings.retry_max_delay,
            retry_after=backoff.retry_after_of(error),
        )
        self.events.emit(
            "launch.retry",
            recipe_id=recipe_id,
            provider=provider,
            error=_error(error),
            delay=delay,
        )
        values: dict[str, Any] = {"state": state, "attempts": attempts}
        values["next_at"] = time.time() + delay
        if state == "queued":
            if launch.guest_row is not None:  # an attempt's guest is never left behind
                self._doom(self.journal.guest(launch.guest_row), f"retried: {_error(error)}")
            values["guest_row"] = None
        self.journal.update_launch(recipe_id, self.name, **values)

    def _disable(self, provider: str, reason: str) -> None:
        if provider not in self.journal.disabled_providers():
            self.journal.disable_provider(provider, reason)
            self.events.emit("provider.disabled", provider=provider, reason=reason)

    def _time_out(self, row: LaunchRow) -> None:
        if row.guest_row is not None:
            self._doom(self.journal.guest(row.guest_row), "launch deadline passed")
        error = f"TimeoutError: not ready within {self.settings.launch_timeout:g} s"
        why = self._waiting.get(row.recipe_id) or self._trouble(row.provider)
        self._decide(row, Status.FAILED, error=f"{error} ({why})" if why else error)

    def _trouble(self, provider: str | None) -> str | None:
        state = self.providers.get(provider or "")
        if state is None or state.poll_backoff.error is None:
            return None
        return f"{provider}: polling fails: {state.poll_backoff.error}"

    def _succeed(self, row: LaunchRow, guest: Guest, guest_row: GuestRow) -> None:
        self._decide(row, Status.SUCCEEDED, guest=guest, provider=guest_row.provider)

    def _decide(
        self,
        row: LaunchRow,
        status: Status,
        *,
        reasons: tuple[str, ...] = (),
        guest: Guest | None = None,
        provider: str | None = None,
        error: str | None = None,
    ) -> None:
        outcome = Outcome(
            recipe_id=row.recipe_id,
            status=status,
            reasons=reasons,
            guest=guest,
            provider=provider,
            flavor_id=row.flavor_id if guest is not None else None,
            error=error,
        )
        if not self.journal.decide(row.recipe_id, self.name, status.value, outcome.to_json()):
            return
        self._host_requires.pop(row.recipe_id, None)
        self._waiting.pop(row.recipe_id, None)
        self._started.pop(row.recipe_id, None)
        self._quarantine.pop(row.recipe_id, None)
        reason = error or (reasons[0] if reasons else "")
        self.events.emit(
            "launch.outcome",
            recipe_id=row.recipe_id,
            status=status.value,
            # the guest's provider, else the one the launch last tried (metrics by provider)
            provider=provider or row.provider or "",
            reason=reason,
            seconds=time.time() - row.submitted_at,
        )
        self.on_outcome(outcome)


def _reachable(guest: Guest) -> bool:
    """An image-boot guest is ready for its user once it runs with an address."""
    return guest.state is GuestState.RUNNING and bool(guest.addresses)


def _error(error: BaseException) -> str:
    """``Class: message`` on one line, cut at :data:`MAX_ERROR_CHARS`."""
    return describe(error, MAX_ERROR_CHARS)


def _log_unexpected(error: Exception, what: str, *args: object) -> None:
    """Log a provider call's exception that is not a ProviderError, with its traceback:
    a ProviderError is the provider's answer, anything else is a fault in its code."""
    if not isinstance(error, ProviderError):
        log.error(what + " raised %s", *args, _error(error), exc_info=error)
