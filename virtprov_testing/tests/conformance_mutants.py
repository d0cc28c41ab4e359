"""Deliberately broken providers: each breaks one rule of the contract, as a plugin could.

Variants of the fake cloud and of the example plugin (``docs/examples/plugin``, whose
``src`` must be on ``sys.path``). ``test_conformance_mutations.py`` runs the conformance
suite on each and checks that it fails, saying which method broke which rule.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Mapping, Sequence
from typing import Any, Self

import attrs
from virtprov_toy import cloud
from virtprov_toy.provider import ToyProvider

from virtprov.config import ProviderConfig
from virtprov.errors import GuestNotFound
from virtprov.fake import FakeProvider
from virtprov.model import BootRequest, Flavor, Guest, GuestSpec, GuestState, MiB
from virtprov.provider import Provider

# -- variants of the fake cloud ------------------------------------------------------------


class RamInBytes(FakeProvider):
    def flavors(self) -> Sequence[Flavor]:
        return [attrs.evolve(f, ram_mib=f.ram_mib * MiB) for f in super().flavors()]


class DiskInGiB(FakeProvider):
    def flavors(self) -> Sequence[Flavor]:
        return [attrs.evolve(f, disk_bytes=f.disk_bytes // 1024**3) for f in super().flavors()]


class NoFlavors(FakeProvider):
    def flavors(self) -> Sequence[Flavor]:
        return ()


def _wait_until_ready(provider: Provider, guest: Guest, every: float) -> Guest:
    """Poll ``guest`` every ``every`` seconds until it is ready (what create must not do)."""
    while guest.state is not GuestState.READY:
        time.sleep(every)
        guest = provider.poll([guest.id])[guest.id]
    return guest


class CreateBlocksUntilReady(FakeProvider):
    def create_guest(self, spec: GuestSpec) -> Guest:
        return _wait_until_ready(self, super().create_guest(spec), every=0.001)


class NamedAfterTheDriver(FakeProvider):
    def _guest(self, db: Any, state: Any) -> Guest:
        return attrs.evolve(super()._guest(db, state), provider=self.driver)


class ListIgnoresTheLabel(FakeProvider):
    def list_guests(self, prefix: str) -> Sequence[Guest]:
        everything = self.poll(self.all_guest_ids()).values()
        return [guest for guest in everything if guest.name.startswith(prefix)]


class StartDoesNothing(FakeProvider):
    def start_guest(self, guest_id: str, boot: BootRequest | None = None) -> None:
        pass


class ReadyAgainAfterStop(FakeProvider):
    def poll(self, guest_ids: Sequence[str]) -> Mapping[str, Guest]:
        return {
            guest_id: attrs.evolve(guest, state=GuestState.READY)
            if guest.state is GuestState.STOPPED
            else guest
            for guest_id, guest in super().poll(guest_ids).items()
        }


class DestroyNotIdempotent(FakeProvider):
    def destroy_guest(self, guest_id: str) -> None:
        if guest_id not in self.all_guest_ids():
            raise GuestNotFound(f"no guest {guest_id}")
        super().destroy_guest(guest_id)


class KeyErrorForUnknownGuests(FakeProvider):
    def start_guest(self, guest_id: str, boot: BootRequest | None = None) -> None:
        if guest_id not in self.all_guest_ids():
            raise KeyError(guest_id)
        super().start_guest(guest_id, boot)


class UnknownOptionsAccepted(FakeProvider):
    @classmethod
    def from_config(cls, config: ProviderConfig) -> Self:
        return cls(name=config.name, lab=config.lab)  # reads nothing, never finish()es


class ConnectsWhileBuilt(FakeProvider):
    @classmethod
    def from_config(cls, config: ProviderConfig) -> Self:
        # a "connection check" at construction: 127.0.0.1:9 (discard), nothing listens
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", 9), 0.1):
            pass
        return super().from_config(config)


# -- variants of the example plugin --------------------------------------------------------


class TokenInRepr(ToyProvider):
    def __repr__(self) -> str:
        return f"TokenInRepr({self.info.name!r}, token={self._token.reveal()!r})"


class TokenLogged(ToyProvider):
    def _client(self) -> cloud.Client:
        logging.getLogger("virtprov_toy").debug("logging in with %s", self._token.reveal())
        return super()._client()


class MemoryInGiB(ToyProvider):
    def flavors(self) -> Sequence[Flavor]:
        return [attrs.evolve(f, ram_mib=f.ram_mib // 1024) for f in super().flavors()]


class ToyCreateBlocksUntilReady(ToyProvider):
    def create_guest(self, spec: GuestSpec) -> Guest:
        return _wait_until_ready(self, super().create_guest(spec), every=0.01)


class ToyNamedAfterTheDriver(ToyProvider):
    def _guest(self, machine: cloud.Machine, state: GuestState) -> Guest:
        return attrs.evolve(super()._guest(machine, state), provider=self.driver)


class ToyListIgnoresTheLabel(ToyProvider):
    def list_guests(self, prefix: str) -> Sequence[Guest]:
        machines = self._client().machines(name_prefix=prefix)
        return [self._guest(m, self._plain_state(m)) for m in machines]
