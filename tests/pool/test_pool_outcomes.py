"""The pool on the fake provider: each outcome, provider choice, fallback, rollback."""

from __future__ import annotations

import time

import pytest
from pool_helpers import VMX, Recorder, fast_pool, launched, scripted, wait_for, wait_gone

from virtprov.fake import FakeProvider
from virtprov.fake.faults import FaultPlan, Latency
from virtprov.model import LABEL_POOL, LABEL_RECIPE, GuestState, KernelBoot
from virtprov.pool import Recipe, Status


def test_succeeded_guest_is_ready_with_mac_and_labels(journal_url: str) -> None:
    fake = FakeProvider(latency=Latency(build=0.05))
    with fast_pool({"fake": fake}, journal=journal_url) as pool:
        outcome = pool.submit(Recipe(7, owner="jdoe")).wait(10)
        assert outcome is not None
        assert outcome.status is Status.SUCCEEDED
        assert outcome.guest is not None
        assert outcome.guest.state is GuestState.READY
        assert outcome.guest.macs
        assert outcome.guest.name.endswith("recipe-7")
        assert outcome.guest.labels[LABEL_POOL] == "virtprov"
        assert outcome.guest.labels[LABEL_RECIPE] == "7"
        assert outcome.guest.labels["virtprov-owner"] == "jdoe"
        assert outcome.provider == "fake"
        # the cheapest flavor at or above the floor (default_guest_disk_size: 20 GiB)
        assert outcome.flavor_id == "fake-medium"
        assert fake.all_guest_ids() == [outcome.guest.id]


def test_precluded_says_why_and_makes_nothing() -> None:
    fake = FakeProvider()
    with fast_pool({"fake": fake}) as pool:
        vmx = pool.submit(Recipe(1, VMX)).wait(10)
        lab = pool.submit(Recipe(2, labs=["lab.elsewhere.example.com"])).wait(10)
        broken = pool.submit(Recipe(3, "<hostRequires><and>")).wait(10)
    assert vmx is not None
    assert vmx.status is Status.PRECLUDED
    assert "cpu.flag" in vmx.reasons[0]
    assert lab is not None
    assert lab.status is Status.PRECLUDED
    assert lab.reasons == ("no provider serves lab lab.elsewhere.example.com",)
    assert broken is not None
    assert broken.status is Status.PRECLUDED
    assert broken.reasons[0].startswith("hostRequires:")
    assert fake.all_guest_ids() == []
    assert [c.operation for c in fake.calls if c.operation == "create"] == []


def test_tmt_requirements_and_declared_properties_reach_the_pool() -> None:
    """A flavor declaring vmx takes a nested-virt recipe, in either language; without a
    declaration it is precluded with the same kind of reason."""
    plain = FakeProvider()
    declaring = FakeProvider()
    declaring.declarations = {"fake.large": {"cpu.flag": "vmx"}}
    nested = {"cpu": {"flag": ["vmx"]}}
    with fast_pool({"plain": plain}) as pool:
        tmt = pool.submit(Recipe(1, hardware=nested)).wait(10)
        bad = pool.submit(Recipe(2, hardware="memory: lots")).wait(10)
    assert tmt is not None
    assert tmt.status is Status.PRECLUDED
    assert tmt.reasons == (
        "plain: hardware.cpu.flag: vmx: a virtual machine cannot satisfy a cpu.flag "
        "requirement: no flavor here declares cpu.flag",
    )
    assert bad is not None
    assert bad.reasons[0].startswith("hardware: hardware.memory at line 1:")
    with fast_pool({"declaring": declaring}) as pool:
        tmt = pool.submit(Recipe(3, hardware=nested)).wait(10)
        xml = pool.submit(Recipe(4, VMX)).wait(10)
    for outcome in (tmt, xml):
        assert outcome is not None
        assert outcome.status is Status.SUCCEEDED, outcome.reasons
        assert outcome.guest is not None
        assert outcome.guest.flavor_id == "fake-large"
    with pytest.raises(ValueError, match="not both"):
        Recipe(5, VMX, hardware=nested)


def test_skipped_when_no_capacity_anywhere() -> None:
    fake = FakeProvider(instances=1)
    with fast_pool({"fake": fake}) as pool:
        first = pool.submit(Recipe(1)).wait(10)
        second = pool.submit(Recipe(2)).wait(10)
    assert first is not None
    assert first.status is Status.SUCCEEDED
    assert second is not None
    assert second.status is Status.SKIPPED
    assert second.reasons == ("fake: not enough capacity for fake.medium",)


def test_capacity_refused_at_create_moves_to_the_next_provider() -> None:
    full = FakeProvider(name="a", faults=scripted(("create", 1, "capacity")))
    spare = FakeProvider(name="b")
    recorder = Recorder()
    with fast_pool({"a": full, "b": spare}, subscribe=recorder) as pool:
        outcome = pool.submit(Recipe(1)).wait(10)
    assert outcome is not None
    assert outcome.status is Status.SUCCEEDED
    assert outcome.provider == "b"
    assert full.all_guest_ids() == []
    assert [e["provider"] for e in recorder.kinds("launch.attempt")] == ["a", "b"]


def test_no_valid_host_at_build_is_destroyed_and_the_next_provider_tried() -> None:
    doomed = FakeProvider(
        name="a",
        latency=Latency(build=0.02),
        # every build ends in "No valid host" (a build fault may otherwise be transient)
        faults=FaultPlan(rates={"build": 1.0}, kinds={"build": ("capacity",)}),
    )
    spare = FakeProvider(name="b")
    with fast_pool({"a": doomed, "b": spare}) as pool:
        outcome = pool.submit(Recipe(1)).wait(10)
        assert outcome is not None
        assert outcome.status is Status.SUCCEEDED
        assert outcome.provider == "b"
        assert wait_gone(doomed) == []


def test_permanent_error_disables_the_provider_visibly_until_enabled() -> None:
    fake = FakeProvider(faults=scripted(("create", 1, "permanent")))
    recorder = Recorder()
    with fast_pool({"fake": fake}, subscribe=recorder) as pool:
        first = pool.submit(Recipe(1)).wait(10)
        assert first is not None
        assert first.status is Status.SKIPPED
        assert "disabled: authentication failed" in first.reasons[0]
        assert "authentication failed" in pool.status()["disabled"]["fake"]
        assert recorder.kinds("provider.disabled")[0]["provider"] == "fake"
        pool.poll()
        again = pool.submit(Recipe(1)).wait(10)
        assert again is not None
        assert again.status is Status.SKIPPED
        assert again.reasons[0].startswith("fake: disabled:")
        pool.enable("fake")
        pool.poll()
        third = pool.submit(Recipe(1)).wait(10)
        assert third is not None
        assert third.status is Status.SUCCEEDED


def test_transient_errors_retry_then_fail_and_leave_nothing(journal_url: str) -> None:
    fake = FakeProvider(faults=FaultPlan(rates={"create": 1.0}, kinds={"create": ("transient",)}))
    recorder = Recorder()
    with fast_pool({"fake": fake}, journal=journal_url, subscribe=recorder) as pool:
        outcome = pool.submit(Recipe(1)).wait(10)
    assert outcome is not None
    assert outcome.status is Status.FAILED
    assert outcome.error is not None
    assert outcome.error.startswith("TransientError:")
    assert len(recorder.kinds("launch.retry")) == 4
    assert fake.all_guest_ids() == []


def test_a_lost_create_answer_is_found_by_name_and_destroyed() -> None:
    fake = FakeProvider(faults=scripted(("create", 1, "lost_response")))
    with fast_pool({"fake": fake}) as pool:
        guest = launched(pool, 1)
        # Two guests of the same name were made; only the one the launch knows is left.
        assert wait_gone(fake, keep=1) == [guest.id]
        assert len([c for c in fake.calls if c.operation == "create"]) == 2


def test_a_launch_past_its_deadline_fails_and_its_guest_is_destroyed() -> None:
    fake = FakeProvider(latency=Latency(build=300.0))
    with fast_pool({"fake": fake}, launch_timeout=60.0) as pool:
        handle = pool.submit(Recipe(1))
        wait_for(fake.all_guest_ids)  # building
        # its deadline passes (moved in the journal: nothing here waits for a clock)
        assert pool.journal.update_launch("1", "test", deadline=time.time())
        outcome = handle.wait(30)
        assert outcome is not None
        assert outcome.status is Status.FAILED
        assert outcome.error == "TimeoutError: not ready within 60 s"
        assert wait_gone(fake) == []


def test_boot_request_starts_the_guest() -> None:
    fake = FakeProvider()
    boot = KernelBoot("/net/srv/vmlinuz", "/net/srv/initrd.img", "ks=http://lab/ks.cfg")
    with fast_pool({"fake": fake}) as pool:
        guest = launched(pool, Recipe(1, boot=boot))
    assert guest.state is GuestState.RUNNING
    assert [c.operation for c in fake.calls].count("start") == 1


def test_release_is_idempotent_and_confirmed(journal_url: str) -> None:
    fake = FakeProvider()
    recorder = Recorder()
    with fast_pool({"fake": fake}, journal=journal_url, subscribe=recorder) as pool:
        outcome = pool.submit(Recipe(1)).wait(10)
        assert outcome is not None
        pool.release(outcome)
        pool.release(outcome)
        assert wait_gone(fake) == []
        deadline = time.monotonic() + 5
        while not recorder.kinds("guest.destroyed") and time.monotonic() < deadline:
            time.sleep(0.02)
        pool.release(outcome)  # after it is gone: still fine
    assert [c.operation for c in fake.calls].count("destroy") == 1
    assert recorder.kinds("guest.destroyed")[0]["reason"] == "released"


def test_poll_returns_each_outcome_once_and_submit_is_idempotent(journal_url: str) -> None:
    fake = FakeProvider(latency=Latency(build=0.1))
    with fast_pool({"fake": fake}, journal=journal_url) as pool:
        first = pool.submit(Recipe(1))
        assert pool.submit(Recipe(1)) is first
        first.wait(10)
        taken = pool.poll(timeout=5)
        assert [o.recipe_id for o in taken] == ["1"]
        assert pool.poll() == []


def test_callbacks_and_events_report_outcomes() -> None:
    fake = FakeProvider()
    recorder = Recorder()
    seen: list[str] = []
    with fast_pool({"fake": fake}, subscribe=recorder) as pool:
        handle = pool.submit(Recipe(5))
        handle.add_done_callback(lambda o: seen.append(o.status.value))
        handle.wait(10)
        handle.add_done_callback(lambda o: seen.append("late " + o.status.value))
    assert seen == ["succeeded", "late succeeded"]
    (outcome,) = recorder.kinds("launch.outcome")
    assert outcome["status"] == "succeeded"
    assert outcome["provider"] == "fake"
    assert outcome["seconds"] >= 0
    assert recorder.kinds("capacity")[0]["provider"] == "fake"
