"""``virtprov check``: the contract operators and tooling rely on."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from virtprov.cli.check import command

VIRTPROV = [sys.executable, "-c", "from virtprov.cli import main; main()"]

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


# -- bounded reads ---------------------------------------------------------------------------


def test_a_document_is_read_no_further_than_its_limit() -> None:
    code, out, err = run("/dev/zero")  # read until MemoryError before
    assert code == 2
    assert out == ""
    assert (
        err
        == "virtprov: /dev/zero: document over the limit of 8388608 bytes (reading stopped there)\n"
    )


@pytest.mark.timeout(60)
def test_an_endless_pipe_stops_at_the_limit() -> None:
    check = subprocess.Popen(
        [*VIRTPROV, "check", "-"], stdin=subprocess.PIPE, stderr=subprocess.PIPE
    )
    stdin, stderr = check.stdin, check.stderr
    assert stdin is not None
    assert stderr is not None

    def feed() -> None:
        with contextlib.suppress(OSError, ValueError):  # the reader stopped: a broken pipe
            while True:
                stdin.write(b"<hostRequires>" * 4096)

    threading.Thread(target=feed, daemon=True).start()
    assert check.wait(timeout=60) == 2
    err = stderr.read().decode()
    assert "<stdin>: document over the limit of 8388608 bytes" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("option", ["--flavors", "--presets"])
def test_flavor_and_preset_files_are_read_no_further_than_their_limit(option: str) -> None:
    code, _, err = run("-", option, "/dev/zero", stdin="<hostRequires/>")
    assert code == 2
    assert "/dev/zero: " in err
    assert "over the limit of" in err
    assert len(err.strip().splitlines()) == 1


def test_presets_go_through_the_yaml_guard(tmp_path: Path) -> None:
    presets = tmp_path / "presets.yaml"
    levels = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    levels += [f"l{n}: &l{n} [" + ",".join([f"*l{n - 1}"] * 9) + "]" for n in range(1, 9)]
    presets.write_text("\n".join(levels) + "\n")
    code, _, err = run("-", "--presets", str(presets), stdin="preset: l8\n")
    assert code == 2
    assert "too many values" in err
    presets.write_bytes(b"small:\n  memory: caf\xe9\n")  # not UTF-8
    code, _, err = run("-", "--presets", str(presets), stdin="preset: small\n")
    assert code == 2
    assert "not valid YAML" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("content", ["", "  \n\n", "\t\n", "# nothing here\n"])
@pytest.mark.parametrize("document_format", ["auto", "tmt", "hostrequires"])
def test_an_empty_document_is_an_error(tmp_path: Path, content: str, document_format: str) -> None:
    empty = tmp_path / "empty"
    empty.write_text(content)
    code, out, err = run(str(empty), "--format", document_format)  # was "virtualisable: yes"
    assert (code, out) == (2, "")
    assert "empty document" in err or "not well-formed" in err


def test_flavor_files_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    for content, fragment in [
        ("[" * 100_000 + "]" * 100_000, "nested too deep"),  # a RecursionError before
        ('[{"id": "1", "name": "a", "ram": ' + "9" * 5000 + ', "disk": 1, "vcpus": 1}]',
         "more than 30 digits"),
        ('[{"id": "1", "name": "a", "ram": "' + "9" * 50 + '", "disk": 1, "vcpus": 1}]',
         "more than 30 digits"),
        ('[{"id": "1", "name": "a", "ram": 1, "disk": 1, "vcpus": 1, "Properties": "oops"}]',
         "extra specs are not key='value' pairs at character 1: 'oops'"),
    ]:  # fmt: skip
        path.write_text(content)
        code, _, err = run("-", "--flavors", str(path), stdin="<hostRequires/>")
        assert code == 2
        assert fragment in err
        assert len(err.strip().splitlines()) == 1


@pytest.mark.timeout(10)
def test_extra_specs_text_is_read_in_one_pass(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    doc = "<hostRequires><cpu><flag value='vmx'/></cpu></hostRequires>"
    specs = "hw:cpu_policy='dedicated, really', " * 2000 + "trait:HW_CPU_X86_VMX='required'"
    path.write_text(json.dumps([{**CLI_ROWS[3], "Properties": specs}]))
    code, out, err = run("-", "--flavors", str(path), "--json", stdin=doc)
    assert code == 0, err
    assert json.loads(out)["chosen"] == "m1.large"
    # 40,000 characters of no pairs: 12 s of a backtracking pattern, then silence
    path.write_text(json.dumps([{**CLI_ROWS[3], "Properties": "x" * 40_000}]))
    code, _, err = run("-", "--flavors", str(path), stdin=doc)
    assert code == 2
    assert "extra specs are not key='value' pairs at character 1: 'xxxx" in err


# -- what reaches the terminal ---------------------------------------------------------------


def test_reasons_and_errors_reach_the_terminal_escaped() -> None:
    doc = 'location:\n  lab-controller: "lab\\x9b2J\\u202e"\n'
    code, out, _ = run("-", "--lab", "lab.example.com", stdin=doc)
    assert code == 0
    assert "\x9b" not in out
    assert "\u202e" not in out
    assert "lab\\x9b2J\\u202e" in out
    code, out, err = run("-", stdin='cpu:\n  "bogus\\x9b[2J": 1\n')
    assert code == 2
    assert "\x9b" not in err
    assert "bogus\\x9b[2J" in err


def test_convert_writes_unsafe_characters_as_references() -> None:
    from virtprov.cli.convert import command as convert

    result = CliRunner().invoke(
        convert, ["-", "--to", "hostrequires"], input='hostname: "a\\u202eb\\x85c"\n'
    )
    assert result.exit_code == 0, result.stderr
    assert "\u202e" not in result.stdout
    assert "\x85" not in result.stdout
    assert 'value="a&#x202e;b&#x85;c"' in result.stdout


def test_convert_of_a_huge_hex_number_is_exit_2() -> None:
    from virtprov.cli.convert import command as convert

    result = CliRunner().invoke(
        convert, ["-", "--to", "hostrequires"], input=f"cpu:\n  model: '0x{'f' * 4000}'\n"
    )
    assert result.exit_code == 2  # a traceback (int to str past 4300 digits) before
    assert "hardware.cpu.model at line 2" in result.stderr
    assert "more than 30 digits" in result.stderr


# -- provision --host-requires ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "over the limit of 1048576 bytes"),  # /dev/zero: MemoryError before
        (b'<hostRequires><hostname value="caf\xe9"/></hostRequires>', "not well-formed XML"),
        (b"hostname: caf\xe9\n", "not valid YAML"),  # a UnicodeDecodeError before
        (b"", "empty document"),
    ],
)
def test_provision_reads_host_requires_bounded_and_as_bytes(
    cli_env: dict[str, str], tmp_path: Path, content: bytes | None, fragment: str
) -> None:
    path = Path("/dev/zero")
    if content is not None:
        path = tmp_path / "hr"
        path.write_bytes(content)
    made = subprocess.run(
        [*VIRTPROV, "provision", "--host-requires", str(path), "--poll-interval", "0.01"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 2
    assert f"--host-requires {path}: " in made.stderr
    assert fragment in made.stderr
    assert "Traceback" not in made.stderr
