from __future__ import annotations

import pytest

from tests.hostrequires.hrdata import LAB
from virtprov.hostrequires import Target


@pytest.fixture
def target() -> Target:
    return Target(hypervisor="KVM", arches=("x86_64", "i386"), lab=LAB)
