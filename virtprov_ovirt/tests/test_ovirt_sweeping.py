"""What an oVirt guest can leave behind (a disk its VM's removal did not take), and
``Retry-After`` on a 503.

The cassettes of this module are composed (``VIRTPROV_OVIRT_RECOMPOSE=1``) against
:class:`DiskEngine`, a few answers of the engine's disk collection in the shape of a real
RHV 4.3 ``GET /disks`` (ManageIQ's recording, ``data/``), so they depend on nothing the
lifecycle imitation does; against a live engine (``VIRTPROV_OVIRT_URL``) they skip.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from ovirt_engine import CASSETTES, LIVE_URL, PASSWORD_ENV, RECOMPOSE, Engine, cassette_name
from virtprov_ovirt.naming import encode_labels
from virtprov_testing.replay_server import ReplayServer

from virtprov.config import Defaults
from virtprov.errors import TransientError
from virtprov.model import LABEL_POOL, LABEL_RECIPE
from virtprov.pool import Pool, PoolSettings

API = "/ovirt-engine/api"
DOMAIN = "26c8cd54-65d4-424f-a870-8145439bba1c"
#: Disks no VM uses: a leftover of this pool, one of another pool, one made by hand.
FLOATING = {
    "5e7a0000-0000-0000-0000-0000000000d1": (
        "vpsweep-recipe-1_disk0",
        encode_labels({LABEL_POOL: "vpsweep", LABEL_RECIPE: "1"}),
    ),
    "5e7a0000-0000-0000-0000-0000000000d2": (
        "vpsweep-recipe-2_disk0",
        encode_labels({LABEL_POOL: "elsewhere", LABEL_RECIPE: "2"}),
    ),
    "5e7a0000-0000-0000-0000-0000000000d3": ("vpsweep-scratch", "made by hand"),
}
#: A Retry-After far enough ahead that a replay years from now still waits.
LATER = "Fri, 31 Dec 2999 23:59:59 GMT"


def _disk(disk_id: str, name: str, description: str) -> str:
    # The elements and order of a real RHV 4.3 answer (ManageIQ's 009_GET_disks.xml).
    href = f"{API}/disks/{disk_id}"
    return (
        f'<disk href="{href}" id="{disk_id}"><name>{name}</name>'
        f"<description>{description}</description>"
        f'<link href="{href}/permissions" rel="permissions"/>'
        f'<link href="{href}/statistics" rel="statistics"/>'
        f"<actual_size>200704</actual_size><alias>{name}</alias><backup>none</backup>"
        f"<content_type>data</content_type><format>cow</format>"
        f"<propagate_errors>false</propagate_errors>"
        f"<provisioned_size>21474836480</provisioned_size><shareable>false</shareable>"
        f"<sparse>true</sparse><status>ok</status><storage_type>image</storage_type>"
        f"<wipe_after_delete>false</wipe_after_delete>"
        f'<storage_domains><storage_domain href="{API}/storagedomains/{DOMAIN}" '
        f'id="{DOMAIN}"/></storage_domains></disk>'
    )


class DiskEngine:
    """The engine's disk collection and an overloaded moment, on a loopback port."""

    def __init__(self, password: str) -> None:
        self.password = password
        self.disks = dict(FLOATING)
        self.unavailable = [{"Retry-After": "120"}, {"Retry-After": LATER}]
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, text = owner.answer(self.command, self.path, body)
                payload = text.encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def answer(self, method: str, target: str, body: bytes) -> tuple[int, dict[str, str], str]:
        xml = {"Content-Type": "application/xml;charset=UTF-8"}
        parts = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(parts.query))
        head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        if parts.path == "/ovirt-engine/sso/oauth/token":
            form = dict(urllib.parse.parse_qsl(body.decode()))
            assert form.get("password") == self.password
            token = {"access_token": "composed", "scope": "ovirt-app-api", "exp": "4102444800000"}
            reply = json.dumps({**token, "token_type": "bearer"})
            return 200, {"Content-Type": "application/json;charset=UTF-8"}, reply
        if method == "GET" and parts.path == f"{API}/vms":
            return 200, xml, f"{head}<vms/>\n"
        if method == "GET" and parts.path == f"{API}/disks":
            # The one search the provider sends: alias=<prefix>* and number_of_vms=0.
            found = re.fullmatch(r"alias=(\S+)\* and number_of_vms=0", query.get("search", ""))
            assert found, query
            listed = "".join(
                _disk(i, name, text)
                for i, (name, text) in self.disks.items()
                if name.startswith(found[1])
            )
            return 200, xml, f"{head}<disks>{listed}</disks>\n"
        if method == "DELETE" and parts.path.startswith(f"{API}/disks/"):
            if self.disks.pop(parts.path.rsplit("/", 1)[1], None) is None:
                return 404, {"Content-Type": "application/xml"}, ""
            return 200, xml, f"{head}<action>\n    <status>complete</status>\n</action>\n"
        if method == "GET" and parts.path == f"{API}/datacenters" and self.unavailable:
            fault = (
                f"{head}<fault>\n    <detail>[Service Unavailable]</detail>\n"
                "    <reason>Error</reason>\n</fault>\n"
            )
            return 503, {**xml, **self.unavailable.pop(0)}, fault
        return 404, {"Content-Type": "text/html"}, "<html><body>Not Found</body></html>"

    def __enter__(self) -> DiskEngine:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def disk_engine(
    request: pytest.FixtureRequest, tls_cert: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    if LIVE_URL:
        pytest.skip("composed answers (leftover disks, a 503): not against a live engine")
    cassette = CASSETTES / cassette_name(request)
    if RECOMPOSE:
        monkeypatch.setenv(PASSWORD_ENV, "composing")
        with DiskEngine("composing") as backend:
            server = ReplayServer(cassette, mode="record", target=backend.url, tls=tls_cert)
            with server:
                yield Engine(server, None, tls_cert[0])
        return
    monkeypatch.setenv(PASSWORD_ENV, "replayed")
    server = ReplayServer(cassette, tls=tls_cert)
    with server:
        yield Engine(server, None, tls_cert[0])
    server.assert_all_played()


def test_a_disk_its_vm_left_is_swept_two_sweeps_later(disk_engine: Engine) -> None:
    provider = disk_engine.provider()
    listed = provider.list_resources("vpsweep-")
    assert [(r.kind, r.name, r.guest, r.labels[LABEL_POOL]) for r in listed] == [
        ("disk", "vpsweep-recipe-1_disk0", "vpsweep-recipe-1", "vpsweep"),
        ("disk", "vpsweep-recipe-2_disk0", "vpsweep-recipe-2", "elsewhere"),
    ]
    sweeper = Pool(
        {"rhv": provider},
        settings=PoolSettings(name="vpsweep", launcher="sweep-test"),
        defaults=Defaults(guest_name_prefix="vpsweep-"),
        journal="sqlite://",
        start=False,
    )
    try:
        first = sweeper.sweep()
        assert [(o.name, o.deleted) for o in first.orphan_resources] == [
            ("vpsweep-recipe-1_disk0", False)
        ]
        second = sweeper.sweep()
        assert second.errors == ()
        assert [(o.name, o.deleted) for o in second.orphan_resources] == [
            ("vpsweep-recipe-1_disk0", True)
        ]
    finally:
        sweeper.journal.close()
    provider.destroy_resource(listed[0])  # gone already (404): silent
    assert [r.name for r in provider.list_resources("vpsweep-")] == ["vpsweep-recipe-2_disk0"]


def test_503_retry_after_in_both_forms(disk_engine: Engine) -> None:
    provider = disk_engine.provider()
    with pytest.raises(TransientError) as seconds:
        provider.capacity()
    assert seconds.value.retry_after == 120.0
    with pytest.raises(TransientError) as date:
        provider.capacity()
    expected = (datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC) - datetime.now(UTC)).total_seconds()
    assert date.value.retry_after is not None
    assert abs(date.value.retry_after - expected) < 60


def test_only_prefixes_the_engine_search_can_carry(disk_engine: Engine) -> None:
    with pytest.raises(ValueError, match="letters, digits"):
        disk_engine.provider().list_resources("beaker- or name=*")
