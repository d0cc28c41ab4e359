"""Listings kept for a while, and fetched once when several threads miss together.

The provider asks the service for the same lists over and over (sizes for the flavors
and the health check, networks and security groups for every create). The pool calls a
provider from several worker threads, so a cold or expired entry can be missed by
several of them at once: one thread fetches it while the others wait for its answer
("single flight"), and a failure reaches each waiting thread (they try again
themselves: a failure is never cached).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class Listings(Generic[T]):
    """Values by key, each fetched at most once per ``ttl`` seconds."""

    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[Hashable, threading.Lock] = {}
        self._values: dict[Hashable, tuple[float, T]] = {}

    def get(self, key: Hashable, fetch: Callable[[], T]) -> T:
        """The value of ``key``: cached while younger than ``ttl``, else ``fetch()``ed."""
        with self._lock:
            flight = self._keys.setdefault(key, threading.Lock())
        with flight:  # threads that missed together wait here for the first one's answer
            held = self._values.get(key)
            if held is not None and self._clock() - held[0] < self.ttl:
                return held[1]
            value = fetch()
            self._values[key] = (self._clock(), value)
            return value

    def forget(self, key: Hashable) -> None:
        """Drop ``key``: the next :meth:`get` fetches it again."""
        with self._lock:
            self._values.pop(key, None)
