from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from virtprov.beaker_migration import BeakerItems, migrate, read_server_cfg
from virtprov.cli import cli
from virtprov.config import parse_config
from virtprov.errors import ConfigError
from virtprov.plugins import build_provider

SERVER_CFG = Path(__file__).parent / "fixtures" / "beaker-server.cfg"
SECRET = "not-a-real-password"


def _convert(*args: str) -> tuple[str, str]:
    result = CliRunner().invoke(cli, ["config", "from-beaker", str(SERVER_CFG), *args])
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


def test_converts_a_beaker_server_cfg() -> None:
    out, err = _convert(
        "--openstack-lab",
        "lab.example.com",
        "--ipxe-image",
        "0f3c7b8e-5d7a-4c55-9a3e-0b1e2d3c4f5a",
        "--guest-name-prefix",
        "bkr-",
        "--guest-private-network",
        "192.168.20.0/24",
        "--default-guest-memory",
        "2048",
        "--default-guest-disk-size",
        "30",
    )
    document = tomllib.loads(out)
    assert document["defaults"] == {
        "guest_name_prefix": "bkr-",
        "default_guest_memory": 2048,
        "default_guest_disk_size": 30,
    }
    assert document["providers"] == {
        "openstack": {
            "driver": "openstack",
            "lab": "lab.example.com",
            "auth_url": "https://openstack.example.com:5000/v3",
            "username": "beaker",
            "password": {"env": "VIRTPROV_OPENSTACK_PASSWORD"},
            "user_domain_name": "Default",
            "image": "0f3c7b8e-5d7a-4c55-9a3e-0b1e2d3c4f5a",
            "network_mode": "floating",
            "external_network": "public",
            "guest_cidr": "192.168.20.0/24",
            "dashboard_url": "https://openstack.example.com/dashboard/",
        }
    }
    assert SECRET not in out
    assert SECRET not in err
    assert "set VIRTPROV_OPENSTACK_PASSWORD" in err
    assert "project_name" in err


def test_what_cannot_be_carried_over_is_reported_on_stderr() -> None:
    out, err = _convert()
    assert "--openstack-lab" in err
    assert "--ipxe-image" in err
    assert tomllib.loads(out)["providers"]["openstack"]["lab"] == "LAB-CONTROLLER.example.com"


def test_converted_config_loads_with_the_openstack_driver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "virtprov.toml"
    result = CliRunner().invoke(
        cli,
        [
            "config",
            "from-beaker",
            str(SERVER_CFG),
            "-o",
            str(target),
            "--openstack-lab",
            "lab.example.com",
            "--ipxe-image",
            "img-1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    # Do what the report asks a person to do, then the driver accepts the file.
    text = target.read_text() + 'project_name = "beaker-guests"\n'
    monkeypatch.setenv("VIRTPROV_OPENSTACK_PASSWORD", SECRET)
    provider = build_provider(parse_config(text, path=str(target)).providers["openstack"])
    assert provider.info.lab == "lab.example.com"
    assert SECRET not in repr(provider)


def test_fixed_mode_puts_guests_on_the_external_network() -> None:
    settings = read_server_cfg(
        SERVER_CFG.read_text().replace("create_floating_ip = True", "create_floating_ip = False")
    )
    table = migrate(settings, BeakerItems()).document["providers"]["openstack"]
    assert (table["network_mode"], table["network"]) == ("fixed", "public")


def test_ovirt_keys_become_an_ovirt_provider() -> None:
    settings = read_server_cfg(
        "[global]\novirt.enabled = True\novirt.api_url = 'https://engine.example.com/api'\n"
        "ovirt.username = 'admin@internal'\novirt.password = 'x'\n"
    )
    migration = migrate(settings, BeakerItems(ovirt_lab="lab.example.com"))
    table = migration.document["providers"]["ovirt"]
    assert table["driver"] == "ovirt"
    assert table["password"] == {"env": "VIRTPROV_OVIRT_PASSWORD"}
    assert any("TLS" in line for line in migration.report)
    # Beaker's oVirt 3 path becomes the v4 API the provider speaks.
    assert table["url"] == "https://engine.example.com/ovirt-engine/api"
    assert any("oVirt 3 API path" in line for line in migration.report)


def test_nothing_to_convert_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="enables no dynamic VMs"):
        migrate(read_server_cfg("[global]\nfoo = 1\n"), BeakerItems())
    with pytest.raises(ConfigError, match=r"no \[global\] section"):
        read_server_cfg("[other]\n")


def test_json_output() -> None:
    out, _ = _convert("--json", "--openstack-lab", "lab.example.com")
    document = json.loads(out)
    assert document["config"]["providers"]["openstack"]["lab"] == "lab.example.com"
    assert any("project_name" in line for line in document["report"])
