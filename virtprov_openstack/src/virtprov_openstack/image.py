"""The iPXE boot image: a small raw FAT disk with SYSLINUX that starts ``ipxe.lkrn``.

The kernel command line is the iPXE script ``dhcp && chain <url>``; iPXE expands
``${uuid}`` to the SMBIOS UUID, which on Nova is the instance id, so one image serves
every guest and the lab's ``ipxe-script`` endpoint decides what each one boots.
Built with Debian's ``ipxe``, ``syslinux`` and ``mtools`` packages, without root.
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
#: Where Debian's ``ipxe`` package puts the iPXE kernel, newest layout first.
IPXE_KERNELS: Final = (
    Path("/usr/lib/ipxe/ipxe.lkrn"),
    Path("/boot/ipxe.lkrn"),
    Path("/usr/share/ipxe/ipxe.lkrn"),
)
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


def _run(argv: list[str], stdin: bytes | None = None) -> None:
    tool = shutil.which(argv[0])
    if tool is None:
        package = "syslinux" if argv[0] == "syslinux" else "mtools"
        raise ImageToolError(
            f"{argv[0]} is not installed; install Debian's {package} package "
            f"(apt-get install {package} syslinux-common mtools)"
        )
    result = subprocess.run(
        [tool, *argv[1:]], input=stdin, capture_output=True, check=False, timeout=120
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).decode("utf-8", "replace").strip()
        raise ImageToolError(f"{' '.join(argv)} failed ({result.returncode}): {detail}")


def build_image(chain_url: str, output: Path, *, ipxe_kernel: Path | None = None) -> Path:
    """Write the raw boot disk to ``output`` and return its path."""
    kernel = find_ipxe_kernel(ipxe_kernel)
    config = syslinux_cfg(chain_url).encode()
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=output.parent, prefix=".ipxe-", delete=False) as tmp:
        tmp.truncate(IMAGE_BYTES)
        work = Path(tmp.name)
    try:
        # 4 MiB = 8192 sectors: 4 cylinders of 64 heads x 32 sectors.
        _run(["mformat", "-i", str(work), "-T", "8192", "-h", "64", "-s", "32", "-v", "IPXE", "::"])
        _run(["syslinux", "--install", str(work)])
        _run(["mcopy", "-i", str(work), str(kernel), "::ipxe.lkrn"])
        _run(["mcopy", "-i", str(work), "-", "::syslinux.cfg"], stdin=config)
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
    """Upload the disk to Glance v2 (raw, bare) and return the new image's id."""
    data = path.read_bytes()
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    sha256 = hashlib.sha256(data).hexdigest()
    reader = ProgressReader(path, on_read)
    try:
        image = conn.image.create_image(
            name,
            data=cast(Any, reader),  # streamed, never read whole
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
