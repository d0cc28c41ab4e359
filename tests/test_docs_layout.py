"""docs/development.md's layout has a line for every module of every distribution (and
every benchmark), so that a new module cannot go unexplained."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The folders whose every module the layout names.
FOLDERS = ("virtprov/", "virtprov_", "benchmarks/")
BLOCK = re.compile(r"^```text\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def shown_paths() -> set[str]:
    """The paths the layout's blocks name: indentation nests a line under the folder
    (a first word ending in ``/``) above it."""
    text = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")
    section = text[text.index("## Layout") : text.index("## One command each")]
    paths = set()
    for block in BLOCK.findall(section):
        folders: list[tuple[int, str]] = []
        for line in block.splitlines():
            if not line.strip():
                continue
            indent = len(line) - len(line.lstrip())
            word = line.split()[0]
            while folders and folders[-1][0] >= indent:
                folders.pop()
            path = "".join(f for _, f in folders) + word
            if word.endswith("/"):
                folders.append((indent, word))
            else:
                paths.add(path)
    return paths


def modules() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "*.py", "*.pyx"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [
        p
        for p in listed
        if p.startswith(FOLDERS) and "/tests/" not in p and not p.startswith("docs/")
    ]


def test_every_module_has_its_line() -> None:
    shown = shown_paths()
    missing = [path for path in modules() if path not in shown]
    assert not missing, f"docs/development.md's layout has no line for {missing}"
