"""Run one benchmark and keep its figures in ``benchmarks/results/NAME.json``.

    python benchmarks/record.py launch            # runs benchmarks/launch.py
    python benchmarks/record.py eligibility -- --rounds 5

Each benchmark ends with one JSON line of figures measured in that run (ratios within
the run where it can, so that machines compare). The record keeps them with the exact
command, the date and the machine, and the docs build draws its plots from these files
only: a plot changes when someone records again and commits the file, never by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", help="the benchmark: a script benchmarks/NAME.py")
    parser.add_argument("args", nargs="*", help="arguments for the benchmark (after --)")
    options = parser.parse_args()
    script = HERE / f"{options.name}.py"
    if not script.is_file():
        parser.error(f"no benchmark {script.name} in benchmarks/")
    done = subprocess.run(
        [sys.executable, str(script), *options.args], capture_output=True, text=True, check=False
    )
    sys.stdout.write(done.stdout)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        sys.exit(f"record: {script.name} exited {done.returncode}; nothing recorded")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    record = {
        "benchmark": options.name,
        "command": " ".join(["python", f"benchmarks/{script.name}", *options.args]),
        "recorded": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}",
        "figures": figures,
    }
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / f"{options.name}.json"
    target.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"record: {target.relative_to(HERE.parent)}", file=sys.stderr)


if __name__ == "__main__":
    main()
