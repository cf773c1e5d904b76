"""The README shows code that an example script runs."""

from __future__ import annotations

import re

import pytest

from tests.support.paths import ROOT


def test_readme_usage_is_the_example_that_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / "examples" / "aiohttp_asyncio.py").read_text()
    region = re.search(r"# \[example\]\n(.*?)# \[/example\]\n", example, re.S)
    assert region is not None, "examples/aiohttp_asyncio.py lost its [example] region"
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert region.group(1).strip() in [block.strip() for block in blocks]


@pytest.mark.parametrize(
    ("example", "name"),
    [
        ("pytest/test_pytest_asyncio.py", "pytest-asyncio"),
        ("pytest/test_pytest_asyncio.py", "marker"),
        ("pytest/test_cassette.py", "cassette"),
    ],
)
def test_readme_shows_the_fixture_the_marker_and_a_cassette(
    example: str, name: str
) -> None:
    """The "With pytest" section shows these example regions as they run."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## With pytest", 1)[1].split("\n## ", 1)[0]
    code = (ROOT / "examples" / example).read_text()
    region = re.search(rf"# \[{name}\]\n(.*?)# \[/{name}\]\n", code, re.S)
    assert region is not None, f"examples/{example} lost its [{name}] region"
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert region.group(1).strip() in [block.strip() for block in blocks]


def test_readme_quick_start_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```console\n(.*?)```", quick_start, re.S)
    demo, tests = "pip install nox && nox -s demo", "pip install nox && nox -s tests"
    assert commands == [f"{demo}\n{tests}\n"]


def test_benchmark_targets_are_in_the_benchmarks_readme_not_the_user_docs() -> None:
    from benchmarks.run import TARGETS, Ratio

    readme = (ROOT / "benchmarks" / "README.md").read_text()
    listed = re.findall(r"^\| (.+?) \| <= (.+?) \|$", readme, re.M)

    def limit(target: Ratio) -> str:
        unit = target.unit()
        return f"{target.limit:g}{'' if unit in ('x', '%') else ' '}{unit}"

    assert listed == [(target.title, limit(target)) for target in TARGETS]
    page = (ROOT / "docs" / "performance.rst").read_text()
    for word in ("PASS", "FAIL", "Limit", "Target"):
        assert word not in page


def test_the_performance_page_says_where_requests_are_served() -> None:
    page = " ".join((ROOT / "docs" / "performance.rst").read_text().split())
    usage = " ".join((ROOT / "docs" / "usage.rst").read_text().split())
    usage = usage.replace("**", "")
    served = "a block entered on an asyncio loop is served by that loop"
    assert served in page
    assert served in usage.lower()
    assert ":ref:`where-it-runs`" in page
