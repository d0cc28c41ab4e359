"""What a scheduler hands the pool (a :class:`Recipe`) and what it gets back.

The four statuses are Beaker's recipe virt statuses, so a Beaker-style scheduler maps
them one to one: ``precluded`` (this recipe can never be a VM: run it on hardware, for
good), ``skipped`` (no capacity anywhere now: hardware now, the cloud may be tried
again later), ``succeeded`` (a guest is ready for the recipe), ``failed`` (the cloud
was tried and failed; the error says why).
"""

from __future__ import annotations

import datetime
import enum
import json
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import attrs

from virtprov.errors import HostRequiresError
from virtprov.model import BootRequest, Guest, GuestState, ImageBoot, KernelBoot, NetworkBoot

#: The longest recipe id the journal keeps.
MAX_RECIPE_ID: Final = 100
#: The largest request (as JSON) the journal keeps: twice the largest document the
#: evaluator reads (a whole job, 8 MiB), so that every document it could judge fits.
MAX_REQUEST_BYTES: Final = 16 * 1024 * 1024
#: How deep a request's values may nest (the evaluator refuses far shallower documents).
MAX_REQUEST_DEPTH: Final = 100


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

    ``boot=ImageBoot(...)``: the guest boots a cloud image and ``succeeded`` means it runs
    with an address. ``attended``: the submitting process itself waits for this launch
    and uses the guest (tmt); if that process dies, no one will ever take the outcome,
    so the launch is abandoned (decided ``failed``, its guest destroyed) instead of
    being taken over by another launcher (see :mod:`virtprov.pool.abandon`).
    """

    recipe_id: str = attrs.field(converter=str)
    host_requires: str = "<hostRequires/>"
    labs: tuple[str, ...] = attrs.field(default=(), converter=_labs)
    owner: str | None = None
    boot: BootRequest | None = None
    arch: str | None = None
    hardware: Mapping[str, Any] | str | None = attrs.field(default=None, hash=False)
    attended: bool = False

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
            "attended": self.attended,
        }

    @classmethod
    def from_json(cls, recipe_id: str, data: Mapping[str, Any]) -> Recipe:
        """The recipe as the journal keeps it; ``ValueError`` saying so if it cannot be read."""
        try:
            return cls(
                recipe_id=recipe_id,
                host_requires=data["host_requires"],
                labs=tuple(data["labs"]),
                owner=data["owner"],
                boot=boot_from_json(data["boot"]),
                arch=data["arch"],
                hardware=data.get("hardware"),  # absent from rows written by 0.1 journals
                attended=bool(data.get("attended", False)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(_unreadable("request", recipe_id, data, exc)) from None


def checked_request(recipe: Recipe) -> dict[str, Any]:
    """``recipe.to_json()`` as plain JSON values, refused when the journal could not keep it.

    Raises :class:`~virtprov.errors.HostRequiresError` naming the key path of a value
    in ``hardware`` (or ``host_requires``) that JSON cannot hold (a ``datetime.date``,
    as ``yaml.safe_load`` makes of ``2024-01-01``; a key that is not a string; NaN), and
    ``ValueError`` for any other field, an over-long recipe id or an over-large request.
    """
    if len(recipe.recipe_id) > MAX_RECIPE_ID:
        raise ValueError(
            f"recipe id {recipe.recipe_id[:20]!r}... is {len(recipe.recipe_id)} characters "
            f"long, more than the journal keeps ({MAX_RECIPE_ID})"
        )
    request: dict[str, Any] = {}
    for field, value in recipe.to_json().items():
        try:
            request[field] = _storable(value, field, 0, set())
        except _Unstorable as problem:
            if field in ("hardware", "host_requires"):
                raise HostRequiresError(problem.what, key=problem.where) from None
            raise ValueError(
                f"recipe {recipe.recipe_id}: {problem.where}: {problem.what}"
            ) from None
    size = len(json.dumps(request, sort_keys=True).encode())
    if size > MAX_REQUEST_BYTES:
        raise ValueError(
            f"recipe {recipe.recipe_id}: the request is {size} bytes as JSON, more than "
            f"the journal keeps ({MAX_REQUEST_BYTES})"
        )
    return request


class _Unstorable(Exception):
    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: {what}")
        self.where = where
        self.what = what


#: Integers longer than this cannot even be written out (Python's int-to-str limit).
_MAX_INT_BITS: Final = 13_000


def _storable(value: Any, path: str, depth: int, parents: set[int]) -> Any:
    """``value`` as JSON's own types (dicts, lists...), or :class:`_Unstorable` naming the
    first part JSON cannot hold."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        if value.bit_length() > _MAX_INT_BITS:
            raise _Unstorable(path, "is an integer of more than 3900 digits")
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Unstorable(path, f"{value!r} is not a finite number")
        return float(value)
    if not isinstance(value, Mapping | list | tuple):
        hint = " (quote it in YAML to keep it as text)" if isinstance(value, datetime.date) else ""
        raise _Unstorable(
            path,
            f"{_show(value)} is a {_kind(value)}, not a string, number, boolean, list or "
            f"mapping{hint}",
        )
    if depth >= MAX_REQUEST_DEPTH:
        raise _Unstorable(path, f"is nested more than {MAX_REQUEST_DEPTH} levels deep")
    if id(value) in parents:
        raise _Unstorable(path, "contains itself")
    parents.add(id(value))
    result: Any
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _Unstorable(path, f"has the key {_show(key)}, a {_kind(key)}, not a string")
            result[key] = _storable(item, f"{path}.{key}", depth + 1, parents)
    else:
        result = [
            _storable(item, f"{path}[{n}]", depth + 1, parents) for n, item in enumerate(value)
        ]
    parents.discard(id(value))
    return result


def _kind(value: Any) -> str:
    return type(value).__name__


def _show(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # an object whose repr fails is still named by its type
        return f"a {_kind(value)}"
    return text if len(text) <= 60 else text[:59] + "…"


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
        """The outcome as the journal keeps it; one that cannot be read is ``failed``
        with the reason (the caller must hear of the recipe either way)."""
        try:
            return cls(
                recipe_id=recipe_id,
                status=Status(status),
                reasons=tuple(data["reasons"]),
                guest=guest_from_json(data["guest"]),
                provider=data["provider"],
                flavor_id=data["flavor_id"],
                error=data["error"],
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            error = _unreadable("outcome", recipe_id, data, exc)
            return cls(recipe_id=recipe_id, status=Status.FAILED, error=f"ValueError: {error}")


def _unreadable(what: str, recipe_id: str, data: Any, exc: Exception) -> str:
    unreadable = data.get("unreadable") if isinstance(data, Mapping) else None
    why = unreadable or f"{type(exc).__name__}: {exc}"
    return f"the {what} the journal keeps for recipe {recipe_id} cannot be read ({why})"


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
    if isinstance(boot, ImageBoot):
        # The journal keeps the user data so that a restarted launcher can create the
        # guest; the journal is state, never printed (ImageBoot's repr hides it).
        return {
            "kind": "image",
            "image": boot.image,
            "user_data": boot.user_data,
            "ssh_public_keys": list(boot.ssh_public_keys),
        }
    return {"kind": "network"}


def boot_from_json(data: Mapping[str, Any] | None) -> BootRequest | None:
    if data is None:
        return None
    if data["kind"] == "kernel":
        fields = {k: v for k, v in data.items() if k != "kind"}
        return KernelBoot(**fields)
    if data["kind"] == "image":
        return ImageBoot(
            image=data["image"],
            user_data=data.get("user_data"),
            ssh_public_keys=tuple(data.get("ssh_public_keys") or ()),
        )
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
        "ssh_port": guest.ssh_port,
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
        ssh_port=data.get("ssh_port"),  # absent from outcomes written before image boot
    )
