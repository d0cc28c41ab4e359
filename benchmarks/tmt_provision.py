"""How long a real tmt run spends in ``provision: how: virtprov`` over the fake cloud.

The fake cloud has a latency model (create call, build time) and one real sshd on
127.0.0.1 as every guest; the plugin waits for create -> running with an address, then
tmt waits for SSH. The script times, in one run, ``tmt run provision`` alone (the step,
with tmt's start-up), the same with no latency (what tmt and virtprov add), and the
``finish`` that removes the guest; it prints each and the overhead over the latency
model. Needs openssh-server (scripts/bootstrap installs it). Last line: JSON.

    python benchmarks/tmt_provision.py [--create 0.5] [--build 3.0] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "virtprov_tmt" / "tests"))

from sshd_guest import SshGuest, running_sshd, sshd_missing

TMT = str(Path(sys.executable).with_name("tmt"))

PLAN = """
provision:
    how: virtprov
    image: Fedora-Cloud-Base-41
    user: {user}
execute:
    how: tmt
"""


def lab(root: Path, guest: SshGuest, create: float, build: float) -> dict[str, str]:
    tree = root / "tree"
    (tree / ".fmf").mkdir(parents=True)
    (tree / ".fmf" / "version").write_text("1\n")
    (tree / "plans.fmf").write_text(PLAN.format(user=guest.user))
    config = root / "virtprov.toml"
    config.write_text(
        f"""
[pool]
journal = "sqlite:///{root / "journal.sqlite"}"
poll_interval = 0.1

[providers.fake]
driver = "fake"
lab = "localhost"
state_file = "{root / "cloud.sqlite"}"

[providers.fake.latency]
create = {create}
build = {build}

[providers.fake.ssh]
host = "{guest.host}"
port = {guest.port}
authorized_keys = "{guest.authorized_keys}"
"""
    )
    return {
        **os.environ,
        "VIRTPROV_CONFIG": str(config),
        "XDG_STATE_HOME": str(root / "state"),
        "TMT_WORKDIR_ROOT": str(root / "runs"),
        "NO_COLOR": "1",
    }


def timed(env: dict[str, str], tree: Path, *args: str) -> float:
    started = time.monotonic()
    done = subprocess.run(
        [TMT, "--root", str(tree), *args], env=env, capture_output=True, text=True, check=False
    )
    took = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"tmt {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return took


def one(root: Path, guest: SshGuest, create: float, build: float, n: int) -> tuple[float, float]:
    where = root / f"{create}-{build}-{n}"
    env = lab(where, guest, create, build)
    run = str(where / "runs" / "run")
    provision = timed(env, where / "tree", "run", "--id", run, "discover", "provision")
    finish = timed(env, where / "tree", "run", "--id", run, "finish")
    return provision, finish


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--create", type=float, default=0.5, help="create call, seconds")
    parser.add_argument("--build", type=float, default=3.0, help="build to running, seconds")
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    if sshd_missing():
        raise SystemExit(f"cannot run: {sshd_missing()}")
    with tempfile.TemporaryDirectory() as scratch, running_sshd(Path(scratch) / "sshd") as guest:
        root = Path(scratch)
        modelled = [one(root, guest, options.create, options.build, n) for n in range(options.runs)]
        bare = [one(root, guest, 0.0, 0.0, n) for n in range(options.runs)]
    provision = statistics.median(p for p, _ in modelled)
    floor = statistics.median(p for p, _ in bare)
    finish = statistics.median(f for _, f in modelled)
    model = options.create + options.build
    print(f"latency model (create + build):      {model:6.2f} s")
    print(f"tmt discover+provision, with it:     {provision:6.2f} s (median of {options.runs})")
    print(f"tmt discover+provision, no latency:  {floor:6.2f} s (tmt, virtprov, ssh up)")
    print(f"overhead over the latency model:     {provision - model:6.2f} s")
    print(f"tmt finish (guest removed):          {finish:6.2f} s")
    print(
        json.dumps(
            {
                "latency_model_s": model,
                "provision_s": round(provision, 2),
                "provision_no_latency_s": round(floor, 2),
                "overhead_s": round(provision - model, 2),
                "finish_s": round(finish, 2),
                "runs": options.runs,
            }
        )
    )


if __name__ == "__main__":
    main()
