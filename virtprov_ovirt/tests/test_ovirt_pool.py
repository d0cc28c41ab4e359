"""The pool drives the oVirt provider: a launch, a ready guest, its release (cassette)."""

from __future__ import annotations

import time

from ovirt_engine import Engine

from virtprov.pool import Limits, Pool, PoolSettings, Recipe, Status

SETTINGS = PoolSettings(
    launcher="test",
    poll_interval=0.0,
    # One capacity read per run, so that the replayed requests do not depend on timing.
    capacity_refresh=3600.0,
    default_limits=Limits(mutating=0.0, read=0.0),
)


def test_pool_launches_and_releases_a_guest(engine: Engine) -> None:
    provider = engine.provider()
    with Pool({"rhv": provider}, settings=SETTINGS, journal="sqlite://") as pool:
        outcome = pool.submit(Recipe(401, labs=["lab.example.com"], owner="jdoe")).wait(60)
        assert outcome is not None
        assert outcome.status is Status.SUCCEEDED, outcome
        assert outcome.guest is not None
        assert outcome.guest.name == "beaker-recipe-401"
        assert len(outcome.guest.macs) == 1
        assert outcome.provider == "rhv"
        pool.release(outcome)
        deadline = time.monotonic() + 60
        while pool.journal.guests_in(["live", "doomed", "destroyed"]):
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_pool_precludes_without_creating_anything(engine: Engine) -> None:
    vmx = "<hostRequires><cpu><flag value='vmx'/></cpu></hostRequires>"
    with Pool({"rhv": engine.provider()}, settings=SETTINGS, journal="sqlite://") as pool:
        outcome = pool.submit(Recipe(402, vmx)).wait(60)
    assert outcome is not None
    assert outcome.status is Status.PRECLUDED
    assert "cpu.flag" in outcome.reasons[0]
    # The pool read the engine's capacity; it asked it to make nothing.
    assert not [r for r in engine.server.requests if r.startswith("POST /ovirt-engine/api")]
