"""What a scheduler hands the pool (a :class:`Recipe`) and what it gets back.

The four statuses are Beaker's recipe virt statuses, so a Beaker-style scheduler maps
them one to one: ``precluded`` (this recipe can never be a VM: run it on hardware, for
good), ``skipped`` (no capacity anywhere now: hardware now, the cloud may be tried
again later), ``succeeded`` (a guest is ready for the recipe), ``failed`` (the cloud
was tried and failed; the error says why).
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from virtprov.model import BootRequest, Guest, GuestState, KernelBoot, NetworkBoot


class Status(enum.Enum):
    PRECLUDED = "precluded"
    SKIPPED = "skipped"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def _labs(value: str | Sequence[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@attrs.frozen
class Recipe:
    """A recipe the scheduler would like to run on a VM.

    ``labs``: the lab controllers the recipe may run in (empty: any provider's lab).
    ``owner``: who the guest is for; recorded in the journal and as the guest label
    ``virtprov-owner``. ``boot``: when given, the pool starts the guest with it once it
    is ready and reports ``succeeded`` when it runs; otherwise the guest is reported
    ready (built and stopped), for the scheduler to write the netboot configuration for
    its MAC and power it on (:meth:`virtprov.pool.Pool.start`).

    ``hardware``: tmt ``hardware:`` requirements (a mapping, or YAML text of one) instead
    of ``host_requires``; both are judged by the one evaluator (docs/tmt.md).
    """

    recipe_id: str = attrs.field(converter=str)
    host_requires: str = "<hostRequires/>"
    labs: tuple[str, ...] = attrs.field(default=(), converter=_labs)
    owner: str | None = None
    boot: BootRequest | None = None
    arch: str | None = None
    hardware: Mapping[str, Any] | str | None = attrs.field(default=None, hash=False)

    @hardware.validator
    def _one_language(self, attribute: Any, value: Any) -> None:
        if value is not None and self.host_requires != "<hostRequires/>":
            raise ValueError("give host_requires or hardware, not both")
        if isinstance(value, Mapping):  # bounded before anything copies or serialises it
            from virtprov.hostrequires.tmt import check_mapping

            check_mapping(value)

    def to_json(self) -> dict[str, Any]:
        return {
            "host_requires": self.host_requires,
            "hardware": self.hardware,
            "labs": list(self.labs),
            "owner": self.owner,
            "boot": boot_to_json(self.boot),
            "arch": self.arch,
        }

    @classmethod
    def from_json(cls, recipe_id: str, data: Mapping[str, Any]) -> Recipe:
        return cls(
            recipe_id=recipe_id,
            host_requires=data["host_requires"],
            labs=tuple(data["labs"]),
            owner=data["owner"],
            boot=boot_from_json(data["boot"]),
            arch=data["arch"],
            hardware=data.get("hardware"),  # absent from rows written by 0.1 journals
        )


@attrs.frozen
class Outcome:
    """The definite end of one launch.

    ``reasons`` say why (precluded: what the recipe asks that no VM offers; skipped:
    which provider could not take it and why). ``guest`` is the ready guest of a
    ``succeeded`` launch (id, name, MACs, addresses, provider). ``error`` is the error
    class and message of a ``failed`` one.
    """

    recipe_id: str
    status: Status
    reasons: tuple[str, ...] = ()
    guest: Guest | None = None
    provider: str | None = None
    flavor_id: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "reasons": list(self.reasons),
            "guest": guest_to_json(self.guest),
            "provider": self.provider,
            "flavor_id": self.flavor_id,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, recipe_id: str, status: str, data: Mapping[str, Any]) -> Outcome:
        return cls(
            recipe_id=recipe_id,
            status=Status(status),
            reasons=tuple(data["reasons"]),
            guest=guest_from_json(data["guest"]),
            provider=data["provider"],
            flavor_id=data["flavor_id"],
            error=data["error"],
        )


class Handle:
    """The caller's view of one submitted recipe: wait for it, or be called back."""

    def __init__(self, recipe_id: str) -> None:
        self.recipe_id = recipe_id
        self._done = threading.Event()
        self._outcome: Outcome | None = None
        self._callbacks: list[Callable[[Outcome], None]] = []
        self._lock = threading.Lock()

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> Outcome | None:
        """The outcome, waiting up to ``timeout`` seconds; ``None`` if not yet decided."""
        self._done.wait(timeout)
        return self._outcome

    @property
    def outcome(self) -> Outcome | None:
        return self._outcome

    def add_done_callback(self, callback: Callable[[Outcome], None]) -> None:
        """Call ``callback(outcome)`` once decided (at once if it already is)."""
        with self._lock:
            if self._outcome is None:
                self._callbacks.append(callback)
                return
        callback(self._outcome)

    def _resolve(self, outcome: Outcome) -> list[Callable[[Outcome], None]]:
        with self._lock:
            if self._outcome is not None:
                return []
            self._outcome = outcome
            callbacks, self._callbacks = self._callbacks, []
        self._done.set()
        return callbacks

    def __repr__(self) -> str:
        state = self._outcome.status.value if self._outcome else "undecided"
        return f"<Handle recipe {self.recipe_id}: {state}>"


def boot_to_json(boot: BootRequest | None) -> dict[str, Any] | None:
    if boot is None:
        return None
    if isinstance(boot, KernelBoot):
        return {"kind": "kernel", **attrs.asdict(boot)}
    return {"kind": "network"}


def boot_from_json(data: Mapping[str, Any] | None) -> BootRequest | None:
    if data is None:
        return None
    if data["kind"] == "kernel":
        fields = {k: v for k, v in data.items() if k != "kind"}
        return KernelBoot(**fields)
    return NetworkBoot()


def guest_to_json(guest: Guest | None) -> dict[str, Any] | None:
    if guest is None:
        return None
    return {
        "provider": guest.provider,
        "id": guest.id,
        "name": guest.name,
        "state": guest.state.value,
        "macs": list(guest.macs),
        "addresses": list(guest.addresses),
        "labels": dict(guest.labels),
        "flavor_id": guest.flavor_id,
    }


def guest_from_json(data: Mapping[str, Any] | None) -> Guest | None:
    if data is None:
        return None
    return Guest(
        provider=data["provider"],
        id=data["id"],
        name=data["name"],
        state=GuestState(data["state"]),
        macs=tuple(data["macs"]),
        addresses=tuple(data["addresses"]),
        labels=data["labels"],
        flavor_id=data["flavor_id"],
    )
