"""The plugin beside pytest-recording, which is installed with the test
dependencies: both add ``--record-mode``, and pytest starts whichever loads
first, each plugin working, both reading the one option.

Each project is written with ``pytester`` and run in a subprocess, where the
``pytest11`` entry points load both plugins (or, with autoloading turned off,
``-p`` loads them in a given order). Its tests replay cassettes for a host that
never existed, aiointercept's through its marker and pytest-recording's
through ``@pytest.mark.vcr``; the inner conftest resolves no name but loopback
ones, so nothing leaves the machine.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from tests.support.inner_pytest import (
    ASYNCIO_INI,
    INI,
    LOOPBACK_ONLY,
    run,
    summary,
)

#: What each cassette holds: one GET of :data:`URL`.
URL = "http://api.example.com/items"
CASSETTE = yaml.safe_dump(
    {
        "interactions": [
            {
                "request": {"body": None, "headers": {}, "method": "GET", "uri": URL},
                "response": {
                    "body": {"string": "[1, 2]"},
                    "headers": {"Content-Type": ["application/json"]},
                    "status": {"code": 200, "message": "OK"},
                },
            }
        ],
        "version": 1,
    }
)

OURS = f"""
import pytest
import requests


@pytest.mark.aiointercept(mock_external_urls=True, cassette=True)
def test_ours_replays(aiointercept_mock):
    assert requests.get("{URL}", timeout=5).json() == [1, 2]


@pytest.mark.aiointercept(mock_external_urls=True, cassette="missing.yaml")
def test_ours_without_a_cassette(aiointercept_mock):
    requests.get("{URL}", timeout=5)
"""

THEIRS = f"""
import os

import pytest
import requests


@pytest.mark.vcr
def test_theirs_replays(vcr):
    assert requests.get("{URL}", timeout=5).json() == [1, 2]
    assert vcr.play_count == 1


def test_theirs_reads_the_mode(record_mode):
    assert record_mode == os.environ["EXPECTED_MODE"]
"""

#: pytest-recording's options, which aiointercept adds when it is not loaded.
RECORDING_OPTIONS = (
    "--record-mode",
    "--block-network",
    "--allowed-hosts",
    "--allow-private-ips",
    "--disable-recording",
)

#: How the plugins are loaded: by their entry points, or with autoloading off,
#: by ``-p`` in either order.
LOADS = {
    "entry-points": [],
    "aiointercept-first": ["-p", "aiointercept.pytest_plugin", "-p", "recording"],
    "pytest-recording-first": ["-p", "recording", "-p", "aiointercept.pytest_plugin"],
}


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project with both kinds of tests, and their cassettes."""
    pytester.makeini(ASYNCIO_INI)  # pytest-asyncio is loaded too
    pytester.makeconftest(LOOPBACK_ONLY)
    pytester.makepyfile(test_ours=OURS, test_theirs=THEIRS)
    for module, test in (
        ("test_ours", "test_ours_replays"),
        ("test_theirs", "test_theirs_replays"),
    ):
        folder = pytester.path / "cassettes" / module
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{test}.yaml").write_text(CASSETTE)
    return pytester


def load(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, how: str
) -> list[str]:
    """The arguments (and environment) that load the plugins as ``how`` says."""
    if LOADS[how]:
        monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        project.makeini(INI)  # without pytest-asyncio, and its options
    return LOADS[how]


def assert_ours_failed_in_mode_none(result: pytest.RunResult) -> None:
    assert "test_ours_without_a_cassette" in summary(result, "FAILED")
    result.stdout.re_match_lines(
        [
            r".*CassetteError: cassette \S*missing\.yaml \(record_mode='none'\) has "
            rf"no interaction left for GET {re.escape(URL)}.*"
        ]
    )


@pytest.mark.parametrize("how", list(LOADS))
def test_both_plugins_read_the_record_mode_option(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    monkeypatch.setenv("EXPECTED_MODE", "none")
    result = run(project, *load(project, monkeypatch, how), "--record-mode=none")
    assert summary(result, "PASSED") == {
        "test_ours_replays",
        "test_theirs_replays",
        "test_theirs_reads_the_mode",
    }
    assert_ours_failed_in_mode_none(result)


@pytest.mark.parametrize("how", list(LOADS))
def test_without_the_option_each_plugin_keeps_its_default(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """pytest-recording's mode is then ``none``; aiointercept's is the
    marker's, or ``once`` (which replays a cassette that exists)."""
    monkeypatch.setenv("EXPECTED_MODE", "none")
    result = run(project, *load(project, monkeypatch, how), "-k", "replays or reads")
    result.assert_outcomes(passed=3, deselected=1)


@pytest.mark.parametrize("how", list(LOADS))
def test_the_option_is_pytest_recordings_when_it_is_loaded(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    result = run(project, *load(project, monkeypatch, how), "--help")
    assert result.ret == pytest.ExitCode.OK
    assert_listed_once(result, RECORDING_OPTIONS)
    result.stdout.fnmatch_lines(["recording:", "*--record-mode=*"])


def assert_listed_once(help_text: pytest.RunResult, options: tuple[str, ...]) -> None:
    """Each of ``options`` is listed once in the output of ``--help``."""
    for option in options:
        listed = [
            line for line in help_text.stdout.lines if line.strip().startswith(option)
        ]
        assert len(listed) == 1, (option, listed)


def hide_pytest_recording(pytester: pytest.Pytester, mirror: Path) -> None:
    """Make pytest-recording look uninstalled to the inner runs: their
    ``sitecustomize`` puts ``mirror``, a copy (in symbolic links) of the
    site-packages folder without pytest-recording, in place of the folder."""
    spec = importlib.util.find_spec("pytest_recording")
    assert spec is not None
    assert spec.origin is not None
    site = Path(spec.origin).parent.parent
    for entry in site.iterdir():
        if not entry.name.lower().startswith("pytest_recording"):
            (mirror / entry.name).symlink_to(entry)
    pytester.makepyfile(
        sitecustomize=f"""
import sys

sys.path[:] = [{str(mirror)!r} if p == {str(site)!r} else p for p in sys.path]
"""
    )


@pytest.mark.parametrize(
    "installed", [True, False], ids=["turned-off", "not-installed"]
)
def test_without_pytest_recording_the_option_is_aiointercepts(
    project: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory, installed: bool
) -> None:
    """pytest-recording turned off (``-p no:recording``), or not installed."""
    if installed:
        args = ["-p", "no:recording"]
    else:
        args = []
        hide_pytest_recording(project, tmp_path_factory.mktemp("site-packages"))
        hidden = run(project, "-p", "no:aiointercept", "test_theirs.py")
        hidden.stdout.fnmatch_lines(["*'vcr' not found in `markers`*"])
    help_text = run(project, *args, "--help")
    help_text.stdout.fnmatch_lines(
        ["aiointercept:", "*--record-mode=*", "*record mode of every aiointercept*"]
    )
    assert_listed_once(help_text, RECORDING_OPTIONS)
    assert "recording:" not in help_text.stdout.lines
    result = run(project, *args, "--record-mode=none", "test_ours.py")
    assert summary(result, "PASSED") == {"test_ours_replays"}
    assert_ours_failed_in_mode_none(result)
