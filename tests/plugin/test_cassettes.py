"""Cassettes through the pytest plugin, as a user meets them: a test marked
``@pytest.mark.aiointercept(mock_external_urls=True, cassette=True)`` that
calls a "real API" records ``cassettes/<module>/<test>.yaml`` beside its file
on the first run, and replays it on the next with the API gone;
``--record-mode`` sets the record mode of every cassette whose marker does not
set its own; ``cassette="relative/path.yaml"`` is relative to the test file.

Each project is written with ``pytester`` and run in a subprocess (so the
``pytest11`` entry point is what loads the plugin). The "real API" is
the upstream of :mod:`tests.support.upstream` (a plain HTTP server on
127.0.0.1 in a thread of the outer test) answering with :class:`SerialHandler`,
addressed by name as ``http://localhost:PORT`` (its port reaches the inner
tests through the ``UPSTREAM_PORT`` environment variable). Nothing leaves
the machine: the inner conftest
(:data:`tests.support.inner_pytest.GUARDED_CONFTEST`) resolves no name but
loopback ones and refuses connections to any address that is not loopback,
and the proxy variables are cleared.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from aiointercept import aiointercept
from tests.support.inner_pytest import GUARDED_CONFTEST as CONFTEST
from tests.support.inner_pytest import guarded_upstream, run, summary
from tests.support.upstream import Upstream, UpstreamHandler

#: One test that calls the API: records on a first run, replays on the next.
ONE_CALL = """
import pytest
import requests

from conftest import API, note


@pytest.mark.aiointercept(mock_external_urls=True, cassette=True)
def test_user(aiointercept_mock):
    response = requests.get(API + "/users/1", timeout=5)
    assert response.status_code == 200
    assert response.json()["path"] == "/users/1"
    note("test_user", response.text)
"""

# -- the "real API" -----------------------------------------------------------------


class SerialHandler(UpstreamHandler):
    """Every answer is JSON with a serial number, so a re-recorded response
    differs from the first one: ``{"method": ..., "path": ..., "serial": n}``."""

    def respond(self, body: bytes) -> None:
        answer = {"method": self.command, "path": self.path, "serial": self.serial}
        self.send_body(json.dumps(answer).encode(), "application/json")


@pytest.fixture
def notes(pytester: pytest.Pytester) -> Path:
    """Where the inner tests write what their requests got."""
    return pytester.mkdir("notes")


@pytest.fixture
def upstream(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, notes: Path
) -> Iterator[Upstream]:
    """The "real API", known to the inner projects, and their ini and
    conftest."""
    yield from guarded_upstream(pytester, monkeypatch, notes, SerialHandler, CONFTEST)


def interactions(path: Path) -> list[dict[str, Any]]:
    """The interactions of the cassette at ``path``, as vcrpy's YAML has them."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["version"] == 1
    found: list[dict[str, Any]] = data["interactions"]
    return found


def recorded_bodies(path: Path) -> list[dict[str, Any]]:
    """The JSON bodies of the responses recorded at ``path``."""
    return [
        json.loads(item["response"]["body"]["string"]) for item in interactions(path)
    ]


def cassette_files(root: Path) -> set[str]:
    """Every file under ``root/cassettes``, relative to it."""
    folder = root / "cassettes"
    if not folder.exists():
        return set()
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


# == 1. cassette=True: record on the first run, replay on the next ==================


def test_records_on_the_first_run_then_replays_with_the_api_gone(
    pytester: pytest.Pytester, upstream: Upstream, notes: Path
) -> None:
    pytester.makepyfile(test_api=ONE_CALL)
    cassette = pytester.path / "cassettes" / "test_api" / "test_user.yaml"

    first = run(pytester)
    first.assert_outcomes(passed=1)
    assert upstream.paths == ["/users/1"]
    assert cassette_files(pytester.path) == {"test_api/test_user.yaml"}
    [interaction] = interactions(cassette)
    assert interaction["request"]["method"] == "GET"
    assert interaction["request"]["uri"] == f"http://localhost:{upstream.port}/users/1"
    assert interaction["response"]["status"]["code"] == 200
    recorded_text = (notes / "test_user").read_text()
    assert json.loads(recorded_text) == {
        "method": "GET",
        "path": "/users/1",
        "serial": 1,
    }
    assert recorded_bodies(cassette) == [json.loads(recorded_text)]
    written = cassette.read_bytes()

    upstream.stop()
    second = run(pytester)
    second.assert_outcomes(passed=1)
    # the recorded response, not a new one; the cassette is left as it was
    assert (notes / "test_user").read_text() == recorded_text
    assert cassette.read_bytes() == written
    assert upstream.paths == ["/users/1"]

    # as CI would run it: replaying only
    run(pytester, "--record-mode=none").assert_outcomes(passed=1)
    assert cassette.read_bytes() == written


def test_a_recording_still_in_progress_at_teardown_is_written(
    pytester: pytest.Pytester, upstream: Upstream
) -> None:
    """The test may end as soon as its client has the response: what the
    passthrough is still recording then belongs in the cassette all the same
    (a slow before_record_response hook makes the window wide)."""
    pytester.makepyfile(
        test_slow_hook="""
import time

import pytest
import requests

from conftest import API


def slow_scrub(response):
    time.sleep(0.3)
    response["headers"].pop("Server", None)
    return response


@pytest.mark.aiointercept(
    mock_external_urls=True, cassette=True, before_record_response=slow_scrub
)
def test_user(aiointercept_mock):
    assert requests.get(API + "/users/1", timeout=5).json()["path"] == "/users/1"
""",
    )
    run(pytester).assert_outcomes(passed=1)
    cassette = pytester.path / "cassettes" / "test_slow_hook" / "test_user.yaml"
    assert cassette_files(pytester.path) == {"test_slow_hook/test_user.yaml"}
    [interaction] = interactions(cassette)
    assert "Server" not in interaction["response"]["headers"]

    upstream.stop()
    run(pytester).assert_outcomes(passed=1)
    assert upstream.paths == ["/users/1"]


def test_each_test_param_class_method_and_async_test_gets_its_own_cassette(
    pytester: pytest.Pytester, upstream: Upstream
) -> None:
    pytester.makepyfile(
        test_names="""
import httpx
import pytest
import requests

from conftest import API

pytestmark = pytest.mark.aiointercept(mock_external_urls=True, cassette=True)


@pytest.mark.parametrize("path", ["/users/1", "/users/2"])
def test_param(aiointercept_mock, path):
    response = requests.get(API + path, timeout=5)
    assert response.json()["path"] == path


@pytest.mark.parametrize("kind", ["a b", "c:d"])
def test_unsafe_ids(aiointercept_mock, kind):
    with httpx.Client() as client:
        response = client.get(API + "/kinds", params={"kind": kind})
    assert response.json()["path"] == "/kinds?kind=" + kind.replace(" ", "+").replace(
        ":", "%3A"
    )


class TestUsers:
    def test_method(self, aiointercept_mock):
        response = requests.get(API + "/users/class", timeout=5)
        assert response.json()["path"] == "/users/class"


@pytest.mark.anyio
async def test_async(anyio_backend, aiointercept_mock):
    async with httpx.AsyncClient() as client:
        response = await client.get(API + "/async/" + anyio_backend)
    assert response.json()["path"] == "/async/" + anyio_backend
""",
    )
    first = run(pytester)
    first.assert_outcomes(passed=7)
    assert cassette_files(pytester.path) == {
        "test_names/test_param[-users-1].yaml",
        "test_names/test_param[-users-2].yaml",
        "test_names/test_unsafe_ids[a-b].yaml",
        "test_names/test_unsafe_ids[c-d].yaml",
        "test_names/TestUsers.test_method.yaml",
        "test_names/test_async[asyncio].yaml",
        "test_names/test_async[trio].yaml",
    }
    folder = pytester.path / "cassettes" / "test_names"
    # each file holds its own test's request, and only that one
    assert [
        body["path"] for body in recorded_bodies(folder / "test_param[-users-2].yaml")
    ] == ["/users/2"]
    assert [
        body["path"] for body in recorded_bodies(folder / "TestUsers.test_method.yaml")
    ] == ["/users/class"]
    assert [
        body["path"] for body in recorded_bodies(folder / "test_async[trio].yaml")
    ] == ["/async/trio"]
    assert len(upstream.paths) == 7

    upstream.stop()
    second = run(pytester)
    second.assert_outcomes(passed=7)
    assert len(upstream.paths) == 7


def test_cassette_false_and_no_cassette_record_nothing(
    pytester: pytest.Pytester, upstream: Upstream
) -> None:
    pytester.makepyfile(
        test_off="""
import pytest
import requests

from conftest import API


@pytest.mark.aiointercept(mock_external_urls=True, cassette=False)
def test_cassette_false(aiointercept_mock):
    aiointercept_mock.get(API + "/mocked", body="mocked")
    assert requests.get(API + "/mocked", timeout=5).text == "mocked"
    # with no cassette, a request no route matches is not sent anywhere
    with pytest.raises(requests.ConnectionError):
        requests.get(API + "/not-mocked", timeout=5)


@pytest.mark.aiointercept(mock_external_urls=True)
def test_no_cassette_option(aiointercept_mock):
    aiointercept_mock.get(API + "/mocked", body="mocked")
    assert requests.get(API + "/mocked", timeout=5).text == "mocked"
""",
    )
    # --record-mode concerns cassettes only: it is no error without one
    result = run(pytester, "--record-mode=all")
    result.assert_outcomes(passed=2)
    assert cassette_files(pytester.path) == set()
    assert upstream.paths == []


def test_a_failing_test_keeps_its_cassette_unless_record_on_exception_is_false(
    pytester: pytest.Pytester, upstream: Upstream
) -> None:
    pytester.makepyfile(
        test_failing="""
import pytest
import requests

from conftest import API


@pytest.mark.aiointercept(mock_external_urls=True, cassette=True)
def test_kept(aiointercept_mock):
    requests.get(API + "/kept", timeout=5)
    assert aiointercept_mock.cassette.dirty
    assert False, "the test fails after its request"


@pytest.mark.aiointercept(
    mock_external_urls=True, cassette=True, record_on_exception=False
)
def test_not_kept(aiointercept_mock):
    requests.get(API + "/not-kept", timeout=5)
    assert False, "the test fails after its request"


@pytest.mark.aiointercept(
    mock_external_urls=True, cassette=True, record_on_exception=False
)
def test_passing(aiointercept_mock):
    requests.get(API + "/passing", timeout=5)
""",
    )
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=2)
    assert cassette_files(pytester.path) == {
        "test_failing/test_kept.yaml",
        "test_failing/test_passing.yaml",
    }
    assert sorted(upstream.paths) == ["/kept", "/not-kept", "/passing"]


# == 2. record modes: --record-mode, and the marker's own record_mode ===============


def test_record_mode_none_without_a_cassette_fails_and_writes_nothing(
    pytester: pytest.Pytester, upstream: Upstream
) -> None:
    # a block that does not record takes a loopback API only when a route
    # names its host and port: this one does, for a path the test never asks
    pytester.makepyfile(
        test_api=ONE_CALL.replace(
            "    response = requests.get(",
            '    aiointercept_mock.get(API + "/unused")\n    response = requests.get(',
        )
    )
    result = run(pytester, "--record-mode=none")
    assert summary(result, "PASSED") == set()
    assert "test_user" in summary(result, "FAILED") | summary(result, "ERROR")
    cassette = pytester.path / "cassettes" / "test_api" / "test_user.yaml"
    result.stdout.re_match_lines(
        [
            rf".*CassetteError: cassette {re.escape(str(cassette))} "
            r"\(record_mode='none'\) has no interaction left for GET "
            rf"http://localhost:{upstream.port}/users/1.*"
        ]
    )
    assert upstream.paths == []
    assert not (pytester.path / "cassettes").exists()


def test_record_mode_all_records_again(
    pytester: pytest.Pytester, upstream: Upstream
) -> None:
    pytester.makepyfile(test_api=ONE_CALL)
    cassette = pytester.path / "cassettes" / "test_api" / "test_user.yaml"
    run(pytester).assert_outcomes(passed=1)
    written = cassette.read_bytes()
    assert [body["serial"] for body in recorded_bodies(cassette)] == [1]

    # the default mode (once) replays an existing cassette...
    run(pytester).assert_outcomes(passed=1)
    assert upstream.paths == ["/users/1"]
    assert cassette.read_bytes() == written

    # ...--record-mode=all asks the API again and records its new answer
    run(pytester, "--record-mode=all").assert_outcomes(passed=1)
    assert upstream.paths == ["/users/1", "/users/1"]
    assert cassette.read_bytes() != written
    assert [body["serial"] for body in recorded_bodies(cassette)][-1] == 2


def test_record_mode_rewrite_keeps_only_the_new_recording(
    pytester: pytest.Pytester, upstream: Upstream
) -> None:
    pytester.makepyfile(test_api=ONE_CALL)
    cassette = pytester.path / "cassettes" / "test_api" / "test_user.yaml"
    run(pytester).assert_outcomes(passed=1)
    run(pytester, "--record-mode=rewrite").assert_outcomes(passed=1)
    assert upstream.paths == ["/users/1", "/users/1"]
    assert [body["serial"] for body in recorded_bodies(cassette)] == [2]


def test_record_mode_verify_compares_with_the_api_and_writes_nothing(
    pytester: pytest.Pytester, upstream: Upstream
) -> None:
    """pytest-recording's ``--record-mode`` knows no ``verify``: without it
    loaded, the option is aiointercept's, which does."""
    pytester.makepyfile(test_api=ONE_CALL)
    cassette = pytester.path / "cassettes" / "test_api" / "test_user.yaml"
    run(pytester).assert_outcomes(passed=1)
    written = cassette.read_bytes()
    result = run(pytester, "-p", "no:recording", "--record-mode=verify")
    # the test itself passed, its block failed it at teardown
    result.assert_outcomes(passed=1, errors=1)
    assert upstream.paths == ["/users/1", "/users/1"]
    assert cassette.read_bytes() == written
    result.stdout.fnmatch_lines(
        [
            "*CassetteError: cassette *test_user.yaml (record_mode='verify'): "
            "1 of 1 live responses differ from the recording",
            f"*GET http://localhost:{upstream.port}/users/1 (*test_user.yaml, "
            "interaction 1)",
            "*- body $.serial: recorded 1, got 2",
        ]
    )


def test_the_markers_record_mode_wins_over_the_command_line(
    pytester: pytest.Pytester, upstream: Upstream
) -> None:
    pytester.makepyfile(
        test_modes="""
import pytest
import requests

from conftest import API


@pytest.mark.aiointercept(mock_external_urls=True, cassette=True, record_mode="all")
def test_pinned(aiointercept_mock):
    assert requests.get(API + "/pinned", timeout=5).json()["path"] == "/pinned"


@pytest.mark.aiointercept(mock_external_urls=True, cassette=True)
def test_default(aiointercept_mock):
    # not recording, the block takes the loopback API only for a route's port
    aiointercept_mock.get(API + "/unused")
    assert requests.get(API + "/default", timeout=5).json()["path"] == "/default"
""",
    )
    result = run(pytester, "--record-mode=none")
    # test_pinned records (its marker says all), test_default may not (none)
    assert "test_pinned" in summary(result, "PASSED")
    assert "test_default" in summary(result, "FAILED") | summary(result, "ERROR")
    assert "test_pinned" not in summary(result, "ERROR")
    result.stdout.re_match_lines([r".*CassetteError: cassette \S*test_default\.yaml.*"])
    assert upstream.paths == ["/pinned"]
    assert cassette_files(pytester.path) == {"test_modes/test_pinned.yaml"}


def test_record_mode_option_rejects_unknown_modes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = run(pytester, "--record-mode=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--record-mode*invalid choice*sometimes*"])


# == 3. a cassette path of the marker ==============================================


def test_relative_cassette_path_is_relative_to_the_test_file(
    pytester: pytest.Pytester, upstream: Upstream
) -> None:
    suite = pytester.mkdir("suite")
    (suite / "test_custom.py").write_text(
        """
import pathlib

import pytest
import requests

from conftest import API


@pytest.mark.aiointercept(mock_external_urls=True, cassette="custom/api.yaml")
def test_str_path(aiointercept_mock):
    assert requests.get(API + "/str", timeout=5).json()["path"] == "/str"


@pytest.mark.aiointercept(
    mock_external_urls=True, cassette=pathlib.Path("custom", "other.yaml")
)
def test_pathlike(aiointercept_mock):
    assert requests.get(API + "/pathlike", timeout=5).json()["path"] == "/pathlike"
"""
    )
    # run from the project's root, not from the test file's folder
    result = run(pytester, "suite")
    result.assert_outcomes(passed=2)
    assert sorted(p.name for p in (suite / "custom").iterdir()) == [
        "api.yaml",
        "other.yaml",
    ]
    assert not (pytester.path / "custom").exists()
    assert cassette_files(pytester.path) == set()
    assert cassette_files(suite) == set()
    assert [body["path"] for body in recorded_bodies(suite / "custom/api.yaml")] == [
        "/str"
    ]

    upstream.stop()
    run(pytester, "suite").assert_outcomes(passed=2)


def test_absolute_cassette_path_is_used_as_is(
    pytester: pytest.Pytester,
    upstream: Upstream,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "deep" / "api.yaml"
    pytester.makepyfile(
        test_absolute=f"""
import pytest
import requests

from conftest import API


@pytest.mark.aiointercept(mock_external_urls=True, cassette={str(elsewhere)!r})
def test_absolute(aiointercept_mock):
    assert requests.get(API + "/abs", timeout=5).json()["path"] == "/abs"
""",
    )
    run(pytester).assert_outcomes(passed=1)
    assert [body["path"] for body in recorded_bodies(elsewhere)] == ["/abs"]
    assert cassette_files(pytester.path) == set()


# == 4. cassette=True belongs to the marker ========================================


@pytest.mark.parametrize("mock_external_urls", [True, False])
def test_cassette_true_outside_the_marker_is_a_type_error(
    mock_external_urls: bool,
) -> None:
    with pytest.raises(TypeError, match=r"cassette=True .*is for the pytest marker"):
        aiointercept(
            mock_external_urls=mock_external_urls,
            cassette=True,  # type: ignore[arg-type]
        )


# == 5. the marker scrubs secrets, unless told not to ==============================


def test_the_marker_scrubs_secrets_unless_scrub_secrets_is_false(
    pytester: pytest.Pytester, upstream: Upstream
) -> None:
    pytester.makepyfile(
        test_secrets="""
import pytest
import requests

from conftest import API

HEADERS = {"Authorization": "Bearer s3cret-token", "X-Api-Key": "s3cret-key"}


@pytest.mark.aiointercept(mock_external_urls=True, cassette=True)
def test_scrubbed(aiointercept_mock):
    assert requests.get(API + "/me", headers=HEADERS, timeout=5).json()["path"] == "/me"


@pytest.mark.aiointercept(
    mock_external_urls=True, cassette=True, scrub_secrets=False
)
def test_kept(aiointercept_mock):
    assert requests.get(API + "/me", headers=HEADERS, timeout=5).json()["path"] == "/me"


@pytest.mark.aiointercept(mock_external_urls=True, cassette=True, scrub_secrets="no")
def test_bad_value(aiointercept_mock):
    pass
""",
    )
    first = run(pytester)
    first.assert_outcomes(passed=2, errors=1)
    assert summary(first, "ERROR") == {"test_bad_value"}
    first.stdout.fnmatch_lines(["*TypeError: scrub_secrets must be a bool, got 'no'*"])
    folder = pytester.path / "cassettes" / "test_secrets"
    [scrubbed] = interactions(folder / "test_scrubbed.yaml")
    assert scrubbed["request"]["headers"]["Authorization"] == ["Bearer SCRUBBED"]
    assert scrubbed["request"]["headers"]["X-Api-Key"] == ["SCRUBBED"]
    [kept] = interactions(folder / "test_kept.yaml")
    assert kept["request"]["headers"]["Authorization"] == ["Bearer s3cret-token"]
    assert kept["request"]["headers"]["X-Api-Key"] == ["s3cret-key"]

    # both replay, with the real secrets, the API gone
    upstream.stop()
    run(pytester).assert_outcomes(passed=2, errors=1)
    assert upstream.paths == ["/me", "/me"]
