"""pytest-recording's names, served by aiointercept when pytest-recording is
not loaded: suites written as its README writes them (``@pytest.mark.vcr``,
a ``vcr_config`` fixture in the conftest, ``--record-mode=once``,
``@pytest.mark.block_network``, extra cassettes...) run on aiointercept as
they are.

Each project is written with ``pytester`` and run in a subprocess with
``-p no:recording`` (pytest-recording is installed with the test
dependencies), and once with pytest-recording loaded, which then serves the
same names and replays the same cassettes. The "real API" is the upstream of
:mod:`tests.support.upstream`, addressed by name as ``http://localhost:PORT``;
the inner conftest (:data:`tests.support.inner_pytest.GUARDED_CONFTEST`)
resolves no name but loopback ones and refuses any connection that leaves
loopback, and the proxy variables are cleared: nothing leaves the machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.inner_pytest import (
    GUARDED_CONFTEST,
    guarded_upstream,
    read_notes,
    run,
    summary,
)
from tests.support.upstream import Upstream, UpstreamHandler

#: Turns pytest-recording off, so that aiointercept serves its names.
OFF = ("-p", "no:recording")

#: A host that never existed: only cassettes answer it.
FAKE = "http://api.example.com"

CONFTEST = (
    GUARDED_CONFTEST
    + """

@pytest.fixture(scope="module")
def vcr_config():
    return {"filter_headers": ["x-secret"]}


def tenant(live, recorded):
    assert live.headers.get("X-Tenant") == recorded.headers.get("X-Tenant")


def pytest_recording_configure(config, vcr):
    vcr.register_matcher("tenant", tenant)
"""
)

#: Tests as pytest-recording's README writes them, with every kind of test
#: and client: each notes what its requests got.
TEST_API = """
import aiohttp
import httpx
import pytest
import requests

from conftest import API, note


@pytest.mark.vcr
def test_user(vcr):
    response = requests.get(API + "/users/1", headers={"X-Secret": "s3"}, timeout=5)
    note("test_user", response.text)
    note("test_user.played", str(vcr.play_count))


class TestGroup:
    @pytest.mark.vcr
    def test_method(self):
        note("TestGroup.test_method", requests.get(API + "/group", timeout=5).text)


@pytest.mark.vcr
@pytest.mark.parametrize("n", [1, pytest.param(2, id="two/2")])
def test_param(n):
    note(f"test_param-{n}", requests.get(f"{API}/items/{n}", timeout=5).text)


@pytest.mark.vcr
@pytest.mark.anyio
async def test_anyio(anyio_backend):
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{API}/async/{anyio_backend}")).text
    note(f"test_anyio-{anyio_backend}", text)


@pytest.mark.vcr
@pytest.mark.asyncio
async def test_aiohttp():
    async with aiohttp.ClientSession() as session:
        async with session.get(API + "/aiohttp") as response:
            note("test_aiohttp", await response.text())


@pytest.mark.default_cassette("shared.yaml")
@pytest.mark.vcr
def test_named():
    note("test_named", requests.get(API + "/named", timeout=5).text)


def test_plain(vcr, record_mode):
    assert vcr is None
    note("record_mode", record_mode)
"""

#: The cassette files of :data:`TEST_API`, named as pytest-recording names
#: them.
API_CASSETTES = {
    "test_user.yaml",
    "TestGroup.test_method.yaml",
    "test_param[1].yaml",
    "test_param[two-2].yaml",
    "test_anyio[asyncio].yaml",
    "test_anyio[trio].yaml",
    "test_aiohttp.yaml",
    "shared.yaml",
}

#: Extra cassettes, rewrite, a registered matcher, a missing interaction and
#: the network guard; the cassettes are in ``shared/``.
TEST_MORE = f"""
import socket
from pathlib import Path

import pytest
import requests

from conftest import API, note

FAKE = "{FAKE}"


@pytest.fixture
def vcr_cassette_dir():
    return str(Path(__file__).parent / "shared")


def connect_outside():
    with socket.socket() as sock:
        with pytest.raises(ConnectionRefusedError, match="aiointercept blocked"):
            sock.connect(("192.0.2.10", 5432))


@pytest.mark.vcr("extra.yaml")
def test_extra_only():
    assert requests.get(FAKE + "/extra", timeout=5).text == "extra"


@pytest.mark.vcr("extra.yaml", record_mode="new_episodes")
def test_extra_and_new(vcr):
    assert requests.get(FAKE + "/own", timeout=5).text == "own"
    assert requests.get(FAKE + "/extra", timeout=5).text == "extra"
    note("new", requests.get(API + "/new", timeout=5).text)
    assert vcr.path.name == "test_extra_and_new.yaml"


@pytest.mark.vcr(record_mode="rewrite")
def test_rewrite():
    requests.get(API + "/fresh", timeout=5)


@pytest.mark.vcr(match_on=["method", "path", "tenant"])
def test_registered_matcher():
    assert requests.get(FAKE + "/t", headers={{"X-Tenant": "b"}}, timeout=5).text == "b"


@pytest.mark.vcr(record_mode="once", record_on_exception=False)
def test_failing():
    requests.get(API + "/failing", timeout=5)
    raise AssertionError("the test failed")


@pytest.mark.vcr
def test_missing():
    requests.get(FAKE + "/missing", timeout=5)


@pytest.mark.block_network
def test_blocked():
    connect_outside()
    assert requests.get(API + "/local", timeout=5).ok


@pytest.mark.vcr
@pytest.mark.block_network(allowed_hosts=["127.0.0.1"])
def test_blocked_with_a_cassette():
    connect_outside()


@pytest.mark.block_network(allowed_hosts=["10\\\\.0\\\\..*"])
def test_a_pattern():
    pass
"""

#: ``--block-network`` and ``--disable-recording``.
TEST_OPTIONS = """
import pytest
import requests

from conftest import API, note
from test_more import connect_outside


def test_unmarked():
    connect_outside()


@pytest.mark.vcr
def test_disabled(vcr):
    assert vcr is None
    note("disabled", requests.get(API + "/live", timeout=5).text)
"""


class SerialHandler(UpstreamHandler):
    """Every answer is JSON with a serial number, so a replayed response can be
    told from a new one."""

    def respond(self, body: bytes) -> None:
        answer = {"path": self.path, "serial": self.serial}
        self.send_body(json.dumps(answer).encode(), "application/json")


#: A conversation, as a cassette file holds it.
CONVERSATION = {
    "request": {"body": None, "headers": {}, "method": "GET", "uri": f"{FAKE}/ws"},
    "response": {
        "headers": {},
        "status": {"code": 101, "message": "Switching Protocols"},
    },
    "messages": [
        {"from": "client", "text": "hello"},
        {"from": "server", "text": "hi"},
        {"from": "server", "close": 1000, "reason": ""},
    ],
}


def cassette(*interactions: tuple[str, str, dict[str, str]]) -> str:
    """A cassette of GET ``uri`` answered ``body``, with request headers."""
    return yaml.safe_dump(
        {
            "interactions": [
                {
                    "request": {
                        "body": None,
                        "headers": {name: [value] for name, value in headers.items()},
                        "method": "GET",
                        "uri": uri,
                    },
                    "response": {
                        "body": {"string": body},
                        "headers": {"Content-Type": ["text/plain"]},
                        "status": {"code": 200, "message": "OK"},
                    },
                }
                for uri, body, headers in interactions
            ],
            "version": 1,
        }
    )


def uris(path: Path) -> list[str]:
    data = yaml.safe_load(path.read_text())
    return [item["request"]["uri"] for item in data["interactions"]]


@pytest.fixture
def notes(pytester: pytest.Pytester) -> Path:
    return pytester.mkdir("notes")


@pytest.fixture
def upstream(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, notes: Path
) -> Iterator[Upstream]:
    """The "real API", known to the inner projects, and their ini and
    conftest."""
    yield from guarded_upstream(pytester, monkeypatch, notes, SerialHandler, CONFTEST)


def test_a_suite_records_then_replays_and_pytest_recording_replays_it_too(
    pytester: pytest.Pytester, upstream: Upstream, notes: Path
) -> None:
    """Sync tests, methods, parametrized tests, the anyio plugin (asyncio and
    trio) and pytest-asyncio; ``vcr_config`` from the conftest."""
    pytester.makepyfile(test_api=TEST_API)
    folder = pytester.path / "cassettes" / "test_api"

    first = run(pytester, *OFF, "--record-mode=once")
    first.assert_outcomes(passed=9)
    assert {path.name for path in folder.iterdir()} == API_CASSETTES
    recorded = read_notes(notes)
    assert recorded["record_mode"] == "once"
    assert recorded["test_user.played"] == "0"
    assert sorted(json.loads(recorded[f"test_param-{n}"])["path"] for n in (1, 2)) == [
        "/items/1",
        "/items/2",
    ]
    user = yaml.safe_load((folder / "test_user.yaml").read_text())["interactions"]
    assert "X-Secret" not in user[0]["request"]["headers"]  # vcr_config's filter
    assert len(upstream.received) == 8

    upstream.stop()
    # the default mode is none: replay only
    second = run(pytester, *OFF)
    second.assert_outcomes(passed=9)
    replayed = read_notes(notes)
    assert replayed.pop("record_mode") == "none"
    assert replayed.pop("test_user.played") == "1"
    recorded.pop("record_mode")
    recorded.pop("test_user.played")
    assert replayed == recorded

    # pytest-recording, loaded, serves the same names and replays the files
    theirs = run(pytester)
    theirs.assert_outcomes(passed=9)
    assert read_notes(notes) == {
        **recorded,
        "record_mode": "none",
        "test_user.played": "1",
    }


def test_extra_cassettes_rewrite_matchers_misses_and_the_network_guard(
    pytester: pytest.Pytester, upstream: Upstream, notes: Path
) -> None:
    pytester.makepyfile(test_more=TEST_MORE, test_options=TEST_OPTIONS)
    shared = pytester.mkdir("shared")
    extra = cassette((f"{FAKE}/extra", "extra", {}))
    (shared / "extra.yaml").write_text(extra)
    own = yaml.safe_load(cassette((f"{FAKE}/own", "own", {})))
    # a WebSocket conversation, which the combined cassette keeps
    own["websockets"] = [CONVERSATION]
    (shared / "test_extra_and_new.yaml").write_text(yaml.safe_dump(own))
    (shared / "test_rewrite.yaml").write_text(cassette((f"{FAKE}/old", "old", {})))
    (shared / "test_registered_matcher.yaml").write_text(
        cassette(
            (f"{FAKE}/t", "a", {"X-Tenant": "a"}),
            (f"{FAKE}/t", "b", {"X-Tenant": "b"}),
        )
    )

    result = run(pytester, *OFF, "test_more.py")
    assert summary(result, "PASSED") == {
        "test_extra_only",
        "test_extra_and_new",
        "test_rewrite",
        "test_registered_matcher",
        "test_blocked",
        "test_blocked_with_a_cassette",
    }
    assert summary(result, "FAILED") == {"test_failing", "test_missing"}
    assert summary(result, "ERROR") == {"test_missing", "test_a_pattern"}
    result.stdout.re_match_lines(
        [
            r".*CassetteError: cassette \S*test_missing\.yaml \(record_mode='none'\)"
            rf" has no interaction left for GET {FAKE}/missing"
        ]
    )
    result.stdout.re_match_lines([r".*ValueError: allowed host .* is a pattern.*"])
    # the default cassette got what it held, the extra's and the new one; the
    # extra is as it was
    new = f"http://localhost:{upstream.port}/new"
    assert uris(shared / "test_extra_and_new.yaml") == [
        f"{FAKE}/own",
        f"{FAKE}/extra",
        new,
    ]
    kept = yaml.safe_load((shared / "test_extra_and_new.yaml").read_text())
    assert kept["websockets"] == [CONVERSATION]
    assert (shared / "extra.yaml").read_text() == extra
    assert uris(shared / "test_rewrite.yaml") == [
        f"http://localhost:{upstream.port}/fresh"
    ]
    assert not (shared / "test_extra_only.yaml").exists()
    assert not (shared / "test_failing.yaml").exists()  # record_on_exception
    assert upstream.paths == ["/new", "/fresh", "/failing", "/local"]

    options = run(
        pytester,
        *OFF,
        "--block-network",
        "--allowed-hosts=127.0.0.1,::1",
        "--disable-recording",
        "test_options.py",
    )
    options.assert_outcomes(passed=2)
    assert json.loads(read_notes(notes)["disabled"])["path"] == "/live"

    private = run(pytester, *OFF, "--allow-private-ips", "--co", "test_options.py")
    assert private.ret == pytest.ExitCode.USAGE_ERROR
    private.stderr.fnmatch_lines(["*allow_private_ips (--allow-private-ips) is not*"])


def test_a_test_without_the_markers_sets_up_none_of_the_surfaces_fixtures(
    pytester: pytest.Pytester,
) -> None:
    """Every test runs the autouse ``vcr`` and ``block_network`` fixtures; the
    fixtures they depend on are set up only for a test that uses them."""
    pytester.makeconftest(
        """
import pytest


@pytest.fixture
def record_mode():
    raise AssertionError("record_mode was set up")


@pytest.fixture
def vcr_markers():
    raise AssertionError("vcr_markers was set up")


@pytest.fixture(scope="module")
def vcr_cassette_dir():
    raise AssertionError("vcr_cassette_dir was set up")
"""
    )
    pytester.makepyfile(
        """
import pytest


def test_plain():
    assert True


@pytest.mark.block_network
def test_blocked():
    assert True
"""
    )
    result = pytester.runpytest_subprocess(*OFF)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at setup of test_blocked*"])


def test_the_surfaces_fixtures_are_set_up_where_autouse_ones_would_be(
    pytester: pytest.Pytester,
) -> None:
    """A test marked ``vcr`` or ``block_network`` gets the fixture after the
    fixtures of broader scopes and before its own, as pytest-recording's
    autouse fixtures are."""
    pytester.makeconftest(
        """
import pytest


@pytest.fixture(scope="module")
def broad():
    return 1


@pytest.fixture
def own():
    return 2
"""
    )
    pytester.makepyfile(
        """
import pytest


@pytest.mark.block_network
def test_blocked(own, broad):
    assert own + broad == 3


@pytest.mark.vcr
def test_recorded(own, broad):
    assert own + broad == 3
"""
    )
    result = pytester.runpytest_subprocess(*OFF, "--setup-show", "--record-mode=all")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*SETUP    M broad*",
            "*SETUP    F block_network*",
            "*SETUP    F own*",
            "*test_blocked*",
            "*SETUP    F vcr *",
            "*SETUP    F own*",
            "*test_recorded*",
        ]
    )
