"""What a type checker sees of the public API: the files of ``tests/typing``
hold calls it must reject, each marked ``# type: ignore[<code>]``, and mypy
fails on an ignore that is no longer needed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.support.paths import ROOT


def test_type_checkers_reject_what_tests_typing_expects() -> None:
    if importlib.util.find_spec("mypy") is None:  # pragma: no cover
        pytest.skip("mypy is not installed (nox -s typing checks tests/typing)")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "tests/typing"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_expectation_names_the_error_it_expects() -> None:
    """A bare ``# type: ignore`` would hide any error, not the one expected."""
    for path in sorted((ROOT / "tests" / "typing").glob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "# type: ignore" in line:
                assert "# type: ignore[" in line, f"{path.name}:{number}: {line}"
