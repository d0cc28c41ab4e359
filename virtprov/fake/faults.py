"""Latency and fault models for the fake provider: seeded, scripted, or none.

Most fault kinds raise what a well-behaved provider raises (a
:class:`~virtprov.errors.ProviderError`). Three stand for provider code that is not
well-behaved, as SDKs are not: ``runtime_error``, ``key_error`` and ``os_error`` raise a
``RuntimeError``, a ``KeyError`` and an ``OSError`` (``ConnectionResetError``). An
``os_error`` in ``create`` comes after the guest was made, as a connection reset while
reading the answer would.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable, Mapping
from typing import Final, Literal, TypeAlias

import attrs

from virtprov.errors import CapacityExhausted, PermanentError, TransientError

#: The operations the fake can delay or fail. ``build`` happens cloud-side, between polls;
#: ``flavors``, ``capacity`` and ``list_guests`` are the reads besides ``poll``.
OPERATIONS: Final = (
    "create",
    "poll",
    "start",
    "stop",
    "destroy",
    "build",
    "flavors",
    "capacity",
    "list_guests",
)
FaultKind: TypeAlias = Literal[
    "capacity",
    "transient",
    "permanent",
    "timeout",
    "lost_response",
    "runtime_error",
    "key_error",
    "os_error",
]
#: Faults that raise something other than a ProviderError, as buggy SDK code does.
UNEXPECTED_KINDS: Final = ("runtime_error", "key_error", "os_error")
FAULT_KINDS: Final = (
    "capacity",
    "transient",
    "permanent",
    "timeout",
    "lost_response",
    *UNEXPECTED_KINDS,
)

#: What Nova says when no host can take a server; :meth:`FakeProvider.classify_fault`
#: recognises it, as a real provider recognises its cloud's text.
NO_VALID_HOST: Final = "No valid host was found. There are not enough hosts available."

Seconds: TypeAlias = float | tuple[float, float]


@attrs.frozen
class Latency:
    """Seconds each API call takes, and cloud-side build/stop/start/delete times.

    Each figure is a fixed number or a ``(low, high)`` range drawn uniformly (seeded).
    ``create``, ``poll``, ``start``, ``stop``, ``destroy`` are the calls' own durations;
    ``build``, ``shutdown`` (the stop after the build), ``boot`` (from an accepted start
    to running) and ``delete`` (from an accepted destroy to gone) pass in the cloud
    between polls, as a real cloud's do.
    """

    create: Seconds = 0.0
    poll: Seconds = 0.0
    start: Seconds = 0.0
    stop: Seconds = 0.0
    destroy: Seconds = 0.0
    build: Seconds = 0.0
    shutdown: Seconds = 0.0
    boot: Seconds = 0.0
    delete: Seconds = 0.0
    flavors: Seconds = 0.0
    capacity: Seconds = 0.0
    list_guests: Seconds = 0.0

    def draw(self, what: str, rng: random.Random) -> float:
        value: Seconds = getattr(self, what)
        if isinstance(value, tuple):
            low, high = value
            return rng.uniform(low, high)
        return float(value)


@attrs.frozen
class ScriptedFault:
    """Fail the ``nth`` call (1-based) of ``operation`` with ``kind``."""

    operation: str
    nth: int
    kind: FaultKind


@attrs.define
class FaultPlan:
    """Which calls fail: a script of exact faults, and/or seeded random faults.

    ``rates`` maps an operation to the probability that one call fails; the kind is
    drawn from ``kinds`` (per operation, default: capacity/transient/permanent/timeout
    for create, transient/timeout elsewhere, capacity for build).
    """

    rates: Mapping[str, float] = attrs.field(factory=dict)
    kinds: Mapping[str, tuple[FaultKind, ...]] = attrs.field(factory=dict)
    script: tuple[ScriptedFault, ...] = ()
    _counts: dict[str, int] = attrs.field(factory=dict, init=False, repr=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        for operation in [*self.rates, *self.kinds, *(s.operation for s in self.script)]:
            if operation not in OPERATIONS:
                raise ValueError(f"unknown operation {operation!r} (known: {OPERATIONS})")
        for kinds in [*self.kinds.values(), tuple(s.kind for s in self.script)]:
            for kind in kinds:
                if kind not in FAULT_KINDS:
                    raise ValueError(f"unknown fault kind {kind!r} (known: {FAULT_KINDS})")

    def next_fault(self, operation: str, rng: random.Random) -> FaultKind | None:
        """Count one call of ``operation``; the fault it suffers, if any."""
        with self._lock:
            count = self._counts.get(operation, 0) + 1
            self._counts[operation] = count
        for scripted in self.script:
            if scripted.operation == operation and scripted.nth == count:
                return scripted.kind
        rate = self.rates.get(operation, 0.0)
        if rate and rng.random() < rate:
            return rng.choice(self.kinds.get(operation) or DEFAULT_KINDS[operation])
        return None


#: The kinds of fault each operation suffers when `FaultPlan.kinds` does not say.
DEFAULT_KINDS: Final[Mapping[str, tuple[FaultKind, ...]]] = {
    "create": ("capacity", "transient", "permanent", "timeout", "lost_response"),
    "poll": ("transient", "timeout"),
    "start": ("transient", "timeout"),
    "stop": ("transient", "timeout"),
    "destroy": ("transient", "timeout"),
    "build": ("capacity", "transient"),
    "flavors": ("transient", "timeout"),
    "capacity": ("transient", "timeout"),
    "list_guests": ("transient", "timeout"),
}


def error_for(kind: FaultKind, operation: str, provider: str) -> Exception:
    """The exception an injected fault raises, worded as a cloud (or an SDK) would."""
    what = f"injected {kind} fault in {operation}"
    if kind == "runtime_error":
        return RuntimeError(f"SDK bug ({what})")
    if kind == "key_error":
        return KeyError(f"server ({what})")
    if kind == "os_error":
        return ConnectionResetError(104, f"Connection reset by peer ({what})")
    if kind == "capacity":
        return CapacityExhausted(f"Quota exceeded ({what})", provider=provider)
    if kind == "permanent":
        return PermanentError(f"authentication failed ({what})", provider=provider)
    if kind == "timeout":
        return TransientError(f"timed out ({what})", provider=provider)
    return TransientError(f"503 Service Unavailable ({what})", provider=provider)


def parse_script(entries: Iterable[Mapping[str, object]]) -> tuple[ScriptedFault, ...]:
    return tuple(
        ScriptedFault(str(e["operation"]), int(str(e["nth"])), str(e["kind"]))  # type: ignore[arg-type]
        for e in entries
    )
