"""Where the project's files are, for the tests that read them."""

from __future__ import annotations

from pathlib import Path

#: The root of the repository (where ``pyproject.toml`` is).
ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
