from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
BROKEN_PLUGIN_SITE = FIXTURES / "broken_plugin_site"
CLI_PLUGIN_SITE = FIXTURES / "cli_plugin_site"


@pytest.fixture
def broken_plugin_env(cli_env: dict[str, str]) -> dict[str, str]:
    """``cli_env`` with a real distribution installed whose provider plugin fails to import.

    It is installed on the path of the processes started with this environment only: a
    process reads its entry points once (stevedore keeps them for the process's life).
    """
    return _with_site(cli_env, BROKEN_PLUGIN_SITE)


@pytest.fixture
def cli_plugin_env(cli_env: dict[str, str]) -> dict[str, str]:
    """``cli_env`` with a distribution installed that adds ``virtprov fixture ...`` commands."""
    return _with_site(cli_env, CLI_PLUGIN_SITE)


def _with_site(env: dict[str, str], site: Path) -> dict[str, str]:
    """``env`` with the distributions of ``site`` installed (first on the path)."""
    return {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))}


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for CLI runs with no configuration: the embedded fake, state in tmp."""
    monkeypatch.delenv("VIRTPROV_CONFIG", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr("virtprov.config.SYSTEM_CONFIG", tmp_path / "absent.toml")
    return {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_journal_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty journal database: an SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'journal.sqlite'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def journal_url(empty_journal_url: str) -> str:
    """A journal at the current schema, as after the operator's `virtprov journal upgrade`."""
    from virtprov.pool import Journal

    Journal(empty_journal_url, upgrade=True).close()
    return empty_journal_url
