"""The fault mapping's phrases, checked against the engine's whole message catalogue.

``virtprov_ovirt/faults.py`` reads engine message texts; the engine sends no message key,
only the rendered catalogue text. Every phrase it looks for must match a message of the
catalogue (``data/ovirt-engine/AppErrors.properties``), and the messages each phrase
matches are listed here, so that a phrase too wide or too narrow shows in a diff.
"""

from __future__ import annotations

import re

import ovirtsdk4
import pytest
from engine_messages import Refusal, catalogue
from ovirtsdk4 import types

from virtprov import errors
from virtprov_ovirt import faults

# The rendering of a message as the provider meets it: in a refusal of a VM's command.
_VARIABLES = {"action": "run", "type": "VM"}


def rendered() -> dict[str, str]:
    """Every message of the catalogue, with the action and the type of a VM's command."""
    return {
        key: re.sub(r"\$\{(action|type)\}", lambda m: _VARIABLES[m.group(1)], text)
        for key, text in catalogue().items()
        if not key.startswith("VAR__")
    }


def matched(pattern: re.Pattern[str]) -> set[str]:
    return {key for key, text in rendered().items() if pattern.search(text)}


def alternatives(pattern: re.Pattern[str]) -> list[re.Pattern[str]]:
    """The top-level alternatives of a pattern, each compiled with its flags."""
    parts, depth, start = [], 0, 0
    source = pattern.pattern
    for index, char in enumerate(source):
        if char == "(" and source[index - 1 : index] != "\\":
            depth += 1
        elif char == ")" and source[index - 1 : index] != "\\":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(source[start:index])
            start = index + 1
    parts.append(source[start:])
    return [re.compile(part, pattern.flags) for part in parts]


PHRASES = {
    "capacity": (
        faults._CAPACITY,
        {
            "SCHEDULING_ALL_HOSTS_FILTERED_OUT",
            "SCHEDULING_NO_HOSTS",
            "ACTION_TYPE_FAILED_VDS_VM_MEMORY",
            "ACTION_TYPE_FAILED_QUOTA_CLUSTER_LIMIT_EXCEEDED",
            "ACTION_TYPE_FAILED_QUOTA_STORAGE_LIMIT_EXCEEDED",
            "ACTION_TYPE_FAILED_DISK_SPACE_LOW_ON_STORAGE_DOMAIN",
            "MAC_POOL_NOT_ENOUGH_MAC_ADDRESSES",
            "ACTION_TYPE_FAILED_STORAGE_DOMAIN_STATUS_ILLEGAL",
            "ACTION_TYPE_FAILED_STORAGE_DOMAIN_STATUS_ILLEGAL2",
        },
    ),
    "not found": (faults._NOT_FOUND, {"ACTION_TYPE_FAILED_VM_NOT_FOUND"}),
    "name in use": (faults._NAME_IN_USE, {"ACTION_TYPE_FAILED_NAME_ALREADY_USED"}),
    "not running": (faults._NOT_RUNNING, {"ACTION_TYPE_FAILED_VM_IS_NOT_RUNNING"}),
}


@pytest.mark.parametrize("name", sorted(PHRASES))
def test_each_phrase_matches_exactly_its_messages(name: str) -> None:
    pattern, expected = PHRASES[name]
    assert matched(pattern) == expected
    for alternative in alternatives(pattern):
        assert matched(alternative), f"{alternative.pattern!r} matches no engine message"


def test_try_again_means_a_lock_or_an_operation_under_way() -> None:
    found = matched(faults._TRY_AGAIN)
    for alternative in alternatives(faults._TRY_AGAIN):
        assert matched(alternative), f"{alternative.pattern!r} matches no engine message"
    # What the provider's calls can meet: locks of the VM, its disks, a running task.
    assert {
        "ACTION_TYPE_FAILED_VM_IS_LOCKED",
        "ACTION_TYPE_FAILED_DISKS_LOCKED",
        "ACTION_TYPE_FAILED_DISK_IS_LOCKED",
        "ACTION_TYPE_FAILED_OBJECT_LOCKED",
    } <= found
    # Not every "try again" of the catalogue: these do not pass by waiting.
    assert not found & {
        "ACTION_TYPE_FAILED_TEMPLATE_IS_DISABLED",
        "ACTION_TYPE_FAILED_NAME_ALREADY_USED",
        "ACTION_TYPE_FAILED_VM_RUNNING_STATELESS",
    }


def sdk_error(refusal: Refusal) -> ovirtsdk4.Error:
    """The error the SDK raises for this refusal (as ``Service._raise_error`` builds it)."""
    error_class = ovirtsdk4.AuthError if refusal.status in (401, 403) else ovirtsdk4.Error
    error = error_class(f'Fault detail is "{refusal.detail}".')
    error.code = refusal.status
    error.fault = types.Fault(reason="Operation Failed", detail=refusal.detail)
    return error


@pytest.mark.parametrize(
    ("refusal", "guest_id", "expected"),
    [
        (Refusal.of("ACTION_TYPE_FAILED_VM_NOT_FOUND", "STOP", "VM"), "g", errors.GuestNotFound),
        (Refusal.of("ACTION_TYPE_FAILED_VM_NOT_FOUND", "STOP", "VM"), None, errors.PermanentError),
        (Refusal.of("SCHEDULING_NO_HOSTS", "RUN", "VM"), "g", errors.CapacityExhausted),
        (
            Refusal.of("USER_NOT_AUTHORIZED_TO_PERFORM_ACTION", "RUN", "VM"),
            "g",
            faults.Forbidden,
        ),
        (
            Refusal.storage_domain_in("Locked", "ADD", "DISK"),
            None,
            errors.CapacityExhausted,
        ),
        (Refusal.of("ACTION_TYPE_FAILED_VM_IS_LOCKED", "RUN", "VM"), "g", errors.TransientError),
        (Refusal.of("ACTION_TYPE_FAILED_NAME_ALREADY_USED", "ADD", "VM"), None, faults.NameInUse),
    ],
)
def test_refusals_map_to_errors(
    refusal: Refusal, guest_id: str | None, expected: type[errors.ProviderError]
) -> None:
    error = faults.EngineAnswers().map_error(
        sdk_error(refusal), provider="rhv", action="do it", guest_id=guest_id
    )
    assert type(error) is expected
    assert refusal.detail[1:-1] in str(error) or expected is errors.GuestNotFound


def test_a_disabled_template_is_not_retried() -> None:
    # 409 "... please try to enable the template first and try again": no lock, no wait.
    text = catalogue()["ACTION_TYPE_FAILED_TEMPLATE_IS_DISABLED"]
    text = text.replace("${action}", "add").replace("${type}", "VM")
    error = ovirtsdk4.Error(text)
    error.code = 409
    error.fault = types.Fault(reason="Operation Failed", detail=f"[{text}]")
    assert (
        type(faults.EngineAnswers().map_error(error, provider="rhv", action="add"))
        is errors.ProviderError
    )
