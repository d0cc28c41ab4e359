"""A toy cloud that lives in the process, and the client ("SDK") the provider talks to it with.

It stands in for a real cloud and its SDK, with their usual habits: sizes in GB (not MiB
or bytes), a quota, machines that boot as soon as they are built, tags to label them
with, a token to log in with, and exceptions of its own. A cloud is found by its
endpoint name, as a real one is by its URL::

    cloud = serve("toy://lab", token="s3cret", build_seconds=0.5)
    client = connect("toy://lab", "s3cret")
    machine = client.create("web-1", "t1", tags={"team": "qa"})
    ...
    cloud.close()
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
import uuid
from collections.abc import Iterable, Mapping


class ToyError(Exception):
    """Anything the toy cloud refuses."""


class Unauthorized(ToyError):
    """The token is not the cloud's."""


class NotFound(ToyError):
    """No such machine, size or endpoint."""


class QuotaExceeded(ToyError):
    """The project may not have more machines."""


class Busy(ToyError):
    """The cloud cannot answer now; ``retry_after`` seconds later it may."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclasses.dataclass(frozen=True)
class Size:
    """A machine size, in the cloud's own units: GB of memory and of disk."""

    id: str
    name: str
    cpus: int
    memory_gb: int
    disk_gb: int


SIZES = (
    Size("t1", "toy.small", cpus=1, memory_gb=1, disk_gb=10),
    Size("t2", "toy.medium", cpus=2, memory_gb=4, disk_gb=20),
    Size("t3", "toy.large", cpus=4, memory_gb=8, disk_gb=40),
)


@dataclasses.dataclass(frozen=True)
class Machine:
    """A machine as the cloud shows it: ``state`` is building, running or stopped."""

    id: str
    name: str
    size: str
    state: str
    mac: str
    tags: Mapping[str, str]


@dataclasses.dataclass
class _Record:
    machine: Machine
    built_at: float
    console: list[str]


class ToyCloud:
    """The cloud itself: machines, a quota, a token. Thread-safe."""

    def __init__(
        self, endpoint: str, *, token: str, max_machines: int = 10, build_seconds: float = 0.0
    ) -> None:
        self.endpoint = endpoint
        self._token = token
        self.max_machines = max_machines
        self.build_seconds = build_seconds
        self._lock = threading.Lock()
        self._machines: dict[str, _Record] = {}
        self._macs = itertools.count(1)

    def __repr__(self) -> str:
        return f"ToyCloud({self.endpoint!r})"

    def close(self) -> None:
        """Stop serving the endpoint; its machines are gone."""
        with _CLOUDS_LOCK:
            if _CLOUDS.get(self.endpoint) is self:
                del _CLOUDS[self.endpoint]

    def check_token(self, token: str) -> None:
        if token != self._token:
            raise Unauthorized(f"{self.endpoint}: the token is not valid")

    def machine_ids(self) -> list[str]:
        """Every machine, whatever its name or tags (for tests: nothing leaked)."""
        with self._lock:
            return sorted(self._machines)

    # -- what the client calls -----------------------------------------------------------

    def _create(self, name: str, size_id: str, tags: Mapping[str, str]) -> Machine:
        size = next((s for s in SIZES if s.id == size_id), None)
        if size is None:
            raise NotFound(f"no size {size_id!r}")
        with self._lock:
            if len(self._machines) >= self.max_machines:
                raise QuotaExceeded(f"quota of {self.max_machines} machines exceeded")
            number = next(self._macs)
            machine = Machine(
                id=str(uuid.uuid4()),
                name=name,
                size=size.id,
                state="building",
                mac=f"02:00:00:{number >> 16 & 255:02x}:{number >> 8 & 255:02x}:{number & 255:02x}",
                tags=dict(tags),
            )
            built_at = time.monotonic() + self.build_seconds
            self._machines[machine.id] = _Record(machine, built_at, [f"{name}: created"])
            return machine

    def _list(self, ids: Iterable[str] | None, name_prefix: str | None) -> list[Machine]:
        with self._lock:
            wanted = None if ids is None else set(ids)
            return [
                self._advance(record)
                for machine_id, record in self._machines.items()
                if (wanted is None or machine_id in wanted)
                and (name_prefix is None or record.machine.name.startswith(name_prefix))
            ]

    def _change(self, machine_id: str, **changes: object) -> None:
        with self._lock:
            record = self._record(machine_id)
            machine = self._advance(record)
            if changes.get("state") and machine.state == "building":
                raise Busy(f"{machine.name} is still building", retry_after=self.build_seconds)
            record.machine = dataclasses.replace(machine, **changes)  # type: ignore[arg-type]
            record.console.append(f"{machine.name}: {changes}")

    def _delete(self, machine_id: str) -> None:
        with self._lock:
            self._record(machine_id)
            del self._machines[machine_id]

    def _console(self, machine_id: str) -> str:
        with self._lock:
            return "\n".join(self._record(machine_id).console) + "\n"

    def _record(self, machine_id: str) -> _Record:
        record = self._machines.get(machine_id)
        if record is None:
            raise NotFound(f"no machine {machine_id}")
        return record

    def _advance(self, record: _Record) -> Machine:
        """Like a real cloud, a machine boots as soon as it is built."""
        if record.machine.state == "building" and time.monotonic() >= record.built_at:
            record.machine = dataclasses.replace(record.machine, state="running")
            record.console.append(f"{record.machine.name}: booted")
        return record.machine


_CLOUDS: dict[str, ToyCloud] = {}
_CLOUDS_LOCK = threading.Lock()


def serve(
    endpoint: str, *, token: str, max_machines: int = 10, build_seconds: float = 0.0
) -> ToyCloud:
    """Start a toy cloud at ``endpoint`` (until its :meth:`ToyCloud.close`)."""
    cloud = ToyCloud(endpoint, token=token, max_machines=max_machines, build_seconds=build_seconds)
    with _CLOUDS_LOCK:
        _CLOUDS[endpoint] = cloud
    return cloud


class Client:
    """What the provider uses: one logged-in session with one toy cloud."""

    def __init__(self, cloud: ToyCloud) -> None:
        self._cloud = cloud

    def sizes(self) -> list[Size]:
        return list(SIZES)

    def quota(self) -> tuple[int, int]:
        """Machines used and allowed."""
        return len(self._cloud.machine_ids()), self._cloud.max_machines

    def create(self, name: str, size_id: str, tags: Mapping[str, str]) -> Machine:
        return self._cloud._create(name, size_id, tags)

    def machines(
        self, *, ids: Iterable[str] | None = None, name_prefix: str | None = None
    ) -> list[Machine]:
        """One call for any number of machines (all of them unless filtered)."""
        return self._cloud._list(ids, name_prefix)

    def set_tag(self, machine_id: str, key: str, value: str) -> None:
        tags = {**self._machine(machine_id).tags, key: value}
        self._cloud._change(machine_id, tags=tags)

    def start(self, machine_id: str) -> None:
        self._cloud._change(machine_id, state="running")

    def stop(self, machine_id: str) -> None:
        self._cloud._change(machine_id, state="stopped")

    def delete(self, machine_id: str) -> None:
        self._cloud._delete(machine_id)

    def console(self, machine_id: str) -> str:
        return self._cloud._console(machine_id)

    def _machine(self, machine_id: str) -> Machine:
        found = self.machines(ids=[machine_id])
        if not found:
            raise NotFound(f"no machine {machine_id}")
        return found[0]


def connect(endpoint: str, token: str) -> Client:
    """Log in to the toy cloud at ``endpoint``."""
    with _CLOUDS_LOCK:
        cloud = _CLOUDS.get(endpoint)
    if cloud is None:
        raise NotFound(f"no toy cloud answers at {endpoint}")
    cloud.check_token(token)
    return Client(cloud)
