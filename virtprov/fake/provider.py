"""The fake provider: a cloud in SQLite, with capacity, latency and faults.

It is the embedded default (``virtprov provision`` with no configuration) and the test
bed of the pool and its benchmarks. One code path serves both uses: the cloud lives in
an SQLite database, in memory by default, or in a **state file** so that several
processes (and successive CLI calls) see one cloud with one capacity model.

Guest state is derived from timestamps, as a real cloud advances on its own: a guest is
``building`` until its build time has passed, then the fake "stops" it (as the OpenStack
flow does) and it is ``ready`` once the stop time has passed too. ``poll`` applies those
transitions, one batched query for any number of guests. A guest booted from an image
(:class:`~virtprov.model.ImageBoot`) is ``running`` as soon as its build is over. A start
and a destroy are accepted at once and take their ``boot`` and ``delete`` times in the
cloud: a starting guest is still ``stopped``, a guest being deleted is ``deleted`` until
it is gone. Each guest has a network and a port, as OpenStack's floating mode makes: a
destroy that takes time leaves them to its caller (``destroy_guest`` returns them, to be
deleted once the guest is gone; the port cannot go before).

The fake has no real guests to log in to; give it an SSH endpoint (:class:`SshEndpoint`:
a real ``sshd`` a test starts on 127.0.0.1) and every guest's address is that endpoint,
with the public keys of each image boot written to its ``authorized_keys`` as cloud-init
would write them.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Self, TypeAlias

import attrs

from virtprov import model
from virtprov.config import Options, ProviderConfig
from virtprov.errors import (
    CapacityExhausted,
    ConfigError,
    GuestNotFound,
    ProviderError,
    TransientError,
)
from virtprov.fake.faults import (
    FAULT_KINDS,
    NO_VALID_HOST,
    OPERATIONS,
    FaultKind,
    FaultPlan,
    Latency,
    Seconds,
    error_for,
    parse_script,
)
from virtprov.provider import Provider

#: A ladder like a small real cloud's, with one flavor too small to install on.
DEFAULT_FLAVORS: tuple[model.Flavor, ...] = (
    model.Flavor("fake-tiny", "fake.tiny", vcpus=1, ram_mib=512, disk_bytes=5 * model.GiB),
    model.Flavor("fake-small", "fake.small", vcpus=1, ram_mib=1024, disk_bytes=10 * model.GiB),
    model.Flavor("fake-medium", "fake.medium", vcpus=2, ram_mib=2048, disk_bytes=20 * model.GiB),
    model.Flavor("fake-large", "fake.large", vcpus=4, ram_mib=4096, disk_bytes=40 * model.GiB),
    model.Flavor("fake-xlarge", "fake.xlarge", vcpus=8, ram_mib=8192, disk_bytes=80 * model.GiB),
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS guests (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    flavor_id TEXT NOT NULL,
    vcpus INTEGER NOT NULL,
    ram_mib INTEGER NOT NULL,
    disk_bytes INTEGER NOT NULL,
    labels TEXT NOT NULL,
    mac TEXT NOT NULL,
    address TEXT NOT NULL,
    phase TEXT NOT NULL,          -- building (booting: from an image) | shutting_down | ready
                                  -- | starting | running | stopped | error | deleting
    created_at REAL NOT NULL,
    phase_until REAL NOT NULL,    -- when the cloud-side step of this phase is over
    build_fault TEXT              -- the fault the build ends in, if any
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
-- What the cloud makes for a guest besides the guest (as OpenStack's per-guest network
-- and port), labelled like it; a destroy removes them after the guest itself.
CREATE TABLE IF NOT EXISTS resources (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,           -- network | port
    name TEXT NOT NULL,
    guest_name TEXT NOT NULL,
    guest_id TEXT,                -- NULL once its guest is deleted
    labels TEXT NOT NULL,
    position INTEGER NOT NULL,    -- destroy order: ports before their network
    network TEXT                  -- a port's network
);
"""

#: What the fake makes for every guest besides the guest, in the order it removes them.
RESOURCE_KINDS: Final = ("port", "network")

# What changes in a guest's life; the other columns are fixed when it is created, so
# polls read only these (and hundreds of polled ids cost well under a millisecond).
_STATE = "id, phase, phase_until, build_fault"
_State: TypeAlias = tuple[str, str, float, str | None]

_PUBLIC_STATE = {
    "building": model.GuestState.BUILDING,
    "booting": model.GuestState.BUILDING,  # an image boot's build: running once it is over
    "shutting_down": model.GuestState.BUILDING,
    "ready": model.GuestState.READY,
    "starting": model.GuestState.STOPPED,  # started, not running yet (OpenStack: powering-on)
    "running": model.GuestState.RUNNING,
    "stopped": model.GuestState.STOPPED,
    "error": model.GuestState.ERROR,
    "deleting": model.GuestState.DELETED,  # the delete is accepted; gone once its time is over
}


@attrs.frozen
class SshEndpoint:
    """Where the fake's guests can be reached over SSH: every guest's address.

    ``authorized_keys``: a file the endpoint's ``sshd`` reads; the public keys of every
    image boot are added to it, as cloud-init adds them to the image's default user.
    """

    host: str
    port: int = 22
    authorized_keys: Path | None = None


@attrs.frozen
class CallRecord:
    """One API call the fake served: operation and monotonic start/end times."""

    operation: str
    started: float
    ended: float
    failed: bool


class FakeProvider(Provider):
    """An in-memory (or state-file) cloud. Thread-safe; several processes may share a file."""

    driver = "fake"

    def __init__(
        self,
        *,
        name: str = "fake",
        lab: str = "localhost",
        flavors: Sequence[model.Flavor] = DEFAULT_FLAVORS,
        arches: Sequence[str] = ("x86_64",),
        hypervisor: str = "KVM",
        instances: int | None = None,
        vcpus: int | None = None,
        ram_mib: int | None = None,
        disk_bytes: int | None = None,
        latency: Latency | None = None,
        faults: FaultPlan | None = None,
        seed: int | None = None,
        state_file: str | Path | None = None,
        ssh: SshEndpoint | None = None,
        call_log: str | Path | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._info = model.ProviderInfo(
            name=name, driver=self.driver, lab=lab, hypervisor=hypervisor, arches=tuple(arches)
        )
        self._flavors = tuple(flavors)
        self._limits = model.Capacity(
            instances=instances, vcpus=vcpus, ram_mib=ram_mib, disk_bytes=disk_bytes
        )
        self.latency = latency or Latency()
        self.faults = faults or FaultPlan()
        self._rng = random.Random(seed)  # noqa: S311 - fault injection, not security
        self._rng_lock = threading.Lock()
        self.ssh = ssh
        # the call log as JSON lines too, for a test that watches another process's fake
        self.call_log = None if call_log is None else Path(call_log)
        self._clock = clock
        self._sleep = sleep
        self._monotonic = monotonic
        # Guests as last returned, by id: only phase and fault ever change, so a poll of
        # hundreds of unchanged guests builds no new objects (the pool polls constantly).
        self._seen: dict[str, tuple[str, str | None, model.Guest]] = {}
        self._lock = threading.RLock()
        self._calls: list[CallRecord] = []
        self.state_file = None if state_file is None else Path(state_file)
        self._db = _open_cloud(self.state_file)

    # -- configuration -------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: ProviderConfig) -> Self:
        options = config.options
        capacity = options.table("capacity")
        latency_table = options.table("latency")
        faults_table = options.table("faults")
        kwargs: dict[str, Any] = {
            "name": config.name,
            "lab": config.lab,
            "arches": options.string_list("arches", ["x86_64"]),
            "hypervisor": options.string("hypervisor", "KVM"),
            "instances": capacity.integer("instances"),
            "vcpus": capacity.integer("vcpus"),
            "ram_mib": capacity.integer("ram_mib"),
            "disk_bytes": _gib(capacity.number("disk_gib")),
            "latency": Latency(
                **{
                    what: _seconds(latency_table, what)
                    for what in attrs.fields_dict(Latency)
                    if what in latency_table
                }
            ),
            "seed": options.integer("seed"),
            "state_file": options.string("state_file"),
            "ssh": _ssh_endpoint(options),
            "call_log": options.string("call_log"),
        }
        capacity.finish()
        latency_table.finish()
        kwargs["faults"] = _fault_plan(faults_table)
        flavors = options.raw("flavors")
        if flavors is not None:
            kwargs["flavors"] = _flavors(options, flavors)
        options.finish()
        try:
            return cls(**kwargs)
        except ConfigError as exc:
            raise options.error("state_file", exc.message) from None

    # -- the contract ----------------------------------------------------------------

    @property
    def info(self) -> model.ProviderInfo:
        return self._info

    def flavors(self) -> Sequence[model.Flavor]:
        with self._call("flavors") as fault:
            if fault is not None:
                raise error_for(fault, "flavors", self._info.name)
            return self._flavors

    def capacity(self) -> model.Capacity:
        with self._call("capacity") as fault:
            if fault is not None:
                raise error_for(fault, "capacity", self._info.name)
            with self._transaction() as db:
                return self._free(db)

    def create_guest(self, spec: model.GuestSpec) -> model.Guest:
        with self._call("create") as fault:
            if fault not in (None, "lost_response", "os_error"):
                raise error_for(fault, "create", self._info.name)
            now = self._clock()
            with self._transaction() as db:
                free = self._free(db)
                shortfall = free.shortfall(spec.flavor)
                if shortfall:
                    raise CapacityExhausted(
                        f"Quota exceeded for {spec.name}: " + "; ".join(shortfall),
                        provider=self._info.name,
                    )
                number = self._next(db, "mac")
                guest_id = str(uuid.uuid4())
                build_fault = self._faults_for("build")
                db.execute(
                    "INSERT INTO guests VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        guest_id,
                        spec.name,
                        spec.flavor.id,
                        spec.flavor.vcpus,
                        spec.flavor.ram_mib,
                        spec.flavor.disk_bytes,
                        json.dumps(dict(spec.labels), sort_keys=True),
                        _mac(number),
                        f"10.{(number >> 16) & 255}.{(number >> 8) & 255}.{number & 255}",
                        "booting" if isinstance(spec.boot, model.ImageBoot) else "building",
                        now,
                        until := now + self._draw("build"),
                        build_fault,
                    ),
                )
                self._make_resources(db, spec, guest_id)
                phase = "booting" if isinstance(spec.boot, model.ImageBoot) else "building"
                guest = self._guest(db, (guest_id, phase, until, build_fault))
            if isinstance(spec.boot, model.ImageBoot):
                self._authorize(spec.boot.ssh_public_keys)
            if fault == "lost_response":
                # The cloud made the guest, the caller never hears of it: how clouds leak.
                raise TransientError(
                    "connection reset while creating (injected lost_response: the guest "
                    "was created)",
                    provider=self._info.name,
                )
            if fault == "os_error":  # the same, as an SDK that does not map its errors
                raise error_for(fault, "create", self._info.name)
            return guest

    def poll(self, guest_ids: Sequence[str]) -> Mapping[str, model.Guest]:
        with self._call("poll") as fault:
            if fault is not None:
                raise error_for(fault, "poll", self._info.name)
            wanted = list(dict.fromkeys(guest_ids))
            found: dict[str, model.Guest] = {}
            with self._transaction() as db:
                for chunk in range(0, len(wanted), 500):  # SQLite's variable limit
                    ids = wanted[chunk : chunk + 500]
                    marks = ",".join("?" * len(ids))
                    rows = db.execute(f"SELECT {_STATE} FROM guests WHERE id IN ({marks})", ids)  # noqa: S608
                    for row in rows.fetchall():
                        state = self._advance(db, row)
                        if state is not None:
                            found[row[0]] = self._guest(db, state)
            if len(found) < len(wanted):
                with self._lock:
                    for gone in set(wanted).difference(found):
                        self._seen.pop(gone, None)
            # In the order asked, as callers print them.
            return {guest_id: found[guest_id] for guest_id in wanted if guest_id in found}

    def classify_fault(self, guest: model.Guest) -> type[ProviderError]:
        if guest.fault and "No valid host was found" in guest.fault:
            return CapacityExhausted
        return ProviderError

    def start_guest(self, guest_id: str, boot: model.BootRequest | None = None) -> None:
        self._power(
            guest_id, "start", "starting", allowed=("ready", "stopped", "starting", "running")
        )

    def stop_guest(self, guest_id: str) -> None:
        self._power(
            guest_id, "stop", "stopped", allowed=("running", "stopped", "ready", "starting")
        )

    def destroy_guest(self, guest_id: str) -> Sequence[model.OwnedResource]:
        with self._call("destroy") as fault:
            if fault not in (None, "lost_response"):
                raise error_for(fault, "destroy", self._info.name)
            with self._transaction() as db:
                left = self._destroy(db, guest_id, lost=fault == "lost_response")
            if fault == "lost_response":
                raise TransientError(
                    "connection reset while destroying (injected lost_response: the guest "
                    "was deleted, its network and port were not)",
                    provider=self._info.name,
                    guest_id=guest_id,
                )
            return left

    def _destroy(
        self, db: sqlite3.Connection, guest_id: str, *, lost: bool
    ) -> list[model.OwnedResource]:
        """Delete the guest, at once or over its ``delete`` time; what it leaves."""
        row = db.execute("SELECT phase FROM guests WHERE id = ?", (guest_id,)).fetchone()
        if row is None:
            return []  # gone already
        left = self._resources(db, "guest_id = ?", (guest_id,))
        if lost:
            # Its network and port stay, known to nobody: what a destroy that dies after
            # deleting the server leaves behind (OpenStack's order).
            db.execute("UPDATE resources SET guest_id = NULL WHERE guest_id = ?", (guest_id,))
            left = []
        if row[0] == "deleting":
            return left  # asked again: the same answer
        delay = self._draw("delete")
        if delay > 0:
            db.execute(
                "UPDATE guests SET phase = 'deleting', phase_until = ? WHERE id = ?",
                (self._clock() + delay, guest_id),
            )
            return left
        # Gone at once: what was made for it goes in the same call.
        db.execute("DELETE FROM resources WHERE guest_id = ?", (guest_id,))
        self._gone(db, guest_id)
        return []

    def _gone(self, db: sqlite3.Connection, guest_id: str) -> None:
        """The guest is deleted; what was made for it stays until it is deleted in turn."""
        db.execute("DELETE FROM guests WHERE id = ?", (guest_id,))
        db.execute("UPDATE resources SET guest_id = NULL WHERE guest_id = ?", (guest_id,))
        with self._lock:
            self._seen.pop(guest_id, None)

    def console_output(self, guest_id: str) -> model.ConsoleOutput:
        with self._transaction() as db:
            state = self._state(db, guest_id)
            guest = self._guest(db, state)
        return model.ConsoleOutput(
            text=f"fake console of {guest.name} ({guest_id}): {state[1]}\n",
        )

    def list_guests(self, prefix: str) -> Sequence[model.Guest]:
        with self._call("list_guests") as fault:
            if fault is not None:
                raise error_for(fault, "list_guests", self._info.name)
            with self._transaction() as db:
                rows = db.execute(
                    f"SELECT {_STATE} FROM guests WHERE substr(name, 1, ?) = ? "  # noqa: S608
                    "ORDER BY created_at, id",
                    (len(prefix), prefix),
                ).fetchall()
                states = [self._advance(db, row) for row in rows]
                guests = [self._guest(db, state) for state in states if state is not None]
            return [guest for guest in guests if model.LABEL_POOL in guest.labels]

    def list_resources(self, prefix: str) -> Sequence[model.OwnedResource]:
        with self._transaction() as db:
            found = self._resources(db, "substr(guest_name, 1, ?) = ?", (len(prefix), prefix))
        return [resource for resource in found if model.LABEL_POOL in resource.labels]

    def _resources(
        self, db: sqlite3.Connection, where: str, args: tuple[object, ...]
    ) -> list[model.OwnedResource]:
        """The resources ``where`` selects, in the order they can be deleted."""
        rows = db.execute(
            "SELECT id, kind, name, guest_name, labels FROM resources "  # noqa: S608
            f"WHERE {where} ORDER BY position, guest_name, id",
            args,
        ).fetchall()
        return [
            model.OwnedResource(
                provider=self._info.name,
                kind=kind,
                id=resource_id,
                name=name,
                guest=guest_name,
                labels=json.loads(labels),
            )
            for resource_id, kind, name, guest_name, labels in rows
        ]

    def destroy_resource(self, resource: model.OwnedResource) -> None:
        with self._call("destroy") as fault:
            if fault not in (None, "lost_response"):
                raise error_for(fault, "destroy", self._info.name)
            with self._transaction() as db:
                in_use = db.execute(
                    "SELECT count(*) FROM resources WHERE network = ?", (resource.id,)
                ).fetchone()[0]
                if in_use:  # as Neutron answers 409 while a port is on the network
                    raise ProviderError(
                        f"network {resource.name} is in use by a port",
                        provider=self._info.name,
                    )
                (held,) = db.execute(
                    "SELECT count(*) FROM resources JOIN guests ON guests.id = resources.guest_id "
                    "WHERE resources.id = ?",
                    (resource.id,),
                ).fetchone()
                if held:  # a guest being deleted still has its port
                    raise ProviderError(
                        f"{resource.kind} {resource.name} is in use by its guest",
                        provider=self._info.name,
                    )
                db.execute("DELETE FROM resources WHERE id = ?", (resource.id,))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- what tests and benchmarks look at ------------------------------------------------

    @property
    def calls(self) -> list[CallRecord]:
        """Every API call served so far, in order of completion."""
        with self._lock:
            return list(self._calls)

    def all_guest_ids(self) -> list[str]:
        """Every guest the cloud holds, whatever its name or labels (for leak checks)."""
        with self._transaction() as db:
            return [row[0] for row in db.execute("SELECT id FROM guests ORDER BY id")]

    def all_resource_ids(self) -> list[str]:
        """Every network and port the cloud holds, of any guest (for leak checks)."""
        with self._transaction() as db:
            return [row[0] for row in db.execute("SELECT id FROM resources ORDER BY id")]

    def orphan_resource_ids(self) -> list[str]:
        """The networks and ports whose guest is gone: what destroys that died half-way
        left, and only a sweep removes (for leak checks)."""
        with self._transaction() as db:
            query = "SELECT id FROM resources WHERE guest_id IS NULL ORDER BY id"
            return [row[0] for row in db.execute(query)]

    # -- plumbing ----------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _call(self, operation: str) -> Iterator[FaultKind | None]:
        """Time one API call, with its latency, and decide the fault it suffers."""
        started = self._monotonic()
        fault = self._faults_for(operation)
        delay = self._draw(operation)
        if delay:
            self._sleep(delay)
        failed = True
        try:
            yield fault
            failed = False
        finally:
            record = CallRecord(operation, started, self._monotonic(), failed)
            with self._lock:
                self._calls.append(record)
                if self.call_log is not None:
                    with self.call_log.open("a") as out:
                        out.write(json.dumps(attrs.asdict(record)) + "\n")

    def _faults_for(self, operation: str) -> FaultKind | None:
        with self._rng_lock:
            return self.faults.next_fault(operation, self._rng)

    def _draw(self, what: str) -> float:
        with self._rng_lock:
            return self.latency.draw(what, self._rng)

    def _free(self, db: sqlite3.Connection) -> model.Capacity:
        count, vcpus, ram, disk = db.execute(
            "SELECT count(*), coalesce(sum(vcpus),0), coalesce(sum(ram_mib),0), "
            "coalesce(sum(disk_bytes),0) FROM guests"
        ).fetchone()
        limits = self._limits

        def left(limit: int | None, used: int) -> int | None:
            return None if limit is None else limit - used

        return model.Capacity(
            instances=left(limits.instances, count),
            vcpus=left(limits.vcpus, vcpus),
            ram_mib=left(limits.ram_mib, ram),
            disk_bytes=left(limits.disk_bytes, disk),
        )

    def _make_resources(self, db: sqlite3.Connection, spec: model.GuestSpec, guest_id: str) -> None:
        labels = json.dumps(dict(spec.labels), sort_keys=True)
        network = str(uuid.uuid4())
        for resource_id, kind, parent in (
            (network, "network", None),
            (str(uuid.uuid4()), "port", network),
        ):
            db.execute(
                "INSERT INTO resources VALUES (?,?,?,?,?,?,?,?)",
                (
                    resource_id,
                    kind,
                    f"{spec.name}-{kind}",
                    spec.name,
                    guest_id,
                    labels,
                    RESOURCE_KINDS.index(kind),
                    parent,
                ),
            )

    def _next(self, db: sqlite3.Connection, counter: str) -> int:
        db.execute(
            "INSERT INTO counters VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET value = value + 1",
            (counter,),
        )
        value: int = db.execute("SELECT value FROM counters WHERE name = ?", (counter,)).fetchone()[
            0
        ]
        return value

    def _state(self, db: sqlite3.Connection, guest_id: str) -> _State:
        """The guest's state now (transitions applied); ``GuestNotFound`` once it is gone."""
        row = db.execute(f"SELECT {_STATE} FROM guests WHERE id = ?", (guest_id,)).fetchone()  # noqa: S608
        state = None if row is None else self._advance(db, row)
        if state is None:
            raise GuestNotFound(f"no guest {guest_id}", provider=self._info.name, guest_id=guest_id)
        return state

    def _advance(self, db: sqlite3.Connection, state: _State) -> _State | None:
        """Apply the cloud-side transitions whose time has come; the state as it now is
        (``None``: the guest is gone)."""
        guest_id, phase, until, fault = state
        if phase not in ("building", "booting", "shutting_down", "starting", "deleting"):
            return state
        now = self._clock()
        if now < until:
            return state
        if phase == "deleting":
            self._gone(db, guest_id)
            return None
        if phase == "starting":
            phase = "running"
        if phase in ("building", "booting"):
            if fault is not None:
                # The build fails: the cloud says why in the guest's fault text.
                phase = "error"
                fault = NO_VALID_HOST if fault == "capacity" else f"Build failed ({fault})"
            elif phase == "booting":
                phase = "running"  # an image boots straight into its system
            else:
                # Built; the flow now stops the guest, which takes its own time.
                phase, until = "shutting_down", until + self._draw("shutdown")
        if phase == "shutting_down" and now >= until:
            phase = "ready"
        if phase == state[1]:
            return state
        db.execute(
            "UPDATE guests SET phase=?, phase_until=?, build_fault=? WHERE id=?",
            (phase, until, fault, guest_id),
        )
        return guest_id, phase, until, fault

    def _authorize(self, keys: Sequence[str]) -> None:
        """Add ``keys`` to the endpoint's ``authorized_keys``, as cloud-init would."""
        if self.ssh is None or self.ssh.authorized_keys is None or not keys:
            return
        path = self.ssh.authorized_keys
        with self._lock:
            known = set(path.read_text().splitlines()) if path.exists() else set()
            new = [key.strip() for key in keys if key.strip() not in known]
            if new:
                with path.open("a") as out:
                    out.writelines(f"{key}\n" for key in new)
                path.chmod(0o600)

    def _power(self, guest_id: str, operation: str, target: str, allowed: tuple[str, ...]) -> None:
        with self._call(operation) as fault:
            if fault is not None:
                raise error_for(fault, operation, self._info.name)
            with self._transaction() as db:
                phase = self._state(db, guest_id)[1]
                if phase not in allowed:
                    raise ProviderError(
                        f"cannot {operation} guest {guest_id} while it is {phase}",
                        provider=self._info.name,
                        guest_id=guest_id,
                    )
                if target == "starting":
                    if phase in ("starting", "running"):
                        return  # started already
                    boot = self._draw("boot")
                    if boot <= 0:
                        target = "running"
                    db.execute(
                        "UPDATE guests SET phase=?, phase_until=? WHERE id=?",
                        (target, self._clock() + boot, guest_id),
                    )
                    return
                db.execute("UPDATE guests SET phase=? WHERE id=?", (target, guest_id))

    def _guest(self, db: sqlite3.Connection, state: _State) -> model.Guest:
        guest_id, phase, _, fault = state
        with self._lock:
            seen = self._seen.get(guest_id)
            if seen is not None and seen[0] == phase and seen[1] == fault:
                return seen[2]
        name, flavor_id, labels, mac, address, created_at = db.execute(
            "SELECT name, flavor_id, labels, mac, address, created_at FROM guests WHERE id = ?",
            (guest_id,),
        ).fetchone()
        guest = model.Guest(
            provider=self._info.name,
            id=guest_id,
            name=name,
            state=_PUBLIC_STATE[phase],
            macs=(mac,),
            addresses=(self.ssh.host,) if self.ssh else (address,),
            ssh_port=self.ssh.port if self.ssh and self.ssh.port != 22 else None,
            labels=json.loads(labels),
            flavor_id=flavor_id,
            created_at=datetime.fromtimestamp(created_at, UTC),
            fault=fault if phase == "error" else None,
        )
        with self._lock:
            self._seen[guest_id] = (phase, fault, guest)
        return guest


def _open_cloud(state_file: Path | None) -> sqlite3.Connection:
    """The cloud's database: in memory, or the state file, checked to be one.

    A state file that is a directory, read-only or not SQLite is a ``ConfigError`` naming
    it (key ``state_file``), never an ``sqlite3`` traceback.
    """
    where = ":memory:" if state_file is None else str(state_file)

    def refuse(why: str) -> ConfigError:
        return ConfigError(f"the fake cloud's state file {state_file} {why}", key="state_file")

    if state_file is not None:
        if state_file.is_dir():
            raise refuse("is a directory: name a file in it")
        if state_file.exists() and not _writable(state_file):
            # SQLite would open it read-only and fail only at the first create.
            raise refuse("(or its directory) is read-only: make both writable")
        try:
            state_file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise refuse(f"cannot be made: {exc.strerror}") from None
    db = sqlite3.connect(
        where,
        check_same_thread=False,
        isolation_level=None,  # transactions are explicit: BEGIN IMMEDIATE below
        timeout=30.0,
    )
    try:
        if state_file is not None:
            db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
    except sqlite3.Error as exc:
        db.close()
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            raise refuse("is not an SQLite database") from None
        raise refuse(f"cannot be used: {exc}") from None
    return db


def _writable(path: Path) -> bool:
    # SQLite writes its -wal and -shm files next to the database.
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)


def _mac(number: int) -> str:
    if number >= 1 << 24:
        raise CapacityExhausted("the fake cloud's MAC range 52:54:00:xx:xx:xx is used up")
    return "52:54:00:" + ":".join(f"{(number >> shift) & 255:02x}" for shift in (16, 8, 0))


def _ssh_endpoint(options: Options) -> SshEndpoint | None:
    if "ssh" not in options:
        return None
    table = options.table("ssh")
    host = table.string("host", required=True)
    port = table.integer("port", 22, minimum=1)
    if port > 65535:
        raise table.error("port", f"must be a TCP port (1-65535), got {port}")
    keys = table.string("authorized_keys")
    table.finish()
    return SshEndpoint(host, port, None if keys is None else Path(keys))


def _gib(value: float | None) -> int | None:
    return None if value is None else int(value * model.GiB)


def _seconds(table: Options, key: str) -> Seconds:
    value = table.raw(key)
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    if isinstance(value, list):
        bounds = [float(v) for v in value if isinstance(v, int | float) and not isinstance(v, bool)]
        if len(bounds) == len(value) == 2 and 0 <= bounds[0] <= bounds[1]:
            return (bounds[0], bounds[1])
    raise table.error(key, "must be seconds (a number) or a range [low, high]")


def _fault_plan(table: Options) -> FaultPlan:
    rates_table = table.table("rates")
    kinds_table = table.table("kinds")
    for operations in (rates_table, kinds_table):
        for operation in operations.names():
            if operation not in OPERATIONS:
                raise operations.error(operation, f"is not one of {', '.join(OPERATIONS)}")
    rates = {op: rates_table.number(op) for op in rates_table.names()}
    for operation, rate in rates.items():
        if rate is not None and rate > 1:
            raise rates_table.error(operation, f"is a probability, at most 1, got {rate}")
    rates_table.finish()
    kinds: dict[str, tuple[FaultKind, ...]] = {}
    for operation in kinds_table.names():
        listed = kinds_table.string_list(operation, [])
        unknown = [kind for kind in listed if kind not in FAULT_KINDS]
        if unknown or not listed:
            raise kinds_table.error(
                operation, f"must list fault kinds among {', '.join(FAULT_KINDS)}"
            )
        kinds[operation] = tuple(listed)  # type: ignore[arg-type]  # checked just above
    kinds_table.finish()
    script = table.raw("script") or []
    try:
        plan = FaultPlan(
            rates={op: rate for op, rate in rates.items() if rate is not None},
            kinds=kinds,
            script=parse_script(script),  # type: ignore[arg-type]  # any shape: errors caught below
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise table.error("script", f"is not a list of {{operation, nth, kind}} ({exc})") from None
    table.finish()
    return plan


def _flavors(options: Options, value: Any) -> tuple[model.Flavor, ...]:
    if not isinstance(value, list) or not value:
        raise options.error("flavors", "must be a non-empty list of tables")
    flavors = []
    for number, item in enumerate(value):
        if not isinstance(item, dict):
            raise options.error(f"flavors[{number}]", "must be a table")
        table = Options(item, path=options.path, prefix=f"{options.prefix}.flavors[{number}]")
        name = table.string("name", required=True)
        flavors.append(
            model.Flavor(
                id=table.string("id", name),
                name=name,
                vcpus=table.integer("vcpus", required=True, minimum=1),
                ram_mib=table.integer("ram_mib", required=True, minimum=1),
                disk_bytes=int(table.number("disk_gib", required=True) * model.GiB),
                arch=table.string("arch"),
            )
        )
        table.finish()
    return tuple(flavors)


__all__ = ["DEFAULT_FLAVORS", "CallRecord", "FakeProvider", "SshEndpoint"]
