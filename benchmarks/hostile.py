"""Hostile documents: each bounded in time and memory, and none of them slows a pool.

**The catalogue.** Pathological inputs of both languages (``<hostRequires/>`` and tmt
``hardware:``): regular-expression blow-ups, nested quantifiers, many ``%`` and ``_``,
long alternations, huge character classes, long lab and CPU model names, numbers that
explode, encodings, entities, nesting, alias bombs, control characters, the largest
documents the limits accept. Each comes the way a scheduler or an operator hands it over:
as text, as a file (read as ``virtprov check`` reads one), as a stream (a pipe fed by a
thread, endless for some), or as a Python mapping (``parse_tmt(mapping)``,
``Recipe(hardware=mapping)``). Each is judged as the pool judges a recipe, against 40
flavors that all declare a real CPU model name: parse, ``virtualisable`` with its reasons,
``match`` with its reasons and warnings. Each input runs in its own forked process,
``--runs`` times with every pattern cache emptied before each run; printed per input: the
worst time of those runs and the peak memory (the growth of the process's resident
set, VmHWM, which counts libxml2's and RE2's memory too). Goal: under 50 ms and 100 MB
each.

**The pool.** ``virtprov.pool.Pool`` on the fake cloud (``virtprov.fake``, launch.py's
latency model: create 50 ms, build 1 s, stop 0.3 s; 20 creates/s) launches 200 ordinary
recipes twice: alone, then with 20 hostile ones from the catalogue submitted among them
(one in ten). Printed: both times, the ordinary recipes' throughput with the hostile ones
as a ratio to without (goal >= 0.90), and each hostile recipe's outcome and reason (each
must be decided: precluded with the error, or refused when its ``Recipe`` is made).

The last line is a JSON object. ``--quick`` is a short smoke run (fewer runs, a small
pool).

    python benchmarks/hostile.py [--runs N] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import attrs
import yaml

from benchmarks.eligibility import flavors as eligibility_flavors
from virtprov.errors import HostRequiresError
from virtprov.fake import FakeProvider
from virtprov.fake.faults import Latency
from virtprov.hostrequires import MAX_JOB_BYTES, Candidates, Target, parse, prepare
from virtprov.hostrequires import patterns as P
from virtprov.hostrequires.reading import TooLarge, read_bounded, read_file
from virtprov.hostrequires.tmt import MAX_BYTES as TMT_MAX_BYTES
from virtprov.hostrequires.tmt import parse_tmt
from virtprov.model import Flavor
from virtprov.pool import Limits, Pool, PoolSettings, Recipe, Status

LAB = "lab-01.rack-7.beaker.example.com"
XEON = "Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz"
GOAL_MS = 50.0
GOAL_MB = 100.0
MiB = 1024 * 1024


def bench_flavors() -> list[Flavor]:
    """eligibility.py's 40 flavors, each also declaring a real CPU model name."""
    return [
        attrs.evolve(f, properties={**f.properties, "cpu.model-name": XEON})
        for f in eligibility_flavors()
    ]


FLAVORS = bench_flavors()
TARGET = Target.from_info(FakeProvider(lab=LAB, flavors=FLAVORS).info, FLAVORS)


# -- the catalogue -------------------------------------------------------------------------


class Input(NamedTuple):
    """One hostile input: ``make()`` builds the payload (not timed: it is the user's)."""

    name: str
    language: str  # "xml" or "tmt"
    form: str  # "text", "file", "stream", "mapping", "recipe", "value"
    make: Callable[[], Any]


def inputs(language: str, form: str, makers: dict[str, Callable[[], Any]]) -> list[Input]:
    """The inputs of one language handed over one way: ``{name: make}``."""
    return [Input(name, language, form, make) for name, make in makers.items()]


def hr(body: str) -> str:
    return f"<hostRequires>{body}</hostRequires>"


def alias_bomb(levels: int) -> str:
    """YAML of 9**levels strings in about 100 bytes a level: YAML's billion laughs."""
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"l{n}: &l{n} [" + ",".join([f"*l{n - 1}"] * 9) + "]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">\n'
        for n in range(1, 10)
    )
    + ']>\n<hostRequires><hostname value="&lol9;"/></hostRequires>\n'
)
WORDS = "|".join(f"w{n:03d}x" for n in range(200))[:990]
ALTERNATION = "(" + WORDS[: WORDS.rfind("|")] + ")"


def many_like_patterns() -> str:
    """The most like patterns a document may hold: 10 of 900 characters, 90 short ones
    (9,810 characters in all, of 10,000)."""
    long = "".join(
        f'<labcontroller op="like" value="{"%" + "_%" * 449 + str(n)}"/>' for n in range(10)
    )
    short = "".join(f'<cpu><model_name op="like" value="%Xeon%{n}%"/></cpu>' for n in range(90))
    return hr(f"<or>{long}{short}</or>")


def many_regexes(tail: str) -> Callable[[], dict[str, Any]]:
    """100 regular expressions, nested quantifiers all, against the 40 model names."""

    def make() -> dict[str, Any]:
        blocks = [
            {"cpu": {"model-name": f"~ (I+)+(n+)+(t+)+(e+)+(l+)+.*(Gold|Silver|{n:02d}){tail}"}}
            for n in range(100)
        ]
        return {"or": blocks}

    return make


def catalogue(workdir: Path) -> list[Input]:
    fifo = workdir / "fifo"
    if not fifo.exists():
        os.mkfifo(fifo)

    def file_of(name: str, content: str | bytes) -> Callable[[], str]:
        path = workdir / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return lambda: str(path)

    utf7 = b'<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE h SYSTEM "%s"+AD4-<hostRequires/>'
    return [
        # <hostRequires/>: patterns
        *inputs("xml", "text", {
            "xml like lab %%%%%%%%%%%%Z":
                lambda: hr('<labcontroller op="like" value="%%%%%%%%%%%%Z"/>'),
            "xml like arch 300 %": lambda: hr(f'<arch op="like" value="{"%" * 300}Z"/>'),
            "xml like 1 MiB pattern": lambda: hr(f'<arch op="like" value="{"%_" * 500_000}"/>'),
            "xml like 1000 underscores":
                lambda: hr(f'<labcontroller op="like" value="{"_" * 1000}"/>'),
            "xml like %a_ x 333": lambda: hr(f'<labcontroller op="like" value="{"%a_" * 333}"/>'),
            "xml like 100 patterns at the budget": many_like_patterns,
            "xml like on 40 declared model names":
                lambda: hr(f'<cpu><model_name op="like" value="{"%_" * 499}Z"/></cpu>'),
            "xml long lab name (1 MB)": lambda: hr(f'<labcontroller value="{"lab" * 333_000}"/>'),
            "xml long CPU model name (1 MB)":
                lambda: hr(f'<cpu><model_name value="{"Xeon" * 250_000}"/></cpu>'),
            "xml 250 long CPU model names (at the cap)":
                lambda: hr(f'<cpu><model_name value="{"Xeon" * 1024}"/></cpu>' * 250),
            # numbers
            "xml speed 1e999999999":
                lambda: hr('<cpu><speed op="&gt;=" value="1e999999999"/></cpu>'),
            "xml memory of 5000 digits": lambda: hr(f'<memory value="{"9" * 5000}"/>'),
            "xml disk size 40 digits in TiB":
                lambda: hr(f'<disk><size value="{"9" * 40}" units="TiB"/></disk>'),
            # encodings, entities, size, nesting
            "xml UTF-7 DOCTYPE on a file": lambda: utf7 % b"/etc/passwd",
            "xml UTF-7 DOCTYPE on a FIFO": lambda: utf7 % str(fifo).encode(),
            "xml billion laughs": lambda: BILLION_LAUGHS,
            "xml external entity":
                lambda: '<!DOCTYPE h [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                '<hostRequires><hostname value="&x;"/></hostRequires>',
            "xml 10,000 deep": lambda: hr("<and>" * 10_000 + "</and>" * 10_000),
            "xml 20,000 elements": lambda: hr("<and/>" * 20_000),
            "xml 1,000 sizes (at the cap)": lambda: hr('<memory op="&gt;=" value="1024"/>' * 1_000),
            "xml 1,000 unmet sizes (reasons)":
                lambda: hr("".join(f'<memory op="&gt;" value="{10**6 + n}"/>' for n in range(999))
                + '<memory op="&lt;" value="1"/>'),
            "xml 999 sizes met, 1 not (reasons)":
                lambda: hr('<memory op="&gt;=" value="1"/>' * 999
                           + '<memory op="&lt;" value="1"/>'),
            "xml 1,000 alternatives unmet":
                lambda: hr("<or>" + '<hostname value="h"/>' * 998 + "</or>"),
            "xml 1,000 unknown elements (warnings)":
                lambda: hr("<an_unknown_element_with_a_long_name/>" * 1_000),
            "xml control characters in values":
                lambda: hr('<labcontroller value="&#x9b;2J&#x202e;&#x85;lab"/>' * 100),
            "xml latin-1 bytes": lambda: hr('<hostname value="caf\xe9"/>').encode("latin-1"),
            "xml UTF-16": lambda: hr("<and/>").encode("utf-16"),
            "xml over 1 MiB": lambda: hr("<and/>" * 200_000),
        }),
        *inputs("xml", "value", {
            "xml not text: 10**12": lambda: 10**12,
        }),
        *inputs("xml", "file", {
            "xml file /dev/zero": lambda: "/dev/zero",
            "xml file billion laughs": file_of("laughs.xml", BILLION_LAUGHS),
            "xml file like %%%%%%%%%%%%Z":
                file_of("like.xml", hr('<labcontroller op="like" value="%%%%%%%%%%%%Z"/>')),
        }),
        *inputs("xml", "stream", {
            "xml stream endless": lambda: None,
            "xml stream 1e999999999":
                lambda: hr('<cpu><speed op="&gt;=" value="1e999999999"/></cpu>').encode(),
        }),
        # tmt hardware: as YAML text
        # Q: no Xeon model name holds one, in either case (patterns ignore case)
        *inputs("tmt", "text", {
            "tmt model-name ~ (.*.*)*Q": lambda: 'cpu:\n  model-name: "~ (.*.*)*Q"\n',
            "tmt lab-controller ~ (.*.*)*Z": lambda: 'location:\n  lab-controller: "~ (.*.*)*Z"\n',
            "tmt hostname x + 400,000 spaces + y": lambda: f'hostname: "x{" " * 400_000}y"\n',
            "tmt unquoted 5000-digit int": lambda: f"memory: {'9' * 5000}\n",
            "tmt alias bomb (1 KB of YAML)": lambda: alias_bomb(9) + "cpu:\n  flag: *l8\n",
            "tmt ~ backreference": lambda: 'hostname: "~ (a)\\\\1"\n',
            "tmt ~ lookahead": lambda: 'cpu:\n  model-name: "~ Intel(?=.*Gold)"\n',
            "tmt ~ long alternation": lambda: f'cpu:\n  model-name: "~ {ALTERNATION}"\n',
            "tmt ~ huge character class":
                lambda: 'cpu:\n  model-name: "~ [\\\\x{1}-\\\\x{10FFFF}]{100}"\n',
            "tmt ~ (\\pL){60}: 9 characters": lambda: 'cpu:\n  model-name: "~ (\\\\pL){60}"\n',
            "tmt ~ nested quantifiers (a+)+$": lambda: 'cpu:\n  model-name: "~ (I+)+(n+)+(t+)+$"\n',
            "tmt memory with 200,000 spaces":
                lambda: f'memory: "5{" " * 100_000}GB{" " * 100_000}x"\n',
            "tmt huge hex cpu.model": lambda: f"cpu:\n  model: '0x{'f' * 5000}'\n",
            "tmt 500 requirements (at the cap)": lambda: "or:\n" + "  - memory: '>= 1 GB'\n" * 500,
            "tmt 500 unmet requirements (reasons)":
                lambda: "and:\n" + "".join(f"  - memory: '> {10**6 + n}'\n" for n in range(500)),
            "tmt 10,000 requirements": lambda: "or:\n" + "  - memory: '>= 1 GB'\n" * 10_000,
            "tmt 10,000 deep": lambda: "[" * 10_000 + "]" * 10_000,
            "tmt control characters": lambda: 'hostname: "\\e[2J"\n',
            "tmt empty document": lambda: "# nothing\n",
            "tmt long lab name (1 MB)": lambda: f"location:\n  lab-controller: {'lab' * 333_000}\n",
            "tmt long lab name (4 KB, at the cap)":
                lambda: f"location:\n  lab-controller: {'lab' * 1365}\n",
        }),
        *inputs("tmt", "file", {
            "tmt file /dev/zero": lambda: "/dev/zero",
            "tmt file alias bomb": file_of("bomb.yaml", alias_bomb(9) + "cpu:\n  flag: *l8\n"),
        }),
        *inputs("tmt", "stream", {
            "tmt stream endless": lambda: None,
            "tmt stream model-name ~ (.*.*)*Q": lambda: b'cpu:\n  model-name: "~ (.*.*)*Q"\n',
        }),
        # tmt hardware: as Python mappings
        *inputs("tmt", "mapping", {
            "mapping alias bomb (yaml.safe_load)":
                lambda: yaml.safe_load(alias_bomb(9) + "cpu:\n  flag: *l8\n"),
            "tmt 500 requirements met, 1 not (reasons)":
                lambda: {"and": [{"memory": ">= 1 MB"}] * 499 + [{"memory": "< 1 MB"}]},
            "mapping that contains itself": self_referencing,
            "mapping 5000-digit int": lambda: {"memory": 10**5000},
            "mapping 2 MiB string": lambda: {"hostname": "x" * (2 * MiB)},
            "mapping model-name ~ (.*.*)*Q": lambda: {"cpu": {"model-name": "~ (.*.*)*Q"}},
            "mapping 100 regexes within the budget":
                many_regexes(".{0,12}Z"),  # 148 RE2 instructions each, of 200
            "mapping 100 regexes over the budget": many_regexes(".{0,40}Z" + ".?" * 40),
            "mapping hostname x + 400,000 spaces + y":
                lambda: {"hostname": "x" + " " * 400_000 + "y"},
            "mapping of dates, sets, bytes":
                lambda: {"hostname": datetime.date(2024, 1, 1), "arch": {1, 2}},
        }),
        *inputs("tmt", "recipe", {
            "Recipe(hardware=alias bomb)":
                lambda: yaml.safe_load(alias_bomb(9) + "cpu:\n  flag: *l8\n"),
        }),
        *inputs("tmt", "presets", {
            "mapping preset chain of 500": preset_chain,
            "mapping preset alias bomb":
                lambda: ({"preset": "p"}, {"p": yaml.safe_load(alias_bomb(9))["l8"]}),
        }),

    ]  # fmt: skip


def self_referencing() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["and"] = [loop]
    return loop


def preset_chain() -> tuple[dict[str, Any], dict[str, Any]]:
    chain: dict[str, Any] = {f"p{n}": {"preset": f"p{n + 1}"} for n in range(500)}
    chain["p500"] = {"memory": ">= 1 GB"}
    return {"preset": "p0"}, chain


# -- judging one input, as the pool and the CLI do ------------------------------------------


def judge(language: str, document: Any, flavors: Candidates, presets: Any = None) -> str:
    """Parse, then every question the pool asks, reasons included; a short outcome."""
    try:
        hr_ = parse(document) if language == "xml" else parse_tmt(document, presets=presets)
    except HostRequiresError as exc:
        return f"refused: {exc}"
    verdict = hr_.virtualisable(TARGET)
    reasons = verdict.reasons
    match = hr_.match(flavors)
    removed = match.reasons
    warnings = match.warnings
    if match.chosen is not None:
        return f"yes, on {match.chosen.name} ({len(warnings)} warnings)"
    first = reasons[0] if reasons else removed[0] if removed else "no reason"
    return f"no: {first}"


def _feed(write: int, payload: bytes | None) -> None:
    """The user's side of a pipe: ``payload``, or ``<`` for ever."""
    chunk = payload if payload is not None else b"<" * 65536
    with contextlib.suppress(OSError), os.fdopen(write, "wb") as pipe:
        pipe.write(chunk)
        while payload is None:
            pipe.write(chunk)


def run_once(item: Input, payload: Any, flavors: Candidates) -> str:
    limit = MAX_JOB_BYTES if item.language == "xml" else TMT_MAX_BYTES
    try:
        if item.form == "file":
            payload = read_file(payload, limit)
        elif item.form == "stream":
            read, write = os.pipe()
            feeder = threading.Thread(target=_feed, args=(write, payload), daemon=True)
            feeder.start()
            with os.fdopen(read, "rb") as stream:
                payload = read_bounded(stream, limit)
    except TooLarge as exc:
        return f"refused while reading: {exc}"
    if item.form == "recipe":
        try:
            payload = Recipe("hostile", hardware=payload).hardware
        except HostRequiresError as exc:
            return f"refused by Recipe(): {exc}"
    if item.form == "presets":
        document, presets = payload
        return judge("tmt", document, flavors, presets)
    return judge(item.language, payload, flavors)


def _forget_patterns() -> None:
    """Every run compiles its patterns afresh (a hostile document's are new anyway)."""
    P.like.cache_clear()
    P.literal.cache_clear()
    P.regex.cache_clear()
    with contextlib.suppress(ImportError):
        import re2  # type: ignore[import-untyped]

        re2.purge()


def _memory(field: str) -> int:
    """A line of /proc/self/status, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _measure_here(item: Input, runs: int) -> dict[str, Any]:
    payload = item.make()
    prepared = [prepare(FLAVORS, TARGET) for _ in range(runs)]
    Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from here
    baseline = _memory("VmRSS")
    times, outcome = [], ""
    for flavors in prepared:
        _forget_patterns()
        started = time.perf_counter()
        outcome = run_once(item, payload, flavors)
        times.append(time.perf_counter() - started)
    peak = _memory("VmHWM") - baseline
    return {"worst_ms": max(times) * 1000, "peak_mb": peak / MiB, "outcome": outcome}


def measure(item: Input, runs: int) -> dict[str, Any]:
    """:func:`_measure_here` in a forked process: its own peak, nothing left behind."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        try:
            result = _measure_here(item, runs)
        except BaseException as exc:  # reported, never swallowed
            result = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        os.write(write, json.dumps(result).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    result: dict[str, Any] = json.loads(data or b'{"error": "the child died"}')
    return result


def warm_up() -> None:
    """Imports and registries a scheduler process has loaded long before (pint, RE2,
    YAML, lxml), with documents of the ordinary kind; then the pattern caches emptied."""
    flavors = prepare(FLAVORS, TARGET)
    judge("xml", hr('<arch op="like" value="x86%"/><memory op="&gt;=" value="1"/>'), flavors)
    judge("tmt", "memory: '>= 1 GiB'\ncpu:\n  model-name: '~ Intel.*\\\\pL'\n", flavors)
    _forget_patterns()


# -- the pool ------------------------------------------------------------------------------

LATENCY = Latency(create=0.05, build=1.0, shutdown=0.3)
RATE = 20.0
ORDINARY = [
    ("xml", hr('<memory op="&gt;=" value="2048"/>')),
    ("xml", hr('<cpu><cores op="&gt;=" value="2"/></cpu><disk><size op="&gt;=" value="20" '
               'units="GiB"/></disk>')),
    ("tmt", {"memory": ">= 4 GiB", "cpu": {"processors": ">= 2"}}),
    ("tmt", "memory: '>= 2 GiB'\narch: x86_64\n"),
]  # fmt: skip
#: The catalogue's inputs a scheduler could hand the pool as a recipe.
POOL_HOSTILE = [
    "xml like lab %%%%%%%%%%%%Z",
    "xml like arch 300 %",
    "xml like 1 MiB pattern",
    "xml speed 1e999999999",
    "xml memory of 5000 digits",
    "xml billion laughs",
    "xml external entity",
    "xml 10,000 deep",
    "xml 20,000 elements",
    "xml control characters in values",
    "tmt model-name ~ (.*.*)*Q",
    "tmt lab-controller ~ (.*.*)*Z",
    "tmt hostname x + 400,000 spaces + y",
    "tmt unquoted 5000-digit int",
    "tmt alias bomb (1 KB of YAML)",
    "tmt ~ backreference",
    "tmt ~ (\\pL){60}: 9 characters",
    "tmt memory with 200,000 spaces",
    "mapping model-name ~ (.*.*)*Q",
    "Recipe(hardware=alias bomb)",
]


def recipe_of(number: int, language: str, payload: Any) -> Recipe:
    if language == "xml":
        return Recipe(number, host_requires=payload)
    return Recipe(number, hardware=payload)


def pool_run(ordinary: int, hostile: list[Input]) -> tuple[float, dict[str, str]]:
    """(seconds until the last ordinary recipe is decided, each hostile one's outcome)."""
    fake = FakeProvider(lab=LAB, flavors=FLAVORS, latency=LATENCY, seed=1)
    settings = PoolSettings(
        launcher="bench", poll_interval=0.5, default_limits=Limits(mutating=RATE, read=50.0)
    )
    payloads = {item.name: item.make() for item in hostile}  # the user's, not timed
    every = max(ordinary // max(len(hostile), 1), 1)
    decided: dict[str, str] = {}
    with Pool({"fake": fake}, settings=settings, journal="sqlite://") as pool:
        started = time.perf_counter()
        handles, bad = [], {}
        for number in range(ordinary):
            language, document = ORDINARY[number % len(ORDINARY)]
            handles.append(pool.submit(recipe_of(number, language, document)))
            if number % every == every - 1 and len(bad) < len(hostile):
                item = hostile[len(bad)]
                try:
                    bad[item.name] = pool.submit(
                        recipe_of(10_000 + len(bad), item.language, payloads[item.name])
                    )
                except HostRequiresError as exc:
                    bad[item.name] = None
                    decided[item.name] = f"refused by Recipe(): {exc}"
        outcomes = [handle.wait(600) for handle in handles]
        elapsed = time.perf_counter() - started
        for name, handle in bad.items():
            if handle is not None:
                outcome = handle.wait(60)
                if outcome is None:
                    decided[name] = "UNDECIDED"
                else:
                    reason = outcome.reasons[0] if outcome.reasons else "no reason"
                    decided[name] = f"{outcome.status.value}: {reason}"
    failed = [o for o in outcomes if o is None or o.status is not Status.SUCCEEDED]
    if failed:
        raise SystemExit(f"pool: {len(failed)} ordinary launches did not succeed: {failed[:2]}")
    return elapsed, decided


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each input")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args()
    runs, ordinary = (2, 40) if args.quick else (max(args.runs, 1), 200)

    with tempfile.TemporaryDirectory() as workdir:
        items = catalogue(Path(workdir))
        warm_up()
        print(f"{len(items)} hostile inputs, {runs} runs each, against {len(FLAVORS)} flavors")
        print(f"{'input':44s} {'form':8s} {'worst ms':>9s} {'peak MB':>8s}  outcome")
        results = []
        for item in items:
            result = measure(item, runs)
            results.append((item, result))
            if "error" in result:
                print(f"{item.name:44s} {item.form:8s} {'':>9s} {'':>8s}  ERROR {result['error']}")
                continue
            outcome = result["outcome"].replace("\n", " ")
            print(
                f"{item.name:44s} {item.form:8s} {result['worst_ms']:9.2f} "
                f"{result['peak_mb']:8.1f}  {outcome[:90]}"
            )
    measured = [(item, r) for item, r in results if "error" not in r]
    errors = len(results) - len(measured)
    slowest = max(measured, key=lambda pair: pair[1]["worst_ms"])
    largest = max(measured, key=lambda pair: pair[1]["peak_mb"])
    within = errors == 0 and all(
        r["worst_ms"] < GOAL_MS and r["peak_mb"] < GOAL_MB for _, r in measured
    )
    print(
        f"worst time {slowest[1]['worst_ms']:.2f} ms ({slowest[0].name}); peak memory "
        f"{largest[1]['peak_mb']:.1f} MB ({largest[0].name}); goal < {GOAL_MS:g} ms and "
        f"< {GOAL_MB:g} MB each: {'met' if within else 'NOT met'}"
    )

    by_name = {item.name: item for item in items}
    hostile = [by_name[name] for name in POOL_HOSTILE][: max(ordinary // 10, 1)]
    print(
        f"pool: {ordinary} ordinary recipes on the fake cloud (create 50 ms, build 1 s, "
        f"{RATE:g} creates/s), alone and with {len(hostile)} hostile ones among them"
    )
    alone, _ = pool_run(ordinary, [])
    print(f"  alone:             {alone:7.2f} s")
    mixed, decided = pool_run(ordinary, hostile)
    print(f"  with hostile ones: {mixed:7.2f} s")
    ratio = alone / mixed
    all_decided = len(decided) == len(hostile) and all(
        text.startswith(("precluded: ", "refused by Recipe(): ")) for text in decided.values()
    )
    for name, text in decided.items():
        print(f"  {name:44s} {text[:100]}")
    print(
        f"throughput of the ordinary recipes with hostile ones / without: {ratio:.3f} "
        f"(goal >= 0.90); every hostile one decided with its reason: {all_decided}"
    )
    print(
        json.dumps(
            {
                "inputs": len(items),
                "errors": errors,
                "worst_ms": round(slowest[1]["worst_ms"], 2),
                "worst_ms_input": slowest[0].name,
                "peak_mb": round(largest[1]["peak_mb"], 1),
                "peak_mb_input": largest[0].name,
                "within_goal": within,
                "throughput_ratio": round(ratio, 3),
                "hostile_recipes": len(hostile),
                "hostile_decided": all_decided,
            }
        )
    )


if __name__ == "__main__":
    main()
