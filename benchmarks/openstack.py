"""OpenStack benchmark: the pool against plain openstacksdk on a real cloud, in one run.

N guests of ``m1.small`` (default 20) on the reference OpenStack's fixed network
``lab-net``, booting the ``ipxe-beaker`` image, each taken through Beaker's flow:
create, wait ``ACTIVE``, stop, wait ``SHUTOFF``, start, wait ``ACTIVE`` (running); then
delete, wait until Nova no longer knows it. Three ways, one after another:

* **pool**: ``virtprov.pool.Pool`` with its default settings (2 workers, a driver and a
  watchdog; ``poll_interval`` 2 s; 5 mutating and 20 read calls/s), recipes submitted
  with ``boot=NetworkBoot()`` so that the pool starts them and decides each once a poll
  sees it running; then every guest released, until the pool confirmed each gone;
* **sequential**: plain openstacksdk in one thread: create all, wait for each; stop all,
  wait for each; start all, wait for each; delete all, wait for each
  (``wait_for_server`` / ``wait_for_delete``, at their default 2 s interval);
* **threaded**: plain openstacksdk, one thread per guest doing the same flow on its
  guest, then all deleting at once.

The plain ways' connections retry a failed connection 3 times (``connect_retries``):
under 50 clients at once the reference cloud's API servers drop a few.

Every HTTP request each way makes is counted by a response hook on its session, from
its first (authentication, version discovery and the lookups of the image, flavor and
network included; the pool's capacity reads too). Prints, per way, the wall time from
the first create to the last guest running and from the first delete to the last one
gone, the requests (in all and per guest) and the threads that did the work; the last
line is JSON: ``guests``, ``create_ratio_vs_threaded`` and ``delete_ratio_vs_threaded``
(the pool's wall time over the threaded way's), ``requests_per_guest`` (the pool's),
``requests_per_guest_sequential``, ``requests_per_guest_threaded``, ``threads`` (the
most of the pool's launcher threads alive at once: workers, driver and watchdog, which
do the work), ``threads_all`` (every thread the pool started, its history pruner too,
which sleeps through the run) and the wall times.

The cloud: ``OS_CLOUD`` (and ``OS_CLIENT_CONFIG_FILE``) if set; else this checkout's
reference OpenStack, brought up with ``scripts/reference-openstack up --guests N`` (and
down again at the end) unless it is running already. N guests of ``m1.small`` must fit
in the project: ``up --guests N`` makes room (docs/reference-openstack.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# This file is named like the SDK: without its folder on the path, `import openstack`
# finds openstacksdk, not this script.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

from benchmarks.threads import most_threads  # noqa: E402 - once the path is set

REFERENCE = "virtprov-reference"
FLAVOR = "m1.small"
IMAGE = "ipxe-beaker"
NETWORK = "lab-net"
PREFIX = "vpbench-"


@attrs.frozen
class Figures:
    """One way's run: the wall times from the first create to the last guest running and
    from the first delete to the last one gone, its HTTP requests, and its threads: the
    most alive at once of those doing the work, and of all it started."""

    create: float
    delete: float
    requests: int
    threads: int
    threads_all: int
    thread_names: tuple[str, ...] = ()


class Requests:
    """Counts the HTTP responses of the sessions it is hooked into."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, response: Any, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            self.count += 1

    def hook(self, conn: Any) -> None:
        """Count every request of an openstacksdk connection (keystoneauth's session is
        a requests session underneath)."""
        conn.session.session.hooks["response"].append(self)


#: The pool's launcher threads (those doing the work), by their names.
LAUNCHER_THREADS = ("virtprov-worker-", "virtprov-driver", "virtprov-watchdog")


def connect(cloud: str, counted: Requests | None = None) -> Any:
    """A plain openstacksdk connection, retrying a connection the server closed (under
    50 clients at once the reference cloud's API servers drop some: without retries the
    plain ways fail where the pool, which retries transient errors, goes on); each of its
    requests counted in ``counted``."""
    import openstack

    conn = openstack.connect(cloud=cloud, connect_retries=3)
    if counted is not None:
        counted.hook(conn)
    return conn


def ids_of(conn: Any) -> tuple[str, str, str]:
    """(image, flavor, network) ids, looked up before any timing."""
    image = conn.image.find_image(IMAGE, ignore_missing=False)
    flavor = conn.compute.find_flavor(FLAVOR, ignore_missing=False)
    network = conn.network.find_network(NETWORK, ignore_missing=False)
    return image.id, flavor.id, network.id


def clean(conn: Any) -> None:
    """Delete every server of this benchmark left in the project (a failed run's)."""
    left = [s for s in conn.compute.servers() if str(s.name).startswith(PREFIX)]
    for server in left:
        conn.compute.delete_server(server, ignore_missing=True)
    for server in left:
        conn.compute.wait_for_delete(server, wait=300)


def sequential(cloud: str, guests: int) -> Figures:
    """Plain openstacksdk in one thread: each step for all guests, then each wait."""
    counted = Requests()
    conn = connect(cloud, counted)
    image, flavor, network = ids_of(conn)
    started = time.monotonic()
    servers = [
        conn.compute.create_server(
            name=f"{PREFIX}seq-{n}", image_id=image, flavor_id=flavor, networks=[{"uuid": network}]
        )
        for n in range(guests)
    ]
    servers = [conn.compute.wait_for_server(s, status="ACTIVE", wait=600) for s in servers]
    for server in servers:
        conn.compute.stop_server(server)
    servers = [conn.compute.wait_for_server(s, status="SHUTOFF", wait=600) for s in servers]
    for server in servers:
        conn.compute.start_server(server)
    servers = [conn.compute.wait_for_server(s, status="ACTIVE", wait=600) for s in servers]
    running = time.monotonic() - started
    deleting = time.monotonic()
    for server in servers:
        conn.compute.delete_server(server)
    for server in servers:
        conn.compute.wait_for_delete(server, wait=600)
    gone = time.monotonic() - deleting
    conn.close()
    return Figures(running, gone, counted.count, threads=1, threads_all=1)


def threaded(cloud: str, guests: int) -> Figures:
    """Plain openstacksdk, one thread per guest (one shared connection)."""
    counted = Requests()
    conn = connect(cloud, counted)
    image, flavor, network = ids_of(conn)
    all_running = threading.Barrier(guests + 1)
    delete_now = threading.Event()
    failures: list[BaseException] = []

    def life(n: int) -> None:
        try:
            server = conn.compute.create_server(
                name=f"{PREFIX}thr-{n}",
                image_id=image,
                flavor_id=flavor,
                networks=[{"uuid": network}],
            )
            server = conn.compute.wait_for_server(server, status="ACTIVE", wait=600)
            conn.compute.stop_server(server)
            server = conn.compute.wait_for_server(server, status="SHUTOFF", wait=600)
            conn.compute.start_server(server)
            server = conn.compute.wait_for_server(server, status="ACTIVE", wait=600)
        except BaseException as exc:
            failures.append(exc)
            all_running.abort()
            raise
        all_running.wait()
        delete_now.wait()
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=600)

    threads = [threading.Thread(target=life, args=(n,)) for n in range(guests)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        all_running.wait()
    except threading.BrokenBarrierError:
        for thread in threads:
            thread.join()
        raise RuntimeError(f"a threaded guest failed: {failures[0]!r}") from None
    running = time.monotonic() - started
    deleting = time.monotonic()
    delete_now.set()
    for thread in threads:
        thread.join()
    gone = time.monotonic() - deleting
    conn.close()
    return Figures(running, gone, counted.count, threads=guests, threads_all=guests)


def pool(cloud: str, guests: int) -> Figures:
    """The pool, with its default settings; the requests of its provider's session."""
    from virtprov_openstack.provider import Credentials, OpenStackProvider, Settings

    from virtprov.config import Defaults
    from virtprov.model import GuestState, NetworkBoot
    from virtprov.pool import Pool, PoolSettings, Recipe, Status

    provider = OpenStackProvider(
        "bench",
        "lab.example.com",
        Credentials(cloud=cloud),
        Settings(image_name=IMAGE, network_mode="fixed", network=NETWORK),
    )
    counted = Requests()
    counted.hook(provider.conn)  # the connection is made here; no request yet
    settings = PoolSettings(launcher="bench")  # the defaults, but the launcher's name
    with most_threads(0.05, LAUNCHER_THREADS) as threads:
        started = time.monotonic()
        with Pool(
            {"bench": provider},
            settings=settings,
            defaults=Defaults(guest_name_prefix=f"{PREFIX}pool-"),
            journal="sqlite://",
        ) as launched:
            handles = [launched.submit(Recipe(n, boot=NetworkBoot())) for n in range(guests)]
            outcomes = [handle.wait(900) for handle in handles]
            running = time.monotonic() - started
            wrong = [o for o in outcomes if o is None or o.status is not Status.SUCCEEDED]
            if wrong:
                raise RuntimeError(f"{len(wrong)} launches did not succeed, e.g. {wrong[0]}")
            flavors = {o.flavor_id for o in outcomes if o is not None}
            if flavors != {"2"}:  # m1.small: the cheapest with the default 20 GiB disk
                raise RuntimeError(f"the pool chose flavors {flavors}, not {FLAVOR}")
            deleting = time.monotonic()
            for outcome in outcomes:
                assert outcome is not None
                launched.release(outcome)
            _until(lambda: not launched.journal.guests_in(["live", "doomed", "destroyed"]))
            gone = time.monotonic() - deleting
    # Nova lists a deleted server for a moment (status DELETED): gone for the pool too
    left = [g for g in provider.list_guests(f"{PREFIX}pool-") if g.state is not GuestState.DELETED]
    if left:
        raise RuntimeError(f"the pool confirmed all gone, yet the cloud lists {len(left)}")
    provider.close()
    return Figures(
        running,
        gone,
        counted.count,
        threads=threads.most_named,
        threads_all=threads.most,
        thread_names=tuple(sorted(threads.names)),
    )


def _until(condition: Callable[[], bool], timeout: float = 900.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"not within {timeout:g} s")
        time.sleep(0.05)


@contextmanager
def reference_cloud(guests: int) -> Iterator[str]:
    """``OS_CLOUD`` if set; else this checkout's reference OpenStack (up if needed)."""
    if os.environ.get("OS_CLOUD"):
        yield os.environ["OS_CLOUD"]
        return
    script = str(ROOT / "scripts" / "reference-openstack")
    state = Path(os.environ.get("VIRTPROV_REFOS_DIR") or ROOT / ".reference-openstack")
    running = subprocess.run([script, "status"], capture_output=True, check=False)
    brought_up = running.returncode != 0
    if brought_up:
        print(f"bringing the reference OpenStack up for {guests} guests", file=sys.stderr)
        subprocess.run([script, "up", "--guests", str(guests)], check=True)
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(state / "clouds.yaml")
    try:
        yield REFERENCE
    finally:
        if brought_up:
            subprocess.run([script, "down"], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--guests", type=int, default=20, help="guests per way (default 20)")
    options = parser.parse_args()
    if options.guests < 1:
        parser.error("--guests is at least 1")
    guests = options.guests
    with reference_cloud(guests) as cloud:
        conn = connect(cloud)
        limits = conn.compute.get_limits().absolute
        if 0 <= limits.instances < guests:
            sys.exit(
                f"openstack: the project holds {limits.instances} instances, not {guests}: "
                f"scripts/reference-openstack up --guests {guests}"
            )
        clean(conn)
        results: dict[str, Figures] = {}
        for name, way in (("pool", pool), ("sequential", sequential), ("threaded", threaded)):
            try:
                results[name] = way(cloud, guests)
            finally:
                clean(conn)
            figures = results[name]
            print(
                f"{name:10}  create -> all running {figures.create:6.1f} s   "
                f"delete -> all gone {figures.delete:6.1f} s   "
                f"requests {figures.requests:5d} ({figures.requests / guests:5.2f} "
                f"per guest)   threads {figures.threads} ({figures.threads_all} in all)",
                flush=True,
            )
            if figures.thread_names:
                print(f"{'':10}  threads seen: {', '.join(figures.thread_names)}", flush=True)
        conn.close()
    ours, theirs = results["pool"], results["threaded"]
    summary = {
        "guests": guests,
        "create_ratio_vs_threaded": round(ours.create / theirs.create, 3),
        "delete_ratio_vs_threaded": round(ours.delete / theirs.delete, 3),
        "requests_per_guest": round(ours.requests / guests, 2),
        "requests_per_guest_sequential": round(results["sequential"].requests / guests, 2),
        "requests_per_guest_threaded": round(theirs.requests / guests, 2),
        "threads": ours.threads,
        "threads_all": ours.threads_all,
        "seconds": {
            name: {"create": round(r.create, 2), "delete": round(r.delete, 2)}
            for name, r in results.items()
        },
    }
    print(
        f"pool / threaded: create {summary['create_ratio_vs_threaded']:.2f}, "
        f"delete {summary['delete_ratio_vs_threaded']:.2f}; requests per guest: pool "
        f"{summary['requests_per_guest']}, sequential "
        f"{summary['requests_per_guest_sequential']}"
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
