"""No secret in a URL: found without echoing it, stripped for migration, hidden when shown."""

from __future__ import annotations

import pytest

from virtprov.urls import redact_url, secret_in_url, strip_secrets


@pytest.mark.parametrize(
    ("url", "found"),
    [
        ("https://beaker:hunter2@keystone.example.com:5000/v3", "user:password@"),
        ("postgresql+psycopg://u@db.example.com/j?password=hunter2", "(password=)"),
        ("postgresql://u@db/j?sslmode=require&sslpassword=hunter2", "(sslpassword=)"),
        ("https://api.example.com/v1?api_key=hunter2", "(api_key=)"),
        ("https://s3.example.com/b/o?X-Amz-Signature=hunter2&X-Amz-Date=1", "(X-Amz-Signature=)"),
        ("https://engine.example.com/ovirt-engine/api?token=hunter2", "(token=)"),
    ],
)
def test_a_secret_in_a_url_is_found_and_not_repeated(url: str, found: str) -> None:
    what = secret_in_url(url)
    assert what is not None
    assert found in what
    assert "hunter2" not in what


@pytest.mark.parametrize(
    "text",
    [
        "https://keystone.example.com:5000/v3",
        "https://beaker@keystone.example.com/v3",  # a user name is no secret
        "https://beaker:@keystone.example.com/v3",  # nor an empty password
        "sqlite:////var/lib/virtprov/journal.sqlite",
        "postgresql+psycopg://u@db/j?sslmode=require&sslkey=/etc/pki/key.pem",
        "dhcp && chain http://lab.example.com/ipxe?uuid=${uuid}",  # not a URL as a whole
        "password",
        "https://[::1/v3",  # not parseable: nothing to leak from
    ],
)
def test_what_is_not_a_secret(text: str) -> None:
    assert secret_in_url(text) is None


def test_strip_keeps_the_user_and_every_other_parameter() -> None:
    clean, removed = strip_secrets("https://beaker:hunter2@keystone:5000/v3?a=1&password=x&b=2")
    assert clean == "https://beaker@keystone:5000/v3?a=1&b=2"
    assert removed == ["the password in user:password@", "the query parameter password="]
    assert strip_secrets("https://keystone/v3") == ("https://keystone/v3", [])


def test_redact_hides_the_values_and_keeps_the_shape() -> None:
    assert redact_url("postgresql+psycopg://u:hunter2@db:5432/j?password=hunter2&sslmode=x") == (
        "postgresql+psycopg://u:***@db:5432/j?password=***&sslmode=x"
    )
    assert redact_url("https://keystone/v3?x=1") == "https://keystone/v3?x=1"
    assert redact_url("not a url") == "not a url"
