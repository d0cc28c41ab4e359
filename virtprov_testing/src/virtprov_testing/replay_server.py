"""A loopback HTTP(S) server that answers from a vcrpy cassette, or records one.

vcrpy patches Python HTTP libraries (requests, urllib3, http.client...). SDKs that speak
through libcurl (``ovirtsdk4`` uses pycurl) are out of its reach: requests would go
to the real server even with a cassette loaded. This server is the seam instead: point
the SDK at :attr:`ReplayServer.url` and it answers from the same cassette format that
pytest-recording writes, so every provider shares one cassette story.

* **replay** (the default): each request is answered by the first *unplayed* recorded
  interaction with the same method, path and query (scheme, host and port are ignored:
  the loopback port changes every run). A request with no match gets a ``599`` answer
  whose body says what was asked, and is remembered in :attr:`ReplayServer.misses`,
  so the test fails with the request in its message instead of hanging.
* **record**: each request is forwarded to ``target`` (a live engine), and the exchange
  is written, scrubbed, to the cassette when the server stops. The recorded URIs and
  the answers' headers (a ``Location``) use ``record_base`` instead of the live host, so
  a cassette never names a lab's engine.

Scrubbing uses the shared hooks of :mod:`virtprov_testing.cassettes`: ``Authorization``
and cookie headers, form and JSON bodies' passwords and tokens (an oVirt SSO response
carries ``access_token``). Responses are stored decoded (no gzip).

Usage::

    with ReplayServer(cassette_path) as server:
        connection = ovirtsdk4.Connection(url=server.url + "/ovirt-engine/api", ...)
        ...
    server.assert_all_played()
"""

from __future__ import annotations

import http.client
import http.server
import logging
import ssl
import threading
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal

import attrs

from virtprov_testing.cassettes import scrub_body, scrub_headers

log = logging.getLogger(__name__)

#: Where recorded URIs point, instead of the live engine's host.
DEFAULT_RECORD_BASE: Final = "https://engine.example.com"
#: The status a request with no recorded answer gets (outside every real API's range).
MISS_STATUS: Final = 599
# Not forwarded (hop-by-hop, or wrong once the body is stored decoded).
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

Mode = Literal["replay", "record"]


@attrs.frozen
class Interaction:
    """One recorded exchange, as vcrpy stores it."""

    method: str
    uri: str
    request_headers: Mapping[str, list[str]]
    request_body: str | None
    status: int
    message: str
    response_headers: Mapping[str, list[str]]
    response_body: str

    @property
    def key(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        return request_key(self.method, self.uri)

    def to_vcr(self) -> dict[str, Any]:
        return {
            "request": {
                "body": self.request_body,
                "headers": dict(self.request_headers),
                "method": self.method,
                "uri": self.uri,
            },
            "response": {
                "body": {"string": self.response_body},
                "headers": dict(self.response_headers),
                "status": {"code": self.status, "message": self.message},
            },
        }

    @classmethod
    def from_vcr(cls, data: Mapping[str, Any], where: str) -> Interaction:
        try:
            request, response = data["request"], data["response"]
            body = response.get("body", {}).get("string", "")
            if isinstance(body, bytes):
                body = body.decode("utf-8")
            request_body = request.get("body")
            if isinstance(request_body, bytes):
                request_body = request_body.decode("utf-8", "replace")
            return cls(
                method=str(request["method"]).upper(),
                uri=str(request["uri"]),
                request_headers=_header_lists(request.get("headers") or {}),
                request_body=request_body,
                status=int(response["status"]["code"]),
                message=str(response["status"].get("message") or ""),
                response_headers=_header_lists(response.get("headers") or {}),
                response_body=body or "",
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{where}: not a vcrpy interaction ({exc!r})") from None


def request_key(method: str, uri: str) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """What replay matches on: method, path and the query as a sorted list of pairs."""
    parts = urllib.parse.urlsplit(uri)
    query = tuple(sorted(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)))
    return (method.upper(), parts.path or "/", query)


def _header_lists(headers: Mapping[str, Any]) -> dict[str, list[str]]:
    return {
        str(name): [str(v) for v in value] if isinstance(value, list) else [str(value)]
        for name, value in headers.items()
    }


def load_cassette(path: str | Path) -> list[Interaction]:
    """The interactions of a vcrpy cassette file (YAML, ``version: 1``)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise FileNotFoundError(f"{path}: cannot read cassette: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    raw = data.get("interactions") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        raise ValueError(f"{path}: not a vcrpy cassette (no interactions list)")
    return [Interaction.from_vcr(item, f"{path} #{n}") for n, item in enumerate(raw)]


def _literal_str(dumper: Any, value: str) -> Any:
    # Multi-line bodies (XML) as YAML block scalars, so a cassette diff is readable.
    style = "|" if "\n" in value and not value.endswith((" ", "\t")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def save_cassette(path: str | Path, interactions: list[Interaction]) -> None:
    """Write interactions as a vcrpy cassette (pytest-recording reads the same files)."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(str, _literal_str)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.dump(
        {"interactions": [i.to_vcr() for i in interactions], "version": 1},
        Dumper=Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    path.write_text(text, encoding="utf-8")


def _recorded_headers(headers: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """The headers as a cassette keeps them: without the transport's, secrets scrubbed."""
    kept = {
        name: list(values) for name, values in headers.items() if name.lower() not in _DROP_HEADERS
    }
    scrub_headers(kept)
    return kept


def _scrub_text(body: str | None) -> str | None:
    cleaned = scrub_body(body)
    return cleaned.decode() if isinstance(cleaned, bytes) else cleaned


class ReplayServer:
    """A loopback server answering from (or recording into) one cassette file.

    ``tls`` is ``(certfile, keyfile)`` to serve HTTPS (see :func:`self_signed_cert`);
    ``target`` is the live base URL to forward to in record mode, with ``target_ca_file``
    or ``target_insecure`` for its TLS. ``allow_repeats`` lets an exhausted request
    replay its last answer again (vcrpy's ``allow_playback_repeats``).
    """

    def __init__(
        self,
        cassette: str | Path,
        *,
        mode: Mode = "replay",
        target: str | None = None,
        target_ca_file: str | None = None,
        target_insecure: bool = False,
        target_timeout: float = 60.0,
        record_base: str = DEFAULT_RECORD_BASE,
        tls: tuple[str, str] | None = None,
        allow_repeats: bool = False,
    ) -> None:
        if mode not in ("replay", "record"):
            raise ValueError(f"mode must be 'replay' or 'record', got {mode!r}")
        if mode == "record" and not target:
            raise ValueError("record mode needs the target URL of a live server")
        self.cassette = Path(cassette)
        self.mode: Mode = mode
        self.target = target.rstrip("/") if target else None
        self.record_base = record_base.rstrip("/")
        self.allow_repeats = allow_repeats
        self._target_ca_file = target_ca_file
        self._target_insecure = target_insecure
        self._target_timeout = target_timeout
        self._tls = tls
        self._lock = threading.Lock()
        self.interactions: list[Interaction] = (
            load_cassette(self.cassette) if mode == "replay" else []
        )
        self._played = [False] * len(self.interactions)
        #: Requests that had no recorded answer: ``"METHOD /path?query"``.
        self.misses: list[str] = []
        #: Every request served, in order: ``"METHOD /path?query"``.
        self.requests: list[str] = []
        #: The bodies of the requests served, in the same order (for asserting on them).
        self.bodies: list[bytes] = []
        self._httpd: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL to give the client, e.g. ``https://127.0.0.1:40123``."""
        assert self._httpd is not None, "the server is not started"
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> ReplayServer:
        handler = type("Handler", (_Handler,), {"owner": self})
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        if self._tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self._tls)
            httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, name="replay-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; in record mode, write the cassette."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self.mode == "record":
            save_cassette(self.cassette, self.interactions)

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what happened ------------------------------------------------------------------

    def unplayed(self) -> list[str]:
        return [
            f"{i.method} {urllib.parse.urlsplit(i.uri).path}"
            for i, played in zip(self.interactions, self._played, strict=True)
            if not played
        ]

    def assert_all_played(self) -> None:
        """Fail when a request missed, or a recorded interaction was never asked for."""
        assert not self.misses, f"requests with no recorded answer: {self.misses}"
        assert not self.unplayed(), f"recorded but never requested: {self.unplayed()}"

    # -- serving ------------------------------------------------------------------------

    def answer(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, str, dict[str, list[str]], bytes]:
        with self._lock:
            self.requests.append(f"{method} {path}")
            self.bodies.append(body)
        if self.mode == "record":
            return self._forward(method, path, headers, body)
        return self._replay(method, path)

    def _replay(self, method: str, path: str) -> tuple[int, str, dict[str, list[str]], bytes]:
        key = request_key(method, path)
        with self._lock:
            last = None
            for n, interaction in enumerate(self.interactions):
                if interaction.key != key:
                    continue
                last = interaction
                if not self._played[n]:
                    self._played[n] = True
                    return self._reply(interaction)
            if last is not None and self.allow_repeats:
                return self._reply(last)
            self.misses.append(f"{method} {path}")
        log.warning("replay: no recorded answer for %s %s", method, path)
        text = f"no recorded answer in {self.cassette.name} for {method} {path}\n"
        return MISS_STATUS, "No Recorded Answer", {"Content-Type": ["text/plain"]}, text.encode()

    @staticmethod
    def _reply(interaction: Interaction) -> tuple[int, str, dict[str, list[str]], bytes]:
        headers = {
            k: list(v)
            for k, v in interaction.response_headers.items()
            if k.lower() not in _DROP_HEADERS
        }
        return (
            interaction.status,
            interaction.message,
            headers,
            interaction.response_body.encode("utf-8"),
        )

    def _forward(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, str, dict[str, list[str]], bytes]:
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
        forwarded = {k: v for k, v in headers.items() if k.lower() not in _DROP_HEADERS}
        try:
            connection.request(method, path, body=body or None, headers=forwarded)
            response = connection.getresponse()
            payload = response.read()
            status, reason = response.status, response.reason
            response_headers: dict[str, list[str]] = {}
            for name, value in response.getheaders():
                response_headers.setdefault(name, []).append(value)
        finally:
            connection.close()
        text = payload.decode("utf-8", "replace")
        # An absolute URL in an answer's headers (a 201's Location) names the live host.
        named = {
            name: [value.replace(self.target, self.record_base) for value in values]
            for name, values in response_headers.items()
        }
        recorded = Interaction(
            method=method,
            uri=self.record_base + path,
            request_headers=_recorded_headers({k: [v] for k, v in headers.items()}),
            request_body=_scrub_text(body.decode("utf-8", "replace")) if body else None,
            status=status,
            message=reason,
            response_headers=_recorded_headers(named),
            response_body=_scrub_text(text) or "",
        )
        with self._lock:
            self.interactions.append(recorded)
            self._played.append(True)
        return (
            status,
            reason,
            {k: v for k, v in response_headers.items() if k.lower() not in _DROP_HEADERS},
            payload,
        )


class _Handler(http.server.BaseHTTPRequestHandler):
    owner: ReplayServer
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, message, headers, payload = self.owner.answer(
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


def self_signed_cert(directory: str | Path) -> tuple[str, str]:
    """Write a throw-away certificate for ``127.0.0.1`` and its key; return their paths.

    The certificate is its own CA: give its path as the client's CA file.
    """
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory = Path(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "replay-cert.pem", directory / "replay-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)
