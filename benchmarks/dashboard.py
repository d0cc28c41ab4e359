"""The dashboard's picture, from a real run: two scheduler processes, Prometheus, the
dashboard's own queries.

Two launcher processes share a PostgreSQL journal (a throwaway server on 127.0.0.1) and
two fake clouds for one lab (``east``: room for 12 guests; ``west``: 40, slower builds),
with the launch benchmark's kind of latency, random faults at create and build, and a
mutating rate limit of 4 calls/s per cloud. Each process serves its metrics
(``Pool(metrics=True)``), submits a recipe every 3 s (one in twenty for a lab nobody
serves, one in twenty asking for nested virtualisation no flavor declares: precluded),
takes outcomes and releases each guest 30 to 90 s later, as a scheduler does. Midway
``west`` refuses a create with a permanent error (disabled) and is re-enabled a minute
later; every minute a guest nobody owns appears on ``east`` and the sweeper finds it.
``virtprov metrics serve`` exports the journal, and Prometheus (the Debian package's
binary) scrapes the three every 5 seconds.

Then every panel of ``docs/dashboard/virtprov-grafana.json`` is drawn, in the
dashboard's layout, from its own PromQL queries (``$__rate_interval`` = 20 s, four
scrapes, as Grafana computes it), and saved as ``docs/dashboard/virtprov-dashboard.png``.
No Grafana server runs here: this is an equivalent render of the same queries over the
same data.

Needs Prometheus and matplotlib: ``scripts/render-dashboard`` installs both and runs
this. Prints what the run did; the last line is JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DASHBOARD = ROOT / "docs" / "dashboard" / "virtprov-grafana.json"
PICTURE = ROOT / "docs" / "dashboard" / "virtprov-dashboard.png"
SCRAPE = 5
RATE_INTERVAL = "20s"
LAB = "lab.example.com"
VMX = "<hostRequires><cpu><flag value='vmx'/></cpu></hostRequires>"
VIRTPROV = (sys.executable, "-c", "from virtprov.cli import main; main()")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# -- one scheduler process ---------------------------------------------------------------


def scheduler(spec: dict[str, Any]) -> None:
    """Submit for ``minutes``, take outcomes, release guests; then drain and exit."""
    from virtprov.errors import ProviderError
    from virtprov.fake import DEFAULT_FLAVORS, FakeProvider
    from virtprov.fake.faults import FaultPlan, Latency, ScriptedFault
    from virtprov.model import GuestSpec
    from virtprov.pool import Limits, Pool, PoolSettings, Recipe

    rng = random.Random(spec["seed"])
    work = Path(spec["work"])
    first = spec["name"] == "beakerd-1"

    def cloud(
        name: str, instances: int, latency: Latency, faults: FaultPlan, seed: int
    ) -> FakeProvider:
        """One of the lab's two clouds, in a state file both processes share."""
        return FakeProvider(
            name=name,
            lab=LAB,
            instances=instances,
            state_file=work / f"{name}.sqlite",
            latency=latency,
            faults=faults,
            seed=seed,
        )

    east = cloud(
        "east",
        12,
        Latency(create=(0.1, 0.4), build=(15.0, 35.0), shutdown=(1.0, 3.0)),
        FaultPlan(
            rates={"create": 0.04, "build": 0.06},
            kinds={"create": ("capacity", "transient", "timeout"), "build": ("capacity",)},
        ),
        spec["seed"],
    )
    # the first process's west refuses its 25th create for good: disabled, for everyone
    script = (ScriptedFault("create", 25, "permanent"),) if first else ()
    west = cloud(
        "west",
        40,
        Latency(create=(0.2, 0.6), build=(30.0, 70.0), shutdown=(2.0, 4.0)),
        FaultPlan(rates={"create": 0.03}, kinds={"create": ("transient",)}, script=script),
        spec["seed"] + 1,
    )
    settings = PoolSettings(
        launcher=spec["name"],
        poll_interval=2.0,
        capacity_refresh=20.0,
        launch_timeout=300.0,
        lease=10.0,
        expected_launchers=2,
        default_limits=Limits(mutating=4.0, read=20.0),
        metrics_port=spec["port"],
        metrics_address="127.0.0.1",
    )
    pool = Pool({"east": east, "west": west}, settings=settings, journal=spec["journal"])
    started = time.time()
    stop_at = started + spec["minutes"] * 60
    hold: dict[str, tuple[float, Any]] = {}
    next_submit = next_sweep = next_orphan = started
    disabled_since: dict[str, float] = {}
    n = 0
    with pool:
        while time.time() < stop_at or hold:
            now = time.time()
            if now < stop_at and now >= next_submit:
                kind = rng.random()
                recipe_id = f"{spec['name']}-{n}"
                if kind < 0.05:
                    pool.submit(Recipe(recipe_id, labs=["lab.elsewhere.example.com"]))
                elif kind < 0.10:
                    pool.submit(Recipe(recipe_id, VMX))
                else:
                    pool.submit(Recipe(recipe_id, labs=[LAB], owner=f"user{n % 7}"))
                n += 1
                next_submit = now + spec["every"]
            for outcome in pool.poll(timeout=0.5):
                if outcome.guest is not None:
                    hold[outcome.recipe_id] = (time.time() + rng.uniform(30, 90), outcome)
            for recipe_id, (when, outcome) in list(hold.items()):
                if time.time() >= when:
                    pool.release(outcome)
                    del hold[recipe_id]
            if first:
                for name in pool.journal.disabled_providers():
                    since = disabled_since.setdefault(name, time.time())
                    if time.time() - since > 60:  # the operator fixed the credentials
                        pool.enable(name)
                        del disabled_since[name]
                if now >= next_orphan and now < stop_at:  # someone's leftover guest
                    orphan = GuestSpec.for_recipe(
                        f"orphan-{int(now)}", DEFAULT_FLAVORS[1], pool="virtprov"
                    )
                    with contextlib.suppress(ProviderError):  # east is full: next minute
                        east.create_guest(orphan)
                    next_orphan = now + 60
                if now >= next_sweep:
                    pool.sweep()
                    next_sweep = now + 30
        time.sleep(3 * SCRAPE)  # the last figures reach Prometheus


# -- the run ---------------------------------------------------------------------------------


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        raise SystemExit(
            "no prometheus binary: apt-get install prometheus (scripts/render-dashboard does)"
        )
    return found


def query(base: str, path: str, **params: Any) -> Any:
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=60) as response:
        answer = json.load(response)
    if answer.get("status") != "success":
        raise RuntimeError(f"{url}: {answer}")
    return answer["data"]


def run(minutes: float, seed: int) -> dict[str, Any]:
    from virtprov_testing.postgres import TemporaryPostgres

    binary = prometheus_binary()
    with TemporaryPostgres() as server, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        journal = server.fresh_database()
        from virtprov.pool import Journal

        Journal(journal, upgrade=True).close()
        ports = {"beakerd-1": free_port(), "beakerd-2": free_port(), "exporter": free_port()}
        config = work / "virtprov.toml"
        config.write_text(
            f'[pool]\njournal = "{journal}"\n'
            f'[providers.east]\ndriver = "fake"\nlab = "{LAB}"\n'
            f'[providers.west]\ndriver = "fake"\nlab = "{LAB}"\n'
        )
        prom_port = free_port()
        (work / "prometheus.yml").write_text(
            f"global:\n  scrape_interval: {SCRAPE}s\n  evaluation_interval: {SCRAPE}s\n"
            "scrape_configs:\n"
            "  - job_name: virtprov-pool\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{ports['beakerd-1']}',"
            f" '127.0.0.1:{ports['beakerd-2']}']\n"
            "  - job_name: virtprov-journal\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{ports['exporter']}']\n"
        )
        processes = [
            subprocess.Popen(
                [
                    binary,
                    f"--config.file={work / 'prometheus.yml'}",
                    f"--storage.tsdb.path={work / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                    "--log.level=warn",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
            subprocess.Popen(
                [
                    *VIRTPROV,
                    *("--config", str(config), "metrics", "serve"),
                    *("--address", "127.0.0.1", "--port", str(ports["exporter"])),
                ],
                stderr=subprocess.DEVNULL,
            ),
        ]
        started = time.time()
        schedulers = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--scheduler",
                    json.dumps(
                        {
                            "name": name,
                            "port": ports[name],
                            "journal": journal,
                            "work": str(work),
                            "minutes": minutes,
                            "every": 3.0,
                            "seed": seed + i,
                        }
                    ),
                ]
            )
            for i, name in enumerate(("beakerd-1", "beakerd-2"))
        ]
        for process in schedulers:
            process.wait(timeout=minutes * 60 + 600)
        ended = time.time()
        base = f"http://127.0.0.1:{prom_port}"
        try:
            answers = collect(base, started, ended)
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
                process.wait(30)
        return answers


def collect(base: str, start: float, end: float) -> dict[str, Any]:
    """Prometheus' answer to every query of the dashboard over the run."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    answers: dict[str, Any] = {"start": start, "end": end, "panels": {}}
    for panel in panels:
        results = []
        for target in panel["targets"]:
            if panel["type"] == "stat":
                params = {"query": expression(target["expr"]), "time": end}
                results.append(query(base, "/api/v1/query", **params)["result"])
            else:
                params = {"query": expression(target["expr"]), "start": start, "end": end}
                results.append(query(base, "/api/v1/query_range", step=SCRAPE, **params)["result"])
        answers["panels"][str(panel["id"])] = results
    return answers


# -- the picture -------------------------------------------------------------------------

BACKGROUND, PANEL, TEXT, GRID = "#111217", "#181b1f", "#ccccdc", "#2c3235"
COLOURS = ["#73bf69", "#f2cc0c", "#5794f2", "#ff9830", "#f2495c", "#b877d9", "#8ab8ff", "#ffcb7d"]


def expression(expr: str) -> str:
    return expr.replace("$__rate_interval", RATE_INTERVAL)


def legend(template: str, labels: dict[str, str]) -> str:
    text = template
    for key, value in labels.items():
        text = text.replace("{{" + key + "}}", value)
    return text or ", ".join(f"{k}={v}" for k, v in labels.items())


def stat_text(value: float, unit: str) -> str:
    if value != value:  # NaN: no data
        return "No data"
    if unit == "percentunit":
        return f"{value * 100:.1f}%"
    if unit == "s":
        return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"
    return f"{value:.0f}" if abs(value - round(value)) < 1e-9 else f"{value:.1f}"


def render(answers: dict[str, Any]) -> dict[str, Any]:
    """Draw every panel from Prometheus' answers; the stat panels' values."""
    import matplotlib

    matplotlib.use("Agg")
    from datetime import UTC, datetime

    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import FuncFormatter

    start, end = answers["start"], answers["end"]
    dashboard = json.loads(DASHBOARD.read_text())
    panels = dashboard["panels"]
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    unit_w, unit_h, title_h = 0.75, 0.34, 0.6
    width, height = 24 * unit_w, rows * unit_h + title_h
    figure = plt.figure(figsize=(width, height), dpi=100, facecolor=BACKGROUND)
    figure.text(
        0.01,
        1 - 0.35 / height,
        f"{dashboard['title']}  ·  Prometheus queries of docs/dashboard/virtprov-grafana.json "
        f"over a {round((end - start) / 60)}-minute run of benchmarks/dashboard.py",
        color=TEXT,
        fontsize=13,
        va="center",
    )
    figures: dict[str, Any] = {}

    def rect(left: float, top: float, right: float, bottom: float) -> tuple[float, ...]:
        """Figure coordinates of a box given in inches from the top left."""
        return (left / width, 1 - bottom / height, (right - left) / width, (bottom - top) / height)

    for panel in panels:
        grid = panel["gridPos"]
        # the panel's cell in inches, less a gap between panels
        x0, x1 = grid["x"] * unit_w + 0.04, (grid["x"] + grid["w"]) * unit_w - 0.04
        y0 = title_h + grid["y"] * unit_h + 0.04
        y1 = title_h + (grid["y"] + grid["h"]) * unit_h - 0.04
        figure.add_artist(
            Rectangle(
                rect(x0, y0, x1, y1)[:2],
                *rect(x0, y0, x1, y1)[2:],
                transform=figure.transFigure,
                facecolor=PANEL,
                edgecolor=GRID,
                linewidth=0.8,
                zorder=-10,  # under the panel's plot
            )
        )
        figure.text(
            (x0 + 0.1) / width,
            1 - (y0 + 0.16) / height,
            panel["title"],
            color=TEXT,
            fontsize=9.5,
            va="center",
            weight="bold",
        )
        unit = panel["fieldConfig"]["defaults"].get("unit", "short")
        if panel["type"] == "stat":
            box = figure.add_axes(rect(x0 + 0.05, y0 + 0.3, x1 - 0.05, y1 - 0.05))
        else:
            box = figure.add_axes(rect(x0 + 0.5, y0 + 0.32, x1 - 0.12, y1 - 0.28))
        box.set_facecolor(PANEL)
        for spine in box.spines.values():
            spine.set_visible(False)
        results = answers["panels"][str(panel["id"])]
        if panel["type"] == "stat":
            result = results[0]
            value = float(result[0]["value"][1]) if result else float("nan")
            figures[panel["title"]] = None if value != value else round(value, 3)
            box.set_axis_off()
            box.text(
                0.5,
                0.42,
                stat_text(value, unit),
                color=COLOURS[0],
                fontsize=22,
                ha="center",
                va="center",
                transform=box.transAxes,
                weight="bold",
            )
            continue
        series = 0
        for target, result in zip(panel["targets"], results, strict=True):
            for line in result:
                points = [
                    (float(t), float(v)) for t, v in line["values"] if v not in ("NaN", "+Inf")
                ]
                if not points:
                    continue
                times = [datetime.fromtimestamp(t, UTC) for t, _ in points]
                box.plot(
                    times,
                    [v for _, v in points],
                    color=COLOURS[series % len(COLOURS)],
                    linewidth=1.2,
                    label=legend(target.get("legendFormat", ""), line["metric"]),
                )
                series += 1
        box.tick_params(colors=TEXT, labelsize=7)
        box.grid(color=GRID, linewidth=0.5)
        minutes = max(1, round((end - start) / 60 / 6))
        box.xaxis.set_major_locator(mdates.MinuteLocator(interval=minutes, tz=UTC))
        box.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=UTC))
        box.set_xlim(datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))
        suffix = {"s": " s", "reqps": "/s"}.get(unit, "")
        box.yaxis.set_major_formatter(FuncFormatter(lambda v, _, suffix=suffix: f"{v:g}{suffix}"))
        if series:
            box.legend(
                loc="upper left",
                fontsize=6,
                facecolor=PANEL,
                edgecolor=GRID,
                labelcolor=TEXT,
                ncol=2 if series > 4 else 1,
            )
        else:
            box.text(0.5, 0.5, "No data", color=TEXT, ha="center", transform=box.transAxes)
    PICTURE.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(PICTURE, facecolor=BACKGROUND)
    return figures


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--scheduler":
        scheduler(json.loads(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=8.0, help="how long recipes come in")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument(
        "--answers",
        type=Path,
        help="redraw from the answers a run saved (no run); by default a run saves them "
        "beside the picture's build, in build/dashboard-answers.json",
    )
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    if args.answers is not None:
        answers = json.loads(args.answers.read_text())
    else:
        answers = run(args.minutes, args.seed)
        saved = ROOT / "build" / "dashboard-answers.json"
        saved.parent.mkdir(exist_ok=True)
        saved.write_text(json.dumps(answers))
    figures = render(answers)
    figures["minutes"] = round((answers["end"] - answers["start"]) / 60, 1)
    print(f"drew {PICTURE.relative_to(ROOT)}")
    for name, value in figures.items():
        print(f"  {name}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
