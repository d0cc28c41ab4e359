"""Shared cassette helpers: vcrpy configuration and the scrub hooks every provider uses.

A cassette must never hold a secret, and must replay offline. Two traps matter:

* vcrpy's ``filter_headers`` cleans only *request* headers. Keystone returns the token
  in the *response* header ``X-Subject-Token``, and the password travels in the JSON
  body of ``POST /v3/auth/tokens``. :func:`scrub_request` and :func:`scrub_response`
  clean both, recursively, by key name.
* A replayed token has expired, so keystoneauth would re-authenticate and miss the
  cassette. :func:`scrub_response` rewrites every ``expires_at`` to :data:`FAR_FUTURE`.

A provider's ``conftest.py`` uses it like this::

    from virtprov_testing.cassettes import cassette_config

    @pytest.fixture(scope="module")
    def vcr_config():
        return cassette_config()
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Any, Final

#: What replaces every secret in a cassette.
SCRUBBED: Final = "<scrubbed>"
#: What every ``expires_at`` becomes, so a replayed token never looks expired.
FAR_FUTURE: Final = "2999-12-31T23:59:59.999999Z"

#: Request and response headers whose values are credentials.
SECRET_HEADERS: Final = (
    "authorization",
    "x-auth-token",
    "x-subject-token",
    "x-service-token",
    "cookie",
    "set-cookie",
    "proxy-authorization",
)
#: JSON keys whose values are secrets, wherever they appear in a body.
SECRET_KEYS: Final = frozenset(
    {
        "password",
        "secret",
        "application_credential_secret",
        "adminpass",
        "admin_pass",
        "access_token",
        "refresh_token",
        "client_secret",
        "passcode",
    }
)
# {"token": {"id": "..."}}: the token auth method carries a live token as its id.
_TOKEN_ID_PARENTS: Final = frozenset({"token"})
_FORM_SECRET: Final = re.compile(
    r"((?:^|&)(?:password|client_secret|refresh_token|access_token)=)[^&]*", re.IGNORECASE
)


def scrub_json(value: Any, *, parent: str = "") -> Any:
    """A copy of a decoded JSON value with every secret replaced and expiries rewritten."""
    if isinstance(value, dict):
        result: dict[str, Any] = {}
        for key, item in value.items():
            lowered = str(key).lower()
            if (lowered in SECRET_KEYS and isinstance(item, str | int | float)) or (
                lowered == "id" and parent in _TOKEN_ID_PARENTS and isinstance(item, str)
            ):
                result[key] = SCRUBBED
            elif lowered == "expires_at" and isinstance(item, str):
                result[key] = FAR_FUTURE
            else:
                result[key] = scrub_json(item, parent=lowered)
        return result
    if isinstance(value, list):
        return [scrub_json(item, parent=parent) for item in value]
    return value


def scrub_body(body: bytes | str | None) -> bytes | str | None:
    """Scrub a JSON or form-encoded body; anything else is returned unchanged."""
    if not body:
        return body
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        decoded = json.loads(text)
    except ValueError:
        if "=" in text and "\n" not in text:
            cleaned = _FORM_SECRET.sub(lambda m: m.group(1) + SCRUBBED, text)
            if cleaned != text:
                return cleaned.encode() if isinstance(body, bytes) else cleaned
        return body
    cleaned_json = json.dumps(scrub_json(decoded))
    return cleaned_json.encode() if isinstance(body, bytes) else cleaned_json


def scrub_headers(headers: MutableMapping[str, Any], names: Iterable[str] = SECRET_HEADERS) -> None:
    """Scrub, in place, the value of every header named in ``names`` (in any case): it
    becomes :data:`SCRUBBED`, a list of values a list of as many."""
    wanted = {name.lower() for name in names}
    for key in list(headers.keys()):
        if key.lower() in wanted:
            value = headers[key]
            headers[key] = [SCRUBBED] * len(value) if isinstance(value, list) else SCRUBBED


def scrub_request(request: Any) -> Any:
    """vcrpy ``before_record_request`` hook: clean headers and the body of a request."""
    scrub_headers(request.headers, SECRET_HEADERS)
    if isinstance(request.body, bytes | str) and request.body:
        request.body = scrub_body(request.body)
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """vcrpy ``before_record_response`` hook: clean headers and body of a response."""
    scrub_headers(response.get("headers", {}), SECRET_HEADERS)
    body = response.get("body", {})
    if isinstance(body, dict) and body.get("string"):
        body["string"] = scrub_body(body["string"])
    return response


def json_body_keys(r1: Any, r2: Any) -> None:
    """vcrpy matcher: two requests carry JSON bodies with the same top-level keys.

    It tells ``POST .../action`` ``{"os-stop": null}`` from ``{"os-start": null}``
    without comparing values (a recorded password is scrubbed, a live one is not).
    """

    def keys(request: Any) -> tuple[str, ...] | None:
        body = request.body
        if not body or not isinstance(body, bytes | str):
            return None  # empty, or a streamed upload
        try:
            decoded = json.loads(body)
        except (ValueError, TypeError):
            return None
        return tuple(sorted(decoded)) if isinstance(decoded, dict) else None

    assert keys(r1) == keys(r2), f"JSON body keys differ: {keys(r1)} != {keys(r2)}"


def cassette_config(
    *,
    extra_headers: Iterable[str] = (),
    before_record_request: Callable[[Any], Any] | None = None,
    before_record_response: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    match_on: Iterable[str] = ("method", "scheme", "host", "port", "path", "query", "json_keys"),
) -> dict[str, Any]:
    """The ``vcr_config`` a provider's ``conftest.py`` returns (pytest-recording).

    The record mode is not set here: pytest-recording's ``--record-mode`` decides
    (``none`` by default: replay only, no network).
    """

    def on_request(request: Any) -> Any:
        request = scrub_request(request)
        scrub_headers(request.headers, extra_headers)
        return before_record_request(request) if before_record_request else request

    def on_response(response: dict[str, Any]) -> dict[str, Any]:
        response = scrub_response(response)
        scrub_headers(response.get("headers", {}), extra_headers)
        return before_record_response(response) if before_record_response else response

    return {
        "filter_headers": [*SECRET_HEADERS, *extra_headers],
        "before_record_request": on_request,
        "before_record_response": on_response,
        "decode_compressed_response": True,
        "match_on": list(match_on),
    }


def register_matchers(vcr: Any) -> Any:
    """Register :func:`json_body_keys` as ``json_keys`` on a ``vcr.VCR`` (pytest-recording's
    ``vcr`` fixture hook ``pytest_recording_configure``)."""
    vcr.register_matcher("json_keys", json_body_keys)
    return vcr


def interactions(cassette_path: str) -> list[Mapping[str, Any]]:
    """The recorded interactions of a cassette file (for counting requests in tests)."""
    import yaml

    with open(cassette_path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    return list(data.get("interactions", []))
