"""The iPXE boot image: a small raw disk with SYSLINUX that starts ``ipxe.lkrn``.

The disk is partitioned the way a cloud expects a raw disk to be: an MBR with SYSLINUX's
boot code and one active FAT partition at 1 MiB holding SYSLINUX, ``ipxe.lkrn`` and its
configuration. (A FAT "superfloppy" without a partition table carries the MBR signature
too, and Glance's image-format safety checks refuse it as a broken MBR disk.)

The kernel command line is the iPXE script ``dhcp && chain <url>``; iPXE expands
``${uuid}`` to the SMBIOS UUID, which on Nova is the instance id, so one image serves
every guest and the lab's ``ipxe-script`` endpoint decides what each one boots.
Built with Debian's ``ipxe``, ``syslinux``, ``syslinux-common``, ``mtools`` and ``fdisk``
packages, without root.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

from virtprov import errors

if TYPE_CHECKING:
    from openstack.connection import Connection

IMAGE_BYTES: Final = 4 * 1024 * 1024
SECTOR_BYTES: Final = 512
#: The FAT partition starts at 1 MiB, aligned as every partitioning tool aligns it.
PARTITION_START: Final = 2048
PARTITION_SECTORS: Final = IMAGE_BYTES // SECTOR_BYTES - PARTITION_START
#: MBR partition type of a FAT12 file system (3 MiB of 1 KiB clusters is FAT12).
PARTITION_TYPE: Final = 0x01
#: The MBR's disk identifier: fixed, so that one chain URL always gives the same table.
DISK_ID: Final = 0x69505845
#: Where Debian's ``ipxe`` package puts the iPXE kernel, newest layout first.
IPXE_KERNELS: Final = (
    Path("/usr/lib/ipxe/ipxe.lkrn"),
    Path("/boot/ipxe.lkrn"),
    Path("/usr/share/ipxe/ipxe.lkrn"),
)
#: SYSLINUX's MBR boot code (it starts the active partition), Debian's layout first.
MBR_BOOT_CODES: Final = (
    Path("/usr/lib/syslinux/mbr/mbr.bin"),
    Path("/usr/share/syslinux/mbr.bin"),
    Path("/usr/lib/SYSLINUX/mbr.bin"),
)
#: The MBR's boot code area, before the disk signature and the partition table.
MBR_CODE_BYTES: Final = 440
#: Which Debian package brings each tool the build runs.
_PACKAGES: Final = {"syslinux": "syslinux", "sfdisk": "fdisk"}
#: Tag put on uploaded images, so that ``image_tag = "virtprov-ipxe"`` finds the newest.
IMAGE_TAG: Final = "virtprov-ipxe"


class ImageToolError(errors.VirtprovError):
    """The image cannot be built (a tool or file is missing); the message says how to fix."""


def syslinux_cfg(chain_url: str) -> str:
    """The SYSLINUX configuration that runs iPXE with the chain command."""
    if any(c in chain_url for c in "\n\r\"'") or not chain_url.strip():
        raise ImageToolError(f"--chain-url is not a usable URL: {chain_url!r}")
    return (
        "DEFAULT ipxe\n"
        "PROMPT 0\n"
        "TIMEOUT 0\n"
        "LABEL ipxe\n"
        "  KERNEL ipxe.lkrn\n"
        f"  APPEND dhcp && chain {chain_url}\n"
    )


def default_image_name(lab: str, today: datetime | None = None) -> str:
    """Beaker's naming: ``ipxe-beaker-<lab>-<YYYYMMDD>``."""
    day = (today or datetime.now(UTC)).strftime("%Y%m%d")
    return f"ipxe-beaker-{lab}-{day}"


def find_ipxe_kernel(explicit: Path | None = None) -> Path:
    candidates = (explicit,) if explicit else IPXE_KERNELS
    for path in candidates:
        if path is not None and path.is_file():
            return path
    where = ", ".join(str(p) for p in candidates if p is not None)
    raise ImageToolError(
        f"no iPXE kernel at {where}; install Debian's ipxe package (apt-get install ipxe) "
        "or pass --ipxe-kernel"
    )


def find_mbr_boot_code() -> Path:
    for path in MBR_BOOT_CODES:
        if path.is_file():
            return path
    where = ", ".join(str(p) for p in MBR_BOOT_CODES)
    raise ImageToolError(
        f"no SYSLINUX MBR boot code at {where}; install Debian's syslinux-common package "
        "(apt-get install syslinux-common)"
    )


def _run(argv: list[str], stdin: bytes | None = None) -> None:
    tool = shutil.which(argv[0])
    if tool is None:
        package = _PACKAGES.get(argv[0], "mtools")
        raise ImageToolError(
            f"{argv[0]} is not installed; install Debian's {package} package "
            f"(apt-get install {package})"
        )
    result = subprocess.run(
        [tool, *argv[1:]], input=stdin, capture_output=True, check=False, timeout=120
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).decode("utf-8", "replace").strip()
        raise ImageToolError(f"{' '.join(argv)} failed ({result.returncode}): {detail}")


def partition_table_script() -> str:
    """What ``sfdisk`` writes: an MBR table with one active FAT partition at 1 MiB."""
    return (
        "label: dos\n"
        f"label-id: {DISK_ID:#010x}\n"
        f"start={PARTITION_START}, size={PARTITION_SECTORS}, type={PARTITION_TYPE:x}, bootable\n"
    )


def build_image(chain_url: str, output: Path, *, ipxe_kernel: Path | None = None) -> Path:
    """Write the raw boot disk to ``output`` and return its path."""
    kernel = find_ipxe_kernel(ipxe_kernel)
    boot_code = find_mbr_boot_code().read_bytes()[:MBR_CODE_BYTES]
    config = syslinux_cfg(chain_url).encode()
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=output.parent, prefix=".ipxe-", delete=False) as tmp:
        tmp.truncate(IMAGE_BYTES)
        work = Path(tmp.name)
    offset = PARTITION_START * SECTOR_BYTES
    # mtools and syslinux address the partition as "<image>@@<byte offset>".
    partition = f"{work}@@{offset}"
    try:
        _run(
            ["sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", str(work)],
            stdin=partition_table_script().encode(),
        )
        # SYSLINUX's MBR code goes before the table sfdisk wrote (which it leaves alone).
        with work.open("r+b") as disk:
            disk.write(boot_code)
        # 3 MiB = 6144 sectors, 64 heads x 32 sectors; -H: the sectors before the partition.
        _run(
            [
                "mformat",
                "-i",
                partition,
                "-T",
                str(PARTITION_SECTORS),
                "-h",
                "64",
                "-s",
                "32",
                "-H",
                str(PARTITION_START),
                "-v",
                "IPXE",
                "::",
            ]
        )
        _run(["syslinux", "--offset", str(offset), "--install", str(work)])
        _run(["mcopy", "-i", partition, str(kernel), "::ipxe.lkrn"])
        _run(["mcopy", "-i", partition, "-", "::syslinux.cfg"], stdin=config)
        work.replace(output)
    finally:
        work.unlink(missing_ok=True)
    return output


class ProgressReader(io.RawIOBase):
    """A file that reports every read, so an upload can drive a progress bar."""

    def __init__(self, path: Path, on_read: Callable[[int], None]) -> None:
        self._file = path.open("rb")
        self._on_read = on_read
        self.size = path.stat().st_size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        # requests and vcrpy rewind the body to measure or replay it.
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def read(self, size: int = -1) -> bytes:
        chunk = self._file.read(size)
        self._on_read(len(chunk))
        return chunk

    def readinto(self, buffer: Any) -> int:
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def __len__(self) -> int:
        return self.size

    def close(self) -> None:
        self._file.close()
        super().close()


def upload_image(
    conn: Connection,
    path: Path,
    *,
    name: str,
    visibility: str = "public",
    on_read: Callable[[int], None] = lambda _n: None,
) -> str:
    """Upload the disk to Glance v2 (raw, bare) and return the new image's id.

    The file is read in chunks, never whole: once for its checksums, once as the body.
    """
    md5, sha256 = _checksums(path)
    reader = ProgressReader(path, on_read)
    try:
        image = conn.image.create_image(
            name,
            data=cast(Any, reader),  # requests streams a file-like body
            md5=md5,
            sha256=sha256,
            disk_format="raw",
            container_format="bare",
            visibility=visibility,
            tags=[IMAGE_TAG],
            allow_duplicates=True,
            meta={"hw_firmware_type": "bios"},
            architecture="x86_64",
        )
    finally:
        reader.close()
    return str(image.id)


def _checksums(path: Path) -> tuple[str, str]:
    """The file's MD5 and SHA-256, which openstacksdk keeps in the image's properties
    (``owner_specified.openstack.md5``, ``.sha256``) and would compute itself otherwise."""
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            md5.update(chunk)
            sha256.update(chunk)
    return md5.hexdigest(), sha256.hexdigest()
