from __future__ import annotations

import gc
import sys
import time
from typing import Self

import pytest

from tests.hostrequires.hrdata import LAB
from virtprov.hostrequires import Target

# The module, not the function of the same name that virtprov.hostrequires exports.
PARSE_MODULE = sys.modules["virtprov.hostrequires.parse"]


class ParserCpuTime:
    """``with ParserCpuTime() as spent:`` ... ``spent.seconds``: the CPU time of this
    thread inside the block, for "rejected fast" bounds. A blow-up is work in this thread,
    while wall time also counts whatever else the shared machine runs; and the cycle
    collector is off, as timeit measures, since a full collection of the heap the whole
    session has built up (~0.3 s late in a run) is not the parser's work."""

    seconds = 0.0

    def __enter__(self) -> Self:
        self._collecting = gc.isenabled()
        gc.disable()
        self._started = time.thread_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.thread_time() - self._started
        if self._collecting:
            gc.enable()


@pytest.fixture
def target() -> Target:
    return Target(hypervisor="KVM", arches=("x86_64", "i386"), lab=LAB)


@pytest.fixture(autouse=True, params=["compiled", "python"])
def front_end(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs with virtprov-speedups' compiler and with Python's alone:
    they must answer alike (subprocesses follow through VIRTPROV_NO_SPEEDUPS)."""
    if request.param == "python":
        monkeypatch.setattr(PARSE_MODULE, "native", None)
        monkeypatch.setenv("VIRTPROV_NO_SPEEDUPS", "1")
    return request.param
