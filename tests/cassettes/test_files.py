"""Cassette files: parse errors name the file and line, writes are atomic
and keep the permissions of a new file, and a block that raises still writes
its cassette.

Each test records from the upstream of :mod:`tests.support.upstream`
(addressed by name, ``http://localhost:PORT``, which a
``mock_external_urls=True`` block intercepts), then replays with the upstream
stopped, so that a replay that reached the network would fail. Nothing leaves
the machine: ``conftest.py`` puts every test under the loopback net.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import pytest
import yaml

from aiointercept import AiointerceptError, CassetteError, aiointercept
from tests.support.cassettes import record, uris
from tests.support.clients import open_client
from tests.support.upstream import serving

pytestmark = pytest.mark.anyio


def files_in(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def permissions(path: Path) -> int:
    return os.stat(path).st_mode & 0o777


def messages(error: BaseException) -> str:
    """The messages of ``error`` and of the exceptions it was raised from."""
    found = []
    current: BaseException | None = error
    while current is not None:
        found.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return "\n".join(found)


BROKEN_CASSETTE = """\
interactions:
- request:
    method: GET
    uri: http://localhost/x: y
    body: null
    headers: {}
version: 1
"""


async def test_unparsable_cassette_names_the_file_and_line(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN_CASSETTE)
    with pytest.raises(yaml.MarkedYAMLError) as parsed:
        yaml.safe_load(BROKEN_CASSETTE)
    assert parsed.value.problem_mark is not None
    line = parsed.value.problem_mark.line + 1
    assert line == 4
    entered = False
    with pytest.raises(CassetteError) as info:
        async with aiointercept(mock_external_urls=True, cassette=path):
            entered = True
    assert not entered
    message = str(info.value)
    assert str(path) in message
    # "file:line", or the file and "line N"
    assert f"{path}:{line}" in message or f"line {line}" in message, message
    assert path.read_text() == BROKEN_CASSETTE


@pytest.mark.parametrize(
    "content",
    [
        "- just\n- a list\n",
        "interactions: 3\nversion: 1\n",
        "interactions:\n- {request: {method: GET}}\nversion: 1\n",
    ],
    ids=["list", "interactions-not-a-list", "interaction-incomplete"],
)
async def test_yaml_that_is_not_a_cassette_names_the_file(
    tmp_path: Path, anyio_backend: str, content: str
) -> None:
    path = tmp_path / "not-a-cassette.yaml"
    path.write_text(content)
    with pytest.raises(CassetteError, match=str(path.name)):
        async with aiointercept(mock_external_urls=True, cassette=path):
            pass


REQUEST = "request: {method: GET, uri: 'http://api.example.com/', headers: {}}"


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        ("{status: {code: OK}, headers: {}, body: {string: ''}}", "status.code"),
        ("{status_code: '200', headers: {}, content: ''}", "status_code"),
        ("{headers: {}, content: ''}", "status.code"),
    ],
    ids=["status-code", "old-httpx-status-code", "no-status"],
)
async def test_response_without_an_int_status_names_the_interaction(
    tmp_path: Path, anyio_backend: str, response: str, problem: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(f"interactions:\n- {{{REQUEST}, response: {response}}}\n")
    with pytest.raises(CassetteError) as info:
        async with aiointercept(mock_external_urls=True, cassette=path):
            pass
    assert str(info.value) == (
        f"{path}, interaction 1: response.{problem} must be an int"
    )


async def test_failed_write_leaves_the_previous_cassette_intact(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"

    def failing(response: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("the hook failed on purpose")

    async with serving() as upstream:
        url = f"{upstream.url}/hello"
        await record(path, upstream, "httpx-async", lambda c: c.text(url))
        before = path.read_bytes()

        async def block() -> None:
            async with (
                aiointercept(
                    mock_external_urls=True,
                    cassette=path,
                    record_mode="all",
                    before_record_response=failing,
                ),
                open_client("httpx-async") as client,
            ):
                # the hook may fail while the request is answered
                with contextlib.suppress(httpx.TransportError):
                    await client.get(url)

        with pytest.raises((RuntimeError, AiointerceptError)) as info:
            await block()
    assert "the hook failed on purpose" in messages(info.value)
    assert path.read_bytes() == before
    assert files_in(tmp_path) == [path.name], "no temporary file left behind"


async def test_cassette_gets_the_permissions_of_any_new_file(
    tmp_path: Path, anyio_backend: str
) -> None:
    """Written through a temporary file, but not with its private mode: the
    umask decides, as for the files vcrpy writes."""
    path = tmp_path / "c.yaml"
    reference = tmp_path / "reference"
    reference.write_text("")
    async with serving() as upstream:
        url = f"{upstream.url}/hello"
        await record(path, upstream, "httpx-async", lambda c: c.text(url))
    assert oct(permissions(path)) == oct(permissions(reference))


async def test_cassette_is_written_when_the_block_raises(
    tmp_path: Path, anyio_backend: str
) -> None:
    """As vcrpy does: a test that fails after its requests keeps what it
    recorded, and the next run replays it."""
    path = tmp_path / "c.yaml"

    async with serving() as upstream:
        url = f"{upstream.url}/hello"

        async def block() -> None:
            async with (
                aiointercept(mock_external_urls=True, cassette=path),
                open_client("httpx-async") as client,
            ):
                await client.text(url)
                raise LookupError("the test failed")

        with pytest.raises(LookupError, match="the test failed"):
            await block()
    assert uris(path) == [url]


def _reading_a_cassette() -> bool:
    """Whether the calling thread is reading a cassette file."""
    reading = {
        (os.path.join("_cassette", "format.py"), "interactions_of"),
        (os.path.join("_cassette", "files.py"), "parse"),
    }
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if any(
            code.co_filename.endswith(file) and code.co_name == name
            for file, name in reading
        ) or code.co_filename.endswith(os.path.join("yaml", "constructor.py")):
            return True
        frame = frame.f_back
    return False


@pytest.mark.parametrize("enabled", [True, False])
def test_reading_a_cassette_sets_off_no_garbage_collection(
    tmp_path: Path, enabled: bool
) -> None:
    """Reading makes objects by the thousand, none of them garbage: the
    collector waits until it is done, and is left as the test had it."""
    path = tmp_path / "c.yaml"
    interactions = [
        {
            "request": {"body": None, "headers": {}, "method": "GET", "uri": uri},
            "response": {
                "body": {"string": "{}"},
                "headers": {"Content-Type": ["application/json"]},
                "status": {"code": 200, "message": "OK"},
            },
        }
        for uri in (f"http://api.example.test/items/{i}" for i in range(300))
    ]
    path.write_text(yaml.safe_dump({"interactions": interactions, "version": 1}))
    while_reading: list[bool] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            while_reading.append(_reading_a_cassette())

    threshold = gc.get_threshold()
    was_enabled = gc.isenabled()
    gc.set_threshold(200, 10**6, 10**6)  # a young collection every 200 objects
    gc.callbacks.append(note)
    (gc.enable if enabled else gc.disable)()
    try:
        m = aiointercept(mock_external_urls=True, cassette=path, record_mode="none")
        with m:
            assert gc.isenabled() is enabled
            assert m.cassette is not None
            assert len(m.cassette) == 300
    finally:
        gc.callbacks.remove(note)
        gc.set_threshold(*threshold)
        (gc.enable if was_enabled else gc.disable)()
    assert True not in while_reading
    # the collector did run around the reading, when it was on
    assert bool(while_reading) is enabled
