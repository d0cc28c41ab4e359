"""A loopback HTTP(S) server that answers from a vcrpy cassette, or records one.

vcrpy patches Python HTTP libraries (requests, urllib3, http.client...). SDKs that speak
through libcurl (``ovirtsdk4`` uses pycurl) are out of its reach: requests would go
to the real server even with a cassette loaded. This server is the seam instead: point
the SDK at :attr:`ReplayServer.url`, and each request it receives goes through vcrpy's
own :class:`~vcr.cassette.Cassette` (its YAML serializer, its matchers, its record modes),
so every provider shares one cassette format and one workflow.

* ``record_mode`` is pytest-recording's (``--record-mode``): ``none`` (the default)
  replays only: each request is answered by the first *unplayed* recorded interaction
  with the same method, path and query (vcrpy's ``method``, ``path`` and ``query``
  matchers; scheme, host and port are ignored: the loopback port changes every run). A
  request with no match gets a ``599`` answer whose body says what was asked, and is
  remembered in :attr:`ReplayServer.misses`, so the test fails with the request in its
  message instead of hanging.
* ``once``, ``new_episodes``, ``all`` and ``rewrite``: what the cassette cannot answer is
  forwarded to ``target`` (a live engine, or an imitation of one), and the exchange is
  appended to the cassette, which is written when the server stops. ``rewrite`` and
  ``all`` start from an empty cassette. The recorded URIs and the answers' headers (a
  ``Location``) use ``record_base`` instead of the target's address, so a cassette never
  names a lab's engine.

Scrubbing uses the shared hooks of :mod:`virtprov_testing.cassettes`: ``Authorization``
and cookie headers, form and JSON bodies' passwords and tokens (an oVirt SSO response
carries ``access_token``). Responses are stored decoded (no gzip).

Usage::

    tls, ca_file = loopback_tls()
    with ReplayServer(cassette_path, tls=tls) as server:
        connection = ovirtsdk4.Connection(url=server.url + "/ovirt-engine/api", ca_file=ca_file)
        ...
    server.assert_all_played()
"""

from __future__ import annotations

import http.client
import http.server
import logging
import ssl
import tempfile
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from vcr.cassette import Cassette
from vcr.matchers import method as method_matcher
from vcr.matchers import path as path_matcher
from vcr.matchers import query as query_matcher
from vcr.persisters.filesystem import FilesystemPersister
from vcr.record_mode import RecordMode
from vcr.request import Request
from vcr.serializers import yamlserializer

from virtprov_testing.cassettes import scrub_request, scrub_response

log = logging.getLogger(__name__)

#: Where recorded URIs point, instead of the live engine's host.
DEFAULT_RECORD_BASE: Final = "https://engine.example.com"
#: The status a request with no recorded answer gets (outside every real API's range).
MISS_STATUS: Final = 599
#: pytest-recording's record modes (``rewrite`` is its own: vcrpy's ``new_episodes`` on
#: an empty cassette).
RECORD_MODES: Final = ("none", "once", "new_episodes", "all", "rewrite")
#: What a request must share with a recorded one to get its answer.
MATCH_ON: Final = (method_matcher, path_matcher, query_matcher)
# Not forwarded nor recorded (hop-by-hop, the transport's, or wrong once the body is
# stored decoded).
_DROP_HEADERS: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-encoding",
        "content-length",
        "accept-encoding",
        "host",
        "date",
        "server",
        "proxy-connection",
        "te",
        "upgrade",
    }
)


def _kept(headers: Mapping[str, list[str]]) -> dict[str, list[str]]:
    return {
        name: list(values) for name, values in headers.items() if name.lower() not in _DROP_HEADERS
    }


def loopback_tls(directory: str | Path | None = None) -> tuple[ssl.SSLContext, str]:
    """A server TLS context for ``127.0.0.1`` from a throwaway CA (``trustme``), and the
    path of that CA's certificate, to give the client as its CA file (written in
    ``directory``, or a temporary one)."""
    import trustme

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    where = Path(directory) if directory is not None else Path(tempfile.mkdtemp())
    ca_file = where / "replay-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return context, str(ca_file)


class ReplayServer:
    """A loopback server answering from (or recording into) one cassette file.

    ``tls`` is a server context (see :func:`loopback_tls`) to serve HTTPS; ``target`` is
    the base URL to forward to when recording, with ``target_ca_file`` or
    ``target_insecure`` for its TLS. ``allow_repeats`` lets an exhausted request replay
    its last answer again (vcrpy's ``allow_playback_repeats``).
    """

    def __init__(
        self,
        cassette: str | Path,
        *,
        record_mode: str = "none",
        target: str | None = None,
        target_ca_file: str | None = None,
        target_insecure: bool = False,
        target_timeout: float = 60.0,
        record_base: str = DEFAULT_RECORD_BASE,
        tls: ssl.SSLContext | None = None,
        allow_repeats: bool = False,
    ) -> None:
        if record_mode not in RECORD_MODES:
            raise ValueError(f"record_mode must be one of {', '.join(RECORD_MODES)}")
        if record_mode != "none" and not target:
            raise ValueError(f"record mode {record_mode!r} needs the target URL of a server")
        self.path = Path(cassette)
        self.record_mode = record_mode
        self.target = target.rstrip("/") if target else None
        self.record_base = record_base.rstrip("/")
        self._target_ca_file = target_ca_file
        self._target_insecure = target_insecure
        self._target_timeout = target_timeout
        self._tls = tls
        self._lock = threading.Lock()
        self.cassette = self._open(allow_repeats)
        #: Requests that had no recorded answer: ``"METHOD /path?query"``.
        self.misses: list[str] = []
        #: Every request served, in order: ``"METHOD /path?query"``.
        self.requests: list[str] = []
        #: The bodies of the requests served, in the same order (for asserting on them).
        self.bodies: list[bytes] = []
        self._httpd: http.server.ThreadingHTTPServer | None = None

    def _open(self, allow_repeats: bool) -> Cassette:
        """vcrpy's cassette for this record mode: loaded, or empty to be written anew."""
        options: dict[str, Any] = {
            "path": str(self.path),
            "serializer": yamlserializer,
            "match_on": MATCH_ON,
            "before_record_request": self._recorded_request,
            "before_record_response": self._recorded_response,
            "allow_playback_repeats": allow_repeats,
        }
        if self.record_mode in ("all", "rewrite"):
            mode = RecordMode.ALL if self.record_mode == "all" else RecordMode.NEW_EPISODES
            return Cassette(record_mode=mode, **options)
        if self.record_mode == "none" and not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: cannot read cassette: no such file")
        try:
            return Cassette.load(record_mode=RecordMode(self.record_mode), **options)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{self.path}: not a vcrpy cassette ({exc!r})") from None

    # -- what a cassette keeps ------------------------------------------------------------

    def _recorded_request(self, request: Request) -> Request:
        """vcrpy's ``before_record_request``: the request as recorded and as matched,
        naming ``record_base`` instead of the target; secrets scrubbed."""
        request = scrub_request(request)
        if self.target and request.uri.startswith(self.target):
            request.uri = self.record_base + request.uri[len(self.target) :]
        return request

    def _recorded_response(self, response: dict[str, Any]) -> dict[str, Any]:
        """vcrpy's ``before_record_response``: without the transport's headers, an
        absolute URL in the others (a 201's ``Location``) naming ``record_base``."""
        target = self.target or self.record_base
        response["headers"] = {
            name: [value.replace(target, self.record_base) for value in values]
            for name, values in _kept(response["headers"]).items()
        }
        return scrub_response(response)

    # -- life ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL to give the client, e.g. ``https://127.0.0.1:40123``."""
        assert self._httpd is not None, "the server is not started"
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> ReplayServer:
        handler = type("Handler", (_Handler,), {"answer": staticmethod(self.answer)})
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        if self._tls:
            httpd.socket = self._tls.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        threading.Thread(target=httpd.serve_forever, name="replay-server", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving; when recording, write the cassette (vcrpy's serializer)."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        # A cassette written anew is written even empty: a test that now makes no request.
        anew = self.record_mode in ("all", "rewrite")
        if self.record_mode != "none" and (self.cassette.dirty or anew):
            interactions = {
                "requests": self.cassette.requests,
                "responses": self.cassette.responses,
            }
            FilesystemPersister.save_cassette(str(self.path), interactions, yamlserializer)

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what happened ------------------------------------------------------------------

    def unplayed(self) -> list[str]:
        if self.record_mode != "none":
            return []  # what was recorded now was asked for
        return [
            f"{request.method} {request.path}"
            for index, request in enumerate(self.cassette.requests)
            if not self.cassette.play_counts[index]
        ]

    def assert_all_played(self) -> None:
        """Fail when a request missed, or a recorded interaction was never asked for."""
        assert not self.misses, f"requests with no recorded answer: {self.misses}"
        assert not self.unplayed(), f"recorded but never requested: {self.unplayed()}"

    # -- serving ------------------------------------------------------------------------

    def answer(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, str, dict[str, list[str]], bytes]:
        forwarded = {k: v for k, v in headers.items() if k.lower() not in _DROP_HEADERS}
        with self._lock:
            self.requests.append(f"{method} {path}")
            self.bodies.append(body)
            # vcrpy's hooks scrub and rename the request they are given: give them a copy.
            request = self._request(method, path, forwarded, body)
            if self.cassette.can_play_response_for(request):
                return _reply(self.cassette.play_response(request))
            if self.cassette.write_protected:
                self.misses.append(f"{method} {path}")
                log.warning("replay: no recorded answer for %s %s", method, path)
                text = f"no recorded answer in {self.path.name} for {method} {path}\n"
                return (
                    MISS_STATUS,
                    "No Recorded Answer",
                    {"Content-Type": ["text/plain"]},
                    text.encode(),
                )
        response = self._forward(method, path, forwarded, body)
        with self._lock:
            self.cassette.append(self._request(method, path, forwarded, body), response)
        return _reply(response)

    def _request(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Request:
        return Request(
            method, (self.target or self.record_base) + path, body or None, dict(headers)
        )

    def _forward(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, Any]:
        """The target's answer, in vcrpy's form of a response."""
        assert self.target is not None
        target = urllib.parse.urlsplit(self.target)
        connection: http.client.HTTPConnection
        if target.scheme == "https":
            context = ssl.create_default_context(cafile=self._target_ca_file)
            if self._target_insecure:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            connection = http.client.HTTPSConnection(
                target.netloc, timeout=self._target_timeout, context=context
            )
        else:
            connection = http.client.HTTPConnection(target.netloc, timeout=self._target_timeout)
        try:
            connection.request(method, path, body=body or None, headers=dict(headers))
            reply = connection.getresponse()
            answer_headers: dict[str, list[str]] = {}
            for name, value in reply.getheaders():
                answer_headers.setdefault(name, []).append(value)
            return {
                "status": {"code": reply.status, "message": reply.reason},
                "headers": answer_headers,
                "body": {"string": reply.read()},
            }
        finally:
            connection.close()


def _reply(response: Mapping[str, Any]) -> tuple[int, str, dict[str, list[str]], bytes]:
    body = response["body"]["string"]
    return (
        int(response["status"]["code"]),
        str(response["status"].get("message") or ""),
        _kept(response["headers"]),
        body.encode() if isinstance(body, str) else body,
    )


class _Handler(http.server.BaseHTTPRequestHandler):
    answer: Callable[
        [str, str, Mapping[str, str], bytes], tuple[int, str, dict[str, list[str]], bytes]
    ]
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, message, headers, payload = self.answer(
            self.command, self.path, dict(self.headers.items()), body
        )
        self.send_response(status, message or None)
        for name, values in headers.items():
            for value in values:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("replay-server: " + format, *args)
