from __future__ import annotations

from pathlib import Path

import pytest

from virtprov.config import (
    ENV_CONFIG,
    Secret,
    embedded_default,
    find_config_path,
    load_config,
    parse_config,
)
from virtprov.errors import ConfigError
from virtprov.model import GiB

GOOD = """
[defaults]
guest_name_prefix = "lab-"
default_guest_memory = 2048
default_guest_disk_size = 30

[pool]
capacity_ttl = 120

[providers.east]
driver = "openstack"
lab = "lab-east.example.com"
cloud = "east"
password = { env = "EAST_PASSWORD" }

[providers.west]
driver = "ovirt"
lab = "lab-west.example.com"
"""


def test_parses_defaults_and_providers_in_order() -> None:
    config = parse_config(GOOD, path="/etc/virtprov/virtprov.toml")
    assert config.defaults.guest_name_prefix == "lab-"
    assert config.defaults.default_guest_memory_mib == 2048
    assert config.defaults.default_guest_disk_bytes == 30 * GiB
    assert list(config.providers) == ["east", "west"]
    east = config.providers["east"]
    assert (east.driver, east.lab) == ("openstack", "lab-east.example.com")
    assert east.options.string("cloud") == "east"
    assert config.pool.integer("capacity_ttl") == 120


def test_defaults_are_beakers() -> None:
    config = parse_config('[providers.a]\ndriver = "fake"\nlab = "x"\n')
    assert config.defaults.guest_name_prefix == "beaker-"
    assert config.defaults.default_guest_memory_mib == 1024
    assert config.defaults.default_guest_disk_bytes == 20 * GiB


def test_secret_reference_never_shows_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EAST_PASSWORD", "hunter2")
    secret = parse_config(GOOD).providers["east"].options.secret("password")
    assert isinstance(secret, Secret)
    assert secret.reveal() == "hunter2"
    assert "hunter2" not in repr(secret)
    assert "hunter2" not in str(secret)
    assert repr(secret) == "Secret(env='EAST_PASSWORD')"


def test_secret_from_file(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret\n")
    secret = Secret(file=str(tmp_path / "pw"))
    assert secret.reveal() == "s3cret"
    with pytest.raises(ConfigError, match="cannot read secret file"):
        Secret(file=str(tmp_path / "missing"), where="providers.x.password").reveal()


def test_unset_secret_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EAST_PASSWORD", raising=False)
    secret = parse_config(GOOD).providers["east"].options.secret("password")
    assert secret is not None
    with pytest.raises(ConfigError, match="EAST_PASSWORD is not set"):
        secret.reveal()


def test_a_secret_written_in_clear_is_refused_without_echoing_it() -> None:
    text = GOOD.replace('{ env = "EAST_PASSWORD" }', '"hunter2"')
    options = parse_config(text, path="v.toml").providers["east"].options
    with pytest.raises(ConfigError) as caught:
        options.secret("password")
    message = str(caught.value)
    assert "hunter2" not in message
    assert message.startswith("v.toml: providers.east.password: is a secret")
    assert '{ env = "VARIABLE" }' in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[providers.a]\nlab = 'x'\n", "v.toml: providers.a.driver: is required"),
        (
            "[providers.a]\ndriver = 1\nlab = 'x'\n",
            "providers.a.driver: must be a string, got a number",
        ),
        ("", "v.toml: defines no provider"),
        (
            "[defaults]\nguest_name_prefx = 'x'\n[providers.a]\ndriver='f'\nlab='x'\n",
            "defaults.guest_name_prefx: is not a known option (did you mean guest_name_prefix?)",
        ),
        (
            "[defaults]\ndefault_guest_memory = true\n[providers.a]\ndriver='f'\nlab='x'\n",
            "defaults.default_guest_memory: must be a whole number, got a boolean",
        ),
        (
            "[defaults]\ndefault_guest_memory = 0\n[providers.a]\ndriver='f'\nlab='x'\n",
            "defaults.default_guest_memory: must be at least 1, got 0",
        ),
        ("[providers.a\n", "v.toml: not valid TOML"),
        ("[other]\n[providers.a]\ndriver='f'\nlab='x'\n", "v.toml: other: is not a known option"),
    ],
)
def test_errors_name_file_key_and_fix(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, path="v.toml")
    assert expected in str(caught.value)


def test_unknown_driver_option_is_reported_by_finish() -> None:
    options = parse_config(GOOD, path="v.toml").providers["west"].options
    options.raw("api_url")
    options.finish()
    options = parse_config(GOOD.replace('cloud = "east"', 'clod = "east"'), path="v.toml")
    east = options.providers["east"].options
    east.string("cloud")
    east.secret("password")
    with pytest.raises(ConfigError, match=r"providers\.east\.clod: is not a known option"):
        east.finish()


def test_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = tmp_path / "explicit.toml"
    explicit.write_text(GOOD)
    from_env = tmp_path / "env.toml"
    from_env.write_text(GOOD)
    monkeypatch.setenv(ENV_CONFIG, str(from_env))
    assert find_config_path(explicit) == explicit
    assert find_config_path() == from_env
    monkeypatch.setenv(ENV_CONFIG, str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match=r"named by \$VIRTPROV_CONFIG"):
        find_config_path()
    with pytest.raises(ConfigError, match="given with --config"):
        find_config_path(tmp_path / "nope.toml")


def test_no_configuration_is_the_embedded_fake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_CONFIG, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.setattr("virtprov.config.SYSTEM_CONFIG", tmp_path / "absent.toml")
    config = load_config()
    assert config.is_embedded_default
    assert config == embedded_default()
    fake = config.providers["fake"]
    assert fake.driver == "fake"
    assert fake.options.raw("state_file") == str(tmp_path / "virtprov" / "fake-cloud.sqlite")
