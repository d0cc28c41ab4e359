"""Code the documentation quotes from a file of the repository is what the file says.

A ```` ```python ```` block of ``docs/*.md`` whose first line is ``# from PATH`` quotes
``PATH`` (relative to the repository): the rest of the block must occur in that file
verbatim, so that a walk-through of the example plugin cannot drift from the example.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUOTE = re.compile(r"^```python\n# from (\S+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def excerpts() -> list[tuple[str, str, str]]:
    found = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for match in QUOTE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((f"{page.name}:{line}", match.group(1), match.group(2)))
    return found


def test_the_plugin_page_quotes_the_example() -> None:
    assert len([e for e in excerpts() if e[0].startswith("plugins.md")]) >= 6


@pytest.mark.parametrize(("where", "path", "quoted"), excerpts(), ids=lambda v: str(v)[:40])
def test_a_quoted_excerpt_is_in_its_file(where: str, path: str, quoted: str) -> None:
    source = (ROOT / path).read_text(encoding="utf-8")
    assert quoted in source, f"{where}: the block is not (or no longer) in {path}"
