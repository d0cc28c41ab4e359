from typing import Any

from lxml import etree

ABI: int

def configure(spec: dict[str, Any]) -> None: ...
def compile_tree(
    root: etree._Element, max_depth: int, max_elements: int
) -> tuple[tuple[Any, ...], list[etree._Element]] | None: ...
