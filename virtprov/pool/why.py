"""``virtprov why RECIPE``: the story of one recipe's launch, from the journal.

The question Beaker users could never get answered: when was it submitted, which
providers were tried and why each was passed over or failed, and what the outcome was.
The journal already holds all of it, for as long as ``[pool] history_days`` keeps a
decided launch: the launch row (request, owner, providers passed over and why, retries,
outcome) and one guest row per create the pool attempted (provider, name, cloud id, and
why it was given up). :func:`read_story` gathers them; nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from virtprov.pool.schema import from_row, guests, launches


def _when(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


@attrs.frozen
class Attempt:
    """One create the pool attempted for the recipe (a guest row of the journal)."""

    provider: str
    #: The guest's name (the pool's prefix and ``recipe-<id>``).
    name: str
    #: The cloud's id of the guest; ``None``: the create never answered with one.
    guest_id: str | None
    #: When the create was attempted (or, once answered, when the guest came to be).
    at: datetime
    #: ``creating``, ``live`` (the launch's guest), ``doomed``/``destroyed`` (being
    #: destroyed), ``gone`` (nothing left in the cloud).
    state: str
    #: Why the guest was given up (``None`` while it is the launch's guest).
    reason: str | None
    vcpus: int | None
    ram_mib: int | None
    disk_bytes: int | None
    #: Made for an earlier submission of the same recipe.
    earlier: bool


@attrs.frozen
class LaunchStory:
    """Everything the journal knows about one recipe's launch."""

    recipe_id: str
    #: ``queued``, ``creating``, ``building``, ``starting`` or ``decided``.
    state: str
    #: The outcome once decided: precluded, skipped, succeeded or failed.
    status: str | None
    submitted_at: datetime
    #: The launcher (scheduler process) that submitted it, and the one that launched it.
    submitted_by: str
    launcher: str | None
    #: ``hostRequires`` or ``hardware`` (tmt), and the requirements as submitted.
    language: str
    requirements: str
    labs: tuple[str, ...]
    #: Who the guest is for (``Recipe.owner``).
    owner: str | None
    arch: str | None
    #: ``network`` or ``kernel`` when the pool starts the guest; ``None``: the scheduler does.
    boot: str | None
    deadline: datetime
    attempts: tuple[Attempt, ...]
    #: Providers this launch gave up on, each with why (``"name: reason"``).
    passed: tuple[str, ...]
    #: Retries after transient errors.
    retries: int
    #: The provider and flavor it last tried.
    provider: str | None
    flavor_id: str | None
    decided_at: datetime | None
    reasons: tuple[str, ...]
    error: str | None
    #: The ready guest of a succeeded launch (id, name, MACs, addresses...).
    guest: Mapping[str, Any] | None
    #: Whether the scheduler has taken the outcome.
    taken: bool


def read_story(conn: Connection, recipe_id: str) -> LaunchStory | None:
    """The story of ``recipe_id``'s launch, or ``None`` when the journal has none."""
    row = conn.execute(sa.select(launches).where(launches.c.recipe_id == recipe_id)).first()
    if row is None:
        return None
    request = json.loads(row.request)
    outcome = json.loads(row.outcome) if row.outcome else {}
    hardware = request.get("hardware")
    if hardware is not None:
        language = "hardware"
        requirements = hardware if isinstance(hardware, str) else json.dumps(hardware)
    else:
        language, requirements = "hostRequires", request.get("host_requires", "")
    boot = request.get("boot")
    attempts = tuple(
        from_row(
            Attempt,
            g,
            at=datetime.fromtimestamp(g.created_at, UTC),
            earlier=g.created_at < row.submitted_at,
        )
        for g in conn.execute(
            sa.select(guests).where(guests.c.recipe_id == recipe_id).order_by(guests.c.id)
        )
    )
    return LaunchStory(
        recipe_id=row.recipe_id,
        state=row.state,
        status=row.status,
        submitted_at=datetime.fromtimestamp(row.submitted_at, UTC),
        submitted_by=row.submitted_by,
        launcher=row.owner,
        language=language,
        requirements=requirements,
        labs=tuple(request.get("labs") or ()),
        owner=request.get("owner"),
        arch=request.get("arch"),
        boot=None if boot is None else str(boot.get("kind", "network")),
        deadline=datetime.fromtimestamp(row.deadline, UTC),
        attempts=attempts,
        passed=tuple(json.loads(row.passed)),
        retries=row.attempts,
        provider=row.provider,
        flavor_id=row.flavor_id,
        decided_at=_when(row.decided_at),
        reasons=tuple(outcome.get("reasons") or ()),
        error=outcome.get("error"),
        guest=outcome.get("guest"),
        taken=bool(row.taken),
    )
