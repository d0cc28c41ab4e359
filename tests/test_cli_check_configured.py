"""``check`` and ``convert`` judge against the configured providers' own flavors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from virtprov.cli import cli

FlavorRow = tuple[str, int, int, int]  # name, vcpus, RAM (MiB), disk (GiB)


def fake_cloud(name: str, lab: str, state: Path, flavors: list[FlavorRow]) -> str:
    """The ``[providers.NAME]`` table of a fake cloud serving ``lab`` with ``flavors``."""
    listed = "".join(
        f'  {{ name = "{flavor}", vcpus = {vcpus}, ram_mib = {ram}, disk_gib = {disk} }},\n'
        for flavor, vcpus, ram, disk in flavors
    )
    return (
        f'[providers.{name}]\ndriver = "fake"\nlab = "{lab}"\nstate_file = "{state}"\n'
        f"flavors = [\n{listed}]\n"
    )


MEMORY = '<hostRequires><memory op="&gt;=" value="4000"/></hostRequires>'
VMX = "memory: '>= 4 GiB'\ncpu:\n  flag: [vmx]\n"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two labs' fake clouds, each with its own flavors; nested-lab's n2 declares nested
    virtualisation."""
    path = tmp_path / "virtprov.toml"
    small = [("s1", 1, 2048, 20), ("s2", 2, 4096, 20)]
    nested = [("n1", 4, 8192, 40), ("n2", 8, 16384, 40)]
    path.write_text(
        fake_cloud("small-lab", "lab-a.example.com", tmp_path / "a.db", small)
        + fake_cloud("nested-lab", "lab-b.example.com", tmp_path / "b.db", nested)
        + '[providers.nested-lab.flavor_properties.n2]\n"cpu.flag" = ["vmx"]\n'
    )
    monkeypatch.delenv("VIRTPROV_CONFIG", raising=False)
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def document(tmp_path: Path, text: str, name: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_check_names_each_providers_flavor(config: Path, tmp_path: Path) -> None:
    status, out, _ = invoke("--config", str(config), "check", document(tmp_path, MEMORY, "m.xml"))
    assert status == 0
    verdicts = [line for line in out.splitlines() if not line.startswith("  ")]
    assert verdicts == [
        "small-lab: virtualisable: yes, on s2",
        "nested-lab: virtualisable: yes, on n1",
    ]


def test_check_uses_what_the_configuration_declares(config: Path, tmp_path: Path) -> None:
    hardware = document(tmp_path, VMX, "hw.yaml")
    status, out, _ = invoke("--config", str(config), "check", hardware, "--json")
    assert status == 0
    providers = json.loads(out)["providers"]
    assert providers["nested-lab"]["chosen"] == "n2"  # declares cpu.flag vmx
    assert providers["small-lab"]["virtualisable"] is False
    assert json.loads(out)["errors"] == {}


def test_provider_and_lab_pick_the_targets(config: Path, tmp_path: Path) -> None:
    xml = document(tmp_path, MEMORY, "m.xml")
    _, out, _ = invoke("--config", str(config), "check", xml, "--provider", "nested-lab", "--json")
    assert list(json.loads(out)["providers"]) == ["nested-lab"]
    _, out, _ = invoke("--config", str(config), "check", xml, "--lab", "LAB-A.example.com")
    assert out.splitlines()[0] == "small-lab: virtualisable: yes, on s2"
    status, _, err = invoke("--config", str(config), "check", xml, "--lab", "lab-z.example.com")
    assert status == 2
    assert "--lab lab-z.example.com: no configured provider serves it" in err


def test_flavors_file_stays_offline(config: Path, tmp_path: Path) -> None:
    flavors = document(
        tmp_path, json.dumps([{"id": "9", "name": "m9", "ram": 4096, "disk": 20, "vcpus": 2}]), "f"
    )
    xml = document(tmp_path, MEMORY, "m.xml")
    status, out, _ = invoke("--config", str(config), "check", xml, "--flavors", flavors)
    assert (status, out.splitlines()[0]) == (0, "virtualisable: yes, on m9")
    status, _, err = invoke(
        "--config", str(config), "check", xml, "--flavors", flavors, "--provider", "small-lab"
    )
    assert status == 2
    assert "give --provider or --flavors, not both" in err


def test_offline_target_options_are_refused_with_configured_providers(
    config: Path, tmp_path: Path
) -> None:
    xml = document(tmp_path, MEMORY, "m.xml")
    status, _, err = invoke("--config", str(config), "check", xml, "--arch", "aarch64")
    assert status == 2
    assert "--arch: only for an offline target" in err


def test_without_a_configuration_check_is_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VIRTPROV_CONFIG", raising=False)
    monkeypatch.setattr("virtprov.config.SYSTEM_CONFIG", tmp_path / "absent.toml")
    xml = document(tmp_path, MEMORY, "m.xml")
    status, out, err = invoke("check", xml)
    assert (status, out, err) == (0, "virtualisable: yes\n", "")
    status, _, err = invoke("check", xml, "--provider", "fake")
    assert status == 2
    assert "--provider fake: no configuration file was found" in err


def test_a_provider_that_cannot_list_its_flavors_is_status_1(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from virtprov.errors import TransientError
    from virtprov.fake import FakeProvider

    def unreachable(self: FakeProvider) -> list[object]:
        if self.info.name == "nested-lab":
            raise TransientError("connection refused", provider=self.info.name)
        return list(self._flavors)

    monkeypatch.setattr(FakeProvider, "flavors", unreachable)
    status, out, err = invoke("--config", str(config), "check", document(tmp_path, MEMORY, "x"))
    assert status == 1
    assert out.splitlines()[0] == "small-lab: virtualisable: yes, on s2"
    assert "nested-lab" not in out
    assert err == "virtprov: nested-lab: cannot list its flavors: connection refused\n"


def test_convert_says_what_each_provider_would_choose(config: Path, tmp_path: Path) -> None:
    hardware = document(tmp_path, VMX, "hw.yaml")
    status, out, err = invoke("--config", str(config), "convert", hardware, "--to", "hostrequires")
    assert status == 0
    assert out.startswith("<hostRequires>")
    assert err.splitlines() == [
        "virtprov: on small-lab: neither document can run on a VM",
        "virtprov: on nested-lab: both documents get flavor n2",
    ]
    _, _, err = invoke(
        "--config",
        str(config),
        "convert",
        hardware,
        "--to",
        "hostrequires",
        "--provider",
        "small-lab",
    )
    assert err == "virtprov: on small-lab: neither document can run on a VM\n"
