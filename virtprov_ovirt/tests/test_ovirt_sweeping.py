"""What an oVirt guest can leave behind (a disk its VM's removal did not take), and
``Retry-After`` on a 503.

Composed (``VIRTPROV_OVIRT_RECOMPOSE=1``) against the engine imitation, like every oVirt
cassette: its disk collection and disk search, a VM removal that fails to remove its
image, disks already on the engine that no VM uses, and an injected 503. Against a live
engine these tests skip (a failed image removal cannot be asked for).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ovirt_engine import Engine
from test_ovirt_provider import SMALL, wait
from virtprov_ovirt.naming import encode_labels

from virtprov.config import Defaults
from virtprov.errors import TransientError
from virtprov.model import LABEL_POOL, LABEL_RECIPE, GuestSpec, GuestState
from virtprov.pool import Pool, PoolSettings

#: A Retry-After far enough ahead that a replay years from now still waits.
LATER = "Fri, 31 Dec 2999 23:59:59 GMT"
#: A fault the engine's web application answers while it cannot serve.
UNAVAILABLE = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    "<fault>\n    <detail>[Service Unavailable]</detail>\n    <reason>Error</reason>\n</fault>\n"
)


def test_a_disk_its_vm_left_is_swept_two_sweeps_later(engine: Engine) -> None:
    engine.needs_imitation()
    # Disks no VM uses that were there before: another pool's leftover, one made by hand.
    engine.float_disk(
        "vpsweep-recipe-2_disk0", encode_labels({LABEL_POOL: "elsewhere", LABEL_RECIPE: "2"})
    )
    engine.float_disk("vpsweep-scratch", "made by hand")
    provider = engine.provider()
    spec = GuestSpec.for_recipe(1, SMALL, pool="vpsweep", prefix="vpsweep-")
    guest = provider.create_guest(spec)
    wait(provider, guest.id, GuestState.READY)
    # A disk still attached to its VM is not listed, whoever made it.
    assert [r.name for r in provider.list_resources("vpsweep-")] == ["vpsweep-recipe-2_disk0"]

    # The engine removes the VM and fails to remove its image: the disk stays, illegal.
    engine.fail_image_removals()
    provider.destroy_guest(guest.id)
    assert provider.poll([guest.id]) == {}
    listed = provider.list_resources("vpsweep-")
    assert [(r.kind, r.name, r.guest, r.labels[LABEL_POOL]) for r in listed] == [
        ("disk", "vpsweep-recipe-1_disk0", "vpsweep-recipe-1", "vpsweep"),
        ("disk", "vpsweep-recipe-2_disk0", "vpsweep-recipe-2", "elsewhere"),
    ]
    sweeper = Pool(
        {"rhv": provider},
        settings=PoolSettings(name="vpsweep", launcher="sweep-test"),
        defaults=Defaults(guest_name_prefix="vpsweep-"),
        journal="sqlite://",
        start=False,
    )
    try:
        first = sweeper.sweep()
        assert [(o.name, o.deleted) for o in first.orphan_resources] == [
            ("vpsweep-recipe-1_disk0", False)
        ]
        second = sweeper.sweep()
        assert second.errors == ()
        assert [(o.name, o.deleted) for o in second.orphan_resources] == [
            ("vpsweep-recipe-1_disk0", True)
        ]
    finally:
        sweeper.journal.close()
    provider.destroy_resource(listed[0])  # gone already (404): silent
    assert [r.name for r in provider.list_resources("vpsweep-")] == ["vpsweep-recipe-2_disk0"]


def test_503_retry_after_in_both_forms(engine: Engine) -> None:
    engine.needs_imitation()
    for after in ("120", LATER):
        engine.inject(
            "GET", "/ovirt-engine/api/datacenters", 503, UNAVAILABLE, {"Retry-After": after}
        )
    provider = engine.provider()
    with pytest.raises(TransientError) as seconds:
        provider.capacity()
    assert seconds.value.retry_after == 120.0
    with pytest.raises(TransientError) as date:
        provider.capacity()
    expected = (datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC) - datetime.now(UTC)).total_seconds()
    assert date.value.retry_after is not None
    assert abs(date.value.retry_after - expected) < 60


def test_only_prefixes_the_engine_search_can_carry(engine: Engine) -> None:
    with pytest.raises(ValueError, match="letters, digits"):
        engine.provider().list_resources("beaker- or name=*")
