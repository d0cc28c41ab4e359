"""The launcher: a few threads that drive every launch through the journal.

One *driver* thread plans: it reads the launches this process owns from the journal,
chooses a provider and flavor, batches one ``poll`` per provider for every guest that
is building, and hands cloud calls to a small fixed set of *worker* threads (each call
behind its provider's rate limit). No thread ever waits for one VM: a launch is a row
whose state the driver advances (``queued`` -> ``creating`` -> ``building`` [->
``starting``] -> ``decided``), so 2 workers drive hundreds of launches.

Every cloud call whose answer could be lost is preceded by a journal write (the guest
row in state ``creating``, with its name) and followed by one (its id). A guest that
may exist but is not wanted is *doomed*: destroyed by id, or found by name and
destroyed when its create's answer was lost, then confirmed gone by a later poll.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
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
from virtprov.model import Flavor, Guest, GuestSpec, GuestState
from virtprov.pool.events import EventBus
from virtprov.pool.journal import GuestRow, Journal, LaunchRow
from virtprov.pool.outcome import Outcome, Recipe, Status
from virtprov.pool.ratelimit import TokenBucket
from virtprov.pool.settings import PoolSettings
from virtprov.provider import Provider

if TYPE_CHECKING:
    from virtprov.hostrequires import Candidates

log = logging.getLogger("virtprov.pool")

#: The guest label naming who the guest is for (``Recipe.owner``).
LABEL_OWNER = "virtprov-owner"
#: How many times one launch tries again after transient errors before it fails.
MAX_ATTEMPTS = 5
#: Seconds between lease renewals (at most; a third of the lease when that is shorter).
HEARTBEAT = 1.0
#: Task priorities (lowest first).
STOP, READ, MUTATING = range(3)


@attrs.define
class _ProviderState:
    provider: Provider
    mutating: TokenBucket
    read: TokenBucket
    next_poll: float = 0.0
    polling: bool = False
    refreshing: bool = False
    #: the provider's flavors, prepared once for every recipe's match
    flavors: Candidates | None = None


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
        self._tasks: queue.PriorityQueue[tuple[int, int, Callable[[], None] | None]] = (
            queue.PriorityQueue()
        )
        self._sequence = itertools.count()
        self._busy: set[str] = set()
        self._busy_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._next_heartbeat = 0.0
        self._share = 1
        self._host_requires: dict[str, Any] = {}

    # -- life --------------------------------------------------------------------------

    def start(self) -> None:
        self.journal.register_launcher(self.name, self.settings.lease)
        self._threads = [threading.Thread(target=self._drive, name="virtprov-driver", daemon=True)]
        self._threads += [
            threading.Thread(target=self._work, name=f"virtprov-worker-{n}", daemon=True)
            for n in range(self.settings.workers)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the calls in flight, then stop. Launches stay in the journal."""
        if not self._threads or self._stopping.is_set():
            return
        self._stopping.set()
        self._wake.set()
        for _ in range(self.settings.workers):
            self._tasks.put((STOP, next(self._sequence), None))
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.journal.retire_launcher(self.name)

    def wake(self) -> None:
        self._wake.set()

    @property
    def threads(self) -> int:
        return len(self._threads)

    # -- the driver --------------------------------------------------------------------

    def _drive(self) -> None:
        tick = min(self.settings.poll_interval, 0.5) or 0.05
        while not self._stopping.is_set():
            try:
                self.tick()
            except Exception:  # the driver must outlive any one bad row or provider
                log.exception("launcher tick failed")
            self._wake.wait(tick)
            self._wake.clear()

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
        self._refresh_capacity(now)
        disabled = self.journal.disabled_providers()
        building: dict[str, list[LaunchRow]] = {}
        for row in self.journal.claim(self.name, now, self._share):
            if self._is_busy(row.recipe_id):
                continue
            if now > row.deadline:
                self._time_out(row)
            elif row.state == "queued" and row.next_at <= now:
                self._plan(row, disabled, now)
            elif row.state == "creating":
                self._dispatch(row.recipe_id, self._recover_create, row, read=True)
            elif row.state == "building" and row.provider is not None:
                building.setdefault(row.provider, []).append(row)
            elif row.state == "starting" and row.next_at <= now:
                self._dispatch(row.recipe_id, self._start, row)
        self._poll(building, now)
        self._destroy_doomed(now)

    def _is_busy(self, key: str) -> bool:
        with self._busy_lock:
            return key in self._busy

    def _put(self, priority: int, task: Callable[[], None]) -> None:
        self._tasks.put((priority, next(self._sequence), task))

    def _dispatch(
        self, key: str, task: Callable[..., None], *args: Any, read: bool = False
    ) -> None:
        with self._busy_lock:
            if key in self._busy:
                return
            self._busy.add(key)

        def run() -> None:
            try:
                task(*args)
            except Exception:
                log.exception("pool task %s failed", getattr(task, "__name__", task))
            finally:
                with self._busy_lock:
                    self._busy.discard(key)
                self._wake.set()

        self._put(READ if read else MUTATING, run)

    def _work(self) -> None:
        while True:
            _, _, task = self._tasks.get()
            if task is None:
                return
            task()

    # -- planning ----------------------------------------------------------------------

    def _plan(self, row: LaunchRow, disabled: Mapping[str, str], now: float) -> None:
        """Choose a provider and flavor, write the intent, and hand the create over."""
        from virtprov.hostrequires import parse
        from virtprov.hostrequires.tmt import parse_tmt

        recipe = Recipe.from_json(row.recipe_id, row.request)
        try:
            hr = self._host_requires.get(row.recipe_id)
            if hr is None:
                if recipe.hardware is not None:
                    hr = parse_tmt(recipe.hardware)
                else:
                    hr = parse(recipe.host_requires)
                self._host_requires[row.recipe_id] = hr
        except HostRequiresError as exc:
            language = "hardware" if recipe.hardware is not None else "hostRequires"
            self._decide(row, Status.PRECLUDED, reasons=(f"{language}: {exc}",))
            return
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
        choices: list[tuple[str, _ProviderState, Flavor]] = []
        for name, state in serving:
            verdict = hr.virtualisable(state.provider.info)
            if not verdict and hr.declared:
                # a flavor may declare what it asks for (CPU flags, TPM...): look, then ask
                # again; any other "no" is decided before any cloud call
                with contextlib.suppress(ProviderError):
                    verdict = hr.virtualisable(self._flavors(state).target)
            if not verdict:
                precluded += [f"{name}: {reason}" for reason in verdict.reasons]
                continue
            try:
                flavors = self._flavors(state)
            except ProviderError as exc:
                precluded.append(f"{name}: cannot list flavors: {exc.message}")
                continue
            match = hr.match(flavors)
            if match.chosen is None:
                precluded += [f"{name}: {reason}" for reason in match.reasons] or [
                    f"{name}: no flavor satisfies the recipe"
                ]
                continue
            choices.append((name, state, match.chosen))
        if not choices:
            self._decide(row, Status.PRECLUDED, reasons=tuple(precluded))
            return
        passed = list(row.passed)
        given_up = {entry.split(":", 1)[0] for entry in passed}
        waiting = False
        for name, state, flavor in self._order(choices):
            if name in given_up:
                continue
            if name in disabled:
                passed.append(f"{name}: disabled: {disabled[name]}")
                continue
            free = self.journal.capacity(name)
            if free is None:
                waiting = True  # no snapshot yet: plan again once the first one is in
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
            self.events.emit(
                "launch.attempt", recipe_id=row.recipe_id, provider=name, flavor=flavor.name
            )
            self._dispatch(row.recipe_id, self._create, row.recipe_id, state, spec, guest_row)
            return
        if waiting:
            return
        self._decide(row, Status.SKIPPED, reasons=tuple(passed))

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

    def _flavors(self, state: _ProviderState) -> Candidates:
        """The provider's flavors (with their declarations), listed and prepared once."""
        if state.flavors is None:
            from virtprov.hostrequires import Target, prepare

            flavors = state.provider.declared_flavors()
            target = Target.from_info(state.provider.info, flavors)
            state.flavors = prepare(flavors, target, defaults=self.defaults)
        return state.flavors

    def _spec(self, recipe: Recipe, flavor: Flavor) -> GuestSpec:
        extra = {LABEL_OWNER: recipe.owner} if recipe.owner else None
        return GuestSpec.for_recipe(
            recipe.recipe_id,
            flavor,
            pool=self.settings.name,
            prefix=self.defaults.guest_name_prefix,
            arch=recipe.arch,
            extra_labels=extra,
        )

    # -- cloud calls (worker threads) ----------------------------------------------------

    def _acquire(self, provider: str, bucket: TokenBucket, budget: str) -> None:
        waited = bucket.acquire()
        if waited > 0:
            self.events.emit("ratelimit.wait", provider=provider, budget=budget, seconds=waited)

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
            self.journal.update_guest(
                row, state="doomed", reason=f"create failed: {exc}", created_at=time.time()
            )
            self._retry(recipe_id, name, exc)
        else:
            self.journal.update_guest(row, guest_id=guest.id, state="live", created_at=time.time())
            if not self.journal.update_launch(recipe_id, self.name, state="building"):
                self.journal.update_guest(row, state="doomed", reason="launch taken over")

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
                self._destroy_now(state, extra.id)
            return
        self.journal.update_guest(guest_row.id, state="gone", reason="create never happened")
        self.journal.update_launch(row.recipe_id, self.name, state="queued", next_at=time.time())

    def _start(self, row: LaunchRow) -> None:
        assert row.guest_row is not None
        assert row.provider is not None
        recipe = Recipe.from_json(row.recipe_id, row.request)
        guest_row = self.journal.guest(row.guest_row)
        state = self.providers[row.provider]
        self._acquire(row.provider, state.mutating, "mutating")
        try:
            assert guest_row.guest_id is not None
            state.provider.start_guest(guest_row.guest_id, recipe.boot)
            guest = state.provider.poll([guest_row.guest_id]).get(guest_row.guest_id)
        except GuestNotFound as exc:
            self.journal.update_guest(guest_row.id, state="gone", reason=str(exc))
            self._retry(row.recipe_id, row.provider, exc)
            return
        except PermanentError as exc:
            self._doom(guest_row, f"start failed: {exc}")
            self._decide(row, Status.FAILED, error=_error(exc))
            return
        except Exception as exc:
            self._retry(row.recipe_id, row.provider, exc, state="starting")
            return
        if guest is None:
            self.journal.update_guest(guest_row.id, state="gone", reason="vanished at start")
            self._retry(row.recipe_id, row.provider, GuestNotFound("vanished at start"))
            return
        self._succeed(row, guest, guest_row)

    def _poll(self, building: dict[str, list[LaunchRow]], now: float) -> None:
        destroyed: dict[str, list[GuestRow]] = {}
        for guest in self.journal.guests_in(["destroyed"]):
            destroyed.setdefault(guest.provider, []).append(guest)
        for name in set(building) | set(destroyed):
            state = self.providers.get(name)
            if state is None or state.polling or now < state.next_poll:
                continue
            state.polling = True
            state.next_poll = now + self.settings.poll_interval
            self._put(
                READ,
                functools.partial(
                    self._poll_provider, state, building.get(name, []), destroyed.get(name, [])
                ),
            )

    def _poll_provider(
        self, state: _ProviderState, building: list[LaunchRow], destroyed: list[GuestRow]
    ) -> None:
        name = state.provider.info.name
        try:
            rows = {r.guest_row: self.journal.guest(r.guest_row) for r in building if r.guest_row}
            ids = [g.guest_id for g in rows.values() if g.guest_id]
            ids += [g.guest_id for g in destroyed if g.guest_id]
            self._acquire(name, state.read, "read")
            try:
                seen = state.provider.poll(ids)
            except PermanentError as exc:
                self._disable(name, exc.message)
                return
            except ProviderError as exc:
                log.info("poll of %s failed, next round retries: %s", name, exc)
                return
            for gone in destroyed:
                if gone.guest_id not in seen:
                    self.journal.update_guest(gone.id, state="gone")
                    self.events.emit(
                        "guest.destroyed",
                        provider=name,
                        guest_id=gone.guest_id,
                        reason=gone.reason or "",
                    )
            for launch in building:
                guest_row = rows.get(launch.guest_row or -1)
                if guest_row is None or guest_row.guest_id is None:
                    continue
                self._advance(launch, guest_row, seen.get(guest_row.guest_id), state)
        finally:
            # The next poll waits a full interval from now: a tick that read these
            # launches before this poll decided them must not poll them again (it would
            # report a guest ready twice).
            state.next_poll = max(state.next_poll, time.time() + self.settings.poll_interval)
            state.polling = False
            self._wake.set()

    def _advance(
        self, launch: LaunchRow, guest_row: GuestRow, guest: Guest | None, state: _ProviderState
    ) -> None:
        name = state.provider.info.name
        if guest is None:
            self.journal.update_guest(guest_row.id, state="gone", reason="vanished while building")
            self._retry(launch.recipe_id, name, GuestNotFound("the guest vanished while building"))
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
        if guest.state in (GuestState.READY, GuestState.STOPPED, GuestState.RUNNING):
            recipe = Recipe.from_json(launch.recipe_id, launch.request)
            self.events.emit(
                "guest.ready",
                recipe_id=launch.recipe_id,
                provider=name,
                guest_id=guest.id,
                seconds=time.time() - guest_row.created_at,
            )
            if recipe.boot is not None and guest.state is not GuestState.RUNNING:
                self.journal.update_launch(
                    launch.recipe_id, self.name, state="starting", next_at=time.time()
                )
            else:
                self._succeed(launch, guest, guest_row)

    def _destroy_doomed(self, now: float) -> None:
        for guest in self.journal.guests_in(["doomed"]):
            if guest.provider not in self.providers:
                continue
            key = f"guest:{guest.id}"
            if self._is_busy(key) or guest.created_at > now:
                continue
            launch = self.journal.launch(guest.recipe_id)
            if launch is not None and launch.owner not in (None, self.name):
                continue  # its launch's owner cleans it up
            self._dispatch(key, self._destroy, guest)

    def _destroy(self, guest: GuestRow) -> None:
        state = self.providers[guest.provider]
        if guest.guest_id is None:
            ids, _ = self.journal.holding(guest.provider)
            if any(
                g.name == guest.name and g.id != guest.id
                for g in self.journal.guests_in(["creating"], guest.provider)
            ):
                return  # a create with the same name is in flight: wait for its answer
            try:
                found = [g for g in self._find_by_name(state, guest.name) if g.id not in ids]
                for orphan in found:
                    self._destroy_now(state, orphan.id)
            except ProviderError as exc:
                log.info(
                    "cleanup of %s on %s failed, retrying: %s", guest.name, guest.provider, exc
                )
                return
            self.journal.update_guest(guest.id, state="gone")
            return
        self._acquire(guest.provider, state.mutating, "mutating")
        try:
            state.provider.destroy_guest(guest.guest_id)
        except GuestNotFound:
            self.journal.update_guest(guest.id, state="gone")
        except ProviderError as exc:
            log.info("destroy of %s failed, retrying: %s", guest.guest_id, exc)
            self.journal.update_guest(guest.id, attempts=guest.attempts + 1)
        else:
            self.journal.update_guest(guest.id, state="destroyed")

    def _find_by_name(self, state: _ProviderState, name: str) -> list[Guest]:
        self._acquire(state.provider.info.name, state.read, "read")
        return [g for g in state.provider.list_guests(name) if g.name == name]

    def _destroy_now(self, state: _ProviderState, guest_id: str) -> None:
        self._acquire(state.provider.info.name, state.mutating, "mutating")
        state.provider.destroy_guest(guest_id)
        self.events.emit(
            "guest.destroyed", provider=state.provider.info.name, guest_id=guest_id, reason="lost"
        )

    def _refresh_capacity(self, now: float) -> None:
        for name, state in self.providers.items():
            if state.refreshing:
                continue
            snapshot = self.journal.capacity(name)
            if snapshot is not None and now - snapshot[1] < self.settings.capacity_refresh:
                continue
            state.refreshing = True
            self._put(READ, functools.partial(self._fetch_capacity, name, state))

    def _fetch_capacity(self, name: str, state: _ProviderState) -> None:
        try:
            self._acquire(name, state.read, "read")
            taken_at = time.time()
            free = state.provider.capacity()
            self.journal.set_capacity(name, free, taken_at)
            self.events.emit(
                "capacity",
                provider=name,
                instances=free.instances,
                vcpus=free.vcpus,
                ram_mib=free.ram_mib,
                disk_bytes=free.disk_bytes,
            )
        except PermanentError as exc:
            self._disable(name, exc.message)
        except ProviderError as exc:
            log.info("capacity of %s unavailable, retrying: %s", name, exc)
        finally:
            state.refreshing = False
            self._wake.set()

    # -- decisions -----------------------------------------------------------------------

    def _doom(self, guest_row: GuestRow, reason: str) -> None:
        if guest_row.state in ("creating", "live"):
            self.journal.update_guest(guest_row.id, state="doomed", reason=reason)

    def _pass(self, recipe_id: str, provider: str, reason: str) -> None:
        """Give up on ``provider`` for this launch and plan again at once."""
        launch = self.journal.launch(recipe_id)
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
        launch = self.journal.launch(recipe_id)
        if launch is None:
            return
        attempts = launch.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            if launch.guest_row is not None:
                self._doom(self.journal.guest(launch.guest_row), f"gave up: {error}")
            self._decide(launch, Status.FAILED, error=_error(error))
            return
        delay = min(self.settings.retry_max_delay, self.settings.retry_delay * 2 ** (attempts - 1))
        retry_after = getattr(error, "retry_after", None)
        if retry_after:
            delay = max(delay, float(retry_after))
        self.events.emit(
            "launch.retry", recipe_id=recipe_id, provider=provider, error=str(error), delay=delay
        )
        values: dict[str, Any] = {"state": state, "attempts": attempts}
        values["next_at"] = time.time() + delay
        if state == "queued":
            values["guest_row"] = None
        self.journal.update_launch(recipe_id, self.name, **values)

    def _disable(self, provider: str, reason: str) -> None:
        if provider not in self.journal.disabled_providers():
            self.journal.disable_provider(provider, reason)
            self.events.emit("provider.disabled", provider=provider, reason=reason)

    def _time_out(self, row: LaunchRow) -> None:
        if row.guest_row is not None:
            self._doom(self.journal.guest(row.guest_row), "launch deadline passed")
        self._decide(
            row,
            Status.FAILED,
            error=f"TimeoutError: not ready within {self.settings.launch_timeout:g} s",
        )

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


def _error(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
