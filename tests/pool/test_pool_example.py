"""The worked scheduler loop in the docs runs and decides every recipe."""

from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "scheduler_loop.py"


def test_scheduler_loop_example_runs() -> None:
    verdicts = runpy.run_path(str(EXAMPLE))["main"]()
    assert verdicts[103].startswith("hardware (precluded:")
    assert sorted(verdicts) == [101, 102, 103, 104, 105]
    vms = [v for v in verdicts.values() if v.startswith("VM ")]
    assert len(vms) == 3  # the cloud has room for three guests
    skipped = [v for v in verdicts.values() if v.startswith("hardware for now (skipped")]
    assert len(skipped) == 1
    # The outcome's own reason, not a label: which provider could not take it, and why.
    assert "skipped: cloud: not enough capacity for fake." in skipped[0]
