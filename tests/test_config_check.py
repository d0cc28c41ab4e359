"""``virtprov config check`` checks what the commands will need, and says where it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from virtprov.cli import cli


def check(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), "config", "check", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "virtprov.toml"
    path.write_text(text)
    return path


FAKE = '[providers.f]\ndriver = "fake"\nlab = "l"\nstate_file = "{state}"\n'


def test_an_unset_secret_variable_fails_naming_it_and_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(
        tmp_path,
        FAKE.format(state=tmp_path / "cloud.db")
        + '[pool]\njournal = "postgresql+psycopg://virtprov@db.example.com/j"\n'
        'journal_password = { env = "VIRTPROV_TEST_JOURNAL_PW" }\n',
    )
    monkeypatch.delenv("VIRTPROV_TEST_JOURNAL_PW", raising=False)
    status, _, err = check(config)
    assert status == 2
    assert err == (
        f"virtprov: {config}: pool.journal_password: environment variable "
        "VIRTPROV_TEST_JOURNAL_PW is not set\n"
    )
    monkeypatch.setenv("VIRTPROV_TEST_JOURNAL_PW", "s3cret")
    status, out, err = check(config)
    assert (status, err) == (0, "")
    assert "journal postgresql+psycopg://virtprov@db.example.com/j" in out


def test_every_problem_is_reported_not_only_the_first(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    secret.chmod(0o644)
    config = write(
        tmp_path,
        FAKE.format(state=tmp_path / "cloud.db")
        + '[providers.no-driver]\ndriver = "nope"\nlab = "l"\n'
        + '[pool]\njournal = "sqlite:///'
        + str(tmp_path / "j.sqlite")
        + f'"\njournal_password = {{ file = "{secret}" }}\n[pool.limits.ghost]\nread = 1\n',
    )
    status, out, err = check(config, "--json")
    assert status == 2
    report = json.loads(out)
    assert report["ok"] is False
    assert report["providers"]["f"]["ok"] is True
    assert not report["providers"]["no-driver"]["ok"]
    lines = err.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"virtprov: {config}: providers.no-driver.driver: no provider")
    assert lines[1] == f"virtprov: {config}: pool.limits.ghost: names no configured provider"
    assert lines[2] == (
        f"virtprov: {config}: pool.journal_password: secret file {secret} is readable by "
        f"every user (mode 0644): chmod o-rwx {secret}"
    )
    assert report["problems"] == [line.removeprefix("virtprov: ") for line in lines]


def test_connect_lists_each_providers_flavors(tmp_path: Path) -> None:
    config = write(tmp_path, FAKE.format(state=tmp_path / "cloud.db"))
    status, out, err = check(config, "--connect")
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[:3] == [
        f"{config}: 1 of 1 provider(s) ok",
        "  f: driver fake, lab l: ok",
        "    logged in; 5 flavor(s): fake.tiny, fake.small, fake.medium, fake.large, fake.xlarge",
    ]
    assert lines[3].startswith("  pool virtprov: journal sqlite:///")
    status, out, _ = check(config)  # without --connect: no cloud call, no flavors
    assert "logged in" not in out


def test_connect_reports_a_provider_that_cannot_be_reached(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = write(
        tmp_path,
        FAKE.format(state=tmp_path / "cloud.db") + "[providers.os]\n"
        'driver = "openstack"\nlab = "l"\n'
        f'auth_url = "http://127.0.0.1:{port}/v3"\n'
        'username = "u"\npassword = { env = "HOME" }\nproject_name = "p"\nimage = "i"\n',
    )
    status, out, err = check(config, "--connect", "--json")
    assert status == 1
    report = json.loads(out)
    assert report["providers"]["f"]["ok"]
    assert report["providers"]["os"]["problems"] == []
    assert report["providers"]["os"]["connect_error"]
    assert err.startswith("virtprov: cannot connect: os: ")
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql+pg8000://virtprov@db.example.com/j", "needs the database driver 'pg8000'"),
        ("mysql://virtprov@db.example.com/j", "the journal runs on SQLite or PostgreSQL only"),
    ],
)
def test_the_journal_url_is_checked_without_connecting(tmp_path: Path, url: str, says: str) -> None:
    config = write(
        tmp_path, FAKE.format(state=tmp_path / "cloud.db") + f'[pool]\njournal = "{url}"\n'
    )
    status, _, err = check(config)
    assert status == 2
    assert err.startswith(f"virtprov: {config}: pool.journal: ")
    assert says in err
