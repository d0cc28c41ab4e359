"""Events and metrics, as callbacks: no metrics library is imposed on the caller.

Subscribe with :meth:`virtprov.pool.Pool.subscribe`; each event is an :class:`Event`
with a ``kind`` and flat ``fields`` (strings and numbers, never a secret), ready for a
Prometheus counter, a StatsD call or a log line. The pool also logs each event on the
``virtprov.pool`` logger with the fields as ``extra``.

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
* ``callback.error``: where, error (a subscriber raised; the pool carries on)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import attrs

log = logging.getLogger("virtprov.pool")


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

    def emit(self, kind: str, **fields: Any) -> None:
        event = Event(kind, fields)
        level = logging.WARNING if kind in {"provider.disabled", "leak.found"} else logging.DEBUG
        if log.isEnabledFor(level):
            log.log(
                level,
                "%s %s",
                kind,
                " ".join(f"{k}={v}" for k, v in fields.items()),
                extra={"virtprov_event": kind, **{f"virtprov_{k}": v for k, v in fields.items()}},
            )
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception("an event subscriber failed on %s", kind)
