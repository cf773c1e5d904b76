"""The examples shown on the docs page "pytest" (``examples/pytest``) pass,
serially and under pytest-xdist.

Each project is written with ``pytester`` and run in a subprocess (so the
``pytest11`` entry point is what loads the plugin).
"""

from __future__ import annotations

import shutil

import pytest

from tests.support import paths
from tests.support.inner_pytest import LOOPBACK_ONLY

#: The examples of the docs page "pytest".
EXAMPLES = paths.EXAMPLES / "pytest"

EXAMPLE_TESTS = 27


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_docs_examples_pass(pytester: pytest.Pytester, workers: list[str]) -> None:
    names = sorted(path.name for path in EXAMPLES.iterdir() if path.is_file())
    assert "pytest.ini" in names
    assert [name for name in names if name.startswith("test_")], names
    for name in names:
        (pytester.path / name).write_text((EXAMPLES / name).read_text())
    shutil.copytree(EXAMPLES / "cassettes", pytester.path / "cassettes")
    pytester.makeconftest(LOOPBACK_ONLY)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:hypothesispytest", *workers, timeout=120
    )
    result.assert_outcomes(passed=EXAMPLE_TESTS)
