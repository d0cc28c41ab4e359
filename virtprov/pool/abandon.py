"""Attended launches whose submitter died: decided ``failed``, their guests destroyed.

A scheduler submits a recipe, may crash, and comes back for the outcome: another
launcher takes the launch over and the outcome waits in the journal. A tmt run is
different: the process that submits the launch is the only one that will ever use the
guest (``Recipe(attended=True)``). When that process is killed, nobody comes back for
the outcome, so carrying the launch on would make a guest no one uses and the journal
would hold it forever. Instead, once the submitter's lease has run out (or it retired
without deciding), the launch is **abandoned**: decided ``failed`` with the reason,
marked taken, and every guest made for it doomed.

Two callers: each launcher's driver before it claims launches (so an attended launch
is never taken over), and :meth:`virtprov.pool.Pool.sweep`, which has no threads of its
own and so destroys the abandoned guests at once (``virtprov sweep`` after a killed
``tmt run`` leaves nothing behind), with every other guest no running launcher is
destroying (:func:`finish_destroys`).
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Mapping

import attrs
import sqlalchemy as sa

from virtprov.errors import GuestNotFound, JournalError
from virtprov.pool.events import EventBus
from virtprov.pool.journal import GuestRow, Journal, destroys_for, pid_alive
from virtprov.pool.schema import guests, launch_is_live, launchers, launches, outcome_waits
from virtprov.pool.sweeper import failed
from virtprov.provider import Provider

log = logging.getLogger("virtprov.pool")


@attrs.frozen
class Abandoned:
    """One launch given up because its attended submitter died."""

    recipe_id: str
    submitted_by: str
    #: the journal's guest rows doomed for it
    guest_rows: tuple[int, ...]


def abandon_orphaned(
    journal: Journal, events: EventBus, now: float | None = None
) -> list[Abandoned]:
    """Decide every attended launch whose submitter is dead; doom its guests.

    Dead: the submitter's lease has run out, it never registered as a launcher, or it
    ran on this host and its process is gone (a killed ``tmt run`` is seen at once, not a
    lease later). A launch already decided and taken is none of this module's business.
    """
    now = time.time() if now is None else now
    host = socket.gethostname()
    with journal._read() as conn:
        leases = conn.execute(
            sa.select(launchers.c.name, launchers.c.host, launchers.c.pid).where(
                launchers.c.lease_until > now
            )
        ).all()
    alive = [name for name, on, pid in leases if on != host or pid_alive(pid)]
    # Live rows only, one query per partial index (a planner uses one for each, not for
    # an OR of both): never a scan of history.
    pending = [
        sa.select(launches.c.recipe_id, launches.c.request, launches.c.submitted_by).where(
            live,
            launches.c.submitted_by.not_in(alive),
            # Recipe.to_json writes the flag exactly so (sorted keys); checked again below
            launches.c.request.contains('"attended": true'),
        )
        for live in (launch_is_live, outcome_waits)
    ]
    # The journal's own transactions, used on purpose: a read first (the usual case:
    # nothing to do, no write), then one write in which no launcher can claim these rows.
    with journal._read() as conn:
        if not any(conn.execute(query.limit(1)).first() for query in pending):
            return []
    abandoned: list[Abandoned] = []
    with journal._write() as conn:
        found = [row for query in pending for row in conn.execute(query).all()]
        for recipe_id, request, submitted_by in found:
            if not json.loads(request).get("attended"):
                continue  # a scheduler's launch: it comes back for the outcome
            reason = f"abandoned: {submitted_by}, which waited for this launch, is gone"
            outcome: dict[str, object] = {
                "reasons": [],
                "guest": None,
                "provider": None,
                "flavor_id": None,
                "error": f"LaunchAbandoned: {reason}",
            }
            conn.execute(
                sa.update(launches)
                .where(launches.c.recipe_id == recipe_id)
                .values(
                    state="decided",
                    status="failed",
                    outcome=json.dumps(outcome, sort_keys=True),
                    decided_at=now,
                    taken=True,
                    owner=None,  # whichever launcher runs destroys the doomed guests
                    guest_row=None,
                )
            )
            rows = conn.execute(
                sa.select(guests.c.id).where(
                    guests.c.recipe_id == recipe_id, guests.c.state.in_(("creating", "live"))
                )
            ).all()
            doomed = tuple(row.id for row in rows)
            if doomed:
                conn.execute(
                    sa.update(guests)
                    .where(guests.c.id.in_(doomed))
                    .values(state="doomed", reason=reason, next_at=now)
                )
            abandoned.append(Abandoned(recipe_id, submitted_by, doomed))
    for item in abandoned:
        log.warning("launch of recipe %s %s", item.recipe_id, "abandoned: its submitter is gone")
        events.emit(
            "launch.abandoned",
            recipe_id=item.recipe_id,
            submitted_by=item.submitted_by,
            guests=len(item.guest_rows),
        )
    return abandoned


def finish_destroys(
    journal: Journal,
    providers: Mapping[str, Provider],
    events: EventBus,
    timeout: float,
) -> list[str]:
    """Destroy now the guests the journal holds doomed or destroyed that no running
    launcher is destroying (the sweep has no workers): an abandoned launch's, or what a
    pool closed (or killed) before they were confirmed gone left. Waits up to
    ``timeout`` seconds in all until the cloud has deleted them and what they left
    (what the journal recorded too); each is then ``gone``.

    A guest whose create was cut short has no id in the journal: it is found by its name
    among the provider's guests that the journal does not know. Returns the problems
    met (``"<provider>: <what>: <error>"``, as a sweep reports them; whatever the
    provider raised, logged as :func:`~virtprov.pool.sweeper.failed` logs it); a guest
    that could not be destroyed stays as it was, for the next launcher or sweep.
    """
    from virtprov.teardown import destroy_and_wait

    deadline = time.monotonic() + timeout
    rows = journal.guests_in(["doomed", "destroyed"])
    problems: list[str] = []
    for row in destroys_for(journal, rows, None, time.time()):
        ids: list[str] = []
        provider = providers.get(row.provider)
        if provider is None:
            problems.append(f"{row.provider}: not configured, {row.name} left {row.state}")
            log.warning("sweep: %s", problems[-1])
            continue
        try:
            ids = _ids_of(journal, provider, row)
            known = {row.guest_id: row.leftovers} if row.guest_id is not None else {}
            wait = max(0.0, deadline - time.monotonic())
            destroy_and_wait(provider, ids, timeout=wait, known=known)
        except GuestNotFound:
            pass  # gone already
        except (JournalError, sa.exc.SQLAlchemyError):
            raise  # not the provider's: the sweep cannot go on without its journal
        except Exception as exc:  # whatever a provider raises: this guest's problem
            failed(problems, row.provider, f"destroying {row.name}", exc)
            continue
        for guest_id in ids:
            events.emit(
                "guest.destroyed",
                provider=row.provider,
                guest_id=guest_id,
                reason=row.reason or "",
            )
        journal.update_guest(row.id, state="gone", leftovers=None)
    return problems


def _ids_of(journal: Journal, provider: Provider, row: GuestRow) -> list[str]:
    if row.guest_id is not None:
        return [row.guest_id]
    known, _ = journal.holding(row.provider)
    return [
        guest.id
        for guest in provider.list_guests(row.name)
        if guest.name == row.name and guest.id not in known
    ]
