"""Sphinx configuration: Markdown pages (MyST), API reference from docstrings (autodoc),
CLI reference from the click commands (sphinx-click), diagrams from graphviz sources
(Debian's graphviz), the benchmarks' plots from their recorded JSON (``_ext``). Built
with warnings as errors by ``scripts/test``:  ``sphinx-build -W -b html docs build/docs``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "virtprov"
author = "the virtprov developers"
copyright = "the virtprov developers"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx_click",
    "sphinx.ext.graphviz",
    "benchmark_plots",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "_generated", "examples/**", "README.md"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
graphviz_output_format = "svg"

# No intersphinx: the build runs offline (tests never touch the network).

html_theme = "furo"
html_title = "virtprov"
