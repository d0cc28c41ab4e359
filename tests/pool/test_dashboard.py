"""The dashboard and the operations page name only series virtprov exports (they cannot
drift from the code), and every series virtprov exports is documented."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import generate_latest

from virtprov.pool import Journal
from virtprov.pool.fleet_metrics import exposition, fleet_registry
from virtprov.pool.metrics import PoolMetrics
from virtprov.pool.readonly import ReadOnlyJournal

DOCS = Path(__file__).resolve().parents[2] / "docs"
SUFFIXES = ("_bucket", "_count", "_sum", "_created", "_total")


def base(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def exported(journal_url: str) -> set[str]:
    """The names of every series a pool's metrics and the journal exporter produce."""
    metrics = PoolMetrics()
    metrics.seed(["fake"])
    text = generate_latest(metrics.registry).decode()
    journal = ReadOnlyJournal(journal_url)
    try:
        text += exposition(fleet_registry(journal, ["fake"]))
    finally:
        journal.close()
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    return {base(n) for n in names if n.startswith("virtprov_")}


def test_the_dashboard_and_the_docs_name_only_exported_series(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'journal.sqlite'}"
    Journal(url).close()
    known = exported(url)
    dashboard = json.loads((DOCS / "dashboard" / "virtprov-grafana.json").read_text())
    used = {
        base(name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"virtprov_[a-z_]+", target["expr"])
    }
    assert used - known == set()
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])

    page = (DOCS / "operations.md").read_text()
    documented = {base(f"virtprov_{n}") for n in re.findall(r"`(?:virtprov_)?([a-z_]+)`", page)}
    # every series virtprov exports is in the operations page's tables
    assert known - documented == set()
