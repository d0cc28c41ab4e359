"""Shared helpers of the pool tests (a uniquely named module: test dirs share sys.path)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from virtprov.config import parse_config_file
from virtprov.fake import DEFAULT_FLAVORS, FakeProvider
from virtprov.fake.faults import FaultKind, FaultPlan, ScriptedFault
from virtprov.model import Guest, GuestSpec
from virtprov.plugins import build_providers
from virtprov.pool import Event, Journal, Limits, Pool, PoolSettings, Recipe, Status
from virtprov.provider import Provider

FAST = PoolSettings(
    launcher="test",
    poll_interval=0.02,
    retry_delay=0.01,
    retry_max_delay=0.05,
    capacity_refresh=60.0,
    default_limits=Limits(mutating=0.0, read=0.0),  # 0: unlimited
)

MEDIUM = DEFAULT_FLAVORS[2]

VMX = "<hostRequires><cpu><flag value='vmx'/></cpu></hostRequires>"

#: The ``virtprov`` command, in a process of its own as a user runs it.
VIRTPROV = [sys.executable, "-c", "from virtprov.cli import main; main()"]


def fast_pool(
    providers: Mapping[str, Provider],
    journal: Journal | str = "sqlite://",
    *,
    subscribe: Callable[[Event], None] | None = None,
    **settings: Any,
) -> Pool:
    """A pool with FAST settings; ``subscribe`` sees every event from the start."""
    import attrs

    return Pool(
        providers,
        settings=attrs.evolve(FAST, **settings),
        journal=journal,
        subscribers=[subscribe] if subscribe else [],
    )


def launched(pool: Pool, recipe: Recipe | int, timeout: float = 10.0) -> Guest:
    """Submit ``recipe`` (a Recipe, or a recipe id) and wait for its outcome, which must be
    a success: its guest."""
    outcome = pool.submit(recipe if isinstance(recipe, Recipe) else Recipe(recipe)).wait(timeout)
    assert outcome is not None
    assert outcome.status is Status.SUCCEEDED, outcome
    assert outcome.guest is not None
    return outcome.guest


def scripted(*faults: tuple[str, int, FaultKind]) -> FaultPlan:
    """A fault plan of exact faults only: each ``(operation, nth call, kind)`` once."""
    return FaultPlan(script=tuple(ScriptedFault(*fault) for fault in faults))


class Recorder:
    """Collects events."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [e.fields for e in self.events if e.kind == kind]


def wait_for(
    condition: Callable[[], object], timeout: float = 30.0, what: str = "the condition"
) -> None:
    """Wait until ``condition()`` holds; the deadline is generous (a loaded machine), so
    only a condition that never comes fails (saying ``what`` it waited for)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.01)


def wait_gone(fake: FakeProvider, keep: int = 0, timeout: float = 30.0) -> list[str]:
    """Wait until ``fake`` holds at most ``keep`` guests (or ``timeout`` passed): the ids
    of those it holds."""
    deadline = time.monotonic() + timeout
    while len(fake.all_guest_ids()) > keep and time.monotonic() < deadline:
        time.sleep(0.02)
    return fake.all_guest_ids()


def create_in_flight(
    journal: Journal,
    recipe: Recipe,
    name: str,
    *,
    provider: str = "fake",
    launcher: str = "test",
    submitter: str | None = None,
    now: float | None = None,
) -> int:
    """Journal ``recipe`` submitted (by ``submitter``, else ``launcher``) and claimed by
    ``launcher``, and its intent to create guest ``name`` (MEDIUM) on ``provider``,
    written at ``now``: the guest row."""
    journal.submit(recipe.recipe_id, recipe.to_json(), submitter or launcher, time.time() + 60)
    journal.claim(launcher, time.time())
    row = journal.begin_create(
        recipe_id=recipe.recipe_id,
        launcher=launcher,
        provider=provider,
        flavor=MEDIUM,
        name=name,
        now=time.time() if now is None else now,
    )
    assert row is not None
    return row


def crashed_mid_create(journal_url: str, fake: FakeProvider, *, created: bool) -> str:
    """Leave the journal as a process killed right after (or before) its create call."""
    journal = Journal(journal_url)
    journal.register_launcher("test", lease=30)
    spec = GuestSpec.for_recipe(1, MEDIUM, pool="virtprov")
    create_in_flight(journal, Recipe(1), spec.name)
    guest_id = fake.create_guest(spec).id if created else ""
    journal.close()
    return guest_id


# -- the command line on a configured fake cloud -----------------------------------------


def cli_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, more: str = "") -> Path:
    """A virtprov.toml with a journal and one fake cloud, ``cloud``, whose state every
    process sees (both SQLite files in ``tmp_path``); ``more``: TOML appended to it. The
    CLI journal is in ``tmp_path / "state"``."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = tmp_path / "virtprov.toml"
    path.write_text(
        f"""
[pool]
journal = "sqlite:///{tmp_path / "journal.sqlite"}"

[providers.cloud]
driver = "fake"
lab = "lab.example.com"
state_file = "{tmp_path / "cloud.sqlite"}"
{more}"""
    )
    return path


def configured_cloud(config: Path) -> FakeProvider:
    """The one fake cloud ``config`` configures, as the CLI builds it."""
    (provider,) = build_providers(parse_config_file(config)).values()
    assert isinstance(provider, FakeProvider)
    return provider


def run_virtprov(*args: str | Path, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """``virtprov ARGS`` in a process of its own: its exit status and both outputs."""
    return subprocess.run(
        [*VIRTPROV, *map(str, args)], capture_output=True, text=True, timeout=timeout, check=False
    )


def one_line_failure(*args: str | Path) -> tuple[int, str]:
    """``virtprov ARGS`` in a process of its own, which must fail as a user should see it:
    nothing on stdout, one line on stderr. Its exit status and that line."""
    done = run_virtprov(*args)
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    return done.returncode, line
