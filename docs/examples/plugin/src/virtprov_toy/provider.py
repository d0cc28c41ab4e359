"""The toy cloud as a virtprov provider: the whole contract, for a cloud of few habits.

Configured in ``virtprov.toml`` as::

    [providers.toy-lab]
    driver = "toy"
    lab = "lab.example.com"
    endpoint = "toy://lab"
    token = { env = "TOY_TOKEN" }
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import ClassVar, Self

from virtprov import (
    LABEL_POOL,
    BootRequest,
    Capacity,
    CapacityExhausted,
    ConsoleOutput,
    Flavor,
    GiB,
    Guest,
    GuestNotFound,
    GuestSpec,
    GuestState,
    KernelBoot,
    PermanentError,
    Provider,
    ProviderConfig,
    ProviderError,
    ProviderInfo,
    Secret,
    TransientError,
    mapping_errors,
)
from virtprov_toy import cloud

#: The tag that remembers, in the cloud, whether virtprov ever started the machine: a
#: machine off that was never started is READY, one started before is STOPPED.
PHASE = "virtprov-phase"


def toy_error(exc: Exception, *, provider: str, action: str, guest_id: str | None) -> ProviderError:
    """The virtprov error a toy cloud exception stands for (the provider's mapping)."""
    if isinstance(exc, cloud.Unauthorized):
        return PermanentError(f"{action}: the toy cloud refused the token; check `token`")
    if isinstance(exc, cloud.QuotaExceeded):
        return CapacityExhausted(f"{action}: {exc}")
    if isinstance(exc, cloud.Busy):
        return TransientError(f"{action}: {exc}", retry_after=exc.retry_after)
    if isinstance(exc, cloud.NotFound):
        if guest_id is not None:
            return GuestNotFound(f"{action}: no such machine")
        return PermanentError(f"{action}: {exc}; check `endpoint`")
    return ProviderError(f"{action}: {exc}")


class ToyProvider(Provider):
    """One toy cloud endpoint serving one lab."""

    driver: ClassVar[str] = "toy"

    def __init__(
        self,
        name: str,
        lab: str,
        *,
        endpoint: str,
        token: Secret,
        arches: Sequence[str] = ("x86_64",),
    ) -> None:
        self._info = ProviderInfo(name=name, driver=self.driver, lab=lab, arches=tuple(arches))
        self._endpoint = endpoint
        self._token = token
        self._lock = threading.Lock()
        self._session: cloud.Client | None = None

    @classmethod
    def from_config(cls, config: ProviderConfig) -> Self:
        options = config.options
        endpoint = options.string("endpoint", required=True)
        token = options.secret("token", required=True)
        arches = options.string_list("arches", ["x86_64"])
        options.finish()  # an unknown or misspelt option is an error, naming its key
        return cls(config.name, config.lab, endpoint=endpoint, token=token, arches=arches)

    def __repr__(self) -> str:
        # Secret's repr says where the token comes from, never the token.
        return f"ToyProvider({self._info.name!r}, {self._endpoint!r}, token={self._token!r})"

    # -- plumbing ------------------------------------------------------------------------

    def _calling(self, action: str, guest_id: str | None = None) -> AbstractContextManager[None]:
        """Toy cloud exceptions in the block leave it as virtprov errors."""
        return mapping_errors(
            toy_error,
            provider=self._info.name,
            action=action,
            guest_id=guest_id,
            catch=cloud.ToyError,
        )

    def _client(self) -> cloud.Client:
        """The session, made on the first call that needs it (from_config stays offline)."""
        with self._lock:
            if self._session is None:
                with self._calling(f"log in to {self._endpoint}"):
                    self._session = cloud.connect(self._endpoint, self._token.reveal())
            return self._session

    def close(self) -> None:
        with self._lock:
            self._session = None

    # -- what it offers --------------------------------------------------------------------

    @property
    def info(self) -> ProviderInfo:
        return self._info

    def flavors(self) -> Sequence[Flavor]:
        with self._calling("list sizes"):
            sizes = self._client().sizes()
        # The cloud speaks GB; virtprov speaks MiB of memory and bytes of disk.
        return [
            Flavor(
                id=size.id,
                name=size.name,
                vcpus=size.cpus,
                ram_mib=size.memory_gb * 1024,
                disk_bytes=size.disk_gb * GiB,
            )
            for size in sizes
        ]

    def capacity(self) -> Capacity:
        with self._calling("read the quota"):
            used, allowed = self._client().quota()
        return Capacity(instances=allowed - used)

    # -- a guest's life ----------------------------------------------------------------------

    def create_guest(self, spec: GuestSpec) -> Guest:
        # One call, so nothing is left half-made when it fails; the labels go on as tags.
        with self._calling(f"create {spec.name}"):
            machine = self._client().create(
                spec.name, spec.flavor.id, tags={**spec.labels, PHASE: "build"}
            )
        return self._guest(machine, GuestState.BUILDING)

    def poll(self, guest_ids: Sequence[str]) -> Mapping[str, Guest]:
        if not guest_ids:
            return {}
        with self._calling("list machines"):
            machines = self._client().machines(ids=guest_ids)
        return {m.id: self._guest(m, self._advance(m)) for m in machines}

    def _advance(self, machine: cloud.Machine) -> GuestState:
        """The guest's state, stopping a freshly built machine once (it boots on its own)."""
        if machine.state == "building":
            return GuestState.BUILDING
        if machine.tags.get(PHASE) == "build":
            if machine.state == "running":
                with self._calling("stop the built machine", machine.id):
                    self._client().stop(machine.id)
                return GuestState.BUILDING
            return GuestState.READY
        return GuestState.RUNNING if machine.state == "running" else GuestState.STOPPED

    def start_guest(self, guest_id: str, boot: BootRequest | None = None) -> None:
        if isinstance(boot, KernelBoot):
            raise PermanentError("the toy cloud boots from the network only", guest_id=guest_id)
        with self._calling("start the machine", guest_id):
            # Marked before the start: a guest that may have run never reads READY again.
            self._client().set_tag(guest_id, PHASE, "started")
            self._client().start(guest_id)

    def stop_guest(self, guest_id: str) -> None:
        with self._calling("stop the machine", guest_id):
            self._client().stop(guest_id)

    def destroy_guest(self, guest_id: str) -> None:
        try:
            with self._calling("delete the machine", guest_id):
                self._client().delete(guest_id)
        except GuestNotFound:
            pass  # gone already: destroying is idempotent

    def console_output(self, guest_id: str) -> ConsoleOutput:
        with self._calling("read the console", guest_id):
            return ConsoleOutput(text=self._client().console(guest_id))

    def list_guests(self, prefix: str) -> Sequence[Guest]:
        with self._calling(f"list machines named {prefix}*"):
            machines = self._client().machines(name_prefix=prefix)
        # Only virtprov's: a sweeper deletes the unowned guests it is shown.
        return [self._guest(m, self._plain_state(m)) for m in machines if LABEL_POOL in m.tags]

    @staticmethod
    def _plain_state(machine: cloud.Machine) -> GuestState:
        """The state without advancing anything (listing never stops a machine)."""
        if machine.state == "building" or (
            machine.tags.get(PHASE) == "build" and machine.state == "running"
        ):
            return GuestState.BUILDING
        if machine.tags.get(PHASE) == "build":
            return GuestState.READY
        return GuestState.RUNNING if machine.state == "running" else GuestState.STOPPED

    def _guest(self, machine: cloud.Machine, state: GuestState) -> Guest:
        # No provider=: the Provider base class fills in this provider's name.
        return Guest(
            id=machine.id,
            name=machine.name,
            state=state,
            macs=(machine.mac,),
            labels={k: v for k, v in machine.tags.items() if k != PHASE},
            flavor_id=machine.size,
        )
