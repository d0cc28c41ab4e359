"""The real tmt (from PyPI) runs plans with ``how: virtprov`` on the fake cloud.

The fake's guests are one real sshd on 127.0.0.1 (``sshd_guest``): tmt provisions, logs
in with the key pair the plugin made, runs a shell test and removes the guest. Each run
is a separate ``tmt`` process, as a user runs it; the fake cloud and the journal live in
files both that process and the test read.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
import yaml
from sshd_guest import SshGuest, running_sshd, sshd_missing

from virtprov.fake import FakeProvider
from virtprov.pool import Journal

pytestmark = pytest.mark.skipif(sshd_missing() is not None, reason=str(sshd_missing()))

TMT = str(Path(sys.executable).with_name("tmt"))
VIRTPROV = str(Path(sys.executable).with_name("virtprov"))

PLAN = """
summary: a shell test on a guest virtprov provisions
provision:
    how: virtprov
    image: Fedora-Cloud-Base-41
    user: {user}
    hardware:
{hardware}
discover:
    how: fmf
execute:
    how: tmt
"""

TEST = """
summary: runs on the guest
test: echo "hello from $(hostname)" && test -n "$TMT_TEST_NAME"
"""


@attrs.frozen
class Lab:
    tree: Path
    workdir: Path
    cloud: Path
    journal: Path
    calls: Path
    guest: SshGuest
    env: dict[str, str]

    def fake(self) -> FakeProvider:
        return FakeProvider(state_file=self.cloud)

    def tmt(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [TMT, "--root", str(self.tree), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def calls_made(self) -> list[str]:
        if not self.calls.exists():
            return []
        return [json.loads(line)["operation"] for line in self.calls.read_text().splitlines()]


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SshGuest]:
    with running_sshd(tmp_path / "sshd") as guest:
        yield guest


def make_lab(tmp_path: Path, guest: SshGuest, *, hardware: str, build: float = 0.3) -> Lab:
    tree = tmp_path / "tree"
    (tree / ".fmf").mkdir(parents=True)
    (tree / ".fmf" / "version").write_text("1\n")
    (tree / "plans").mkdir()
    (tree / "plans" / "smoke.fmf").write_text(PLAN.format(user=guest.user, hardware=hardware))
    (tree / "tests").mkdir()
    (tree / "tests" / "hello.fmf").write_text(TEST)
    cloud, journal, calls = (
        tmp_path / "cloud.sqlite",
        tmp_path / "journal.sqlite",
        tmp_path / "calls",
    )
    config = tmp_path / "virtprov.toml"
    config.write_text(
        f"""
[pool]
journal = "sqlite:///{journal}"
poll_interval = 0.1

[providers.fake-lab]
driver = "fake"
lab = "localhost"
state_file = "{cloud}"
call_log = "{calls}"

[providers.fake-lab.latency]
create = 0.05
build = {build}

[providers.fake-lab.ssh]
host = "{guest.host}"
port = {guest.port}
authorized_keys = "{guest.authorized_keys}"
"""
    )
    env = {
        **os.environ,
        "VIRTPROV_CONFIG": str(config),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "TMT_WORKDIR_ROOT": str(tmp_path / "runs"),
        "NO_COLOR": "1",
    }
    return Lab(tree, tmp_path / "runs" / "run", cloud, journal, calls, guest, env)


def test_tmt_provisions_runs_a_test_over_ssh_and_removes_the_guest(
    tmp_path: Path, sshd: SshGuest
) -> None:
    lab = make_lab(tmp_path, sshd, hardware='        memory: ">= 1 GiB"')
    done = lab.tmt("run", "--id", str(lab.workdir), "-vv", "--all")
    assert done.returncode == 0, done.stdout + done.stderr
    results = yaml.safe_load(
        (lab.workdir / "plans" / "smoke" / "execute" / "results.yaml").read_text()
    )
    assert [(r["name"], r["result"]) for r in results] == [("/tests/hello", "pass")]
    # the flavor virtprov chose is in tmt's verbose output
    assert "flavor: fake.medium on fake-lab" in done.stdout + done.stderr
    # tmt logged in with the key pair the plugin made (no key was given), whose public
    # half the fake cloud wrote to the guest as cloud-init would
    key = lab.workdir / "plans" / "smoke" / "provision" / "default-0" / "id_ed25519"
    log = (lab.workdir / "log.txt").read_text()
    assert f"-i {key} " in log
    (written,) = sshd.authorized_keys.read_text().splitlines()
    assert written.startswith("ssh-ed25519 ")
    # the guest is gone from the cloud, and the journal knows it
    assert lab.fake().all_guest_ids() == []
    assert lab.calls_made().count("create") == 1
    assert lab.calls_made().count("destroy") == 1
    store = Journal(f"sqlite:///{lab.journal}")
    try:
        assert store.counts().get("succeeded", 0) + store.counts().get("decided", 0) >= 1
        assert store.guests_in(["creating", "live", "doomed"]) == []
    finally:
        store.close()


def test_a_run_killed_while_provisioning_leaves_nothing_after_virtprov_sweep(
    tmp_path: Path, sshd: SshGuest
) -> None:
    lab = make_lab(tmp_path, sshd, hardware='        memory: ">= 1 GiB"', build=120.0)
    run = subprocess.Popen(
        [TMT, "--root", str(lab.tree), "run", "--id", str(lab.workdir), "-vv", "--all"],
        env=lab.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while "create" not in lab.calls_made():
            assert run.poll() is None, "tmt ended before the guest was created"
            assert time.monotonic() < deadline, "no guest was created"
            time.sleep(0.1)
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    assert len(lab.fake().all_guest_ids()) == 1  # building, and its tmt run is dead
    swept = subprocess.run(
        [VIRTPROV, "sweep"], env=lab.env, capture_output=True, text=True, check=False
    )
    assert swept.returncode == 0, swept.stdout + swept.stderr
    assert lab.fake().all_guest_ids() == []
    store = Journal(f"sqlite:///{lab.journal}")
    try:
        undecided = {
            k: v
            for k, v in store.counts().items()
            if k in ("queued", "creating", "building", "starting")
        }
        assert not any(undecided.values()), store.counts()
        assert store.guests_in(["creating", "live", "doomed", "destroyed"]) == []
    finally:
        store.close()


def test_unmeetable_hardware_fails_fast_with_reasons_and_no_cloud_call(
    tmp_path: Path, sshd: SshGuest
) -> None:
    hardware = (
        '        memory: ">= 1 GiB"\n        cpu:\n            flag:\n              - "= vmx"'
    )
    lab = make_lab(tmp_path, sshd, hardware=hardware)
    started = time.monotonic()
    done = lab.tmt("run", "--id", str(lab.workdir), "-vv", "--all")
    took = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "no configured provider can meet the hardware requirements" in output
    assert "fake-lab: hardware.cpu.flag" in output
    # the fake's call log: one read, the flavor listing (a CPU flag is met only by a flavor
    # that declares it, so the flavors must be seen), and nothing made
    assert lab.calls_made() == ["flavors"]
    assert lab.fake().all_guest_ids() == []
    assert not lab.journal.exists() or Journal(f"sqlite:///{lab.journal}").counts() == {}
    assert took < 60, f"failing took {took:.0f} s"
