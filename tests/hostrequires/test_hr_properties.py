"""Property tests: the set algebra of <and>/<or>/<not>, the two evaluation paths agreeing,
and parsing never raising anything but HostRequiresError."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from virtprov.errors import HostRequiresError
from virtprov.hostrequires import Target, parse, prepare
from virtprov.hostrequires.compiled import explain_flavor
from virtprov.model import Flavor, GiB

# Every disk over 10 GiB, so that only the document decides.
FLAVORS = [
    Flavor(str(i), f"f{i}", vcpus=vcpus, ram_mib=ram, disk_bytes=disk * GiB, arch=arch)
    for i, (vcpus, ram, disk, arch) in enumerate(
        [
            (1, 1024, 10, None),
            (1, 2048, 20, None),
            (2, 2048, 40, "x86_64"),
            (2, 4096, 40, None),
            (4, 4096, 80, "i386"),
            (4, 8192, 80, None),
            (8, 16384, 160, "aarch64"),
            (16, 32768, 320, None),
        ]
    )
]
TARGET = Target(arches=("x86_64", "i386"), lab="lab.example.com")
PREPARED = prepare(FLAVORS, TARGET)

OPS = ["=", "!=", "&lt;", "&lt;=", "&gt;", "&gt;="]
TEXT_OPS = [*OPS, "like"]

leaf = st.one_of(
    st.builds(
        '<memory op="{}" value="{}"/>'.format,
        st.sampled_from(OPS),
        st.sampled_from([1024, 2048, 3000, 4096, 16384]),
    ),
    st.builds(
        '<cpu><cores op="{}" value="{}"/></cpu>'.format, st.sampled_from(OPS), st.integers(1, 16)
    ),
    st.builds(
        '<disk><size op="{}" value="{}" units="GiB"/></disk>'.format,
        st.sampled_from(OPS),
        st.sampled_from([10, 20, 40, 100]),
    ),
    st.builds(
        '<system><arch op="{}" value="{}"/></system>'.format,
        st.sampled_from(TEXT_OPS),
        st.sampled_from(["x86_64", "i386", "aarch64", "x86%"]),
    ),
    st.builds(
        '<hypervisor op="{}" value="{}"/>'.format,
        st.sampled_from(["=", "!=", "like"]),
        st.sampled_from(["KVM", "", "Xen", "K%"]),
    ),
    st.just('<cpu><flag value="vmx"/></cpu>'),
    st.just('<device type="network"/>'),
    st.just('<labcontroller value="lab.example.com"/>'),
)


def _wrap(tag: str) -> st.SearchStrategy[str]:
    return st.lists(st.deferred(lambda: tree), max_size=3).map(
        lambda children: f"<{tag}>{''.join(children)}</{tag}>"
    )


tree: st.SearchStrategy[str] = st.one_of(
    leaf, st.deferred(lambda: st.one_of(_wrap("and"), _wrap("or"), _wrap("not"), _wrap("system")))
)


def matched(body: str) -> int:
    """The (flavor, arch) candidates satisfying ``body``, as a bit mask.

    The algebra holds per candidate, not per flavor: a flavor that runs either arch
    satisfies both <arch value="x86_64"/> (as x86_64) and its <not> (as i386).
    """
    return parse(f"<hostRequires>{body}</hostRequires>").match(PREPARED).matched


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(tree)
def test_not_is_the_complement(body: str) -> None:
    assert matched(f"<not>{body}</not>") == PREPARED.all ^ matched(body)


@FAST
@given(tree, tree)
def test_and_is_intersection_or_is_union(a: str, b: str) -> None:
    assert matched(f"<and>{a}{b}</and>") == matched(a) & matched(b)
    assert matched(f"<or>{a}{b}</or>") == matched(a) | matched(b)


@FAST
@given(tree)
def test_mask_and_per_flavor_paths_agree_and_every_removal_has_a_reason(body: str) -> None:
    hr = parse(f"<hostRequires>{body}</hostRequires>")
    match = hr.match(PREPARED)
    kept = {f.name for f in match.flavors}
    for number, flavor in enumerate(PREPARED.flavors):
        holds = any(hr.root.holds(PREPARED, i) for i in PREPARED.candidates_of(number))
        assert holds == (flavor.name in kept)
        if not holds:
            assert explain_flavor(hr.root, PREPARED, number)


@FAST
@given(tree)
def test_a_match_implies_virtualisable(body: str) -> None:
    hr = parse(f"<hostRequires>{body}</hostRequires>")
    verdict = hr.virtualisable(TARGET)
    if hr.match(PREPARED).flavors:
        assert verdict.virtualisable
    if not verdict.virtualisable:
        assert verdict.reasons


# Text built from XML's own pieces, so that many near-misses reach the compiler.
xmlish = st.lists(
    st.sampled_from(
        [
            "<",
            ">",
            "/",
            "</",
            "/>",
            "=",
            '"',
            "'",
            " ",
            "\n",
            "&",
            ";",
            "&gt;",
            "&#",
            "x",
            "hostRequires",
            "and",
            "or",
            "not",
            "memory",
            "cpu",
            "disk",
            "size",
            "op",
            "value",
            "units",
            "GiB",
            "like",
            "force",
            "4096",
            "-1",
            "1e9",
            "<!--",
            "-->",
            "<![CDATA[",
            "]]>",
            "<?",
            "?>",
            "<!DOCTYPE",
            "<!ENTITY",
            "SYSTEM",
            "\x00",
            "\ud800",
            "é",
        ]
    ),
    max_size=40,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.one_of(xmlish, st.text(max_size=200), tree.map("<hostRequires>{}</hostRequires>".format)))
def test_parse_raises_only_host_requires_error(text: str) -> None:
    for document in (text, text.encode("utf-8", "surrogatepass")):
        try:
            hr = parse(document)
        except HostRequiresError:
            continue
        hr.virtualisable(TARGET)
        match = hr.match(PREPARED)
        assert isinstance(match.reasons, tuple)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_parse_of_bytes_raises_only_host_requires_error(data: bytes) -> None:
    with contextlib.suppress(HostRequiresError):
        parse(data)
