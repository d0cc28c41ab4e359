"""No secret in a URL, ever: finding, removing and hiding credentials inside URLs.

A URL is printed in errors, logs, ``journal status`` and reprs, and copied into tickets,
so a password must never travel inside one: not as ``user:password@``, not as a query
parameter (``?password=...``, what libpq and many HTTP APIs accept). Configuration
refuses such URLs (:func:`secret_in_url`), migration strips them (:func:`strip_secrets`),
and anything printed goes through :func:`redact_url`.

Parsing is :mod:`urllib.parse`'s, so a string that is not a URL (no scheme or no host)
is left alone.
"""

from __future__ import annotations

import urllib.parse
from typing import Final

#: Shown in place of a hidden value.
HIDDEN: Final = "***"

# Query parameter names that carry a credential, as substrings of the lower-cased name
# (libpq's password and sslpassword, API tokens, pre-signed URLs' signatures...).
_SECRET_PARTS: Final = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "access_key",
    "signature",
    "credential",
)
_SECRET_NAMES: Final = frozenset({"pass", "pw", "key"})


def is_secret_parameter(name: str) -> bool:
    """Whether a query parameter of this name carries a credential."""
    lowered = name.lower()
    return lowered in _SECRET_NAMES or any(part in lowered for part in _SECRET_PARTS)


def _split(text: str) -> urllib.parse.SplitResult | None:
    """The parts of ``text`` when it is a URL with a scheme and a host, else ``None``."""
    if "://" not in text:
        return None
    try:
        parts = urllib.parse.urlsplit(text.strip())
    except ValueError:  # e.g. an invalid IPv6 host: not a URL we could leak from
        return None
    return parts if parts.scheme and parts.netloc else None


def _password_of(parts: urllib.parse.SplitResult) -> str | None:
    try:
        return parts.password
    except ValueError:
        return None


def secret_in_url(text: str) -> str | None:
    """What secret ``text`` holds if it is a URL with one, described without its value.

    ``None`` for a URL without a secret, and for any string that is not a URL.
    """
    parts = _split(text)
    if parts is None:
        return None
    if _password_of(parts):
        return "a password in the URL (user:password@)"
    names = sorted(
        {
            name
            for name, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
            if is_secret_parameter(name)
        }
    )
    if names:
        listed = ", ".join(f"{name}=" for name in names)
        return f"a credential in the URL's query ({listed})"
    return None


def strip_secrets(text: str) -> tuple[str, list[str]]:
    """``text`` without its password and credential parameters, and what was removed.

    The user name stays (it is not a secret). Values not being URLs come back unchanged.
    """
    parts = _split(text)
    if parts is None:
        return text, []
    removed: list[str] = []
    netloc = parts.netloc
    if _password_of(parts):
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}@{hostport}" if user else hostport
        removed.append("the password in user:password@")
    kept = []
    for name, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
        if is_secret_parameter(name):
            removed.append(f"the query parameter {name}=")
        else:
            kept.append((name, value))
    if not removed:
        return text, []
    query = urllib.parse.urlencode(kept) if kept else ""
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query)), removed


def redact_url(text: str) -> str:
    """``text`` with any password and credential parameter replaced by ``***``."""
    parts = _split(text)
    if parts is None:
        return text
    netloc = parts.netloc
    if _password_of(parts) is not None:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:{HIDDEN}@{hostport}"
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    if any(is_secret_parameter(name) for name, _ in pairs):
        query = urllib.parse.urlencode(
            [(name, HIDDEN if is_secret_parameter(name) else value) for name, value in pairs],
            safe="*",
        )
    else:
        query = parts.query
    if (netloc, query) == (parts.netloc, parts.query):
        return text
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query))


__all__ = ["HIDDEN", "is_secret_parameter", "redact_url", "secret_in_url", "strip_secrets"]
