"""The benchmarks run and end with their JSON line (timings are not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "eligibility.py"


def run_quick(script: Path, *, timeout: float) -> tuple[dict[str, Any], str]:
    """The figures (its last line, JSON) and the whole output of ``script --quick``."""
    done = subprocess.run(
        [sys.executable, str(script), "--quick"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures, done.stdout


def test_quick_benchmark_prints_its_figures(front_end: str) -> None:
    figures, _ = run_quick(BENCHMARK, timeout=120)
    assert set(figures) == {
        "ratio_vs_lxml",
        "front_end",
        "ratio_vs_lxml_python",
        "evals_per_s",
        "tmt_evals_per_s",
    }
    # the subprocess follows VIRTPROV_NO_SPEEDUPS, which conftest sets for its Python runs
    assert figures["front_end"] == front_end
    assert figures["ratio_vs_lxml"] > 0
    assert figures["ratio_vs_lxml_python"] > 0
    assert figures["evals_per_s"] > 0
    assert figures["tmt_evals_per_s"] > 0


def test_corpus_is_valid_and_large_enough() -> None:
    sys.path.insert(0, str(BENCHMARK.parent))
    try:
        import eligibility
    finally:
        sys.path.remove(str(BENCHMARK.parent))
    from virtprov.hostrequires import parse

    documents = eligibility.corpus(1000)
    assert len(set(documents)) > 700  # mostly distinct (empty ones repeat, as in real queues)
    for document in documents:
        parse(document)  # every generated document is valid
    assert len(eligibility.flavors()) == 40
    from virtprov.hostrequires.tmt import parse_tmt

    tmt_documents = eligibility.tmt_corpus(1000)
    for tmt_document in tmt_documents:
        parse_tmt(tmt_document)  # every generated tmt document is valid


HOSTILE = BENCHMARK.parent / "hostile.py"


def test_quick_hostile_benchmark_decides_everything(front_end: str) -> None:
    """Every catalogued input is judged without an unexpected error, and every hostile
    recipe submitted to the pool is decided with its reason (timings are not asserted)."""
    if front_end != "compiled":
        pytest.skip("one run is enough: the benchmark forks a process per input")
    figures, output = run_quick(HOSTILE, timeout=300)
    assert figures["inputs"] >= 40
    assert figures["errors"] == 0
    assert figures["hostile_decided"] is True
    assert figures["hostile_recipes"] == 4
    assert figures["peak_mb"] > 0
    assert "ERROR" not in output
