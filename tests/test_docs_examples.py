"""The documentation's example sessions are what the commands print today.

Every ```` ```text ```` block of ``README.md`` and ``docs/*.md`` whose first line starts
with ``$ `` is a session: the command runs in ``docs/examples/`` (where its input files
live) with no configuration, and its output (stdout and stderr, in the order written)
must equal the rest of the block line for line; ``…`` in the block stands for any text
(timings, ids). A block that drifts from the code fails here, naming file and line.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples"
FENCE = re.compile(r"^```text\n(\$ .*?)^```$", re.MULTILINE | re.DOTALL)


@attrs.frozen
class Session:
    source: str  # file:line, for the test id and messages
    command: str
    expected: tuple[str, ...]


def sessions() -> list[Session]:
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            first, *rest = match.group(1).rstrip("\n").split("\n")
            line = text.count("\n", 0, match.start()) + 2
            found.append(Session(f"{path.relative_to(ROOT)}:{line}", first[2:], tuple(rest)))
    return found


def matches(pattern: str, line: str) -> bool:
    regex = ".*".join(re.escape(part) for part in pattern.split("…"))
    return re.fullmatch(regex, line) is not None


def run(command: str, home: Path) -> list[str]:
    argv = shlex.split(command)
    # The programs of this environment, whatever PATH says.
    bin_dir = Path(sys.executable).parent
    argv[0] = sys.executable if argv[0] == "python" else str(bin_dir / argv[0])
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTPROV_")}
    env.update(HOME=str(home), XDG_STATE_HOME=str(home / "state"), PYTHONUNBUFFERED="1")
    done = subprocess.run(
        argv,
        cwd=EXAMPLES,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
        check=False,
    )
    return [line.rstrip() for line in done.stdout.rstrip("\n").split("\n")]


def test_there_are_sessions_to_check() -> None:
    assert len(sessions()) >= 4


@pytest.mark.parametrize("session", sessions(), ids=lambda s: s.source)
def test_documented_session_prints_what_the_docs_show(session: Session, tmp_path: Path) -> None:
    got = run(session.command, tmp_path)
    expected = [line.rstrip() for line in session.expected]
    shown = "\n".join(got)
    assert len(got) == len(expected), f"{session.source}: `{session.command}` prints\n{shown}"
    for want, line in zip(expected, got, strict=True):
        assert matches(want, line), f"{session.source}: `{session.command}` prints\n{shown}"


def test_cli_md_names_every_command_without_json() -> None:
    """docs/cli.md: "Every command but `A` (...) and `B` (...) takes `--json`"."""
    import click

    from virtprov.cli import cli

    def without_json(command: click.Command, path: str) -> set[str]:
        if isinstance(command, click.Group):
            context = click.Context(command)
            found: set[str] = set()
            for name in command.list_commands(context):
                sub = command.get_command(context, name)
                assert sub is not None
                found |= without_json(sub, f"{path} {name}".strip())
            return found
        has_json = any("--json" in getattr(p, "opts", ()) for p in command.params)
        return set() if has_json else {path}

    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    claim = re.search(r"Every command but (.*?) takes `--json`", text, re.DOTALL)
    assert claim is not None, "docs/cli.md no longer says which commands take --json"
    assert set(re.findall(r"`([^`]+)`", claim.group(1))) == without_json(cli, "")
