"""destroy_and_wait: destroying guests to the end, for commands that wait."""

from __future__ import annotations

import pytest

from virtprov.errors import TransientError
from virtprov.fake import DEFAULT_FLAVORS, FakeProvider
from virtprov.fake.faults import Latency
from virtprov.model import GuestSpec
from virtprov.teardown import Progress, destroy_and_wait


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _cloud(delete: float, clock: Clock) -> FakeProvider:
    return FakeProvider(latency=Latency(delete=delete), clock=clock, sleep=clock.sleep)


def test_several_guests_are_watched_with_one_poll_per_round_and_what_they_left_deleted() -> None:
    clock = Clock()
    cloud = _cloud(3.0, clock)
    ids = [
        cloud.create_guest(GuestSpec.for_recipe(n, DEFAULT_FLAVORS[2], pool="p")).id
        for n in range(5)
    ]
    seen: list[Progress] = []
    destroy_and_wait(
        cloud, [*ids, "unknown"], timeout=60, progress=seen.append, clock=clock, sleep=clock.sleep
    )
    assert cloud.all_guest_ids() == []
    assert cloud.all_resource_ids() == []
    operations = [c.operation for c in cloud.calls]
    assert operations.count("poll") == len(seen)  # one poll a round, for all of them
    assert seen[0].deleting == tuple(ids)  # "unknown" was gone already
    assert seen[-1].gone[-5:] == tuple(ids)
    assert 3.0 <= seen[-1].seconds < 3.0 + 2.0  # soon after the cloud's delete is over


def test_what_is_not_gone_in_time_is_named() -> None:
    clock = Clock()
    cloud = _cloud(600.0, clock)
    guest = cloud.create_guest(GuestSpec.for_recipe(1, DEFAULT_FLAVORS[2], pool="p"))
    with pytest.raises(TransientError, match=rf"not destroyed within 10 s: {guest.id} \(still"):
        destroy_and_wait(cloud, [guest.id], timeout=10, clock=clock, sleep=clock.sleep)
