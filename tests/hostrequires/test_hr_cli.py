"""``virtprov check``: the contract operators and tooling rely on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from virtprov.cli.check import command

NOVA = [
    {
        "id": "1",
        "name": "m1.tiny",
        "ram": 512,
        "disk": 1,
        "vcpus": 1,
        "swap": "",
        "rxtx_factor": 1.0,
    },
    {"id": "2", "name": "m1.small", "ram": 2048, "disk": 20, "vcpus": 1},
    {"id": "3", "name": "m1.medium", "ram": 4096, "disk": 20, "vcpus": 2},
    {"id": "4", "name": "m1.large", "ram": 8192, "disk": 20, "vcpus": 4},
]
CLI_ROWS = [
    {
        "ID": r["id"],
        "Name": r["name"],
        "RAM": r["ram"],
        "Disk": r["disk"],
        "VCPUs": r["vcpus"],
        "Ephemeral": 0,
        "Swap": "",
        "Is Public": True,
        "Properties": {},
    }
    for r in NOVA
]
BIG = '<hostRequires>\n  <system><memory op="&gt;=" value="4096"/></system>\n</hostRequires>\n'


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(command, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    paths = {}
    for name, content in [
        ("nova.json", NOVA),
        ("wrapped.json", {"flavors": NOVA}),
        ("cli.json", CLI_ROWS),
    ]:
        path = tmp_path / name
        path.write_text(json.dumps(content))
        paths[name] = str(path)
    (tmp_path / "big.xml").write_text(BIG)
    paths["big.xml"] = str(tmp_path / "big.xml")
    return paths


@pytest.mark.parametrize("shape", ["nova.json", "wrapped.json", "cli.json"])
def test_json_contract_with_each_flavor_shape(files: dict[str, str], shape: str) -> None:
    code, out, err = run(files["big.xml"], "--flavors", files[shape], "--json")
    assert code == 0, err
    result = json.loads(out)
    assert set(result) == {"virtualisable", "reasons", "flavors", "chosen", "warnings"}
    assert result["virtualisable"] is True
    assert result["flavors"] == ["m1.medium", "m1.large"]
    assert result["chosen"] == "m1.medium"
    assert any("m1.small" in r and "line 2" in r for r in result["reasons"])
    assert result["warnings"] == []


def test_no_flavor_fits_is_exit_0_with_reasons(files: dict[str, str]) -> None:
    doc = '<hostRequires><memory op="&gt;" value="100000"/></hostRequires>'
    code, out, _ = run("-", "--flavors", files["nova.json"], "--json", stdin=doc)
    assert code == 0
    result = json.loads(out)
    assert result["chosen"] is None
    assert result["flavors"] == []
    assert "no flavor satisfies the requirements:" in result["reasons"]


def test_defaults_kvm_and_x86(files: dict[str, str]) -> None:
    code, out, _ = run(
        "-",
        "--json",
        stdin='<hostRequires><arch value="i386"/><hypervisor value="KVM"/></hostRequires>',
    )
    assert code == 0
    assert json.loads(out)["virtualisable"] is True
    code, out, _ = run(
        "-",
        "--json",
        "--hypervisor",
        "Xen",
        stdin="<hostRequires><hypervisor value='KVM'/></hostRequires>",
    )
    result = json.loads(out)
    assert result["virtualisable"] is False
    assert "run on Xen" in result["reasons"][0]
    code, out, _ = run(
        "-",
        "--json",
        "--arch",
        "aarch64",
        stdin='<hostRequires><arch value="i386"/></hostRequires>',
    )
    assert json.loads(out)["virtualisable"] is False


def test_lab(files: dict[str, str]) -> None:
    doc = '<hostRequires><labcontroller value="lab1.example.com"/></hostRequires>'
    _, out, _ = run("-", "--json", "--lab", "lab2.example.com", stdin=doc)
    assert json.loads(out)["virtualisable"] is False
    _, out, _ = run("-", "--json", stdin=doc)
    result = json.loads(out)
    assert result["virtualisable"] is True
    assert "no lab given" in result["warnings"][0]


def test_human_output(files: dict[str, str]) -> None:
    code, out, _ = run(files["big.xml"], "--flavors", files["nova.json"])
    assert code == 0
    assert out.splitlines()[0] == "virtualisable: yes, on m1.medium"
    code, out, _ = run("-", stdin='<hostRequires><cpu><flag value="vmx"/></cpu></hostRequires>')
    assert out.splitlines()[0] == "virtualisable: no"
    assert "cpu.flag" in out


def test_whole_job_reports_each_recipe(files: dict[str, str]) -> None:
    job = """<job>
  <recipeSet>
    <recipe id="101"><hostRequires><memory op="&gt;=" value="4096"/></hostRequires>
      <task name="/a"/></recipe>
    <recipe id="102"><hostRequires>
      <cpu><flag value="vmx"/></cpu></hostRequires><task name="/a"/></recipe>
  </recipeSet>
  <recipeSet><recipe><task name="/a"/></recipe></recipeSet>
</job>"""
    code, out, _ = run("-", "--flavors", files["nova.json"], "--json", stdin=job)
    assert code == 0
    recipes = json.loads(out)["recipes"]
    assert [(r["recipe"], r["position"]) for r in recipes] == [
        ("recipe R:101", 1),
        ("recipe R:102", 2),
        ("recipe #3", 3),
    ]
    assert [r["chosen"] for r in recipes] == ["m1.medium", None, "m1.small"]
    assert "line 6" in recipes[1]["reasons"][0]  # lines are the job's
    code, out, _ = run("-", stdin=job)
    assert "recipe R:102: virtualisable: no" in out


@pytest.mark.parametrize(
    ("stdin", "fragment"),
    [
        ("<hostRequires>\n<memory value='x'/></hostRequires>", "<memory> at line 2"),
        ("<hostRequires>\n<and>\n</hostRequires>", "line 3"),
        ('<!DOCTYPE x [<!ENTITY a "b">]><hostRequires/>', "DOCTYPE"),
    ],
)
def test_bad_input_is_exit_2_with_one_line(stdin: str, fragment: str) -> None:
    code, out, err = run("-", "--json", stdin=stdin)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert fragment in err
    assert "Traceback" not in err


def test_bad_flavor_files_are_exit_2(tmp_path: Path) -> None:
    doc = "<hostRequires/>"
    for content, fragment in [
        ("not json", "not JSON"),
        ('{"x": 1}', "expected a list"),
        (
            '[{"id": "1", "name": "a", "ram": "lots", "disk": 1, "vcpus": 1}]',
            "'ram' must be a whole number",
        ),
        ('[{"id": "1", "name": "a"}]', "missing"),
    ]:
        path = tmp_path / "f.json"
        path.write_text(content)
        code, _, err = run("-", "--flavors", str(path), stdin=doc)
        assert code == 2
        assert fragment in err
        assert len(err.strip().splitlines()) == 1
    code, _, err = run("-", "--flavors", str(tmp_path / "absent.json"), stdin=doc)
    assert code == 2
    assert "cannot read" in err
    code, _, err = run(str(tmp_path / "absent.xml"))
    assert code == 2
    assert "cannot read" in err
