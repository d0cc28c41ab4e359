"""Configuration checks and the error mapping of failures no cassette can hold."""

from __future__ import annotations

from typing import Any

import pytest
from keystoneauth1 import exceptions as ks
from virtprov_openstack.errors import translate
from virtprov_openstack.provider import OpenStackProvider

from virtprov import errors
from virtprov.config import Options, ProviderConfig


def build(**table: Any) -> OpenStackProvider:
    config = ProviderConfig(
        name="os",
        driver="openstack",
        lab="lab.example.com",
        options=Options(table, path="virtprov.toml", prefix="providers.os"),
    )
    return OpenStackProvider.from_config(config)


def test_named_cloud_is_enough() -> None:
    provider = build(cloud="mycloud", image_name="ipxe")
    assert provider.info.driver == "openstack"
    assert provider.info.lab == "lab.example.com"


@pytest.mark.parametrize(
    ("table", "key", "words"),
    [
        ({"cloud": "c"}, "image", "create-ipxe-image"),
        ({"cloud": "c", "image": "x", "network_mode": "bridge"}, "network_mode", "floating"),
        ({"cloud": "c", "image": "x", "network_mode": "fixed"}, "network", "required"),
        ({"cloud": "c", "image": "x", "guest_cidr": "10.0.0/33"}, "guest_cidr", "CIDR"),
        ({"auth_url": "http://k/v3", "image": "x", "username": "u"}, "username", "password"),
        ({"cloud": "c", "image": "x", "password": {"env": "P"}}, "password", "clouds.yaml"),
        ({"cloud": "c", "image": "x", "imagename": "y"}, "imagename", "not a known option"),
    ],
)
def test_bad_options_name_the_key(table: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(errors.ConfigError, match=words) as info:
        build(**table)
    assert info.value.key == f"providers.os.{key}"
    assert info.value.path == "virtprov.toml"


def test_password_must_be_a_secret_reference() -> None:
    with pytest.raises(errors.ConfigError, match="must not be written") as info:
        build(auth_url="http://k/v3", username="u", password="hunter2", image="x")
    assert "hunter2" not in str(info.value)


def test_repr_never_shows_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OS_TEST_PW", "hunter2")
    provider = build(
        auth_url="http://k/v3",
        username="u",
        password={"env": "OS_TEST_PW"},
        project_name="p",
        image="x",
    )
    assert "hunter2" not in repr(provider)
    assert "hunter2" not in repr(provider._credentials)


def test_with_trust_keeps_the_cloud_and_sets_the_trust() -> None:
    provider = build(cloud="mycloud", image="x")
    trusted = provider.with_trust("a1b2c3")
    assert trusted._credentials.trust_id == "a1b2c3"
    assert trusted._credentials.cloud == "mycloud"
    assert provider._credentials.trust_id is None


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (ks.ConnectFailure("Unable to establish connection"), errors.TransientError),
        (ks.ConnectTimeout("timed out"), errors.TransientError),
        (ks.SSLError("certificate verify failed"), errors.PermanentError),
        (ks.EndpointNotFound("compute"), errors.PermanentError),
        (
            ks.Unauthorized("The request you have made requires authentication."),
            errors.PermanentError,
        ),
        (ks.ServiceUnavailable("down"), errors.TransientError),
    ],
)
def test_transport_failures(exc: Exception, cls: type[errors.ProviderError]) -> None:
    mapped = translate(exc, provider="os", action="listing flavors")
    assert type(mapped) is cls
    assert mapped.provider == "os"
