"""``mapping_errors``: the one wrapper every provider puts around its SDK calls."""

from __future__ import annotations

import pytest

from virtprov import errors
from virtprov.error_mapping import mapping_errors


class SDKError(Exception):
    """What an SDK raises."""


def toy_error(
    exc: Exception, *, provider: str, action: str, guest_id: str | None
) -> errors.ProviderError:
    if isinstance(exc, KeyError) and guest_id is not None:
        return errors.GuestNotFound(f"{action}: no such guest", guest_id=guest_id)
    return errors.TransientError(f"{action}: {exc}", provider=provider, retry_after=2.0)


def test_an_sdk_exception_becomes_the_mapped_error_named_and_unchained() -> None:
    with (
        pytest.raises(errors.TransientError) as caught,
        mapping_errors(toy_error, provider="east", action="list flavors"),
    ):
        raise SDKError("https://toy.example.com/?token=abc said 503")
    error = caught.value
    assert str(error) == "east: list flavors: https://toy.example.com/?token=abc said 503"
    assert error.retry_after == 2.0
    # not chained: the SDK's exception (its request, its headers) stays out of tracebacks
    assert error.__cause__ is None
    assert error.__suppress_context__


def test_the_mapping_may_leave_the_name_out() -> None:
    with (
        pytest.raises(errors.GuestNotFound) as caught,
        mapping_errors(toy_error, provider="east", action="start", guest_id="g-1"),
    ):
        raise KeyError("g-1")
    assert (caught.value.provider, caught.value.guest_id) == ("east", "g-1")
    assert str(caught.value) == "east: start: no such guest"


def test_virtprovs_own_errors_pass_with_the_name_filled_in() -> None:
    with (
        pytest.raises(errors.CapacityExhausted) as caught,
        mapping_errors(toy_error, provider="east", action="create", guest_id="g-2"),
    ):
        raise errors.CapacityExhausted("quota exceeded")
    assert str(caught.value) == "east: quota exceeded"
    assert caught.value.guest_id == "g-2"
    with (
        pytest.raises(errors.ConfigError, match=r"^bad$"),
        mapping_errors(toy_error, provider="east", action="create"),
    ):
        raise errors.ConfigError("bad")


def test_catch_narrows_what_is_mapped() -> None:
    with (
        pytest.raises(RuntimeError, match="a bug"),
        mapping_errors(toy_error, provider="east", action="poll", catch=SDKError),
    ):
        raise RuntimeError("a bug")
