"""Retry delays: exponential, jittered, never sooner than the cloud asked."""

from __future__ import annotations

import random

import pytest

from virtprov.errors import TransientError
from virtprov.pool.backoff import delay, retry_after_of


@pytest.mark.parametrize(
    ("attempt", "nominal"), [(1, 2.0), (2, 4.0), (3, 8.0), (6, 60.0), (99, 60.0)]
)
def test_the_delay_doubles_up_to_the_cap_and_is_drawn_from_its_upper_half(
    attempt: int, nominal: float
) -> None:
    rng = random.Random(1)
    draws = [delay(attempt, 2.0, 60.0, rng=rng) for _ in range(200)]
    assert all(nominal / 2 <= d <= nominal for d in draws)
    assert len(set(draws)) == 200  # spread: no two retries in lockstep
    assert max(draws) - min(draws) > nominal / 4


def test_retry_after_is_a_floor_and_is_spread_too() -> None:
    rng = random.Random(2)
    draws = [delay(1, 2.0, 60.0, retry_after=30.0, rng=rng) for _ in range(200)]
    assert all(30.0 <= d <= 45.0 for d in draws)
    assert len(set(draws)) == 200
    # a backoff longer than Retry-After wins
    assert all(delay(6, 2.0, 60.0, retry_after=1.0, rng=rng) >= 30.0 for _ in range(50))


@pytest.mark.parametrize("odd", [0.0, -5.0, float("nan"), float("inf")])
def test_a_retry_after_that_means_nothing_is_ignored(odd: float) -> None:
    assert 1.0 <= delay(1, 2.0, 60.0, retry_after=odd) <= 2.0


def test_retry_after_is_read_from_transient_errors_only_when_a_number() -> None:
    assert retry_after_of(TransientError("429", retry_after=7)) == 7.0
    assert retry_after_of(TransientError("503")) is None
    assert retry_after_of(RuntimeError("x")) is None
