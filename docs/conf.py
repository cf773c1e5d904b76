"""Sphinx configuration for the aiointercept documentation."""

from __future__ import annotations

import importlib.metadata
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from docutils import nodes

if TYPE_CHECKING:
    from sphinx.application import Sphinx

ROOT = Path(__file__).resolve().parent.parent
# Import the package from the source tree when it is not installed.
sys.path.insert(0, str(ROOT / "src"))

project = "aiointercept"
author = "The aiointercept developers"
copyright = "The aiointercept developers"
try:
    release = importlib.metadata.version("aiointercept")
except importlib.metadata.PackageNotFoundError:
    release = "unknown"
version = ".".join(release.split(".")[:2])

extensions = ["sphinx.ext.autodoc"]

exclude_patterns = ["_build"]
nitpicky = False

autodoc_member_order = "bysource"
autodoc_typehints = "signature"

html_theme = "furo"
html_title = f"aiointercept {release}"


def _trim_code_blocks(app: Sphinx, doctree: nodes.document) -> None:
    """Drop the blank lines that end a region included from examples/."""
    for block in doctree.findall(nodes.literal_block):
        text = block.astext()
        trimmed = text.rstrip("\n")
        if trimmed != text and block.rawsource == text:
            block.rawsource = trimmed
            block[:] = [nodes.Text(trimmed)]


#: The catch-all that turns a misspelt keyword into a "did you mean" error:
#: not a parameter to document (type checkers do not see it either).
_UNKNOWN_KEYWORDS = re.compile(r", \*\*unknown: Unpack\[NoMoreKeywords\]")


def _hide_unknown_keywords(
    app: Sphinx,
    what: str,
    name: str,
    obj: object,
    options: object,
    signature: str | None,
    return_annotation: str | None,
) -> tuple[str | None, str | None] | None:
    if signature is None or "**unknown" not in signature:
        return None
    return _UNKNOWN_KEYWORDS.sub("", signature), return_annotation


def setup(app: Sphinx) -> None:
    app.connect("doctree-read", _trim_code_blocks)
    app.connect("autodoc-process-signature", _hide_unknown_keywords)
