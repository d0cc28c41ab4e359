"""Turning a cloud SDK's exceptions into virtprov's error tree, in one place per provider.

Every provider wraps its SDK calls the same way: run the calls, let virtprov's own errors
through, and turn anything else into a :class:`~virtprov.errors.ProviderError` subclass
chosen by the provider's *mapping*. :func:`mapping_errors` is that wrapper; a provider
gives only its mapping::

    from virtprov import GuestNotFound, ProviderError, TransientError, mapping_errors


    def toy_error(
        exc: Exception, *, provider: str, action: str, guest_id: str | None
    ) -> ProviderError:
        if isinstance(exc, toysdk.NotFound) and guest_id is not None:
            return GuestNotFound(f"{action}: no such guest", provider=provider, guest_id=guest_id)
        if isinstance(exc, toysdk.Busy | TimeoutError):
            return TransientError(f"{action}: {exc}", provider=provider, guest_id=guest_id)
        return ProviderError(f"{action}: {exc}", provider=provider, guest_id=guest_id)


    class ToyProvider(Provider):
        def start_guest(self, guest_id: str, boot: BootRequest | None = None) -> None:
            with mapping_errors(
                toy_error, provider=self.info.name, action="start", guest_id=guest_id
            ):
                self.client.start(guest_id)

The original exception is not chained (``from None``): an SDK's exception may carry a
request's URL, headers or body, and virtprov's errors never carry secrets. The mapping's
message keeps what the operator needs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Protocol

from virtprov.errors import ProviderError, VirtprovError


class ErrorMapping(Protocol):
    """A provider's mapping: the virtprov error an SDK exception stands for.

    ``action`` says what the provider was doing ("start the guest"), for the message;
    ``guest_id`` is set when the call was about one guest (a "not found" is then
    :class:`~virtprov.errors.GuestNotFound`). Return the error, do not raise it.
    """

    def __call__(
        self, exc: Exception, /, *, provider: str, action: str, guest_id: str | None
    ) -> ProviderError: ...


@contextlib.contextmanager
def mapping_errors(
    mapping: ErrorMapping,
    *,
    provider: str,
    action: str,
    guest_id: str | None = None,
    catch: type[Exception] | tuple[type[Exception], ...] = Exception,
) -> Iterator[None]:
    """Run a block of cloud calls; an exception of ``catch`` leaving it is replaced by the
    error ``mapping`` gives for it.

    virtprov's own errors pass through unchanged, except that a
    :class:`~virtprov.errors.ProviderError` without a provider's name or guest id gets
    ``provider`` and ``guest_id``. Exceptions that are not of ``catch`` (by default every
    :class:`Exception`) pass through too: narrow it to the SDK's base exception when
    anything else would be a bug to see, not a cloud failure to report.
    """
    try:
        yield
    except VirtprovError as exc:
        if isinstance(exc, ProviderError):
            exc.fill_in(provider=provider, guest_id=guest_id)
        raise
    except catch as exc:
        error = mapping(exc, provider=provider, action=action, guest_id=guest_id)
        error.fill_in(provider=provider, guest_id=guest_id)
        raise error from None
