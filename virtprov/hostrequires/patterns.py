"""Patterns users write, matched in time linear in the text, whatever the pattern.

Both languages let a user write a pattern that the scheduler then matches against lab
names, architectures, hypervisors and declared flavor properties:

* ``like`` in ``<hostRequires/>``: SQL ``LIKE`` (``%`` any run, ``_`` one character,
  ``\\`` escapes), case-insensitive as Beaker's database (MySQL's default collation)
  compares. :class:`Like` matches it without a regular expression: the pieces between
  ``%`` are found left to right, each at the first place it fits, which is the answer
  (a classic wildcard match, linear in the text for a given pattern; nothing is ever
  tried twice). A backtracking engine needs minutes for ``%%%%%%%%%%%%Z``.
* ``~`` and ``!~`` in tmt's ``hardware:``: regular expressions, matched at the start of
  the text (tmt's ``re.match``). :class:`Regex` runs them on RE2 (``google-re2``), whose
  matching is linear in the text for every pattern (``(.*.*)*Z`` included) and does not
  hold the GIL; what RE2 cannot express (backreferences, lookaround) is refused.

Both are bounded before they cost anything: a pattern has at most
:data:`MAX_PATTERN_LENGTH` characters; a document at most :data:`MAX_PATTERNS` patterns of
:data:`MAX_PATTERN_CHARACTERS` characters in all, and RE2 programs of
:data:`MAX_PROGRAM_SIZE` instructions in all (:class:`Budget` counts, per document).
RE2's compile time grows with its program, which a few characters can make large
(``(\\pL){60}`` is 9 characters and 70,000 instructions): each expression is compiled
within :data:`RE2_MAX_MEM`.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from virtprov.printable import excerpt

if TYPE_CHECKING:
    from typing import TypeAlias

#: Characters in one pattern; real ones have a few dozen.
MAX_PATTERN_LENGTH = 1000
#: Patterns in one document (``like`` values and ``~``/``!~`` values that are compiled).
MAX_PATTERNS = 100
#: Characters of all the patterns of one document.
MAX_PATTERN_CHARACTERS = 10_000
#: RE2 instructions of all the regular expressions of one document (``Intel.*Xeon`` is 25).
MAX_PROGRAM_SIZE = 20_000
#: RE2's memory budget for one expression (its default, 8 MiB, allows programs that take
#: a tenth of a second to compile).
RE2_MAX_MEM = 128 * 1024
#: Answers a pattern remembers: the texts it is asked about are the providers' few lab
#: names, arches and declared values, and matching costs microseconds (RE2's binding).
_REMEMBERED = 256


class Pattern(Protocol):
    """What the evaluator asks of a compiled pattern."""

    @property
    def text(self) -> str:
        """The pattern as written (``like`` escapes included)."""
        ...

    def matches(self, text: str) -> bool:
        """Whether ``text`` matches (all of it for ``like``; its start for ``~``)."""
        ...


def _lower(char: str) -> str:
    lower = char.lower()
    if len(lower) == 1:
        return lower
    return "i" if char == "\u0130" else char  # İ: simple lowercase (its full one is 2 long)


def _upper(char: str) -> str:
    upper = char.upper()
    return upper if len(upper) == 1 else char  # ß: simple uppercase is itself


@functools.lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    # lower(upper(lower(c))) puts k, K and the Kelvin sign, s, S and the long s, the
    # Greek sigmas... in one class: exactly the characters Python's re.IGNORECASE takes
    # as equal (checked against re for every code point), so `like` answers as it did
    # on a regular expression.
    return _lower(_upper(_lower(char)))


def fold(text: str) -> str:
    """``text`` case-folded one character for one (``_`` in LIKE is one character)."""
    if text.isascii():
        return text.lower()
    return "".join(map(_fold_char, text))


# A LIKE pattern as the pieces between its %s. A piece: its length (each _ counts one)
# and its literal runs, each at its offset in the piece, already case-folded.
_Piece: TypeAlias = "tuple[int, tuple[tuple[int, str], ...]]"


def _pieces(pattern: str) -> tuple[_Piece, ...]:
    pieces: list[_Piece] = []
    runs: list[tuple[int, str]] = []
    run: list[str] = []
    length = 0

    def close_run() -> None:
        if run:
            runs.append((length - len(run), fold("".join(run))))
            run.clear()

    chars = iter(pattern)
    for char in chars:
        if char == "%":
            close_run()
            pieces.append((length, tuple(runs)))
            runs.clear()
            length = 0
            continue
        if char == "_":
            close_run()
            length += 1
            continue
        if char == "\\":
            char = next(chars, "\\")  # a trailing backslash stands for itself
        run.append(char)
        length += 1
    close_run()
    pieces.append((length, tuple(runs)))
    return tuple(pieces)


def _at(text: str, position: int, runs: tuple[tuple[int, str], ...]) -> bool:
    return all(text.startswith(run, position + offset) for offset, run in runs)


def _find(text: str, low: int, high: int, piece: _Piece) -> int:
    """The first position in ``low..high`` where ``piece`` fits, or -1."""
    if high < low:
        return -1
    runs = piece[1]
    if not runs:  # only _s: any position will do
        return low
    offset, run = runs[0]
    rest = runs[1:]
    stop = high + offset + len(run)
    found = text.find(run, low + offset, stop)
    while found >= 0:
        if _at(text, found - offset, rest):
            return found - offset
        found = text.find(run, found + 1, stop)
    return -1


@attrs.frozen(repr=False)
class Like:
    """A compiled SQL ``LIKE`` pattern; make one with :func:`like`.

    Matching the whole text, case-insensitively: the first piece at the start, the last
    at the end, each piece between at the first place after the previous one where it
    fits. Taking the first place never loses a match (any later one leaves less room to
    the pieces after it), so no choice is ever undone.
    """

    text: str
    _pieces: tuple[_Piece, ...] = attrs.field(eq=False, alias="pieces")
    #: text -> answer, as for :class:`Regex`
    _answers: dict[str, bool] = attrs.field(eq=False, factory=dict, alias="answers")

    def matches(self, text: str) -> bool:
        answer = self._answers.get(text)
        if answer is None:
            answer = self._match(text)
            if len(self._answers) < _REMEMBERED:
                self._answers[text] = answer
        return answer

    def _match(self, text: str) -> bool:
        folded = fold(text)
        pieces = self._pieces
        size = len(folded)
        if len(pieces) == 1:  # no %: the whole text, one character per character
            length, runs = pieces[0]
            return size == length and _at(folded, 0, runs)
        (head, head_runs), (tail, tail_runs) = pieces[0], pieces[-1]
        end = size - tail
        if end < head or not _at(folded, 0, head_runs) or not _at(folded, end, tail_runs):
            return False
        position = head
        for piece in pieces[1:-1]:
            found = _find(folded, position, end - piece[0], piece)
            if found < 0:
                return False
            position = found + piece[0]
        return True

    def __repr__(self) -> str:
        return f"Like({self.text!r})"


def _check_length(text: str) -> None:
    if len(text) > MAX_PATTERN_LENGTH:
        raise ValueError(
            f"a pattern of {len(text)} characters is over the limit of {MAX_PATTERN_LENGTH}"
        )


@functools.lru_cache(maxsize=1024)
def like(text: str) -> Like:
    """The compiled ``LIKE`` pattern ``text``; ``ValueError`` when it is too long."""
    _check_length(text)
    return Like(text, _pieces(text))


@functools.lru_cache(maxsize=256)
def literal(text: str) -> Like:
    """A pattern matching ``text`` itself, ignoring case (as ``like`` compares)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return Like(escaped, ((len(text), ((0, fold(text)),) if text else ()),))


def _re2_syntax(pattern: str) -> str:
    """Python's ``\\Z`` (the end of the text) is RE2's ``\\z``; the rest is the same."""
    if "\\Z" not in pattern:
        return pattern
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            following = pattern[index + 1]
            out.append("\\z" if following == "Z" else char + following)
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


@attrs.frozen(repr=False)
class Regex:
    """A compiled tmt regular expression, matched at the start of the text (RE2)."""

    text: str
    ignore_case: bool
    _compiled: Any = attrs.field(eq=False, alias="compiled")
    #: RE2 instructions of the compiled program (what its compile cost)
    size: int = attrs.field(eq=False, default=0)
    #: text -> answer, for the few texts a provider offers (a dict: thread-safe enough)
    _answers: dict[str, bool] = attrs.field(eq=False, factory=dict, alias="answers")

    def matches(self, text: str) -> bool:
        answer = self._answers.get(text)
        if answer is None:
            answer = self._compiled.match(text) is not None
            if len(self._answers) < _REMEMBERED:
                self._answers[text] = answer
        return answer

    def __repr__(self) -> str:
        flags = ", ignore_case=True" if self.ignore_case else ""
        return f"Regex({self.text!r}{flags})"


@functools.lru_cache(maxsize=1024)
def regex(text: str, *, ignore_case: bool = False) -> Regex:
    """The compiled regular expression ``text``; ``ValueError`` saying why when it is too
    long or not one RE2 can run (a backreference, a lookaround...)."""
    _check_length(text)
    # imported on the first pattern: most documents have none
    import re2  # type: ignore[import-untyped]

    options = re2.Options()
    options.log_errors = False  # RE2 would print to stderr; the error says it instead
    options.never_capture = True
    options.case_sensitive = not ignore_case
    options.max_mem = RE2_MAX_MEM
    try:
        compiled = re2.compile(_re2_syntax(text), options)
    except re2.error as exc:
        why = exc.args[0] if exc.args else "not valid"
        if isinstance(why, bytes):
            why = why.decode("utf-8", "replace")
        raise ValueError(
            f"not a valid regular expression: {excerpt(why, 80)} (virtprov matches them in "
            "linear time, with RE2: backreferences and lookaround are not supported)"
        ) from None
    return Regex(text, ignore_case, compiled, compiled.programsize)


class Budget:
    """What the patterns of one document may still cost; the front ends make one per
    document and compile every pattern through it. ``ValueError`` (its message says
    which limit) once a pattern goes past one."""

    __slots__ = ("characters", "count", "program")

    def __init__(self) -> None:
        self.count = 0
        self.characters = 0
        self.program = 0

    def _spend(self, text: str) -> None:
        self.count += 1
        self.characters += len(text)
        if self.count > MAX_PATTERNS:
            raise ValueError(f"more than {MAX_PATTERNS} patterns in one document")
        _check_length(text)
        if self.characters > MAX_PATTERN_CHARACTERS:
            raise ValueError(
                f"patterns of more than {MAX_PATTERN_CHARACTERS} characters in all in one document"
            )

    def like(self, text: str) -> Like:
        self._spend(text)
        return like(text)

    def regex(self, text: str, *, ignore_case: bool = False) -> Regex:
        self._spend(text)
        compiled = regex(text, ignore_case=ignore_case)
        self.program += compiled.size
        if self.program > MAX_PROGRAM_SIZE:
            raise ValueError(
                "regular expressions too large in all in one document (RE2 programs of "
                f"more than {MAX_PROGRAM_SIZE} instructions)"
            )
        return compiled


__all__ = [
    "MAX_PATTERNS",
    "MAX_PATTERN_CHARACTERS",
    "MAX_PATTERN_LENGTH",
    "MAX_PROGRAM_SIZE",
    "Budget",
    "Like",
    "Pattern",
    "Regex",
    "fold",
    "like",
    "literal",
    "regex",
]
