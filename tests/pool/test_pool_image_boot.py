"""Image boot through the pool, and attended launches abandoned when their submitter dies."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
import pytest
from pool_helpers import FAST, Recorder, fast_pool, launched, wait_for

from virtprov.fake import FakeProvider, SshEndpoint
from virtprov.fake.faults import Latency
from virtprov.model import (
    BootRequest,
    Guest,
    GuestSpec,
    GuestState,
    ImageBoot,
    NetworkBoot,
)
from virtprov.pool import Pool, Recipe
from virtprov.pool.outcome import boot_from_json, boot_to_json

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJcYR9ChAvcJJXm8hPq7KCkjsuDzcI5hGpWOIS4xplJA tmt"
BOOT = ImageBoot("Fedora-Cloud-Base-41", user_data="#cloud-config\n", ssh_public_keys=(KEY,))


def test_image_boot_succeeds_running_with_the_address_and_is_never_stopped(
    journal_url: str, tmp_path: Path
) -> None:
    keys = tmp_path / "authorized_keys"
    fake = FakeProvider(
        latency=Latency(build=0.05), ssh=SshEndpoint("127.0.0.1", 2222, authorized_keys=keys)
    )
    with fast_pool({"fake": fake}, journal=journal_url) as pool:
        guest = launched(pool, Recipe("tmt-1", boot=BOOT))
    assert guest.state is GuestState.RUNNING
    assert guest.addresses == ("127.0.0.1",)
    assert guest.ssh_port == 2222
    # the key reached the guest as cloud-init puts it there; no stop, no start
    assert keys.read_text() == KEY + "\n"
    assert not {"start", "stop"} & {c.operation for c in fake.calls}


class _LateAddress(FakeProvider):
    """Reports a running guest without an address for its first few polls (DHCP)."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden

    def poll(self, guest_ids: Sequence[str]) -> Mapping[str, Guest]:
        seen = super().poll(guest_ids)
        if self.hidden > 0 and any(g.state is GuestState.RUNNING for g in seen.values()):
            self.hidden -= 1
            return {i: attrs.evolve(g, addresses=()) for i, g in seen.items()}
        return seen


def test_a_running_guest_without_an_address_is_not_yet_succeeded() -> None:
    fake = _LateAddress(hidden=3)
    with fast_pool({"fake": fake}) as pool:
        guest = launched(pool, Recipe("tmt-2", boot=BOOT))
    assert guest.addresses
    assert fake.hidden == 0


class _CreatedDown(FakeProvider):
    """An image boot that ends its build stopped (oVirt: a VM from a template is down)."""

    def __init__(self) -> None:
        super().__init__()
        self.starts: list[BootRequest | None] = []

    def create_guest(self, spec: GuestSpec) -> Guest:
        assert isinstance(spec.boot, ImageBoot)
        return super().create_guest(attrs.evolve(spec, boot=NetworkBoot()))

    def start_guest(self, guest_id: str, boot: BootRequest | None = None) -> None:
        self.starts.append(boot)
        super().start_guest(guest_id, boot)


def test_an_image_guest_built_stopped_is_started_by_the_pool() -> None:
    fake = _CreatedDown()
    with fast_pool({"fake": fake}) as pool:
        guest = launched(pool, Recipe("tmt-3", boot=BOOT))
    assert guest.state is GuestState.RUNNING
    assert fake.starts == [None]  # a plain power-on: the image went with the create


def test_image_boot_is_kept_in_the_journal_and_hides_user_data_in_its_repr() -> None:
    secret = "#cloud-config\npassword: hunter2\n"
    boot = ImageBoot("img", user_data=secret, ssh_public_keys=KEY)
    assert boot.ssh_public_keys == (KEY,)
    assert "hunter2" not in repr(boot)
    assert "hunter2" not in repr(Recipe("r", boot=boot))
    assert boot_from_json(boot_to_json(boot)) == boot


@pytest.mark.parametrize(
    ("image", "keys", "message"),
    [
        (" ", (), "needs an image"),
        ("img", ("-----BEGIN OPENSSH PRIVATE KEY-----",), "ssh_public_keys[0]"),
        ("img", ("ssh-rsa AAA a\nssh-rsa BBB b",), "ssh_public_keys[0]"),
    ],
)
def test_a_bad_image_boot_is_refused_naming_what(
    image: str, keys: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        ImageBoot(image, ssh_public_keys=keys)


def test_an_attended_launch_whose_submitter_died_is_abandoned_by_a_sweep(
    journal_url: str,
) -> None:
    fake = FakeProvider(latency=Latency(build=60.0))  # still building when "killed"
    tmt = fast_pool({"fake": fake}, journal=journal_url, launcher="tmt-1234")
    tmt.submit(Recipe("tmt-run-a", boot=BOOT, attended=True))
    wait_for(lambda: len(fake.all_guest_ids()) == 1)
    tmt.launcher.stop()  # its lease is gone, as after a SIGKILL once the lease runs out
    # a scheduler's launch of the same dead submitter is taken over, never abandoned
    tmt.journal.submit("beaker-1", Recipe("beaker-1").to_json(), "tmt-1234", time.time() + 60)
    recorder = Recorder()
    sweeper = Pool(
        {"fake": fake},
        settings=FAST,
        journal=journal_url,
        start=False,
        subscribers=[recorder],
    )
    report = sweeper.sweep()
    assert fake.all_guest_ids() == []
    launch = sweeper.journal.launch("tmt-run-a")
    assert launch is not None
    assert (launch.state, launch.status, launch.taken) == ("decided", "failed", True)
    assert launch.outcome is not None
    assert "abandoned: tmt-1234" in launch.outcome["error"]
    assert [e["recipe_id"] for e in recorder.kinds("launch.abandoned")] == ["tmt-run-a"]
    assert report.orphans == ()
    other = sweeper.journal.launch("beaker-1")
    assert other is not None
    assert other.state == "queued"
    sweeper.journal.close()
    tmt.journal.close()


def test_a_running_launcher_abandons_instead_of_taking_over() -> None:
    fake = FakeProvider(latency=Latency(build=60.0))
    journal = "sqlite://"
    tmt = fast_pool({"fake": fake}, journal=journal, launcher="tmt-1")
    tmt.submit(Recipe("tmt-run-b", boot=BOOT, attended=True))
    wait_for(lambda: len(fake.all_guest_ids()) == 1)
    tmt.launcher.stop()
    other = Pool({"fake": fake}, settings=attrs.evolve(FAST, launcher="tmt-2"), journal=tmt.journal)
    try:
        wait_for(lambda: fake.all_guest_ids() == [])
        launch = other.journal.launch("tmt-run-b")
        assert launch is not None
        assert launch.status == "failed"
        assert launch.owner is None  # never claimed
    finally:
        other.launcher.stop()
