"""``Retry-After`` in both of its forms, and what is not one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from virtprov.retry_after import parse_retry_after, retry_after_of

NOW = datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        (b"30", 30.0),
        ("0", 0.0),
        # HTTP-date: IMF-fixdate and the two obsolete forms RFC 9110 still accepts
        ("Wed, 02 Dec 2026 10:01:30 GMT", 90.0),
        ("Wednesday, 02-Dec-26 10:00:05 GMT", 5.0),
        ("Wed Dec  2 10:00:42 2026", 42.0),
        ("Wed, 02 Dec 2026 09:00:00 GMT", 0.0),  # in the past: now
    ],
)
def test_both_forms_are_seconds_to_wait(value: str | bytes, seconds: float) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


@pytest.mark.parametrize(
    "value",
    [None, "", "-5", "1.5", "1e9", "9" * 5000, "soon", "Wed, 99 Foo 2026", 120, "x" * 10_000],
)
def test_anything_else_is_absent(value: object) -> None:
    assert parse_retry_after(value, now=NOW) is None


def test_headers_as_a_mapping_of_any_case_or_as_raw_lines() -> None:
    assert retry_after_of({"retry-after": "3"}) == 3.0
    assert retry_after_of({"Content-Type": "x", "Retry-After": "4"}) == 4.0
    lines = ["HTTP/1.1 503 Service Unavailable", "Retry-After: Wed, 02 Dec 2026 10:00:10 GMT"]
    assert retry_after_of(lines, now=NOW) == 10.0  # the date's colons are kept
    assert retry_after_of({"Content-Type": "x"}) is None
    assert retry_after_of(None) is None
