"""The iPXE image really boots: QEMU starts it and iPXE chains to the lab's boot script.

QEMU runs without KVM (TCG) with user-mode networking, in which the guest reaches the
host's loopback at 10.0.2.2: the "lab server" is an HTTP server this test runs on
127.0.0.1, answering ``/systems/by-uuid/<uuid>/ipxe-script`` as Beaker does. With
``-nographic`` SeaBIOS copies the screen to the serial port, which QEMU writes to a file,
so the test reads what an operator would see on the console.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from virtprov_openstack.image import build_image

UUID = "4a1c2f7e-0b8d-4c5e-9f3a-6d2b1e0c9a87"
CHAIN = "http://10.0.2.2:{port}/systems/by-uuid/${{uuid}}/ipxe-script"
MARKER = "virtprov test: the lab's boot script ran"
#: Seconds for SeaBIOS, SYSLINUX, iPXE and DHCP under TCG on a busy machine.
BOOT_TIMEOUT = 240.0
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1bc")


def qemu() -> str:
    found = shutil.which("qemu-system-x86_64")
    if found:
        return found
    if os.environ.get("VIRTPROV_REQUIRE_QEMU"):
        pytest.fail("VIRTPROV_REQUIRE_QEMU is set but qemu-system-x86_64 is not installed")
    pytest.skip("needs qemu-system-x86_64: Debian's qemu-system-x86 (scripts/bootstrap has it)")


class LabServer(ThreadingHTTPServer):
    """Beaker's ipxe-script endpoint for one guest: a script for its UUID, 404 otherwise."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _LabHandler)
        self.requests: list[str] = []


class _LabHandler(BaseHTTPRequestHandler):
    server: LabServer

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        if self.path != f"/systems/by-uuid/{UUID}/ipxe-script":
            self.send_error(404)
            return
        body = f"#!ipxe\necho {MARKER}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def lab_server() -> Iterator[LabServer]:
    server = LabServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def console_text(path: Path) -> str:
    raw = path.read_bytes().decode("utf-8", "replace") if path.exists() else ""
    return ANSI.sub("", raw).replace("\r", "")


@pytest.mark.slow
@pytest.mark.skipif(
    not all(shutil.which(t) for t in ("mformat", "mcopy", "syslinux", "sfdisk")),
    reason="needs Debian's mtools, syslinux and fdisk (scripts/bootstrap installs them)",
)
def test_image_boots_in_qemu_and_chains_to_the_lab(tmp_path: Path, lab_server: LabServer) -> None:
    binary = qemu()
    port = lab_server.server_address[1]
    image = build_image(CHAIN.format(port=port), tmp_path / "ipxe.img")
    console = tmp_path / "console.log"
    argv = [
        binary,
        "-machine", "pc", "-accel", "tcg", "-m", "128",
        "-nographic", "-monitor", "none", "-serial", f"file:{console}", "-no-reboot",
        "-drive", f"file={image},format=raw,if=ide",
        "-nic", "user,model=e1000",
        "-uuid", UUID,
    ]  # fmt: skip
    with (tmp_path / "qemu.log").open("wb") as log:
        vm = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + BOOT_TIMEOUT
            while MARKER not in console_text(console) and vm.poll() is None:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        finally:
            vm.terminate()
            try:
                vm.wait(timeout=10)
            except subprocess.TimeoutExpired:
                vm.kill()
                vm.wait()
    text = console_text(console)
    print(text)  # shown with -s, and on failure
    assert MARKER in text, (tmp_path / "qemu.log").read_text(errors="replace")
    # iPXE wraps at 80 columns: look for the chain line with the wraps undone.
    flat = text.replace("\n", "")
    assert "Booting from Hard Disk..." in text
    assert "Loading ipxe.lkrn... ok" in text
    assert f"http://10.0.2.2:{port}/systems/by-uuid/{UUID}/ipxe-script... ok" in flat
    assert lab_server.requests == [f"/systems/by-uuid/{UUID}/ipxe-script"]
    assert_in_order(documented_console(), text.splitlines())


DOCS = Path(__file__).resolve().parents[2] / "docs" / "openstack.md"


def documented_console() -> list[str]:
    """The console lines docs/openstack.md shows (the block after "What the console shows")."""
    after = DOCS.read_text(encoding="utf-8").split("What the console shows", 1)[1]
    block = after.split("```text\n", 1)[1].split("```", 1)[0]
    return block.rstrip("\n").split("\n")


def assert_in_order(documented: list[str], console: list[str]) -> None:
    """Each documented line (``…`` = any text) appears in the console, in that order."""
    remaining = iter(line.rstrip() for line in console)
    for want in documented:
        pattern = re.compile(".*".join(re.escape(part) for part in want.split("…")))
        assert any(pattern.fullmatch(line) for line in remaining), (
            f"docs/openstack.md shows {want!r}, which the console does not (in that order)"
        )
