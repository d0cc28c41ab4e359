"""oVirt engine failures -> virtprov's error tree.

The engine answers a refused action with an HTTP status and a ``<fault>`` whose
``detail`` holds the rendered messages of its catalogue (``AppErrors.properties``),
e.g. ``[Cannot run VM. There is no host that satisfies current scheduling
constraints. ...]``. No message key travels over the wire, so the status decides
first and a few stable phrases of the catalogue refine it. This is the only place
that reads engine message texts.
"""

from __future__ import annotations

import re
from typing import Any, Final

from virtprov import errors

# Phrases of the engine's message catalogue that mean "no room now".
_CAPACITY: Final = re.compile(
    "|".join(
        (
            # SCHEDULING_ALL_HOSTS_FILTERED_OUT
            r"no host that satisfies current scheduling constraints",
            r"quota has insufficient",  # ACTION_TYPE_FAILED_QUOTA_*_LIMIT_EXCEEDED
            r"quota .*(exceeded|limit)",
            r"low disk space on storage domain",  # ..._DISK_SPACE_LOW_ON_STORAGE_DOMAIN
            r"not enough (free )?(space|memory)",
            r"available memory is too low",  # VAR__DETAIL__NOT_ENOUGH_MEMORY
        )
    ),
    re.IGNORECASE,
)
_NAME_IN_USE: Final = re.compile(r"name is already (in use|used)", re.IGNORECASE)
_TRY_AGAIN: Final = re.compile(r"is locked|try again|in progress", re.IGNORECASE)
_NOT_RUNNING: Final = re.compile(r"vm is not running|is not running|vm is down", re.IGNORECASE)


class NameInUse(errors.ProviderError):
    """The engine already has a VM of that name (``ACTION_TYPE_FAILED_NAME_ALREADY_USED``)."""


def fault_text(exc: Any) -> str:
    """The reason and detail of an SDK error, without the SDK's boilerplate."""
    fault = getattr(exc, "fault", None)
    if fault is not None:
        parts = [getattr(fault, "reason", None), getattr(fault, "detail", None)]
        text = ": ".join(str(p).strip() for p in parts if p)
        if text:
            return text
    return str(exc) or type(exc).__name__


def is_not_running(exc: Any) -> bool:
    """A stop refused because the VM is already down."""
    return bool(_NOT_RUNNING.search(fault_text(exc)))


def map_error(
    exc: Exception,
    *,
    provider: str,
    action: str,
    guest_id: str | None = None,
    status: int | None = None,
) -> errors.ProviderError:
    """The virtprov error an ``ovirtsdk4.Error`` (or a lower failure) stands for.

    ``status``: the HTTP status of the answer that failed, for SDK errors that do not
    carry it (a non-XML answer such as the web server's HTML 401 page).
    """
    import ovirtsdk4

    text = fault_text(exc)
    message = f"{action}: {text}"
    kwargs: dict[str, Any] = {"provider": provider, "guest_id": guest_id}
    if isinstance(exc, ovirtsdk4.ConnectionError | ovirtsdk4.TimeoutError):
        return errors.TransientError(f"{action}: engine unreachable or too slow: {text}", **kwargs)
    code = getattr(exc, "code", None) or status
    if isinstance(exc, ovirtsdk4.AuthError) or code in (401, 403):
        return errors.PermanentError(
            f"{action}: the engine refused the credentials or permission "
            f"(check username, password and the user's role): {text}",
            **kwargs,
        )
    if isinstance(exc, ovirtsdk4.NotFoundError) or code == 404:
        if guest_id is not None:
            return errors.GuestNotFound(f"{action}: no such VM", **kwargs)
        return errors.PermanentError(f"{action}: not found: {text}", **kwargs)
    if _CAPACITY.search(text):
        return errors.CapacityExhausted(message, **kwargs)
    if code == 409 and _NAME_IN_USE.search(text):
        return NameInUse(message, **kwargs)
    if code is None or code >= 500 or code == 429 or (code == 409 and _TRY_AGAIN.search(text)):
        # No HTTP answer (connection dropped, unreadable response) or a server fault.
        return errors.TransientError(message, **kwargs)
    if code == 400:
        return errors.PermanentError(f"{message} (the engine rejected the request)", **kwargs)
    return errors.ProviderError(message, **kwargs)
