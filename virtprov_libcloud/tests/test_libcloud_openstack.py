"""The libcloud provider through libcloud's own OpenStack driver, on the reference OpenStack.

Recorded from the reference OpenStack (real Keystone, Nova, Neutron; see
libcloud_openstack_env.py and cassettes/README.md) and replayed offline. The scenario
functions are run live, without cassettes, by test_libcloud_openstack_live.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from libcloud_openstack_env import (
    LIVE_TIMEOUT,
    POLL_PAUSE,
    SHARED_NETWORK,
    UNPLACEABLE,
    WRONG_USER,
)
from virtprov_libcloud.provider import LibcloudProvider
from virtprov_testing.conformance import ProviderConformance

from virtprov import errors
from virtprov.fake import FakeProvider, FaultPlan, ScriptedFault
from virtprov.model import Guest, GuestSpec, GuestState
from virtprov.pool import Limits, Pool, PoolSettings, Recipe, Status
from virtprov.provider import Provider

Make = Callable[..., LibcloudProvider]
LAB = "lab.example.com"
#: Pool settings for these tests: polls 0.5 s apart live (none replaying), one capacity
#: read per provider and run, no rate limits.
POOL_SETTINGS = PoolSettings(
    launcher="test",
    poll_interval=POLL_PAUSE,
    capacity_refresh=3600.0,
    default_limits=Limits(mutating=0.0, read=0.0),
)


def wait_for(provider: Provider, guest_id: str, state: GuestState) -> Guest:
    deadline = time.monotonic() + LIVE_TIMEOUT
    while True:
        guest = provider.poll([guest_id]).get(guest_id)
        assert guest is not None, f"{guest_id} vanished while waiting for {state}"
        assert guest.state is not GuestState.ERROR, guest.fault
        if guest.state is state:
            return guest
        assert time.monotonic() < deadline, f"still {guest.state} after {LIVE_TIMEOUT} s"
        time.sleep(POLL_PAUSE)


def wait_gone(provider: Provider, guest_id: str) -> None:
    deadline = time.monotonic() + LIVE_TIMEOUT
    while guest_id in provider.poll([guest_id]):
        assert time.monotonic() < deadline, f"{guest_id} still there after {LIVE_TIMEOUT} s"
        time.sleep(POLL_PAUSE)


def flavor(provider: Provider, name: str) -> Any:
    return next(f for f in provider.flavors() if f.name == name)


# -- scenarios (replayed here, run live by test_libcloud_openstack_live.py) -----------------


def life_on_two_networks(make: Make) -> None:
    """A project that sees two networks: naming none is Nova's 409, a permanent error that
    says which option to set; naming one by name gives a guest's whole life on it."""
    unset = make(network=None)
    small = flavor(unset, "m1.small")
    with pytest.raises(errors.PermanentError, match="Multiple possible networks found"):
        unset.create_guest(GuestSpec.for_recipe(601, small, pool="libcloud-os"))

    provider = make(network=SHARED_NETWORK[0])
    guest = provider.create_guest(GuestSpec.for_recipe(602, small, pool="libcloud-os"))
    try:
        assert guest.state is GuestState.BUILDING
        ready = wait_for(provider, guest.id, GuestState.READY)
        assert len(ready.macs) == 1
        assert any(a.startswith("198.51.100.") for a in ready.addresses), ready.addresses
        assert ready.flavor_id == small.id
        provider.start_guest(guest.id)
        wait_for(provider, guest.id, GuestState.RUNNING)
        provider.stop_guest(guest.id)
        wait_for(provider, guest.id, GuestState.STOPPED)
    finally:
        provider.destroy_guest(guest.id)
    provider.destroy_guest(guest.id)  # a second time is silent
    wait_gone(provider, guest.id)


def two_pollers_stop_once(
    make: Make, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Two provider objects (a restarted launcher, the CLI beside the pool) poll a freshly
    built guest. One stops it; the other, which saw it running a moment before, sends its
    stop too and gets Nova's 409 "... while it is in vm_state stopped": that is done, not
    a failed poll."""
    first, second = make(), make()
    guest = first.create_guest(GuestSpec.for_recipe(611, flavor(first, "m1.small"), pool="p"))
    try:
        # What the second poller listed: the server active, nothing under way.
        deadline = time.monotonic() + LIVE_TIMEOUT
        while True:
            listed = second._node_driver().list_nodes()
            mine = next(n for n in listed if n.id == guest.id)
            if mine.state == "running" and not mine.extra.get("task_state"):
                break
            assert time.monotonic() < deadline, "the server never became active"
            time.sleep(POLL_PAUSE)
        wait_for(first, guest.id, GuestState.READY)  # the first poller stopped it
        driver = second._node_driver()
        monkeypatch.setattr(driver, "list_nodes", lambda *a, **k: listed)
        with caplog.at_level(logging.INFO, logger="virtprov_libcloud"):
            assert second.poll([guest.id])[guest.id].state is GuestState.BUILDING
        # the 409 was recognised as done, not merely survived as a failure to retry
        assert not [r.message for r in caplog.records if "failed" in r.message]
        monkeypatch.undo()
        assert second.poll([guest.id])[guest.id].state is GuestState.READY
    finally:
        first.destroy_guest(guest.id)
    wait_gone(first, guest.id)


def no_valid_host_falls_through(make: Make) -> float:
    """A flavor no host can take: Nova's "No valid host was found" on the server is
    capacity, so the pool tries the next provider at once, and the recipe is skipped when
    that one has no room either. Returns the seconds from submit to the answer."""
    cloud = make(sizes=["5"])  # m1.xlarge only: 16 vCPUs, the hypervisor has 8
    fallback = FakeProvider(
        name="fallback", lab=LAB, faults=FaultPlan(script=(ScriptedFault("create", 1, "capacity"),))
    )
    providers = {"os-libcloud": cloud, "fallback": fallback}
    with Pool(providers, settings=POOL_SETTINGS, journal="sqlite://") as pool:
        started = time.monotonic()
        outcome = pool.submit(Recipe(621, labs=[LAB])).wait(60.0)
        took = time.monotonic() - started
        assert outcome is not None
        assert outcome.status is Status.SKIPPED, outcome
        # one reason per provider, in the order the pool tried them (which a pool may
        # choose): each was tried and passed on, none retried
        reasons = {reason.split(":", 1)[0]: reason for reason in outcome.reasons}
        assert len(outcome.reasons) == 2, outcome.reasons
        assert reasons["os-libcloud"].startswith("os-libcloud: No valid host was found")
        assert reasons["fallback"].startswith("fallback: Quota exceeded")
        assert [c.operation for c in fallback.calls if c.operation == "create"] == ["create"]
        # the failed server is destroyed, and gone, before the pool closes
        deadline = time.monotonic() + LIVE_TIMEOUT
        while pool.journal.guests_in(["creating", "live", "doomed", "destroyed"], "os-libcloud"):
            assert time.monotonic() < deadline, "the failed server was not destroyed"
            time.sleep(0.05)
    return took


def bad_credentials_disable(make: Make) -> str:
    """Keystone refuses the user: the pool's first capacity read (the provider's health
    call) disables the provider with the reason. Returns the reason."""
    provider = make(fault=WRONG_USER)
    with Pool({"os-libcloud": provider}, settings=POOL_SETTINGS, journal="sqlite://") as pool:
        deadline = time.monotonic() + 30.0
        while "os-libcloud" not in pool.journal.disabled_providers():
            assert time.monotonic() < deadline, "bad credentials did not disable the provider"
            time.sleep(0.05)
        return pool.journal.disabled_providers()["os-libcloud"]


# -- replayed -------------------------------------------------------------------------------


class LibcloudOpenStackConformance(ProviderConformance):
    """The conformance suite on the reference OpenStack: replayed below, run live by
    test_libcloud_openstack_live.py, each with its own poll interval and name prefix."""

    ready_timeout = LIVE_TIMEOUT
    unplaceable_flavor = UNPLACEABLE
    network_choice = SHARED_NETWORK

    @pytest.fixture
    def provider(self, make_openstack: Make) -> LibcloudProvider:
        return make_openstack()


@pytest.mark.vcr
class TestLibcloudOpenStackConformance(LibcloudOpenStackConformance):
    poll_interval = POLL_PAUSE
    name_prefix = "vplc-"


@pytest.mark.vcr
def test_a_guest_life_on_a_project_that_sees_two_networks(make_openstack: Make) -> None:
    life_on_two_networks(make_openstack)


@pytest.mark.vcr
def test_two_pollers_stop_a_built_guest_once(
    make_openstack: Make, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    two_pollers_stop_once(make_openstack, monkeypatch, caplog)


@pytest.mark.vcr
def test_no_valid_host_is_skipped_through_the_next_provider(make_openstack: Make) -> None:
    assert no_valid_host_falls_through(make_openstack) < 10.0


@pytest.mark.vcr
def test_bad_credentials_disable_the_provider(make_openstack: Make) -> None:
    reason = bad_credentials_disable(make_openstack)
    assert "refused the credentials" in reason, reason


@pytest.mark.vcr
def test_flavors_declare_what_their_extra_specs_say(make_openstack: Make) -> None:
    flavors = {f.name: f for f in make_openstack().flavors()}
    assert "m1.retired" not in flavors  # disabled by its operators
    assert flavors["m1.medium"].arch == "x86_64"  # hw:architecture
    assert flavors["m1.tiny"].arch is None  # says nothing: any the provider offers
    nested = flavors["m1.nested"].properties
    assert set(nested["cpu.flag"].split()) == {"vmx", "avx2"}  # traits
    assert nested["virtualization.is-supported"] == "true"
    assert nested["tpm.version"] == "2.0"
    assert nested["boot.method"] == "uefi"  # os:secure_boot
    assert nested["system.numa-nodes"] == "2"  # virtprov:system.numa-nodes


@pytest.mark.vcr
def test_a_vmx_recipe_gets_the_flavor_that_declares_it(make_openstack: Make) -> None:
    from virtprov.hostrequires import Target, parse

    provider = make_openstack()
    flavors = provider.declared_flavors()  # no flavor_properties in the configuration
    recipe = parse('<hostRequires><cpu><flag value="vmx"/></cpu></hostRequires>')
    target = Target.from_info(provider.info, flavors)
    assert recipe.virtualisable(target)
    match = recipe.match(flavors, target)
    assert match.chosen is not None, match.reasons
    assert match.chosen.name == "m1.nested"
