"""Lookups several workers need are made once: the others wait for the first answer.

At 50 calls/s two workers missed the network cache at once and each looked the network
up (issue 24). The provider here talks to a stand-in connection that counts lookups and
holds the first one until the test lets it go.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

from virtprov_openstack.provider import Credentials, OpenStackProvider, Settings

from virtprov import errors


class Networks:
    """``conn.network`` answering ``networks()``: the first call waits for ``release``."""

    def __init__(self, *, fail_first: bool = False) -> None:
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail_first = fail_first
        self._lock = threading.Lock()

    def networks(self, **query: Any) -> list[Any]:
        with self._lock:
            self.calls += 1
            first = self.calls == 1
        if first:
            self.entered.set()
            assert self.release.wait(30), "the test never let the first lookup go"
            if self.fail_first:
                raise RuntimeError("connection reset")
        return [SimpleNamespace(id="net-1", name=query.get("name"), is_router_external=False)]


def provider_on(**services: Any) -> OpenStackProvider:
    """A provider whose connection is ``services`` (``network=...``, ``compute=...``)."""
    return OpenStackProvider(
        "cloud",
        "lab.example.com",
        Credentials(cloud="unused"),
        Settings(image="img", network_mode="fixed", network="lab-net"),
        connection=SimpleNamespace(**services),  # type: ignore[arg-type]
    )


def ask_together(provider: OpenStackProvider, networks: Networks, count: int) -> list[Any]:
    """``count`` workers ask for the network while the first lookup is in flight."""
    answers: list[Any] = []
    lock = threading.Lock()

    def ask() -> None:
        try:
            found: Any = provider._network("network", "lab-net", external=False)
        except errors.ProviderError as exc:
            found = exc
        with lock:
            answers.append(found)

    first = threading.Thread(target=ask)
    first.start()
    assert networks.entered.wait(30)
    others = [threading.Thread(target=ask) for _ in range(count - 1)]
    for thread in others:
        thread.start()
    # A cache without single flight lets the others into the lookup at once: give them
    # the chance (the answer is right however long this takes).
    deadline = time.monotonic() + 1.0
    while networks.calls == 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    networks.release.set()
    for thread in [first, *others]:
        thread.join(30)
    return answers


def test_workers_that_miss_the_network_at_once_share_one_lookup() -> None:
    networks = Networks()
    provider = provider_on(network=networks)
    answers = ask_together(provider, networks, 8)
    assert networks.calls == 1
    assert len(answers) == 8
    assert {a.id for a in answers} == {"net-1"}
    provider._network("network", "lab-net", external=False)
    assert networks.calls == 1  # and kept for the provider's life


def test_workers_waiting_for_a_lookup_that_fails_share_its_failure_and_none_is_kept() -> None:
    networks = Networks(fail_first=True)
    provider = provider_on(network=networks)
    answers = ask_together(provider, networks, 4)
    failed = [a for a in answers if isinstance(a, errors.ProviderError)]
    assert len(failed) == 1  # the one whose lookup failed says so
    assert "connection reset" in str(failed[0])
    assert networks.calls == 2  # the first waiter asked again, the others had its answer
    found = provider._network("network", "lab-net", external=False)
    assert found.id == "net-1"
    assert networks.calls == 2


def test_the_image_and_the_flavors_are_looked_up_once_too() -> None:
    calls: list[str] = []

    def flavors(**query: Any) -> list[Any]:
        calls.append("flavors")
        tiny = {"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1}
        return [SimpleNamespace(**tiny, is_disabled=False, extra_specs={})]

    def get_image(image: str) -> Any:
        calls.append("image")
        return SimpleNamespace(id=image, architecture="x86_64")

    provider = provider_on(
        compute=SimpleNamespace(flavors=flavors), image=SimpleNamespace(get_image=get_image)
    )
    first = provider.flavors()
    assert provider.flavors() == first
    assert [f.arch for f in first] == ["x86_64"]  # from the image
    assert sorted(calls) == ["flavors", "image"]
