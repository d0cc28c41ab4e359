"""The provider conformance suite: what every provider, the fake included, must do.

Subclass :class:`ProviderConformance` in your provider's tests and tell it how to build
your provider: from the lines of its ``virtprov.toml`` table (``config``, the way virtprov
builds it), or with a ``provider`` fixture of your own::

    from virtprov_testing.conformance import ProviderConformance

    class TestMyCloudConformance(ProviderConformance):
        poll_interval = 0.0          # replaying a cassette: no need to wait
        config = '''
            driver = "mycloud"
            url = "https://mycloud.example.com"
            token = { env = "MYCLOUD_TOKEN" }
        '''
        secrets = {"MYCLOUD_TOKEN": "not-a-real-token"}

Every failure names the method, the rule and what was seen, e.g. ``start_guest: expected
RUNNING within 10 s, saw READY``. The tests are deterministic (fixed guest names, no
randomness), each creates at most one guest and destroys it in a ``finally`` (and what
its destroy returned, once ``poll`` no longer sees it), so a cassette-backed provider
records them once and replays them request for request. The
tests of owned resources (:meth:`~virtprov.Provider.list_resources`) run for providers
that override it and skip for the others; the tests of construction from ``virtprov.toml``
and of secrets skip, saying which knob to set, when ``config`` or ``secrets`` is not set.
Three checks run only where the subclass sets their knob, because only some clouds can be
made to show them: :attr:`ProviderConformance.unplaceable_flavor` (a guest the cloud
accepts but cannot place must fail as ``CapacityExhausted``),
:attr:`ProviderConformance.network_choice` (``GuestSpec.network`` puts the guest on that
network) and :attr:`ProviderConformance.image` (an image boot runs with an address).
This module is also a pytest plugin (entry point ``pytest11: virtprov_conformance``), so
nothing needs importing but the class.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
import socket
import textwrap
import time
import zlib
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, NoReturn
from unittest import mock

import attrs
import pytest
from attrs import evolve

from virtprov import model
from virtprov.config import Options, ProviderConfig, parse_config
from virtprov.errors import (
    CapacityExhausted,
    ConfigError,
    GuestNotFound,
    PermanentError,
    ProviderError,
)
from virtprov.plugins import build_provider
from virtprov.provider import Provider

#: How a MAC address in ``Guest.macs`` is written (kept under this name for old imports).
MAC = model.MAC_ADDRESS
#: An id no cloud will ever have given out.
UNKNOWN_ID = "00000000-0000-4000-8000-00000000dead"
#: The ``virtprov-pool`` label of the suite's guests.
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
#: The ``[providers.NAME]`` and ``lab`` the suite gives a provider it builds from ``config``:
#: a name that is no driver's, so that a provider's name is not mistaken for its driver's.
CONFIG_NAME = "conformance"
CONFIG_LAB = "conformance.example.com"
#: The option the suite adds to ``config`` to check that unknown keys are refused.
UNKNOWN_OPTION = "vpconf_no_such_option"


def provider_config(
    name: str, driver: str, table: Mapping[str, Any], *, lab: str = "lab.example.com"
) -> ProviderConfig:
    """``[providers.NAME]`` as ``virtprov.toml`` would give it to a provider's
    ``from_config``: ``table`` less its ``None`` values (a test's way to remove a key),
    its ``driver`` and ``lab`` (these arguments where it has none) read as the
    configuration reader reads them."""
    kept = {"driver": driver, "lab": lab, **{k: v for k, v in table.items() if v is not None}}
    options = Options(kept, path="virtprov.toml", prefix=f"providers.{name}")
    return ProviderConfig(
        name=name,
        driver=options.string("driver", required=True),
        lab=options.string("lab", required=True),
        options=options,
    )


def fail(message: str) -> NoReturn:
    """Fail the test with ``message`` alone: it names the method, the rule and what was seen."""
    pytest.fail(message, pytrace=False)


@attrs.frozen
class Creation:
    """What the ``creation`` fixture made: the guest as ``create_guest`` returned it, the
    spec it was made from, and how long the call took (seconds)."""

    guest: model.Guest
    spec: model.GuestSpec
    seconds: float


class ProviderConformance:
    """The contract of :class:`virtprov.Provider`, as tests.

    Subclass it and either set :attr:`config` (the suite then builds the provider as
    virtprov does) or give a ``provider`` fixture. Every knob is a class attribute.
    """

    #: Seconds ``poll`` may take to show what a call asked for: ``READY`` after
    #: ``create_guest``, ``RUNNING`` after ``start_guest``, ``STOPPED`` after
    #: ``stop_guest``, the guest gone after ``destroy_guest``.
    ready_timeout: ClassVar[float] = 60.0
    #: Seconds between polls (0 when replaying cassettes).
    poll_interval: ClassVar[float] = 1.0
    #: Knob of :meth:`test_a_guest_the_cloud_cannot_place_is_a_capacity_fault`: the id or
    #: name of a flavor the cloud accepts a guest of but cannot place (bigger than any
    #: host, a type the zone has no capacity for). ``None`` skips the test.
    unplaceable_flavor: ClassVar[str | None] = None
    #: Knob of :meth:`test_network_choice_puts_the_guest_on_that_network`: a network a
    #: guest can be put on by name, where the provider sees several, and the CIDR its
    #: guests' addresses come from: ``("lab-net", "198.51.100.0/24")``. ``None`` skips it.
    network_choice: ClassVar[tuple[str, str] | None] = None
    #: Guests are named ``f"{name_prefix}recipe-{n}"`` with a fixed ``n`` per test.
    name_prefix: ClassVar[str] = "vpconf-"
    #: The image the image-boot test boots (a Glance image, an oVirt template...);
    #: ``None`` skips that test, with the reason.
    image: ClassVar[str | None] = None
    #: Seconds ``create_guest`` may take: it returns as soon as the cloud accepted the
    #: request and the guest's id is known, and never waits for the build.
    create_timeout: ClassVar[float] = 30.0
    #: The lines of the provider's ``[providers.NAME]`` table in ``virtprov.toml``:
    #: ``driver`` and your options, without ``lab`` (TOML; use inline tables or dotted
    #: keys for nested tables). The suite names the table ``conformance`` and gives it
    #: ``lab = "conformance.example.com"``, builds the provider from it for every test
    #: (unless you give a ``provider`` fixture), checks that ``info`` says that name and
    #: lab, that an unknown option is refused and that construction is offline. ``None``
    #: skips those checks.
    config: ClassVar[str | None] = None
    #: Build from :attr:`config` with this class's ``from_config`` instead of through the
    #: ``virtprov.providers`` entry point named by ``driver`` (for a class that no
    #: installed distribution declares: a variant in a test, a plugin not yet installed).
    provider_class: ClassVar[type[Provider] | None] = None
    #: Environment variables the configuration's secrets are read from, with values to
    #: give them: the suite sets them for every test, and fails when a value shows in the
    #: provider's ``repr`` or ``str``, in ``info``, in an error the suite provokes, or in
    #: any log record (captured at DEBUG). Empty skips the ``repr`` check.
    secrets: ClassVar[Mapping[str, str]] = {}
    #: Plausible ``Flavor.ram_mib``: a flavor outside is taken for a unit mistake.
    ram_mib_bounds: ClassVar[tuple[int, int]] = (64, 64 * 1024 * 1024)
    #: Plausible MiB of RAM per vCPU: outside, RAM is most likely in KiB or GiB.
    ram_mib_per_vcpu_bounds: ClassVar[tuple[float, float]] = (32, 256 * 1024)
    #: Plausible ``Flavor.disk_bytes`` (0, no disk of its own, is always accepted).
    disk_bytes_bounds: ClassVar[tuple[int, int]] = (64 * model.MiB, 1024**5)
    #: Plausible ``Flavor.vcpus``.
    vcpus_bounds: ClassVar[tuple[int, int]] = (1, 4096)

    # -- building the provider -----------------------------------------------------------

    @pytest.fixture(autouse=True)
    def conformance_secrets(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> Iterator[Mapping[str, str]]:
        """Put :attr:`secrets` in the environment; afterwards, no log record holds one."""
        for name, value in self.secrets.items():
            monkeypatch.setenv(name, value)
        if self.secrets:
            caplog.set_level(logging.DEBUG)
        yield self.secrets
        records = [*caplog.get_records("setup"), *caplog.get_records("call")]
        for record in records:
            self.assert_no_secret(
                _record_text(record),
                f"logging: a {record.levelname} record of logger {record.name!r}",
            )

    def provider_config_text(self, extra: str = "") -> str:
        """The ``virtprov.toml`` text the suite builds the provider from."""
        assert self.config is not None
        lines = textwrap.dedent(self.config).strip()
        return f'[providers.{CONFIG_NAME}]\nlab = "{CONFIG_LAB}"\n{lines}\n{extra}'

    def build_from_config(self, extra: str = "") -> Provider:
        """The provider, built from :meth:`provider_config_text` as virtprov builds it."""
        text = self.provider_config_text(extra)
        try:
            (table,) = parse_config(text, path="conformance.toml")
        except ConfigError as exc:
            fail(f"config: not a provider table virtprov accepts: {exc}\n{text}")
        if self.provider_class is None:
            return build_provider(table)
        provider = self.provider_class.from_config(table)
        if table.flavor_properties:
            provider.declarations = table.flavor_properties
        return provider

    @pytest.fixture
    def provider(self) -> Iterator[Provider]:
        """The provider under test, built from :attr:`config` (override to build it yourself)."""
        if self.config is None:
            fail(
                f"{type(self).__name__}: set `config` (the lines of your provider's "
                "[providers.NAME] table) or give a `provider` fixture"
            )
        provider = self.build_from_config()
        try:
            yield provider
        finally:
            provider.close()

    @pytest.fixture
    def flavor(self, provider: Provider) -> model.Flavor:
        """The cheapest flavor with room to install on (override to choose another)."""
        flavors = list(provider.flavors())
        if not flavors:
            fail(
                "flavors(): expected at least one flavor to create the suite's guests of, saw none"
            )
        usable = [f for f in flavors if f.disk_bytes >= 10 * model.GiB]
        return min(usable or flavors, key=model.Flavor.sort_key)

    # -- helpers ----------------------------------------------------------------------

    def spec(self, flavor: model.Flavor, n: int) -> model.GuestSpec:
        return model.GuestSpec.for_recipe(n, flavor, pool=POOL, prefix=self.name_prefix)

    def destroy(self, provider: Provider, guest_id: str) -> None:
        """Destroy the guest. When the destroy returned what can only go once the guest is
        gone, wait until ``poll`` no longer sees it and delete that (as the pool does,
        and :func:`virtprov.teardown.destroy_and_wait`); the rest is the cloud's to
        delete."""
        left = list(provider.destroy_guest(guest_id) or ())
        if not left:
            return
        deadline = time.monotonic() + self.ready_timeout
        while (seen := provider.poll([guest_id]).get(guest_id)) is not None:
            if time.monotonic() >= deadline:
                fail(
                    f"destroy_guest: expected the guest gone from poll() within "
                    f"{self.ready_timeout:g} s, saw it {seen.state.name}"
                )
            self.pause()
        for resource in left:
            provider.destroy_resource(resource)

    def pause(self) -> None:
        if self.poll_interval:
            time.sleep(self.poll_interval)

    def wait_for(
        self,
        provider: Provider,
        guest_id: str,
        state: model.GuestState,
        after: str = "create_guest",
    ) -> model.Guest:
        """Poll until the guest is in ``state``, which ``after`` (the call made last) should
        bring about within :attr:`ready_timeout`."""
        deadline = time.monotonic() + self.ready_timeout
        while True:
            guest = provider.poll([guest_id]).get(guest_id)
            if guest is None:
                fail(
                    f"{after}: the guest {guest_id} vanished from poll() while waiting for "
                    f"{state.name}"
                )
            if guest.state is model.GuestState.ERROR:
                fail(
                    f"{after}: the guest went to ERROR while waiting for {state.name}: "
                    f"{guest.fault}"
                )
            if guest.state is state:
                return guest
            if time.monotonic() >= deadline:
                hint = ""
                if state is model.GuestState.STOPPED and guest.state is model.GuestState.READY:
                    hint = (
                        " (READY is only for a guest never started; once started, off is STOPPED)"
                    )
                fail(
                    f"{after}: expected {state.name} within {self.ready_timeout:g} s, "
                    f"saw {guest.state.name}{hint}"
                )
            self.pause()

    def assert_named(self, provider: Provider, guest: model.Guest, method: str) -> None:
        """``Guest.provider`` is the provider's name."""
        name = provider.info.name
        if guest.provider != name:
            what = " (the driver's name)" if guest.provider == provider.info.driver else ""
            fail(
                f"{method}: Guest.provider must be the provider's name, info.name = "
                f"{name!r}; saw {guest.provider!r}{what}"
            )

    def assert_no_secret(self, text: str, where: str) -> None:
        """No value of :attr:`secrets` occurs in ``text`` (the message never repeats it)."""
        for name, value in self.secrets.items():
            if value and value in text:
                fail(
                    f"{where} holds the value of the secret in ${name}: show where a "
                    "secret comes from, never the secret"
                )

    @pytest.fixture
    def creation(
        self, provider: Provider, flavor: model.Flavor, request: pytest.FixtureRequest
    ) -> Iterator[Creation]:
        """One guest for the test, timed, destroyed afterwards whatever happens."""
        # A fixed number per test (not random), so that recorded cassettes replay.
        n = 9000 + zlib.crc32(request.function.__name__.encode()) % 900
        spec = self.spec(flavor, n)
        started = time.monotonic()
        guest = provider.create_guest(spec)
        seconds = time.monotonic() - started
        try:
            yield Creation(guest, spec, seconds)
        finally:
            self.destroy(provider, guest.id)

    @pytest.fixture
    def created(self, creation: Creation) -> model.Guest:
        """The test's guest, as ``create_guest`` returned it."""
        return creation.guest

    # -- what it is ------------------------------------------------------------------------

    def test_info_is_consistent(self, provider: Provider) -> None:
        info = provider.info
        if not isinstance(info, model.ProviderInfo):
            fail(f"info: expected a ProviderInfo, saw {type(info).__name__}")
        if info.driver != type(provider).driver:
            fail(
                f"info.driver: expected the class's driver {type(provider).driver!r}, "
                f"saw {info.driver!r}"
            )
        if self.config is not None:
            if info.name != CONFIG_NAME:
                fail(
                    f"info.name: expected the configured name {CONFIG_NAME!r} (the NAME of "
                    f"[providers.NAME], config.name in from_config), saw {info.name!r}"
                )
            if info.lab != CONFIG_LAB:
                fail(f"info.lab: expected the configured lab {CONFIG_LAB!r}, saw {info.lab!r}")
        if not info.name or not info.lab:
            fail(f"info: name and lab must not be empty, saw {info!r}")
        if not info.arches:
            fail("info.arches: expected at least one architecture, saw none")

    def test_flavors_have_sane_units(self, provider: Provider) -> None:
        flavors = provider.flavors()
        if not flavors:
            fail("flavors(): expected at least one flavor, saw none")
        for flavor in flavors:
            if not isinstance(flavor, model.Flavor):
                fail(f"flavors(): expected Flavor values, saw {type(flavor).__name__}")
            self.check_units(flavor)
        ids = [flavor.id for flavor in flavors]
        if len(set(ids)) != len(ids):
            fail(f"flavors(): flavor ids must be unique, saw {sorted(ids)}")

    def check_units(self, flavor: model.Flavor) -> None:
        """RAM in MiB, disk in bytes: bounds that catch factor-1024 mistakes."""
        name = f"flavors(): {flavor.name}"
        low, high = self.vcpus_bounds
        if not low <= flavor.vcpus <= high:
            fail(f"{name}: vcpus must be between {low} and {high}, saw {flavor.vcpus}")
        low, high = self.ram_mib_bounds
        if not low <= flavor.ram_mib <= high:
            guess = (
                f"in bytes it would be {flavor.ram_mib / model.MiB:g} MiB, in KiB "
                f"{flavor.ram_mib / 1024:g} MiB"
                if flavor.ram_mib > high
                else f"in GiB it would be {flavor.ram_mib * 1024} MiB"
            )
            fail(
                f"{name}: ram_mib must be MiB, between {low} and {high}; saw "
                f"{flavor.ram_mib} ({guess})"
            )
        per_vcpu = flavor.ram_mib / flavor.vcpus
        low_per, high_per = self.ram_mib_per_vcpu_bounds
        if not low_per <= per_vcpu <= high_per:
            fail(
                f"{name}: ram_mib must be MiB; {flavor.ram_mib} MiB for {flavor.vcpus} vCPUs is "
                f"{per_vcpu:g} MiB per vCPU, outside {low_per:g} to {high_per:g}: is it in "
                f"{'KiB' if per_vcpu > high_per else 'GiB'}?"
            )
        low, high = self.disk_bytes_bounds
        if flavor.disk_bytes and not low <= flavor.disk_bytes <= high:
            guess = (
                f"{flavor.disk_bytes} GiB would be {flavor.disk_bytes * model.GiB} bytes"
                if flavor.disk_bytes < low
                else f"that is {flavor.disk_bytes / 1024**5:g} PiB"
            )
            fail(
                f"{name}: disk_bytes must be bytes, 0 or between {low} and {high}; saw "
                f"{flavor.disk_bytes} ({guess})"
            )

    def test_capacity_is_a_capacity(self, provider: Provider) -> None:
        capacity = provider.capacity()
        if not isinstance(capacity, model.Capacity):
            fail(f"capacity(): expected a Capacity, saw {type(capacity).__name__}")

    # -- a guest's life --------------------------------------------------------------------

    def test_create_returns_the_guest_fast_with_its_name_and_labels(
        self, provider: Provider, creation: Creation
    ) -> None:
        guest, spec = creation.guest, creation.spec
        if creation.seconds > self.create_timeout:
            fail(
                f"create_guest: expected to return within {self.create_timeout:g} s (as soon "
                f"as the cloud accepted the request and the id is known), took "
                f"{creation.seconds:.1f} s"
            )
        if guest.state is not model.GuestState.BUILDING:
            fail(
                "create_guest: expected BUILDING (return as soon as the cloud accepted the "
                "request and the id is known; poll() reports READY later), saw "
                f"{guest.state.name}"
            )
        if not guest.id:
            fail("create_guest: expected the guest's id, saw an empty one")
        if guest.name != spec.name:
            fail(f"create_guest: Guest.name must be the spec's {spec.name!r}, saw {guest.name!r}")
        missing = {k: v for k, v in spec.labels.items() if guest.labels.get(k) != v}
        if missing:
            fail(
                f"create_guest: Guest.labels must carry the spec's labels; missing or "
                f"different: {missing}, saw {dict(guest.labels)}"
            )
        self.assert_named(provider, guest, "create_guest")

    def test_poll_reaches_ready_with_a_mac(self, provider: Provider, created: model.Guest) -> None:
        ready = self.wait_for(provider, created.id, model.GuestState.READY)
        if not ready.macs:
            fail("poll: a READY guest has at least one MAC address, saw none")
        bad = [mac for mac in ready.macs if not model.MAC_ADDRESS.match(mac)]
        if bad:
            fail(f"poll: MAC addresses are written aa:bb:cc:dd:ee:ff (lower case), saw {bad}")
        if ready.name != created.name:
            fail(f"poll: Guest.name must stay {created.name!r}, saw {ready.name!r}")
        self.assert_named(provider, ready, "poll")

    def test_start_and_stop(self, provider: Provider, created: model.Guest) -> None:
        self.wait_for(provider, created.id, model.GuestState.READY)
        provider.start_guest(created.id)
        self.wait_for(provider, created.id, model.GuestState.RUNNING, after="start_guest")
        provider.stop_guest(created.id)
        self.wait_for(provider, created.id, model.GuestState.STOPPED, after="stop_guest")

    def test_destroy_is_idempotent_and_frees_capacity(
        self, provider: Provider, flavor: model.Flavor
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
                if time.monotonic() >= deadline:
                    fail(
                        f"capacity(): a created guest must take up capacity; instances "
                        f"{before.instances} before create_guest, {during.instances} "
                        f"{self.ready_timeout:g} s after"
                    )
                self.pause()
        finally:
            # accepted: the guest may still be there (being deleted) when this returns
            left = list(provider.destroy_guest(guest.id) or ())
        try:
            left += provider.destroy_guest(guest.id) or ()
        except Exception as exc:
            fail(
                "destroy_guest: destroying a guest that is already gone must succeed "
                f"silently (idempotent); the second destroy raised {type(exc).__name__}: {exc}"
            )
        deadline = time.monotonic() + self.ready_timeout
        while (seen := provider.poll([guest.id]).get(guest.id)) is not None:
            if time.monotonic() >= deadline:
                fail(
                    f"destroy_guest: expected the guest gone from poll() within "
                    f"{self.ready_timeout:g} s, saw it {seen.state.name}"
                )
            self.pause()
        for resource in left:  # what can only go once the guest is gone, twice: silent
            provider.destroy_resource(resource)
        after = provider.capacity()
        for figure in ("instances", "ram_mib"):
            was, now = getattr(before, figure), getattr(after, figure)
            if was is not None and now is not None and was != now:
                fail(
                    f"destroy_guest: expected capacity().{figure} back to {was} once the "
                    f"guest is gone (destroy frees what create took), saw {now}"
                )

    # -- finding guests again --------------------------------------------------------------

    def test_list_guests_finds_ours_by_prefix(
        self, provider: Provider, created: model.Guest
    ) -> None:
        prefix = self.name_prefix
        listed = list(provider.list_guests(prefix))
        found = {guest.id: guest for guest in listed}
        if created.id not in found:
            names = sorted(g.name for g in listed)
            fail(f"list_guests({prefix!r}): expected the guest {created.name!r}, saw {names}")
        for guest in listed:
            if not guest.name.startswith(prefix):
                fail(f"list_guests({prefix!r}): returned {guest.name!r}, not of that prefix")
            self.check_pool_label(guest, f"list_guests({prefix!r})")
            self.assert_named(provider, guest, "list_guests")
        if found[created.id].labels.get(model.LABEL_POOL) != POOL:
            fail(
                f"list_guests({prefix!r}): the guest's {model.LABEL_POOL} label must be {POOL!r}, "
                f"saw {dict(found[created.id].labels)}"
            )
        other = [g.name for g in provider.list_guests("no-such-prefix-") if g.id == created.id]
        if other:
            fail(f"list_guests('no-such-prefix-'): returned {other[0]!r}, not of that prefix")

    def check_pool_label(self, guest: model.Guest, method: str) -> None:
        if model.LABEL_POOL not in guest.labels:
            fail(
                f"{method}: returned {guest.name!r}, which has no {model.LABEL_POOL} label: list "
                "only guests that carry it (a sweeper deletes the unowned guests it is shown)"
            )

    def test_list_guests_skips_guests_without_the_pool_label(
        self, provider: Provider, flavor: model.Flavor
    ) -> None:
        """A guest of the prefix made by someone else (no ``virtprov-pool``) is not listed."""
        spec = model.GuestSpec(name=f"{self.name_prefix}unlabelled-9400", flavor=flavor)
        guest = provider.create_guest(spec)
        try:
            for listed in provider.list_guests(self.name_prefix):
                self.check_pool_label(listed, f"list_guests({self.name_prefix!r})")
        finally:
            self.destroy(provider, guest.id)

    def test_unknown_guests(self, provider: Provider) -> None:
        try:
            provider.start_guest(UNKNOWN_ID)
        except GuestNotFound as exc:
            self.assert_no_secret(f"{exc} {exc!r}", "start_guest(unknown id): the GuestNotFound")
        except Exception as exc:
            fail(
                "start_guest(unknown id): expected GuestNotFound, raised "
                f"{type(exc).__name__}: {exc}"
            )
        else:
            fail("start_guest(unknown id): expected GuestNotFound, returned without raising")
        seen = provider.poll([UNKNOWN_ID]).get(UNKNOWN_ID)
        if seen is not None:
            fail(
                "poll([unknown id]): an id the cloud does not know must be absent from the "
                f"result, saw it {seen.state.name}"
            )
        try:
            left = provider.destroy_guest(UNKNOWN_ID)
        except Exception as exc:
            fail(
                "destroy_guest(unknown id): must succeed silently (gone already is fine: "
                f"idempotent), raised {type(exc).__name__}: {exc}"
            )
        if left:
            fail(f"destroy_guest(unknown id): a guest gone already leaves nothing, returned {left}")

    def test_console_output(self, provider: Provider, created: model.Guest) -> None:
        self.wait_for(provider, created.id, model.GuestState.READY)
        output = provider.console_output(created.id)
        if not isinstance(output, model.ConsoleOutput) or not isinstance(output.text, str):
            fail(f"console_output: expected a ConsoleOutput with text, saw {output!r}")

    # -- construction from virtprov.toml ---------------------------------------------------

    @pytest.fixture
    def configured(self) -> None:
        """Skip unless :attr:`config` is set."""
        if self.config is None:
            pytest.skip(
                f"{type(self).__name__}.config is not set: construction from virtprov.toml "
                "is not tested"
            )

    def test_from_config_builds_the_configured_provider(self, configured: None) -> None:
        provider = self.build_from_config()
        try:
            info = provider.info
            if (info.name, info.lab) != (CONFIG_NAME, CONFIG_LAB):
                fail(
                    f"from_config: info must say the table's name and lab "
                    f"({CONFIG_NAME!r}, {CONFIG_LAB!r}), saw ({info.name!r}, {info.lab!r})"
                )
        finally:
            provider.close()

    def test_from_config_refuses_unknown_options(self, configured: None) -> None:
        key = f"providers.{CONFIG_NAME}.{UNKNOWN_OPTION}"
        try:
            provider = self.build_from_config(f"{UNKNOWN_OPTION} = true\n")
        except ConfigError as exc:
            self.assert_no_secret(f"{exc} {exc!r}", "from_config: the ConfigError")
            if key not in str(exc):
                fail(f"from_config: the error for an unknown option must name {key}, said: {exc}")
            return
        provider.close()
        fail(
            f"from_config: the unknown option {key} was accepted; read every option through "
            "config.options and call config.options.finish() at the end"
        )

    def test_from_config_is_offline(self, configured: None) -> None:
        """Construction is cheap and offline: the cloud is contacted on the first call."""
        with _no_connections() as attempts:
            provider = self.build_from_config()
        provider.close()
        if attempts:
            fail(
                f"from_config: made {attempts[0]} while building the provider; construction "
                "must be offline (connect on the first call that needs the cloud)"
            )

    @pytest.fixture
    def with_secrets(self) -> None:
        """Skip unless :attr:`secrets` is set."""
        if not self.secrets:
            pytest.skip(f"{type(self).__name__}.secrets is not set: no secret to look for")

    def test_secrets_stay_out_of_repr_and_str(self, with_secrets: None, provider: Provider) -> None:
        self.assert_no_secret(repr(provider), "repr(provider)")
        self.assert_no_secret(str(provider), "str(provider)")
        self.assert_no_secret(repr(provider.info), "repr(provider.info)")

    # -- checks a subclass turns on with a knob (clouds that can show them) ---------------

    @pytest.fixture
    def unplaceable(self) -> str:
        """The knob :attr:`unplaceable_flavor`; skips before any other fixture when unset."""
        if self.unplaceable_flavor is None:
            pytest.skip("set unplaceable_flavor to a flavor the cloud cannot place")
        return self.unplaceable_flavor

    @pytest.fixture
    def chosen_network(self) -> tuple[str, str]:
        """The knob :attr:`network_choice`; skips before any other fixture when unset."""
        if self.network_choice is None:
            pytest.skip("set network_choice to a network and its CIDR")
        return self.network_choice

    def test_a_guest_the_cloud_cannot_place_is_a_capacity_fault(
        self, unplaceable: str, provider: Provider
    ) -> None:
        """A build the cloud cannot place (Nova's "No valid host was found", EC2's
        ``InsufficientInstanceCapacity``) must read as ``CapacityExhausted``: refused at
        create, or a guest in ``ERROR`` whose fault :meth:`~virtprov.Provider.classify_fault`
        calls so. Anything else makes the pool rebuild on this provider instead of trying
        the next one."""
        flavors = [f for f in provider.flavors() if unplaceable in (f.id, f.name)]
        assert flavors, f"unplaceable_flavor {unplaceable!r} is not among the provider's flavors"
        try:
            guest = provider.create_guest(self.spec(flavors[0], 9320))
        except CapacityExhausted:
            return  # refused at once: the pool tries the next provider just the same
        try:
            deadline = time.monotonic() + self.ready_timeout
            while True:
                seen = provider.poll([guest.id]).get(guest.id)
                assert seen is not None, (
                    "a guest that could not be placed must show ERROR, not vanish"
                )
                if seen.state is model.GuestState.ERROR:
                    break
                assert seen.state is model.GuestState.BUILDING, (
                    f"a guest the cloud cannot place became {seen.state.value}"
                )
                assert time.monotonic() < deadline, "the unplaceable guest never failed"
                if self.poll_interval:
                    time.sleep(self.poll_interval)
            assert seen.fault, "a guest in ERROR says why (Guest.fault)"
            kind = provider.classify_fault(seen)
            assert issubclass(kind, CapacityExhausted), (
                f"classify_fault says {kind.__name__} for {seen.fault!r}: the pool would try "
                "this provider again instead of the next one"
            )
        finally:
            self.destroy(provider, guest.id)

    def test_network_choice_puts_the_guest_on_that_network(
        self, chosen_network: tuple[str, str], provider: Provider, flavor: model.Flavor
    ) -> None:
        """``GuestSpec.network`` names the network the guest joins; a name that matches
        nothing fails that create with a :class:`~virtprov.errors.ProviderError` naming
        it, makes nothing, and is not a ``PermanentError`` (a recipe's typo must not
        disable the provider for every other recipe)."""
        name, cidr = chosen_network
        guest = provider.create_guest(evolve(self.spec(flavor, 9310), network=name))
        try:
            ready = self.wait_for(provider, guest.id, model.GuestState.READY)
            inside = [
                a for a in ready.addresses if ipaddress.ip_address(a) in ipaddress.ip_network(cidr)
            ]
            assert inside, f"asked for network {name} ({cidr}), the guest has {ready.addresses}"
        finally:
            self.destroy(provider, guest.id)
        missing = f"{name}-does-not-exist"
        lost = evolve(self.spec(flavor, 9311), network=missing)
        with pytest.raises(ProviderError, match=re.escape(missing)) as refused:
            provider.create_guest(lost)
        assert not isinstance(refused.value, PermanentError), (
            f"an unknown network of one guest disabled the provider: {refused.value}"
        )
        assert lost.name not in {g.name for g in provider.list_guests(self.name_prefix)}

    # -- owned resources (providers that make more than the guest) -------------------------

    @pytest.fixture
    def owns_resources(self, provider: Provider) -> None:
        """Skip (before any guest is made) unless the provider lists owned resources."""
        if type(provider).list_resources is Provider.list_resources:
            pytest.skip(f"{type(provider).__name__} makes nothing but guests")

    def resources_of(self, provider: Provider, guest: model.Guest) -> list[model.OwnedResource]:
        return [r for r in provider.list_resources(self.name_prefix) if r.guest == guest.name]

    def test_owned_resources_carry_their_guest_and_its_labels(
        self, provider: Provider, owns_resources: None, created: model.Guest
    ) -> None:
        method = f"list_resources({self.name_prefix!r})"
        listed = provider.list_resources(self.name_prefix)
        for resource in listed:
            if (
                not isinstance(resource, model.OwnedResource)
                or not resource.kind
                or not resource.id
            ):
                fail(f"{method}: expected OwnedResources with a kind and an id, saw {resource!r}")
            if resource.provider != provider.info.name:
                fail(
                    f"{method}: OwnedResource.provider must be the provider's name "
                    f"{provider.info.name!r}, saw {resource.provider!r}"
                )
            if not resource.guest.startswith(self.name_prefix):
                fail(f"{method}: returned a resource of {resource.guest!r}, not of that prefix")
            # labelled, or (where the cloud keeps no labels) none at all: never a guess
            if resource.labels and model.LABEL_POOL not in resource.labels:
                fail(f"{method}: returned {resource.kind} {resource.id} without {model.LABEL_POOL}")
        if len({(r.kind, r.id) for r in listed}) != len(listed):
            fail(f"{method}: each resource must be listed once, saw {listed}")
        for resource in [r for r in listed if r.guest == created.name and r.labels]:
            if resource.labels.get(model.LABEL_POOL) != POOL or resource.labels.get(
                model.LABEL_RECIPE
            ) != created.labels.get(model.LABEL_RECIPE):
                fail(
                    f"{method}: {resource.kind} {resource.id} must carry its guest's labels "
                    f"{dict(created.labels)}, saw {dict(resource.labels)}"
                )

    def test_destroy_removes_the_owned_resources_and_destroy_resource_is_idempotent(
        self, provider: Provider, owns_resources: None, flavor: model.Flavor
    ) -> None:
        """What ``destroy_guest`` does not delete at once it returns; once the guest is
        gone and those are deleted, nothing of the guest is left."""
        guest = provider.create_guest(self.spec(flavor, 9200))
        try:
            made = self.resources_of(provider, guest)
        finally:
            self.destroy(provider, guest.id)
        deadline = time.monotonic() + self.ready_timeout
        while left := self.resources_of(provider, guest):
            if time.monotonic() >= deadline:
                fail(
                    "destroy_guest: must remove what was made for the guest (what it "
                    f"returned: once the guest is gone), left {left}"
                )
            self.pause()
        for resource in made:
            try:
                provider.destroy_resource(resource)
            except Exception as exc:
                fail(
                    f"destroy_resource: a resource already gone must succeed silently "
                    f"(idempotent), raised {type(exc).__name__}: {exc}"
                )

    # -- image boot -------------------------------------------------------------------

    @pytest.fixture
    def boot_image(self) -> str:
        """The image of the image-boot test; skips before any other fixture when unset."""
        if self.image is None:
            pytest.skip(f"{type(self).__name__}.image is not set: no image to boot")
        return self.image

    def test_image_boot_runs_with_an_address(
        self, boot_image: str, provider: Provider, flavor: model.Flavor
    ) -> None:
        """An :class:`ImageBoot` guest runs with an address; destroy removes it all."""
        boot = model.ImageBoot(
            boot_image, user_data=CONFORMANCE_USER_DATA, ssh_public_keys=(CONFORMANCE_KEY,)
        )
        guest = provider.create_guest(attrs.evolve(self.spec(flavor, 9300), boot=boot))
        try:
            assert guest.state in (
                model.GuestState.BUILDING,
                model.GuestState.READY,
                model.GuestState.RUNNING,
            )
            started = False
            deadline = time.monotonic() + self.ready_timeout
            while True:
                seen = provider.poll([guest.id]).get(guest.id)
                assert seen is not None, "the guest vanished while booting"
                assert seen.state is not model.GuestState.ERROR, f"guest failed: {seen.fault}"
                if seen.state is model.GuestState.RUNNING and seen.addresses:
                    break
                if seen.state in (model.GuestState.READY, model.GuestState.STOPPED) and not started:
                    provider.start_guest(guest.id)  # a cloud that creates it powered off
                    started = True
                assert time.monotonic() < deadline, f"still {seen.state} without an address"
                if self.poll_interval:
                    time.sleep(self.poll_interval)
            assert seen.name == guest.name
            assert seen.labels[model.LABEL_POOL] == POOL
        finally:
            self.destroy(provider, guest.id)
        deadline = time.monotonic() + self.ready_timeout
        while guest.id in provider.poll([guest.id]):
            assert time.monotonic() < deadline, "a destroyed guest must disappear"
            self.pause()


def _record_text(record: logging.LogRecord) -> str:
    """Everything a log record would print: its message, arguments and traceback."""
    try:
        text = record.getMessage()
    except Exception:  # a record whose arguments do not fit its format
        text = f"{record.msg} {record.args}"
    if record.exc_info:
        text += logging.Formatter().formatException(record.exc_info)
    return text


@contextlib.contextmanager
def _no_connections() -> Iterator[list[str]]:
    """Record (and refuse) every network connection and name lookup in the block."""
    attempts: list[str] = []

    def refuse(what: str) -> OSError:
        attempts.append(what)
        return OSError(f"the conformance suite refuses network access here ({what})")

    def connect(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            raise refuse(f"a connection to {address}")
        real_connect(sock, address)

    def lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        raise refuse(f"a name lookup of {host!r}")

    real_connect = socket.socket.connect
    with (
        mock.patch.object(socket.socket, "connect", connect),
        mock.patch.object(socket.socket, "connect_ex", connect),
        mock.patch.object(socket, "getaddrinfo", lookup),
    ):
        yield attempts
