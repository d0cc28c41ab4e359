"""The pool drives the oVirt provider: a launch, a ready guest, its release (cassette)."""

from __future__ import annotations

from ovirt_engine import TEMPLATE, TEMPLATE_DATA_CENTER, Engine
from test_ovirt_image_boot import KEYS
from virtprov_testing.pool_roundtrip import REPLAY_SETTINGS, launch_and_release

from virtprov.model import GuestState, ImageBoot
from virtprov.pool import Pool, Recipe, Status


def test_pool_launches_and_releases_a_guest(engine: Engine) -> None:
    outcome = launch_and_release(
        engine.provider(), Recipe(401, labs=["lab.example.com"], owner="jdoe")
    )
    assert outcome.guest is not None
    assert outcome.guest.name == "beaker-recipe-401"
    assert len(outcome.guest.macs) == 1
    assert outcome.provider == "rhv"


def test_pool_precludes_without_creating_anything(engine: Engine) -> None:
    vmx = "<hostRequires><cpu><flag value='vmx'/></cpu></hostRequires>"
    with Pool({"rhv": engine.provider()}, settings=REPLAY_SETTINGS, journal="sqlite://") as pool:
        outcome = pool.submit(Recipe(402, vmx)).wait(60)
    assert outcome is not None
    assert outcome.status is Status.PRECLUDED
    assert "cpu.flag" in outcome.reasons[0]
    # The pool read the capacity and the instance types (one might have declared vmx);
    # it asked the engine to make nothing.
    assert not [r for r in engine.server.requests if r.startswith("POST /ovirt-engine/api")]


def test_pool_launches_an_image_boot_guest_running_with_an_address(engine: Engine) -> None:
    provider = engine.provider(data_centers=[TEMPLATE_DATA_CENTER])
    boot = ImageBoot(TEMPLATE, user_data="#cloud-config\n", ssh_public_keys=KEYS[:1])
    outcome = launch_and_release(provider, Recipe(403, labs=["lab.example.com"], boot=boot))
    assert outcome.guest is not None
    # Ready once its disks were copied, started by the pool, then running with the
    # address its guest agent reported.
    assert outcome.guest.state is GuestState.RUNNING
    assert outcome.guest.addresses == ("192.0.2.2", "2001:db8::1")
