"""Mapping openstacksdk and keystoneauth failures into virtprov's error tree.

Nobody above the provider matches message strings; this module is the one place that
does, and only for the texts OpenStack gives no structured code for: Nova's
"Quota exceeded" (HTTP 403, not 413, since microversion 2.1) and Neutron's
``OverQuota`` type (HTTP 409). Build faults ("No valid host was found") are judged by
:mod:`virtprov.nova`, which the libcloud provider's OpenStack driver shares.
"""

from __future__ import annotations

from virtprov import errors
from virtprov.nova import QUOTA_EXCEEDED as _QUOTA
from virtprov.retry_after import retry_after_of


def _retry_after(response: object) -> float | None:
    """The answer's ``Retry-After``, delta-seconds or HTTP-date."""
    return retry_after_of(getattr(response, "headers", None))


def _details(exc: BaseException) -> str:
    """The cloud's own message, without the URL noise openstacksdk adds."""
    details = getattr(exc, "details", None)
    text = str(details) if details else str(exc)
    return " ".join(text.split())


def translate(
    exc: BaseException,
    *,
    provider: str,
    action: str,
    guest_id: str | None = None,
    not_found: str | None = None,
) -> errors.ProviderError:
    """The virtprov error for an exception raised by openstacksdk or keystoneauth: the
    provider's mapping for :func:`virtprov.mapping_errors`.

    ``action`` says what the provider was doing ("creating the server"); ``not_found``
    is the fix to give when a 404 means a configured resource is missing (a 404 on a
    guest operation is :class:`~virtprov.errors.GuestNotFound`).
    """
    from keystoneauth1 import exceptions as ks
    from openstack import exceptions as sdk

    def make(cls: type[errors.ProviderError], message: str) -> errors.ProviderError:
        return cls(f"{action}: {message}", provider=provider, guest_id=guest_id)

    if isinstance(exc, errors.ProviderError):
        return exc
    status: int | None = None
    response = None
    if isinstance(exc, sdk.HttpException):
        status, response = exc.status_code, exc.response
    elif isinstance(exc, ks.HttpError):
        status, response = exc.http_status, exc.response
    detail = _details(exc)

    if isinstance(exc, ks.ConnectionError | ks.RetriableConnectionFailure) and not isinstance(
        exc, ks.SSLError
    ):
        return make(errors.TransientError, f"cannot reach the cloud ({detail})")
    if isinstance(exc, ks.SSLError):
        return make(
            errors.PermanentError,
            f"TLS verification failed ({detail}); set cacert to the cloud's CA bundle",
        )
    if isinstance(exc, ks.EndpointNotFound | sdk.EndpointNotFound):
        return make(
            errors.PermanentError,
            f"the service catalog has no such endpoint ({detail}); check region_name "
            "and that the project can use Nova, Neutron and Glance",
        )
    if isinstance(exc, ks.DiscoveryFailure | ks.MissingAuthPlugin | ks.AuthPluginException):
        return make(
            errors.PermanentError,
            f"cannot authenticate ({detail}); check auth_url and the credentials",
        )
    if isinstance(exc, sdk.ResourceTimeout):
        return make(errors.TransientError, detail)
    if status is None:
        return make(errors.ProviderError, f"{type(exc).__name__}: {detail}")

    if status == 401:
        return make(
            errors.PermanentError,
            f"the cloud refused the credentials (401: {detail}); check the user, password "
            "or application credential, and the trust if one is used",
        )
    if status in (403, 409, 413) and _QUOTA.search(detail):
        return make(errors.CapacityExhausted, detail)
    if status == 429 or status == 413:
        return errors.TransientError(
            f"{action}: rate limited ({status}: {detail})",
            provider=provider,
            guest_id=guest_id,
            retry_after=_retry_after(response),
        )
    if status >= 500 or status == 408:
        return errors.TransientError(
            f"{action}: the cloud failed ({status}: {detail})",
            provider=provider,
            guest_id=guest_id,
            retry_after=_retry_after(response),
        )
    if status == 403:
        return make(
            errors.PermanentError,
            f"not allowed ({detail}); the project's role does not permit this operation",
        )
    if status == 404:
        if not_found is None:
            return make(errors.GuestNotFound, detail)
        return make(errors.PermanentError, f"{detail}; {not_found}")
    if status == 400 and not_found is not None and "could not be found" in detail.lower():
        return make(errors.PermanentError, f"{detail}; {not_found}")
    if status == 400:
        return make(errors.PermanentError, f"the cloud rejected the request (400: {detail})")
    return make(errors.ProviderError, f"{status}: {detail}")
