"""What the tmt plugin asks of virtprov, without tmt: judge, launch, release.

The tmt classes (:mod:`virtprov_tmt.provision`) stay thin; everything that talks to
virtprov is here, so that it reads (and is tested) on its own:

* :meth:`Session.judge` answers, before anything is written or created, whether a
  configured provider has a flavor for the phase's ``hardware:`` (virtprov's own
  evaluator, with its reasons), and which;
* :meth:`Session.launch` submits the guest to the pool (journal first) as an
  *attended* image-boot launch and waits for its outcome: if this process is killed,
  the launch is abandoned and its guest destroyed by the next launcher or
  ``virtprov sweep`` (:mod:`virtprov.pool.abandon`);
* :meth:`Session.release` destroys it through the pool and waits until the cloud
  confirmed.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from virtprov.config import Config, load_config
from virtprov.errors import VirtprovError
from virtprov.model import Flavor, ImageBoot

if TYPE_CHECKING:
    from virtprov.pool import Outcome, Pool
    from virtprov.provider import Provider

#: Seconds between looks at the journal while waiting (the pool's threads do the work).
WAIT_TICK = 0.2


class SessionError(Exception):
    """Something the user must fix or know, in one line (tmt shows it as the error)."""


@attrs.frozen
class Verdict:
    """What virtprov's evaluator said of one provider."""

    provider: str
    flavor: Flavor | None
    reasons: tuple[str, ...]


@attrs.frozen
class Judgement:
    """The hardware judged on every provider the phase may use."""

    verdicts: tuple[Verdict, ...]
    warnings: tuple[str, ...] = ()

    @property
    def usable(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.flavor is not None)

    def refusal(self) -> str:
        """Why no provider can take the phase: every provider's reasons, one line each."""
        lines = [
            f"{v.provider}: {reason}"
            for v in self.verdicts
            for reason in v.reasons or ("no flavor",)
        ]
        return "no configured provider can meet the hardware requirements:\n  " + "\n  ".join(lines)


def recipe_id_for(run: str, plan: str, phase: str) -> str:
    """A launch id unique to this host, run, plan and phase, and the same when resumed."""
    digest = hashlib.sha256("\0".join((socket.gethostname(), run, plan, phase)).encode())
    return f"tmt-{digest.hexdigest()[:20]}"


class Session:
    """virtprov for one provision phase of one tmt run. Close it (or use ``with``)."""

    def __init__(
        self,
        *,
        config: str | None = None,
        provider: str | None = None,
        build: Callable[[Config], Mapping[str, Provider]] | None = None,
    ) -> None:
        try:
            self.config = load_config(config)
        except VirtprovError as exc:
            raise SessionError(f"virtprov configuration: {exc}") from None
        names = list(self.config.providers)
        if provider is not None and provider not in names:
            where = self.config.path or "the embedded default"
            raise SessionError(
                f"provider {provider!r} is not configured in {where} "
                f"(configured: {', '.join(names) or 'none'})"
            )
        if provider is None and len(names) > 1:
            raise SessionError(
                f"{self.config.path} configures several providers ({', '.join(names)}): "
                "name one with the provision key 'provider'"
            )
        self.provider_name = provider or names[0]
        self._build = build
        self._providers: dict[str, Provider] | None = None
        self._pool: Pool | None = None

    # -- providers ----------------------------------------------------------------------

    @property
    def providers(self) -> dict[str, Provider]:
        """The one provider this phase uses, built from its table (offline, cheap)."""
        if self._providers is None:
            from virtprov.plugins import build_provider

            chosen = self.config.providers[self.provider_name]
            try:
                if self._build is not None:
                    built = dict(self._build(self.config))
                    self._providers = {self.provider_name: built[self.provider_name]}
                else:
                    self._providers = {self.provider_name: build_provider(chosen)}
            except VirtprovError as exc:
                raise SessionError(f"provider {self.provider_name}: {exc}") from None
        return self._providers

    # -- before any cloud call that makes something --------------------------------------

    def judge(self, hardware: Mapping[str, Any] | str | None) -> Judgement:
        """Which flavor of the provider meets ``hardware``, or every reason why none does.

        Only the flavor list is read from the cloud, and only when the requirements could
        be met at all; nothing is written or created.
        """
        from virtprov.errors import HostRequiresError
        from virtprov.hostrequires import Target, prepare
        from virtprov.hostrequires.tmt import parse_tmt

        warnings: list[str] = []
        try:
            hr = parse_tmt(hardware or {})
        except HostRequiresError as exc:
            raise SessionError(f"hardware: {exc}") from None
        warnings.extend(getattr(hr, "warnings", ()) or ())
        verdicts = []
        for name, provider in self.providers.items():
            # as the pool does: what no VM of this provider can meet is refused before any
            # call; only a requirement a flavor may declare (CPU flags, TPM...) needs them
            static = hr.virtualisable(Target.from_info(provider.info))
            if not static and not hr.declared:
                verdicts.append(Verdict(name, None, tuple(static.reasons)))
                continue
            try:
                flavors = provider.declared_flavors()
            except VirtprovError as exc:
                verdicts.append(Verdict(name, None, (f"cannot list flavors: {exc}",)))
                continue
            target = Target.from_info(provider.info, flavors)
            verdict = hr.virtualisable(target)
            if not verdict:
                verdicts.append(Verdict(name, None, tuple(verdict.reasons)))
                continue
            match = hr.match(prepare(flavors, target, defaults=self.config.defaults))
            verdicts.append(Verdict(name, match.chosen, tuple(match.reasons)))
        return Judgement(tuple(verdicts), tuple(warnings))

    # -- the launch ---------------------------------------------------------------------

    @property
    def pool(self) -> Pool:
        """The pool, with a launcher of this process's own (its lease is this run's life)."""
        if self._pool is None:
            from virtprov.pool import Pool, PoolSettings

            settings = PoolSettings.from_options(self.config.pool)
            launcher = f"tmt-{socket.gethostname()}-{os.getpid()}"
            settings = attrs.evolve(settings, launcher=launcher[:200])
            try:
                self._pool = Pool(self.providers, settings=settings, defaults=self.config.defaults)
            except VirtprovError as exc:
                raise SessionError(f"virtprov pool: {exc}") from None
        return self._pool

    def launch(
        self,
        recipe_id: str,
        *,
        boot: ImageBoot,
        hardware: Mapping[str, Any] | str | None,
        timeout: float,
        on_wait: Callable[[float], None] | None = None,
    ) -> Outcome:
        """Submit the guest (journal first) and wait for its outcome; the outcome taken.

        Raises :class:`SessionError` when the launch did not succeed, with the pool's
        reasons; the pool has then already destroyed whatever it made.
        """
        from virtprov.pool import Recipe, Status

        recipe = Recipe(
            recipe_id,
            hardware=dict(hardware) if isinstance(hardware, Mapping) else hardware,
            boot=boot,
            owner=_owner(),
            attended=True,
        )
        pool = self.pool
        handle = pool.submit(recipe)
        started = time.monotonic()
        deadline = started + timeout
        outcome = None
        while outcome is None:
            outcome = handle.wait(WAIT_TICK)
            if outcome is None:
                if on_wait is not None:
                    on_wait(time.monotonic() - started)
                if time.monotonic() > deadline:
                    raise SessionError(
                        f"the guest was not running with an address within {timeout:g} s "
                        "(provision-timeout); it is destroyed when this run ends or by "
                        "virtprov sweep"
                    )
        pool.poll()  # take the outcome: the journal now knows this run has the guest
        if outcome.status is not Status.SUCCEEDED:
            why = outcome.error or "; ".join(outcome.reasons) or outcome.status.value
            raise SessionError(
                f"virtprov could not provide the guest ({outcome.status.value}): {why}"
            )
        return outcome

    def release(self, provider: str, guest_id: str, timeout: float) -> bool:
        """Destroy the guest through the pool; ``True`` once the cloud confirmed.

        A guest the journal does not know (released already, a journal elsewhere) is
        destroyed directly through its provider: releasing is idempotent.
        """
        from virtprov.teardown import destroy_and_wait

        pool = self.pool
        row = pool.journal.guest_by_id(provider, guest_id)
        if row is None:
            try:
                destroy_and_wait(self.providers[self.provider_name], [guest_id], timeout=timeout)
            except VirtprovError as exc:
                raise SessionError(f"destroying {guest_id}: {exc}") from None
            return True
        try:
            pool.release(row.guest_id or guest_id)
        except VirtprovError as exc:
            raise SessionError(f"releasing {guest_id}: {exc}") from None
        deadline = time.monotonic() + timeout
        while pool.journal.guest(row.id).state not in ("destroyed", "gone"):
            if time.monotonic() > deadline:
                return False
            time.sleep(WAIT_TICK)
        return True

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._providers is not None:
            for provider in self._providers.values():
                provider.close()
            self._providers = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _owner() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container)
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"
