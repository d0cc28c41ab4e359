"""oVirt engine failures -> virtprov's error tree.

The engine answers a refused command with an HTTP status and a ``<fault>`` (inside an
``<action>`` for an action) whose ``detail`` holds the rendered messages of its
catalogue (``AppErrors.properties``), e.g. ``[Cannot run VM. There is no host that
satisfies current scheduling constraints. ...]``. No message key travels over the wire:
the status comes from the messages' ``ErrorType`` (``EngineMessage.java``, through
``ErrorMessageHelper``; a message without one, such as ``SCHEDULING_NO_HOSTS``, is a
400), so the status alone says too little, and a few phrases of the catalogue refine it.
Each phrase below names the message it matches; the tests check them against the whole
catalogue. This is the only place that reads engine message texts.
"""

from __future__ import annotations

import re
import threading
from typing import Any, Final

from virtprov import errors

# Messages that mean "not here, not now": this cluster (or engine) cannot take the guest
# at the moment; another cluster or provider may.
_CAPACITY: Final = re.compile(
    "|".join(
        (
            # SCHEDULING_ALL_HOSTS_FILTERED_OUT (409): no host passes the scheduler
            r"there is no host that satisfies current scheduling constraints",
            # SCHEDULING_NO_HOSTS (no ErrorType, hence 400): no host of the cluster is up
            r"there are no hosts to use",
            # ACTION_TYPE_FAILED_VDS_VM_MEMORY (409)
            r"there are no available running hosts with sufficient memory",
            # ACTION_TYPE_FAILED_QUOTA_CLUSTER_LIMIT_EXCEEDED at start,
            # ACTION_TYPE_FAILED_QUOTA_STORAGE_LIMIT_EXCEEDED at a disk's creation (409)
            r"quota has insufficient (cluster|storage) resources",
            # ACTION_TYPE_FAILED_DISK_SPACE_LOW_ON_STORAGE_DOMAIN (409)
            r"low disk space on storage domain",
            # MAC_POOL_NOT_ENOUGH_MAC_ADDRESSES (409): the cluster's MAC pool is used up
            r"not enough mac addresses left in mac address pool",
            # ACTION_TYPE_FAILED_STORAGE_DOMAIN_STATUS_ILLEGAL2 and _ILLEGAL (409): the
            # storage domain is not active (maintenance, inactive, locked...) or unreachable
            r"the relevant storage domain's status is",
            r"the relevant storage domain is inaccessible",
        )
    ),
    re.IGNORECASE,
)
# ACTION_TYPE_FAILED_VM_NOT_FOUND (400): a start or stop of a VM the engine does not have.
_NOT_FOUND: Final = re.compile(r"\. VM is not found\.")
# ACTION_TYPE_FAILED_NAME_ALREADY_USED (409), for a VM.
_NAME_IN_USE: Final = re.compile(r"\. The VM name is already in use\b")
# Locks and operations under way (409): ACTION_TYPE_FAILED_VM_IS_LOCKED, _DISKS_LOCKED,
# _DISK_IS_LOCKED, _OBJECT_LOCKED ("Related operation is currently in progress") and
# their kind. Not every "try again" of the catalogue: a disabled template is not transient.
_TRY_AGAIN: Final = re.compile(
    r"\b(is|are) locked\b|currently in progress|please try again (later|in a few minutes)",
    re.IGNORECASE,
)
# ACTION_TYPE_FAILED_VM_IS_NOT_RUNNING (409): a stop of a VM that is not running but not
# down either (image_locked); a VM that is down is "stopped" with success by the engine.
_NOT_RUNNING: Final = re.compile(r"\. VM is not running\.")


class NameInUse(errors.ProviderError):
    """The engine already has a VM of that name (``ACTION_TYPE_FAILED_NAME_ALREADY_USED``)."""


class Forbidden(errors.PermanentError):
    """The engine answered 403: the user may not do this (to this object).

    The engine checks permissions before the command looks for its VM, so a user without
    a system-wide role gets 403, not "VM is not found", for a VM that does not exist.
    """


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
    """A stop refused because the VM is not running."""
    return bool(_NOT_RUNNING.search(fault_text(exc)))


class EngineAnswers(threading.local):
    """What the engine connection saw of each thread's last answer, and the provider's
    mapping, which needs it: the SDK raises some errors without the answer's HTTP status (a
    non-XML answer, such as the front web server's HTML 401 page or a proxy's 502), and
    none with its ``Retry-After``."""

    status: int | None = None
    retry_after: float | None = None

    def forget(self) -> None:
        """Before a call: what an earlier call's answer said is no longer news."""
        self.status = self.retry_after = None

    def map_error(
        self, exc: Exception, *, provider: str, action: str, guest_id: str | None = None
    ) -> errors.ProviderError:
        """The virtprov error an ``ovirtsdk4.Error``, or a socket error under it, stands for:
        the provider's mapping for :func:`virtprov.mapping_errors`."""
        import ovirtsdk4

        kwargs: dict[str, Any] = {"provider": provider, "guest_id": guest_id}
        if isinstance(exc, OSError):
            return errors.TransientError(f"{action}: {exc}", **kwargs)
        text = fault_text(exc)
        message = f"{action}: {text}"
        waits: dict[str, Any] = {"retry_after": self.retry_after, **kwargs}
        if isinstance(exc, ovirtsdk4.ConnectionError | ovirtsdk4.TimeoutError):
            return errors.TransientError(
                f"{action}: engine unreachable or too slow: {text}", **waits
            )
        code = getattr(exc, "code", None) or self.status
        if code == 403:
            return Forbidden(
                f"{action}: the engine refused the permission (check the user's role): {text}",
                **kwargs,
            )
        if isinstance(exc, ovirtsdk4.AuthError) or code == 401:
            return errors.PermanentError(
                f"{action}: the engine refused the credentials "
                f"(check username, password and the user's role): {text}",
                **kwargs,
            )
        if isinstance(exc, ovirtsdk4.NotFoundError) or code == 404:
            if guest_id is not None:
                return errors.GuestNotFound(f"{action}: no such VM", **kwargs)
            return errors.PermanentError(f"{action}: not found: {text}", **kwargs)
        if guest_id is not None and _NOT_FOUND.search(text):
            return errors.GuestNotFound(f"{action}: no such VM ({text})", **kwargs)
        if _CAPACITY.search(text):
            return errors.CapacityExhausted(message, **kwargs)
        if code == 409 and _NAME_IN_USE.search(text):
            return NameInUse(message, **kwargs)
        if code is None or code >= 500 or code == 429 or (code == 409 and _TRY_AGAIN.search(text)):
            # No HTTP answer (connection dropped, unreadable response) or a server fault.
            return errors.TransientError(message, **waits)
        if code == 400:
            return errors.PermanentError(f"{message} (the engine rejected the request)", **kwargs)
        return errors.ProviderError(message, **kwargs)
