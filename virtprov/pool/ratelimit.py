"""Per-provider call budgets: a token bucket for mutating calls and one for reads.

The unit is calls per second. Several launcher processes on one journal split each
provider's budget evenly among the launchers alive (their leases), so together they
stay under the limit: the error bound is one lease period after a launcher joins or
dies, during which the others still use their old share (documented in ``docs/pool.md``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

#: Unlimited.
NO_LIMIT = 0.0


class TokenBucket:
    """``rate`` calls per second with a burst of ``burst`` calls. Thread-safe."""

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rate = rate
        self._burst = burst
        # Start empty: a process that (re)starts must not add a burst on top of the
        # others' shares.
        self._tokens = 0.0
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self._lock = threading.Lock()
        self._share = 1

    @property
    def rate(self) -> float:
        """The calls per second this process may make (its share of the limit)."""
        return self._rate / self._share

    def share_among(self, launchers: int) -> None:
        """Use 1/``launchers`` of the limit (several processes on one journal)."""
        with self._lock:
            self._share = max(1, launchers)

    def acquire(self) -> float:
        """Take one call's token, sleeping as long as needed; the seconds waited."""
        if self._rate <= NO_LIMIT:
            return 0.0
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                rate = self._rate / self._share
                self._tokens = min(self._burst, self._tokens + (now - self._last) * rate)
                self._last = now
                if self._tokens >= 1.0 - 1e-9:  # float sums of small waits fall short
                    self._tokens = max(0.0, self._tokens - 1.0)
                    return waited
                delay = (1.0 - self._tokens) / rate
            self._sleep(delay)
            waited += delay
