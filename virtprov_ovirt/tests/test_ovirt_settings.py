"""Configuration checks and the pure helpers (names, autofs paths, labels): no engine."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from virtprov_ovirt.naming import autofs_path, data_center_for_lab, decode_labels, encode_labels
from virtprov_ovirt.provider import OVirtProvider
from virtprov_ovirt.settings import DEFAULT_SIZES, DataCenterMap, Size
from virtprov_testing.conformance import provider_config

from virtprov import errors
from virtprov.beaker_migration import BeakerItems, migrate, read_server_cfg

URL = "https://engine.example.com/ovirt-engine/api"
BASE: dict[str, Any] = {"url": URL, "username": "admin@internal", "password": {"env": "PW"}}


def build(lab: str = "lab.example.com", **table: Any) -> OVirtProvider:
    return OVirtProvider.from_config(provider_config("rhv", "ovirt", {**BASE, **table}, lab=lab))


def test_defaults() -> None:
    settings = build().settings
    assert settings.template == "Blank"
    assert settings.vnic_profile == "ovirtmgmt"
    assert settings.sizes == DEFAULT_SIZES
    assert settings.timeout == 30.0
    assert (settings.min_ram_mib, settings.min_disk_bytes) == (1024, 20 * 1024**3)
    assert settings.data_centers == (DataCenterMap("lab_example_com"),)


def test_data_center_derived_from_the_lab_as_beaker_documented() -> None:
    lab = "lab.beaker.engineering.mylocation.example.com"
    assert data_center_for_lab(lab) == "lab_beaker_engineering_mylocation_exampl"
    settings = build(lab=lab).settings
    assert settings.derived_data_center
    assert settings.data_centers == (DataCenterMap("lab_beaker_engineering_mylocation_exampl"),)


def test_explicit_data_centers_with_storage_and_clusters() -> None:
    settings = build(
        data_centers=["Default", {"name": "Newd", "storage_domain": "venus", "clusters": ["c1"]}]
    ).settings
    assert settings.data_centers == (
        DataCenterMap("Default"),
        DataCenterMap("Newd", storage_domain="venus", clusters=("c1",)),
    )
    assert not settings.derived_data_center


def test_size_ladder_in_mib_and_gib() -> None:
    settings = build(sizes=[{"name": "tiny", "vcpus": 1, "memory": 512, "disk": 10}]).settings
    assert settings.sizes == (Size("tiny", 1, 512, 10 * 1024**3),)


@pytest.mark.parametrize(
    ("table", "key", "words"),
    [
        ({"url": "https://engine.example.com/api"}, "url", "/ovirt-engine/api"),
        ({"url": "engine.example.com"}, "url", "API URL"),
        ({"username": None}, "username", "required"),
        ({"ca_file": "/ca.pem", "insecure": True}, "insecure", "not both"),
        ({"timeout": 0}, "timeout", "more than 0"),
        ({"data_centers": []}, "data_centers", "non-empty list"),
        ({"data_centers": ["a", "a"]}, "data_centers", "twice"),
        ({"data_centers": [{"storage_domain": "x"}]}, "data_centers[0].name", "required"),
        ({"data_centers": [{"name": "a", "cluster": "x"}]}, "data_centers[0].cluster", "known"),
        (
            {"sizes": [{"name": "s", "vcpus": 0, "memory": 1024, "disk": 1}]},
            "sizes[0].vcpus",
            "at least 1",
        ),
        ({"sizes": "big"}, "sizes", "list of tables"),
        ({"arches": []}, "arches", "at least one"),
        ({"templat": "Blank"}, "templat", "not a known option"),
    ],
)
def test_bad_options_name_the_key(table: dict[str, Any], key: str, words: str) -> None:
    config = provider_config("rhv", "ovirt", {**BASE, **table})
    with pytest.raises(errors.ConfigError, match=words) as info:
        OVirtProvider.from_config(config)
    assert info.value.key == f"providers.rhv.{key}"
    assert info.value.path == "virtprov.toml"


def test_insecure_is_loudly_warned_and_the_password_never_shown(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PW", "hunter2")
    with caplog.at_level(logging.WARNING):
        provider = build(insecure=True)
    assert "NOT verified" in caplog.text
    assert provider.settings.password.reveal() == "hunter2"
    for text in (repr(provider), repr(provider.settings), caplog.text):
        assert "hunter2" not in text


def test_a_migrated_beaker_configuration_is_accepted() -> None:
    settings = read_server_cfg(
        "[global]\novirt.enabled = True\novirt.api_url = 'https://engine.example.com/api'\n"
        "ovirt.username = 'admin@internal'\novirt.password = 'x'\n"
    )
    table = migrate(settings, BeakerItems(ovirt_lab="lab.example.com")).document["providers"][
        "ovirt"
    ]
    config = provider_config("ovirt", "ovirt", table)
    settings_ = OVirtProvider.from_config(config).settings
    assert settings_.url == URL
    assert settings_.data_centers == (DataCenterMap("lab_example_com"),)


@pytest.mark.parametrize(
    ("location", "path"),
    [
        (
            "nfs://nfs.example.com:/trees/RHEL-9/vmlinuz",
            "/net/nfs.example.com/trees/RHEL-9/vmlinuz",
        ),
        ("nfs://nfs.example.com/trees/x", "/net/nfs.example.com/trees/x"),
        ("/var/lib/images/vmlinuz", "/var/lib/images/vmlinuz"),
    ],
)
def test_autofs_paths(location: str, path: str) -> None:
    assert autofs_path(location) == path


def test_autofs_refuses_what_a_hypervisor_cannot_read() -> None:
    with pytest.raises(ValueError, match="autofs on /net"):
        autofs_path("http://example.com/vmlinuz")


def test_labels_round_trip_through_the_description() -> None:
    labels = {"virtprov-pool": "lab-pool", "virtprov-recipe": "42"}
    text = encode_labels(labels)
    assert text.startswith("virtprov {")
    assert decode_labels(text) == labels
    assert decode_labels("a VM someone made by hand") == {}
    assert decode_labels("virtprov not json") == {}
    with pytest.raises(ValueError, match="holds 255"):
        encode_labels({"k": "v" * 300})
