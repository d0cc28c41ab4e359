"""The distributions as a user gets them: built, installed from their files, run.

Builds an sdist of every distribution of the workspace and a wheel from each sdist
(``uv build``, so a file the sdist forgets is missing from the wheel too), checks what
the archives hold (every tracked file of each package, the LICENSE), then installs the
wheels into clean virtual environments from those files only (no editable install, no
workspace, no index for virtprov's own distributions; third-party packages at the
versions uv.lock pins) and runs them from outside the repository:

* the core alone: ``virtprov providers`` (only ``fake``), provision -> list -> destroy on
  the embedded default;
* everything: ``virtprov providers`` (every plugin ``ok``), ``uv pip check`` (the
  inter-distribution version bounds hold), provision -> list -> destroy, the scheduler
  example, the conformance suite against the fake, ``virtprov journal upgrade`` of a new
  SQLite journal and Alembic's ``check`` that the migrations build the schema the code
  expects, and ``py.typed`` and the migration template in every installed package;
* the example plugin of ``docs/plugins.md`` (``docs/examples/plugin``), built and
  installed with the core and virtprov-testing alone: ``virtprov providers`` lists it,
  and its own tests (the conformance suite, a pool test) pass.

Any failure prints what failed (the command, its output) and exits 1. Run by
``scripts/test``; on its own: ``scripts/test-artifacts``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UV = ROOT / ".tools" / "bin" / "uv"
PYTHON = os.environ.get("PYTHON", "python3")
OUT = ROOT / "build" / "artifacts"

#: distribution -> (folder of its pyproject.toml, its package folder in the repository).
DISTRIBUTIONS = {
    "virtprov": (".", "virtprov"),
    "virtprov-testing": ("virtprov_testing", "virtprov_testing/src/virtprov_testing"),
    "virtprov-openstack": ("virtprov_openstack", "virtprov_openstack/src/virtprov_openstack"),
    "virtprov-ovirt": ("virtprov_ovirt", "virtprov_ovirt/src/virtprov_ovirt"),
    "virtprov-libcloud": ("virtprov_libcloud", "virtprov_libcloud/src/virtprov_libcloud"),
    "virtprov-speedups": ("virtprov_speedups", "virtprov_speedups/src/virtprov_speedups"),
}
PROVIDERS = {"fake", "openstack", "ovirt", "libcloud"}
#: The example third-party plugin: a distribution outside the workspace.
EXAMPLE_PLUGIN = ROOT / "docs" / "examples" / "plugin"


class Failed(Exception):
    """One check failed; the message says which and shows the evidence."""


def step(title: str) -> None:
    print(f"artifacts: {title}", file=sys.stderr, flush=True)


def run(
    argv: list[str | Path], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> str:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        shown = " ".join(str(a) for a in argv)
        raise Failed(f"`{shown}` exited {done.returncode}:\n{done.stdout}{done.stderr}".rstrip())
    return done.stdout


def export_constraints(constraints: Path) -> None:
    """Third-party packages at the versions uv.lock pins (virtprov's own come as files)."""
    exported = run(
        [UV, "export", "--quiet", "--frozen", "--all-packages", "--no-emit-workspace",
         "--no-hashes", "--no-header"],
        cwd=ROOT,
    )  # fmt: skip
    constraints.parent.mkdir(parents=True, exist_ok=True)
    constraints.write_text(exported, encoding="utf-8")


def build(dist: Path, constraints: Path) -> None:
    step("building an sdist and a wheel (from the sdist) of every distribution")
    # Built as pip would build them: --no-config leaves out the workspace's uv settings
    # (its match-runtime lxml for virtprov-speedups needs a resolved environment); the
    # build constraints give the build the lxml the environments then run.
    run(
        [UV, "build", "--quiet", "--no-config", "--all-packages", "--build-constraint",
         constraints, "--out-dir", dist, "--python", PYTHON],
        cwd=ROOT,
    )  # fmt: skip


def archive_of(dist: Path, name: str, suffix: str) -> Path:
    stem = name.replace("-", "_")
    found = sorted(dist.glob(f"{stem}-*{suffix}"))
    if len(found) != 1:
        raise Failed(f"expected one {stem}-*{suffix} in {dist}, found {[f.name for f in found]}")
    return found[0]


def tracked_files(folder: str) -> set[str]:
    """Files git tracks under ``folder`` (the working tree's when it is no checkout)."""
    base = ROOT / folder
    try:
        listed = run(["git", "ls-files", "-z", "--", folder], cwd=ROOT).split("\0")
        paths = {str((ROOT / p).relative_to(base)) for p in listed if p}
    except (Failed, FileNotFoundError):
        paths = {str(p.relative_to(base)) for p in base.rglob("*") if p.is_file()}
    return {p for p in paths if "__pycache__" not in p and not p.endswith((".c", ".so"))}


def check_archives(dist: Path) -> None:
    step("checking that every sdist and wheel holds its package's files and the LICENSE")
    license_text = (ROOT / "LICENSE").read_bytes()
    problems = []
    for name, (project, package) in DISTRIBUTIONS.items():
        sdist, wheel = archive_of(dist, name, ".tar.gz"), archive_of(dist, name, ".whl")
        with tarfile.open(sdist) as tar:
            top = tar.getnames()[0].split("/")[0]
            members = {m.split("/", 1)[1] for m in tar.getnames() if "/" in m}
            member = tar.extractfile(f"{top}/LICENSE") if "LICENSE" in members else None
            if member is None or member.read() != license_text:
                problems.append(f"{sdist.name}: no LICENSE with the GPL-2.0 text")
        tracked = sorted(tracked_files(package))
        in_sdist = package.removeprefix("" if project == "." else f"{project}/")
        problems += [
            f"{sdist.name}: missing {in_sdist}/{path}"
            for path in tracked
            if f"{in_sdist}/{path}" not in members
        ]
        with zipfile.ZipFile(wheel) as whl:
            names = set(whl.namelist())
            licenses = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
            if not licenses or whl.read(licenses[0]) != license_text:
                problems.append(f"{wheel.name}: no .dist-info/licenses/LICENSE with the GPL text")
        module = Path(package).name
        problems += [
            f"{wheel.name}: missing {module}/{path}"
            for path in tracked
            if f"{module}/{path}" not in names
        ]
    if problems:
        raise Failed("archives incomplete:\n  " + "\n  ".join(problems))


def venv(where: Path, wheels: list[Path], constraints: Path) -> Path:
    run([UV, "venv", "--quiet", "--python", PYTHON, where])
    python = where / "bin" / "python"
    # The wheels by path: virtprov's own distributions come from these files only.
    run([UV, "pip", "install", "--quiet", "--python", python, "--constraint", constraints, *wheels])
    run([UV, "pip", "check", "--python", python])
    return python


def clean_env(home: Path, bin_dir: Path) -> dict[str, str]:
    """No configuration, no state and no source tree from this machine's user."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTPROV_", "PYTHON"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_CACHE_HOME=str(home / "cache"),
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def provision_list_destroy(bin_dir: Path, env: dict[str, str], cwd: Path) -> None:
    virtprov = bin_dir / "virtprov"
    guest = json.loads(run([virtprov, "provision", "--json", "--recipe-id", "7"], cwd=cwd, env=env))
    if guest.get("state") != "running" or not guest.get("macs"):
        raise Failed(f"`virtprov provision --json` gave no running guest with a MAC: {guest}")
    listed = json.loads(run([virtprov, "list", "--json"], cwd=cwd, env=env))
    if [g["id"] for g in listed] != [guest["id"]]:
        raise Failed(f"`virtprov list --json` after provision: {listed}")
    run([virtprov, "destroy", guest["id"]], cwd=cwd, env=env)
    listed = json.loads(run([virtprov, "list", "--json"], cwd=cwd, env=env))
    if listed:
        raise Failed(f"`virtprov list --json` after destroy still shows {listed}")


def providers(bin_dir: Path, env: dict[str, str], cwd: Path, expected: set[str]) -> None:
    found = json.loads(run([bin_dir / "virtprov", "providers", "--json"], cwd=cwd, env=env))
    broken = [f"{p['name']}: {p['error']}" for p in found if not p["ok"]]
    if broken or {p["name"] for p in found} != expected:
        raise Failed(f"`virtprov providers --json`: expected {sorted(expected)} ok, got {found}")


CONFORMANCE = """
import pytest
from virtprov_testing.conformance import ProviderConformance
from virtprov.fake import FakeProvider


class TestFakeConformance(ProviderConformance):
    poll_interval = 0.0

    @pytest.fixture
    def provider(self):
        return FakeProvider(instances=10)
"""


def core_alone(dist: Path, constraints: Path, work: Path) -> None:
    step("the core alone (`pip install virtprov`): providers, provision -> list -> destroy")
    python = venv(work / "core-venv", [archive_of(dist, "virtprov", ".whl")], constraints)
    home = work / "core-home"
    home.mkdir()
    env = clean_env(home, python.parent)
    providers(python.parent, env, home, {"fake"})
    provision_list_destroy(python.parent, env, home)


def everything(dist: Path, constraints: Path, work: Path) -> None:
    step("every distribution: pip check, providers, provision -> list -> destroy")
    wheels = [archive_of(dist, name, ".whl") for name in DISTRIBUTIONS]
    python = venv(work / "venv", wheels, constraints)
    bin_dir = python.parent
    home = work / "home"
    home.mkdir()
    env = clean_env(home, bin_dir)
    providers(bin_dir, env, home, PROVIDERS)
    provision_list_destroy(bin_dir, env, home)

    step("every distribution: the scheduler example")
    output = run([python, ROOT / "docs" / "examples" / "scheduler_loop.py"], cwd=home, env=env)
    decided = [line for line in output.splitlines() if line.startswith("recipe ")]
    if len(decided) != 5:
        raise Failed(f"the scheduler example did not decide its five recipes:\n{output}")

    step("every distribution: the conformance suite against the fake")
    (home / "test_fake_conformance.py").write_text(CONFORMANCE, encoding="utf-8")
    run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_fake_conformance.py"],
        cwd=home,
        env=env,
    )

    step("every distribution: journal upgrade of a new SQLite journal, alembic check, py.typed")
    journal = home / "journal.sqlite"
    (home / "virtprov.toml").write_text(
        f'[pool]\njournal = "sqlite:///{journal}"\n\n'
        '[providers.cloud]\ndriver = "fake"\nlab = "lab.example.com"\n'
    )
    config = ["--config", home / "virtprov.toml"]
    run([bin_dir / "virtprov", *config, "journal", "upgrade"], cwd=home, env=env)
    run(
        [python, Path(__file__).with_name("artifact_installed_checks.py"), journal],
        cwd=home,
        env=env,
    )


def example_plugin(dist: Path, constraints: Path, work: Path) -> None:
    step("the example plugin: built, installed with virtprov and virtprov-testing, its tests")
    plugin_dist = work / "example-dist"
    run(
        [UV, "build", "--quiet", "--no-config", "--build-constraint", constraints,
         "--out-dir", plugin_dist, "--python", PYTHON, EXAMPLE_PLUGIN],
        cwd=ROOT,
    )  # fmt: skip
    wheels = [
        archive_of(dist, "virtprov", ".whl"),
        archive_of(dist, "virtprov-testing", ".whl"),
        archive_of(plugin_dist, "virtprov-toy", ".whl"),
    ]
    python = venv(work / "plugin-venv", wheels, constraints)
    home = work / "plugin-home"
    # Its tests only, copied: the plugin itself comes from its wheel.
    shutil.copytree(EXAMPLE_PLUGIN / "tests", home / "tests")
    env = clean_env(home, python.parent)
    providers(python.parent, env, home, {"fake", "toy"})
    run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=home, env=env)


def main() -> int:
    started = time.monotonic()
    if not UV.exists():
        print("artifacts: run scripts/bootstrap first (it installs uv in .tools/)", file=sys.stderr)
        return 1
    shutil.rmtree(OUT, ignore_errors=True)
    dist = OUT / "dist"
    constraints = OUT / "constraints.txt"
    try:
        export_constraints(constraints)
        build(dist, constraints)
        check_archives(dist)
        with tempfile.TemporaryDirectory(prefix="virtprov-artifacts-") as tmp:
            core_alone(dist, constraints, Path(tmp))
            everything(dist, constraints, Path(tmp))
            example_plugin(dist, constraints, Path(tmp))
    except Failed as exc:
        print(f"artifacts: FAILED: {exc}", file=sys.stderr)
        return 1
    step(f"ok ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
