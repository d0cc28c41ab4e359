"""The engine's searches, for the forms the provider sends: ``field=value`` joined by ``and``
and ``or`` (``and`` binds first), over VMs, disks and templates.

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
* ``searchbackend/.../DiskConditionFieldAutoCompleter.java``: a disk's ``alias`` (and its
  synonym ``name``) is a string (column ``disk_alias``), ``number_of_vms`` an integer
  (``Integer.class``: a value that is not one is invalid), ``id`` a UUID.
* ``searchbackend/.../VmTemplateConditionFieldAutoCompleter.java``: a template's ``name``
  and ``datacenter`` (the name of its data center, column ``storage_pool_name``) are
  strings.
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
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
#: What an object offers a search: its fields (API spelling for a VM's status).
Record = Mapping[str, str | None]
Condition = Callable[[Record], bool]


class InvalidSearch(ValueError):
    """The engine's search would not parse this: it answers an empty list."""


def compile_search(search: str) -> Condition:
    """A predicate for a VM ``search``; :class:`InvalidSearch` where the engine's fails.

    Raises ``NotImplementedError`` for a field the imitation does not know, so that a
    provider change that searches something new is noticed instead of imitated wrongly.
    """
    return _compile(search, _vm_condition)


def compile_disk_search(search: str) -> Condition:
    """A predicate for a disk ``search`` (records: ``id``, ``alias``, ``number_of_vms``)."""
    return _compile(search, _disk_condition)


def compile_template_search(search: str) -> Condition:
    """A predicate for a template ``search`` (records: ``name``, ``datacenter``)."""
    return _compile(search, _template_condition)


def _compile(search: str, condition: Callable[[str, str], Condition]) -> Condition:
    if not search.strip():
        return lambda record: True
    alternatives: list[list[Condition]] = []
    for alternative in _OR.split(search.strip()):
        conjunction = []
        for clause in _AND.split(alternative):
            field, equals, value = clause.partition("=")
            field, value = field.strip().lower(), value.strip()
            if not equals or not value:
                raise InvalidSearch(f"not field=value: {clause!r}")
            conjunction.append(condition(field, value))
        alternatives.append(conjunction)
    return lambda record: any(all(c(record) for c in both) for both in alternatives)


def _vm_condition(field: str, value: str) -> Condition:
    if field == "status":
        wanted = VM_STATUSES.get(value.lower())
        if wanted is None:
            raise InvalidSearch(f"{value!r} is not a VMStatus name")
        return lambda record: record.get("status") == wanted
    if field == "id":
        return _uuid("id", value)
    if field == "name":
        return _like("name", value)
    raise NotImplementedError(f"the imitation does not search VMs by {field!r}")


def _disk_condition(field: str, value: str) -> Condition:
    if field in ("alias", "name"):  # both the column disk_alias
        return _like("alias", value)
    if field == "number_of_vms":
        try:
            count = int(value)
        except ValueError:
            raise InvalidSearch(f"{value!r} is not an integer") from None
        return lambda record: record.get("number_of_vms") == str(count)
    if field == "id":
        return _uuid("id", value)
    raise NotImplementedError(f"the imitation does not search disks by {field!r}")


def _template_condition(field: str, value: str) -> Condition:
    if field in ("name", "datacenter"):
        return _like(field, value)
    raise NotImplementedError(f"the imitation does not search templates by {field!r}")


def _uuid(key: str, value: str) -> Condition:
    try:
        wanted = str(uuid.UUID(value))
    except ValueError:
        raise InvalidSearch(f"{value!r} is not a UUID") from None
    return lambda record: record.get(key) == wanted


def _like(key: str, value: str) -> Condition:
    like = re.compile(".*".join(re.escape(part) for part in value.split("*")))
    return lambda record: like.fullmatch(record.get(key) or "") is not None
