"""History that does not weigh: decided launches are kept for ``[pool] history_days``.

A decided launch whose outcome the scheduler has taken is history: ``virtprov why`` can
tell its story until it is older than ``history_days``; then the :class:`HistoryPruner`
deletes it, with the guest rows that hold nothing any more and launchers long gone.

It deletes in small batches, each one short transaction, and rests between them for
nineteen times as long as the batch took, so the journal's writers (the launches) wait
for at most one batch at a time and pruning takes at most about 5 % of the journal's
time however much history there is (a year of it, after an upgrade, included). Launches
never wait for the pruner to finish. On PostgreSQL every launcher prunes; rows another
one is deleting at the same moment are skipped, not waited for.
"""

from __future__ import annotations

import logging
import threading
import time

import attrs

from virtprov.errors import JournalError
from virtprov.pool.events import EventBus
from virtprov.pool.journal import Journal

log = logging.getLogger("virtprov.pool")

DAY = 86400.0
#: Rows per transaction: tens of milliseconds of the journal's write lock.
BATCH = 500
#: Rest between batches, as a multiple of the batch's own time: pruning takes at most
#: about 1/(1 + REST) of the journal's time while launches run.
REST = 19.0
#: Seconds between pruning passes (the first comes this long after the pool starts,
#: so that it never competes with a restarted pool's recovery).
INTERVAL = 600.0


@attrs.frozen
class PruneReport:
    """What one pruning pass deleted."""

    launches: int
    guests: int
    launchers: int
    seconds: float
    #: The longest single transaction, in seconds: how long a launch could have waited.
    longest_batch: float
    #: False when the pass stopped early (the pool closed) with history left to prune.
    complete: bool = True


@attrs.define(eq=False)
class HistoryPruner:
    """Deletes history older than ``days`` in small batches, on a thread of its own.

    ``batch``, ``rest`` and ``interval`` default to :data:`BATCH`, :data:`REST` and
    :data:`INTERVAL`; ``first``: seconds before the first pass (``interval`` unless given).
    """

    journal: Journal
    days: float
    events: EventBus | None = attrs.field(default=None, kw_only=True)
    batch: int = attrs.field(default=BATCH, kw_only=True)
    rest: float = attrs.field(default=REST, kw_only=True)
    interval: float = attrs.field(default=INTERVAL, kw_only=True)
    first: float | None = attrs.field(default=None, kw_only=True)
    #: What the last pass deleted (``None`` before the first).
    last: PruneReport | None = attrs.field(default=None, init=False)
    _stopping: threading.Event = attrs.field(factory=threading.Event, init=False)
    _thread: threading.Thread | None = attrs.field(default=None, init=False)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="virtprov-history", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the batch in flight (at most one short transaction)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        wait = self.interval if self.first is None else self.first
        while not self._stopping.wait(wait):
            try:
                self.prune()
            except JournalError as exc:  # unreachable for now: the next pass tries again
                log.warning(
                    "pruning the journal's history: %s; next try in %g s", exc, self.interval
                )
            except Exception:  # never the pool's end: the next pass tries again
                log.exception("pruning the journal's history failed")
            wait = self.interval

    def prune(self, now: float | None = None) -> PruneReport:
        """One pass: delete everything older than ``days``, a batch at a time."""
        started = time.monotonic()
        before = (time.time() if now is None else now) - self.days * DAY
        counts = {"launches": 0, "guests": 0}
        longest = 0.0
        for table, prune in (
            ("launches", self.journal.prune_launches),
            ("guests", self.journal.prune_guests),
        ):
            while not self._stopping.is_set():
                batch_started = time.monotonic()
                deleted = prune(before, self.batch)
                took = time.monotonic() - batch_started
                longest = max(longest, took)
                counts[table] += deleted
                if deleted < self.batch:
                    break
                if self._stopping.wait(took * self.rest):
                    break
        complete = not self._stopping.is_set()
        launchers = self.journal.prune_launchers(before) if complete else 0
        report = PruneReport(
            launches=counts["launches"],
            guests=counts["guests"],
            launchers=launchers,
            seconds=time.monotonic() - started,
            longest_batch=longest,
            complete=complete,
        )
        self.last = report
        if self.events is not None and (report.launches or report.guests or report.launchers):
            self.events.emit(
                "history.pruned",
                launches=report.launches,
                guests=report.guests,
                launchers=report.launchers,
                seconds=report.seconds,
            )
        return report
