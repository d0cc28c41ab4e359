"""Retry delays: exponential backoff with jitter, honouring what the cloud asked for.

Every retry of the pool (a launch, a destroy, a capacity read, a flavor listing, a poll,
the journal after an outage) waits :func:`delay`. The jitter matters after an outage:
every launch it hit failed within the same second, and without jitter they would all
retry in the same second again, and again.
"""

from __future__ import annotations

import math
import random

import attrs

# Jitter, not security: any generator will do, seeded from the OS so that two processes
# restarted together do not draw the same delays.
_RANDOM = random.Random()  # noqa: S311

#: The exponent stops growing here (2**32 times the base is longer than any cap).
_MAX_DOUBLINGS = 32


def delay(
    attempt: int,
    base: float,
    cap: float,
    *,
    retry_after: float | None = None,
    rng: random.Random = _RANDOM,
) -> float:
    """Seconds to wait before retry number ``attempt`` (1: the first retry).

    The nominal delay doubles from ``base`` up to ``cap``; the wait is drawn uniformly
    between half the nominal delay and all of it ("equal jitter": spread, yet never much
    shorter than asked). ``retry_after`` is the delay the cloud asked for (``Retry-After``):
    the wait is never shorter, and drawn between it and one and a half times it so that
    the launches it was said to do not come back together either.
    """
    doublings = min(max(attempt, 1) - 1, _MAX_DOUBLINGS)
    nominal = max(0.0, min(cap, base * 2.0**doublings))
    wait = rng.uniform(nominal / 2, nominal)
    if retry_after is not None and math.isfinite(retry_after) and retry_after > 0:
        wait = max(wait, rng.uniform(retry_after, retry_after * 1.5))
    return wait


@attrs.define
class Backoff:
    """Failures in a row of one kind of call (a provider's poll, its capacity read...),
    and when the next try is due."""

    failures: int = 0
    due: float = 0.0
    #: the last failure, for the reasons and errors the pool reports meanwhile
    error: str | None = None

    def failed(
        self, error: str, now: float, base: float, cap: float, retry_after: float | None
    ) -> float:
        """Count one more failure; the seconds until the next try."""
        self.failures += 1
        self.error = error
        wait = delay(self.failures, base, cap, retry_after=retry_after)
        self.due = now + wait
        return wait

    def succeeded(self) -> None:
        self.failures, self.due, self.error = 0, 0.0, None

    def ready(self, now: float) -> bool:
        return now >= self.due


def retry_after_of(error: BaseException) -> float | None:
    """The delay a :class:`~virtprov.errors.TransientError` carries, if any."""
    value = getattr(error, "retry_after", None)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


__all__ = ["Backoff", "delay", "retry_after_of"]
