"""The reference OpenStack: real Keystone, Glance, Placement, Nova and Neutron on 127.0.0.1.

Run through ``scripts/reference-openstack up|down|status`` (see docs/reference-openstack.md).
Everything lives under ``.reference-openstack/`` of the clone (``VIRTPROV_REFOS_DIR``
overrides it): the services' virtual environment, configs, databases, logs, PID records,
the generated passwords and ``clouds.yaml``. Needs root (the broker and the database run
as their own Debian users), Python 3.11 and Debian 12's ``rabbitmq-server`` and
``mariadb-server`` (installed when missing).

Only the standard library is used here; ``seed.py`` runs inside the services' venv.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
STATE = Path(os.environ.get("VIRTPROV_REFOS_DIR") or ROOT / ".reference-openstack").resolve()
VENV = STATE / "venv"
ETC = STATE / "etc"
DATA = STATE / "data"
LOGS = STATE / "logs"
RUN = STATE / "run"
HOST = "127.0.0.1"
REGION = "RegionOne"
CLOUD = "virtprov-reference"

PORTS = {
    "mariadb": 19306,
    "epmd": 19369,
    "rabbitmq": 19672,
    "rabbitmq-dist": 19673,
    "keystone": 19500,
    "glance": 19292,
    "placement": 19778,
    "nova-api": 19774,
    "neutron": 19696,
}
KEYSTONE_URL = f"http://{HOST}:{PORTS['keystone']}/v3"
# What the fake hypervisor reports to Placement (shims/driver.py): 8 vCPUs, 16 GiB, 100 GiB.
HYPERVISOR = {"vcpus": 8, "ram_mib": 16384, "disk_gib": 100}
# The largest of the seeded flavors a guest may boot (m1.large and m1.nested: 4 vCPUs,
# 8 GiB; m1.nested's 90 GiB disk); m1.xlarge is meant never to fit (seed.py).
LARGEST = {"vcpus": 4, "ram_mib": 8192, "disk_gib": 90}
# `up --guests N`: at most this many (the seeded networks are /24s, and a floating-mode
# guest takes two addresses of the external one: see quotas in seed.py).
MAX_GUESTS = 250
DEBIAN_PACKAGES = ("rabbitmq-server", "mariadb-server")
DATABASES = ("keystone", "glance", "placement", "nova_api", "nova", "nova_cell0", "neutron")
# Service start order; `down` goes the other way.
ORDER = (
    "mariadb",
    "epmd",
    "rabbitmq",
    "keystone",
    "placement",
    "glance",
    "neutron",
    "nova-api",
    "nova-conductor",
    "nova-scheduler",
    "nova-compute",
)
WSGI_APPS = {
    "keystone": ("keystone.wsgi.api:application", "OS_KEYSTONE_CONFIG_DIR", "keystone"),
    "placement": ("placement.wsgi.api:application", "OS_PLACEMENT_CONFIG_DIR", "placement"),
    "glance": ("glance.wsgi.api:application", "OS_GLANCE_CONFIG_DIR", "glance"),
    "neutron": ("neutron.wsgi.api:application", "OS_NEUTRON_CONFIG_DIR", "neutron"),
    "nova-api": ("nova.wsgi.osapi_compute:application", "OS_NOVA_CONFIG_DIR", "nova"),
}


def log(message: str) -> None:
    print(f"reference-openstack: {message}", file=sys.stderr, flush=True)


class Failure(Exception):
    """A step failed; the message says which, and where its log is."""


# -- processes we started ---------------------------------------------------------------


def _proc_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # pid (comm) state ppid pgrp session ... ; comm may hold spaces and parentheses.
    return [raw[: raw.index(" ")], "comm", *raw[raw.rindex(")") + 2 :].split()]


def _start_time(pid: int) -> str | None:
    stat = _proc_stat(pid)
    return stat[21] if stat else None


@dataclass
class Record:
    """A process started by `up`: its PID, start time (against PID reuse) and command."""

    name: str
    pid: int
    start: str
    command: list[str] = field(default_factory=list)
    config: str = ""

    @property
    def path(self) -> Path:
        return RUN / f"{self.name}.json"

    def save(self) -> None:
        self.path.write_text(json.dumps(self.__dict__) + "\n")

    def alive(self) -> bool:
        return _start_time(self.pid) == self.start

    def members(self) -> list[int]:
        """Every live process in this record's session (start_new_session made it one)."""
        if not self.alive():
            return []
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            stat = _proc_stat(int(entry.name))
            if stat and (int(stat[4]) == self.pid or int(stat[5]) == self.pid):
                found.append(int(entry.name))
        return found


def load_record(name: str) -> Record | None:
    path = RUN / f"{name}.json"
    try:
        return Record(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def running(name: str) -> Record | None:
    record = load_record(name)
    return record if record is not None and record.alive() else None


def spawn(
    name: str,
    command: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    user: str | None = None,
    cwd: Path | None = None,
    config: str = "",
) -> Record:
    """Start a service detached, in a session of its own, its output in logs/NAME.log."""
    logfile = (LOGS / f"{name}.log").open("ab")
    logfile.write(f"\n==== {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} start\n".encode())
    logfile.flush()
    process = subprocess.Popen(
        list(command),
        stdin=subprocess.DEVNULL,
        stdout=logfile,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        cwd=cwd or STATE,
        user=user,
        group=user,
        extra_groups=[] if user else None,
        start_new_session=True,
    )
    logfile.close()
    start = None
    for _ in range(100):
        start = _start_time(process.pid)
        if start:
            break
        time.sleep(0.01)
    if start is None:
        raise Failure(f"{name} exited at once; see {LOGS / (name + '.log')}")
    record = Record(name=name, pid=process.pid, start=start, command=list(command), config=config)
    record.save()
    return record


def stop(name: str, *, timeout: float = 20.0) -> bool:
    """Stop what `up` started under NAME (TERM, then KILL), and nothing else."""
    record = load_record(name)
    if record is None:
        return False
    members = record.members()
    if members:
        log(f"stopping {name} (pid {record.pid}, {len(members)} process(es))")
        for pid in members:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(_start_time(p) for p in members):
            time.sleep(0.1)
        for pid in members:
            if _start_time(pid):
                log(f"{name}: pid {pid} ignored TERM, killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        # Reap our own children where we are their parent; harmless otherwise.
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
    record.path.unlink(missing_ok=True)
    return bool(members)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def wait_port(name: str, port: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        if running(name) is None:
            raise Failure(f"{name} died while starting; see {LOGS / (name + '.log')}")
        time.sleep(0.2)
    raise Failure(f"{name} did not listen on {HOST}:{port} in {timeout:.0f} s; see its log")


def redact(text: str) -> str:
    """Text with every generated password replaced, for logs and error messages."""
    path = STATE / "passwords.json"
    if path.exists():
        for secret in json.loads(path.read_text()).values():
            text = text.replace(secret, "<password>")
    return text


def run(
    name: str, command: Sequence[str], *, env: dict[str, str] | None = None, quiet: bool = False
) -> str:
    """Run a setup command to completion; its output goes to logs/setup.log."""
    started = time.monotonic()
    result = subprocess.run(
        list(command),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=STATE,
        check=False,
    )
    with (LOGS / "setup.log").open("a") as out:
        out.write(redact(f"\n==== {name}: {' '.join(command)} -> {result.returncode}\n"))
        out.write(redact(result.stdout))
        out.write(redact(result.stderr))
    if result.returncode != 0:
        tail = redact("\n".join((result.stderr or result.stdout).strip().splitlines()[-15:]))
        raise Failure(f"{name} failed ({result.returncode}); see {LOGS / 'setup.log'}:\n{tail}")
    if not quiet:
        log(f"{name}: done in {time.monotonic() - started:.1f} s")
    return result.stdout


# -- installation -------------------------------------------------------------------------


def require_root() -> None:
    if os.geteuid() != 0:
        raise Failure("needs root: the broker and the database run as the rabbitmq and mysql users")


def debian_packages() -> None:
    missing = []
    for package in DEBIAN_PACKAGES:
        status = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
        )
        if "install ok installed" not in status.stdout:
            missing.append(package)
    if not missing:
        return
    log(f"installing Debian packages: {' '.join(missing)}")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    run("apt-get update", ["apt-get", "update", "-qq"], env=env)
    # Debian's maintainer scripts would start the daemons through the init system;
    # `up` starts them itself, so keep them from starting here.
    policy = Path("/usr/sbin/policy-rc.d")
    made_policy = not policy.exists()
    if made_policy:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        run(
            "apt-get install",
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
            env=env,
        )
    finally:
        if made_policy:
            policy.unlink(missing_ok=True)


def uv() -> str:
    tool = ROOT / ".tools" / "bin" / "uv"
    if not tool.exists():
        log("installing uv into .tools/ (as scripts/bootstrap does)")
        run("venv .tools", [sys.executable, "-m", "venv", str(ROOT / ".tools")])
        run("pip install uv", [str(ROOT / ".tools" / "bin" / "pip"), "install", "-q", "uv>=0.5"])
    return str(tool)


def install_venv() -> None:
    """The services from PyPI, pinned by constraints.txt, in their own venv."""
    constraints = HERE / "constraints.txt"
    shims = HERE / "shims"
    digest = hashlib.sha256()
    for path in [constraints, *sorted(shims.rglob("*.py")), shims / "pyproject.toml"]:
        digest.update(path.read_bytes())
    stamp = VENV / ".virtprov-installed"
    if stamp.exists() and stamp.read_text().strip() == digest.hexdigest():
        return
    tool = uv()
    env = {"UV_PYTHON_DOWNLOADS": "never", "UV_LINK_MODE": "copy", "UV_COMPILE_BYTECODE": "1"}
    started = time.monotonic()
    if not (VENV / "bin" / "python").exists():
        run("create venv", [tool, "venv", "-q", "--python", sys.executable, str(VENV)], env=env)
    packages = [
        line.split("==")[0]
        for line in constraints.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    log(f"installing {len(packages)} pinned distributions into {VENV} (about a minute)")
    # Built from a copy: setuptools leaves build/ behind in the tree it builds.
    source = STATE / "shims-source"
    shutil.rmtree(source, ignore_errors=True)
    shutil.copytree(shims, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    python = str(VENV / "bin" / "python")
    run(
        "uv pip install",
        [tool, "pip", "install", "-q", "--python", python, "-r", str(constraints), str(source)],
        env=env,
    )
    stamp.write_text(digest.hexdigest() + "\n")
    log(f"services installed in {time.monotonic() - started:.0f} s")


# -- secrets and configs ------------------------------------------------------------------


def passwords() -> dict[str, str]:
    path = STATE / "passwords.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    made = {
        key: secrets.token_urlsafe(18) for key in ("admin", "service", "user", "database", "broker")
    }
    path.touch(mode=0o600)
    path.write_text(json.dumps(made, indent=1) + "\n")
    return made


def ini(sections: dict[str, dict[str, object]]) -> str:
    out = ["# Written by scripts/reference-openstack; changes are overwritten by `up`.\n"]
    for section, options in sections.items():
        out.append(f"[{section}]\n")
        for key, value in options.items():
            if isinstance(value, bool):
                value = str(value).lower()
            out.append(f"{key} = {value}\n")
        out.append("\n")
    return "".join(out)


def allocation_ratios(guests: int | None) -> dict[str, float]:
    """Placement's allocation ratios so that ``guests`` guests of the largest bootable
    flavor fit on the fake hypervisor at once: 1.0 each without ``--guests``.

    Only the totals grow: a single guest still cannot be larger than the hypervisor
    (Placement's ``max_unit``), so m1.xlarge still finds no valid host.
    """
    if guests is None:
        return {"cpu": 1.0, "ram": 1.0, "disk": 1.0}

    def ratio(need: int, have: int) -> float:
        return max(1.0, float(math.ceil(guests * need / have)))

    return {
        "cpu": ratio(LARGEST["vcpus"], HYPERVISOR["vcpus"]),
        "ram": ratio(LARGEST["ram_mib"], HYPERVISOR["ram_mib"]),
        "disk": ratio(LARGEST["disk_gib"], HYPERVISOR["disk_gib"]),
    }


def write_configs(pw: dict[str, str], guests: int | None = None) -> None:
    def db(name: str) -> str:
        return f"mysql+pymysql://openstack:{pw['database']}@{HOST}:{PORTS['mariadb']}/{name}"

    transport = f"rabbit://virtprov:{pw['broker']}@{HOST}:{PORTS['rabbitmq']}/"

    def service_login(user: str) -> dict[str, object]:
        """How a service's user logs in to Keystone, in the service project."""
        return {
            "auth_url": KEYSTONE_URL,
            "auth_type": "password",
            "project_domain_name": "Default",
            "user_domain_name": "Default",
            "project_name": "service",
            "username": user,
            "password": pw["service"],
            "region_name": REGION,
        }

    def authtoken(user: str) -> dict[str, object]:
        return {
            "www_authenticate_uri": KEYSTONE_URL,
            **service_login(user),
            "interface": "public",
            "service_token_roles_required": True,
        }

    def client(user: str) -> dict[str, object]:
        return {**service_login(user), "valid_interfaces": "public"}

    def locking(service: str, sections: dict[str, dict[str, object]]) -> str:
        """The configuration of a service that takes oslo.concurrency locks, in its own
        directory (made below)."""
        return ini({**sections, "oslo_concurrency": {"lock_path": DATA / service / "locks"}})

    base = {"debug": False, "use_stderr": True}
    files: dict[str, str] = {}
    files["keystone/keystone.conf"] = ini(
        {
            "DEFAULT": base,
            "database": {"connection": db("keystone")},
            "token": {"provider": "fernet", "expiration": 14400},
            "fernet_tokens": {"key_repository": DATA / "keystone" / "fernet-keys"},
            "credential": {"key_repository": DATA / "keystone" / "credential-keys"},
        }
    )
    files["placement/placement.conf"] = ini(
        {
            "DEFAULT": base,
            "api": {"auth_strategy": "keystone"},
            "keystone_authtoken": authtoken("placement"),
            "placement_database": {"connection": db("placement")},
        }
    )
    files["glance/glance-api.conf"] = locking(
        "glance",
        {
            "DEFAULT": {**base, "enabled_backends": "fs:file"},
            "database": {"connection": db("glance")},
            "glance_store": {"default_backend": "fs"},
            # [image_format] keeps Glance's defaults: uploads are inspected and one that
            # fails a safety check is refused (415), as in any current cloud. virtprov's
            # iPXE disk passes them (the live suite uploads it).
            "fs": {"filesystem_store_datadir": DATA / "glance" / "images"},
            "os_glance_staging_store": {"filesystem_store_datadir": DATA / "glance" / "staging"},
            "os_glance_tasks_store": {"filesystem_store_datadir": DATA / "glance" / "tasks"},
            "keystone_authtoken": authtoken("glance"),
            "paste_deploy": {"flavor": "keystone"},
        },
    )
    files["neutron/neutron.conf"] = locking(
        "neutron",
        {
            "DEFAULT": {
                **base,
                "core_plugin": "ml2",
                "service_plugins": "router",
                "auth_strategy": "keystone",
                "transport_url": transport,
                "allow_overlapping_ips": True,
                "notify_nova_on_port_status_changes": True,
                "notify_nova_on_port_data_changes": True,
                "state_path": DATA / "neutron",
                "api_paste_config": ETC / "neutron" / "api-paste.ini",
            },
            "database": {"connection": db("neutron")},
            "keystone_authtoken": authtoken("neutron"),
            "nova": client("neutron"),
        },
    )
    files["neutron/plugins/ml2/ml2_conf.ini"] = ini(
        {
            # No agent and no data plane: the shims' driver binds every port at once.
            "ml2": {
                "type_drivers": "flat,local",
                "tenant_network_types": "local",
                "mechanism_drivers": "virtprov_bind_any",
                "extension_drivers": "port_security",
            },
            "ml2_type_flat": {"flat_networks": "public"},
        }
    )
    nova = {
        "DEFAULT": {
            **base,
            "transport_url": transport,
            "compute_driver": "fake.IpxeFakeDriver",
            "host": "virtprov-reference-compute",
            "my_ip": HOST,
            "state_path": DATA / "nova",
            "instances_path": DATA / "nova" / "instances",
            "reserved_host_memory_mb": 0,
            "reserved_host_disk_mb": 0,
            **{
                f"{prefix}{what}_allocation_ratio": value
                for what, value in allocation_ratios(guests).items()
                for prefix in ("initial_", "")
            },
            # The fake driver plugs nothing: never wait for network-vif-plugged.
            "vif_plugging_is_fatal": False,
            "vif_plugging_timeout": 0,
        },
        "api": {"auth_strategy": "keystone"},
        "wsgi": {"api_paste_config": ETC / "nova" / "api-paste.ini"},
        "api_database": {"connection": db("nova_api")},
        "database": {"connection": db("nova")},
        "keystone_authtoken": authtoken("nova"),
        "placement": client("nova"),
        "neutron": client("nova"),
        "glance": {"region_name": REGION, "valid_interfaces": "public"},
        "service_user": {**client("nova"), "send_service_user_token": True},
        "scheduler": {"discover_hosts_in_cells_interval": 2, "workers": 1},
        "conductor": {"workers": 1},
        "vnc": {"enabled": False},
    }
    files["nova/nova.conf"] = locking("nova", nova)
    for rel, text in files.items():
        path = ETC / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(text)
    # The paste pipelines the wheels ship as data files.
    for service, name in (
        ("nova", "api-paste.ini"),
        ("neutron", "api-paste.ini"),
        ("glance", "glance-api-paste.ini"),
    ):
        shutil.copyfile(VENV / "etc" / service / name, ETC / service / name)
    for sub in (
        "keystone",
        "glance/images",
        "glance/staging",
        "glance/tasks",
        "glance/locks",
        "neutron/locks",
        "nova/instances",
        "nova/locks",
    ):
        (DATA / sub).mkdir(parents=True, exist_ok=True)


def write_clouds(pw: dict[str, str]) -> Path:
    """clouds.yaml: the seeded user in its project, and one entry per provoked fault."""

    def entry(project: str, username: str = "virtprov") -> dict[str, object]:
        return {
            "auth_type": "v3password",
            "auth": {
                "auth_url": KEYSTONE_URL,
                "username": username,
                "password": pw["user"] if username == "virtprov" else pw["admin"],
                "project_name": project,
                "user_domain_name": "Default",
                "project_domain_name": "Default",
            },
            "region_name": REGION,
            "identity_api_version": 3,
        }

    clouds = {
        CLOUD: entry("lab"),
        f"{CLOUD}-quota-instances": entry("lab-quota-instances"),
        f"{CLOUD}-quota-cores-ram": entry("lab-quota-cores-ram"),
        f"{CLOUD}-overquota": entry("lab-overquota"),
        f"{CLOUD}-wrong-user": entry("lab", "wrong-user"),
        f"{CLOUD}-admin": entry("admin", "admin"),
    }
    wrong = clouds[f"{CLOUD}-wrong-user"]["auth"]
    assert isinstance(wrong, dict)
    wrong["password"] = "not-the-password"  # noqa: S105 - a wrong one on purpose
    path = STATE / "clouds.yaml"
    path.touch(mode=0o600)
    # JSON is YAML: no YAML library needed here.
    path.write_text(json.dumps({"clouds": clouds}, indent=2) + "\n")
    return path


# -- the services -------------------------------------------------------------------------


def venv_bin(name: str) -> str:
    return str(VENV / "bin" / name)


def start_mariadb(pw: dict[str, str]) -> None:
    datadir = DATA / "mariadb"
    sockdir = RUN / "mariadb"
    sockdir.mkdir(parents=True, exist_ok=True)
    shutil.chown(sockdir, "mysql", "mysql")
    socket_path = sockdir / "mysqld.sock"
    if not (datadir / "mysql").exists():
        datadir.mkdir(parents=True, exist_ok=True)
        shutil.chown(datadir, "mysql", "mysql")
        run(
            "mariadb-install-db",
            [
                "mariadb-install-db",
                "--user=mysql",
                f"--datadir={datadir}",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ],
        )
    if running("mariadb") is None:
        spawn(
            "mariadb",
            [
                "/usr/sbin/mariadbd",
                "--no-defaults",
                "--user=mysql",
                f"--datadir={datadir}",
                f"--socket={socket_path}",
                f"--pid-file={sockdir / 'mariadbd.pid'}",
                f"--port={PORTS['mariadb']}",
                f"--bind-address={HOST}",
                "--skip-name-resolve",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_general_ci",
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-doublewrite=0",
                "--innodb-buffer-pool-size=256M",
                "--max-connections=500",
            ],
        )
        wait_port("mariadb", PORTS["mariadb"])
    statements = [f"CREATE DATABASE IF NOT EXISTS {name};" for name in DATABASES]
    statements += [
        f"CREATE USER IF NOT EXISTS 'openstack'@'{HOST}' IDENTIFIED BY '{pw['database']}';",
        f"ALTER USER 'openstack'@'{HOST}' IDENTIFIED BY '{pw['database']}';",
        f"GRANT ALL PRIVILEGES ON *.* TO 'openstack'@'{HOST}';",
    ]
    result = subprocess.run(
        ["mariadb", f"--socket={socket_path}", "-u", "root"],
        input="\n".join(statements),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise Failure(f"creating the databases failed: {result.stderr.strip()}")


def start_rabbitmq(pw: dict[str, str]) -> None:
    home = DATA / "rabbitmq"
    home.mkdir(parents=True, exist_ok=True)
    (home / "enabled_plugins").write_text("[].\n")
    for path in [home, *home.rglob("*")]:
        shutil.chown(path, "rabbitmq", "rabbitmq")
    env = {
        "HOME": str(home),
        "ERL_EPMD_PORT": str(PORTS["epmd"]),
        "ERL_EPMD_ADDRESS": HOST,
        "RABBITMQ_NODENAME": "virtprov-reference@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": HOST,
        "RABBITMQ_NODE_PORT": str(PORTS["rabbitmq"]),
        "RABBITMQ_DIST_PORT": str(PORTS["rabbitmq-dist"]),
        "RABBITMQ_MNESIA_BASE": str(home / "mnesia"),
        "RABBITMQ_LOG_BASE": str(home / "log"),
        "RABBITMQ_LOGS": "-",
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(home / "rabbitmq"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(home / "advanced.config"),
        "RABBITMQ_CONF_ENV_FILE": str(home / "rabbitmq-env.conf"),
        "RABBITMQ_PID_FILE": str(home / "rabbitmq.pid"),
    }
    (home / "rabbitmq-env.conf").write_text("# see scripts/reference-openstack\n")
    (home / "rabbitmq.conf").write_text(
        "# Written by scripts/reference-openstack.\nlog.console = true\nlog.file = false\n"
    )
    for path in home.iterdir():
        shutil.chown(path, "rabbitmq", "rabbitmq")
    if running("epmd") is None:
        # Our own epmd on its own port, in the foreground, so that `down` stops it too.
        spawn(
            "epmd",
            ["epmd", "-port", str(PORTS["epmd"]), "-address", HOST],
            env=env,
            user="rabbitmq",
        )
        wait_port("epmd", PORTS["epmd"], 20)
    if running("rabbitmq") is None:
        spawn("rabbitmq", ["/usr/lib/rabbitmq/bin/rabbitmq-server"], env=env, user="rabbitmq")
        wait_port("rabbitmq", PORTS["rabbitmq"], 90)
    # A broker user for the services, so that the password is ours, not guest's.
    ctl = ["/usr/lib/rabbitmq/bin/rabbitmqctl", "-n", "virtprov-reference@localhost", "-q"]
    users = subprocess.run(
        [*ctl, "list_users"], capture_output=True, text=True, env={**os.environ, **env}
    )
    if "virtprov" not in users.stdout.split():
        for args in (
            ["add_user", "virtprov", pw["broker"]],
            ["set_permissions", "virtprov", ".*", ".*", ".*"],
        ):
            shown = args if args[0] != "add_user" else ["add_user", "virtprov", "(password)"]
            result = subprocess.run(
                [*ctl, *args], capture_output=True, text=True, env={**os.environ, **env}
            )
            if result.returncode != 0:
                raise Failure(f"rabbitmqctl {' '.join(shown)} failed: {result.stderr.strip()}")


def config_digest(confdir: str) -> str:
    """The service's configuration and the code installed for it (a changed shim, such
    as the server's settings in serve.py, restarts the services too)."""
    digest = hashlib.sha256()
    for path in sorted((ETC / confdir).rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    stamp = VENV / ".virtprov-installed"
    if stamp.exists():
        digest.update(stamp.read_bytes())
    return digest.hexdigest()


def current(name: str, config: str) -> bool:
    """Whether NAME runs with this config; a service whose config changed is stopped."""
    record = running(name)
    if record is None:
        return False
    if record.config == config:
        return True
    log(f"{name}: its configuration changed, restarting it")
    stop(name)
    return False


def start_wsgi(name: str) -> None:
    app, variable, confdir = WSGI_APPS[name]
    config = config_digest(confdir)
    if current(name, config):
        return
    spawn(
        name,
        [
            venv_bin("python"),
            "-m",
            "virtprov_reference_shims.serve",
            app,
            f"{HOST}:{PORTS[name]}",
            name,
        ],
        env={variable: str(ETC / confdir)},
        config=config,
    )


def start_nova_service(name: str) -> None:
    config = config_digest("nova")
    if current(name, config):
        return
    command = [venv_bin(name)]
    if name == "nova-compute":
        # nova-compute with the shims' driver registered beside fake.FakeDriver.
        command = [venv_bin("python"), "-m", "virtprov_reference_shims.compute"]

    spawn(name, [*command, f"--config-file={ETC / 'nova' / 'nova.conf'}"], config=config)


def db_syncs(pw: dict[str, str]) -> None:
    keystone = ["--config-file", str(ETC / "keystone" / "keystone.conf")]
    manage = venv_bin("keystone-manage")
    run("keystone db_sync", [manage, *keystone, "db_sync"])
    for what in ("fernet_setup", "credential_setup"):
        run(
            f"keystone {what}",
            [manage, *keystone, what, "--keystone-user", "root", "--keystone-group", "root"],
            quiet=True,
        )
    run(
        "keystone bootstrap",
        [
            manage,
            *keystone,
            "bootstrap",
            "--bootstrap-region-id",
            REGION,
            "--bootstrap-public-url",
            KEYSTONE_URL,
        ],
        env={"OS_BOOTSTRAP_PASSWORD": pw["admin"]},
    )
    run(
        "glance db_sync",
        [
            venv_bin("glance-manage"),
            "--config-file",
            str(ETC / "glance" / "glance-api.conf"),
            "db_sync",
        ],
    )
    run(
        "placement db sync",
        [
            venv_bin("placement-manage"),
            "--config-file",
            str(ETC / "placement" / "placement.conf"),
            "db",
            "sync",
        ],
    )
    run(
        "neutron db upgrade",
        [
            venv_bin("neutron-db-manage"),
            "--config-file",
            str(ETC / "neutron" / "neutron.conf"),
            "--config-file",
            str(ETC / "neutron" / "plugins" / "ml2" / "ml2_conf.ini"),
            "upgrade",
            "heads",
        ],
    )
    nova = [venv_bin("nova-manage"), "--config-file", str(ETC / "nova" / "nova.conf")]
    run("nova api_db sync", [*nova, "api_db", "sync"])
    # cell0's database is [database]'s with "_cell0" appended: nova_cell0.
    run("nova cell_v2 map_cell0", [*nova, "cell_v2", "map_cell0"])
    cells = run("nova cell_v2 list_cells", [*nova, "cell_v2", "list_cells"], quiet=True)
    if " cell1 " not in cells:
        run("nova cell_v2 create_cell", [*nova, "cell_v2", "create_cell", "--name", "cell1"])
    run("nova db sync", [*nova, "db", "sync"])


def seed(stage: str, guests: int | None = None) -> None:
    env = {
        "VIRTPROV_REFOS_DIR": str(STATE),
        "VIRTPROV_REFOS_KEYSTONE": KEYSTONE_URL,
        "VIRTPROV_REFOS_PORTS": json.dumps(PORTS),
        "VIRTPROV_REFOS_GUESTS": "" if guests is None else str(guests),
    }
    run(f"seed {stage}", [venv_bin("python"), str(HERE / "seed.py"), stage], env=env)


def disable_retired_flavor() -> None:
    """Nova has no API to disable a flavor: the operator's way is the database."""
    result = subprocess.run(
        ["mariadb", f"--socket={RUN / 'mariadb' / 'mysqld.sock'}", "-u", "root", "nova_api"],
        input="UPDATE flavors SET disabled = 1 WHERE name = 'm1.retired';\n",
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise Failure(f"disabling m1.retired failed: {result.stderr.strip()}")


def wait_compute() -> None:
    """Until the compute service is up, mapped to the cell and its inventory in Placement."""
    nova = [venv_bin("nova-manage"), "--config-file", str(ETC / "nova" / "nova.conf")]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if running("nova-compute") is None:
            raise Failure(f"nova-compute died; see {LOGS / 'nova-compute.log'}")
        hosts = run("nova list_hosts", [*nova, "cell_v2", "list_hosts"], quiet=True)
        if "virtprov-reference-compute" in hosts:
            break
        run("nova discover_hosts", [*nova, "cell_v2", "discover_hosts"], quiet=True)
        time.sleep(1)
    else:
        raise Failure("the compute host never registered; see logs/nova-compute.log")
    seed("compute")


# -- commands -----------------------------------------------------------------------------


@contextlib.contextmanager
def timed(what: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    log(f"{what} in {time.monotonic() - started:.0f} s")


def up(guests: int | None = None) -> None:
    require_root()
    for path in (STATE, ETC, DATA, LOGS, RUN):
        path.mkdir(parents=True, exist_ok=True)
    STATE.chmod(0o755)
    started = time.monotonic()
    debian_packages()
    install_venv()
    pw = passwords()
    write_configs(pw, guests)
    first = not (STATE / "seeded").exists()
    with timed("database and broker up"):
        start_mariadb(pw)
        start_rabbitmq(pw)
    if first or not (STATE / "synced").exists():
        with timed("database schemas"):
            db_syncs(pw)
        (STATE / "synced").write_text("1\n")
    start_wsgi("keystone")
    wait_port("keystone", PORTS["keystone"])
    seed("identity")
    for name in ("placement", "glance", "neutron", "nova-api"):
        start_wsgi(name)
    for name in ("placement", "glance", "neutron", "nova-api"):
        wait_port(name, PORTS[name])
    for name in ("nova-conductor", "nova-scheduler", "nova-compute"):
        start_nova_service(name)
    wait_compute()
    seed("resources", guests)
    disable_retired_flavor()
    clouds = write_clouds(pw)
    (STATE / "seeded").write_text("1\n")
    sized = "" if guests is None else f", sized for {guests} guests of each flavor"
    log(f"up in {time.monotonic() - started:.0f} s{sized}; logs in {LOGS}")
    print(f"export OS_CLIENT_CONFIG_FILE={clouds} OS_CLOUD={CLOUD}")


def down() -> None:
    stopped = False
    for name in reversed(ORDER):
        stopped = stop(name) or stopped
    leftovers = [p.stem for p in RUN.glob("*.json")] if RUN.exists() else []
    for name in leftovers:
        stopped = stop(name) or stopped
    log("stopped" if stopped else "nothing was running")


def status() -> int:
    down_count = 0
    for name in ORDER:
        record = running(name)
        port = PORTS.get(name)
        where = f"{HOST}:{port}" if port else "-"
        if record is None:
            down_count += 1
            print(f"{name:15} stopped")
        else:
            listening = "" if port is None or port_open(port) else " (not listening yet)"
            print(f"{name:15} running  pid {record.pid:<7} {where}{listening}")
    if down_count == 0:
        print(f"clouds.yaml: {STATE / 'clouds.yaml'} (cloud {CLOUD})")
    return 0 if down_count == 0 else 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="reference-openstack",
        description="A real OpenStack on 127.0.0.1 for the OpenStack provider's live tests.",
    )
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument(
        "--guests",
        type=int,
        metavar="N",
        help=(
            "with up: allocation ratios and quotas so that N guests of every seeded flavor "
            f"fit at once (1 to {MAX_GUESTS}; default: Nova's default quotas, ratios 1.0)"
        ),
    )
    args = parser.parse_args(argv)
    if args.guests is not None and (args.command != "up" or not 1 <= args.guests <= MAX_GUESTS):
        parser.error(f"--guests goes with up and is 1 to {MAX_GUESTS}")
    try:
        if args.command == "up":
            up(args.guests)
        elif args.command == "down":
            down()
        else:
            return status()
    except Failure as exc:
        log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
