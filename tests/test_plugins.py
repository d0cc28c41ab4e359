from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from virtprov.config import parse_config
from virtprov.errors import ConfigError, PluginError
from virtprov.plugins import (
    KNOWN_DRIVERS,
    build_provider,
    discover,
    driver_names,
    load_driver,
)
from virtprov.provider import Provider


def test_fake_driver_is_discovered_with_its_distribution() -> None:
    assert "fake" in driver_names()
    fake = next(status for status in discover() if status.name == "fake")
    assert fake.ok
    assert fake.distribution == "virtprov"
    assert fake.version == "0.1.0"
    assert fake.target == "virtprov.fake:FakeProvider"
    assert issubclass(load_driver("fake"), Provider)


def in_a_process(env: dict[str, str], code: str) -> Any:
    """What ``code`` prints as JSON, run in a new interpreter with ``env`` (which sees the
    distributions installed there, as a user's process would)."""
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_broken_plugin_is_reported_not_dropped(broken_plugin_env: dict[str, str]) -> None:
    statuses = in_a_process(
        broken_plugin_env,
        "import attrs, json; from virtprov.plugins import discover\n"
        "print(json.dumps({s.name: attrs.asdict(s) | {'ok': s.ok} for s in discover()}))",
    )
    assert statuses["fake"]["ok"], "one broken plugin must not hide the others"
    broken = statuses["broken"]
    assert not broken["ok"]
    assert broken["distribution"] == "virtprov-broken-plugin"
    assert broken["version"] == "1.2.3"
    assert broken["error"] is not None
    assert "ModuleNotFoundError" in broken["error"]
    assert "virtprov_sdk_that_is_not_installed" in broken["error"]
    assert broken["traceback"] is not None
    assert "virtprov_broken_plugin.py" in broken["traceback"]


def test_loading_a_broken_driver_raises_plugin_error(broken_plugin_env: dict[str, str]) -> None:
    error = in_a_process(
        broken_plugin_env,
        "import json; from virtprov.plugins import load_driver; from virtprov import PluginError\n"
        "try:\n    load_driver('broken')\n"
        "except PluginError as e:\n"
        "    print(json.dumps([e.name, e.distribution, e.version, str(e), e.traceback]))",
    )
    name, distribution, version, message, formatted_traceback = error
    assert (name, distribution, version) == ("broken", "virtprov-broken-plugin", "1.2.3")
    assert "from virtprov-broken-plugin 1.2.3" in message
    assert formatted_traceback is not None
    assert "Traceback" in formatted_traceback


def test_unknown_driver_names_what_is_installed() -> None:
    with pytest.raises(PluginError, match=r"no provider driver named 'nope'.*installed: .*fake"):
        load_driver("nope")


def test_unknown_driver_hint_names_no_made_up_distribution() -> None:
    with pytest.raises(PluginError) as caught:
        load_driver("nope")
    assert "virtprov-nope" not in str(caught.value)
    assert "no virtprov distribution provides it" in str(caught.value)


def test_missing_known_driver_names_its_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("virtprov.plugins._entry_points", lambda group: [])
    with pytest.raises(PluginError) as caught:
        load_driver("openstack")
    assert "pip install virtprov-openstack" in str(caught.value)
    with pytest.raises(PluginError, match="comes with virtprov itself"):
        load_driver("fake")


def test_known_drivers_are_what_the_distributions_declare() -> None:
    """The hint table is the truth of the repository's pyproject.toml files."""
    import tomllib

    root = Path(__file__).resolve().parents[1]
    declared = {}
    for pyproject in [root / "pyproject.toml", *sorted(root.glob("virtprov_*/pyproject.toml"))]:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
        for driver in project.get("entry-points", {}).get("virtprov.providers", {}):
            declared[driver] = project["name"]
    assert declared == KNOWN_DRIVERS


def test_a_provider_with_a_missing_driver_is_a_config_error() -> None:
    config = parse_config('[providers.x]\ndriver = "nope"\nlab = "l"\n', path="v.toml")
    with pytest.raises(ConfigError, match=r"v\.toml: providers\.x\.driver: .*'nope'"):
        build_provider(config.providers["x"])
