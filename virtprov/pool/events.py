"""Events and metrics, as callbacks: no metrics library is imposed on the caller.

Subscribe with :meth:`virtprov.pool.Pool.subscribe`; each event is an :class:`Event`
with a ``kind`` and flat ``fields`` (strings and numbers, never a secret), ready for a
Prometheus counter, a StatsD call or a log line. The pool also logs each event on the
``virtprov.pool`` logger with the fields as ``extra`` (at the level :data:`LEVELS` gives,
``DEBUG`` otherwise).

Kinds:

* ``launch.outcome``: recipe_id, status, provider, reason, seconds (submit to outcome)
* ``launch.attempt``: recipe_id, provider, flavor
* ``launch.retry``: recipe_id, provider, error, delay
* ``guest.ready``: recipe_id, provider, guest_id, seconds (create to ready)
* ``guest.destroyed``: provider, guest_id, reason
* ``capacity``: provider, instances, vcpus, ram_mib, disk_bytes (None: unknown)
* ``ratelimit.wait``: provider, budget ("mutating" or "read"), seconds
* ``provider.disabled`` / ``provider.enabled``: provider, reason
* ``leak.found`` / ``leak.removed``: provider, guest_id, name
* ``cloud.call``: provider, operation, seconds, error (class name, or "" when it did not raise)
* ``history.pruned``: launches, guests, launchers (rows pruned), seconds
* ``leak.resource.found`` / ``leak.resource.removed``: provider, resource_kind, resource_id,
  name, guest (an owned resource whose guest is gone)
* ``callback.error``: where, error (a done callback or a subscriber raised; the pool
  carries on)
* ``journal.unavailable``: error (the launcher pauses) / ``journal.available``: seconds
  (it resumes, after that long)
* ``thread.dead``: thread, error (a new thread replaces it) / ``thread.stuck``: thread,
  task, seconds / ``thread.recovered``: thread, seconds (how long it was busy)
* ``pool.closed``: destroyed, left (guests still being destroyed when close gave up),
  seconds
* ``launch.abandoned``: recipe_id, submitted_by, guests (an attended launch whose submitter
  died: decided ``failed``, its guests destroyed)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

log = logging.getLogger("virtprov.pool")

#: The log level of each kind that is not routine (the others are logged at DEBUG).
LEVELS: Final[Mapping[str, int]] = {
    "provider.disabled": logging.WARNING,
    "leak.found": logging.WARNING,
    "leak.resource.found": logging.WARNING,
    "callback.error": logging.ERROR,
    "journal.unavailable": logging.ERROR,
    "journal.available": logging.WARNING,
    "thread.dead": logging.ERROR,
    "thread.stuck": logging.ERROR,
    "thread.recovered": logging.WARNING,
    "pool.closed": logging.INFO,
    "launch.abandoned": logging.WARNING,
}


@attrs.frozen
class Event:
    kind: str
    fields: dict[str, Any]


Subscriber = Callable[[Event], None]


class EventBus:
    """Calls every subscriber with every event; a failing subscriber is logged, not fatal."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.append(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.remove(subscriber)

    def emit(
        self,
        kind: str,
        *,
        message: str | None = None,
        exc_info: BaseException | None = None,
        **fields: Any,
    ) -> None:
        """Log the event and call every subscriber with it.

        ``message`` replaces the ``kind key=value ...`` log line by a sentence, and
        ``exc_info`` adds a traceback to it; neither reaches the subscribers.
        """
        event = Event(kind, fields)
        level = LEVELS.get(kind, logging.DEBUG)
        if log.isEnabledFor(level):
            text = message or " ".join([kind, *(f"{k}={v}" for k, v in fields.items())])
            log.log(
                level,
                "%s",
                text,
                exc_info=exc_info,
                extra={"virtprov_event": kind, **{f"virtprov_{k}": v for k, v in fields.items()}},
            )
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception as exc:
                where = f"event subscriber {name_of(subscriber)} on {kind}"
                if kind == "callback.error":  # reporting it as one more would loop
                    log.exception("the %s raised", where)
                    continue
                self.emit(
                    "callback.error",
                    message=f"the {where} raised",
                    exc_info=exc,
                    where=where,
                    error=describe(exc),
                )


def describe(error: BaseException, limit: int = 500) -> str:
    """``Class: message`` on one line, at most ``limit`` characters (an event field)."""
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def name_of(callback: object) -> str:
    """A callback's qualified name (never its repr, which could hold anything)."""
    name = getattr(callback, "__qualname__", None) or type(callback).__qualname__
    return str(name)
