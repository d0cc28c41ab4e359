"""A real OpenSSH server on 127.0.0.1 as the fake cloud's guest (a uniquely named module).

Generated host key, an ``authorized_keys`` the fake cloud writes each image boot's keys
to (as cloud-init would), a random free port; nothing leaves loopback.

The guest's system is this machine's. tmt installs its essential packages on a guest
(``/usr/bin/flock`` for its executor), and on Debian it looks paths up with apt-file,
which downloads indexes: the guest's sessions get ``apt`` and ``apt-file`` shims first
in their ``PATH`` that answer from dpkg's own database and never reach the network (a
package that is not installed is refused, as on a guest without a mirror).
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def sshd_missing() -> str | None:
    """Why no sshd can run here, or ``None``."""
    if not Path(SSHD).exists():
        return "openssh-server is not installed (scripts/bootstrap installs it)"
    if shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        return "openssh-client is not installed (scripts/bootstrap installs it)"
    return None


@attrs.frozen
class SshGuest:
    host: str
    port: int
    user: str
    authorized_keys: Path


APT_SHIM = """#!/bin/sh
# An offline apt for the test guest: installed packages only, no download.
case "$1" in
  --version) exec /usr/bin/apt --version ;;
  install)
    shift
    for package in "$@"; do
      case "$package" in -*) continue ;; apt-file) continue ;; esac
      dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || {
        echo "E: Unable to locate package $package (offline test guest)" >&2; exit 100; }
    done
    exit 0 ;;
  *) echo "E: apt $1 is not available on the offline test guest" >&2; exit 100 ;;
esac
"""

APT_FILE_SHIM = """#!/bin/sh
# An offline apt-file for the test guest: dpkg's file lists are the index.
case "$1" in
  update) exit 0 ;;
  search) shift; [ "$1" = --package-only ] && shift
          dpkg -S "$1" 2>/dev/null | cut -d: -f1 | tr ',' '\\n' | sed 's/^ *//' | sort -u ;;
  *) echo "apt-file $1 is not available on the offline test guest" >&2; exit 1 ;;
esac
"""


def _shims(where: Path) -> Path:
    shims = where / "bin"
    shims.mkdir(exist_ok=True)
    for name, text in (("apt", APT_SHIM), ("apt-file", APT_FILE_SHIM)):
        (shims / name).write_text(text)
        (shims / name).chmod(0o755)
    return shims


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_sshd(where: Path) -> Iterator[SshGuest]:
    """Start sshd (foreground, its own process) and stop it, whatever happens."""
    where.mkdir(parents=True, exist_ok=True)
    host_key = where / "ssh_host_ed25519_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
    authorized = where / "authorized_keys"
    authorized.touch(mode=0o600)
    shims = _shims(where)
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation
    for _attempt in range(5):
        port = _free_port()
        config = where / "sshd_config"
        config.write_text(
            f"Port {port}\n"
            "ListenAddress 127.0.0.1\n"
            f"HostKey {host_key}\n"
            f"PidFile {where / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {authorized}\n"
            "StrictModes no\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "UsePAM no\n"
            "PermitRootLogin prohibit-password\n"
            "MaxStartups 50\n"
            "MaxSessions 50\n"
            "Subsystem sftp internal-sftp\n"
            f"SetEnv PATH={shims}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
            "LogLevel ERROR\n"
        )
        log = (where / "sshd.log").open("ab")
        server = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=log, start_new_session=True
        )
        if _listening(port, server):
            break
        server.kill()
        server.wait()
    else:
        raise RuntimeError(f"sshd did not start: {(where / 'sshd.log').read_text()}")
    try:
        yield SshGuest("127.0.0.1", port, getpass.getuser(), authorized)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _listening(port: int, server: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False
