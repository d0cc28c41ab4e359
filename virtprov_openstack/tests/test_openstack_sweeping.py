"""What an OpenStack guest owns besides its server, found and swept; ``Retry-After``.

The sweep test runs against recorded traffic (its cassette comes from the reference
OpenStack) and, as ``test_live_a_dead_destroy_leaves_nothing_after_two_sweeps`` in
``test_openstack_live.py``, against a live cloud.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests
from openstack import exceptions as sdk
from openstack_testenv import LIVE_TIMEOUT, POLL_PAUSE, destroy, live_cloud, minicloud_options
from test_openstack_provider import IMAGE_KEYS, cheapest
from virtprov_openstack.errors import translate
from virtprov_openstack.provider import OpenStackProvider, _description, _owner

from virtprov import errors
from virtprov.config import Defaults
from virtprov.model import LABEL_POOL, LABEL_RECIPE, GuestSpec, OwnedResource
from virtprov.pool import Pool, PoolSettings

#: What floating mode makes for every guest, in the order a sweep deletes it.
PER_GUEST = ["floating_ip", "port", "router", "subnet", "network"]


def answer(status: int, **headers: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)
    response.raw = io.BytesIO(b"{}")  # what .content and .json() read
    return response


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_both_forms(status: int) -> None:
    in_seconds = translate(
        sdk.HttpException(message="slow down", response=answer(status, **{"Retry-After": "12"})),
        provider="os",
        action="creating the server",
    )
    assert isinstance(in_seconds, errors.TransientError)
    assert in_seconds.retry_after == 12.0
    date = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    as_date = translate(
        sdk.HttpException(message="slow down", response=answer(status, **{"Retry-After": date})),
        provider="os",
        action="creating the server",
    )
    assert isinstance(as_date, errors.TransientError)
    assert as_date.retry_after is not None
    assert 80.0 <= as_date.retry_after <= 90.0
    absent = translate(
        sdk.HttpException(message="down", response=answer(status)), provider="os", action="x"
    )
    assert isinstance(absent, errors.TransientError)
    assert absent.retry_after is None


def test_descriptions_name_the_guest_and_carry_its_labels() -> None:
    labels = {LABEL_POOL: "lab-pool", LABEL_RECIPE: "12", "virtprov-owner": "Jane Doe"}
    described = _description(labels, "beaker-recipe-12")
    assert _owner(described) == ("beaker-recipe-12", labels)
    assert _owner("a network someone else made") is None
    assert _owner(None) is None
    # Cut at Neutron's 255 characters: the name and the pool label survive.
    long = _description({**labels, LABEL_RECIPE: "9" * 300}, "beaker-recipe-9")
    owner = _owner(long)
    assert owner is not None
    assert owner[0] == "beaker-recipe-9"
    assert owner[1][LABEL_POOL] == "lab-pool"


def leak_and_sweep(provider: OpenStackProvider, recipe: str) -> None:
    """A destroy whose caller dies once the server is deleted, before it deletes what the
    server left: two sweeps later nothing is left."""
    prefix, pool = "vpsweep-", "vpsweep"
    spec = GuestSpec.for_recipe(recipe, cheapest(provider), pool=pool, prefix=prefix)
    guest = provider.create_guest(spec)
    made = [r for r in provider.list_resources(prefix) if r.guest == guest.name]
    assert [r.kind for r in made] == PER_GUEST
    assert all(r.labels == {LABEL_POOL: pool, LABEL_RECIPE: recipe} for r in made)

    provider.destroy_guest(guest.id)  # accepted; what it returns is never deleted
    deadline = time.monotonic() + LIVE_TIMEOUT
    while provider.poll([guest.id]):
        assert time.monotonic() < deadline, "the server was never deleted"
        time.sleep(POLL_PAUSE)
    left = [r for r in provider.list_resources(prefix) if r.guest == guest.name]
    assert [(r.kind, r.id) for r in left] == [(r.kind, r.id) for r in made]

    sweeper = Pool(
        {provider.info.name: provider},
        settings=PoolSettings(name=pool, launcher="sweep-test"),
        defaults=Defaults(guest_name_prefix=prefix),
        journal="sqlite://",
        start=False,
    )
    try:
        first = sweeper.sweep()
        assert [(o.kind, o.sightings, o.deleted) for o in first.orphan_resources] == [
            (kind, 1, False) for kind in PER_GUEST
        ]
        second = sweeper.sweep()
        assert second.errors == ()
        assert [(o.kind, o.deleted) for o in second.orphan_resources] == [
            (kind, True) for kind in PER_GUEST
        ]
    finally:
        sweeper.journal.close()
    assert [r for r in provider.list_resources(prefix) if r.guest == guest.name] == []
    for resource in made:
        assert not exists(provider, resource), resource


def exists(provider: OpenStackProvider, resource: OwnedResource) -> bool:
    net_api = provider.conn.network
    find: dict[str, Callable[..., Any]] = {
        "floating_ip": net_api.get_ip,
        "port": net_api.get_port,
        "router": net_api.get_router,
        "subnet": net_api.get_subnet,
        "network": net_api.get_network,
    }
    try:
        find[resource.kind](resource.id)
    except sdk.NotFoundException:
        return False
    return True


@pytest.mark.vcr
def test_a_dead_destroy_leaves_nothing_after_two_sweeps(provider: OpenStackProvider) -> None:
    leak_and_sweep(provider, "501")


@pytest.mark.vcr
def test_a_fixed_mode_guest_owns_nothing_to_sweep(
    make_provider: Callable[..., OpenStackProvider],
) -> None:
    fixed = make_provider(network_mode="fixed")
    guest = fixed.create_guest(
        GuestSpec.for_recipe("502", cheapest(fixed), pool="vpsweep", prefix="vpsweep-")
    )
    try:
        assert [r for r in fixed.list_resources("vpsweep-") if r.guest == guest.name] == []
    finally:
        destroy(fixed, guest.id)


@pytest.mark.vcr
def test_key_pairs_named_after_guests_are_owned_and_removed(
    make_provider: Callable[..., OpenStackProvider],
) -> None:
    """An image-boot guest's key pair is named after it and carries nothing else: it is
    listed by its name, without labels (the sweeper then goes by its journal)."""
    # Composed with the loopback imitation at its address (cassettes/README.md); on a live
    # cloud against that cloud.
    provider = make_provider(**({} if live_cloud() else minicloud_options()))
    compute = provider.conn.compute
    compute.create_keypair(name="vpsweep-recipe-601", public_key=IMAGE_KEYS[0])  # as made
    compute.create_keypair(name="someone-elses", public_key=IMAGE_KEYS[1])
    try:
        pairs = [r for r in provider.list_resources("vpsweep-") if r.kind == "keypair"]
        assert pairs == [
            OwnedResource(
                provider=provider.info.name,
                kind="keypair",
                id="vpsweep-recipe-601",
                name="vpsweep-recipe-601",
                guest="vpsweep-recipe-601",
            )
        ]
        assert pairs[0].labels == {}
        provider.destroy_resource(pairs[0])
        provider.destroy_resource(pairs[0])  # gone already: silent
        assert [r for r in provider.list_resources("vpsweep-") if r.kind == "keypair"] == []
    finally:
        compute.delete_keypair("someone-elses", ignore_missing=True)
