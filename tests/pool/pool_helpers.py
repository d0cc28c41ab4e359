"""Shared helpers of the pool tests (a uniquely named module: test dirs share sys.path)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from virtprov.pool import Event, Journal, Limits, Pool, PoolSettings
from virtprov.provider import Provider

FAST = PoolSettings(
    launcher="test",
    poll_interval=0.02,
    retry_delay=0.01,
    retry_max_delay=0.05,
    capacity_refresh=60.0,
    default_limits=Limits(mutating=0.0, read=0.0),  # 0: unlimited
)

VMX = "<hostRequires><cpu><flag value='vmx'/></cpu></hostRequires>"


def fast_pool(
    providers: Mapping[str, Provider],
    journal: Journal | str = "sqlite://",
    *,
    subscribe: Callable[[Event], None] | None = None,
    **settings: Any,
) -> Pool:
    """A pool with FAST settings; ``subscribe`` sees every event from the start."""
    import attrs

    return Pool(
        providers,
        settings=attrs.evolve(FAST, **settings),
        journal=journal,
        subscribers=[subscribe] if subscribe else [],
    )


class Recorder:
    """Collects events."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [e.fields for e in self.events if e.kind == kind]


def wait_for(condition: Callable[[], object], timeout: float = 30.0) -> None:
    """Wait until ``condition()`` holds; the deadline is generous (a loaded machine), so
    only a condition that never comes fails."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)
