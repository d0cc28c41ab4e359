"""The base class fills in the provider's name (and a guest's id) where a plugin left it out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from virtprov import errors, model
from virtprov.config import ProviderConfig
from virtprov.provider import Provider

FLAVOR = model.Flavor("f", "f", vcpus=1, ram_mib=1024, disk_bytes=10 * 1024**3)


class Nameless(Provider):
    """Says its name only in ``info``: every guest, resource and error leaves it out."""

    driver = "nameless"

    def __init__(self, name: str = "east") -> None:
        self._name = name

    @classmethod
    def from_config(cls, config: ProviderConfig) -> Nameless:
        return cls(config.name)

    @property
    def info(self) -> model.ProviderInfo:
        return model.ProviderInfo(name=self._name, driver=self.driver, lab="lab.example.com")

    def flavors(self) -> Sequence[model.Flavor]:
        raise errors.TransientError("the cloud is slow", retry_after=3.0)

    def capacity(self) -> model.Capacity:
        return model.Capacity()

    def create_guest(self, spec: model.GuestSpec) -> model.Guest:
        return model.Guest(id="g-1", name=spec.name, state=model.GuestState.BUILDING)

    def poll(self, guest_ids: Sequence[str]) -> Mapping[str, model.Guest]:
        return {i: model.Guest(id=i, name="n", state=model.GuestState.READY) for i in guest_ids}

    def start_guest(self, guest_id: str, boot: model.BootRequest | None = None) -> None:
        raise errors.GuestNotFound("no such guest")

    def stop_guest(self, guest_id: str) -> None:
        raise errors.PermanentError("not allowed", provider="set-by-plugin", guest_id="other")

    def destroy_guest(self, guest_id: str) -> None:
        raise RuntimeError("a bug, not a cloud failure")

    def console_output(self, guest_id: str) -> model.ConsoleOutput:
        return model.ConsoleOutput("")

    def list_guests(self, prefix: str) -> Sequence[model.Guest]:
        return [
            model.Guest(id="g-1", name=f"{prefix}1", state=model.GuestState.RUNNING),
            model.Guest(
                provider="kept", id="g-2", name=f"{prefix}2", state=model.GuestState.RUNNING
            ),
        ]

    def list_resources(self, prefix: str) -> Sequence[model.OwnedResource]:
        return (model.OwnedResource(kind="port", id="p-1", name="p", guest=f"{prefix}1"),)

    def destroy_resource(self, resource: model.OwnedResource) -> None:
        raise errors.ProviderError(f"{resource.kind} {resource.id} is in use")


SPEC = model.GuestSpec.for_recipe(1, FLAVOR, pool="p")


def test_guests_and_resources_get_the_providers_name() -> None:
    cloud = Nameless()
    assert cloud.create_guest(SPEC).provider == "east"
    assert [g.provider for g in cloud.poll(["a", "b"]).values()] == ["east", "east"]
    assert [g.provider for g in cloud.list_guests("x-")] == ["east", "kept"]
    assert [r.provider for r in cloud.list_resources("x-")] == ["east"]


def test_errors_get_the_providers_name_and_the_guests_id() -> None:
    cloud = Nameless()
    with pytest.raises(errors.GuestNotFound) as not_found:
        cloud.start_guest("g-9")
    assert (not_found.value.provider, not_found.value.guest_id) == ("east", "g-9")
    assert str(not_found.value) == "east: no such guest"
    with pytest.raises(errors.TransientError) as slow:
        cloud.flavors()
    assert str(slow.value) == "east: the cloud is slow"
    assert (slow.value.guest_id, slow.value.retry_after) == (None, 3.0)
    with pytest.raises(errors.ProviderError, match=r"^east: port p-1 is in use$"):
        cloud.destroy_resource(cloud.list_resources("x-")[0])


def test_what_the_plugin_set_is_kept_and_other_exceptions_pass() -> None:
    cloud = Nameless()
    with pytest.raises(errors.PermanentError) as refused:
        cloud.stop_guest("g-1")
    assert (refused.value.provider, refused.value.guest_id) == ("set-by-plugin", "other")
    with pytest.raises(RuntimeError, match="a bug"):
        cloud.destroy_guest("g-1")


def test_a_subclass_of_a_provider_is_stamped_once_and_keeps_its_signature() -> None:
    class Renamed(Nameless):
        def create_guest(self, spec: model.GuestSpec) -> model.Guest:
            return super().create_guest(spec)

    assert Renamed("west").create_guest(SPEC).provider == "west"
    assert Renamed.create_guest.__wrapped__.__qualname__.endswith("Renamed.create_guest")  # type: ignore[attr-defined]
    # the base class's own default is not wrapped, so overriding can still be detected
    assert Nameless.classify_fault is Provider.classify_fault


def test_polling_named_guests_copies_nothing() -> None:
    guests = {"a": model.Guest(provider="east", id="a", name="n", state=model.GuestState.READY)}

    class Named(Nameless):
        def poll(self, guest_ids: Sequence[str]) -> Mapping[str, model.Guest]:
            return guests

    assert Named().poll(["a"]) is guests
