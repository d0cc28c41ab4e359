"""Every cloud call the pool makes, reported as a ``cloud.call`` event.

The pool hands its launcher (and its sweeps) providers wrapped by :func:`reporting`:
each contract call (create, poll, start, stop, destroy, capacity, flavors, list,
console) is timed and emitted as ``cloud.call`` with the provider, the operation, the
seconds it took and, when it raised, the error's class name (``""`` when it did not).
That is where the metrics of cloud calls and errors by provider and operation come from,
with no change to any provider plugin.

Anything else a provider offers (``info``, methods a later contract adds) passes through
untouched, so the wrapper never hides part of a provider.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, cast

from virtprov.pool.events import EventBus
from virtprov.provider import Provider

#: Contract method -> the operation it is reported as.
OPERATIONS = {
    "create_guest": "create",
    "poll": "poll",
    "start_guest": "start",
    "stop_guest": "stop",
    "destroy_guest": "destroy",
    "capacity": "capacity",
    "flavors": "flavors",
    "declared_flavors": "flavors",
    "list_guests": "list",
    "console_output": "console",
}


class ReportingProvider:
    """A provider whose contract calls are reported on ``events`` (see :func:`reporting`)."""

    def __init__(self, provider: Provider, name: str, events: EventBus) -> None:
        self.__dict__["_provider"] = provider
        self.__dict__["_name"] = name
        self.__dict__["_events"] = events

    @property
    def wrapped(self) -> Provider:
        """The provider itself."""
        provider: Provider = self.__dict__["_provider"]
        return provider

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self.__dict__["_provider"], attribute)
        operation = OPERATIONS.get(attribute)
        if operation is None or not callable(value):
            return value
        reported = self._report(value, operation)
        self.__dict__[attribute] = reported  # found directly from now on
        return reported

    def _report(self, call: Callable[..., Any], operation: str) -> Callable[..., Any]:
        name: str = self.__dict__["_name"]
        events: EventBus = self.__dict__["_events"]

        @functools.wraps(call)
        def reported(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = call(*args, **kwargs)
            except Exception as exc:
                events.emit(
                    "cloud.call",
                    provider=name,
                    operation=operation,
                    seconds=time.perf_counter() - started,
                    error=type(exc).__name__,
                )
                raise
            events.emit(
                "cloud.call",
                provider=name,
                operation=operation,
                seconds=time.perf_counter() - started,
                error="",
            )
            return result

        return reported

    def __repr__(self) -> str:
        return f"<reporting {self.__dict__['_provider']!r}>"


def reporting(provider: Provider, name: str, events: EventBus) -> Provider:
    """``provider`` with every contract call reported as a ``cloud.call`` event."""
    return cast(Provider, ReportingProvider(provider, name, events))
