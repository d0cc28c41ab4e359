from __future__ import annotations

import os
from pathlib import Path

import pytest

from virtprov.config import (
    ENV_CONFIG,
    MAX_CONFIG_BYTES,
    Secret,
    embedded_default,
    find_config_path,
    load_config,
    parse_config,
    parse_config_file,
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


@pytest.mark.parametrize(
    ("table", "key", "what"),
    [
        (
            "[providers.a]\ndriver = 'openstack'\nlab = 'x'\n"
            "auth_url = 'https://beaker:hunter2@keystone.example.com:5000/v3'\n",
            "providers.a.auth_url",
            "a password in the URL (user:password@)",
        ),
        (
            "[pool]\njournal = 'postgresql+psycopg://u@db/j?password=hunter2'\n"
            "[providers.a]\ndriver = 'fake'\nlab = 'x'\n",
            "pool.journal",
            "a credential in the URL's query (password=)",
        ),
        (
            "[providers.a]\ndriver = 'libcloud'\nlab = 'x'\n"
            "[providers.a.driver_options]\nhosts = ['https://h', 'https://u:hunter2@h2']\n",
            "providers.a.driver_options.hosts[1]",
            "a password in the URL (user:password@)",
        ),
    ],
)
def test_a_secret_in_any_url_is_refused_naming_the_key(table: str, key: str, what: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(table, path="v.toml")
    message = str(caught.value)
    assert message.startswith(f"v.toml: {key}: holds {what}; a secret must never be written")
    assert "hunter2" not in message


def test_the_journal_url_rule_names_its_own_fix() -> None:
    with pytest.raises(ConfigError, match=r"journal_password = \{ env"):
        parse_config(
            "[pool]\njournal = 'postgresql://u:hunter2@db/j'\n[providers.a]\ndriver='f'\nlab='x'\n"
        )


def test_a_file_that_is_not_utf8_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "virtprov.toml"
    path.write_bytes(b"[providers.a]\ndriver = 'fake'\nlab = 'caf\xe9'\n")
    with pytest.raises(ConfigError) as caught:
        parse_config_file(path)
    assert str(caught.value) == (
        f"{path}: is not UTF-8 text: byte 0xe9 on line 3 "
        "(convert the file, e.g. iconv -f latin1 -t utf-8)"
    )


def test_a_huge_file_is_not_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "virtprov.toml"
    path.write_bytes(b"#" * (MAX_CONFIG_BYTES + 1))
    with pytest.raises(ConfigError, match="is larger than 1024 KiB"):
        parse_config_file(path)


@pytest.mark.parametrize(
    "nested",
    ["x = " + "[" * 3000 + "]" * 3000, "[" + ".".join(["t"] * 40) + "]\nx = 1"],
    ids=["arrays", "dotted tables"],
)
def test_deep_nesting_is_a_config_error(nested: str) -> None:
    with pytest.raises(ConfigError, match=r"^v\.toml: .*nest"):
        parse_config(nested + "\n[providers.a]\ndriver='f'\nlab='x'\n", path="v.toml")


def test_secret_errors_name_the_file_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EAST_PASSWORD", raising=False)
    secret = parse_config(GOOD, path="/etc/v.toml").providers["east"].options.secret("password")
    assert secret is not None
    with pytest.raises(ConfigError) as caught:
        secret.reveal()
    assert str(caught.value) == (
        "/etc/v.toml: providers.east.password: environment variable EAST_PASSWORD is not set"
    )


def _file_secret(path: Path) -> Secret:
    return Secret(file=str(path), where="providers.x.password", path="v.toml")


@pytest.mark.parametrize(
    ("content", "mode", "message"),
    [
        (b"s3cret\n", 0o644, "is readable by every user (mode 0644): chmod o-rwx"),
        (b"\n", 0o600, "is empty"),
        (b"s3\xffcret", 0o600, "is not UTF-8 text (at byte 2)"),
        (b"x" * (64 * 1024 + 1), 0o600, "is larger than 64 KiB"),
    ],
)
def test_verify_checks_a_secret_file_as_config_check_does(
    tmp_path: Path, content: bytes, mode: int, message: str
) -> None:
    path = tmp_path / "pw"
    path.write_bytes(content)
    path.chmod(mode)
    with pytest.raises(ConfigError) as caught:
        _file_secret(path).verify()
    assert str(caught.value).startswith(f"v.toml: providers.x.password: secret file {path} ")
    assert message in str(caught.value)
    assert "s3" not in str(caught.value)


def test_a_secret_that_is_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "pw"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="is not a regular file"):
        _file_secret(fifo).reveal()


def test_reveal_warns_about_a_world_readable_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "pw"
    path.write_text("s3cret\n")
    path.chmod(0o644)
    assert _file_secret(path).reveal() == "s3cret"
    assert "readable by every user" in caplog.text
    assert "s3cret" not in caplog.text
    path.chmod(0o600)
    _file_secret(path).verify()


def test_an_empty_variable_fails_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EAST_PASSWORD", "")
    with pytest.raises(ConfigError, match="environment variable EAST_PASSWORD is empty"):
        Secret(env="EAST_PASSWORD", where="k").verify()
    monkeypatch.setenv("EAST_PASSWORD", "x")
    Secret(env="EAST_PASSWORD", where="k").verify()


def test_options_remember_every_secret_reference_read_below_them() -> None:
    config = parse_config(
        GOOD + "[providers.west.nested]\ntoken = { file = '/etc/t' }\n", path="v.toml"
    )
    west = config.providers["west"].options
    west.table("nested").secret("token")
    east = config.providers["east"].options
    east.secret("password")
    east.secret("password")  # read twice, listed once
    assert [repr(s) for s in west.secrets()] == ["Secret(file='/etc/t')"]
    assert [s.where for s in east.secrets()] == ["providers.east.password"]
