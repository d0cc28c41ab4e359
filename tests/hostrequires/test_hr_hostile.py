"""Hostile and malformed documents: rejected fast, clearly, reading nothing."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostrequires.conftest import PARSE_MODULE, ParserCpuTime
from virtprov.errors import HostRequiresError
from virtprov.hostrequires import Target, parse, parse_any, parse_job

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
    with ParserCpuTime() as spent, pytest.raises(HostRequiresError) as caught:
        parse(document)
    assert spent.seconds < 0.1, f"took {spent.seconds * 1000:.1f} ms"
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
    assert "more than 1000 elements" in str(error)


@pytest.mark.parametrize("cap", [1, 2, 5, 250, 1000])
@pytest.mark.parametrize("as_bytes", [False, True])
def test_element_count_cap_on_the_shortest_elements(cap: int, as_bytes: bool) -> None:
    # A document too short to hold more elements than the cap is not counted: one more
    # than the cap, each as short as an element can be, is still refused.
    def document(count: int) -> str | bytes:
        text = "<r>" + "<a/>" * count + "</r>"
        return text.encode() if as_bytes else text

    assert len(parse(document(cap), max_elements=cap).warnings) == cap  # unknown elements
    with pytest.raises(HostRequiresError, match=f"more than {cap} elements"):
        parse(document(cap + 1), max_elements=cap)
    if cap == 1000:  # parse_any's cap is the default
        assert len(parse_any(document(cap)).warnings) == cap  # type: ignore[union-attr]
        with pytest.raises(HostRequiresError, match=f"more than {cap} elements"):
            parse_any(document(cap + 1))


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


# -- patterns that would backtrack --------------------------------------------------------

LONG_LAB = "lab-01.rack-7.beaker.example.com"


@pytest.mark.timeout(10)
def test_like_on_the_lab_controller_is_linear() -> None:
    # each % was a .* of a backtracking regular expression: over a minute on this lab
    hr = parse('<hostRequires><labcontroller op="like" value="%%%%%%%%%%%%Z"/></hostRequires>')
    verdict = hr.virtualisable(Target(lab=LONG_LAB))
    assert not verdict
    assert "labcontroller" in verdict.reasons[0]
    assert parse('<hostRequires><labcontroller op="like" value="%%%%%%%%%%%%M"/></hostRequires>')


@pytest.mark.timeout(10)
def test_like_with_300_percent_signs_needs_no_option() -> None:
    hr = parse(f'<hostRequires><arch op="like" value="{"%" * 300}Z"/></hostRequires>')
    assert not hr.virtualisable(Target())
    hr = parse(f'<hostRequires><arch op="like" value="{"%_" * 300}"/></hostRequires>')
    assert not hr.virtualisable(Target())  # no arch has 300 characters
    hr = parse(f'<hostRequires><arch op="like" value="{"%" * 300}86{"%" * 300}"/></hostRequires>')
    assert hr.virtualisable(Target())


def test_like_patterns_are_capped_in_length_and_number() -> None:
    doc = f'<hostRequires>\n<arch op="like" value="{"%" * 1001}"/></hostRequires>'
    error = rejected_fast(doc)
    assert (error.element, error.line) == ("arch", 2)
    assert "pattern of 1001 characters is over the limit of 1000" in str(error)
    lab_like = '<labcontroller op="like" value="%lab%"/>'
    error = rejected_fast(f"<hostRequires>{lab_like * 101}</hostRequires>")
    assert "more than 100 patterns in one document" in str(error)
    assert parse(f"<hostRequires>{lab_like * 100}</hostRequires>")
    long_like = f'<labcontroller op="like" value="{"%" * 1000}"/>'
    error = rejected_fast(f"<hostRequires>{long_like * 11}</hostRequires>")
    assert "patterns of more than 10000 characters in all" in str(error)
    assert parse(f"<hostRequires>{long_like * 10}</hostRequires>")
    # what no guest has is never matched, so it is not counted
    hostname_like = '<hostname op="like" value="%x%"/>'
    assert parse(f"<hostRequires>{hostname_like * 500}</hostRequires>")


# -- numbers that explode ------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_a_huge_exponent_is_refused_before_any_conversion() -> None:
    # Fraction("1e999999999") builds an integer of a billion digits
    error = rejected_fast(
        '<hostRequires><cpu><speed op="&gt;=" value="1e999999999"/></cpu></hostRequires>'
    )
    assert error.element == "speed"
    assert "exponent of more than 2 digits" in str(error)


@pytest.mark.parametrize(
    ("body", "element"),
    [
        (f'<memory value="{"9" * 4000}"/>', "memory"),
        (f'<system><memory op="&gt;=" value="{"1" * 31}"/></system>', "memory"),
        (f'<cpu><cores value="{"7" * 4000}"/></cpu>', "cores"),
        (f'<disk><size value="{"4" * 40}" units="GiB"/></disk>', "size"),
        (f'<cpu><speed value="{"2" * 31}.5"/></cpu>', "speed"),
        (f'<cpu><family value="{"6" * 31}"/></cpu>', "family"),
        (f'<numa_node_count value="{"1" * 4000}"/>', "numa_node_count"),
    ],
)
def test_numbers_have_a_digit_cap(body: str, element: str) -> None:
    error = rejected_fast(f"<hostRequires>{body}</hostRequires>")
    assert error.element == element
    assert "more than 30 digits" in str(error)
    assert len(str(error)) < 200  # the value is quoted cut short


def test_values_have_a_length_cap() -> None:
    error = rejected_fast(f'<hostRequires>\n<memory value="{"9" * 5000}"/></hostRequires>')
    assert (error.element, error.line) == ("memory", 2)  # was Python's ValueError
    assert "value= of 5000 characters is over the limit of 4096" in str(error)
    error = rejected_fast(f'<hostRequires><device type="{"x" * 4097}"/></hostRequires>')
    assert "type= of 4097 characters" in str(error)
    error = rejected_fast(f'<hostRequires force="{"x" * 4097}"/>')
    assert "force= of 4097 characters" in str(error)
    assert parse(f'<hostRequires><hostname value="{"h" * 4096}"/></hostRequires>')


def test_numbers_within_the_cap_still_count() -> None:
    hr = parse(f'<hostRequires><memory op="&lt;" value="{"9" * 30}"/></hostRequires>')
    assert hr.program[0] != 6  # not a constant: a real size test
    assert parse('<hostRequires><cpu><speed op="&gt;" value="2.4e3"/></cpu></hostRequires>')


# -- encodings, resources, input types ---------------------------------------------------------


@pytest.mark.parametrize("encoding", ["UTF-7", "ISO-8859-1", "UTF-16", "ebcdic-cp-us", "x"])
def test_only_utf8_may_be_declared(encoding: str) -> None:
    doc = f'<?xml version="1.0" encoding="{encoding}"?>\n<hostRequires/>'.encode()
    error = rejected_fast(doc)
    assert f"declares encoding '{encoding}': only UTF-8 is accepted" in str(error)


@pytest.mark.parametrize("encoding", ["UTF-8", "utf-8", "UTF8", "US-ASCII", "ascii"])
def test_utf8_and_ascii_may_be_declared(encoding: str) -> None:
    for quote in ('"', "'"):
        doc = f"<?xml version='1.0' encoding={quote}{encoding}{quote}?><hostRequires/>"
        assert parse(doc.encode())
        assert parse(b"\xef\xbb\xbf" + doc.encode())
    # a str is decoded already: whatever it declares, it is read as the text it is
    assert parse('<?xml version="1.0" encoding="ISO-8859-1"?><hostRequires/>')


@pytest.mark.timeout(10)
def test_a_dtd_naming_a_fifo_cannot_block_the_parser(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    # UTF-7 hid the DOCTYPE from the byte scan and libxml2 opened the FIFO: for ever
    doc = b'<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE h SYSTEM "'
    error = rejected_fast(doc + str(fifo).encode() + b'"+AD4-<hostRequires/>')
    assert "UTF-7" in str(error)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("kind", ["fifo", "file"])
def test_the_parser_itself_loads_nothing(tmp_path: Path, kind: str) -> None:
    """Even a DOCTYPE that passed every scan would be refused by the parser's resolver."""
    from lxml import etree

    target = tmp_path / kind
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.write_text('<!ENTITY x "pwned">')
    doc = f'<!DOCTYPE h SYSTEM "{target}"><h>&x;</h>'.encode()
    with pytest.raises(PARSE_MODULE._Refused):
        etree.fromstring(doc, PARSE_MODULE._safe_parser())


@pytest.mark.parametrize("value", [None, 12, 10**12, 1.5, ["<hostRequires/>"], {"a": 1}, object()])
def test_any_other_type_is_a_host_requires_error(value: object) -> None:
    error = rejected_fast(value)  # type: ignore[arg-type]
    assert "expected the document as text (str or bytes)" in str(error)


def test_bytes_like_documents() -> None:
    doc = b'<hostRequires><memory value="4096"/></hostRequires>'
    assert parse(bytearray(doc)).program == parse(doc).program == parse(memoryview(doc)).program


# -- what reasons show -----------------------------------------------------------------------


def test_reasons_quote_long_values_cut_short() -> None:
    hr = parse(f'<hostRequires><hostname value="{"h" * 4000}"/></hostRequires>')
    (reason,) = hr.virtualisable(Target()).reasons
    assert len(reason) < 300
    assert "(3920 more characters)" in reason


def test_reasons_escape_what_a_terminal_would_act_on() -> None:
    # XML cannot hold C0 controls, but C1 controls (CSI) and bidirectional overrides
    hr = parse('<hostRequires><labcontroller value="lab&#x9b;2J&#x202e;moc"/></hostRequires>')
    (reason,) = hr.virtualisable(Target(lab=LONG_LAB)).reasons
    assert "\x9b" not in reason
    assert "\u202e" not in reason
    assert "lab\\x9b2J\\u202emoc" in reason


def test_reasons_are_capped_per_flavor_and_per_verdict() -> None:
    from virtprov.hostrequires import prepare
    from virtprov.hostrequires.compiled import LEFT_OUT, MAX_REASONS
    from virtprov.model import Flavor, GiB

    flavors = [Flavor(f"{n}", f"f{n}", vcpus=n, ram_mib=1024 * n, disk_bytes=20 * GiB)
               for n in range(1, 41)]  # fmt: skip
    unmet = "".join(f'<memory op="&gt;" value="{10**6 + n}"/>' for n in range(999))
    match = parse(f"<hostRequires>{unmet}</hostRequires>").match(prepare(flavors, Target()))
    assert match.chosen is None
    assert len(match.reasons) == 40 * (MAX_REASONS + 1)  # not 40 x 999
    assert match.removed[0].reasons[-1] == LEFT_OUT
    never = "".join(f'<hostname value="h{n}"/>' for n in range(999))
    verdict = parse(f"<hostRequires>{never}</hostRequires>").virtualisable(Target())
    assert len(verdict.reasons) == MAX_REASONS + 1
    alternatives = parse(f"<hostRequires><or>{never}</or></hostRequires>")
    (reason,) = alternatives.virtualisable(Target()).reasons
    assert reason.count("; ") == MAX_REASONS  # ten alternatives, then what was left out
    assert reason.endswith(LEFT_OUT)
