"""The launcher's threads, watched: which are alive, what each is doing and since when.

Every task a launcher thread runs is guarded, so only a ``BaseException`` that is not
an ``Exception`` (``SystemExit`` from an SDK, say) can end one. The watchdog, a thread
of its own, looks at the others every second (at most a quarter of ``stuck_after``):

* a thread that ended is reported (event ``thread.dead``, logged at ERROR with what
  ended it) and replaced by a new one with the same name and work;
* a thread busy with one task for longer than ``stuck_after`` is reported once (event
  ``thread.stuck``, at ERROR, naming the task), and again when it is working
  (``thread.recovered``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs

from virtprov.pool.events import EventBus, describe

log = logging.getLogger("virtprov.pool")

WATCHDOG = "virtprov-watchdog"


@attrs.define
class Work:
    """What one watched thread is doing (it sets ``current`` around each task)."""

    #: (task, monotonic start) while busy; one tuple, so that it is read in one piece
    current: tuple[str, float] | None = None
    #: the start of the task last reported stuck
    stuck: float | None = None
    #: what ended the thread, if it ended
    death: BaseException | None = None


class Watchdog:
    """Starts, watches and replaces a launcher's threads."""

    def __init__(self, events: EventBus, stuck_after: float, stopping: threading.Event) -> None:
        self.events = events
        self.stuck_after = stuck_after
        self._stopping = stopping
        self._threads: dict[str, threading.Thread] = {}
        self._work: dict[str, Work] = {}
        self._targets: dict[str, Callable[[Work], None]] = {}

    def spawn(self, name: str, target: Callable[[Work], None]) -> None:
        """Run ``target(work)`` in a thread named ``name``, watched."""
        self._targets[name] = target
        work = self._work[name] = Work()
        thread = threading.Thread(target=self._run, args=(target, work), name=name, daemon=True)
        self._threads[name] = thread
        thread.start()

    def start(self) -> None:
        """Start watching (in a thread of its own)."""
        thread = threading.Thread(target=self._watch, name=WATCHDOG, daemon=True)
        self._threads[WATCHDOG] = thread
        thread.start()

    def __len__(self) -> int:
        return len(self._threads)

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in list(self._threads.values()):
            thread.join(max(0.0, deadline - time.monotonic()))

    def health(self) -> dict[str, dict[str, Any]]:
        """Each thread by name: ``alive``, ``task`` (``None`` when idle), ``busy_seconds``,
        ``stuck``."""
        now = time.monotonic()
        threads: dict[str, dict[str, Any]] = {}
        for name, thread in list(self._threads.items()):
            work = self._work.get(name, Work())
            current = work.current
            busy = None if current is None else now - current[1]
            threads[name] = {
                "alive": thread.is_alive(),
                "task": None if current is None else current[0],
                "busy_seconds": busy,
                "stuck": busy is not None and busy > self.stuck_after,
            }
        return threads

    def check(self) -> None:
        """Report (and replace) dead threads, report stuck and recovered ones."""
        now = time.monotonic()
        for name, thread in list(self._threads.items()):
            if name == WATCHDOG or self._stopping.is_set():
                continue
            work = self._work[name]
            if not thread.is_alive():
                death = work.death
                error = describe(death) if death is not None else "it returned"
                self.events.emit(
                    "thread.dead",
                    message=f"launcher thread {name} died ({error}); starting a new one",
                    exc_info=death,
                    thread=name,
                    error=error,
                )
                self.spawn(name, self._targets[name])
                continue
            current = work.current
            if current is not None and now - current[1] > self.stuck_after:
                if work.stuck != current[1]:
                    work.stuck = current[1]
                    self.events.emit(
                        "thread.stuck",
                        message=f"launcher thread {name} has been busy with {current[0]} "
                        f"for {now - current[1]:.0f} s",
                        thread=name,
                        task=current[0],
                        seconds=now - current[1],
                    )
            elif work.stuck is not None and (current is None or current[1] != work.stuck):
                stuck, work.stuck = work.stuck, None
                self.events.emit(
                    "thread.recovered",
                    message=f"launcher thread {name} is working again",
                    thread=name,
                    seconds=now - stuck,
                )

    def _run(self, target: Callable[[Work], None], work: Work) -> None:
        try:
            target(work)
        except BaseException as exc:  # kept for the watchdog, which reports it
            work.death = exc

    def _watch(self) -> None:
        interval = max(0.02, min(1.0, self.stuck_after / 4))
        while not self._stopping.wait(interval):
            try:
                self.check()
            except Exception:
                log.exception("the launcher's watchdog failed to check its threads")


__all__ = ["WATCHDOG", "Watchdog", "Work"]
