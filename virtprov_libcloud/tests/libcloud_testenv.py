"""The libcloud provider's test environment: moto's EC2 emulation, and the provider under test.

A module of its own, with a unique name, so that tests can import it (``from conftest
import ...`` would pick up another directory's conftest).

The cassettes were recorded from moto's EC2 server (``moto[server]``) through libcloud's
EC2 driver; see ``cassettes/README.md``. moto serialises EC2 answers with the namespace
``http://ec2.amazonaws.com/doc/2016-11-15`` and namespaces its error documents, where
EC2 itself answers ``.../2016-11-15/`` (with the slash) and un-namespaced ``<Response>``
errors; libcloud reads EC2's real shapes, so :class:`EC2WireFormat` gives moto's answers
EC2's namespaces while recording. Nothing else of moto's answers is changed.

Two things are set up in moto the way a lab sets up its account, before any test runs
(so no cassette holds them): a subnet named ``vp-lab-subnet`` (172.31.200.0/24, in the
default VPC) and a security group ``vp-lab-sg`` in that VPC. One behaviour moto has no
way to produce is composed by :class:`NoCapacityFor`: instances of :data:`UNPLACEABLE`
are terminated with EC2's state reason ``Server.InsufficientInstanceCapacity``, as EC2
terminates an instance it accepted but could not place.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

#: Where moto listens while recording (and what the cassettes name).
HOST, PORT = "127.0.0.1", 18775
REGION = "us-east-1"
#: RHEL 7.4 HVM, one of moto's built-in AMIs.
IMAGE = "ami-bb9a6bc2"
SECRET_ENV = "VIRTPROV_LIBCLOUD_TEST_SECRET"
#: moto accepts any credentials; these are what the cassettes were recorded with.
ACCESS_KEY = "AKIDVIRTPROVTEST"
#: What the account holds besides moto's defaults (see the module's docstring).
SUBNET, SUBNET_CIDR, SECURITY_GROUP = "vp-lab-subnet", "172.31.200.0/24", "vp-lab-sg"
#: An instance type the composed zone has no capacity for.
UNPLACEABLE = "p4d.24xlarge"
#: EC2's StateReason for it, as the EC2 API reference words the code.
NO_CAPACITY = (
    "Server.InsufficientInstanceCapacity",
    "Server.InsufficientInstanceCapacity: There was insufficient capacity available to "
    "satisfy the launch request.",
)

_MOTO_NS = b'xmlns="http://ec2.amazonaws.com/doc/2016-11-15"'
_EC2_NS = b'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"'


def base_options() -> dict[str, Any]:
    """The ``[providers.NAME]`` table of the provider under test."""
    return {
        "driver": "libcloud",
        "lab": "lab.example.com",
        "libcloud_driver": "ec2",
        "key": ACCESS_KEY,
        "secret": {"env": SECRET_ENV},
        "driver_options": {
            "region": REGION,
            "host": HOST,
            "port": PORT,
            "secure": False,
            "signature_version": "4",
        },
        "image": IMAGE,
        "sizes": ["t3.micro", "t3.small", "t3.medium", "m5.large"],
        # EBS-only types report no disk: the root volume is the image's.
        "size_overrides": {
            "t3.micro": {"disk": 10},
            "t3.small": {"disk": 10},
            "t3.medium": {"disk": 20},
            "m5.large": {"disk": 40},
        },
    }


class EC2WireFormat:
    """WSGI middleware: moto's EC2 answers with the namespaces EC2 itself uses."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        captured: list[tuple[str, list[tuple[str, str]]]] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.append((status, headers))
            return lambda data: None

        body = b"".join(self.app(environ, capture))
        status, headers = captured[0]
        if b"<Response " in body[:200]:  # an error document: EC2 leaves it un-namespaced
            body = body.replace(b" " + _MOTO_NS, b"", 1)
        else:
            body = body.replace(_MOTO_NS, _EC2_NS, 1)
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]


class NoCapacityFor:
    """WSGI middleware: before moto answers a ``DescribeInstances``, every instance of
    :data:`UNPLACEABLE` that is not terminated yet is terminated the way EC2 does when it
    cannot place one (moto's own terminate, then EC2's state reason)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if parse_qs(environ.get("QUERY_STRING", "")).get("Action") == ["DescribeInstances"]:
            from moto.core import DEFAULT_ACCOUNT_ID
            from moto.ec2.models import ec2_backends
            from moto.ec2.models.instances import StateReason

            backend = ec2_backends[DEFAULT_ACCOUNT_ID][REGION]
            for instance in backend.all_instances():
                if instance.instance_type == UNPLACEABLE and instance.state != "terminated":
                    instance.terminate()
                    code, message = NO_CAPACITY
                    instance._reason = message
                    instance.state_reason = StateReason(message, code)
        return self.app(environ, start_response)


def seed() -> None:
    """The subnet and security group the tests choose by name (see the docstring), made
    in moto's model directly: libcloud tags a new subnet with ``ResourceId.0``, which
    EC2 takes and moto refuses."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[DEFAULT_ACCOUNT_ID][REGION]
    vpc = next(v for v in backend.vpcs.values() if v.is_default)
    subnet = backend.create_subnet(vpc.id, SUBNET_CIDR, availability_zone=f"{REGION}a")
    backend.create_tags([subnet.id], {"Name": SUBNET})
    backend.create_security_group(SECURITY_GROUP, "virtprov tests", vpc_id=vpc.id)


def serve_moto() -> Iterator[None]:
    """moto's EC2 server on HOST:PORT for the duration (recording only), seeded."""
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    app = EC2WireFormat(NoCapacityFor(DomainDispatcherApplication(create_backend_app)))
    server = make_server(HOST, PORT, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        seed()
        yield
    finally:
        server.shutdown()
        server.server_close()
