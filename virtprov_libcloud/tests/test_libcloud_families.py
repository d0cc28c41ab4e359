"""What differs per driver family: build faults, power answers, and the listing cache.

Nodes, errors and drivers here are libcloud's own classes, built as its drivers build
them; the recorded services (the reference OpenStack, moto's EC2) exercise the same code
in test_libcloud_openstack.py and test_libcloud_provider.py.
"""

from __future__ import annotations

import threading
import time

import pytest
from libcloud.common.exceptions import BaseHTTPError, exception_from_message
from libcloud.compute.base import Node
from libcloud.compute.providers import get_driver
from libcloud.compute.types import NodeState
from virtprov_libcloud.cache import Listings
from virtprov_libcloud.families import Family, family_of

from virtprov import errors
from virtprov_libcloud import build_faults, power


def node(state: NodeState, **extra: object) -> Node:
    return Node("n-1", "vp-recipe-1", state, [], [], driver=None, extra=dict(extra))


def test_families_by_driver_class() -> None:
    openstack = get_driver("openstack")("user", "pw", ex_force_auth_url="http://127.0.0.1:1")
    ec2 = get_driver("ec2")("AKID", "secret", region="us-east-1")
    dummy = get_driver("dummy")(0)
    assert family_of(openstack) is Family.OPENSTACK
    assert family_of(ec2) is Family.EC2
    assert family_of(dummy) is Family.OTHER


def test_openstack_build_fault_is_read_and_judged_as_the_openstack_provider_does() -> None:
    # node.extra["fault"] as libcloud's OpenStack driver keeps Nova's server fault
    failed = node(NodeState.ERROR, fault={"code": 500, "message": "No valid host was found. "})
    fault = build_faults.error_fault(Family.OPENSTACK, failed)
    assert fault == "No valid host was found."
    assert build_faults.classify(Family.OPENSTACK, fault) is errors.CapacityExhausted
    other = build_faults.error_fault(
        Family.OPENSTACK, node(NodeState.ERROR, fault={"message": "Build of instance aborted"})
    )
    assert build_faults.classify(Family.OPENSTACK, other) is errors.ProviderError
    assert build_faults.error_fault(Family.OPENSTACK, node(NodeState.ERROR)) == (
        "the server went into ERROR without a fault"
    )


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("Server.InsufficientInstanceCapacity", errors.CapacityExhausted),
        ("Client.VolumeLimitExceeded", errors.CapacityExhausted),
        ("Client.InvalidSnapshot.NotFound", errors.PermanentError),
        ("Server.InternalError", errors.ProviderError),
    ],
)
def test_ec2_state_reasons_of_a_failed_launch(code: str, kind: type) -> None:
    fault = build_faults.ec2_launch_failure(code, f"{code}: what the API reference says")
    assert fault == f"{code}: what the API reference says"
    assert build_faults.classify(Family.EC2, fault) is kind


def test_ec2_terminations_on_purpose_are_no_failure() -> None:
    for code in ("Client.UserInitiatedShutdown", "Client.InstanceInitiatedShutdown", ""):
        assert build_faults.ec2_launch_failure(code, code) is None
    # a message without its code in front gets it
    assert build_faults.ec2_launch_failure("Server.InternalError", "An internal error") == (
        "Server.InternalError: An internal error"
    )


def test_other_drivers_say_what_their_extra_says() -> None:
    gce_like = node(NodeState.ERROR, status_message="ZONE_RESOURCE_POOL_EXHAUSTED: no room")
    fault = build_faults.error_fault(Family.OTHER, gce_like)
    assert fault == "ZONE_RESOURCE_POOL_EXHAUSTED: no room"
    assert build_faults.classify(Family.OTHER, fault) is errors.CapacityExhausted
    silent = build_faults.error_fault(Family.OTHER, node(NodeState.ERROR))
    assert build_faults.classify(Family.OTHER, silent) is errors.ProviderError
    assert build_faults.classify(Family.OTHER, "InvalidAMIID.NotFound: gone") is (
        errors.PermanentError
    )


def nova_409(action: str, state: str) -> BaseHTTPError:
    # what libcloud's OpenStack connection raises for Nova's InstanceInvalidState
    text = f"Cannot '{action}' instance 3c1f0b9e-6a2d-4d55-9e57-0c3b2f7d9a10 while it is in {state}"
    error = exception_from_message(409, f"409 Conflict {text}")
    assert isinstance(error, BaseHTTPError)
    return error


def test_a_stop_that_finds_the_node_stopping_or_stopped_is_done() -> None:
    assert power.already_done(Family.OPENSTACK, "stop", nova_409("stop", "vm_state stopped"))
    assert power.already_done(Family.OPENSTACK, "stop", nova_409("stop", "task_state powering-off"))
    assert power.already_done(Family.OPENSTACK, "start", nova_409("start", "vm_state active"))
    # refused for another reason: still a refusal
    assert not power.already_done(Family.OPENSTACK, "stop", nova_409("stop", "task_state deleting"))
    assert not power.already_done(Family.OPENSTACK, "start", nova_409("stop", "vm_state stopped"))
    assert not power.already_done(Family.EC2, "stop", nova_409("stop", "vm_state stopped"))


def test_a_server_between_two_states_gets_no_action() -> None:
    assert power.in_transition(Family.OPENSTACK, node(NodeState.RUNNING, task_state="powering-off"))
    assert not power.in_transition(Family.OPENSTACK, node(NodeState.RUNNING, task_state=None))
    assert not power.in_transition(Family.EC2, node(NodeState.RUNNING, task_state="x"))


def test_listings_are_fetched_once_by_threads_that_miss_together() -> None:
    listings: Listings[list[str]] = Listings(ttl=60.0)
    fetched: list[int] = []
    entered = threading.Event()

    def fetch() -> list[str]:
        fetched.append(1)
        entered.set()
        time.sleep(0.2)  # a slow service: the other threads arrive meanwhile
        return ["lab-net"]

    results: list[list[str]] = []
    threads = [
        threading.Thread(target=lambda: results.append(listings.get("networks", fetch)))
        for _ in range(5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fetched == [1]
    assert results == [["lab-net"]] * 5


def test_listings_expire_and_failures_are_not_kept() -> None:
    now = [0.0]
    listings: Listings[str] = Listings(ttl=30.0, clock=lambda: now[0])
    assert listings.get("sizes", lambda: "first") == "first"
    now[0] = 29.0
    assert listings.get("sizes", lambda: "second") == "first"
    now[0] = 30.0
    assert listings.get("sizes", lambda: "third") == "third"

    def broken() -> str:
        raise errors.TransientError("down")

    with pytest.raises(errors.TransientError):
        listings.get("zones", broken)
    assert listings.get("zones", lambda: "up") == "up"
    listings.forget("zones")
    assert listings.get("zones", lambda: "again") == "again"
