from __future__ import annotations

import sys

import pytest

from tests.hostrequires.hrdata import LAB
from virtprov.hostrequires import Target

# The module, not the function of the same name that virtprov.hostrequires exports.
PARSE_MODULE = sys.modules["virtprov.hostrequires.parse"]


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
