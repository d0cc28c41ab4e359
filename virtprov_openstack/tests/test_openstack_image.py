"""The iPXE image tool: a real build with Debian's tools, and an upload from a cassette."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from openstack_testenv import PASSWORD_ENV, base_options
from virtprov_openstack.cli import group
from virtprov_openstack.image import (
    IMAGE_BYTES,
    IMAGE_TAG,
    PARTITION_START,
    build_image,
    syslinux_cfg,
)
from virtprov_openstack.provider import OpenStackProvider

CHAIN = "http://beaker.example.com/systems/by-uuid/${uuid}/ipxe-script"
needs_tools = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("mformat", "mcopy", "mtype", "syslinux", "sfdisk")),
    reason="needs Debian's mtools, syslinux and fdisk (scripts/bootstrap installs them)",
)


def test_syslinux_cfg_chains_with_uuid() -> None:
    cfg = syslinux_cfg(CHAIN)
    assert "KERNEL ipxe.lkrn" in cfg
    assert f"APPEND dhcp && chain {CHAIN}\n" in cfg


def test_bad_chain_url_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        group, ["create-ipxe-image", "--chain-url", "a\nb", "--no-upload"], catch_exceptions=False
    )
    assert result.exit_code == 1
    assert "--chain-url is not a usable URL" in result.output


@needs_tools
def test_build_real_image_no_upload(tmp_path: Path) -> None:
    out = tmp_path / "ipxe.img"
    result = CliRunner().invoke(
        group,
        ["create-ipxe-image", "--chain-url", CHAIN, "--no-upload", "--output", str(out)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out)
    assert out.stat().st_size == IMAGE_BYTES
    disk = out.read_bytes()
    assert disk[510:512] == b"\x55\xaa"
    # A partitioned disk: one active FAT partition at 1 MiB, as sfdisk reads it back.
    table = json.loads(
        subprocess.run(
            ["sfdisk", "--json", str(out)], capture_output=True, check=True, text=True
        ).stdout
    )["partitiontable"]
    assert table["label"] == "dos"
    assert [(p["start"], p["size"], p["type"], p.get("bootable")) for p in table["partitions"]] == [
        (PARTITION_START, IMAGE_BYTES // 512 - PARTITION_START, "1", True)
    ]
    partition = disk[PARTITION_START * 512 :]
    assert partition[3:11] == b"SYSLINUX"  # the partition's boot sector: syslinux --install ran
    image = f"{out}@@{PARTITION_START * 512}"
    cfg = subprocess.run(
        ["mtype", "-i", image, "::syslinux.cfg"], capture_output=True, check=True, text=True
    ).stdout
    assert f"chain {CHAIN}" in cfg
    listing = subprocess.run(
        ["mdir", "-i", image, "-a", "-b", "::"], capture_output=True, check=True, text=True
    ).stdout
    assert "ipxe.lkrn" in listing.lower()
    assert "ldlinux.sys" in listing.lower()


@needs_tools
def test_image_passes_glance_format_safety_checks(tmp_path: Path) -> None:
    """Glance inspects an upload with oslo.utils' format inspector and refuses (415) a
    disk that fails a safety check, unless the cloud relaxes ``gpt_safety_checks_nonfatal``.
    A raw disk with an MBR is inspected as "gpt", whose "mbr" check wants a valid table."""
    from oslo_utils.imageutils import format_inspector

    out = build_image(CHAIN, tmp_path / "ipxe.img")
    inspector = format_inspector.detect_file_format(str(out))
    assert str(inspector) == "gpt"
    inspector.safety_check()  # raises SafetyCheckFailed for a FAT superfloppy


def test_missing_partitioning_tool_names_its_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no tool at all
    kernel = tmp_path / "ipxe.lkrn"
    kernel.write_bytes(b"kernel")
    result = CliRunner().invoke(
        group,
        [
            "create-ipxe-image",
            "--chain-url",
            CHAIN,
            "--no-upload",
            "--output",
            str(tmp_path / "ipxe.img"),
            "--ipxe-kernel",
            str(kernel),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 1
    assert "sfdisk is not installed; install Debian's fdisk package" in result.output
    assert not (tmp_path / "ipxe.img").exists()
    assert not list(tmp_path.glob(".ipxe-*"))  # the half-built disk is gone too


@needs_tools
@pytest.mark.vcr
def test_upload_through_cli(
    tmp_path: Path, make_provider: Callable[..., OpenStackProvider], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_provider()  # sets the password variable the table below refers to
    lines = [
        "[providers.lab]",
        'driver = "openstack"',
        'lab = "lab.example.com"',
    ]
    for key, value in base_options().items():
        if isinstance(value, dict):
            lines.append(f'{key} = {{ env = "{PASSWORD_ENV}" }}')
        elif isinstance(value, str):
            lines.append(f'{key} = "{value}"')
        else:
            lines.append(f"{key} = {value}")
    config = tmp_path / "virtprov.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(
        group,
        [
            "create-ipxe-image",
            "--chain-url",
            CHAIN,
            "--provider",
            "lab",
            "--config",
            str(config),
            "--name",
            "ipxe-beaker-lab.example.com-test",
            "--visibility",
            "private",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    image_id = result.output.strip().splitlines()[-1]
    assert len(image_id) == 36
    # What Glance now holds, read back through the SDK.
    provider = make_provider()
    image = provider.conn.image.get_image(image_id)
    assert image.status == "active"
    assert image.size == IMAGE_BYTES
    assert image.disk_format == "raw"
    assert image.container_format == "bare"
    assert image.visibility == "private"
    assert IMAGE_TAG in image.tags
