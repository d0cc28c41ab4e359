"""Launch benchmark: the pool against a Beaker-style baseline, in one run.

200 guests on the fake provider with a latency model (create 50 ms, build 1 s, stop
0.3 s) and a mutating rate limit of 20 calls/s, launched twice:

* **baseline**, as Beaker did it: 5 threads, each creating one VM and then polling *its
  own* VM every 5 s until it is ready (Beaker polled Nova every 5 s), then the next;
* **pool**: ``virtprov.pool.Pool`` (2 worker threads and one driver, batched polls every
  0.5 s).

Both share one rate limiter per run. Prints each wall time, their ratio, the threads the
pool used and the share of the rate limit its creates achieved; the last line is
``{"speedup": ..., "rate_share": ..., "threads": ...}``. ``--quick`` runs a shortened
version (fewer guests, a 1 s baseline poll) as a smoke test.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
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


def pool_run(guests: int) -> tuple[float, float, int]:
    """The pool: (wall time, creates per second achieved / limit, threads)."""
    fake = FakeProvider(latency=LATENCY, seed=1)
    settings = PoolSettings(
        launcher="bench",
        poll_interval=0.5,
        default_limits=Limits(mutating=RATE, read=50.0),
    )
    started = time.perf_counter()
    with Pool({"fake": fake}, settings=settings, journal="sqlite://") as pool:
        handles = [pool.submit(Recipe(n)) for n in range(guests)]
        outcomes = [h.wait(600) for h in handles]
        wall = time.perf_counter() - started
        threads = pool.launcher.threads
    bad = [o for o in outcomes if o is None or o.status is not Status.SUCCEEDED]
    if bad:
        raise SystemExit(f"pool: {len(bad)} launches did not succeed: {bad[:3]}")
    creates = sorted(c.started for c in fake.calls if c.operation == "create")
    span = creates[-1] - creates[0]
    achieved = (len(creates) - 1) / span if span > 0 else RATE
    return wall, achieved / RATE, threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a shortened smoke run")
    args = parser.parse_args()
    guests, poll_every = (20, 1.0) if args.quick else (200, 5.0)
    print(f"{guests} guests; create 50 ms, build 1 s, stop 0.3 s; mutating limit {RATE:g}/s")
    base = baseline(guests, poll_every)
    print(f"baseline (5 threads, each polling its VM every {poll_every:g} s): {base:8.2f} s")
    wall, share, threads = pool_run(guests)
    print(f"pool ({threads} threads, batched polls every 0.5 s):       {wall:8.2f} s")
    print(f"speedup {base / wall:.1f}x (goal >= 10); rate share {share:.2f} (goal >= 0.90)")
    print(
        json.dumps(
            {"speedup": round(base / wall, 2), "rate_share": round(share, 3), "threads": threads}
        )
    )


if __name__ == "__main__":
    main()
