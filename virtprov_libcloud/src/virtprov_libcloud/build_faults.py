"""Why a node failed to build, per driver family, and what that failure stands for.

A create can be accepted and the build fail later: the service says so on the node, not
in an answer to a call, so :mod:`virtprov_libcloud.faults` never sees it. Each family
says it its own way:

* **OpenStack**: the server goes to ``ERROR`` with ``node.extra["fault"]`` (``{"code":
  500, "message": "No valid host was found. "}``). Read and judged by :mod:`virtprov.nova`,
  the same rules as the OpenStack provider's: no valid host, or a quota, is
  ``CapacityExhausted``.
* **EC2**: the instance goes to ``terminated`` with a state reason
  (``Server.InsufficientInstanceCapacity: There was insufficient capacity available to
  satisfy the launch request.``). libcloud does not read ``stateReason`` into the node,
  so :func:`ec2_state_reasons` asks for it (one ``DescribeInstances`` through the
  driver's own connection), only for terminated nodes nobody here destroyed.
* **other** drivers: a node in ``error`` with whatever message libcloud keeps in its
  ``extra``, judged by the phrases :func:`virtprov_libcloud.faults.map_error` knows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from virtprov import errors, nova
from virtprov_libcloud.families import Family

#: EC2 state reason codes of a launch that failed (the API reference's ``StateReason``),
#: and what each stands for. Codes absent here (``Client.UserInitiatedShutdown``,
#: ``Client.InstanceInitiatedShutdown``, ``Server.ScheduledStop``...) are an instance
#: that someone or something stopped or terminated on purpose: it is gone, not failed.
EC2_LAUNCH_FAILURES: Final[Mapping[str, type[errors.ProviderError]]] = {
    "Server.InsufficientInstanceCapacity": errors.CapacityExhausted,
    "Server.SpotInstanceTermination": errors.CapacityExhausted,
    "Client.VolumeLimitExceeded": errors.CapacityExhausted,
    "Client.InvalidSnapshot.NotFound": errors.PermanentError,  # the image's snapshot
    "Server.InternalError": errors.ProviderError,
    "Client.InternalError": errors.ProviderError,
}
#: ``Node.extra`` keys where other drivers keep an error message.
_MESSAGE_KEYS: Final = ("fault", "error", "status_message", "statusMessage")
_NO_MESSAGE: Final = "the service reports the node in error and says no more"


def error_fault(family: Family, node: Any) -> str:
    """The fault of a node libcloud reports in state ``error``."""
    extra = node.extra or {}
    if family is Family.OPENSTACK:
        fault = extra.get("fault")
        return nova.fault_text(fault if isinstance(fault, Mapping) else None)
    for key in _MESSAGE_KEYS:
        value = extra.get(key)
        if isinstance(value, Mapping):
            value = value.get("message")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return _NO_MESSAGE


def ec2_state_reasons(driver: Any, node_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Each instance's state reason ``(code, message)``: one ``DescribeInstances``."""
    from libcloud.compute.drivers.ec2 import NAMESPACE

    params = {"Action": "DescribeInstances"}
    params.update({f"InstanceId.{n}": node_id for n, node_id in enumerate(node_ids, 1)})
    # The driver's own connection signs the request and raises its own errors; the
    # answer is the ElementTree libcloud parsed.
    body = driver.connection.request(driver.path, params=params).object
    ns = {"ec2": NAMESPACE}
    reasons = {}
    for item in body.iterfind("ec2:reservationSet/ec2:item/ec2:instancesSet/ec2:item", ns):
        code = str(item.findtext("ec2:stateReason/ec2:code", "", ns)).strip()
        message = str(item.findtext("ec2:stateReason/ec2:message", "", ns)).strip()
        reasons[str(item.findtext("ec2:instanceId", "", ns))] = (code, message or code)
    return reasons


def ec2_launch_failure(code: str, message: str) -> str | None:
    """The fault of an instance terminated with this state reason, if its launch failed."""
    if code not in EC2_LAUNCH_FAILURES:
        return None
    return message if message.startswith(code) else f"{code}: {message}"


def classify(family: Family, fault: str | None) -> type[errors.ProviderError]:
    """What a build fault stands for: ``CapacityExhausted`` sends the pool to the next
    provider, ``PermanentError`` disables this one, anything else fails this attempt."""
    if not fault:
        return errors.ProviderError
    if family is Family.OPENSTACK:
        return errors.CapacityExhausted if nova.fault_is_capacity(fault) else errors.ProviderError
    if family is Family.EC2:
        code = fault.split(":", 1)[0].strip()
        return EC2_LAUNCH_FAILURES.get(code, errors.ProviderError)
    from virtprov_libcloud.faults import map_error

    mapped = type(map_error(Exception(fault), provider="", action="build"))
    if issubclass(mapped, errors.CapacityExhausted | errors.PermanentError):
        return mapped
    return errors.ProviderError
