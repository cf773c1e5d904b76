"""WebSocket conversations in cassettes: recorded through the relay, replayed
with the real server stopped.

The "real" server is :class:`ChatServer`, an aiohttp application in a thread
of its own on 127.0.0.1 (so it serves asyncio and trio tests alike), named
``localhost`` so that a ``mock_external_urls=True`` block intercepts it. Its
``/chat`` WebSocket picks the subprotocol ``chat.v2``, pushes ``welcome``,
echoes text as ``echo: ...``, sends binary back reversed, and closes with
4001 ``see you`` on ``bye``; ``/hello`` is plain HTTP.

The clients are aiohttp's ``ws_connect()`` (asyncio only) and the sync client
of ``websockets``, run in a worker thread (asyncio and trio).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import aiohttp
import anyio.to_thread
import httpx
import pytest
import requests
import vcr
import yaml
from aiohttp import WSMsgType, web
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from aiointercept import CassetteError, aiointercept
from tests.support.backends import asyncio_only
from tests.support.cassettes import load

pytestmark = pytest.mark.anyio

#: A bound on every wait, so that a broken test fails instead of hanging.
TIMEOUT = 5.0
#: What a client gets from the standard conversation of :func:`talk_sync`
#: and :func:`talk_aiohttp`.
EXPECTED = ["chat.v2", "welcome", "echo: hello", b"\xff\x01\x00", (4001, "see you")]


class ChatServer:
    """An aiohttp WebSocket server in a thread, standing for a real host."""

    def __init__(self) -> None:
        self.connections = 0
        #: The headers of each upgrade request it accepted.
        self.upgrades: list[dict[str, str]] = []
        self._loop = asyncio.new_event_loop()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        self.port: int = self._sock.getsockname()[1]
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://localhost:{self.port}/chat"

    async def _chat(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("chat.v1", "chat.v2"))
        ws.headers["X-Upstream"] = "yes"
        await ws.prepare(request)
        self.connections += 1
        self.upgrades.append(dict(request.headers))
        await ws.send_str("welcome")
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                if message.data == "bye":
                    await ws.close(code=4001, message=b"see you")
                    break
                await ws.send_str(f"echo: {message.data}")
            elif message.type is WSMsgType.BINARY:
                await ws.send_bytes(message.data[::-1])
        return ws

    async def _hello(self, request: web.Request) -> web.Response:
        return web.Response(text="hello from upstream", headers={"X-Upstream": "yes"})

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/chat", self._chat)
        app.router.add_get("/hello", self._hello)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock).start()

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(TIMEOUT)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(
                TIMEOUT
            )
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(TIMEOUT)
        self._loop.close()
        self._sock.close()


@asynccontextmanager
async def chat_server() -> AsyncIterator[ChatServer]:
    server = ChatServer()
    await anyio.to_thread.run_sync(server.start)
    try:
        yield server
    finally:
        await anyio.to_thread.run_sync(server.stop)


# -- the clients ---------------------------------------------------------------------


def talk_sync(url: str, first: str = "hello") -> list[Any]:
    """The standard conversation, with the sync client of ``websockets``."""
    got: list[Any] = []
    with connect(
        url,
        subprotocols=[Subprotocol("chat.v2")],
        additional_headers={"X-Client": "tests"},
        open_timeout=TIMEOUT,
        close_timeout=TIMEOUT,
    ) as ws:
        got.append(ws.subprotocol)
        got.append(ws.recv(timeout=TIMEOUT))
        ws.send(first)
        got.append(ws.recv(timeout=TIMEOUT))
        ws.send(b"\x00\x01\xff")
        got.append(ws.recv(timeout=TIMEOUT))
        ws.send("bye")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=TIMEOUT)
        assert closed.value.rcvd is not None
        got.append((closed.value.rcvd.code, closed.value.rcvd.reason))
    return got


async def talk_aiohttp(url: str, first: str = "hello") -> list[Any]:
    """The standard conversation, with aiohttp's client."""
    got: list[Any] = []
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.ws_connect(
            url, protocols=["chat.v2"], headers={"X-Client": "tests"}
        ) as ws,
    ):
        got.append(ws.protocol)
        got.append(await ws.receive_str(timeout=TIMEOUT))
        await ws.send_str(first)
        got.append(await ws.receive_str(timeout=TIMEOUT))
        await ws.send_bytes(b"\x00\x01\xff")
        got.append(await ws.receive_bytes(timeout=TIMEOUT))
        await ws.send_str("bye")
        message = await ws.receive(timeout=TIMEOUT)
        assert message.type is WSMsgType.CLOSE
        got.append((message.data, message.extra))
    return got


Talk = Callable[..., Awaitable[list[Any]]]


async def in_thread(url: str, first: str = "hello") -> list[Any]:
    result: list[Any] = await anyio.to_thread.run_sync(talk_sync, url, first)
    return result


#: Each client, on the backends it runs on.
each_client = pytest.mark.parametrize(
    ("anyio_backend", "talk"),
    [
        pytest.param("asyncio", in_thread, id="websockets-asyncio"),
        pytest.param("trio", in_thread, id="websockets-trio"),
        pytest.param("asyncio", talk_aiohttp, id="aiohttp-asyncio"),
    ],
)


def block(path: Path, **options: Any) -> aiointercept:
    return aiointercept(mock_external_urls=True, cassette=path, **options)


async def fails(talk: Talk, *args: str) -> None:
    """Run a client that must fail (each client fails its own way)."""
    try:
        await talk(*args)
    except Exception:
        return
    raise AssertionError("the client did not fail")


async def block_error(
    path: Path, body: Callable[[], Awaitable[object]], **options: Any
) -> str:
    """The message of the :exc:`CassetteError` that a replay of ``path``
    raises at its exit, ``body`` run inside."""
    try:
        async with block(path, record_mode="none", **options):
            await body()
    except CassetteError as exc:
        return str(exc)
    raise AssertionError("the block raised no CassetteError")


def write_cassette(path: Path, url: str, messages: list[dict[str, Any]]) -> None:
    """A cassette with one conversation at ``url`` (no HTTP interactions)."""
    path.write_text(
        yaml.safe_dump(
            {
                "interactions": [],
                "version": 1,
                "websockets": [
                    {
                        "request": {
                            "method": "GET",
                            "uri": url,
                            "body": None,
                            "headers": {},
                        },
                        "response": {
                            "status": {"code": 101, "message": "Switching Protocols"},
                            "headers": {"Sec-WebSocket-Protocol": ["chat.v2"]},
                        },
                        "messages": messages,
                    }
                ],
            }
        ),
        encoding="utf-8",
    )


#: The standard conversation, as a cassette holds it.
SCRIPT: list[dict[str, Any]] = [
    {"from": "server", "text": "welcome"},
    {"from": "client", "text": "hello"},
    {"from": "server", "text": "echo: hello"},
    {"from": "client", "binary": base64.b64encode(b"\x00\x01\xff").decode()},
    {"from": "server", "binary": base64.b64encode(b"\xff\x01\x00").decode()},
    {"from": "client", "text": "bye"},
    {"from": "server", "close": 4001, "reason": "see you"},
]


# -- recording and replaying ---------------------------------------------------------


@each_client
async def test_records_then_replays_with_the_server_stopped(
    talk: Talk, tmp_path: Path
) -> None:
    path = tmp_path / "chat.yaml"
    async with chat_server() as server:
        url = server.ws_url
        async with block(path) as m:
            recorded = await talk(url)
        assert server.connections == 1
        # the client's subprotocols and headers reached the real server
        assert server.upgrades[0]["Sec-WebSocket-Protocol"] == "chat.v2"
        assert server.upgrades[0]["X-Client"] == "tests"
    assert recorded == EXPECTED
    data = load(path)
    assert data["interactions"] == []
    [conversation] = data["websockets"]
    assert conversation["request"]["method"] == "GET"
    assert conversation["request"]["uri"] == f"http://localhost:{server.port}/chat"
    assert conversation["response"]["status"]["code"] == 101
    headers = conversation["response"]["headers"]
    assert headers["Sec-WebSocket-Protocol"] == ["chat.v2"]
    assert headers["X-Upstream"] == ["yes"]
    assert "Sec-WebSocket-Accept" not in headers
    assert conversation["messages"] == SCRIPT
    # the journal has the messages too, as for a WebSocket route
    [upgrade] = m.requests[("GET", f"http://localhost:{server.port}/chat")]
    assert [message.data for message in upgrade.messages][:3] == [
        "welcome",
        "hello",
        "echo: hello",
    ]

    async with block(path, record_mode="none") as m:
        replayed = await talk(url)
    assert replayed == EXPECTED
    assert m.cassette is not None
    assert m.cassette.websockets[0].messages[-1].close_code == 4001
    [upgrade] = m.requests[("GET", f"http://localhost:{server.port}/chat")]
    assert [(message.direction, message.data) for message in upgrade.messages][:2] == [
        ("sent", "welcome"),
        ("received", "hello"),
    ]


@each_client
async def test_a_different_client_message_fails_the_block(
    talk: Talk, tmp_path: Path
) -> None:
    path = tmp_path / "chat.yaml"
    write_cassette(path, "http://localhost:9/chat", SCRIPT)
    # the connection is closed after the mismatch: the client's next receive
    # fails
    message = await block_error(
        path, lambda: fails(talk, "ws://localhost:9/chat", "goodbye")
    )
    assert (
        f"{path}, websocket 1, message 2: the client sent text 'goodbye' where "
        "the recording has text 'hello'"
    ) in message


@each_client
async def test_each_conversation_plays_once(talk: Talk, tmp_path: Path) -> None:
    path = tmp_path / "chat.yaml"
    write_cassette(path, "http://localhost:9/chat", SCRIPT)

    async def twice() -> None:
        assert await talk("ws://localhost:9/chat") == EXPECTED
        await fails(talk, "ws://localhost:9/chat")

    message = await block_error(path, twice)
    assert "has no WebSocket conversation left for GET http://localhost:9/chat" in (
        message
    )
    assert "already replayed (each WebSocket conversation plays once)" in message


async def test_json_text_is_compared_as_json(
    anyio_backend: str, tmp_path: Path
) -> None:
    path = tmp_path / "chat.yaml"
    write_cassette(
        path,
        "http://localhost:9/chat",
        [
            {"from": "client", "text": json.dumps({"op": "sub", "ids": [1, 2]})},
            {"from": "server", "text": "ok"},
            {"from": "server", "close": 1000, "reason": ""},
        ],
    )

    def talk() -> str:
        with connect("ws://localhost:9/chat", open_timeout=TIMEOUT) as ws:
            ws.send('{ "ids": [1, 2],   "op": "sub" }')
            answer = ws.recv(timeout=TIMEOUT)
            assert isinstance(answer, str)
            return answer

    async with block(path, record_mode="none"):
        assert await anyio.to_thread.run_sync(talk) == "ok"


async def test_a_client_that_closes_too_soon_fails_the_block(
    anyio_backend: str, tmp_path: Path
) -> None:
    path = tmp_path / "chat.yaml"
    write_cassette(path, "http://localhost:9/chat", SCRIPT)

    def talk() -> None:
        with connect("ws://localhost:9/chat", open_timeout=TIMEOUT) as ws:
            assert ws.recv(timeout=TIMEOUT) == "welcome"

    message = await block_error(path, lambda: anyio.to_thread.run_sync(talk))
    assert (
        f"{path}, websocket 1, message 2: the client sent a close (code 1000) "
        "where the recording has text 'hello'"
    ) in message


@asyncio_only
async def test_http_and_websocket_in_one_cassette_that_vcrpy_still_reads(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mixed.yaml"
    async with (
        chat_server() as server,
        block(path) as m,
        httpx.AsyncClient() as client,
    ):
        hello = await client.get(f"{server.url}/hello")
        recorded = await talk_aiohttp(server.ws_url)
    assert hello.text == "hello from upstream"
    assert recorded == EXPECTED
    data = load(path)
    assert [i["request"]["uri"] for i in data["interactions"]] == [
        f"{server.url}/hello"
    ]
    assert len(data["websockets"]) == 1

    # vcrpy reads the file (it ignores the conversations) and replays the HTTP
    # interaction with the server stopped
    with vcr.VCR().use_cassette(str(path), record_mode="none") as cassette:
        replayed = await anyio.to_thread.run_sync(requests.get, f"{server.url}/hello")
    assert replayed.text == "hello from upstream"
    assert cassette.play_count == 1

    async with block(path, record_mode="none") as m, httpx.AsyncClient() as client:
        hello = await client.get(f"{server.url}/hello")
        assert await talk_aiohttp(server.ws_url) == EXPECTED
    assert hello.text == "hello from upstream"
    assert m.cassette is not None
    assert m.cassette.play_count == 1


async def test_none_mode_reports_an_upgrade_with_no_conversation(
    anyio_backend: str, tmp_path: Path
) -> None:
    path = tmp_path / "chat.yaml"
    write_cassette(path, "http://localhost:9/chat", SCRIPT)
    message = await block_error(
        path, lambda: fails(in_thread, "ws://localhost:9/other")
    )
    assert "no WebSocket conversation left for GET http://localhost:9/other" in (
        message
    )
    assert "closest recorded WebSocket conversation: GET http://localhost:9/chat" in (
        message
    )


async def test_new_episodes_replays_and_records_the_new_one(
    anyio_backend: str, tmp_path: Path
) -> None:
    path = tmp_path / "chat.yaml"
    async with chat_server() as server:
        write_cassette(path, server.url + "/chat?old", SCRIPT)
        async with block(path, record_mode="new_episodes"):
            assert await in_thread(server.ws_url + "?old") == EXPECTED
            assert await in_thread(server.ws_url + "?new") == EXPECTED
        assert server.connections == 1  # only the new one reached it
    uris = [item["request"]["uri"] for item in load(path)["websockets"]]
    assert uris == [server.url + "/chat?old", server.url + "/chat?new"]


async def test_all_mode_records_again(anyio_backend: str, tmp_path: Path) -> None:
    path = tmp_path / "chat.yaml"
    async with chat_server() as server:
        stale = [*SCRIPT[:2], {"from": "server", "text": "stale"}]
        write_cassette(path, server.url + "/chat", stale)
        async with block(path, record_mode="all"):
            assert await in_thread(server.ws_url) == EXPECTED
        assert server.connections == 1
    [conversation] = load(path)["websockets"]
    assert conversation["messages"] == SCRIPT


async def test_verify_relays_conversations_and_says_it_does_not_compare_them(
    anyio_backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "chat.yaml"
    async with chat_server() as server:
        write_cassette(path, server.url + "/chat", SCRIPT[:1])
        before = path.read_text()
        with caplog.at_level(logging.WARNING, logger="aiointercept"):
            async with block(path, record_mode="verify"):
                assert await in_thread(server.ws_url) == EXPECTED
        assert server.connections == 1
    assert path.read_text() == before
    assert (
        "(record_mode='verify'): the WebSocket conversation of GET "
        f"{server.url}/chat is relayed, not compared"
    ) in caplog.text


async def test_secrets_are_scrubbed_and_filtered(
    anyio_backend: str, tmp_path: Path
) -> None:
    path = tmp_path / "chat.yaml"

    def talk(url: str) -> str:
        with connect(
            url,
            additional_headers={"Authorization": "Bearer s3cret"},
            open_timeout=TIMEOUT,
            close_timeout=TIMEOUT,
        ) as ws:
            assert ws.recv(timeout=TIMEOUT) == "welcome"
            ws.send("token=abc123")
            answer = ws.recv(timeout=TIMEOUT)
            assert isinstance(answer, str)
            return answer

    async with chat_server() as server:
        async with block(path, filter_sensitive_data=[("<TOKEN>", "abc123")]):
            assert await anyio.to_thread.run_sync(talk, server.ws_url) == (
                "echo: token=abc123"
            )
        assert server.upgrades[0]["Authorization"] == "Bearer s3cret"
    text = path.read_text()
    assert "s3cret" not in text
    assert "abc123" not in text
    assert "token=<TOKEN>" in text
    # the placeholder is read back as the value: the replay matches
    async with block(
        path, record_mode="none", filter_sensitive_data=[("<TOKEN>", "abc123")]
    ):
        assert await anyio.to_thread.run_sync(talk, server.ws_url) == (
            "echo: token=abc123"
        )


async def test_passthrough_relays_a_websocket_upgrade(anyio_backend: str) -> None:
    async with chat_server() as server:
        async with aiointercept(
            mock_external_urls=True, passthrough_unmatched=True
        ) as m:
            # a route on the host makes the mock take its port, which
            # loopback would otherwise reach directly
            m.get(f"{server.url}/elsewhere")
            assert await in_thread(server.ws_url) == EXPECTED
        assert server.connections == 1
    [upgrade] = m.requests[("GET", f"{server.url}/chat")]
    assert upgrade.messages[-1].close_code == 4001


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({"from": "nobody", "text": "x"}, "'from' must be 'client' or 'server'"),
        ({"from": "client"}, "needs exactly one of 'text', 'binary' or 'close'"),
        ({"from": "client", "binary": "not base64!"}, "'binary' must be base64"),
        ({"from": "server", "close": "x"}, "'close' must be a close code"),
    ],
)
def test_a_bad_message_in_the_file_is_reported_at_the_entry(
    tmp_path: Path, message: dict[str, Any], error: str
) -> None:
    path = tmp_path / "chat.yaml"
    write_cassette(path, "http://localhost:9/chat", [SCRIPT[0], message])
    with pytest.raises(CassetteError) as caught, block(path, record_mode="none"):
        pass  # pragma: no cover
    assert f"{path}, websocket 1, message 2: {error}" in str(caught.value)


def test_json_cassettes_hold_binary_messages(tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    write_cassette(path, "http://localhost:9/chat", SCRIPT)
    data = yaml.safe_load(path.read_text())
    path.write_text(json.dumps(data))
    with block(path, record_mode="none", serializer="json") as m:
        assert m.cassette is not None
        messages = m.cassette.websockets[0].messages
    assert messages[3].data == b"\x00\x01\xff"
    assert cast(Any, messages[6]).close_reason == "see you"


async def test_structured_json_bodies_keep_the_conversations(
    anyio_backend: str, tmp_path: Path
) -> None:
    path = tmp_path / "chat.yaml"
    async with chat_server() as server, block(path, json_bodies="structured"):
        assert await in_thread(server.ws_url) == EXPECTED
    data = load(path)
    assert data["json_bodies"] == "structured"
    assert data["websockets"][0]["messages"] == SCRIPT
    async with block(path, record_mode="none"):
        assert await in_thread(server.ws_url) == EXPECTED


def test_a_sync_block_replays_with_the_client_in_the_test_thread(
    tmp_path: Path,
) -> None:
    # the replay runs on the server's loop: no test loop is needed
    path = tmp_path / "chat.yaml"
    write_cassette(path, "http://localhost:9/chat", SCRIPT)
    with block(path, record_mode="none"):
        assert talk_sync("ws://localhost:9/chat") == EXPECTED


async def test_a_conversation_left_open_is_recorded_without_a_close(
    anyio_backend: str, tmp_path: Path
) -> None:
    path = tmp_path / "chat.yaml"

    def start(url: str) -> ClientConnection:
        # entered, and left open: the test closes it later
        ws = connect(url, open_timeout=TIMEOUT, close_timeout=1).__enter__()
        assert ws.recv(timeout=TIMEOUT) == "welcome"
        ws.send("hello")
        assert ws.recv(timeout=TIMEOUT) == "echo: hello"
        return ws

    async with chat_server() as server:
        async with block(path):
            left_open = await anyio.to_thread.run_sync(start, server.ws_url)
        left_open.close()
    assert load(path)["websockets"][0]["messages"] == SCRIPT[:3]

    # the replay waits for the client's close, which ends it quietly
    async with block(path, record_mode="none"):
        replayed = await anyio.to_thread.run_sync(start, server.ws_url)
        await anyio.to_thread.run_sync(replayed.close)


async def test_allow_playback_repeats_plays_a_conversation_again(
    anyio_backend: str, tmp_path: Path
) -> None:
    path = tmp_path / "chat.yaml"
    write_cassette(path, "http://localhost:9/chat", SCRIPT)
    async with block(path, record_mode="none", allow_playback_repeats=True):
        assert await in_thread("ws://localhost:9/chat") == EXPECTED
        assert await in_thread("ws://localhost:9/chat") == EXPECTED


def connect_only(url: str) -> None:
    with connect(url, open_timeout=TIMEOUT, close_timeout=TIMEOUT):
        pass


async def test_an_upgrade_the_real_server_refuses_gets_its_status(
    anyio_backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "chat.yaml"
    async with chat_server() as server:
        with caplog.at_level(logging.WARNING, logger="aiointercept"):
            async with block(path):
                with pytest.raises(InvalidStatus) as info:
                    await anyio.to_thread.run_sync(
                        connect_only, f"ws://localhost:{server.port}/hello"
                    )
    assert info.value.response.status_code == 200
    assert f"recording the WebSocket http://localhost:{server.port}/hello" in (
        caplog.text
    )
    assert "the server answered 200" in caplog.text
    assert not path.exists()  # nothing recorded


async def test_an_upgrade_whose_server_is_gone_is_closed(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with chat_server() as server:
        url = server.url
    with caplog.at_level(logging.WARNING, logger="aiointercept"):
        async with aiointercept(
            mock_external_urls=True, passthrough_unmatched=True
        ) as m:
            m.get(f"{url}/elsewhere")  # the mock takes the port
            with pytest.raises((InvalidHandshake, OSError)):
                await anyio.to_thread.run_sync(connect_only, f"ws{url[4:]}/chat")
    assert f"passing through the WebSocket {url}/chat" in caplog.text
    assert "the client's connection was closed" in caplog.text


async def test_the_users_hooks_apply_to_conversations_as_to_requests(
    anyio_backend: str, tmp_path: Path
) -> None:
    """``before_record_request`` sees each stored upgrade and each live one:
    a conversation it drops is neither replayed nor recorded."""
    path = tmp_path / "chat.yaml"
    write_cassette(path, "http://localhost:9/chat", SCRIPT)
    seen: list[str] = []

    def hook(request: Any) -> Any:
        seen.append(request.uri)
        return None if request.path == "/chat" else request

    async with block(path, record_mode="none", before_record_request=hook) as m:
        assert m.cassette is not None
        assert m.cassette.websockets == []
    assert seen == ["http://localhost:9/chat"]  # the stored one, on entry

    async with (
        chat_server() as server,
        block(tmp_path / "new.yaml", before_record_request=hook),
    ):
        assert await in_thread(server.ws_url) == EXPECTED
    assert seen[-1] == f"http://localhost:{server.port}/chat"
    assert not (tmp_path / "new.yaml").exists()  # relayed, not recorded
