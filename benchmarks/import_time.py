"""How much ``import virtprov`` costs over a bare interpreter, measured in one run.

Each case starts a fresh interpreter; cases are interleaved round by round so that
machine noise hits them alike, and the median is reported. The last line is JSON.

    python benchmarks/import_time.py [--rounds N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

CASES = {
    "bare": "pass",
    "import virtprov": "import virtprov",
    "virtprov model + contract": "import virtprov; virtprov.Flavor; virtprov.Provider",
    "virtprov.hostrequires": "import virtprov.hostrequires",
    "openstack SDK (for scale)": "import openstack",
}


def _run(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=False, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="3 rounds, for the test suite")
    args = parser.parse_args()
    rounds = 3 if args.quick else args.rounds

    samples: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(rounds):
        for name, code in CASES.items():
            samples[name].append(_run(code))
    medians = {name: statistics.median(times) * 1000 for name, times in samples.items()}
    bare = medians["bare"]
    for name, median in medians.items():
        print(f"{name:30s} {median:8.1f} ms   over bare: {median - bare:+7.1f} ms")
    print(
        json.dumps(
            {
                "rounds": rounds,
                "bare_ms": round(bare, 1),
                "import_virtprov_over_bare_ms": round(medians["import virtprov"] - bare, 1),
                "model_over_bare_ms": round(medians["virtprov model + contract"] - bare, 1),
                "hostrequires_over_bare_ms": round(medians["virtprov.hostrequires"] - bare, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
