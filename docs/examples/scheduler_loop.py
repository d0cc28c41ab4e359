"""A Beaker-style scheduler loop on virtprov's pool, runnable against the fake cloud.

    python docs/examples/scheduler_loop.py

Each pass: take new recipes -> ask whether each could ever be a VM (``check``) ->
submit the possible ones -> act on the outcomes -> release the guests of finished
recipes. A real scheduler keeps its recipes in its database; here they are a dict.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from virtprov.hostrequires import parse
from virtprov.pool import Event, Outcome, Pool, Recipe, Status

CONFIG = """
[pool]
journal = "sqlite:///{work}/journal.sqlite"
poll_interval = 0.2

[providers.cloud]
driver = "fake"                      # pip install virtprov-openstack: driver = "openstack"
lab = "lab.example.com"
state_file = "{work}/cloud.sqlite"
capacity = {{ instances = 3 }}       # fewer guests than recipes: some go to hardware
latency = {{ build = 0.5, shutdown = 0.2 }}
"""

# The scheduler's queue: recipe id -> hostRequires.
NEW_RECIPES = {
    101: "<hostRequires/>",
    102: "<hostRequires><memory op='>=' value='2048'/></hostRequires>",
    103: "<hostRequires><cpu><flag value='vmx'/></cpu></hostRequires>",  # never a VM
    104: "<hostRequires><system><arch value='x86_64'/></system></hostRequires>",
    105: "<hostRequires/>",
}


def main() -> dict[int, str]:
    with tempfile.TemporaryDirectory(prefix="virtprov-example-") as tmp:
        return run(Path(tmp))


def run(work: Path) -> dict[int, str]:
    (work / "virtprov.toml").write_text(CONFIG.format(work=work))
    verdicts: dict[int, str] = {}
    running: dict[int, Outcome] = {}  # recipe id -> its succeeded outcome

    # Subscribed from the start, so the metrics see the first capacity reads too.
    with Pool.from_config(work / "virtprov.toml", subscribers=[_metrics]) as pool:
        labs = {p.info.lab: p.info for p in pool.providers.values()}

        # 1. New recipes: a cheap, local eligibility check first (microseconds, no
        #    cloud call), as beakerd marks a recipe virt-possible or not.
        for recipe_id, xml in NEW_RECIPES.items():
            verdict = parse(xml).virtualisable(labs["lab.example.com"])
            if not verdict:
                verdicts[recipe_id] = "hardware (precluded: " + "; ".join(verdict.reasons) + ")"
                continue
            # 2. Submit: returns at once; the launch runs on the pool's threads.
            pool.submit(Recipe(recipe_id, xml, labs=["lab.example.com"], owner="jdoe"))

        # 3. The scheduler's loop: act on outcomes as they arrive.
        while len(verdicts) < len(NEW_RECIPES):
            for outcome in pool.poll(timeout=1.0):
                recipe_id = int(outcome.recipe_id)
                if outcome.status is Status.SUCCEEDED:
                    assert outcome.guest is not None
                    # Write the netboot config for outcome.guest.macs, then power on:
                    pool.start(outcome)
                    running[recipe_id] = outcome
                    verdicts[recipe_id] = f"VM {outcome.guest.name} on {outcome.provider}"
                else:  # skipped: hardware for now; precluded or failed: hardware
                    why = "; ".join(outcome.reasons) or outcome.error or "no reason given"
                    later = " for now" if outcome.status is Status.SKIPPED else ""
                    verdicts[recipe_id] = f"hardware{later} ({outcome.status.value}: {why})"

        # 4. Recipes end: release their guests (idempotent, retried until confirmed;
        #    leaving the block waits until they are destroyed).
        for outcome in running.values():
            pool.release(outcome)
    for recipe_id, verdict in sorted(verdicts.items()):
        print(f"recipe {recipe_id}: {verdict}")
    return verdicts


def _metrics(event: Event) -> None:
    if event.kind == "launch.outcome":
        print(
            f"  metric: {event.fields['status']} on {event.fields['provider'] or '-'}"
            f" after {event.fields['seconds']:.1f} s"
        )


if __name__ == "__main__":
    main()
