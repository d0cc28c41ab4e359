"""libcloud failures -> virtprov's error tree.

libcloud gives a few typed exceptions (``InvalidCredsError``, ``RateLimitReachedError``,
``ServiceUnavailableError``, ``BaseHTTPError`` with the HTTP status) and, for the rest,
the service's own message: EC2's ``Code: message`` lines, OpenStack's and GCE's JSON
texts. The type and status decide first; a few well-known phrases of the big services
refine them. This is the only place that reads service message texts.
"""

from __future__ import annotations

import re
from typing import Any, Final

from virtprov import errors
from virtprov.retry_after import retry_after_of

# "no room now": quota, instance limits, capacity of a zone.
_CAPACITY: Final = re.compile(
    "|".join(
        (
            r"InstanceLimitExceeded",  # EC2: the account's instance limit
            r"InsufficientInstanceCapacity",  # EC2: no capacity of this type in the zone
            r"VcpuLimitExceeded",
            r"InsufficientFreeAddressesInSubnet",
            r"quota",  # OpenStack "Quota exceeded", GCE "QUOTA_EXCEEDED"
            r"No valid host was found",  # Nova
            r"ZONE_RESOURCE_POOL_EXHAUSTED",  # GCE
            r"SkuNotAvailable|OperationNotAllowed.*cores",  # Azure
        )
    ),
    re.IGNORECASE,
)
_NOT_FOUND: Final = re.compile(
    r"InvalidInstanceID\.(NotFound|Malformed)|could not be found|was not found|notFound",
    re.IGNORECASE,
)
_PERMANENT: Final = re.compile(
    r"AuthFailure|UnauthorizedOperation|InvalidClientTokenId|SignatureDoesNotMatch|"
    r"OptInRequired|Blocked|InvalidAMIID|InvalidParameter|MissingParameter|"
    r"Multiple possible networks found",  # Nova: the project sees several; set network
    re.IGNORECASE,
)
_TRANSIENT: Final = re.compile(
    r"RequestLimitExceeded|Throttling|ServiceUnavailable|InternalError|Unavailable|"
    r"IncorrectInstanceState|try again",
    re.IGNORECASE,
)


def describe(exc: BaseException) -> str:
    """What went wrong, in the service's words, without libcloud's boilerplate."""
    for attribute in ("message", "value"):
        text = getattr(exc, attribute, None)
        if isinstance(text, str) and text.strip():
            return text.strip()
    return str(exc).strip() or type(exc).__name__


def map_error(
    exc: BaseException, *, provider: str, action: str, guest_id: str | None = None
) -> errors.ProviderError:
    """The virtprov error a libcloud (or transport) failure stands for."""
    from libcloud.common.exceptions import RateLimitReachedError
    from libcloud.common.types import InvalidCredsError, ServiceUnavailableError

    text = describe(exc)
    message = f"{action}: {text}"
    kwargs: dict[str, Any] = {"provider": provider, "guest_id": guest_id}
    if isinstance(exc, InvalidCredsError):
        return errors.PermanentError(
            f"{action}: the service refused the credentials (check key and secret): {text}",
            **kwargs,
        )
    if isinstance(exc, RateLimitReachedError | ServiceUnavailableError):
        return errors.TransientError(message, retry_after=retry_after(exc), **kwargs)
    if _is_transport(exc):
        return errors.TransientError(f"{action}: service unreachable or too slow: {text}", **kwargs)
    code = getattr(exc, "code", None) or getattr(exc, "http_code", None)
    code = code if isinstance(code, int) else None
    if code in (401, 403) and not _CAPACITY.search(text):
        return errors.PermanentError(
            f"{action}: the service refused the credentials or permission: {text}", **kwargs
        )
    if _CAPACITY.search(text):
        return errors.CapacityExhausted(message, **kwargs)
    if code == 404 or _NOT_FOUND.search(text):
        if guest_id is not None:
            return errors.GuestNotFound(f"{action}: no such node", **kwargs)
        return errors.PermanentError(f"{action}: not found: {text}", **kwargs)
    if _TRANSIENT.search(text) or (code is not None and (code >= 500 or code == 429)):
        return errors.TransientError(message, retry_after=retry_after(exc), **kwargs)
    if _PERMANENT.search(text) or code == 400:
        return errors.PermanentError(f"{message} (the service rejected the request)", **kwargs)
    # Anything else failed this one call; the provider itself may be fine.
    return errors.ProviderError(message, **kwargs)


def retry_after(exc: BaseException) -> float | None:
    """The seconds the service asked to wait: ``RateLimitReachedError.retry_after`` (libcloud
    turns an HTTP-date into seconds), else the error's ``Retry-After`` header."""
    from libcloud.common.exceptions import RateLimitReachedError

    if isinstance(exc, RateLimitReachedError) and exc.retry_after:
        return float(exc.retry_after)  # libcloud's 0 means "not said"
    return retry_after_of(getattr(exc, "headers", None))


def _is_transport(exc: BaseException) -> bool:
    import requests

    return isinstance(exc, requests.ConnectionError | requests.Timeout | TimeoutError | OSError)
