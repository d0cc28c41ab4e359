"""A toy cloud for each test, served where the tests' configurations point."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from toy_testenv import TOKEN
from virtprov_toy import cloud


@pytest.fixture
def toy_cloud() -> Iterator[cloud.ToyCloud]:
    """The toy cloud at toy://lab; nothing may be left in it afterwards."""
    served = cloud.serve("toy://lab", token=TOKEN, build_seconds=0.05)
    try:
        yield served
        assert served.machine_ids() == [], "a test left machines behind"
    finally:
        served.close()
