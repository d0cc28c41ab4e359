from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from virtprov.beaker_migration import BeakerItems, migrate, read_server_cfg
from virtprov.cli import cli, main
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
    with pytest.raises(ConfigError, match=r"^s\.cfg: enables no dynamic VMs"):
        migrate(read_server_cfg("[global]\nfoo = 1\n", path="s.cfg"), BeakerItems())
    with pytest.raises(ConfigError, match=r"no \[global\] section"):
        read_server_cfg("[other]\n")


def test_json_output() -> None:
    out, _ = _convert("--json", "--openstack-lab", "lab.example.com")
    document = json.loads(out)
    assert document["config"]["providers"]["openstack"]["lab"] == "lab.example.com"
    assert any("project_name" in line for line in document["report"])


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``virtprov config from-beaker ARGS`` as the script runs it: status, stdout, stderr."""
    with pytest.raises(SystemExit) as done:
        main(["config", "from-beaker", *args])
    out, err = capsys.readouterr()
    assert isinstance(done.value.code, int)
    return done.value.code, out, err


def test_openstack_keys_in_an_openstack_section_say_where_they_belong() -> None:
    text = SERVER_CFG.read_text().replace("openstack.", "")
    text = text.replace("[global]\n", "[global]\nsqlalchemy.echo = False\n[openstack]\n", 1)
    with pytest.raises(ConfigError) as caught:
        migrate(read_server_cfg(text, path="server.cfg"), BeakerItems())
    message = str(caught.value)
    assert message.startswith("server.cfg: enables no dynamic VMs")
    assert "[openstack] identity_api_url" in message
    assert "belong in [global], as openstack.identity_api_url" in message


def test_misplaced_keys_are_reported_beside_a_good_global_section() -> None:
    text = SERVER_CFG.read_text() + "[openstack]\ncreate_floating_ip = False\n"
    text = text.replace("tools.gzip.on = True", "tools.gzip.on = True\novirt.api_url = 'x'")
    migration = migrate(read_server_cfg(text), BeakerItems())
    misplaced = [line for line in migration.report if "only from [global]" in line]
    assert misplaced == [
        "[/] ovirt.api_url: Beaker reads its dynamic-VM keys only from [global] (as "
        "ovirt.api_url), so Beaker ignores it; not carried over: move it to [global] if Beaker "
        "should use it, and convert again",
        "[openstack] create_floating_ip: Beaker reads its dynamic-VM keys only from [global] "
        "(as openstack.create_floating_ip), so Beaker ignores it; not carried over: move it to "
        "[global] if Beaker should use it, and convert again",
    ]
    # what Beaker ignores changes nothing: floating mode, as [global] says
    assert migration.document["providers"]["openstack"]["network_mode"] == "floating"


def test_a_password_in_the_identity_url_is_stripped_and_reported() -> None:
    text = SERVER_CFG.read_text().replace(
        "'https://openstack.example.com:5000/v3'",
        "'https://admin:hunter2@openstack.example.com:5000/v3?x=1'",
    )
    text = text.replace("openstack.username = 'beaker'\n", "").replace(
        f"openstack.password = '{SECRET}'\n", ""
    )
    migration = migrate(read_server_cfg(text), BeakerItems())
    table = migration.document["providers"]["openstack"]
    assert table["auth_url"] == "https://openstack.example.com:5000/v3?x=1"
    assert table["username"] == "admin"
    assert table["password"] == {"env": "VIRTPROV_OPENSTACK_PASSWORD"}
    rendered = migration.toml("server.cfg") + "\n".join(migration.report)
    assert "hunter2" not in rendered
    assert (
        "openstack.identity_api_url: held the password in user:password@; removed, never "
        "copied: set VIRTPROV_OPENSTACK_PASSWORD (providers.openstack.password) instead"
    ) in migration.report
    assert any("named the user 'admin'" in line for line in migration.report)


def test_a_password_in_the_ovirt_url_is_stripped_and_reported() -> None:
    migration = migrate(
        read_server_cfg(
            "[global]\novirt.enabled = True\n"
            "ovirt.api_url = 'https://admin%40internal:hunter2@engine.example.com/api'\n"
        ),
        BeakerItems(ovirt_lab="lab.example.com"),
    )
    table = migration.document["providers"]["ovirt"]
    assert table["url"] == "https://engine.example.com/ovirt-engine/api"
    assert table["username"] == "admin@internal"
    assert table["password"] == {"env": "VIRTPROV_OVIRT_PASSWORD"}
    assert "hunter2" not in migration.toml("server.cfg") + "\n".join(migration.report)


def test_a_latin1_server_cfg_is_one_line_naming_the_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "server.cfg"
    path.write_bytes(SERVER_CFG.read_bytes().replace(b"# A Beaker", b"# Caf\xe9 Beaker"))
    status, out, err = _main(capsys, str(path))
    assert status == 2
    assert out == ""
    assert err == (
        f"virtprov: server.cfg {path}: not UTF-8 text (byte 0xe9 on line 2; convert it, "
        "e.g. iconv -f latin1 -t utf-8)\n"
    )


def test_output_into_a_missing_directory_is_refused_before_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "no-such-dir" / "virtprov.toml"
    status, _, err = _main(capsys, str(SERVER_CFG), "-o", str(target))
    assert status == 2
    assert err == f"virtprov: -o {target}: the directory {target.parent} does not exist\n"
    assert not target.parent.exists()


def test_the_output_passes_config_check_once_the_to_dos_are_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "virtprov.toml"
    status, _, err = _main(capsys, str(SERVER_CFG), "-o", str(target))
    assert status == 0, err
    to_dos = [line.removeprefix("virtprov: to do: ") for line in err.splitlines()]
    assert [line.split(":")[0] for line in to_dos] == [
        "providers.openstack.lab",
        "providers.openstack.password",
        "providers.openstack.project_name",
        "providers.openstack.image",
    ]
    monkeypatch.delenv("VIRTPROV_OPENSTACK_PASSWORD", raising=False)

    def check() -> tuple[int, str]:
        result = CliRunner().invoke(cli, ["--config", str(target), "config", "check"])
        return result.exit_code, result.stderr

    status, err = check()
    assert status == 2
    assert f"{target}: providers.openstack.project_name: is required" in err
    # Do each to-do: name the lab, add a project and the image, set the variable.
    text = target.read_text().replace("LAB-CONTROLLER.example.com", "lab.example.com")
    target.write_text(text + 'project_name = "beaker-guests"\nimage = "img-1"\n')
    status, err = check()
    assert status == 2
    assert err == (
        f"virtprov: {target}: providers.openstack.password: environment variable "
        "VIRTPROV_OPENSTACK_PASSWORD is not set\n"
    )
    monkeypatch.setenv("VIRTPROV_OPENSTACK_PASSWORD", SECRET)
    assert check() == (0, "")
