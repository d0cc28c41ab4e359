"""libcloud's rate-limit and unavailability errors keep the delay the service asked for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from libcloud.common.exceptions import RateLimitReachedError, exception_from_message
from virtprov_libcloud.faults import map_error

from virtprov.errors import TransientError


def mapped(exc: BaseException) -> TransientError:
    error = map_error(exc, provider="ec2", action="create node")
    assert isinstance(error, TransientError)
    return error


def test_rate_limit_keeps_retry_after_in_both_forms() -> None:
    # How a libcloud connection raises on a 429: exception_from_message with the headers.
    seconds = exception_from_message(429, "Request limit exceeded", {"retry-after": "17"})
    assert isinstance(seconds, RateLimitReachedError)
    assert mapped(seconds).retry_after == 17.0
    date = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    as_date = exception_from_message(429, "Request limit exceeded", {"retry-after": date})
    later = mapped(as_date).retry_after
    assert later is not None
    assert 50.0 <= later <= 60.0
    assert mapped(RateLimitReachedError()).retry_after is None  # not said


def test_503_keeps_retry_after() -> None:
    unavailable = exception_from_message(503, "Service Unavailable", {"retry-after": "45"})
    assert mapped(unavailable).retry_after == 45.0
    assert mapped(exception_from_message(503, "Service Unavailable", {})).retry_after is None
