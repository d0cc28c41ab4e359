"""Sphinx extension: the benchmarks' plots, drawn at build time from their recorded JSON.

``benchmarks/record.py NAME`` keeps a benchmark's figures in
``benchmarks/results/NAME.json``; this draws one SVG per record into
``docs/_generated/`` (not committed) before the pages are read, so a page shows
``![...](_generated/NAME.svg)`` and the plot can only show what was recorded. A record
that is missing, or lacks a figure a plot needs, fails the build.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
Figures = dict[str, Any]


def _bars(
    axes: Axes,
    labels: list[str],
    values: list[float],
    unit: str,
    title: str,
    digits: int = 2,
) -> None:
    """Horizontal bars, the first (the reference) grey, each labelled with its value."""
    bars = axes.barh(labels, values, color=["#8a8a8a"] + ["#3b75af"] * (len(values) - 1))
    axes.bar_label(bars, labels=[f"{v:,.{digits}f}{unit}" for v in values], padding=3)
    axes.set_title(title, fontsize=10)
    axes.invert_yaxis()
    axes.set_xlim(0, max(values) * 1.3)
    axes.spines[["top", "right"]].set_visible(False)


def _launch(figures: Figures) -> plt.Figure:
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 2.4))
    _bars(
        left,
        ["Beaker's way (5 threads)", "virtprov pool"],
        [1.0, 1.0 / figures["speedup"]],
        "",
        "200 guests: wall time, relative to Beaker's way",
    )
    _bars(
        right,
        ["Beaker's way", "virtprov pool"],
        [5.0, float(figures["threads"])],
        "",
        "threads used",
        digits=0,
    )
    return figure


def _eligibility(figures: Figures) -> plt.Figure:
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 2.4))
    _bars(
        left,
        ["lxml's parse alone", f"virtprov ({figures['front_end']})", "virtprov (Python)"],
        [1.0, figures["ratio_vs_lxml"], figures["ratio_vs_lxml_python"]],
        "x",
        "<hostRequires/> to verdict: time per document",
    )
    _bars(
        right,
        ["<hostRequires/>", "tmt hardware:"],
        [figures["evals_per_s"], figures["tmt_evals_per_s"]],
        "",
        "evaluations per second of a compiled document",
        digits=0,
    )
    return figure


def _import_time(figures: Figures) -> plt.Figure:
    figure, axes = plt.subplots(figsize=(9, 2.2))
    _bars(
        axes,
        ["bare interpreter", "import virtprov", "model + contract", "virtprov.hostrequires"],
        [
            figures["bare_ms"],
            figures["import_virtprov_over_bare_ms"],
            figures["model_over_bare_ms"],
            figures["hostrequires_over_bare_ms"],
        ],
        " ms",
        "start-up cost: the bare interpreter, and each import over it (median)",
        digits=1,
    )
    return figure


PLOTS: dict[str, Callable[[Figures], plt.Figure]] = {
    "launch": _launch,
    "eligibility": _eligibility,
    "import_time": _import_time,
}


def draw(out: Path) -> list[Path]:
    """Every plot from its record; ``out`` receives NAME.svg for each."""
    out.mkdir(parents=True, exist_ok=True)
    drawn = []
    plt.rcParams["svg.hashsalt"] = "virtprov"  # the same record gives the same file
    for name, plot in PLOTS.items():
        record_path = RESULTS / f"{name}.json"
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
            figure = plot(record["figures"])
        except (OSError, ValueError, KeyError) as exc:
            raise ExtensionError(
                f"benchmark plot {name}: cannot draw from {record_path}: "
                f"{type(exc).__name__}: {exc} (record it: python benchmarks/record.py {name})"
            ) from exc
        figure.text(
            0.01,
            0.01,
            f"{record['command']} · {record['recorded']} · {record['machine']}",
            fontsize=7,
            color="#666666",
        )
        figure.tight_layout(rect=(0, 0.06, 1, 1))
        target = out / f"{name}.svg"
        figure.savefig(target, format="svg", metadata={"Date": None})
        plt.close(figure)
        drawn.append(target)
    return drawn


def _on_builder_inited(app: Sphinx) -> None:
    draw(Path(app.srcdir) / "_generated")


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
