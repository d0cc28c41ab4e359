"""Destroying guests to the end, for a caller that waits (a command, a sweep).

:meth:`Provider.destroy_guest <virtprov.provider.Provider.destroy_guest>` returns as soon
as the cloud accepted the delete, with what can only be deleted once the guest is gone.
The pool's launcher never waits for that: it records the leftovers and lets its batched
polls finish the job. A command that must return only once its guests are gone uses
:func:`destroy_and_wait`: one destroy call per guest, then one batched ``poll`` per round
for all of them (not a wait per guest), deleting what each left as soon as it is gone.
Rounds start soon and back off while nothing changes, as the launcher's polls do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import attrs

from virtprov.errors import GuestNotFound, ProviderError, TransientError
from virtprov.model import OwnedResource
from virtprov.provider import Provider

#: Seconds to the first look after the destroys (then doubling, up to ``interval``).
FIRST_LOOK = 0.25
#: Seconds a command waits by default (``virtprov destroy``, the cleanup of a failed
#: provision) until the cloud has deleted its guests and what was made for them.
DEFAULT_TIMEOUT = 300.0


@attrs.frozen
class Progress:
    """Where a :func:`destroy_and_wait` stands after one round."""

    #: guests confirmed gone, what they left deleted
    gone: tuple[str, ...]
    #: guests the cloud still has
    deleting: tuple[str, ...]
    #: guests gone whose leftovers could not all be deleted yet, with why
    blocked: tuple[tuple[str, str], ...]
    seconds: float


def destroy_and_wait(
    provider: Provider,
    guest_ids: Sequence[str],
    *,
    timeout: float,
    interval: float = 2.0,
    progress: Callable[[Progress], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    known: Mapping[str, Sequence[OwnedResource]] | None = None,
) -> None:
    """Destroy ``guest_ids`` on ``provider`` and return once each is gone with everything
    it left.

    A guest the cloud does not know is gone already. ``known``: what an earlier destroy
    of a guest said it left (a journal's record), deleted when this destroy names nothing
    (asked again, it may no longer know). Raises what a destroy call raised, or a
    :class:`~virtprov.errors.TransientError` naming the guests not done within
    ``timeout`` seconds (destroying is idempotent: call it again, or leave the rest to
    ``virtprov sweep``, which finds what they left by its labels).
    """
    started = clock()
    name = provider.info.name
    left: dict[str, list[OwnedResource]] = {}
    for guest_id in dict.fromkeys(guest_ids):
        try:
            left[guest_id] = list(provider.destroy_guest(guest_id) or ())
        except GuestNotFound:
            left[guest_id] = []
        left[guest_id] = left[guest_id] or list((known or {}).get(guest_id, ()))
    deleting = list(left)
    gone: list[str] = []
    blocked: dict[str, str] = {}
    pause = min(FIRST_LOOK, interval)
    while True:
        before = len(deleting), len(gone)
        seen = provider.poll(deleting) if deleting else {}
        deleting = [guest_id for guest_id in deleting if guest_id in seen]
        for guest_id in [g for g in left if g not in deleting and g not in gone]:
            try:
                while left[guest_id]:
                    provider.destroy_resource(left[guest_id][0])
                    del left[guest_id][0]
            except ProviderError as exc:  # tried again next round
                blocked[guest_id] = exc.message
                continue
            blocked.pop(guest_id, None)
            gone.append(guest_id)
        if progress is not None:
            progress(
                Progress(
                    gone=tuple(gone),
                    deleting=tuple(deleting),
                    blocked=tuple(blocked.items()),
                    seconds=clock() - started,
                )
            )
        if not deleting and not blocked:
            return
        if clock() - started >= timeout:
            what = [f"{g} (still in the cloud)" for g in deleting]
            what += [f"{g} (left: {why})" for g, why in blocked.items()]
            raise TransientError(
                f"not destroyed within {timeout:g} s: {', '.join(what)}; destroy them "
                "again, or `virtprov sweep` removes what is left",
                provider=name,
            )
        sleep(pause)
        # soon again after a change, later while nothing changes
        changed = (len(deleting), len(gone)) != before
        pause = min(FIRST_LOOK, interval) if changed else min(2 * pause, interval)


__all__ = ["DEFAULT_TIMEOUT", "Progress", "destroy_and_wait"]
