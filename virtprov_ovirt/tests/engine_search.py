"""The engine's VM search, for the forms the provider sends: ``field=value`` joined by ``or``.

Follows oVirt/ovirt-engine at commit ``0111fc63036bca662aa6275a8ad16282cccf86bf``, under
``backend/manager/modules/``:

* ``searchbackend/.../VmConditionFieldAutoCompleter.java``: ``status`` takes the names of
  the ``VMStatus`` enum through an ``EnumValueAutoCompleter``, i.e. the Java constant
  names in any case (``imagelocked``, ``poweringup``), not the API's spelling
  (``image_locked``); ``id`` is a UUID, ``name`` a string.
* ``searchbackend/.../SyntaxChecker.java``: a value the field's value auto-completer does
  not know is a syntax error (``INVALID_CONDITION_VALUE``).
* ``bll/.../SearchQuery.java``: a search with a syntax error logs a warning and builds no
  query, and ``searchVmsFromDb`` answers an empty list: the request *succeeds* with
  ``<vms/>``. No fault tells the caller that the search was wrong.
* A string compares with SQL ``LIKE``, ``*`` being the wildcard, case-sensitively (the
  REST layer's ``case_sensitive`` defaults to true).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping

#: common/.../businessentities/VMStatus.java: the enum's constants, as the search knows
#: them, and the API spelling VmMapper.mapVmStatus gives each.
VM_STATUSES: Mapping[str, str] = {
    "unassigned": "unassigned",
    "down": "down",
    "up": "up",
    "poweringup": "powering_up",
    "paused": "paused",
    "migratingfrom": "migrating",
    "migratingto": "migrating",
    "unknown": "unknown",
    "notresponding": "not_responding",
    "waitforlaunch": "wait_for_launch",
    "rebootinprogress": "reboot_in_progress",
    "savingstate": "saving_state",
    "restoringstate": "restoring_state",
    "suspended": "suspended",
    "imageillegal": "image_illegal",
    "imagelocked": "image_locked",
    "poweringdown": "powering_down",
}
_OR = re.compile(r"\s+or\s+", re.IGNORECASE)
#: What a VM must offer for a search: its id, name and status (API spelling).
Record = Mapping[str, str | None]


class InvalidSearch(ValueError):
    """The engine's search would not parse this: it answers an empty list."""


def compile_search(search: str) -> Callable[[Record], bool]:
    """A predicate for ``search``; :class:`InvalidSearch` where the engine's search fails.

    Raises ``NotImplementedError`` for a field the imitation does not know, so that a
    provider change that searches something new is noticed instead of imitated wrongly.
    """
    if not search.strip():
        return lambda record: True
    clauses = []
    for clause in _OR.split(search.strip()):
        field, equals, value = clause.partition("=")
        field, value = field.strip().lower(), value.strip()
        if not equals or not value:
            raise InvalidSearch(f"not field=value: {clause!r}")
        clauses.append(_condition(field, value))
    return lambda record: any(condition(record) for condition in clauses)


def _condition(field: str, value: str) -> Callable[[Record], bool]:
    if field == "status":
        wanted = VM_STATUSES.get(value.lower())
        if wanted is None:
            raise InvalidSearch(f"{value!r} is not a VMStatus name")
        return lambda record: record.get("status") == wanted
    if field == "id":
        try:
            wanted_id = str(uuid.UUID(value))
        except ValueError:
            raise InvalidSearch(f"{value!r} is not a UUID") from None
        return lambda record: record.get("id") == wanted_id
    if field == "name":
        like = re.compile(".*".join(re.escape(part) for part in value.split("*")))
        return lambda record: like.fullmatch(record.get("name") or "") is not None
    raise NotImplementedError(f"the imitation does not search VMs by {field!r}")
