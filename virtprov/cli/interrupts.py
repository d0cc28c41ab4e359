"""Ctrl-C taken where a command can act on it.

Python raises ``KeyboardInterrupt`` between any two bytecodes: inside a database's
transaction bookkeeping (SQLite's ``BEGIN`` done, the ``try`` that rolls it back not yet
entered) it leaves a connection in a transaction nothing ends, and the clean-up that
follows fails or waits on its lock. While a command makes something it must clean up,
:class:`DeferredInterrupt` only notes the first Ctrl-C; the command raises it at the next
point it chose (:meth:`~DeferredInterrupt.check`, or a :meth:`~DeferredInterrupt.sleep`
of its waits). A second Ctrl-C interrupts at once, as usual.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any


class DeferredInterrupt:
    """A context that holds Ctrl-C back until :meth:`check` or :meth:`sleep`.

    Outside the main thread, or where SIGINT is ignored, it changes nothing. A Ctrl-C
    held after the command's last check is dropped: the command was done by then.
    """

    def __init__(self) -> None:
        self._pressed = threading.Event()
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> DeferredInterrupt:
        # Only the main thread receives signals; an ignored SIGINT (nohup, a background
        # job) stays ignored.
        if threading.current_thread() is not threading.main_thread():
            return self
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            return self
        self._previous = signal.signal(signal.SIGINT, self._note)
        self._installed = True
        return self

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self._pressed.set()
        signal.signal(signal.SIGINT, self._previous)  # a second Ctrl-C interrupts at once

    def check(self) -> None:
        """Raise the Ctrl-C held back, if any."""
        if self._pressed.is_set():
            raise KeyboardInterrupt

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less: a Ctrl-C ends the wait with ``KeyboardInterrupt``."""
        if self._pressed.wait(seconds):
            raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False
