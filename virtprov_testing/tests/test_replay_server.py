"""The replay server: records through to a target, scrubbed; replays over HTTPS; misses fail.

The cassettes are vcrpy's (its Cassette, serializer and matchers), read back here with
vcrpy's own loader."""

from __future__ import annotations

import http.server
import json
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from vcr.persisters.filesystem import FilesystemPersister
from vcr.serializers import yamlserializer
from virtprov_testing.replay_server import ReplayServer, loopback_tls


class _Target(http.server.BaseHTTPRequestHandler):
    """A tiny 'live' server: a token endpoint and one resource."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.path.startswith("/api/vms"):  # a create: 201 and where the new one is
            location = f"http://{self.headers['Host']}/api/vms/2"
            self._send(201, "application/xml", "<vm id='2'/>", location=location)
            return
        self._send(200, "application/json", json.dumps({"access_token": "live-token-123"}))

    def do_GET(self) -> None:
        self._send(200, "application/xml", "<vms><vm id='1'><name>a</name></vm></vms>")

    def _send(self, status: int, kind: str, text: str, location: str | None = None) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def target() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Target)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def call(
    url: str,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    context: ssl.SSLContext | None = None,
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_record_then_replay_over_https(target: str, tmp_path: Path) -> None:
    cassette = tmp_path / "c.yaml"
    with ReplayServer(cassette, record_mode="rewrite", target=target) as server:
        form = b"grant_type=password&username=admin%40internal&password=hunter2"
        assert call(server.url + "/sso/token", data=form)[0] == 200
        status, body = call(
            server.url + "/api/vms?search=name%3Da", headers={"Authorization": "Bearer xyz"}
        )
        assert (status, body.startswith(b"<vms>")) == (200, True)
        assert call(server.url + "/api/vms", data=b"<vm/>")[0] == 201

    text = cassette.read_text()
    for secret in ("hunter2", "live-token-123", "Bearer xyz", target):
        assert secret not in text
    requests, responses = FilesystemPersister.load_cassette(cassette, yamlserializer)
    assert [r.method for r in requests] == ["POST", "GET", "POST"]
    assert responses[2]["headers"]["Location"] == ["https://engine.example.com/api/vms/2"]

    tls, ca_file = loopback_tls(tmp_path)
    context = ssl.create_default_context(cafile=ca_file)
    with ReplayServer(cassette, tls=tls) as server:
        assert server.url.startswith("https://127.0.0.1:")
        # Matched on method, path and query; the query's order does not matter.
        status, body = call(server.url + "/api/vms?search=name%3Da", context=context)
        assert status == 200
        assert b"<name>a</name>" in body
        with pytest.raises(
            AssertionError, match=r"never requested: \['POST /sso/token', 'POST /api/vms'\]"
        ):
            server.assert_all_played()
        # Played once; a second identical request is a miss, not a silent repeat.
        assert call(server.url + "/api/vms?search=name%3Da", context=context)[0] == 599
    assert server.misses == ["GET /api/vms?search=name%3Da"]


def test_a_request_not_in_the_cassette_is_a_clear_miss(target: str, tmp_path: Path) -> None:
    cassette = tmp_path / "c.yaml"
    with ReplayServer(cassette, record_mode="once", target=target) as server:
        call(server.url + "/api/vms")
    with ReplayServer(cassette) as server:
        status, body = call(server.url + "/api/hosts")
        assert status == 599
        assert b"no recorded answer in c.yaml for GET /api/hosts" in body
        with pytest.raises(AssertionError, match="no recorded answer"):
            server.assert_all_played()


def test_bad_cassettes_and_modes_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="cannot read cassette"):
        ReplayServer(tmp_path / "absent.yaml")
    (tmp_path / "bad.yaml").write_text("just: text\n")
    with pytest.raises(ValueError, match="not a vcrpy cassette"):
        ReplayServer(tmp_path / "bad.yaml")
    with pytest.raises(ValueError, match="record mode 'rewrite' needs the target URL"):
        ReplayServer(tmp_path / "x.yaml", record_mode="rewrite")
    with pytest.raises(ValueError, match="record_mode must be one of none, once"):
        ReplayServer(tmp_path / "x.yaml", record_mode="record")


def test_new_episodes_keeps_the_recorded_and_adds_the_new(target: str, tmp_path: Path) -> None:
    cassette = tmp_path / "c.yaml"
    with ReplayServer(cassette, record_mode="once", target=target) as server:
        call(server.url + "/api/vms")
    with ReplayServer(cassette, record_mode="new_episodes", target=target) as server:
        assert call(server.url + "/api/vms")[0] == 200  # played from the cassette
        assert call(server.url + "/api/hosts")[0] == 200  # recorded from the target
    requests, _ = FilesystemPersister.load_cassette(cassette, yamlserializer)
    assert [r.path for r in requests] == ["/api/vms", "/api/hosts"]
