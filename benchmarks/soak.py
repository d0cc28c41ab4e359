"""Fault soak: no leaks and a definite outcome for every recipe, through faults and kills.

Two parts, on the fake provider (capacity for fewer guests than recipes, so that
``skipped`` happens too):

1. **Faults**: 1,000 launches in one process with random faults at every provider step
   (create, poll, start, stop, destroy and the cloud-side build; quota, transient,
   permanent, timeouts, lost create answers). A permanent fault disables the provider;
   the "operator" re-enables it half a second later. Half of the recipes ask the pool to
   start their guest. Every succeeded guest is released at once ("the recipe ended").
   Afterwards: ``undecided`` recipes without an outcome, ``leaked`` guests left in the
   cloud that no one owns (before any sweep: the pool's own rollback must be enough).
2. **Kills**: a scheduler process (journal and fake cloud in files) is killed with
   SIGKILL at a random moment 50 times and restarted; it records the guests it owns in
   its own file, as a scheduler's database would, and releases half of them. A last run
   finishes the work; then the sweeper runs twice with that owned set. ``orphans_left``:
   guests in the cloud nobody owns; ``owned_deleted``: owned guests that were deleted.

The last line is ``{"launches": ..., "leaked": ..., "undecided": ..., "kills": ...,
"orphans_left": ..., "owned_deleted": ...}``. ``--quick`` runs 150 launches and 5 kills.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from virtprov.fake import FakeProvider
from virtprov.fake.faults import FaultPlan, Latency
from virtprov.model import NetworkBoot
from virtprov.pool import Limits, Pool, PoolSettings, Recipe, Status

RATES = {"create": 0.08, "poll": 0.03, "start": 0.05, "stop": 0.05, "destroy": 0.08, "build": 0.05}
LATENCY = Latency(create=0.002, poll=0.001, destroy=0.001, build=(0.02, 0.2), shutdown=0.02)
SETTINGS = PoolSettings(
    launcher="soak",
    poll_interval=0.05,
    retry_delay=0.02,
    retry_max_delay=0.2,
    launch_timeout=60.0,
    default_limits=Limits(mutating=0.0, read=0.0),
)


def recipe(n: int) -> Recipe:
    return Recipe(n, boot=NetworkBoot() if n % 2 else None)


def settle(pool: Pool, timeout: float) -> None:
    """Wait until the journal holds no guest that is still being made or destroyed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = pool.journal.guests_in(["creating", "doomed", "destroyed"])
        if not busy:
            return
        time.sleep(0.1)


def faults_part(launches: int, seed: int) -> dict[str, int]:
    fake = FakeProvider(
        latency=LATENCY, faults=FaultPlan(rates=RATES), seed=seed, instances=launches // 2
    )
    with Pool({"fake": fake}, settings=SETTINGS, journal="sqlite://") as pool:
        for n in range(launches):
            pool.submit(recipe(n))
        decided: dict[str, Status] = {}
        deadline = time.monotonic() + 300
        while len(decided) < launches and time.monotonic() < deadline:
            if pool.status()["disabled"]:
                pool.enable("fake")
            for outcome in pool.poll(timeout=0.5):
                decided[outcome.recipe_id] = outcome.status
                if outcome.guest is not None:
                    pool.release(outcome)
        settle(pool, 60)
        held = {g.guest_id for g in pool.journal.guests_in(["live"])}
        leaked = [g for g in fake.all_guest_ids() if g not in held]
        counts = {s.value: list(decided.values()).count(s) for s in Status}
    print(f"faults: {launches} launches: {counts}; leaked {len(leaked)}")
    return {"launches": launches, "leaked": len(leaked), "undecided": launches - len(decided)}


def write_config(work: Path, recipes: int, seed: int) -> Path:
    config = work / "virtprov.toml"
    config.write_text(
        f"""
[pool]
journal = "sqlite:///{work / "journal.sqlite"}"
launcher = "soak"
poll_interval = 0.05
retry_delay = 0.02
retry_max_delay = 0.2
mutating_rate = 0
read_rate = 0

[providers.fake]
driver = "fake"
lab = "localhost"
state_file = "{work / "cloud.sqlite"}"
seed = {seed}
capacity = {{ instances = {recipes // 2} }}
latency = {{ create = 0.002, build = [0.02, 0.2], shutdown = 0.02 }}
faults = {{ rates = {json.dumps(RATES).replace(":", " =").replace('"', "")} }}
"""
    )
    return config


def child(config: Path, recipes: int, owned_file: Path) -> None:
    """One scheduler process: submit what is not yet submitted, record, release half."""
    with Pool.from_config(config) as pool, owned_file.open("a") as owned:
        for n in range(recipes):
            if pool.journal.launch(str(n)) is None:
                pool.submit(recipe(n))
        while True:
            if pool.status()["disabled"]:
                pool.enable("fake")
            for outcome in pool.poll(timeout=0.2):
                if outcome.guest is None:
                    continue
                owned.write(json.dumps({"own": outcome.guest.id}) + "\n")
                owned.flush()
                os.fsync(owned.fileno())
                if int(outcome.recipe_id) % 3 == 0:  # that recipe ended
                    owned.write(json.dumps({"release": outcome.guest.id}) + "\n")
                    owned.flush()
                    os.fsync(owned.fileno())
                    pool.release(outcome)
            counts = pool.journal.counts()
            undecided = sum(
                counts.get(s, 0) for s in ("queued", "creating", "building", "starting")
            )
            busy = pool.journal.guests_in(["creating", "doomed", "destroyed"])
            if not undecided and not busy and not pool.journal.take_outcomes(None):
                return


def kills_part(recipes: int, kills: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = write_config(work, recipes, seed)
        owned_file = work / "owned.jsonl"
        command = [sys.executable, __file__, "--child", str(config), str(recipes), str(owned_file)]
        for _ in range(kills):
            process = subprocess.Popen(command)
            time.sleep(rng.uniform(0.8, 2.5))  # ~0.7 s of it is start-up
            process.send_signal(signal.SIGKILL)
            process.wait()
        subprocess.run(command, check=True, timeout=600)
        owned: set[str] = set()
        for line in owned_file.read_text().splitlines():
            entry = json.loads(line)
            if "own" in entry:
                owned.add(entry["own"])
            else:
                owned.discard(entry["release"])
        with Pool.from_config(config) as pool:
            pool.launcher.stop()  # only the sweeper is wanted here
            undecided = sum(
                n for k, n in pool.journal.counts().items() if k not in {s.value for s in Status}
            )
            first = pool.sweep(owned=owned)
            second = pool.sweep(owned=owned)
            fake = pool.providers["fake"]
            assert isinstance(fake, FakeProvider)
            left = set(fake.all_guest_ids())
        removed = len(second.deleted)
        print(
            f"kills: {kills} kills, {recipes} recipes; sweeps saw {len(first.orphans)} orphans, "
            f"removed {removed}; {len(owned)} owned guests"
        )
        return {
            "kills": kills,
            "undecided_after_kills": undecided,
            "orphans_left": len(left - owned),
            "owned_deleted": len(owned - left),
        }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="150 launches, 5 kills")
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args()
    launches, recipes, kills = (150, 60, 5) if args.quick else (1000, 400, 50)
    started = time.perf_counter()
    figures = faults_part(launches, args.seed)
    figures.update(kills_part(recipes, kills, args.seed))
    figures["undecided"] += figures.pop("undecided_after_kills")
    print(f"soak took {time.perf_counter() - started:.0f} s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
