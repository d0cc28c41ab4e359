"""Fault soak: no leaks, nothing doubled, a definite outcome for every recipe, and every
launcher thread alive, through provider faults, journal outages and kills.

Three parts, on the fake provider (capacity for fewer guests than recipes, so that
``skipped`` happens too):

1. **Faults**: 1,000 launches in one process with random faults at every provider step
   (create, poll, start, stop, destroy, the cloud-side build, and the reads: flavors,
   capacity, listings): quota, transient, permanent, timeouts, lost create answers,
   destroys that die half-way (the guest deleted, its network and port left), and
   exceptions that are not ``ProviderError``s at all (``RuntimeError``, ``KeyError``,
   ``OSError``, as buggy SDK code raises). A permanent fault disables the provider; the
   "operator" re-enables it half a second later. Half of the recipes ask the pool to
   start their guest. Every succeeded guest is released at once ("the recipe ended").
   Afterwards: ``lost`` recipes without an outcome, ``doubled`` recipes with two,
   ``undecided`` launches the journal has not decided, ``threads_dead`` launcher threads
   that died, and, once the pool is closed, ``leaked``: guests left in the cloud (every
   one was released, and no sweep has run: the pool's own rollback must be enough).
   Then the sweeper runs, as an operator's timer runs it, on the cloud with its faults,
   until nothing is left or 20 sweeps: ``leaked_resources``: networks and ports left.
2. **Journal outages**: 400 launches with the same faults on a PostgreSQL journal (a
   throwaway server on 127.0.0.1) that is stopped for 2-4 s and started again, 3 times
   mid-run (once a quarter of the outcomes are in, half, three quarters). The scheduler
   loop carries on through them (``poll`` and ``release`` raise ``JournalUnavailable``
   meanwhile; it retries them). The same figures; ``pauses``: the outages the launcher
   noticed (it paused, then resumed by itself).
3. **Kills**: a scheduler process (journal and fake cloud in files) is killed with
   SIGKILL at a random moment 50 times and restarted; it records the guests it owns in
   its own file, as a scheduler's database would, and releases a third of them. A last run
   finishes the work; then the sweeper runs with that owned set, on the cloud with its
   faults, until no guest nobody owns is left or 20 sweeps. ``orphans_left``: guests in
   the cloud nobody owns; ``owned_deleted``: owned guests that were deleted. Then every
   recipe ends: its guest is released and a pool destroys them (``leaked``: guests
   left), and the sweeper removes what half-way destroys left (``leaked_resources``).

The last line is ``{"launches": ..., "outage_launches": ..., "outages": ..., "pauses": ...,
"kills": ..., "lost": ..., "doubled": ..., "leaked": ..., "leaked_resources": ...,
"undecided": ..., "threads_dead": ..., "orphans_left": ..., "owned_deleted": ...}`` (the
counts summed over the parts).
``--quick`` runs 150 launches, 60 through 1 outage, and 5 kills.
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
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from virtprov.fake import FakeProvider
from virtprov.fake.faults import DEFAULT_KINDS, UNEXPECTED_KINDS, FaultPlan, Latency
from virtprov.model import NetworkBoot
from virtprov.pool import Event, Journal, Limits, Pool, PoolSettings, Recipe, Status
from virtprov.pool.journal import JournalUnavailable

RATES = {
    "create": 0.08,
    "poll": 0.03,
    "start": 0.05,
    "stop": 0.05,
    "destroy": 0.08,
    "build": 0.05,
    "flavors": 0.1,
    "capacity": 0.1,
    "list_guests": 0.05,
}
#: Every API call may also raise what a buggy SDK raises (the cloud-side build cannot),
#: and a destroy may die half-way: the guest deleted, its network and port left behind.
KINDS = {
    operation: (*kinds, *UNEXPECTED_KINDS) if operation != "build" else kinds
    for operation, kinds in DEFAULT_KINDS.items()
}
KINDS["destroy"] = (*KINDS["destroy"], "lost_response")
#: Sweeps an operator's timer runs before what is left counts as leaked (each orphan
#: needs two sightings in a row; a sweep whose listing fails sees nothing).
SWEEPS = 20
LATENCY = Latency(create=0.002, poll=0.001, destroy=0.001, build=(0.02, 0.2), shutdown=0.02)
SETTINGS = PoolSettings(
    launcher="soak",
    poll_interval=0.05,
    retry_delay=0.02,
    retry_max_delay=0.2,
    launch_timeout=60.0,
    default_limits=Limits(mutating=0.0, read=0.0),
)
UNDECIDED = ("queued", "creating", "building", "starting")


class Watch:
    """Counts the launcher's health events (a subscriber)."""

    def __init__(self) -> None:
        self.kinds: dict[str, int] = {}

    def __call__(self, event: Event) -> None:
        self.kinds[event.kind] = self.kinds.get(event.kind, 0) + 1


def threads_dead(pool: Pool, watch: Watch) -> int:
    """Threads that died during the run (each replaced) or are not alive now."""
    threads = pool.status()["threads"]
    return watch.kinds.get("thread.dead", 0) + sum(not t["alive"] for t in threads.values())


def recipe(n: int) -> Recipe:
    return Recipe(n, boot=NetworkBoot() if n % 2 else None)


def settle(pool: Pool, timeout: float) -> None:
    """Wait until the journal holds no guest that is still being made or destroyed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not pool.journal.guests_in(["creating", "doomed", "destroyed"]):
                return
        except JournalUnavailable:
            pass
        time.sleep(0.1)


def schedule(
    pool: Pool,
    launches: int,
    deadline: float,
    taken: dict[str, int] | None = None,
    stop: threading.Event | None = None,
) -> dict[str, int]:
    """A scheduler's loop: take outcomes, release each guest at once, re-enable a disabled
    provider; through journal outages (whatever raises is tried again). Outcomes taken
    per recipe (in ``taken``, filled as they come). Ends early once ``stop`` is set."""
    taken = {} if taken is None else taken
    statuses: dict[str, Status] = {}
    releases = []
    while (len(taken) < launches or releases) and time.monotonic() < deadline:
        if stop is not None and stop.is_set():
            break
        try:
            if pool.status()["disabled"]:
                pool.enable("fake")
            for outcome in pool.poll(timeout=0.5):
                taken[outcome.recipe_id] = taken.get(outcome.recipe_id, 0) + 1
                statuses[outcome.recipe_id] = outcome.status
                if outcome.guest is not None:
                    releases.append(outcome)
            while releases:
                pool.release(releases[0])
                releases.pop(0)
        except JournalUnavailable:
            time.sleep(0.1)  # the outcomes wait in the journal
    counts = {s.value: list(statuses.values()).count(s) for s in Status}
    print(f"  outcomes: {counts}")
    return taken


def sweep_until_clean(
    pool: Pool, left: Callable[[], int], owned: Iterable[str] | None = None
) -> tuple[int, int]:
    """Sweep, as an operator's timer does, on the cloud with its faults, until ``left()``
    (what nobody owns) is 0, at most :data:`SWEEPS` times: (sweeps, what they removed).
    Whatever a provider raises is in a sweep's report, never raised."""
    removed = sweeps = 0
    while sweeps < SWEEPS:
        sweeps += 1
        report = pool.sweep(owned)
        removed += len(report.deleted) + len(report.deleted_resources)
        if not left():
            break
    return sweeps, removed


def sweep_resources(fake: FakeProvider, journal: str = "sqlite://") -> int:
    """Sweep what half-way destroys left, once the pool is closed and owns nothing: the
    networks and ports still there after the sweeps."""
    left_behind = len(fake.all_resource_ids())
    with Pool({"fake": fake}, settings=SETTINGS, journal=journal, start=False) as sweeper:
        sweeps, _ = sweep_until_clean(
            sweeper, lambda: len(fake.all_guest_ids()) + len(fake.all_resource_ids())
        )
    print(f"  destroys that died half-way left {left_behind} networks and ports: {sweeps} sweeps")
    return len(fake.all_resource_ids())


def figures(pool: Pool, launches: int, taken: dict[str, int], watch: Watch) -> dict[str, int]:
    """What the run left undone (before the pool closes)."""
    settle(pool, 60)
    return {
        "lost": launches - len(taken),
        "doubled": sum(n > 1 for n in taken.values()),
        "undecided": sum(pool.journal.counts().get(state, 0) for state in UNDECIDED),
        "threads_dead": threads_dead(pool, watch),
    }


def faulty_cloud(launches: int, seed: int) -> FakeProvider:
    """The fake with every fault, room for half the recipes (so that some are skipped)."""
    return FakeProvider(
        latency=LATENCY,
        faults=FaultPlan(rates=RATES, kinds=KINDS),
        seed=seed,
        instances=launches // 2,
    )


def faults_part(launches: int, seed: int) -> dict[str, int]:
    fake = faulty_cloud(launches, seed)
    watch = Watch()
    with Pool({"fake": fake}, settings=SETTINGS, journal="sqlite://", subscribers=[watch]) as pool:
        for n in range(launches):
            pool.submit(recipe(n))
        taken = schedule(pool, launches, time.monotonic() + 300)
        result = figures(pool, launches, taken, watch)
    # Every guest was released: whatever the cloud still holds, the pool leaked.
    result["leaked"] = len(fake.all_guest_ids())
    result["leaked_resources"] = sweep_resources(fake)
    print(f"faults: {launches} launches: {result}")
    return result


def outage_part(launches: int, outages: int, seed: int) -> dict[str, int]:
    from virtprov_testing.postgres import TemporaryPostgres

    rng = random.Random(seed)
    fake = faulty_cloud(launches, seed)
    watch = Watch()
    with TemporaryPostgres() as server:
        url = server.fresh_database()
        Journal(url, upgrade=True).close()

        taken: dict[str, int] = {}
        # Set when either side fails: the other stops at once (a failed part must end the
        # soak, not leave a thread waiting for outcomes that never come).
        stop = threading.Event()
        failures: list[BaseException] = []

        def outage() -> None:
            try:
                # Mid-run: once 1/(outages+1) of the outcomes are in, then 2/(outages+1)...
                for number in range(1, outages + 1):
                    while len(taken) < launches * number // (outages + 1):
                        if stop.wait(0.01):
                            return
                    server.stop_server()
                    try:
                        stop.wait(rng.uniform(2.0, 4.0))
                    finally:
                        server.start_server()
                    resumed = time.monotonic() + 30  # one outage at a time: wait for it
                    while (
                        watch.kinds.get("journal.available", 0) < number
                        and time.monotonic() < resumed
                        and not stop.wait(0.01)
                    ):
                        pass
            except BaseException as exc:
                failures.append(exc)
                stop.set()

        started = time.monotonic()
        with Pool({"fake": fake}, settings=SETTINGS, journal=url, subscribers=[watch]) as pool:
            for n in range(launches):
                pool.submit(recipe(n))
            thread = threading.Thread(target=outage, name="soak-outages", daemon=True)
            thread.start()
            try:
                schedule(pool, launches, time.monotonic() + 300, taken, stop)
            except BaseException:
                stop.set()
                raise
            finally:
                if len(taken) < launches:  # out of time: the next outage would never come
                    stop.set()
                thread.join()
            if failures:
                raise RuntimeError("the outages failed") from failures[0]
            last = time.monotonic() - started
            result = figures(pool, launches, taken, watch)
        result["leaked"] = len(fake.all_guest_ids())
        result["leaked_resources"] = sweep_resources(fake, url)
    result["pauses"] = watch.kinds.get("journal.unavailable", 0)
    print(
        f"outages: {launches} launches, {outages} outages, the last outcome after {last:.0f} s:"
        f" {result}"
    )
    return result


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
faults = {{ rates = {toml_table(RATES)}, kinds = {toml_table(KINDS)} }}
"""
    )
    return config


def toml_table(table: dict[str, Any]) -> str:
    """An inline TOML table of numbers or string lists (JSON writes both as TOML does)."""
    return "{ " + ", ".join(f"{key} = {json.dumps(value)}" for key, value in table.items()) + " }"


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
            try:
                time.sleep(rng.uniform(0.8, 2.5))  # ~0.7 s of it is start-up
            finally:  # interrupted too: no scheduler may outlive the soak
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
            undecided = sum(pool.journal.counts().get(state, 0) for state in UNDECIDED)
            fake = pool.providers["fake"]
            assert isinstance(fake, FakeProvider)

            def orphans() -> int:
                return len(set(fake.all_guest_ids()) - owned)

            before = orphans()
            sweeps, _ = sweep_until_clean(pool, orphans, owned)
            left = set(fake.all_guest_ids())
        print(
            f"kills: {kills} kills, {recipes} recipes, {len(owned)} owned guests; {before} "
            f"orphan guests: {sweeps} sweeps"
        )
        # Then every recipe ends: the scheduler releases its guests, a pool destroys them.
        # (Until then a network or port a half-way destroy left may stay: it is named
        # after its guest, and a guest of that name, the recipe's next attempt, exists.)
        with Pool.from_config(config) as pool:
            for guest_id in owned & left:
                pool.release(guest_id)
        leaked = len(fake.all_guest_ids())
        leaked_resources = sweep_resources(fake, f"sqlite:///{work / 'journal.sqlite'}")
        return {
            "kills": kills,
            "undecided": undecided,
            "orphans_left": len(left - owned),
            "owned_deleted": len(owned - left),
            "leaked": leaked,
            "leaked_resources": leaked_resources,
        }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="150 launches, 60 through 1 outage, 5 kills"
    )
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args()
    if args.quick:
        launches, outage_launches, outages, recipes, kills = 150, 60, 1, 60, 5
    else:
        launches, outage_launches, outages, recipes, kills = 1000, 400, 3, 400, 50
    started = time.perf_counter()
    parts = [
        faults_part(launches, args.seed),
        outage_part(outage_launches, outages, args.seed),
        kills_part(recipes, kills, args.seed),
    ]
    total = {
        key: sum(part.get(key, 0) for part in parts)
        for key in ("lost", "doubled", "leaked", "leaked_resources", "undecided", "threads_dead")
    }
    print(f"soak took {time.perf_counter() - started:.0f} s")
    print(
        json.dumps(
            {
                "launches": launches,
                "outage_launches": outage_launches,
                "outages": outages,
                "pauses": parts[1]["pauses"],
                "kills": kills,
                **total,
                "orphans_left": parts[2]["orphans_left"],
                "owned_deleted": parts[2]["owned_deleted"],
            }
        )
    )


if __name__ == "__main__":
    main()
