"""A project that has aiointercept installed but does not use it: the plugin
is loaded by every pytest run, and imports nothing heavy until a test uses
it.

Each project is written with ``pytester`` and run in a subprocess (so the
``pytest11`` entry point is what loads the plugin).
"""

from __future__ import annotations

import pytest

from tests.support import internals
from tests.support.inner_pytest import run_pytest

#: What the plugin must not import until a test uses a fixture or the marker
#: (the other plugins of this environment import anyio and asyncio themselves).
NOT_YET = ("aiohttp", "yarl", "multidict", "yaml", internals.FACADE_MODULE)

RECORD_IMPORTS = f"""
import sys

NOT_YET = {NOT_YET!r}


def _imported():
    return sorted(name for name in NOT_YET if name in sys.modules)


def pytest_report_collectionfinish(config):
    loaded = config.pluginmanager.has_plugin("aiointercept")
    return [f"plugin loaded: {{loaded}}", f"imported after collection: {{_imported()}}"]


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"imported after the tests: {{_imported()}}")
"""


@pytest.mark.parametrize(
    "args",
    [["--collect-only"], [], ["-p", "no:recording"]],
    ids=["collect", "run", "run-serving-pytest-recordings-names"],
)
def test_an_unused_plugin_imports_nothing_heavy(
    pytester: pytest.Pytester, args: list[str]
) -> None:
    """Every pytest run of a project that has aiointercept installed loads the
    plugin; collecting and running tests that do not use it imports neither
    aiohttp nor the rest of aiointercept."""
    result = run_pytest(
        pytester,
        *args,
        conftest=RECORD_IMPORTS,
        test_unused="""
import pytest


def test_plain():
    assert True


@pytest.mark.parametrize("n", [1, 2])
def test_parametrized(n):
    assert n
""",
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["plugin loaded: True", "imported after collection: []"]
    )
    if "--collect-only" not in args:
        result.assert_outcomes(passed=3)
        result.stdout.fnmatch_lines(["imported after the tests: []"])


def test_a_test_that_uses_the_plugin_imports_the_rest(
    pytester: pytest.Pytester,
) -> None:
    """The other side of the same check: the report sees the imports, and the
    fixture works when it is the first thing to need aiointercept."""
    result = run_pytest(
        pytester,
        conftest=RECORD_IMPORTS,
        test_used="""
import pytest
import requests


def test_plain():
    assert True


@pytest.mark.aiointercept(assert_all_called=True)
def test_marked(aiointercept_mock):
    aiointercept_mock.get("/hello", body="hi")
    url = f"{aiointercept_mock.server_url}/hello"
    with requests.Session() as session:
        session.trust_env = False
        assert session.get(url, timeout=10).text == "hi"
""",
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "imported after collection: []",
            f"imported after the tests: *'aiohttp', {internals.FACADE_MODULE!r}*",
        ]
    )
