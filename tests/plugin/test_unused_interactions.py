"""``--aiointercept-unused=report|fail``: at the end of the session, the
recorded interactions that no test played, per cassette file.

Each project is written with ``pytester`` and run in a subprocess (so the
``pytest11`` entry point is what loads the plugin). Its tests replay
cassettes of a host that never existed, written by the outer test; the inner
conftest resolves no name but loopback ones, so nothing leaves the machine.
"""

from __future__ import annotations

import pytest
import yaml

from tests.support.inner_pytest import ASYNCIO_INI as INI
from tests.support.inner_pytest import LOOPBACK_ONLY, run

API = "http://api.example.com"


def cassette(*paths: str) -> str:
    """A cassette with one GET of each of ``paths`` on :data:`API`."""
    return yaml.safe_dump(
        {
            "interactions": [
                {
                    "request": {
                        "body": None,
                        "headers": {},
                        "method": "GET",
                        "uri": f"{API}{path}",
                    },
                    "response": {
                        "body": {"string": path},
                        "headers": {"Content-Type": ["text/plain"]},
                        "status": {"code": 200, "message": "OK"},
                    },
                }
                for path in paths
            ],
            "version": 1,
        }
    )


TESTS = f"""
import pytest
import requests

API = "{API}"
SHARED = dict(mock_external_urls=True, cassette="api.yaml", record_mode="none")


@pytest.mark.aiointercept(**SHARED)
def test_first(aiointercept_mock):
    assert requests.get(API + "/users/1", timeout=5).text == "/users/1"


@pytest.mark.aiointercept(**SHARED)
def test_third(aiointercept_mock):
    assert requests.get(API + "/users/3", timeout=5).text == "/users/3"


@pytest.mark.aiointercept(
    mock_external_urls=True, cassette="all_used.yaml", record_mode="none"
)
def test_all_used(aiointercept_mock):
    assert requests.get(API + "/a", timeout=5).text == "/a"
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """Three tests over two cassettes, and a cassette no test loads."""
    pytester.makeini(INI)
    pytester.makeconftest(LOOPBACK_ONLY)
    pytester.makepyfile(test_api=TESTS)
    (pytester.path / "api.yaml").write_text(
        cassette("/users/1", "/users/2", "/users/3", "/users/4")
    )
    (pytester.path / "all_used.yaml").write_text(cassette("/a"))
    (pytester.path / "never_loaded.yaml").write_text(cassette("/nobody"))
    return pytester


#: The report of :func:`project`'s run.
REPORT = [
    "*= aiointercept: cassette interactions that no test played =*",
    "api.yaml: 2 unused",
    f"  interaction 2: GET {API}/users/2",
    f"  interaction 4: GET {API}/users/4",
    "2 recorded interactions in 1 cassettes were never played: delete them, or "
    "record the cassettes again (--record-mode=rewrite)*",
]


def test_report_lists_the_unplayed_interactions_of_the_loaded_cassettes(
    project: pytest.Pytester,
) -> None:
    result = run(project, "--aiointercept-unused=report")
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(REPORT, consecutive=True)
    for name in ("all_used.yaml", "never_loaded.yaml", "/nobody"):
        assert name not in result.stdout.str()


def test_fail_makes_the_session_fail(project: pytest.Pytester) -> None:
    result = run(project, "--aiointercept-unused=fail")
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(REPORT, consecutive=True)


def test_nothing_unused_passes_and_says_so(project: pytest.Pytester) -> None:
    result = run(project, "--aiointercept-unused=fail", "-k", "all_used")
    result.assert_outcomes(passed=1, deselected=2)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        ["*= aiointercept: cassette interactions that no test played: none =*"]
    )


def test_without_the_option_there_is_no_report(project: pytest.Pytester) -> None:
    result = run(project)
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.OK
    assert "no test played" not in result.stdout.str()


def test_the_ini_option(project: pytest.Pytester) -> None:
    project.makeini(INI + "aiointercept_unused = fail\n")
    result = run(project)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(REPORT, consecutive=True)
    project.makeini(INI + "aiointercept_unused = sometimes\n")
    result = run(project)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*aiointercept_unused must be one of report, fail, got 'sometimes'*"]
    )


def test_the_option_rejects_other_values(project: pytest.Pytester) -> None:
    result = run(project, "--aiointercept-unused=maybe")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--aiointercept-unused*invalid choice*maybe*"])


def test_xdist_workers_report_to_the_controller(project: pytest.Pytester) -> None:
    """Each worker plays part of the cassette: an interaction is unused when
    no worker played it."""
    result = run(project, "--aiointercept-unused=fail", "-n", "2", "-p", "xdist")
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(REPORT, consecutive=True)
