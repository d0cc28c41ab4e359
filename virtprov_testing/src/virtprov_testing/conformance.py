"""The provider conformance suite: what every provider, the fake included, must do.

Subclass :class:`ProviderConformance` in your provider's tests and give it a
``provider`` fixture::

    from virtprov_testing.conformance import ProviderConformance

    class TestMyCloudConformance(ProviderConformance):
        poll_interval = 0.0          # replaying a cassette: no need to wait

        @pytest.fixture
        def provider(self):
            return MyCloudProvider(...)

The tests are deterministic (fixed guest names, no randomness), each creates at most one
guest and destroys it in a ``finally`` (to the end: until ``poll`` no longer sees it and
what its destroy returned is deleted, with :func:`virtprov.teardown.destroy_and_wait`),
so a cassette-backed provider records them once and replays them request for request.
The tests of owned resources (:meth:`~virtprov.Provider.list_resources`) run for
providers that override it and skip for the others. This module is also a pytest plugin (entry point
``pytest11: virtprov_conformance``), so nothing needs importing but the class.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Iterator
from typing import ClassVar

import attrs
import pytest

from virtprov.errors import GuestNotFound
from virtprov.model import (
    LABEL_POOL,
    LABEL_RECIPE,
    Capacity,
    ConsoleOutput,
    Flavor,
    Guest,
    GuestSpec,
    GuestState,
    ImageBoot,
    OwnedResource,
    ProviderInfo,
)
from virtprov.provider import Provider
from virtprov.teardown import destroy_and_wait

MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
#: An id no cloud will ever have given out.
UNKNOWN_ID = "00000000-0000-4000-8000-00000000dead"
POOL = "conformance"
#: The public key the image-boot test authorises (its private half is thrown away).
CONFORMANCE_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJcYR9ChAvcJJXm8hPq7KCkjsuDzcI5hGpWOIS4xplJA "
    "virtprov-conformance"
)
#: Cloud-init user data of the image-boot test (a harmless cloud-config).
CONFORMANCE_USER_DATA = (
    "#cloud-config\nwrite_files:\n- path: /etc/virtprov-conformance\n  content: ok\n"
)


class ProviderConformance:
    """The contract of :class:`virtprov.Provider`, as tests. Subclass and add ``provider``."""

    #: Seconds ``poll`` may take to bring a new guest to ``READY``.
    ready_timeout: ClassVar[float] = 60.0
    #: Seconds between polls (0 when replaying cassettes).
    poll_interval: ClassVar[float] = 1.0
    #: Guests are named ``f"{name_prefix}recipe-{n}"`` with a fixed ``n`` per test.
    name_prefix: ClassVar[str] = "vpconf-"
    #: The image the image-boot test boots (a Glance image, an oVirt template...);
    #: ``None`` skips that test, with the reason.
    image: ClassVar[str | None] = None

    @pytest.fixture
    def provider(self) -> Provider:
        raise NotImplementedError("subclasses of ProviderConformance provide a provider fixture")

    @pytest.fixture
    def flavor(self, provider: Provider) -> Flavor:
        """The cheapest flavor with room to install on (override to choose another)."""
        usable = [f for f in provider.flavors() if f.disk_bytes >= 10 * 1024**3]
        return min(usable or provider.flavors(), key=Flavor.sort_key)

    # -- helpers ----------------------------------------------------------------------

    def spec(self, flavor: Flavor, n: int) -> GuestSpec:
        return GuestSpec.for_recipe(n, flavor, pool=POOL, prefix=self.name_prefix)

    def destroy(self, provider: Provider, guest_id: str) -> None:
        """Destroy the guest, wait until ``poll`` no longer sees it, and delete what the
        destroy returned (what can only go once the guest is gone)."""
        destroy_and_wait(
            provider,
            [guest_id],
            timeout=self.ready_timeout,
            interval=self.poll_interval,
            sleep=time.sleep if self.poll_interval else lambda _: None,
        )

    def wait_gone(self, provider: Provider, guest_id: str) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while guest_id in provider.poll([guest_id]):
            assert time.monotonic() < deadline, "a destroyed guest must disappear"
            if self.poll_interval:
                time.sleep(self.poll_interval)

    def wait_for(self, provider: Provider, guest_id: str, state: GuestState) -> Guest:
        deadline = time.monotonic() + self.ready_timeout
        while True:
            guest = provider.poll([guest_id]).get(guest_id)
            assert guest is not None, f"guest {guest_id} vanished while waiting for {state}"
            assert guest.state is not GuestState.ERROR, f"guest failed: {guest.fault}"
            if guest.state is state:
                return guest
            assert time.monotonic() < deadline, f"guest still {guest.state} after timeout"
            if self.poll_interval:
                time.sleep(self.poll_interval)

    @pytest.fixture
    def created(
        self, provider: Provider, flavor: Flavor, request: pytest.FixtureRequest
    ) -> Iterator[Guest]:
        """One guest for the test, destroyed afterwards whatever happens."""
        # A fixed number per test (not random), so that recorded cassettes replay.
        n = 9000 + zlib.crc32(request.function.__name__.encode()) % 900
        guest = provider.create_guest(self.spec(flavor, n))
        try:
            yield guest
        finally:
            self.destroy(provider, guest.id)

    # -- the contract -------------------------------------------------------------------

    def test_info_is_consistent(self, provider: Provider) -> None:
        info = provider.info
        assert isinstance(info, ProviderInfo)
        assert info.name
        assert info.driver == type(provider).driver
        assert info.lab
        assert info.arches, "a provider offers at least one architecture"

    def test_flavors_have_sane_units(self, provider: Provider) -> None:
        flavors = provider.flavors()
        assert flavors, "a provider offers at least one flavor"
        for flavor in flavors:
            assert isinstance(flavor, Flavor)
            assert flavor.vcpus >= 1
            assert flavor.ram_mib >= 64, f"{flavor.name}: RAM is in MiB"
            assert flavor.disk_bytes == 0 or flavor.disk_bytes >= 1024**2, (
                f"{flavor.name}: disk is in bytes"
            )
        assert len({flavor.id for flavor in flavors}) == len(flavors), "flavor ids are unique"

    def test_capacity_is_a_capacity(self, provider: Provider) -> None:
        assert isinstance(provider.capacity(), Capacity)

    def test_create_returns_the_guest_fast_with_its_name_and_labels(
        self, provider: Provider, created: Guest
    ) -> None:
        assert created.id
        assert created.state in (GuestState.BUILDING, GuestState.READY)
        assert created.name.startswith(f"{self.name_prefix}recipe-")
        assert created.labels[LABEL_POOL] == POOL
        assert created.labels[LABEL_RECIPE] == created.name.rsplit("-", 1)[1]
        assert created.provider == provider.info.name

    def test_poll_reaches_ready_with_a_mac(self, provider: Provider, created: Guest) -> None:
        ready = self.wait_for(provider, created.id, GuestState.READY)
        assert ready.macs, "a ready guest has at least one MAC address"
        assert all(MAC.match(mac) for mac in ready.macs), ready.macs
        assert ready.name == created.name

    def test_start_and_stop(self, provider: Provider, created: Guest) -> None:
        self.wait_for(provider, created.id, GuestState.READY)
        provider.start_guest(created.id)
        self.wait_for(provider, created.id, GuestState.RUNNING)
        provider.stop_guest(created.id)
        self.wait_for(provider, created.id, GuestState.STOPPED)

    def test_destroy_is_idempotent_and_frees_capacity(
        self, provider: Provider, flavor: Flavor
    ) -> None:
        before = provider.capacity()
        guest = provider.create_guest(self.spec(flavor, 9100))
        try:
            # A cloud may count a guest only once it is placed (Nova counts a server
            # against the instance quota when the scheduler has put it in a cell), so
            # the room may shrink a moment after create returns.
            deadline = time.monotonic() + self.ready_timeout
            while True:
                during = provider.capacity()
                if before.instances is None or during.instances is None:
                    break
                if during.instances <= before.instances - 1:
                    break
                assert time.monotonic() < deadline, "a created guest must take up capacity"
                if self.poll_interval:
                    time.sleep(self.poll_interval)
        finally:
            # accepted: the guest may still be there (being deleted) when this returns
            left = list(provider.destroy_guest(guest.id) or ())
        left += provider.destroy_guest(guest.id) or ()  # a second time is silent
        self.wait_gone(provider, guest.id)
        for resource in left:  # what can only go once the guest is gone, twice: silent
            provider.destroy_resource(resource)
        after = provider.capacity()
        if before.instances is not None and after.instances is not None:
            assert after.instances == before.instances, "destroy frees what create took"
        if before.ram_mib is not None and after.ram_mib is not None:
            assert after.ram_mib == before.ram_mib

    def test_list_guests_finds_ours_by_prefix(self, provider: Provider, created: Guest) -> None:
        found = {guest.id: guest for guest in provider.list_guests(self.name_prefix)}
        assert created.id in found
        assert found[created.id].labels[LABEL_POOL] == POOL
        assert created.id not in {g.id for g in provider.list_guests("no-such-prefix-")}

    def test_unknown_guests(self, provider: Provider) -> None:
        with pytest.raises(GuestNotFound):
            provider.start_guest(UNKNOWN_ID)
        assert UNKNOWN_ID not in provider.poll([UNKNOWN_ID])
        assert not provider.destroy_guest(UNKNOWN_ID)  # gone already: silent, nothing left

    def test_console_output(self, provider: Provider, created: Guest) -> None:
        self.wait_for(provider, created.id, GuestState.READY)
        output = provider.console_output(created.id)
        assert isinstance(output, ConsoleOutput)
        assert isinstance(output.text, str)

    # -- owned resources (providers that make more than the guest) -------------------------

    @pytest.fixture
    def owns_resources(self, provider: Provider) -> None:
        """Skip (before any guest is made) unless the provider lists owned resources."""
        if type(provider).list_resources is Provider.list_resources:
            pytest.skip(f"{type(provider).__name__} makes nothing but guests")

    def resources_of(self, provider: Provider, guest: Guest) -> list[OwnedResource]:
        return [r for r in provider.list_resources(self.name_prefix) if r.guest == guest.name]

    def test_owned_resources_carry_their_guest_and_its_labels(
        self, provider: Provider, owns_resources: None, created: Guest
    ) -> None:
        listed = provider.list_resources(self.name_prefix)
        for resource in listed:
            assert isinstance(resource, OwnedResource)
            assert resource.kind
            assert resource.id
            assert resource.provider == provider.info.name
            assert resource.guest.startswith(self.name_prefix)
            assert LABEL_POOL in resource.labels, "only labelled resources are listed"
        assert len({(r.kind, r.id) for r in listed}) == len(listed), "each resource once"
        for resource in [r for r in listed if r.guest == created.name]:
            assert resource.labels[LABEL_POOL] == POOL
            assert resource.labels[LABEL_RECIPE] == created.labels[LABEL_RECIPE]

    def test_destroy_removes_the_owned_resources_and_destroy_resource_is_idempotent(
        self, provider: Provider, owns_resources: None, flavor: Flavor
    ) -> None:
        """What ``destroy_guest`` does not delete at once it returns; once the guest is
        gone and those are deleted, nothing of the guest is left."""
        guest = provider.create_guest(self.spec(flavor, 9200))
        try:
            made = self.resources_of(provider, guest)
        finally:
            self.destroy(provider, guest.id)
        assert self.resources_of(provider, guest) == []
        for resource in made:
            provider.destroy_resource(resource)  # gone already: silent

    # -- image boot -------------------------------------------------------------------

    @pytest.fixture
    def boot_image(self) -> str:
        """The image of the image-boot test; skips before any other fixture when unset."""
        if self.image is None:
            pytest.skip(f"{type(self).__name__}.image is not set: no image to boot")
        return self.image

    def test_image_boot_runs_with_an_address(
        self, boot_image: str, provider: Provider, flavor: Flavor
    ) -> None:
        """An :class:`ImageBoot` guest runs with an address; destroy removes it all."""
        boot = ImageBoot(
            boot_image, user_data=CONFORMANCE_USER_DATA, ssh_public_keys=(CONFORMANCE_KEY,)
        )
        guest = provider.create_guest(attrs.evolve(self.spec(flavor, 9300), boot=boot))
        try:
            assert guest.state in (GuestState.BUILDING, GuestState.READY, GuestState.RUNNING)
            started = False
            deadline = time.monotonic() + self.ready_timeout
            while True:
                seen = provider.poll([guest.id]).get(guest.id)
                assert seen is not None, "the guest vanished while booting"
                assert seen.state is not GuestState.ERROR, f"guest failed: {seen.fault}"
                if seen.state is GuestState.RUNNING and seen.addresses:
                    break
                if seen.state in (GuestState.READY, GuestState.STOPPED) and not started:
                    provider.start_guest(guest.id)  # a cloud that creates it powered off
                    started = True
                assert time.monotonic() < deadline, f"still {seen.state} without an address"
                if self.poll_interval:
                    time.sleep(self.poll_interval)
            assert seen.name == guest.name
            assert seen.labels[LABEL_POOL] == POOL
        finally:
            self.destroy(provider, guest.id)
        assert guest.id not in provider.poll([guest.id])
