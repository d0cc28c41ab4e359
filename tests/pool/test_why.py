"""`virtprov why RECIPE`: one recipe's story from the journal, for people and as JSON."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from pool_helpers import fast_pool, one_line_failure

from virtprov.cli import cli
from virtprov.fake import NO_VALID_HOST, FakeProvider
from virtprov.fake.faults import FaultPlan, Latency
from virtprov.pool import Recipe, Status


@pytest.fixture
def story_config(tmp_path: Path) -> Path:
    """A journal where recipe 42 failed over from 'east' (no valid host) to 'west', 43 is
    still building, and 44 asked for a lab nobody serves."""
    journal = f"sqlite:///{tmp_path / 'journal.sqlite'}"
    east = FakeProvider(
        name="east",
        lab="lab.example.com",
        latency=Latency(build=0.02),
        faults=FaultPlan(rates={"build": 1.0}, kinds={"build": ("capacity",)}),
    )
    west = FakeProvider(name="west", lab="lab.example.com", latency=Latency(build=0.02))
    slow = FakeProvider(name="slow", lab="slow.example.com", latency=Latency(build=3600))
    with fast_pool({"east": east, "west": west, "slow": slow}, journal=journal) as pool:
        ok = pool.submit(Recipe(42, labs=["lab.example.com"], owner="jdoe")).wait(30)
        assert ok is not None
        assert ok.status is Status.SUCCEEDED
        pool.submit(Recipe(43, labs=["slow.example.com"]))
        nowhere = pool.submit(Recipe(44, labs=["mars.example.com"])).wait(30)
        assert nowhere is not None
        pool.poll()  # the scheduler takes the outcomes
        deadline = time.monotonic() + 30  # 43's create answered: it builds (for an hour)
        while (launch := pool.journal.launch("43")) is None or launch.state != "building":
            assert time.monotonic() < deadline, launch
            time.sleep(0.02)
    path = tmp_path / "virtprov.toml"
    path.write_text(
        f'[pool]\njournal = "{journal}"\nlauncher = "test"\n'
        '[providers.east]\ndriver = "fake"\nlab = "lab.example.com"\n'
    )
    return path


def why(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), "why", *args])
    return result.exit_code, result.output


def test_why_tells_the_story_of_a_failover(story_config: Path) -> None:
    code, output = why(story_config, "42")
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0].startswith("recipe 42: succeeded on west ")
    assert "after it was submitted: guest beaker-recipe-42 (" in lines[0]
    assert lines[1] == "requirements (hostRequires): <hostRequires/>"
    assert lines[2] == "labs: lab.example.com; owner: jdoe; started by: the scheduler"
    timeline = [line[25:] for line in lines[4:8]]
    assert timeline[0] == "submitted by launcher test"
    assert timeline[1].startswith("create beaker-recipe-42 on east (2 vCPU, 2048 MiB, 20 GiB disk)")
    assert timeline[1].endswith(f": given up: build failed: {NO_VALID_HOST}")
    assert timeline[2].startswith("create beaker-recipe-42 on west (")
    assert timeline[2].endswith(", the launch's guest")
    assert timeline[3] == "succeeded"
    assert lines[8:] == [
        "",
        "providers passed over:",
        f"  east: {NO_VALID_HOST}",
        "the scheduler has taken the outcome",
    ]


def test_why_json(story_config: Path) -> None:
    code, output = why(story_config, "42", "--json")
    assert code == 0
    story = json.loads(output)
    assert story["status"] == "succeeded"
    assert story["provider"] == "west"
    assert story["passed"] == [f"east: {NO_VALID_HOST}"]
    assert [(a["provider"], a["state"], a["reason"]) for a in story["attempts"]] == [
        ("east", "gone", f"build failed: {NO_VALID_HOST}"),
        ("west", "live", None),
    ]
    assert story["guest"]["name"] == "beaker-recipe-42"
    assert story["submitted_by"] == "test"
    assert story["taken"] is True
    assert story["submitted_at"] <= story["decided_at"]


def test_why_of_an_undecided_and_a_precluded_launch(story_config: Path) -> None:
    code, output = why(story_config, "43")
    assert code == 0
    assert output.startswith("recipe 43: building on slow, undecided; submitted ")
    code, output = why(story_config, "44", "--json")
    assert json.loads(output)["reasons"] == ["no provider serves lab mars.example.com"]
    code, output = why(story_config, "44")
    assert output.splitlines()[0].startswith("recipe 44: precluded (a VM here can never run it)")
    assert "  no provider serves lab mars.example.com" in output


def test_an_unknown_recipe_is_one_line_and_exit_1(story_config: Path) -> None:
    assert one_line_failure("--config", story_config, "why", "9999") == (
        1,
        f"virtprov: recipe 9999 is not in the journal sqlite:///{story_config.parent}/journal.sqlite:"
        " never submitted to a pool, or decided more than 30 days ago ([pool] history_days)",
    )
