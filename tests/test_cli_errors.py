"""Bad files and values become one line on stderr with status 2, never a traceback."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

VIRTPROV = [sys.executable, "-c", "from virtprov.cli import main; main()"]


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*VIRTPROV, *args], env=env, capture_output=True, text=True, timeout=120)


def one_line(result: subprocess.CompletedProcess[str], status: int = 2) -> str:
    """The single error line of a run that failed with ``status``."""
    assert result.returncode == status, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "embedded fake cloud" not in line]
    assert len(lines) == 1, result.stderr
    return lines[0]


def _not_sqlite(path: Path) -> Path:
    path.write_text("this is a text file, not a database\n" * 100)
    return path


def _corrupt(path: Path) -> Path:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE t (x)")
    connection.commit()
    connection.close()
    data = bytearray(path.read_bytes())
    data[16:100] = b"\xff" * 84  # the header after the magic string
    path.write_bytes(bytes(data))
    return path


def _directory(path: Path) -> Path:
    path.mkdir()
    return path


BAD_FILES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "not sqlite": (_not_sqlite, "is not an SQLite database"),
    "corrupt": (_corrupt, "is not an SQLite database"),
    "a directory": (_directory, "a directory"),
}


def fake_config(tmp_path: Path, state_file: Path, journal: str | None = None) -> Path:
    config = tmp_path / "virtprov.toml"
    text = f'[providers.f]\ndriver = "fake"\nlab = "l"\nstate_file = "{state_file}"\n'
    if journal is not None:
        text += f'[pool]\njournal = "{journal}"\n'
    config.write_text(text)
    return config


@pytest.mark.parametrize("kind", BAD_FILES)
def test_a_fake_cloud_state_file_that_is_not_one(
    cli_env: dict[str, str], tmp_path: Path, kind: str
) -> None:
    make, says = BAD_FILES[kind]
    state = make(tmp_path / "cloud.sqlite")
    config = fake_config(tmp_path, state)
    line = one_line(run(cli_env, "--config", str(config), "capacity"))
    assert line.startswith(f"virtprov: ConfigError: {config}: providers.f.state_file: ")
    assert f"the fake cloud's state file {state}" in line
    assert says in line


@pytest.mark.parametrize("kind", BAD_FILES)
@pytest.mark.parametrize("command", [["journal", "status"], ["journal", "upgrade"], ["sweep"]])
def test_a_journal_that_is_not_one(
    cli_env: dict[str, str], tmp_path: Path, kind: str, command: list[str]
) -> None:
    make, says = BAD_FILES[kind]
    journal = make(tmp_path / "journal.sqlite")
    config = fake_config(tmp_path, tmp_path / "cloud.sqlite", f"sqlite:///{journal}")
    line = one_line(run(cli_env, "--config", str(config), *command))
    assert line.startswith("virtprov: JournalError: cannot open the journal sqlite:///")
    assert says in line


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` cannot be written while inside: by its mode, or for root (who writes any
    mode) by the immutable attribute."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)
        return
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: no way to make a file read-only")
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"chattr +i is not supported here: {made.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_read_only_fake_cloud_state_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    from virtprov.fake import FakeProvider

    state = tmp_path / "cloud.sqlite"
    FakeProvider(state_file=state).close()
    config = fake_config(tmp_path, state)
    with read_only(state):
        line = one_line(run(cli_env, "--config", str(config), "list"))
    assert f"{config}: providers.f.state_file: the fake cloud's state file {state}" in line
    assert "read-only" in line


@pytest.mark.parametrize("command", [["journal", "status"], ["journal", "upgrade"], ["sweep"]])
def test_a_read_only_journal(cli_env: dict[str, str], tmp_path: Path, command: list[str]) -> None:
    from virtprov.pool import Journal

    journal = tmp_path / "journal.sqlite"
    Journal(f"sqlite:///{journal}").close()
    config = fake_config(tmp_path, tmp_path / "cloud.sqlite", f"sqlite:///{journal}")
    with read_only(journal):
        line = one_line(run(cli_env, "--config", str(config), *command))
    assert line.startswith(f"virtprov: JournalError: cannot open the journal sqlite:///{journal}")
    assert "read-only" in line


@pytest.mark.parametrize(
    "command", [["journal", "status"], ["journal", "upgrade"], ["sweep", "--dry-run"]]
)
def test_a_journal_stamped_with_a_revision_no_virtprov_made(
    cli_env: dict[str, str], tmp_path: Path, command: list[str]
) -> None:
    from virtprov.pool import Journal

    journal = tmp_path / "journal.sqlite"
    Journal(f"sqlite:///{journal}").close()
    with sqlite3.connect(journal) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'ae1027a6acf'")
    config = fake_config(tmp_path, tmp_path / "cloud.sqlite", f"sqlite:///{journal}")
    line = one_line(run(cli_env, "--config", str(config), *command))
    assert "stamped with schema revision 'ae1027a6acf', which no virtprov made" in line


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("nosuchdb://host/db", "names nosuchdb; the journal runs on SQLite or PostgreSQL only"),
        ("postgresql+pg8000://virtprov@127.0.0.1/j", "needs the database driver 'pg8000'"),
        ("mysql://virtprov@127.0.0.1/j", "the journal runs on SQLite or PostgreSQL only"),
    ],
)
def test_a_journal_url_of_an_unknown_dialect_or_driver(
    cli_env: dict[str, str], tmp_path: Path, url: str, says: str
) -> None:
    config = fake_config(tmp_path, tmp_path / "cloud.sqlite", url)
    for command in (["journal", "status"], ["sweep"]):
        line = one_line(run(cli_env, "--config", str(config), *command))
        assert says in line, command


def test_a_non_utf8_configuration_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "virtprov.toml"
    config.write_bytes(b'# caf\xe9\n[providers.f]\ndriver = "fake"\nlab = "l"\n')
    line = one_line(run(cli_env, "--config", str(config), "flavors"))
    assert line == (
        f"virtprov: ConfigError: {config}: is not UTF-8 text: byte 0xe9 on line 1 "
        "(convert the file, e.g. iconv -f latin1 -t utf-8)"
    )


@pytest.mark.parametrize(
    ("nested", "message"),
    [
        ("x = " + "[" * 5000 + "]" * 5000, ": nests arrays or inline tables too deeply"),
        ("x = " + "{a = " * 5000 + "1" + "}" * 5000, ": nests arrays or inline tables too deeply"),
        ("[" + ".".join(["a"] * 500) + "]\nx = 1", ": a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a: nests"),
    ],
    ids=["arrays", "inline tables", "dotted tables"],
)
def test_a_deeply_nested_configuration_file(
    cli_env: dict[str, str], tmp_path: Path, nested: str, message: str
) -> None:
    config = tmp_path / "virtprov.toml"
    config.write_text(f'{nested}\n[providers.f]\ndriver = "fake"\nlab = "l"\n')
    line = one_line(run(cli_env, "--config", str(config), "flavors"))
    assert line.startswith(f"virtprov: ConfigError: {config}{message}")


def test_a_non_utf8_secret_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_bytes(b"hunter\xe92\n")
    secret.chmod(0o600)
    config = tmp_path / "virtprov.toml"
    config.write_text(
        '[providers.f]\ndriver = "fake"\nlab = "l"\n'
        f'[pool]\njournal = "postgresql+psycopg://v@127.0.0.1/j"\n'
        f'journal_password = {{ file = "{secret}" }}\n'
    )
    line = one_line(run(cli_env, "--config", str(config), "journal", "status"))
    assert line == (
        f"virtprov: ConfigError: {config}: pool.journal_password: secret file {secret} "
        "is not UTF-8 text (at byte 6)"
    )
    assert "hunter" not in line


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "-inf", "0", "1e400"])
@pytest.mark.parametrize("option", ["--poll-interval", "--timeout"])
def test_provision_refuses_a_duration_that_is_not_one(
    cli_env: dict[str, str], option: str, value: str
) -> None:
    line = one_line(run(cli_env, "provision", f"{option}={value}"))
    assert line.startswith(f"virtprov: usage: Invalid value for '{option}': ")
    assert "is not a duration" in line


def test_a_non_utf8_owned_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    owned = tmp_path / "owned.txt"
    owned.write_bytes(b"guest-1\nguest-\xff2\n")
    line = one_line(run(cli_env, "sweep", "--owned", str(owned)))
    assert line == (
        f"virtprov: --owned {owned}: not UTF-8 text (byte 0xff on line 2; convert it, "
        "e.g. iconv -f latin1 -t utf-8)"
    )


def test_an_owned_file_that_is_missing(cli_env: dict[str, str], tmp_path: Path) -> None:
    line = one_line(run(cli_env, "sweep", "--owned", str(tmp_path / "nope")))
    assert line == f"virtprov: --owned {tmp_path / 'nope'}: cannot read: No such file or directory"


def test_journal_status_never_prints_a_password(cli_env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "virtprov.toml"
    config.write_text(
        '[providers.f]\ndriver = "fake"\nlab = "l"\n'
        '[pool]\njournal = "postgresql+psycopg://u@127.0.0.1:1/db?password=hunter2"\n'
    )
    result = run(cli_env, "--config", str(config), "journal", "status", "--json")
    line = one_line(result)
    assert "hunter2" not in result.stderr + result.stdout
    assert line.startswith(f"virtprov: ConfigError: {config}: pool.journal: holds a credential")
