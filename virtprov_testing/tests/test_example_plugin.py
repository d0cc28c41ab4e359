"""The example plugin of ``docs/plugins.md`` (``docs/examples/plugin``) works as documented.

Its own tests (the conformance suite and a pool test) run here from its source, with its
entry point declared as its ``pyproject.toml`` declares it; ``scripts/test-artifacts``
runs them once more from its built wheel in a clean environment.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "plugin"


def declared_site(where: Path) -> Path:
    """A directory with the example's distribution metadata: its entry points, from its
    ``pyproject.toml``, as an installation would write them."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    info = where / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n",
        encoding="utf-8",
    )
    groups = project["entry-points"]
    (info / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in points.items())
            for group, points in groups.items()
        ),
        encoding="utf-8",
    )
    return where


def test_the_example_plugins_own_tests_pass(tmp_path: Path) -> None:
    site = declared_site(tmp_path / "site")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(EXAMPLE / "src"), str(site)]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout, done.stdout


def test_the_example_imports_virtprov_from_its_root_only() -> None:
    """What a plugin needs is exported from ``virtprov`` (and ``virtprov.pool`` for tests)."""
    for path in sorted(EXAMPLE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                top, _, rest = node.module.partition(".")
                if top == "virtprov":
                    assert rest in ("", "pool"), f"{path.name}: from {node.module} import ..."
