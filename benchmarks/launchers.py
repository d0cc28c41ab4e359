"""Several launcher processes on one journal, with faults and SIGKILLs.

4 launcher processes share one PostgreSQL journal (started on 127.0.0.1 for the run) and
one fake cloud (an SQLite state file): 400 recipes, the launch benchmark's latency model
(create 50 ms, build 1 s, stop 0.3 s), capacity for fewer guests than recipes, a mutating
rate limit of 20 calls/s in total, random faults at every provider step, and 10 SIGKILLs
of a random launcher at a random moment, each restarted at once. Every recipe is
submitted by every launcher (submission is idempotent); each launcher takes outcomes and,
as a scheduler would at the end of the recipe, releases the guest a moment later. Then
the same for 1 launcher on an SQLite journal.

Figures (the last line is a JSON object of the PostgreSQL run, with the SQLite run
nested under ``"sqlite"``):

* ``launched_twice``: recipes that got two succeeded outcomes, or had two guests alive
  in the cloud at the end of the run;
* ``lost``: recipes no launcher ever received an outcome for;
* ``undecided``: launches the journal has not decided;
* ``over_capacity``: creates the cloud refused for lack of room that it did not inject
  as a fault (the pool reserved more than there was);
* ``peak_rate_share``: the most mutating calls in any 5-second window, over the limit;
* ``leaked``: guests left in the cloud once everything is released and settled;
* ``journal_writes_per_launch``: journal transactions per recipe (each process reports
  its count every half second, so up to half a second of a killed process's writes is
  not counted).

``--quick``: 2 launchers, 40 recipes, 2 kills.
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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RATE = 20.0
FAULTS = {"create": 0.05, "poll": 0.02, "start": 0.03, "stop": 0.03, "destroy": 0.05, "build": 0.03}
# Permanent faults would disable the one provider for everyone; the soak covers them.
KINDS = {"create": ["capacity", "transient", "timeout", "lost_response"]}


# -- one launcher process ---------------------------------------------------------------


def launcher(spec: dict[str, Any]) -> None:
    """Run one scheduler process until every recipe is decided and every guest released."""
    from virtprov.fake import FakeProvider
    from virtprov.fake.faults import FaultPlan, Latency
    from virtprov.model import BootRequest, GuestSpec, OwnedResource
    from virtprov.pool import Limits, Pool, PoolSettings, Recipe

    log = Path(spec["log"]).open("a", buffering=1)  # noqa: SIM115 - lives as long as the process

    def note(**entry: Any) -> None:
        log.write(json.dumps(entry) + "\n")

    class LoggedFake(FakeProvider):
        """The fake, noting each mutating call (the rate measure survives a SIGKILL)."""

        def create_guest(self, spec: GuestSpec) -> Any:
            note(call="create", t=time.time())
            try:
                return super().create_guest(spec)
            except Exception as exc:
                if "Quota exceeded for" in str(exc):  # the cloud's own refusal, not injected
                    note(over_capacity=spec.name)
                raise

        def start_guest(self, guest_id: str, boot: BootRequest | None = None) -> None:
            note(call="start", t=time.time())
            super().start_guest(guest_id, boot)

        def stop_guest(self, guest_id: str) -> None:
            note(call="stop", t=time.time())
            super().stop_guest(guest_id)

        def destroy_guest(self, guest_id: str) -> Sequence[OwnedResource]:
            note(call="destroy", t=time.time())
            return super().destroy_guest(guest_id)

    fake = LoggedFake(
        state_file=spec["cloud"],
        latency=Latency(create=0.05, build=1.0, shutdown=0.3),
        faults=FaultPlan(rates=FAULTS, kinds={k: tuple(v) for k, v in KINDS.items()}),  # type: ignore[misc]
        instances=spec["instances"],
        seed=os.getpid(),
    )
    settings = PoolSettings(
        launcher=spec["name"],
        poll_interval=0.5,
        retry_delay=0.2,
        retry_max_delay=2.0,
        lease=5.0,
        capacity_refresh=5.0,
        launch_timeout=120.0,
        expected_launchers=spec["launchers"],
        default_limits=Limits(mutating=RATE, read=50.0),
    )
    with Pool({"fake": fake}, settings=settings, journal=spec["journal"]) as pool:
        for n in range(spec["recipes"]):
            if pool.journal.launch(str(n)) is None:  # as a scheduler submits new recipes only
                pool.submit(Recipe(n))
        release_at: dict[str, tuple[float, Any]] = {}
        reported = 0
        while True:
            for outcome in pool.poll(timeout=0.5):
                note(outcome=outcome.recipe_id, status=outcome.status.value)
                if outcome.guest is not None:
                    release_at[outcome.recipe_id] = (time.time() + 1.0, outcome)
            # Recipes whose outcome was taken by a process since killed: they ended too.
            for guest in pool.journal.guests_in(["live"]):
                launch = pool.journal.launch(guest.recipe_id)
                if launch and launch.taken and guest.recipe_id not in release_at:
                    pool.release(guest.guest_id or "")
            for recipe_id, (when, outcome) in list(release_at.items()):
                if time.time() >= when:
                    pool.release(outcome)
                    del release_at[recipe_id]
            note(writes=pool.journal.writes - reported)
            reported = pool.journal.writes
            counts = pool.journal.counts()
            undecided = sum(
                counts.get(s, 0) for s in ("queued", "creating", "building", "starting")
            )
            busy = pool.journal.guests_in(["creating", "live", "doomed", "destroyed"])
            if not undecided and not busy and not release_at:
                return


# -- the run ----------------------------------------------------------------------------


def run(journal: str, launchers: int, recipes: int, kills: int, seed: int) -> dict[str, Any]:
    from virtprov.fake import FakeProvider
    from virtprov.pool import Journal

    rng = random.Random(seed)
    Journal(journal, upgrade=True).close()  # the operator's `virtprov journal upgrade`
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        instances = recipes // 4  # fewer guests than recipes: some are skipped

        def start(name: str) -> subprocess.Popen[bytes]:
            spec = {
                "name": name,
                "journal": journal,
                "cloud": str(work / "cloud.sqlite"),
                "log": str(work / f"{name}.jsonl"),
                "recipes": recipes,
                "instances": instances,
                "launchers": launchers,
            }
            return subprocess.Popen([sys.executable, __file__, "--launcher", json.dumps(spec)])

        started = time.time()
        processes = {f"launcher-{n}": start(f"launcher-{n}") for n in range(launchers)}
        for _ in range(kills):
            time.sleep(rng.uniform(1.0, 4.0))
            name = rng.choice(sorted(processes))
            processes[name].send_signal(signal.SIGKILL)
            processes[name].wait()
            processes[name] = start(name)
        for process in processes.values():
            process.wait(timeout=900)
        wall = time.time() - started

        entries = [
            json.loads(line)
            for log in work.glob("*.jsonl")
            for line in log.read_text().splitlines()
            if line.endswith("}")  # a SIGKILL may cut the last line
        ]
        calls = sorted(e["t"] for e in entries if "call" in e)
        window = peak = 0
        for i, t in enumerate(calls):
            while calls[window] < t - 5.0:
                window += 1
            peak = max(peak, i - window + 1)
        succeeded: dict[str, int] = {}
        delivered: set[str] = set()
        for e in entries:
            if "outcome" in e:
                delivered.add(e["outcome"])
                if e["status"] == "succeeded":
                    succeeded[e["outcome"]] = succeeded.get(e["outcome"], 0) + 1
        store = Journal(journal)
        counts = store.counts()
        undecided = sum(counts.get(s, 0) for s in ("queued", "creating", "building", "starting"))
        store.close()
        cloud = FakeProvider(state_file=work / "cloud.sqlite")
        left = cloud.poll(cloud.all_guest_ids())
        by_recipe: dict[str, int] = {}
        for guest in left.values():
            recipe = guest.labels.get("virtprov-recipe", "?")
            by_recipe[recipe] = by_recipe.get(recipe, 0) + 1
        twice = {r for r, n in succeeded.items() if n > 1} | {
            r for r, n in by_recipe.items() if n > 1
        }
        return {
            "launchers": launchers,
            "recipes": recipes,
            "launched_twice": len(twice),
            "lost": recipes - len(delivered),
            "undecided": undecided,
            "over_capacity": sum(1 for e in entries if "over_capacity" in e),
            "peak_rate_share": round(peak / (RATE * 5.0), 3),
            "leaked": len(left),
            "kills": kills,
            "journal_writes_per_launch": round(
                sum(e["writes"] for e in entries if "writes" in e) / recipes, 1
            ),
            "succeeded": len(succeeded),
            "wall_s": round(wall, 1),
        }


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--launcher":
        launcher(json.loads(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 launchers, 40 recipes, 2 kills")
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args()
    launchers, recipes, kills = (2, 40, 2) if args.quick else (4, 400, 10)
    from virtprov_testing.postgres import TemporaryPostgres

    with TemporaryPostgres() as server:
        figures = run(server.url, launchers, recipes, kills, args.seed)
    print("postgresql:", json.dumps(figures))
    with tempfile.TemporaryDirectory() as tmp:
        single = run(f"sqlite:///{tmp}/journal.sqlite", 1, recipes, kills // 2, args.seed)
    print("sqlite:    ", json.dumps(single))
    figures["sqlite"] = single
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
