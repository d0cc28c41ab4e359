"""The scheduler-facing pool: launches VMs for recipes, its state in a journal.

Importing :mod:`virtprov` does not import this package (SQLAlchemy stays out of the
core's import cost); import it where a pool is used.

The pool logs on ``virtprov.pool``. As a library should, it installs only a
``logging.NullHandler`` on the ``virtprov`` logger: the application decides where log
lines go (without any configuration, Python would print warnings and errors to stderr).
"""

import logging

from virtprov.pool.events import Event
from virtprov.pool.journal import Journal, JournalUnavailable
from virtprov.pool.outcome import Handle, Outcome, Recipe, Status
from virtprov.pool.pool import Leftover, Pool
from virtprov.pool.settings import Limits, PoolSettings
from virtprov.pool.sweeper import Orphan, OrphanResource, SweepReport

logging.getLogger("virtprov").addHandler(logging.NullHandler())

__all__ = [
    "Event",
    "Handle",
    "Journal",
    "JournalUnavailable",
    "Leftover",
    "Limits",
    "Orphan",
    "OrphanResource",
    "Outcome",
    "Pool",
    "PoolSettings",
    "Recipe",
    "Status",
    "SweepReport",
]
