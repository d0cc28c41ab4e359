"""Text from users, made safe to show on a terminal or in a one-line message.

Job documents come from any user, and their text ends up in reasons, warnings and error
messages that a terminal renders and a log records. A control character in them could
move the cursor, recolour or clear the screen, hide the rest of a line, or forge a log
line; bidirectional overrides could make a value read differently from what it is.
:func:`printable` writes every such character as a visible escape (``\\x1b``,
``\\u202e``); :func:`excerpt` also cuts long text, so that a megabyte value costs a line,
not a megabyte per reason.
"""

from __future__ import annotations

import re

#: C0 and C1 controls and DEL (newlines and tabs too: a message is one line), the line
#: and paragraph separators, and the bidirectional marks, embeddings and isolates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control, separator or bidirectional character escaped."""
    if text.isascii() and text.isprintable():  # the usual case, without a regex
        return text
    return _UNSAFE.sub(_escape, text)


def excerpt(text: str, limit: int = 80) -> str:
    """:func:`printable` of at most ``limit`` characters of ``text``, saying what was cut."""
    if len(text) <= limit:
        return printable(text)
    return f"{printable(text[:limit])}... ({len(text) - limit} more characters)"


__all__ = ["excerpt", "printable"]
