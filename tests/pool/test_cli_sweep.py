"""Nothing the CLI makes is unsweepable: killed provisions, and what a dead destroy left.

The provisions run as a user runs them (subprocesses) and are killed with SIGKILL.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from pool_helpers import VIRTPROV, cli_config, configured_cloud, run_virtprov, wait_for

from virtprov.cli import cli
from virtprov.cli.provisions import LABEL_RUN, CliJournal, cli_journal_url
from virtprov.fake import FakeProvider
from virtprov.model import LABEL_POOL, GuestSpec
from virtprov.pool.schema import guests, launches

#: The configured cloud slow enough that a kill lands anywhere in a provision: before the
#: intent, during the create, while it builds or starts.
LATENCY = """
[providers.cloud.latency]
create = 0.3
build = [0.3, 0.8]
shutdown = 0.2
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return cli_config(tmp_path, monkeypatch, LATENCY)


def provision(config: Path, recipe: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *VIRTPROV,
            "--config",
            str(config),
            "provision",
            "--json",
            "--recipe-id",
            recipe,
            "--poll-interval",
            "0.05",
        ],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def invoke(config: Path, *args: str) -> tuple[int, str]:
    """Exit status and stdout (stderr has the notes on killed provisions)."""
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    return result.exit_code, result.stdout


def names_in(fake: FakeProvider) -> dict[str, str]:
    return {g.name: g.id for g in fake.list_guests("")}


def test_provisions_killed_at_random_moments_are_finished_by_sweep(config: Path) -> None:
    seed = int(os.environ.get("VIRTPROV_KILL_SEED", time.time_ns() % 10**6))
    rng = random.Random(seed)
    # A guest in use: provisioned to the end, it must survive every sweep.
    took = time.monotonic()
    made = provision(config, "in-use")
    out, err = made.communicate(timeout=60)
    took = time.monotonic() - took
    assert made.returncode == 0, err
    in_use = json.loads(out)
    # Six provisions at once (slower together), each SIGKILLed at its own random moment
    # of what one takes on this machine now: starting, writing, creating, building...
    moments = {f"k{n}": rng.uniform(0.0, 2.0 * took) for n in range(6)}
    running = {recipe: provision(config, recipe) for recipe in moments}
    started = time.monotonic()
    for recipe, moment in sorted(moments.items(), key=lambda item: item[1]):
        time.sleep(max(0.0, started + moment - time.monotonic()))
        running[recipe].send_signal(signal.SIGKILL)
    outcome = {recipe: process.wait(timeout=30) for recipe, process in running.items()}
    for process in running.values():
        process.communicate()
    killed = {recipe for recipe, code in outcome.items() if code == -signal.SIGKILL}
    finished = {recipe for recipe, code in outcome.items() if code == 0}
    assert killed | finished == set(moments), (seed, outcome)
    before = names_in(configured_cloud(config))

    code, output = invoke(config, "sweep", "--json")
    assert code == 0, output
    report = json.loads(output)

    after = names_in(configured_cloud(config))
    with CliJournal() as record:
        undecided = record.undecided()
        with record.journal.engine.connect() as conn:
            states = {row.name: row.state for row in conn.execute(guests.select()).all()}
            runs = conn.execute(
                sa.select(guests.c.name, launches.c.status).join(
                    launches, launches.c.guest_row == guests.c.id
                )
            ).all()
    status = dict(runs)
    # Killed after it recorded its success (a moment before printing): in use, like the rest.
    in_flight = {r for r in killed if status.get(f"beaker-recipe-{r}") != "succeeded"}
    note = f"seed {seed}, kills at {moments}, exits {outcome}, in flight {sorted(in_flight)}, "
    note += f"finished {[(p['name'], p['result']) for p in report['killed_provisions']]}"
    print(note)  # shown with -s or on failure: where the kills landed
    assert after.get("beaker-recipe-in-use") == in_use["id"], note
    for recipe in in_flight:
        assert f"beaker-recipe-{recipe}" not in after, note
    for recipe in set(moments) - in_flight:
        assert f"beaker-recipe-{recipe}" in after, note
    destroyed = {p["name"] for p in report["killed_provisions"] if p["result"] == "destroyed"}
    assert destroyed == {f"beaker-recipe-{r}" for r in in_flight} & set(before), note
    # The CLI journal says so: nothing undecided, no killed guest left live.
    assert undecided == 0, note
    assert set(status.values()) <= {"succeeded", "failed"}, note
    for name, state in states.items():
        assert state == ("live" if status[name] == "succeeded" else "gone"), note
    # A second sweep finds nothing more to do.
    code, output = invoke(config, "sweep", "--json")
    assert json.loads(output)["killed_provisions"] == []


def test_the_next_provision_finishes_one_killed_after_its_create(config: Path) -> None:
    fake = configured_cloud(config)
    process = provision(config, "7")
    wait_for(lambda: "beaker-recipe-7" in names_in(fake), 30, "the create")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    process.communicate()
    guest_id = names_in(fake)["beaker-recipe-7"]
    assert fake.list_guests("beaker-recipe-7")[0].labels[LABEL_POOL] == "cli"

    # A dry run says what it would do and does nothing.
    code, output = invoke(config, "sweep", "--dry-run", "--json")
    assert code == 0
    assert [(p["name"], p["result"]) for p in json.loads(output)["killed_provisions"]] == [
        ("beaker-recipe-7", "would be destroyed")
    ]
    assert "beaker-recipe-7" in names_in(fake)

    done = run_virtprov(
        "--config", config, "provision", "--recipe-id", "8", "--no-start", timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert (
        f"virtprov: a killed provision left beaker-recipe-7 ({guest_id}) on cloud: destroyed"
        in done.stderr
    )
    assert set(names_in(fake)) == {"beaker-recipe-8"}


def test_a_cli_guest_found_by_name_only_with_its_own_run(config: Path) -> None:
    """A killed create whose id was never written: its name alone is not enough."""
    fake = configured_cloud(config)
    twin = fake.create_guest(
        GuestSpec.for_recipe(
            9, fake.flavors()[1], pool="cli", extra_labels={LABEL_RUN: "someone-else"}
        )
    )
    with CliJournal() as record:
        spec, token = record.spec("9", fake.flavors()[1], "beaker-")
        run = record.begin("cloud", spec, token, time.time() + 60)
        mine = fake.create_guest(spec)  # ... and the process dies before writing its id
        # As if this process were gone: its lease ran out.
        record.journal.retire_launcher(record.launcher)
    with CliJournal() as other:
        other.launcher += "-other"
        (finished,) = other.finish_killed(lambda _name: fake, "sweep")
    assert (finished.name, finished.guest_id, finished.result) == (run.name, mine.id, "destroyed")
    assert fake.all_guest_ids() == [twin.id]


def test_sweep_removes_what_a_dead_destroy_of_a_cli_guest_left(config: Path) -> None:
    code, output = invoke(
        config, "provision", "--json", "--recipe-id", "5", "--poll-interval", "0.05"
    )
    assert code == 0, output
    guest = json.loads(output)
    # `virtprov destroy` whose cloud call dies after the guest went: network and port stay.
    leaky = config.with_name("leaky.toml")
    leaky.write_text(
        config.read_text() + '[providers.cloud.faults]\nscript = [{operation = "destroy", nth = 1, '
        'kind = "lost_response"}]\n'
    )
    code, _ = invoke(leaky, "destroy", guest["id"])
    assert code == 1
    fake = configured_cloud(config)
    assert fake.all_guest_ids() == []
    assert len(fake.all_resource_ids()) == 2

    # The CLI journal says the destroy never finished: the dry run touches nothing.
    code, output = invoke(config, "sweep", "--dry-run")
    assert code == 0, output
    assert "0 owned resources, 0 without their guest, 0 deleted (dry run)" not in output
    assert "2 owned resources, 0 without their guest" in output
    code, output = invoke(config, "sweep")
    assert code == 0, output
    assert "beaker-recipe-5-network  beaker-recipe-5  1     waits for sighting 2" in output
    code, output = invoke(config, "sweep", "--dry-run")
    assert "beaker-recipe-5-port     beaker-recipe-5  2     would be deleted" in output
    code, output = invoke(config, "sweep", "--json")
    report = json.loads(output)
    assert [(r["kind"], r["deleted"]) for r in report["orphan_resources"]] == [
        ("port", True),
        ("network", True),
    ]
    assert fake.all_resource_ids() == []
    with CliJournal() as record:
        row = record.journal.guest_by_id("cloud", guest["id"])
        assert row is not None
        assert (row.state, row.reason) == (
            "gone",
            "its destroy died after the guest went (seen by virtprov sweep)",
        )
    assert cli_journal_url().endswith("state/virtprov/cli-journal.sqlite")


def test_a_killed_provision_on_a_provider_no_longer_configured_stays_and_sweep_says_so(
    config: Path,
) -> None:
    fake = configured_cloud(config)
    with CliJournal() as record:
        spec, token = record.spec("11", fake.flavors()[1], "beaker-")
        record.begin("retired-cloud", spec, token, time.time() + 60)
        record.journal.retire_launcher(record.launcher)  # as if killed
    code, output = invoke(config, "sweep", "--json")
    assert code == 1
    (left,) = json.loads(output)["killed_provisions"]
    assert (left["name"], left["done"]) == ("beaker-recipe-11", False)
    assert "no provider named 'retired-cloud'" in left["result"]
    with CliJournal() as record:
        assert record.undecided() == 1  # kept for a sweep with that provider configured


def test_a_sweep_error_is_one_line_with_what_a_cloud_said_escaped(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from virtprov.pool import Pool, SweepReport

    error = "cloud: listing guests: RuntimeError: \x1b[2Jgone\nFORGED line"
    monkeypatch.setattr(Pool, "sweep", lambda *_, **__: SweepReport(0, 0, (), errors=(error,)))
    result = CliRunner().invoke(cli, ["--config", str(config), "sweep"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "virtprov: cloud: listing guests: RuntimeError: \\x1b[2Jgone FORGED line"
    )
