"""The fake cloud's faults that are not ProviderErrors, and its faultable reads: what the
pool's fault tests and the soak inject to prove a provider's bug kills nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from virtprov.config import parse_config
from virtprov.errors import TransientError
from virtprov.fake import DEFAULT_FLAVORS, FakeProvider
from virtprov.fake.faults import FaultKind, FaultPlan, Latency, ScriptedFault
from virtprov.model import GuestSpec
from virtprov.plugins import build_provider


def spec(n: int) -> GuestSpec:
    return GuestSpec.for_recipe(n, DEFAULT_FLAVORS[1], pool="p")


def calls(cloud: FakeProvider) -> dict[str, Callable[[], object]]:
    return {
        "create": lambda: cloud.create_guest(spec(1)),
        "poll": lambda: cloud.poll(["x"]),
        "start": lambda: cloud.start_guest("x"),
        "stop": lambda: cloud.stop_guest("x"),
        "destroy": lambda: cloud.destroy_guest("x"),
        "flavors": cloud.flavors,
        "capacity": cloud.capacity,
        "list_guests": lambda: cloud.list_guests("beaker-"),
    }


@pytest.mark.parametrize(
    ("kind", "error"),
    [("runtime_error", RuntimeError), ("key_error", KeyError), ("os_error", ConnectionResetError)],
)
@pytest.mark.parametrize(
    "operation",
    ["create", "poll", "start", "stop", "destroy", "flavors", "capacity", "list_guests"],
)
def test_unexpected_faults_raise_what_an_sdk_would_at_every_operation(
    operation: str, kind: FaultKind, error: type[Exception]
) -> None:
    cloud = FakeProvider(faults=FaultPlan(script=(ScriptedFault(operation, 1, kind),)))
    with pytest.raises(error, match=f"injected {kind} fault in {operation}") as raised:
        calls(cloud)[operation]()
    assert not isinstance(raised.value, TransientError)
    assert cloud.calls[-1].failed
    assert cloud.calls[-1].operation == operation


def test_an_os_error_in_create_comes_after_the_guest_was_made() -> None:
    cloud = FakeProvider(faults=FaultPlan(script=(ScriptedFault("create", 1, "os_error"),)))
    with pytest.raises(ConnectionResetError):
        cloud.create_guest(spec(1))
    assert [g.name for g in cloud.list_guests("beaker-")] == ["beaker-recipe-1"]


def test_runtime_and_key_errors_in_create_make_nothing() -> None:
    cloud = FakeProvider(
        faults=FaultPlan(
            script=(
                ScriptedFault("create", 1, "runtime_error"),
                ScriptedFault("create", 2, "key_error"),
            )
        )
    )
    for _ in range(2):
        with pytest.raises((RuntimeError, KeyError)):
            cloud.create_guest(spec(1))
    assert cloud.all_guest_ids() == []


def test_the_reads_have_latency_and_seeded_faults_too() -> None:
    cloud = FakeProvider(
        latency=Latency(flavors=0.01, capacity=0.01, list_guests=0.01),
        faults=FaultPlan(rates={"capacity": 1.0}, kinds={"capacity": ("key_error",)}),
        seed=1,
    )
    cloud.flavors()
    cloud.list_guests("x")
    with pytest.raises(KeyError):
        cloud.capacity()
    durations = {c.operation: c.ended - c.started for c in cloud.calls}
    assert set(durations) == {"flavors", "list_guests", "capacity"}
    assert all(d >= 0.01 for d in durations.values())


def test_the_configuration_knows_the_new_kinds_and_operations() -> None:
    text = """
[providers.lab]
driver = "fake"
lab = "lab.example.com"
[providers.lab.faults]
script = [{ operation = "flavors", nth = 1, kind = "runtime_error" }]
[providers.lab.faults.rates]
capacity = 1.0
[providers.lab.faults.kinds]
capacity = ["key_error", "os_error"]
"""
    cloud = build_provider(parse_config(text).providers["lab"])
    assert isinstance(cloud, FakeProvider)
    with pytest.raises(RuntimeError):
        cloud.flavors()
    with pytest.raises((KeyError, OSError)):
        cloud.capacity()
