"""Reading a document from a file or a stream, never more than its size limit.

The size of a document is checked while it is read, so that ``/dev/zero``, an endless
pipe or a multi-gigabyte file stops at the limit instead of filling memory first: at
most ``limit + 1`` bytes are ever read.
"""

from __future__ import annotations

import sys
from typing import BinaryIO

#: How much is read at a time.
_CHUNK = 64 * 1024


class TooLarge(ValueError):
    """A document holds more than its limit; the message says which limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"over the limit of {limit} bytes (reading stopped there)")


def read_bounded(stream: BinaryIO, limit: int) -> bytes:
    """All of ``stream`` if it holds at most ``limit`` bytes, else :class:`TooLarge`."""
    data = bytearray()
    while len(data) <= limit:
        chunk = stream.read(min(_CHUNK, limit + 1 - len(data)))
        if not chunk:
            return bytes(data)
        data += chunk
    raise TooLarge(limit)


def read_file(path: str, limit: int) -> bytes:
    """The file at ``path`` (``-``: standard input), at most ``limit`` bytes.

    ``OSError`` when it cannot be opened or read, :class:`TooLarge` past the limit.
    """
    if path == "-":
        return read_bounded(sys.stdin.buffer, limit)
    with open(path, "rb") as handle:
        return read_bounded(handle, limit)


__all__ = ["TooLarge", "read_bounded", "read_file"]
