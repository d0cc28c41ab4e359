"""Power actions that are done already, per driver family.

Two provider objects may poll the same freshly built node (a restarted launcher, the CLI
beside the pool): both see it built and both send the stop. The second one's stop is
not a failure: the node is stopping or stopped, which is what was asked. Services say
so differently:

* **OpenStack**: Nova refuses with 409 "Cannot 'stop' instance <id> while it is in
  vm_state stopped" (or "task_state powering-off" while the first stop runs); the same
  for a start of a node that is active or powering on. While a server has a
  ``task_state`` it is between two states, and no action is sent at all.
* **EC2**: ``StopInstances`` of a stopping or stopped instance (and ``StartInstances``
  of a running one) succeeds: nothing to recognise.
* **other** drivers: nothing is known; a refusal stays a refusal.
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal

from virtprov_libcloud.families import Family

Action = Literal["start", "stop"]

#: Nova's ``InstanceInvalidState``: "Cannot '<action>' instance <id> while it is in
#: <vm_state|task_state> <state>", for the states that mean the action is done or under way.
_NOVA_DONE: Final[dict[str, re.Pattern[str]]] = {
    "stop": re.compile(
        r"Cannot 'stop' instance \S+ while it is in (vm_state stopped|task_state powering-off)"
    ),
    "start": re.compile(
        r"Cannot 'start' instance \S+ while it is in (vm_state active|task_state powering-on)"
    ),
}


def already_done(family: Family, action: Action, exc: BaseException) -> bool:
    """Whether the service refused ``action`` because the node is there already."""
    if family is not Family.OPENSTACK:
        return False
    from virtprov_libcloud.faults import describe

    code = getattr(exc, "code", None) or getattr(exc, "http_code", None)
    return code == 409 and bool(_NOVA_DONE[action].search(describe(exc)))


def in_transition(family: Family, node: Any) -> bool:
    """Whether a node is between two power states (send it nothing until it settles)."""
    if family is Family.OPENSTACK:
        return bool((node.extra or {}).get("task_state"))
    return False
