"""The CLI journal: ``virtprov provision`` writes its intent before it creates.

``virtprov provision`` makes one guest by hand in one process. Killed (SIGKILL, a closed
terminal, a reboot) between the create and its end, it would leave a guest that nothing
records; its pool label ``cli`` keeps every pool's sweeper away from it, and sweeping by
that label would also delete the CLI guests still in use. So, as the pool does, the CLI
writes before each cloud call whose answer could be lost, in a journal of its own: an
SQLite file in the state directory (``$XDG_STATE_HOME/virtprov/cli-journal.sqlite``),
with the pool journal's schema and migrations. Not the configured ``[pool] journal``:
that one belongs to the schedulers (its launchers claim every undecided launch in it,
and a shared PostgreSQL may not even be reachable from where an operator types).

What it holds, in the pool journal's tables:

* ``launchers``: the process (``cli-<host>-<pid>``), with a lease renewed while it polls;
* ``launches``: one row per provision (recipe id ``cli-<run>``): ``creating`` until the
  guest is ready (and started), then decided ``succeeded`` (the guest is in use) or
  ``failed`` (the guest was destroyed again);
* ``guests``: written before ``create_guest`` (state ``creating``, the guest's name), its
  id right after (``live``), ``gone`` once destroyed, with the reason.

Every guest carries the label ``virtprov-cli-run = <run>``, so that a guest whose id was
never written is found by its name *and* its run, never mistaken for another guest of
the same name. A provision whose launch is undecided and whose process is gone (on this
host: its pid no longer runs; elsewhere: its lease ran out) was killed:
:meth:`CliJournal.finish_killed` destroys its guest and records it. ``virtprov sweep``,
``provision`` and ``destroy`` call it first.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any, Final

import attrs
import sqlalchemy as sa

from virtprov.errors import ConfigError, JournalError, ProviderError
from virtprov.model import LABEL_POOL, Flavor, Guest, GuestSpec
from virtprov.pool.closing import Closing
from virtprov.pool.journal import UNDECIDED, GuestRow, Journal, LaunchRow, pid_alive
from virtprov.pool.schema import launchers, launches
from virtprov.provider import Provider
from virtprov.teardown import DEFAULT_TIMEOUT, destroy_and_wait

#: Guests made by hand from the command line carry this pool label.
CLI_POOL: Final = "cli"
#: The label naming the ``virtprov provision`` run that made a guest.
LABEL_RUN: Final = "virtprov-cli-run"
#: The recipe ids of CLI provisions in the CLI journal start with this.
RUN_PREFIX: Final = "cli-"
#: Seconds a provision's lease outlives its last renewal (it renews at every poll).
LEASE: Final = 120.0


def cli_journal_url() -> str:
    """``sqlite:///$XDG_STATE_HOME/virtprov/cli-journal.sqlite``."""
    from virtprov.config import default_state_dir

    return f"sqlite:///{default_state_dir() / 'cli-journal.sqlite'}"


@attrs.frozen
class Run:
    """One provision in progress: its launch and guest rows."""

    launch: str
    token: str
    guest_row: int
    name: str
    provider: str


@attrs.frozen
class Finished:
    """A killed provision :meth:`CliJournal.finish_killed` dealt with."""

    provider: str
    name: str
    guest_id: str | None
    #: What happened: the guest was destroyed, it never existed, or why it is left.
    result: str
    done: bool


class CliJournal(Closing):
    """The CLI's record of its provisions (see the module docstring)."""

    def __init__(self, url: str | None = None) -> None:
        url = url or cli_journal_url()
        try:
            # At the current schema (the usual case) there is nothing to migrate, and
            # not loading Alembic keeps every provision a little faster.
            self.journal = Journal(url, upgrade=False)
        except JournalError:
            self.journal = Journal(url, upgrade=True)
        self.host = socket.gethostname()
        self.launcher = f"cli-{self.host}-{os.getpid()}"
        self._registered = False

    def close(self) -> None:
        self.journal.close()

    # -- one provision ----------------------------------------------------------------

    def spec(self, recipe_id: str, flavor: Flavor, prefix: str) -> tuple[GuestSpec, str]:
        """The guest to make, labelled with a new run token; ``(spec, token)``."""
        token = uuid.uuid4().hex[:16]
        spec = GuestSpec.for_recipe(
            recipe_id, flavor, pool=CLI_POOL, prefix=prefix, extra_labels={LABEL_RUN: token}
        )
        return spec, token

    def begin(self, provider: str, spec: GuestSpec, token: str, deadline: float) -> Run:
        """Write the intent to create ``spec`` on ``provider``: call before ``create_guest``."""
        now = time.time()
        if not self._registered:
            self.journal.register_launcher(self.launcher, LEASE, now)
            self._registered = True
        launch = RUN_PREFIX + token
        request = {"cli": {"provider": provider, "name": spec.name, "run": token}}
        with self.journal.engine.begin() as conn:
            # Owned from the start, so no other CLI process's recovery may claim it.
            conn.execute(
                sa.insert(launches).values(
                    recipe_id=launch,
                    request=json.dumps(request, sort_keys=True),
                    state="queued",
                    submitted_by=self.launcher,
                    owner=self.launcher,
                    passed="[]",
                    attempts=0,
                    submitted_at=now,
                    deadline=deadline,
                    next_at=now,
                    taken=False,
                )
            )
        row = self.journal.begin_create(
            recipe_id=launch,
            launcher=self.launcher,
            provider=provider,
            flavor=spec.flavor,
            name=spec.name,
            now=now,
        )
        if row is None:  # never: the CLI journal holds no capacity snapshot to refuse it
            raise JournalError(f"the CLI journal {self.journal.safe_url} refused {spec.name}")
        return Run(launch, token, row, spec.name, provider)

    def created(self, run: Run, guest_id: str) -> None:
        self.journal.update_guest(run.guest_row, guest_id=guest_id, state="live")
        self.journal.update_launch(run.launch, self.launcher, state="building")

    def alive(self) -> None:
        """Renew this process's lease (called at every poll)."""
        self.journal.heartbeat(self.launcher, LEASE)

    def succeeded(self, run: Run, guest: Guest) -> None:
        """The guest is ready for its user: in use until ``virtprov destroy``."""
        self._decide(run, "succeeded", {"guest_id": guest.id, "state": guest.state.value})

    def gone(self, run: Run, reason: str) -> None:
        """The guest was destroyed again (or never made)."""
        self.journal.update_guest(run.guest_row, state="gone", reason=reason)
        self._decide(run, "failed", {"error": reason})

    def _decide(self, run: Run, status: str, outcome: dict[str, Any]) -> None:
        self.journal.decide(run.launch, self.launcher, status, outcome)
        self.journal.take_outcomes(self.launcher)

    # -- guests destroyed by hand -----------------------------------------------------

    def destroying(self, provider: str, guest_id: str) -> None:
        """``virtprov destroy`` is about to destroy a guest: if the CLI made it, say so first.

        A destroy that dies half-way (the guest deleted, its network not) leaves the row
        ``doomed``; :meth:`reconcile` finishes it and the sweep takes what is left.
        """
        row = self.journal.guest_by_id(provider, guest_id)
        if row is not None and row.state == "live":
            self.journal.update_guest(row.id, state="doomed", reason="virtprov destroy")

    def destroyed(self, provider: str, guest_id: str, reason: str) -> None:
        """Record that a guest the CLI made is gone."""
        row = self.journal.guest_by_id(provider, guest_id)
        if row is not None and row.state != "gone":
            self.journal.update_guest(row.id, state="gone", reason=reason)

    def reconcile(self, provider_for: Callable[[str], Provider], by: str) -> list[str]:
        """Bring the rows of finished provisions up to date with the clouds; the errors.

        A guest in use that the cloud no longer has (destroyed some other way) is
        recorded gone; one whose ``virtprov destroy`` died is destroyed again. Either
        way its name stops protecting what was made for it from the sweep.
        """
        errors = []
        rows: dict[str, list[GuestRow]] = {}
        for row in self.journal.guests_in(["live", "doomed"]):
            launch = self.journal.launch(row.recipe_id)
            if row.guest_id and launch is not None and launch.state == "decided":
                rows.setdefault(row.provider, []).append(row)
        for name, held in rows.items():
            try:
                provider = provider_for(name)
                found = provider.poll([row.guest_id for row in held if row.guest_id])
                for row in held:
                    assert row.guest_id is not None
                    if row.state == "live" and row.guest_id in found:
                        continue  # in use
                    if row.guest_id in found:
                        destroy_and_wait(provider, [row.guest_id], timeout=DEFAULT_TIMEOUT)
                        reason = f"its destroy failed; destroyed again by virtprov {by}"
                    elif row.state == "doomed":
                        reason = f"its destroy died after the guest went (seen by virtprov {by})"
                    else:
                        reason = f"no longer in the cloud (seen by virtprov {by})"
                    self.journal.update_guest(row.id, state="gone", reason=reason)
            except ConfigError as exc:
                errors.append(f"{name}: CLI guests left as they are: {exc.message}")
            except Exception as exc:
                errors.append(f"{name}: checking the CLI's guests: {_message(exc)}")
        return errors

    # -- recovery ---------------------------------------------------------------------

    def finish_killed(
        self, provider_for: Callable[[str], Provider], by: str, *, dry_run: bool = False
    ) -> list[Finished]:
        """Destroy the guests of provisions whose process died, and record it.

        ``provider_for(name)`` builds a configured provider; ``by`` names the command
        (for the record). A guest that cannot be destroyed now (the cloud fails, its
        provider is no longer configured) stays recorded for the next call. ``dry_run``:
        say which provisions were killed, change nothing.
        """
        now = time.time()
        if dry_run:
            return [
                Finished(row.provider, row.name, row.guest_id, "would be destroyed", False)
                for row in self._killed(now)
            ]
        self._retire_dead(now)
        finished = []
        if not self._registered:
            self.journal.register_launcher(self.launcher, LEASE, now)
            self._registered = True
        for launch in self.journal.claim(self.launcher, now):
            if not launch.recipe_id.startswith(RUN_PREFIX):
                continue
            if launch.guest_row is None:  # killed before it wrote its intent: nothing made
                self.journal.decide(
                    launch.recipe_id, self.launcher, "failed", {"error": f"killed; seen by {by}"}
                )
                continue
            finished.append(self._finish(launch, provider_for, by))
        return finished

    def _dead(self, now: float) -> tuple[set[str], set[str]]:
        """(processes of this host that no longer run, processes whose lease ran out)."""
        with self.journal.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    launchers.c.name, launchers.c.host, launchers.c.pid, launchers.c.lease_until
                )
            ).all()
        here = {
            name
            for name, host, pid, until in rows
            if until > now and host == self.host and name != self.launcher and not pid_alive(pid)
        }
        return here, {name for name, _, _, until in rows if until <= now}

    def _retire_dead(self, now: float) -> None:
        """Expire the lease of every CLI process of this host that no longer runs."""
        for name in self._dead(now)[0]:
            self.journal.retire_launcher(name)

    def _killed(self, now: float) -> list[GuestRow]:
        """The guest rows of the provisions a kill interrupted (read only)."""
        gone_here, expired = self._dead(now)
        with self.journal.engine.connect() as conn:
            rows = conn.execute(
                sa.select(launches.c.guest_row).where(
                    launches.c.state.in_(UNDECIDED),
                    launches.c.recipe_id.startswith(RUN_PREFIX),
                    launches.c.owner.in_(gone_here | expired),
                    launches.c.guest_row.is_not(None),
                )
            ).all()
        return [self.journal.guest(row) for (row,) in rows]

    def _finish(
        self, launch: LaunchRow, provider_for: Callable[[str], Provider], by: str
    ) -> Finished:
        assert launch.guest_row is not None
        row = self.journal.guest(launch.guest_row)
        run = Run(
            launch.recipe_id, launch.recipe_id[len(RUN_PREFIX) :], row.id, row.name, row.provider
        )
        try:
            provider = provider_for(row.provider)
        except ConfigError as exc:
            return Finished(row.provider, row.name, row.guest_id, f"left: {exc.message}", False)
        try:
            ids = [row.guest_id] if row.guest_id else self.find(provider, run)
            destroy_and_wait(provider, ids, timeout=DEFAULT_TIMEOUT)  # gone already: fine
        except Exception as exc:  # the cloud or its SDK failed: keep it for the next call
            return Finished(row.provider, row.name, row.guest_id, f"left: {_message(exc)}", False)
        reason = f"provision killed; destroyed by virtprov {by}"
        if not ids:
            reason = f"provision killed before its guest was made; seen by virtprov {by}"
        self.gone(run, reason)
        result = "destroyed" if ids else "never made"
        return Finished(row.provider, row.name, ids[0] if ids else None, result, True)

    @staticmethod
    def find(provider: Provider, run: Run) -> list[str]:
        """Guests of this run made by a create whose answer was never written."""
        return [
            guest.id
            for guest in provider.list_guests(run.name)
            if guest.name == run.name
            and guest.labels.get(LABEL_POOL) == CLI_POOL
            and guest.labels.get(LABEL_RUN) == run.token
        ]

    def undecided(self) -> int:
        """Provisions still in progress (or killed and not yet finished)."""
        with self.journal.engine.connect() as conn:
            count = conn.execute(
                sa.select(sa.func.count()).where(
                    launches.c.state.in_(UNDECIDED), launches.c.recipe_id.startswith(RUN_PREFIX)
                )
            ).scalar()
        return int(count or 0)


def _message(exc: BaseException) -> str:
    if isinstance(exc, ProviderError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"
