"""The most threads alive at once while something runs, sampled: what the OpenStack
benchmark reports of the pool's launcher, and what the pool's tests assert of it.

Not a benchmark itself; ``openstack.py`` and ``tests/pool/test_pool_cloud_steps.py``
import it (as ``benchmarks.threads``: the checkout's root is on the path).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import attrs


@attrs.define
class ThreadCount:
    """The most threads alive at once beyond those alive at the start (the sampler not
    counted), the most of them at once whose names start with one of ``prefixes``, and
    the names of all of them."""

    prefixes: tuple[str, ...] = ()
    most: int = 0
    most_named: int = 0
    names: set[str] = attrs.field(factory=set)


@contextmanager
def most_threads(every: float, prefixes: tuple[str, ...] = ()) -> Iterator[ThreadCount]:
    """Sample the threads alive every ``every`` seconds while the block runs."""
    before = {t.ident for t in threading.enumerate()}
    count = ThreadCount(prefixes)
    done = threading.Event()

    def sample() -> None:
        while not done.wait(every):
            new = [t for t in threading.enumerate() if t.ident not in before and t is not sampler]
            count.most = max(count.most, len(new))
            named = [t for t in new if t.name.startswith(prefixes)]
            count.most_named = max(count.most_named, len(named))
            count.names.update(t.name for t in new)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield count
    finally:
        done.set()
        sampler.join()
