"""The ``virtprov`` command, run as a user runs it (a subprocess, no configuration)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

VIRTPROV = [sys.executable, "-c", "from virtprov.cli import main; main()"]


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*VIRTPROV, *args], env=env, capture_output=True, text=True, timeout=120)


def test_provision_then_destroy_on_the_embedded_fake(cli_env: dict[str, str]) -> None:
    made = run(cli_env, "provision", "--json", "--recipe-id", "42", "--poll-interval", "0.01")
    assert made.returncode == 0, made.stderr
    assert "using the embedded fake cloud" in made.stderr
    guest = json.loads(made.stdout)
    assert guest["name"] == "beaker-recipe-42"
    assert guest["state"] == "running"
    assert guest["macs"][0].startswith("52:54:00:")
    run_label = guest["labels"].pop("virtprov-cli-run")  # which provision made it
    assert len(run_label) == 16
    assert guest["labels"] == {"virtprov-pool": "cli", "virtprov-recipe": "42"}
    assert guest["flavor_id"] == "fake-small"  # cheapest with a 10 GiB root disk

    listed = run(cli_env, "list", "--json")
    assert [g["id"] for g in json.loads(listed.stdout)] == [guest["id"]]

    gone = run(cli_env, "destroy", guest["id"], "--json")
    assert gone.returncode == 0, gone.stderr
    assert json.loads(gone.stdout)["destroyed"] == [guest["id"]]
    assert json.loads(run(cli_env, "list", "--json").stdout) == []
    again = run(cli_env, "destroy", guest["id"])  # already gone: said, and not "done"
    assert again.returncode == 1
    assert f"{guest['id']}: not found on fake, nothing destroyed" in again.stderr
    assert again.stdout == ""
    assert run(cli_env, "destroy", guest["id"], "--missing-ok").returncode == 0


def test_list_links_guests_where_the_provider_has_a_dashboard(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from virtprov.cli import cli
    from virtprov.fake import FakeProvider

    made = run(cli_env, "provision", "--json", "--no-start", "--poll-interval", "0.01")
    guest_id = json.loads(made.stdout)["id"]
    cli.main(["list"], standalone_mode=False)  # the fake links nothing: no URL column
    assert "URL" not in capsys.readouterr().out
    monkeypatch.setattr(
        FakeProvider, "guest_url", lambda self, guest_id: f"https://dash.example.com/{guest_id}/"
    )
    cli.main(["list"], standalone_mode=False)
    header, row = capsys.readouterr().out.splitlines()
    assert header.split() == ["PROVIDER", "ID", "NAME", "STATE", "MACS", "URL"]
    assert row.split()[-1] == f"https://dash.example.com/{guest_id}/"


def test_destroy_waits_until_the_cloud_deleted_the_guests_and_what_they_left(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    from virtprov.fake import DEFAULT_FLAVORS, FakeProvider
    from virtprov.model import GuestSpec

    state = tmp_path / "cloud.sqlite"
    config = tmp_path / "virtprov.toml"
    config.write_text(
        f'[providers.slow]\ndriver = "fake"\nlab = "l"\nstate_file = "{state}"\n'
        "[providers.slow.latency]\ndelete = 1.5\n"
    )
    cloud = FakeProvider(state_file=state)
    specs = [GuestSpec.for_recipe(n, DEFAULT_FLAVORS[2], pool="p") for n in (1, 2)]
    ids = [cloud.create_guest(spec).id for spec in specs]
    assert len(cloud.all_resource_ids()) == 4
    gone = run(cli_env, "--config", str(config), "destroy", *ids, "--json")
    assert gone.returncode == 0, gone.stderr
    assert json.loads(gone.stdout)["destroyed"] == ids
    assert cloud.all_guest_ids() == []  # not only asked: gone when the command returns
    assert cloud.all_resource_ids() == []
    cloud.close()


def test_provision_with_host_requires_picks_the_cheapest_match(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    wanted = tmp_path / "hr.xml"
    wanted.write_text('<hostRequires><memory op="&gt;=" value="3000"/></hostRequires>')
    made = run(
        cli_env,
        "provision",
        "--json",
        "--no-start",
        "--host-requires",
        str(wanted),
        "--poll-interval",
        "0.01",
    )
    assert made.returncode == 0, made.stderr
    guest = json.loads(made.stdout)
    assert (guest["flavor_id"], guest["state"]) == ("fake-large", "ready")


def test_provision_that_cannot_be_satisfied_exits_1(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    wanted = tmp_path / "hr.xml"
    wanted.write_text('<hostRequires><memory op="&gt;=" value="999999"/></hostRequires>')
    failed = run(cli_env, "provision", "--host-requires", str(wanted))
    assert failed.returncode == 1
    assert "no flavor satisfies" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_providers_lists_the_fake_and_a_broken_plugin(broken_plugin_env: dict[str, str]) -> None:
    listed = run(broken_plugin_env, "providers", "--json")
    assert listed.returncode == 0, listed.stderr
    plugins = {plugin["name"]: plugin for plugin in json.loads(listed.stdout)}
    assert plugins["fake"]["ok"]
    assert (plugins["fake"]["distribution"], plugins["fake"]["version"]) == (
        "virtprov",
        "0.1.0",
    )
    broken = plugins["broken"]
    assert not broken["ok"]
    assert broken["distribution"] == "virtprov-broken-plugin"
    assert "virtprov_sdk_that_is_not_installed" in broken["error"]
    assert "Traceback" in broken["traceback"]
    human = run(broken_plugin_env, "providers")
    assert "BROKEN" in human.stdout
    assert "Traceback" not in human.stderr


@pytest.mark.parametrize(
    ("config", "args", "message"),
    [
        ('[providers.a]\ndriver = "fake"\n', ["flavors"], "providers.a.lab: is required"),
        (
            '[providers.a]\ndriver = "nope"\nlab = "l"\n',
            ["capacity"],
            "no provider driver named 'nope'",
        ),
        (
            '[providers.a]\ndriver = "fake"\nlab = "l"\n',
            ["flavors", "--provider", "b"],
            "no provider named 'b'",
        ),
        (
            '[providers.a]\ndriver = "fake"\nlab = "l"\npassword = "x"\n',
            ["flavors"],
            "is not a known option",
        ),
    ],
)
def test_bad_configuration_exits_2_with_one_line(
    cli_env: dict[str, str], tmp_path: Path, config: str, args: list[str], message: str
) -> None:
    path = tmp_path / "virtprov.toml"
    path.write_text(config)
    result = run(cli_env, "--config", str(path), *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_flavors_and_capacity_tables(cli_env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "virtprov.toml"
    path.write_text(
        '[providers.a]\ndriver = "fake"\nlab = "l"\n[providers.a.capacity]\ninstances = 3\n'
    )
    flavors = run(cli_env, "--config", str(path), "flavors")
    assert flavors.returncode == 0, flavors.stderr
    assert "fake.small" in flavors.stdout
    capacity = json.loads(run(cli_env, "--config", str(path), "capacity", "--json").stdout)
    assert capacity["a"]["capacity"]["instances"] == 3
    assert capacity["a"]["lab"] == "l"


def test_help_lists_plugin_commands(cli_env: dict[str, str]) -> None:
    result = run(cli_env, "--help")
    assert result.returncode == 0
    for command in ("provision", "destroy", "check", "config", "providers", "openstack"):
        assert command in result.stdout
