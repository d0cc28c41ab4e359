"""Closing: what has a ``close()`` closes itself at the end of a ``with`` block."""

from __future__ import annotations

from typing import Self


class Closing:
    """A mixin: ``with thing:`` gives ``thing`` and closes it at the end, whatever
    happens; the class defines :meth:`close`."""

    def close(self) -> object:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
