"""``Retry-After`` as seconds to wait, in both of its HTTP forms.

A cloud that answers 429 or 503 may say when to come back (RFC 9110, section 10.2.3):
as delta-seconds (``Retry-After: 120``) or as an HTTP-date (``Retry-After: Fri, 31 Dec
1999 23:59:59 GMT``). Providers give the result to
:class:`~virtprov.errors.TransientError` as ``retry_after``, which the pool waits at
least. Anything else in the header (a negative or fractional number, a 5,000-digit
number, a date that does not parse) is treated as absent, never as an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

#: delta-seconds: digits only; more than 10 of them (317 years) is nonsense, not a delay.
_SECONDS: Final = re.compile(r"[0-9]{1,10}")


def parse_retry_after(value: object, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value; ``None`` when absent or unreadable.

    An HTTP-date in the past means "now" (0 seconds). ``now`` is for tests.
    """
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _SECONDS.fullmatch(text):
        return float(int(text))
    if not text or len(text) > 64:  # an IMF-fixdate is 29 characters
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT; the obsolete forms may omit it
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds)


def retry_after_of(headers: object, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` of a response's headers: a mapping (any case) or raw header lines."""
    if isinstance(headers, Mapping):
        for name, value in headers.items():
            if isinstance(name, str) and name.lower() == "retry-after":
                return parse_retry_after(value, now=now)
        return None
    if isinstance(headers, Iterable) and not isinstance(headers, str | bytes):
        for line in headers:
            if not isinstance(line, str):
                continue
            name, sep, value = line.partition(":")
            if sep and name.strip().lower() == "retry-after":
                return parse_retry_after(value, now=now)
    return None
