"""How fast the <hostRequires/> evaluator is, against bare lxml on the same corpus.

A corpus of generated documents (from the element vocabulary, mostly small as real
recipes are, some large) is evaluated against 40 flavors. One run measures, rounds
interleaved so that machine noise hits both alike:

* ``ratio_vs_lxml``: the time of ``parse`` + ``virtualisable`` + ``match`` (against a flavor
  set prepared once, as a scheduler does per provider) over the corpus, divided by the time
  of bare ``lxml.etree.fromstring`` over the same bytes (median of per-round ratios), with
  the front end virtprov uses here (``front_end``: ``compiled`` when virtprov-speedups is
  installed, else ``python``);
* ``ratio_vs_lxml_python``: the same with the pure-Python front end (virtprov without
  virtprov-speedups);
* ``evals_per_s``: evaluations (``virtualisable`` + ``match``, the chosen flavor) per second
  of already parsed documents, across the corpus;
* ``tmt_evals_per_s``: the same for a corpus of tmt ``hardware:`` mappings of the same mix
  of sizes (memory, CPUs, disks, arch, virtualization, CPU flags, TPM, ``and``/``or``),
  against the same flavors, some of which declare CPU flags and a TPM.

Nothing is cached between documents or rounds. The last line is a JSON object.

    python benchmarks/eligibility.py [--documents N] [--rounds N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable

from lxml import etree

from virtprov.hostrequires import Target, parse, prepare
from virtprov.hostrequires.properties import declared_names
from virtprov.hostrequires.tmt import parse_tmt
from virtprov.model import Flavor, GiB

# The module (virtprov.hostrequires exports a function of the same name).
PARSE_MODULE = sys.modules["virtprov.hostrequires.parse"]

OPS = ["=", "==", "!=", "&lt;", "&lt;=", "&gt;", "&gt;="]
MEMORY = [1024, 2048, 4096, 8192, 16384]
DISK = [10, 20, 40, 100]


def flavors() -> list[Flavor]:
    """40 flavors, like a real cloud's mix of general, memory and CPU optimised shapes."""
    shapes = []
    for vcpus in (1, 2, 4, 8, 16):
        for ram_per_cpu in (1024, 2048, 4096, 8192):
            for disk in (10, 40):
                shapes.append((vcpus, vcpus * ram_per_cpu, disk * vcpus if disk > 10 else 10))
    # every fifth flavor declares nested virtualisation and a TPM (tmt's cpu.flag, tpm)
    declared = {"cpu.flag": "vmx avx2", "virtualization.is-supported": "true", "tpm.version": "2.0"}
    return [
        Flavor(
            f"id-{n}",
            f"flavor-{v}c-{r // 1024}g-{d}",
            vcpus=v,
            ram_mib=r,
            disk_bytes=d * GiB,
            properties=declared if n % 5 == 4 else {},
        )
        for n, (v, r, d) in enumerate(shapes)
    ]


def _leaf(rng: random.Random) -> str:
    op = rng.choice(OPS)
    choices: list[Callable[[], str]] = [
        lambda: f'<system><memory op="{op}" value="{rng.choice(MEMORY)}"/></system>',
        lambda: f'<memory op="{op}" value="{rng.choice([512, 2048, 4096])}"/>',
        lambda: f'<cpu><cores op="{op}" value="{rng.choice([1, 2, 4, 8])}"/></cpu>',
        lambda: f'<cpu><processors op="{op}" value="{rng.choice([1, 2, 4])}"/></cpu>',
        lambda: f'<cpu_count op="{op}" value="{rng.choice([1, 2, 4])}"/>',
        lambda: (
            f'<disk><size op="{op}" value="{rng.choice(DISK)}" '
            f'units="{rng.choice(["GiB", "GB"])}"/></disk>'
        ),
        lambda: f'<arch op="=" value="{rng.choice(["x86_64", "i386", "aarch64"])}"/>',
        lambda: f'<system><arch value="{rng.choice(["x86_64", "ppc64le"])}"/></system>',
        lambda: '<system_type op="=" value="Machine"/>',
        lambda: (
            f'<system><hypervisor op="{rng.choice(["=", "!="])}" '
            f'value="{rng.choice(["", "KVM"])}"/></system>'
        ),
        lambda: '<labcontroller op="=" value="lab.example.com"/>',
        lambda: '<hostlabcontroller value="lab.example.com"/>',
        lambda: f'<hostname op="like" value="%.{rng.choice(["a", "b"])}.example.com"/>',
        lambda: '<cpu><flag op="=" value="vmx"/></cpu>',
        lambda: '<key_value key="NETBOOT_METHOD" op="=" value="efi"/>',
        lambda: f'<device op="=" type="{rng.choice(["network", "storage"])}"/>',
        lambda: '<pool op="!=" value="reserved"/>',
        lambda: f'<system><vendor op="like" value="{rng.choice(["HP%", "Dell%"])}"/></system>',
    ]
    return rng.choice(choices)()


def _tree(rng: random.Random, leaves: int, depth: int = 0) -> str:
    if leaves <= 1 or depth > 4:
        return "".join(_leaf(rng) for _ in range(max(leaves, 1)))
    parts, left = [], leaves
    while left > 0:
        size = rng.randint(1, left)
        left -= size
        if size > 1 or rng.random() < 0.2:
            tag = rng.choice(["and", "and", "or", "not", "system", "cpu"])
            inner = _tree(rng, size, depth + 1)
            # <system>/<cpu> would change the vocabulary of the leaves inside: use <and>
            tag = "and" if tag in ("system", "cpu") else tag
            parts.append(f"<{tag}>{inner}</{tag}>")
        else:
            parts.append(_leaf(rng))
    return "\n  ".join(parts)


def corpus(count: int, seed: int = 20261122) -> list[bytes]:
    """Mostly small documents (as real recipes), some medium, a few large."""
    rng = random.Random(seed)
    documents = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.15:
            body = ""
        elif kind < 0.55:
            body = _tree(rng, rng.randint(1, 3))
        elif kind < 0.85:
            body = _tree(rng, rng.randint(4, 10))
        else:
            body = _tree(rng, rng.randint(11, 60))
        documents.append(f"<hostRequires>\n  {body}\n</hostRequires>\n".encode())
    return documents


TMT_OPS = ["", "= ", "!= ", "< ", "<= ", "> ", ">= "]


def _tmt_leaf(rng: random.Random) -> dict[str, object]:
    op = rng.choice(TMT_OPS)
    choices: list[Callable[[], dict[str, object]]] = [
        lambda: {"memory": f"{op}{rng.choice([1, 2, 4, 8, 16])} {rng.choice(['GiB', 'GB'])}"},
        lambda: {"memory": f"{op}{rng.choice(MEMORY)}"},
        lambda: {"cpu": {"processors": f"{op}{rng.choice([1, 2, 4, 8])}"}},
        lambda: {"cpu": {"cores": f"{op}{rng.choice([1, 2, 4])}"}},
        lambda: {"disk": [{"size": f"{op}{rng.choice(DISK)} {rng.choice(['GiB', 'GB'])}"}]},
        lambda: {"arch": rng.choice(["x86_64", "i386", "aarch64", "~ x86.*"])},
        lambda: {"virtualization": {"is-virtualized": rng.random() < 0.9}},
        lambda: {"virtualization": {"hypervisor": rng.choice(["kvm", "!= xen"])}},
        lambda: {"location": {"lab-controller": "lab.example.com"}},
        lambda: {"cpu": {"flag": [rng.choice(["vmx", "avx2", "!= svm"])]}},
        lambda: {"tpm": {"version": rng.choice(["2.0", ">= 1.2"])}},
        lambda: {"virtualization": {"is-supported": True}},
        lambda: {"hostname": "~ kvm-.*"},
    ]
    return rng.choice(choices)()


def _tmt_tree(rng: random.Random, leaves: int, depth: int = 0) -> dict[str, object]:
    if leaves <= 1 or depth > 4:
        return _tmt_leaf(rng)
    parts = rng.randint(2, min(4, leaves))
    sizes = [leaves // parts] * parts
    return {rng.choice(["and", "and", "or"]): [_tmt_tree(rng, size, depth + 1) for size in sizes]}


def tmt_corpus(count: int, seed: int = 20261202) -> list[dict[str, object]]:
    """tmt hardware: mappings of the same mix of sizes as :func:`corpus`."""
    rng = random.Random(seed)
    documents: list[dict[str, object]] = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.15:
            documents.append({})
        elif kind < 0.55:
            documents.append(_tmt_tree(rng, rng.randint(1, 3)))
        elif kind < 0.85:
            documents.append(_tmt_tree(rng, rng.randint(4, 10)))
        else:
            documents.append(_tmt_tree(rng, rng.randint(11, 60)))
    return documents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="a small corpus, for the test suite")
    args = parser.parse_args()
    count, rounds = (200, 2) if args.quick else (max(args.documents, 1000), args.rounds)

    documents = corpus(count)
    target = Target(hypervisor="KVM", arches=("x86_64", "i386"), lab="lab.example.com")
    prepared = prepare(flavors(), target)
    fromstring = etree.fromstring

    def bare_lxml() -> None:
        for document in documents:
            fromstring(document)

    def virtprov() -> None:
        for document in documents:
            hr = parse(document)
            hr.virtualisable(target)
            hr.match(prepared).chosen  # noqa: B018 - the scheduler's question

    compiled = PARSE_MODULE.native

    def virtprov_python() -> None:
        PARSE_MODULE.native = None
        try:
            virtprov()
        finally:
            PARSE_MODULE.native = compiled

    parsed = [parse(document) for document in documents]

    def evaluate() -> None:
        for hr in parsed:
            hr.virtualisable(target)
            hr.match(prepared).chosen  # noqa: B018

    # tmt: the same question on the same flavors, whose declarations the target knows
    tmt_target = Target(
        hypervisor="KVM",
        arches=("x86_64", "i386"),
        lab="lab.example.com",
        declared=declared_names(f.properties for f in prepared.flavors),
    )
    tmt_prepared = prepare(prepared.flavors, tmt_target)
    tmt_parsed = [parse_tmt(document) for document in tmt_corpus(count)]

    def evaluate_tmt() -> None:
        for hr in tmt_parsed:
            hr.virtualisable(tmt_target)
            hr.match(tmt_prepared).chosen  # noqa: B018

    def timed(function: Callable[[], None]) -> float:
        started = time.perf_counter()
        function()
        return time.perf_counter() - started

    lxml_times, virtprov_times, python_times, eval_times, tmt_times = [], [], [], [], []
    ratios, python_ratios = [], []
    for _ in range(rounds):
        lxml_time, virtprov_time = timed(bare_lxml), timed(virtprov)
        python_time = timed(virtprov_python)
        lxml_times.append(lxml_time)
        virtprov_times.append(virtprov_time)
        python_times.append(python_time)
        ratios.append(virtprov_time / lxml_time)
        python_ratios.append(python_time / lxml_time)
        eval_times.append(timed(evaluate))
        tmt_times.append(timed(evaluate_tmt))
    sizes = sorted(len(d) for d in documents)
    elements = sum(d.count(b"<") - d.count(b"</") for d in documents) / len(documents)
    ratio = statistics.median(ratios)
    python_ratio = statistics.median(python_ratios)
    front_end = "python" if compiled is None else "compiled"
    evals_per_s = len(documents) / statistics.median(eval_times)
    tmt_evals_per_s = len(tmt_parsed) / statistics.median(tmt_times)
    per_doc = 1e6 / len(documents)
    print(
        f"corpus: {len(documents)} documents, median {sizes[len(sizes) // 2]} bytes, "
        f"max {sizes[-1]} bytes, {elements:.1f} elements on average; 40 flavors; {rounds} rounds"
    )
    for label, times in (
        ("bare lxml.etree.fromstring", lxml_times),
        (f"virtprov parse + evaluate ({front_end})", virtprov_times),
        ("the same, Python front end", python_times),
        ("evaluate a parsed document", eval_times),
        ("evaluate a parsed tmt document", tmt_times),
    ):
        print(f"{label:44s} {statistics.median(times) * per_doc:8.2f} us/document")
    print(f"ratio vs lxml: {ratio:.2f} (goal <= 2.0), {front_end} front end")
    print(f"ratio vs lxml, Python front end: {python_ratio:.2f}")
    print(f"evaluations/s: {evals_per_s:,.0f} (goal >= 100,000)")
    print(f"tmt evaluations/s: {tmt_evals_per_s:,.0f} (goal >= 100,000)")
    figures = {
        "ratio_vs_lxml": round(ratio, 3),
        "front_end": front_end,
        "ratio_vs_lxml_python": round(python_ratio, 3),
        "evals_per_s": round(evals_per_s),
        "tmt_evals_per_s": round(tmt_evals_per_s),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
