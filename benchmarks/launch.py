"""Launch benchmark: the pool against a Beaker-style baseline, in one run.

200 guests on the fake provider with a latency model (create 50 ms, build 1 s, stop
0.3 s) and a mutating rate limit of 20 calls/s, launched twice:

* **baseline**, as Beaker did it: 5 threads, each creating one VM and then polling *its
  own* VM every 5 s until it is ready (Beaker polled Nova every 5 s), then the next;
* **pool**: ``virtprov.pool.Pool`` (2 worker threads and one driver, batched polls every
  0.5 s).

Both share one rate limiter per run. Prints each wall time, their ratio, the threads the
pool used and the share of the rate limit its creates achieved.

Then the pool run again with its Prometheus metrics on (``Pool(metrics=True)``: the
subscriber on every event and the exposition server, scraped every second as an eager
Prometheus would): ``metrics_ratio`` is the launch throughput with metrics over the
throughput without (at least 0.95: the metrics cost under 5 %), ``metrics_cpu_ratio``
the process's CPU time with metrics over without (the cost where the rate limit hides it).

The last line is ``{"speedup": ..., "rate_share": ..., "threads": ..., "metrics_ratio":
..., "metrics_cpu_ratio": ...}``. ``--quick`` runs a shortened version (fewer guests, a
1 s baseline poll) as a smoke test.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from virtprov.fake import DEFAULT_FLAVORS, FakeProvider
from virtprov.fake.faults import Latency
from virtprov.model import GuestSpec, GuestState
from virtprov.pool import Limits, Pool, PoolSettings, Recipe, Status
from virtprov.pool.ratelimit import TokenBucket

RATE = 20.0
LATENCY = Latency(create=0.05, build=1.0, shutdown=0.3)


def baseline(guests: int, poll_every: float) -> float:
    """Beaker's way: 5 threads, each blocking on one VM at a time."""
    fake = FakeProvider(latency=LATENCY, seed=1)
    bucket = TokenBucket(RATE)
    flavor = DEFAULT_FLAVORS[2]
    todo = list(range(guests))
    lock = threading.Lock()

    def thread() -> None:
        while True:
            with lock:
                if not todo:
                    return
                n = todo.pop()
            bucket.acquire()
            guest = fake.create_guest(GuestSpec.for_recipe(n, flavor, pool="baseline"))
            while True:
                time.sleep(poll_every)
                polled = fake.poll([guest.id])[guest.id]
                if polled.state is GuestState.READY:
                    break

    started = time.perf_counter()
    threads = [threading.Thread(target=thread) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def pool_run(guests: int, metrics: bool = False) -> tuple[float, float, int, float]:
    """The pool: (wall time, creates per second achieved / limit, threads, CPU seconds)."""
    fake = FakeProvider(latency=LATENCY, seed=1)
    settings = PoolSettings(
        launcher="bench",
        poll_interval=0.5,
        default_limits=Limits(mutating=RATE, read=50.0),
        metrics_port=0,
        metrics_address="127.0.0.1",
    )
    cpu = time.process_time()
    started = time.perf_counter()
    with Pool({"fake": fake}, settings=settings, journal="sqlite://", metrics=metrics) as pool:
        scraper = None
        if pool.metrics_server is not None:
            scraper = Scraper(pool.metrics_server.port)
            scraper.start()
        handles = [pool.submit(Recipe(n)) for n in range(guests)]
        outcomes = [h.wait(600) for h in handles]
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
        threads = pool.launcher.threads
        if scraper is not None:
            scraper.stop()
    bad = [o for o in outcomes if o is None or o.status is not Status.SUCCEEDED]
    if bad:
        raise SystemExit(f"pool: {len(bad)} launches did not succeed: {bad[:3]}")
    creates = sorted(c.started for c in fake.calls if c.operation == "create")
    span = creates[-1] - creates[0]
    achieved = (len(creates) - 1) / span if span > 0 else RATE
    return wall, achieved / RATE, threads, cpu


class Scraper(threading.Thread):
    """Prometheus at a 1 s scrape interval."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.scrapes = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(1.0):
            with urllib.request.urlopen(self.url, timeout=10) as response:
                response.read()
            self.scrapes += 1

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a shortened smoke run")
    args = parser.parse_args()
    guests, poll_every = (20, 1.0) if args.quick else (200, 5.0)
    print(f"{guests} guests; create 50 ms, build 1 s, stop 0.3 s; mutating limit {RATE:g}/s")
    base = baseline(guests, poll_every)
    print(f"baseline (5 threads, each polling its VM every {poll_every:g} s): {base:8.2f} s")
    wall, share, threads, cpu = pool_run(guests)
    print(f"pool ({threads} threads, batched polls every 0.5 s):       {wall:8.2f} s")
    print(f"speedup {base / wall:.1f}x (goal >= 10); rate share {share:.2f} (goal >= 0.90)")
    with_wall, _, _, with_cpu = pool_run(guests, metrics=True)
    ratio, cpu_ratio = wall / with_wall, with_cpu / cpu
    print(f"pool with metrics (scraped every second):                {with_wall:8.2f} s")
    print(
        f"metrics: throughput ratio {ratio:.3f} (goal >= 0.95); CPU {cpu:.2f} s -> "
        f"{with_cpu:.2f} s (ratio {cpu_ratio:.3f})"
    )
    print(
        json.dumps(
            {
                "speedup": round(base / wall, 2),
                "rate_share": round(share, 3),
                "threads": threads,
                "metrics_ratio": round(ratio, 3),
                "metrics_cpu_ratio": round(cpu_ratio, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
