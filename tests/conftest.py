from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
BROKEN_PLUGIN_SITE = FIXTURES / "broken_plugin_site"
CLI_PLUGIN_SITE = FIXTURES / "cli_plugin_site"


@pytest.fixture
def broken_plugin_installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real distribution whose provider plugin fails to import, on this process's path.

    It is also put on PYTHONPATH so that CLI subprocesses see it installed too.
    """
    monkeypatch.syspath_prepend(str(BROKEN_PLUGIN_SITE))
    path = os.pathsep.join(filter(None, [str(BROKEN_PLUGIN_SITE), os.environ.get("PYTHONPATH")]))
    monkeypatch.setenv("PYTHONPATH", path)
    # stevedore caches entry points per sys.path; make sure it sees the new path.
    from stevedore import ExtensionManager

    ExtensionManager.ENTRY_POINT_CACHE.clear()
    yield BROKEN_PLUGIN_SITE
    ExtensionManager.ENTRY_POINT_CACHE.clear()
    sys.modules.pop("virtprov_broken_plugin", None)


@pytest.fixture
def cli_plugin_env(cli_env: dict[str, str]) -> dict[str, str]:
    """``cli_env`` with a distribution installed that adds ``virtprov fixture ...`` commands."""
    path = os.pathsep.join(filter(None, [str(CLI_PLUGIN_SITE), os.environ.get("PYTHONPATH")]))
    return {**cli_env, "PYTHONPATH": path}


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
