"""``virtprov config check --connect`` against OpenStack, replayed from recorded cassettes:
it logs in and lists the flavors, one call per provider, and reports a failed login; and
no URL the provider shows carries a password."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from click.testing import CliRunner
from openstack_testenv import PASSWORD_ENV, base_options, fault_options

from virtprov.cli import cli

# Each test replays the cassette of the provider test that makes the same calls.
_CASSETTES = {
    "test_connect_logs_in_and_lists_the_flavors": "test_flavors",
    "test_a_failed_login_is_reported_for_its_provider": "test_401_bad_credentials_is_permanent",
}


@pytest.fixture
def default_cassette_name(request: pytest.FixtureRequest) -> str:
    return _CASSETTES[request.node.name]


def _config(tmp_path: Path, **overrides: Any) -> Path:
    table = {"driver": "openstack", "lab": "lab.example.com", **base_options(), **overrides}
    path = tmp_path / "virtprov.toml"
    document = {
        "providers": {
            "rdu": table,
            "local": {"driver": "fake", "lab": "lab.example.com", "state_file": "cloud.db"},
        }
    }
    path.write_text(tomlkit.dumps(document).replace("cloud.db", str(tmp_path / "cloud.db")))
    return path


def _check(config: Path) -> tuple[int, dict[str, Any], str]:
    result = CliRunner().invoke(
        cli, ["--config", str(config), "config", "check", "--connect", "--json"]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, json.loads(result.stdout), result.stderr


@pytest.mark.vcr
def test_connect_logs_in_and_lists_the_flavors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "replayed-not-a-password")
    status, report, stderr = _check(_config(tmp_path))
    assert status == 0, stderr
    rdu = report["providers"]["rdu"]
    assert rdu["ok"]
    assert {"m1.tiny", "m1.nested"} <= set(rdu["flavors"])
    assert "m1.retired" not in rdu["flavors"]
    assert report["providers"]["local"]["flavors"][0] == "fake.tiny"
    assert "replayed-not-a-password" not in json.dumps(report) + stderr


@pytest.mark.vcr
def test_a_failed_login_is_reported_for_its_provider(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "replayed-not-a-password")
    status, report, stderr = _check(_config(tmp_path, **fault_options("wrong-user")))
    assert status == 1  # the configuration is right; the login failed
    assert not report["providers"]["rdu"]["ok"]
    assert "credentials" in report["providers"]["rdu"]["connect_error"]
    assert report["providers"]["local"]["ok"]  # the other provider is still checked
    (line,) = stderr.splitlines()
    assert line.startswith("virtprov: cannot connect: rdu: ")


def test_a_credentials_repr_never_shows_a_password_in_its_url() -> None:
    from virtprov_openstack.settings import Credentials

    shown = repr(Credentials(auth_url="https://beaker:hunter2@keystone.example.com:5000/v3"))
    assert "hunter2" not in shown
    assert "https://beaker:***@keystone.example.com:5000/v3" in shown
