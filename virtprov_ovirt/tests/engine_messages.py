"""The engine's refusals as its REST API writes them: catalogue text, HTTP status, XML.

Everything here follows oVirt/ovirt-engine at commit
``0111fc63036bca662aa6275a8ad16282cccf86bf`` (paths below are in that repository):

* A command that refuses returns message keys and ``$name value`` variables; the
  variables of the action and the type come from the catalogue too (``VAR__ACTION__RUN``
  is ``$action run``, ``VAR__TYPE__VM`` is ``$type VM``). The REST layer translates the
  keys with the catalogue ``AppErrors.properties`` (vendored in ``data/ovirt-engine/``),
  sets the variables into the other messages and writes the list as ``[first, second]``
  (``backend/manager/modules/utils/.../ErrorTranslatorImpl.java`` ``resolveMessages``,
  ``backend/manager/modules/restapi/jaxrs/.../BaseBackendResource.java`` ``localize``).
* The fault's reason is ``Operation Failed`` (``restapi/jaxrs/.../Messages.properties``
  ``BACKEND_FAILED``), its detail that list (``BaseBackendResource.handleError``).
* The HTTP status comes from the keys' ``ErrorType`` (``backend/manager/modules/common/
  .../errors/EngineMessage.java``) through ``restapi/jaxrs/.../util/ErrorMessageHelper.java``
  ``getErrorStatus(List)``: 400 if any message is of a 400 type or none has a type,
  else 409, else 500, else 403.
* A refused *action* (``POST /vms/{id}/start``) answers the request's ``<action>`` with
  the ``<fault>`` and ``<status>failed</status>`` in it, with the same status
  (``AbstractBackendActionableResource.handleError`` / ``actionFailure``); a refused
  create or remove answers the ``<fault>`` alone (``BaseBackendResource.handleError``).
"""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import javaproperties

CATALOGUE = Path(__file__).parent / "data" / "ovirt-engine" / "AppErrors.properties"
REASON = "Operation Failed"

#: The ``ErrorType`` of each message key the imitation uses, from EngineMessage.java
#: (line numbers at the commit above). A key without a type (None) counts for nothing.
ERROR_TYPES: dict[str, str | None] = {
    "ACTION_TYPE_FAILED_NAME_ALREADY_USED": "CONFLICT",  # line 189
    "ACTION_TYPE_FAILED_DISKS_LOCKED": "CONFLICT",  # line 197
    "ACTION_TYPE_FAILED_VM_IS_LOCKED": "CONFLICT",  # line 211
    "ACTION_TYPE_FAILED_VM_IS_RUNNING": "CONFLICT",  # line 225
    "ACTION_TYPE_FAILED_VM_IS_NOT_RUNNING": "CONFLICT",  # line 228
    "ACTION_TYPE_FAILED_VM_NOT_FOUND": "BAD_PARAMETERS",  # line 235
    "ACTION_TYPE_FAILED_DISK_SPACE_LOW_ON_STORAGE_DOMAIN": "CONFLICT",  # line 288
    "ACTION_TYPE_FAILED_VDS_VM_MEMORY": "CONFLICT",  # line 316
    "MAC_POOL_NOT_ENOUGH_MAC_ADDRESSES": "CONFLICT",  # line 549
    "USER_NOT_AUTHORIZED_TO_PERFORM_ACTION": "NO_PERMISSION",  # line 657
    "ACTION_TYPE_FAILED_STORAGE_DOMAIN_STATUS_ILLEGAL": "CONFLICT",  # line 933
    "ACTION_TYPE_FAILED_STORAGE_DOMAIN_STATUS_ILLEGAL2": "CONFLICT",  # line 934
    "ACTION_TYPE_FAILED_OBJECT_LOCKED": "CONFLICT",  # line 1048
    "ACTION_TYPE_FAILED_QUOTA_STORAGE_LIMIT_EXCEEDED": "CONFLICT",  # line 1256
    "ACTION_TYPE_FAILED_QUOTA_CLUSTER_LIMIT_EXCEEDED": "CONFLICT",  # line 1257
    "SCHEDULING_NO_HOSTS": None,  # line 1587
    "SCHEDULING_HOST_FILTERED_REASON_WITH_DETAIL": None,  # line 1589
    "SCHEDULING_ALL_HOSTS_FILTERED_OUT": "CONFLICT",  # line 1590
}
#: ErrorMessageHelper.getStatus: each ErrorType's HTTP status.
_STATUS_OF_TYPE = {
    "BAD_PARAMETERS": 400,
    "CONFLICT": 409,
    "CONSTRAINT_VIOLATION": 400,
    "DATA_CORRUPTION": 500,
    "INTERNAL_ERROR": 500,
    "NO_AUTHENTICATION": 401,
    "NO_PERMISSION": 403,
    "NOT_SUPPORTED": 400,
    "INCOMPATIBLE_VERSION": 400,
    "ATTESTATION_SERVER_ERROR": 400,
}
#: ErrorTranslatorImpl: a translated message that defines a variable.
_VARIABLE = re.compile(r"^\$([^{}\s]+) (.*)$", re.DOTALL)
_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


@functools.cache
def catalogue() -> dict[str, str]:
    """The engine's English message catalogue: key -> text."""
    with CATALOGUE.open(encoding="utf-8") as stream:
        return dict(javaproperties.load(stream))


def status_of(keys: list[str]) -> int:
    """ErrorMessageHelper.getErrorStatus(List): the status of a refusal's messages."""
    statuses = set()
    for key in keys:
        if key not in ERROR_TYPES and not key.startswith(("VAR__", "$")):
            raise KeyError(f"{key}: add its ErrorType from EngineMessage.java to ERROR_TYPES")
        kind = ERROR_TYPES.get(key)
        if kind is not None:
            statuses.add(_STATUS_OF_TYPE[kind])
    for status in (400, 409, 500, 403):  # 400 also when no message has a type
        if status in statuses:
            return status
    return 400


def translate(messages: list[str]) -> list[str]:
    """ErrorTranslatorImpl.translateErrorText: keys to texts, variables set into them."""
    texts = [catalogue().get(m, m) for m in messages]
    variables: dict[str, str] = {}
    for text in texts:
        match = _VARIABLE.match(text)
        if match:
            variables.setdefault(match.group(1), match.group(2))

    def resolve(text: str, depth: int = 0) -> str:
        # StrSubstitutor resolves variables inside variables, as in $detailMessage.
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in variables or depth > 5:
                return match.group(0)
            return resolve(variables[name], depth + 1)

        return _PLACEHOLDER.sub(value, text)

    return [resolve(t) for t in texts if not _VARIABLE.match(t)]


@dataclass(frozen=True)
class Refusal:
    """A command's validation failure: its messages (keys and ``$name value`` variables)."""

    messages: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, key: str, action: str, kind: str, *details: str, **variables: str) -> Refusal:
        """``key`` refused while doing ``action`` (``RUN``) to a ``kind`` (``VM``).

        ``details`` are further message keys (a scheduler filter's reason); ``variables``
        the ``$name value`` the messages refer to.
        """
        for message in (key, f"VAR__ACTION__{action}", f"VAR__TYPE__{kind}", *details):
            if message not in catalogue():
                raise KeyError(f"{message} is not in the engine's catalogue")
        return cls(
            [
                f"VAR__ACTION__{action}",
                f"VAR__TYPE__{kind}",
                key,
                *details,
                *(f"${name} {value}" for name, value in variables.items()),
            ]
        )

    @classmethod
    def no_host_with_memory(cls, host: str, available_mb: str) -> Refusal:
        """A start the scheduler refused: its memory filter turned the last host away
        (``SCHEDULING_ALL_HOSTS_FILTERED_OUT``, with the filter's reason)."""
        return cls.of(
            "SCHEDULING_ALL_HOSTS_FILTERED_OUT",
            "RUN",
            "VM",
            "SCHEDULING_HOST_FILTERED_REASON_WITH_DETAIL",
            "VAR__FILTERTYPE__INTERNAL",
            "VAR__DETAIL__NOT_ENOUGH_MEMORY",
            hostName=host,
            filterName="Memory",
            availableMem=available_mb,
        )

    @classmethod
    def storage_domain_in(cls, status: str, action: str, kind: str) -> Refusal:
        """A command refused because its storage domain is in ``status`` (``Maintenance``,
        ``Locked``...): ``ACTION_TYPE_FAILED_STORAGE_DOMAIN_STATUS_ILLEGAL2``."""
        return cls.of(
            "ACTION_TYPE_FAILED_STORAGE_DOMAIN_STATUS_ILLEGAL2", action, kind, status=status
        )

    @property
    def status(self) -> int:
        return status_of(self.messages)

    @property
    def detail(self) -> str:
        return "[" + ", ".join(translate(self.messages)) + "]"

    def fault(self) -> ET.Element:
        fault = ET.Element("fault")
        ET.SubElement(fault, "detail").text = self.detail
        ET.SubElement(fault, "reason").text = REASON
        return fault

    def fault_xml(self) -> str:
        return document(self.fault())

    def action_xml(self, request: bytes) -> str:
        """The refused action's answer: the request's ``<action>`` with the fault in it."""
        action = ET.fromstring(request) if request.strip() else ET.Element("action")
        action.insert(0, self.fault())
        ET.SubElement(action, "status").text = "failed"
        return document(action)


def document(element: ET.Element) -> str:
    """An XML answer as the engine writes it (declaration, four-space indentation)."""
    ET.indent(element, space="    ")
    body = ET.tostring(element, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n{body}\n'
