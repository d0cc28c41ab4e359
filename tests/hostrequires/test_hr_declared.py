"""Declared flavor properties: in <hostRequires/>, from virtprov.toml, on the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.hostrequires.hrdata import LAB
from virtprov.cli.check import command as check
from virtprov.cli.convert import command as convert
from virtprov.config import parse_config
from virtprov.errors import ConfigError
from virtprov.hostrequires import Target, parse, prepare
from virtprov.hostrequires.properties import from_nova_extra_specs
from virtprov.model import Flavor, GiB, ProviderInfo
from virtprov.plugins import build_provider

NESTED = {
    "cpu.flag": "vmx avx2",
    "tpm.version": "2.0",
    "virtualization.is-supported": "true",
    "system.numa-nodes": "2",
    "cpu.frequency": "2.4 GHz",
    "cpu.hyper-threading": "false",
    "cpu.family": "6",
    "cpu.vendor-name": "GenuineIntel",
}
FLAVORS = (
    Flavor("1", "plain", vcpus=2, ram_mib=4096, disk_bytes=40 * GiB),
    Flavor("2", "nested", vcpus=4, ram_mib=8192, disk_bytes=40 * GiB, properties=NESTED),
    Flavor(
        "3", "broken", vcpus=4, ram_mib=8192, disk_bytes=40 * GiB, properties={"cpu.family": "six"}
    ),
)
TARGET = Target.from_info(
    ProviderInfo(name="c", driver="fake", lab=LAB, arches=("x86_64",)),
    FLAVORS,
)
PREPARED = prepare(FLAVORS, TARGET)


@pytest.mark.parametrize(
    ("element", "flavors"),
    [
        ('<cpu><flag value="vmx"/></cpu>', ["nested"]),
        ('<cpu><flag op="!=" value="vmx"/></cpu>', []),  # undeclared: default-deny
        ('<not><cpu><flag value="vmx"/></cpu></not>', ["plain", "broken"]),
        ('<cpu><flag op="like" value="avx%"/></cpu>', ["nested"]),
        ('<key_value key="TPM" value="2.0"/>', ["nested"]),
        ('<key_value key="HVM" value="1"/>', ["nested"]),
        ('<key_value key="NETBOOT_METHOD" value="pxe"/>', []),  # never
        ('<system><numanodes op="&gt;=" value="2"/></system>', ["nested"]),
        ('<numa_node_count value="2"/>', ["nested"]),
        ('<cpu><speed op="&gt;=" value="2400.0"/></cpu>', ["nested"]),
        ('<cpu><hyper value="False"/></cpu>', ["nested"]),
        ('<cpu><family value="6"/></cpu>', ["nested"]),  # "broken" declares no number
        ('<cpu><vendor value="GenuineIntel"/></cpu>', ["nested"]),
        ('<system><vendor value="HP"/></system>', []),  # never, even if declared
    ],
)
def test_xml_requirements_on_declared_properties(element: str, flavors: list[str]) -> None:
    requires = parse(f"<hostRequires>{element}</hostRequires>")
    assert [f.name for f in requires.match(PREPARED).flavors] == flavors


def test_an_unreadable_declaration_says_why() -> None:
    match = parse('<hostRequires><cpu><family value="6"/></cpu></hostRequires>').match(PREPARED)
    reasons = {removal.flavor.name: removal.reasons for removal in match.removed}
    assert reasons["broken"] == (
        '<family value="6"> (line 1) not met: the flavor declares cpu.family '
        "'six' ('six' is not a whole number)",
    )


def test_nova_extra_specs_and_traits() -> None:
    assert from_nova_extra_specs(
        {
            "trait:HW_CPU_X86_SVM": "required",
            "trait:HW_CPU_X86_AVX512F": "forbidden",
            "trait:COMPUTE_SECURITY_TPM_2_0": "required",
            "hw:firmware_type": "UEFI",
            "hw:cpu_model": "EPYC-Rome",
            "virtprov:gpu.vendor-name": "NVIDIA",
            "hw:cpu_policy": "dedicated",
        }
    ) == {
        "cpu.flag": "svm",
        "virtualization.is-supported": "true",
        "tpm.version": "2.0",
        "boot.method": "uefi",
        "cpu.model-name": "EPYC-Rome",
        "gpu.vendor-name": "NVIDIA",
    }


CONFIG = """
[providers.cloud]
driver = "fake"
lab = "lab.example.com"
state_file = "{state}"

[providers.cloud.flavor_properties."*"]
"boot.method" = "bios"

[providers.cloud.flavor_properties."fake.large"]
"cpu.flag" = ["vmx", "avx2"]
"virtualization.is-supported" = true
"boot.method" = "bios uefi"
"""


def test_the_configuration_declares_properties(tmp_path: Path) -> None:
    config = parse_config(CONFIG.format(state=tmp_path / "fake.sqlite"))
    provider = build_provider(config.providers["cloud"])
    flavors = provider.declared_flavors()
    large = next(f for f in flavors if f.name == "fake.large")
    assert large.properties["cpu.flag"] == "vmx avx2"
    assert large.properties["virtualization.is-supported"] == "true"
    assert large.properties["boot.method"] == "bios uefi"  # its own entry wins over "*"
    assert all(f.properties["boot.method"] == "bios" for f in flavors if f is not large)
    target = Target.from_info(provider.info, flavors)
    requires = parse('<hostRequires><cpu><flag value="vmx"/></cpu></hostRequires>')
    assert requires.virtualisable(target)
    assert requires.match(flavors, target).chosen == large


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('"cpu.flags" = "vmx"', "unknown property (did you mean cpu.flag?)"),
        ('"cpu.family" = "six"', "'six' is not a whole number"),
        ('"virtualization.is-supported" = "maybe"', "'maybe' is not true or false"),
        ('"cpu.flag" = [1, 2]', "must be text, a number, a boolean or a list of words"),
    ],
)
def test_bad_declarations_name_the_key(table: str, message: str) -> None:
    text = (
        f'[providers.c]\ndriver = "fake"\nlab = "x"\n[providers.c.flavor_properties.big]\n{table}\n'
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert message in str(caught.value)
    assert "providers.c.flavor_properties" in str(caught.value)


# -- the command line ------------------------------------------------------------------


def test_check_judges_tmt_with_declared_flavors(tmp_path: Path) -> None:
    flavors = tmp_path / "flavors.json"
    flavors.write_text(
        json.dumps(  # rows of `openstack flavor list --long -f json`, as older clients print
            [
                {"ID": "1", "Name": "m1.large", "RAM": 8192, "Disk": 40, "VCPUs": 4},
                {
                    "ID": "2",
                    "Name": "m1.nested",
                    "RAM": 8192,
                    "Disk": 40,
                    "VCPUs": 4,
                    "Properties": "trait:HW_CPU_X86_VMX='required', hw:tpm_version='2.0'",
                },
            ]
        )
    )
    document = tmp_path / "plan.fmf"
    document.write_text("provision:\n  hardware:\n    cpu:\n      flag: [vmx]\n")
    result = CliRunner().invoke(
        check, [str(document), "--flavors", str(flavors), "--json", "--lab", LAB]
    )
    assert result.exit_code == 0, result.output
    phases = json.loads(result.stdout)["phases"]
    assert phases[0]["virtualisable"] is True
    assert phases[0]["chosen"] == "m1.nested"
    assert phases[0]["reasons"] == [
        "m1.large: hardware.cpu.flag: vmx (line 4) not met: the flavor does not declare cpu.flag"
    ]
    # the same requirement without a flavor list: Beaker's default-deny
    bare = CliRunner().invoke(check, ["--format", "tmt", str(document), "--json"])
    assert json.loads(bare.stdout)["phases"][0]["virtualisable"] is False


def test_check_reports_bad_yaml_in_one_line(tmp_path: Path) -> None:
    document = tmp_path / "hw.yaml"
    document.write_text("memory: '>= 4 GiB'\ncpu:\n  cores: many\n")
    result = subprocess.run(
        [sys.executable, "-c", "from virtprov.cli import main; main()", "check", str(document)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"virtprov: {document}: hardware.cpu.cores at line 3: 'many' is not a whole number"
    ]


def test_convert_prints_xml_and_notes(tmp_path: Path) -> None:
    document = tmp_path / "hw.yaml"
    document.write_text("memory: '>= 4 GiB'\ngpu:\n  vendor-name: NVIDIA\n")
    result = CliRunner().invoke(convert, [str(document), "--to", "hostrequires"])
    assert result.exit_code == 0
    assert result.stdout == (
        '<hostRequires>\n  <system>\n    <memory op="&gt;=" value="4096"/>\n'
        "  </system>\n</hostRequires>\n"
    )
    assert result.stderr == (
        "virtprov: note: hardware.gpu.vendor-name: NVIDIA (line 3): "
        "Beaker has no equivalent; left out\n"
    )
    parse(result.stdout)
