"""Hostile and malformed documents: rejected fast, clearly, reading nothing."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from virtprov.errors import HostRequiresError
from virtprov.hostrequires import parse, parse_job

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<hostRequires><hostname value="&lol9;"/></hostRequires>
"""


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        _Recorder.hits.append(self.path)
        body = b'<!ENTITY x "pwned">'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[str]:
    """A loopback HTTP server that records any request (there must be none)."""
    _Recorder.hits = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    assert _Recorder.hits == [], "the parser made a network request"


def rejected_fast(document: str | bytes) -> HostRequiresError:
    started = time.perf_counter()
    with pytest.raises(HostRequiresError) as caught:
        parse(document)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.1, f"took {elapsed * 1000:.1f} ms"
    return caught.value


@pytest.mark.parametrize("as_bytes", [False, True])
def test_billion_laughs(as_bytes: bool) -> None:
    error = rejected_fast(BILLION_LAUGHS.encode() if as_bytes else BILLION_LAUGHS)
    assert "DOCTYPE" in str(error)
    assert error.line == 2


def test_xxe_file_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret")
    doc = (
        f'<!DOCTYPE h [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        '<hostRequires><hostname value="&xxe;"/></hostRequires>'
    )
    error = rejected_fast(doc)
    assert "s3cret" not in str(error)


def test_xxe_and_external_dtd_make_no_request(listener: str) -> None:
    rejected_fast(f'<!DOCTYPE h SYSTEM "{listener}/dtd"><hostRequires/>')
    rejected_fast(f'<!DOCTYPE h [<!ENTITY % p SYSTEM "{listener}/p"> %p;]><hostRequires/>')


def test_doctype_smuggled_in_another_encoding_is_refused(listener: str) -> None:
    # UTF-16 would hide "<!DOCTYPE" from a byte scan: such documents are refused outright.
    doc = f'<!DOCTYPE h SYSTEM "{listener}/dtd"><hostRequires/>'
    error = rejected_fast(doc.encode("utf-16"))
    assert "UTF-8" in str(error)
    rejected_fast(doc.encode("utf-16-le"))
    # UTF-7 declared: the DTD would only appear after decoding; the parser still loads and
    # expands nothing, and the DTD it saw is refused.
    utf7 = b'<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE h SYSTEM "' + listener.encode()
    rejected_fast(utf7 + b'/dtd"+AD4-<hostRequires/>')


def test_undefined_entity_is_an_error() -> None:
    error = rejected_fast("<hostRequires>\n<hostname value='&nope;'/></hostRequires>")
    assert error.line == 2


@pytest.mark.parametrize("as_bytes", [False, True])
def test_ten_megabytes(as_bytes: bool) -> None:
    doc = "<hostRequires>" + "<and/>" * (10 * 1024 * 1024 // 6) + "</hostRequires>"
    error = rejected_fast(doc.encode() if as_bytes else doc)
    assert "over the limit" in str(error) or "over" in str(error)
    with pytest.raises(HostRequiresError):
        parse_job(doc)


def test_ten_thousand_deep() -> None:
    doc = "<hostRequires>" + "<and>" * 10_000 + "</and>" * 10_000 + "</hostRequires>"
    error = rejected_fast(doc)
    assert "deep" in str(error)


def test_depth_cap_below_libxml2s_own() -> None:
    doc = "<hostRequires>" + "<and>" * 100 + "</and>" * 100 + "</hostRequires>"
    error = rejected_fast(doc)
    assert "nested deeper than 64 levels" in str(error)
    assert error.element == "and"


def test_element_count_cap() -> None:
    error = rejected_fast("<hostRequires>" + "<and/>" * 20_000 + "</hostRequires>")
    assert "more than 10000 elements" in str(error)


@pytest.mark.parametrize(
    ("document", "line", "column"),
    [
        ("<hostRequires>\n<and>\n</hostRequires>", 3, 3),
        ("", None, None),
        ("not xml at all", 1, 1),
        ("<hostRequires></hostRequires>trailing", 1, 30),
    ],
)
def test_malformed_documents_say_where(document: str, line: int | None, column: int | None) -> None:
    error = rejected_fast(document)
    assert error.line == line
    if column is not None:
        assert error.column is not None


@pytest.mark.parametrize(
    ("body", "element", "fragment"),
    [
        ('<memory value="lots"/>', "memory", "not an integer"),
        ('<memory value="4_096"/>', "memory", "not an integer"),
        ('<system><memory op="~" value="1"/></system>', "memory", "unknown op '~'"),
        ('<memory op="" value="1"/>', "memory", "unknown op ''"),
        ('<disk><size value="2" units="GIB"/></disk>', "size", "unknown units 'GIB'"),
        ('<cpu><speed value="fast"/></cpu>', "speed", "not a number"),
        ('<cpu><family value="6.5"/></cpu>', "family", "not an integer"),
        ('<diskspace value="1" units="parsecs"/>', "diskspace", "unknown units"),
    ],
)
def test_bad_values_name_element_and_line(body: str, element: str, fragment: str) -> None:
    with pytest.raises(HostRequiresError) as caught:
        parse(f"<hostRequires>\n\n{body}</hostRequires>")
    assert caught.value.element == element
    assert caught.value.line == 3
    assert fragment in str(caught.value)
    assert str(caught.value).startswith(f"<{element}> at line 3")


def test_decimal_speed_is_accepted() -> None:
    assert parse('<hostRequires><cpu><speed op="&gt;" value="2400.5"/></cpu></hostRequires>')
