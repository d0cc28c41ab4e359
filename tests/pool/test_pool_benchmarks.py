"""The pool's benchmarks, soak and multi-launcher run, shortened (``--quick``).

Timings are not asserted (the machine is shared); the soak's correctness figures are:
a definite outcome for every recipe, none twice, no guest, network or port leaked, every
launcher thread alive, the journal outage noticed and survived, no orphan left, no owned
guest lost.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

# The quick soak took 21 s on a 2-core machine at load 5, and up to 196 s at load 15-20:
# the budget is for a run that hangs, not for a busy machine.
pytestmark = pytest.mark.timeout(900)


def run(script: str) -> tuple[dict[str, Any], str]:
    """The figures (the last line) and everything the script printed and logged (the
    pool logs what ``close()`` left on stderr), which says what went wrong when a figure
    is."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    printed = f"{done.stdout}\n-- stderr --\n{done.stderr}"
    assert done.returncode == 0, printed
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures, printed


def test_quick_launch_benchmark_prints_its_figures() -> None:
    figures, _ = run("launch.py")
    assert set(figures) == {
        "speedup",
        "rate_share",
        "threads",
        "metrics_ratio",
        "metrics_cpu_ratio",
    }
    assert figures["metrics_ratio"] > 0
    assert figures["metrics_cpu_ratio"] > 0
    assert figures["threads"] <= 4
    assert figures["speedup"] > 0
    assert 0 < figures["rate_share"] <= 1.05


def test_quick_soak_leaves_nothing_behind() -> None:
    figures, printed = run("soak.py")
    assert figures["pauses"] >= figures["outages"], printed  # each outage seen, paused
    assert figures == {
        "launches": 150,
        "outage_launches": 60,
        "outages": 1,
        "pauses": figures["pauses"],
        "kills": 5,
        "lost": 0,
        "doubled": 0,
        "leaked": 0,
        "leaked_resources": 0,
        "undecided": 0,
        "threads_dead": 0,
        "orphans_left": 0,
        "owned_deleted": 0,
    }, printed


def test_quick_multi_launcher_run_launches_each_recipe_once_and_loses_nothing() -> None:
    figures, _ = run("launchers.py")
    for journal in (figures, figures["sqlite"]):
        assert journal["launched_twice"] == 0
        assert journal["lost"] == 0
        assert journal["undecided"] == 0
        assert journal["over_capacity"] == 0
        assert journal["leaked"] == 0
        assert journal["peak_rate_share"] <= 1.05
    assert figures["launchers"] == 2


def test_quick_history_benchmark_prints_its_figures() -> None:
    """Launching beside history and while pruning it, on both journals (figures only:
    the ratios of a quick run on a shared machine are noise)."""
    figures, _ = run("history.py")
    for journal in ("sqlite", "postgresql"):
        result = figures[journal]
        assert result["history"] == 20_000
        assert result["rounds"] == 1
        assert len(result["full_ratios"]) == len(result["pruning_ratios"]) == 1
        assert result["full_ratio"] > 0
        assert result["pruning_ratio"] > 0
        assert result["pruned_during_run"] % 500 == 0  # whole batches, the pruner stops between
        assert result["pruned_during_run"] >= 500
