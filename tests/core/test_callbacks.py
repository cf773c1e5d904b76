"""Callbacks: arguments, CallbackResult on the wire, async callbacks on the test's
loop, a blocked loop, and callback failures."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import re
import threading
import time
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel
import httpx
import pytest
import requests
import trio
from multidict import CIMultiDictProxy
from yarl import URL

from aiointercept import (
    AiointerceptError,
    CallbackError,
    CallbackResult,
    RecordedRequest,
    aiointercept,
)
from tests.support import internals
from tests.support.backends import asyncio_only, trio_only


class Boom(Exception):
    """A distinctive exception raised by failing callbacks."""


class BlockError(Exception):
    """A distinctive exception raised by the test's own block."""


# -- the arguments a callback receives -----------------------------------------


class Recorder:
    """Keeps what a callback was called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[URL, dict[str, Any]]] = []
        self.threads: list[int] = []


def _echo_result(json: Any) -> CallbackResult:
    return CallbackResult(status=200, payload={"echo": json})


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_callback_receives_url_headers_query_json_and_kwargs(kind: str) -> None:
    recorder = Recorder()

    def sync_echo(
        url: URL,
        *,
        headers: CIMultiDictProxy[str],
        query: dict[str, list[str]],
        json: Any,
        **kwargs: Any,
    ) -> CallbackResult:
        recorder.calls.append(
            (url, {"headers": headers, "query": query, "json": json, **kwargs})
        )
        return _echo_result(json)

    async def async_echo(
        url: URL,
        *,
        headers: CIMultiDictProxy[str],
        query: dict[str, list[str]],
        json: Any,
        **kwargs: Any,
    ) -> CallbackResult:
        await anyio.lowlevel.checkpoint()
        recorder.calls.append(
            (url, {"headers": headers, "query": query, "json": json, **kwargs})
        )
        return _echo_result(json)

    callback = sync_echo if kind == "sync" else async_echo
    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.post("/echo?a=1&a=3&b=2", callback=callback)
        response = await client.post(
            f"{m.server_url}/echo?b=2&a=1&a=3",
            json={"k": "v", "n": [1, 2]},
            headers={"X-Custom": "hello"},
        )
        sent_body = response.request.content
        recorded = m.requests[("POST", URL(f"{m.server_url}/echo?a=1&a=3&b=2"))]

    assert response.status_code == 200
    assert response.json() == {"echo": {"k": "v", "n": [1, 2]}}
    assert len(recorder.calls) == 1
    url, kwargs = recorder.calls[0]
    assert url == URL(f"{m.server_url}/echo?b=2&a=1&a=3")
    assert kwargs["headers"]["x-custom"] == "hello"
    assert kwargs["headers"]["X-CUSTOM"] == "hello"
    assert kwargs["query"] == {"b": ["2"], "a": ["1", "3"]}
    assert kwargs["json"] == {"k": "v", "n": [1, 2]}
    assert kwargs["method"] == "POST"
    assert kwargs["data"] == sent_body
    assert isinstance(kwargs["data"], bytes)
    request = kwargs["request"]
    assert isinstance(request, RecordedRequest)
    assert len(recorded) == 1
    assert request is recorded[0]
    assert request.method == "POST"
    assert request.captured_body == sent_body


@pytest.mark.anyio
async def test_callback_gets_raw_body_as_data_and_no_json_for_non_json() -> None:
    received: list[tuple[Any, bytes, str]] = []

    def raw(url: URL, *, json: Any, data: bytes, method: str) -> CallbackResult:
        received.append((json, data, method))
        return CallbackResult(body=data[::-1], content_type="application/octet-stream")

    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.put("/raw", callback=raw)
        response = await client.put(
            f"{m.server_url}/raw",
            content=b"\x00raw\xff{",
            headers={"Content-Type": "application/octet-stream"},
        )

    assert response.status_code == 200
    assert response.content == b"{\xffwar\x00"
    assert received == [(None, b"\x00raw\xff{", "PUT")]


@pytest.mark.anyio
async def test_callback_without_var_kwargs_gets_only_the_keywords_it_names() -> None:
    seen: dict[str, Any] = {}

    def url_only(url: URL) -> CallbackResult:
        seen["url_only"] = url
        return CallbackResult(body="url_only")

    def json_only(url: URL, *, json: Any) -> CallbackResult:
        seen["json_only"] = json
        return CallbackResult(body="json_only")

    def method_and_data(url: URL, *, method: str, data: bytes) -> CallbackResult:
        seen["method_and_data"] = (method, data)
        return CallbackResult(body="method_and_data")

    def request_only(url: URL, *, request: RecordedRequest) -> CallbackResult:
        seen["request_only"] = request
        return CallbackResult(body="request_only")

    async def async_query(url: URL, *, query: dict[str, list[str]]) -> CallbackResult:
        await anyio.lowlevel.checkpoint()
        seen["async_query"] = query
        return CallbackResult(body="async_query")

    callbacks: dict[str, Any] = {
        "url_only": url_only,
        "json_only": json_only,
        "method_and_data": method_and_data,
        "request_only": request_only,
        "async_query": async_query,
    }
    bodies: dict[str, tuple[int, str]] = {}
    async with aiointercept() as m, httpx.AsyncClient() as client:
        for name, callback in callbacks.items():
            m.post(f"/{name}?q=1", callback=callback)
        for name in callbacks:
            response = await client.post(
                f"{m.server_url}/{name}?q=1", json={"name": name}
            )
            bodies[name] = (response.status_code, response.text)

    assert bodies == {name: (200, name) for name in callbacks}
    assert seen["url_only"] == URL(f"{m.server_url}/url_only?q=1")
    assert seen["json_only"] == {"name": "json_only"}
    assert seen["method_and_data"] == ("POST", b'{"name":"method_and_data"}')
    assert isinstance(seen["request_only"], RecordedRequest)
    assert seen["request_only"].url == URL(f"{m.server_url}/request_only?q=1")
    assert seen["async_query"] == {"q": ["1"]}


# -- CallbackResult ------------------------------------------------------------


def test_callback_result_defaults() -> None:
    result = CallbackResult()
    assert result.status == 200
    assert result.body == ""
    assert result.payload is None
    assert result.headers is None
    assert result.content_type == "application/json"
    assert result.reason is None


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_default_callback_result_on_the_wire(kind: str) -> None:
    def sync_default(url: URL, **kwargs: Any) -> CallbackResult:
        return CallbackResult()

    async def async_default(url: URL, **kwargs: Any) -> CallbackResult:
        return CallbackResult()

    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get("/default", callback=sync_default if kind == "sync" else async_default)
        response = await client.get(f"{m.server_url}/default")

    assert response.status_code == 200
    assert response.reason_phrase == "OK"
    assert response.content == b""
    assert response.headers["content-type"] == "application/json"


FIELD_CASES: list[Any] = [
    pytest.param({"status": 201}, 201, b"", {}, "Created", id="status"),
    pytest.param({"status": 404}, 404, b"", {}, "Not Found", id="status-404"),
    pytest.param(
        {"body": "h\u00e9llo \u2713"},
        200,
        "h\u00e9llo \u2713".encode(),
        {},
        "OK",
        id="body-str-utf8",
    ),
    pytest.param(
        {"body": b"\x00\x01raw\xff"}, 200, b"\x00\x01raw\xff", {}, "OK", id="body-bytes"
    ),
    pytest.param(
        {"payload": {"a": [1, 2], "b": None}},
        200,
        b'{"a": [1, 2], "b": null}',
        {"content-type": "application/json"},
        "OK",
        id="payload",
    ),
    pytest.param(
        {"body": "ignored", "payload": [1, "two"]},
        200,
        b'[1, "two"]',
        {},
        "OK",
        id="payload-overrides-body",
    ),
    pytest.param(
        {"headers": {"X-Extra": "1", "X-Other": "two words"}},
        200,
        b"",
        {"x-extra": "1", "x-other": "two words"},
        "OK",
        id="headers",
    ),
    pytest.param(
        {"body": "plain", "content_type": "text/plain; charset=utf-8"},
        200,
        b"plain",
        {"content-type": "text/plain; charset=utf-8"},
        "OK",
        id="content_type",
    ),
    pytest.param(
        {"status": 299, "reason": "Totally Fine"},
        299,
        b"",
        {},
        "Totally Fine",
        id="reason",
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("fields", "status", "content", "headers", "reason"), FIELD_CASES
)
async def test_callback_result_fields_on_the_wire(
    fields: dict[str, Any],
    status: int,
    content: bytes,
    headers: dict[str, str],
    reason: str,
) -> None:
    async def respond(url: URL, **kwargs: Any) -> CallbackResult:
        return CallbackResult(**fields)

    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get("/field", callback=respond)
        response = await client.get(f"{m.server_url}/field")

    assert response.status_code == status
    assert response.reason_phrase == reason
    assert response.content == content
    for name, value in headers.items():
        assert response.headers.get(name) == value


@pytest.mark.anyio
async def test_callback_result_headers_and_content_type_interplay() -> None:
    results = {
        "/pairs": CallbackResult(headers=[("X-A", "1"), ("X-A", "2")]),
        "/header-ctype": CallbackResult(
            body="<p>hi</p>", headers={"Content-Type": "text/html"}
        ),
        "/explicit-wins": CallbackResult(
            body="a,b", headers={"Content-Type": "text/html"}, content_type="text/csv"
        ),
    }

    def respond(url: URL) -> CallbackResult:
        return results[url.path]

    async with aiointercept() as m, httpx.AsyncClient() as client:
        for path in results:
            m.get(path, callback=respond)
        pairs = await client.get(f"{m.server_url}/pairs")
        header_ctype = await client.get(f"{m.server_url}/header-ctype")
        explicit = await client.get(f"{m.server_url}/explicit-wins")

    assert pairs.headers.get_list("x-a") == ["1", "2"]
    assert header_ctype.headers.get_list("content-type") == ["text/html"]
    assert header_ctype.text == "<p>hi</p>"
    assert explicit.headers.get_list("content-type") == ["text/csv"]
    assert explicit.text == "a,b"


@pytest.mark.parametrize(
    ("fields", "error", "match"),
    [
        pytest.param({"status": 99}, ValueError, "99", id="status-too-low"),
        pytest.param({"status": 600}, ValueError, "600", id="status-too-high"),
        pytest.param({"status": "200"}, TypeError, "'200'", id="status-str"),
        pytest.param({"status": 200.0}, TypeError, "200.0", id="status-float"),
        pytest.param({"status": None}, TypeError, "None", id="status-none"),
        pytest.param({"body": 123}, TypeError, "123", id="body-int"),
        pytest.param({"body": {"a": 1}}, TypeError, "body", id="body-dict"),
        pytest.param(
            {"payload": {1, 2}}, (TypeError, ValueError), "payload", id="payload-set"
        ),
        pytest.param({"headers": {"X-A": 1}}, TypeError, "X-A", id="header-value-int"),
        pytest.param({"headers": "X-A: 1"}, TypeError, "headers", id="headers-str"),
        pytest.param(
            {"headers": {"X-A": "a\r\nInjected: 1"}},
            ValueError,
            "X-A",
            id="header-crlf",
        ),
        pytest.param(
            {"headers": {"Bad Name": "1"}}, ValueError, "Bad Name", id="header-name"
        ),
        pytest.param({"content_type": 5}, TypeError, "content_type", id="ctype-int"),
        pytest.param({"reason": 5}, TypeError, "reason", id="reason-int"),
        pytest.param({"reason": "a\r\nb"}, ValueError, "reason", id="reason-crlf"),
    ],
)
def test_callback_result_validates_at_construction(
    fields: dict[str, Any],
    error: type[Exception] | tuple[type[Exception], ...],
    match: str,
) -> None:
    with pytest.raises(error) as excinfo:
        CallbackResult(**fields)
    assert match in str(excinfo.value)


def test_callback_result_accepts_valid_values() -> None:
    low = CallbackResult(status=100)
    high = CallbackResult(
        status=599,
        body=b"bytes",
        headers=[("X-A", "1"), ("X-A", "2")],
        content_type="text/csv",
        reason="Custom",
    )
    assert low.status == 100
    assert (high.status, high.body, high.content_type, high.reason) == (
        599,
        b"bytes",
        "text/csv",
        "Custom",
    )
    assert list(high.headers or []) == [("X-A", "1"), ("X-A", "2")]


# -- async callbacks run on the test's loop ------------------------------------


@pytest.mark.anyio
@asyncio_only
async def test_async_callback_awaits_an_asyncio_event_set_by_the_test() -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def wait_for_release(url: URL, **kwargs: Any) -> CallbackResult:
        started.set()
        await release.wait()
        return CallbackResult(body="released")

    responses: list[tuple[int, str]] = []
    async with aiointercept() as m, aiohttp.ClientSession() as session:
        m.get("/wait", callback=wait_for_release)

        async def fetch() -> None:
            async with session.get(f"{m.server_url}/wait") as response:
                responses.append((response.status, await response.text()))

        async with anyio.create_task_group() as tg:
            tg.start_soon(fetch)
            with anyio.fail_after(5):
                await started.wait()
            await asyncio.sleep(0.05)
            assert responses == []  # the request is pending on the event
            release.set()

    assert responses == [(200, "released")]


@pytest.mark.anyio
@trio_only
async def test_async_callback_awaits_trio_sleep() -> None:
    test_token = trio.lowlevel.current_trio_token()
    tokens: list[trio.lowlevel.TrioToken] = []

    async def nap(url: URL, **kwargs: Any) -> CallbackResult:
        tokens.append(trio.lowlevel.current_trio_token())
        await trio.sleep(0.05)
        return CallbackResult(body="slept")

    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get("/nap", callback=nap)
        start = trio.current_time()
        response = await client.get(f"{m.server_url}/nap")
        elapsed = trio.current_time() - start

    assert response.status_code == 200
    assert response.text == "slept"
    assert tokens == [test_token]
    assert elapsed >= 0.05


@pytest.mark.anyio
async def test_async_callback_runs_on_the_test_thread() -> None:
    test_thread = threading.get_ident()
    threads: list[int] = []

    async def where(url: URL, **kwargs: Any) -> CallbackResult:
        await anyio.sleep(0.01)
        threads.append(threading.get_ident())
        return CallbackResult(payload={"ok": True})

    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get("/where", callback=where)
        response = await client.get(f"{m.server_url}/where")

    assert response.json() == {"ok": True}
    assert threads == [test_thread]


class AsyncHandler:
    """A callable object whose ``__call__`` is a coroutine function."""

    def __init__(self) -> None:
        self.threads: list[int] = []

    async def __call__(self, url: URL, **kwargs: Any) -> CallbackResult:
        await anyio.sleep(0.01)
        self.threads.append(threading.get_ident())
        return CallbackResult(body=f"object:{url.path}:{kwargs['method']}")


@pytest.mark.anyio
async def test_callable_object_with_async_call_is_an_async_callback() -> None:
    handler = AsyncHandler()
    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.delete("/obj", callback=handler)
        response = await client.delete(f"{m.server_url}/obj")

    assert response.status_code == 200
    assert response.text == "object:/obj:DELETE"
    assert handler.threads == [threading.get_ident()]


async def _tagged(
    tag: str, threads: list[int], url: URL, **kwargs: Any
) -> CallbackResult:
    await anyio.sleep(0.01)
    threads.append(threading.get_ident())
    return CallbackResult(payload={"tag": tag, "query": kwargs["query"]})


@pytest.mark.anyio
async def test_partial_of_async_function_is_an_async_callback() -> None:
    threads: list[int] = []
    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get("/partial?x=1", callback=functools.partial(_tagged, "p1", threads))
        response = await client.get(f"{m.server_url}/partial?x=1")

    assert response.status_code == 200
    assert response.json() == {"tag": "p1", "query": {"x": ["1"]}}
    assert threads == [threading.get_ident()]


@pytest.mark.anyio
async def test_async_callback_serves_a_sync_client_in_a_worker_thread() -> None:
    async def slow(url: URL, **kwargs: Any) -> CallbackResult:
        await anyio.sleep(0.02)
        return CallbackResult(status=202, body="from the loop")

    async with aiointercept() as m:
        m.get("/slow", callback=slow)
        response = await anyio.to_thread.run_sync(
            functools.partial(requests.get, f"{m.server_url}/slow", timeout=5)
        )

    assert response.status_code == 202
    assert response.text == "from the loop"


@pytest.mark.anyio
async def test_an_async_callback_still_running_logs_what_the_request_waits_for(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING, logger="aiointercept")
    monkeypatch.setattr(internals.request_handler, "HANG_WARNING_AFTER", 0.05)
    release = anyio.Event()

    async def waits(url: URL, **_: Any) -> CallbackResult:
        await release.wait()
        return CallbackResult(body="released")

    def still_running() -> list[str]:
        return [
            r.getMessage() for r in caplog.records if "still running" in r.getMessage()
        ]

    replies: list[httpx.Response] = []
    async with (
        aiointercept(callback_start_timeout=0.05) as m,
        httpx.AsyncClient(timeout=10) as client,
        anyio.create_task_group() as tg,
    ):
        url = f"{m.server_url}/waits"
        m.get(url, callback=waits)

        async def fetch() -> None:
            replies.append(await client.get(url))

        tg.start_soon(fetch)
        with anyio.fail_after(10):
            while not still_running():
                await anyio.sleep(0.01)
        release.set()
    assert [reply.text for reply in replies] == ["released"]
    (warning,) = still_running()
    assert warning.startswith(
        f"aiointercept: the async callback for GET {url} is still running after 0.05 s"
    )
    assert "unless it returns, the client's own timeout decides" in warning
    assert "aiohttp's default total timeout is 300 s" in warning


@pytest.mark.anyio
async def test_a_long_async_callback_is_cancelled_when_its_client_gives_up() -> None:
    """Also once it has run longer than ``callback_start_timeout``."""
    started, cancelled = anyio.Event(), anyio.Event()

    async def forever(url: URL, **_: Any) -> CallbackResult:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()
        raise AssertionError("unreachable")  # pragma: no cover

    async with aiointercept(callback_start_timeout=0.05) as m:
        m.get("/forever", callback=forever)
        async with (
            httpx.AsyncClient(timeout=10) as client,
            anyio.create_task_group() as tg,
        ):
            tg.start_soon(client.get, f"{m.server_url}/forever")
            await started.wait()
            await anyio.sleep(0.2)  # past the start timeout
            tg.cancel_scope.cancel()
        with anyio.fail_after(5):
            await cancelled.wait()


# -- a test loop blocked by a synchronous client -------------------------------


@pytest.mark.anyio
async def test_sync_callback_and_static_route_served_while_loop_is_blocked() -> None:
    calls: list[str] = []

    def sync_callback(url: URL, *, query: dict[str, list[str]]) -> CallbackResult:
        calls.append(query["n"][0])
        return CallbackResult(payload={"n": query["n"][0]})

    async with aiointercept() as m:
        m.get("/static", body="static body", repeat=True)
        m.get(re.compile(r".*/sync\?n=\d$"), callback=sync_callback, repeat=True)
        # Blocking calls on purpose: the test's loop is blocked while they run.
        static = requests.get(f"{m.server_url}/static", timeout=5)  # noqa: ASYNC210
        first = requests.get(f"{m.server_url}/sync?n=1", timeout=5)  # noqa: ASYNC210
        second = requests.get(f"{m.server_url}/sync?n=2", timeout=5)  # noqa: ASYNC210

    assert (static.status_code, static.text) == (200, "static body")
    assert (first.status_code, first.json()) == (200, {"n": "1"})
    assert (second.status_code, second.json()) == (200, {"n": "2"})
    assert calls == ["1", "2"]


@pytest.mark.anyio
async def test_async_callback_gets_503_when_the_loop_is_blocked() -> None:
    ran: list[str] = []

    async def never(url: URL, *, query: dict[str, list[str]]) -> CallbackResult:
        ran.append(query["n"][0])
        return CallbackResult(body="ran")

    async with aiointercept(callback_start_timeout=0.2) as m:
        m.get(re.compile(r".*/async\?n=\d$"), callback=never, repeat=True)
        start = time.monotonic()
        blocked = requests.get(f"{m.server_url}/async?n=1", timeout=5)  # noqa: ASYNC210
        elapsed = time.monotonic() - start
        # Give the loop plenty of chances to run anything that was scheduled.
        for _ in range(5):
            await anyio.sleep(0.02)
        ran_after_blocked = list(ran)
        # With the loop free again, the same route works.
        async with httpx.AsyncClient() as client:
            free = await client.get(f"{m.server_url}/async?n=2")
        records = m.requests[("GET", URL(f"{m.server_url}/async?n=1"))]

    assert blocked.status_code == 503
    assert "blocked" in blocked.text
    assert "0.2" in blocked.text
    # why it waited, and what would have answered at once
    assert "it cannot tell which thread sent a request" in blocked.text
    assert "with mock_external_urls=True, a request that requests," in blocked.text
    assert 0.19 <= elapsed < 4
    assert ran_after_blocked == []
    assert (free.status_code, free.text) == (200, "ran")
    assert ran == ["2"]
    assert len(records) == 1


# -- failing callbacks ---------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_callback_that_raises_answers_500_and_the_block_raises(
    kind: str,
) -> None:
    raised: list[Boom] = []

    def sync_fail(url: URL, **kwargs: Any) -> CallbackResult:
        error = Boom("boom-4242")
        raised.append(error)
        raise error

    async def async_fail(url: URL, **kwargs: Any) -> CallbackResult:
        await anyio.lowlevel.checkpoint()
        error = Boom("boom-4242")
        raised.append(error)
        raise error

    m = aiointercept()
    responses: list[httpx.Response] = []

    async def block() -> None:
        async with m, httpx.AsyncClient() as client:
            callback = sync_fail if kind == "sync" else async_fail
            m.post("/fail", callback=callback, repeat=True)
            responses.append(await client.post(f"{m.server_url}/fail", json={"x": 1}))
            # The block goes on normally after the 500.
            responses.append(await client.post(f"{m.server_url}/fail", json={"x": 2}))

    with pytest.raises(CallbackError) as excinfo:
        await block()

    assert [r.status_code for r in responses] == [500, 500]
    assert "Boom" in responses[0].text
    assert "boom-4242" in responses[0].text
    error = excinfo.value
    assert isinstance(error, AiointerceptError)
    assert len(raised) == 2
    assert error.__cause__ is raised[0]
    assert isinstance(error.request, RecordedRequest)
    assert error.request.method == "POST"
    assert error.request.url == URL(f"{m.server_url}/fail")
    assert error.request.kwargs["json"] == {"x": 1}
    assert "boom-4242" in str(error)


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize(
    "returned",
    [
        pytest.param({"status": 200, "body": "x"}, id="dict"),
        pytest.param("text", id="str"),
    ],
)
async def test_callback_returning_something_else_answers_500_and_the_block_raises(
    kind: str, returned: object
) -> None:
    def sync_wrong(url: URL, **kwargs: Any) -> Any:
        return returned

    async def async_wrong(url: URL, **kwargs: Any) -> Any:
        return returned

    m = aiointercept()
    responses: list[httpx.Response] = []

    async def block() -> None:
        async with m, httpx.AsyncClient() as client:
            m.get("/wrong", callback=sync_wrong if kind == "sync" else async_wrong)
            responses.append(await client.get(f"{m.server_url}/wrong"))

    with pytest.raises(CallbackError) as excinfo:
        await block()

    assert responses[0].status_code == 500
    assert "CallbackResult" in responses[0].text
    assert excinfo.value.request.url == URL(f"{m.server_url}/wrong")
    assert excinfo.value.request.method == "GET"


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_block_exception_propagates_unchanged_over_a_callback_error(
    kind: str,
) -> None:
    def sync_fail(url: URL, **kwargs: Any) -> CallbackResult:
        raise Boom("callback failure")

    async def async_fail(url: URL, **kwargs: Any) -> CallbackResult:
        raise Boom("callback failure")

    mine = BlockError("the block's own error")
    statuses: list[int] = []

    async def block() -> None:
        async with aiointercept() as m, httpx.AsyncClient() as client:
            m.get("/fail", callback=sync_fail if kind == "sync" else async_fail)
            statuses.append((await client.get(f"{m.server_url}/fail")).status_code)
            raise mine

    with pytest.raises(BlockError) as excinfo:
        await block()

    assert statuses == [500]
    assert excinfo.value is mine
    assert excinfo.value.args == ("the block's own error",)
    assert excinfo.value.__cause__ is None


@pytest.mark.anyio
async def test_first_failing_callback_is_the_one_raised() -> None:
    def fail_first(url: URL, **kwargs: Any) -> CallbackResult:
        raise Boom("first failure")

    def fail_second(url: URL, **kwargs: Any) -> CallbackResult:
        raise Boom("second failure")

    m = aiointercept()
    statuses: list[int] = []

    async def block() -> None:
        async with m, httpx.AsyncClient() as client:
            m.get("/first", callback=fail_first)
            m.get("/second", callback=fail_second)
            statuses.append((await client.get(f"{m.server_url}/first")).status_code)
            statuses.append((await client.get(f"{m.server_url}/second")).status_code)

    with pytest.raises(CallbackError) as excinfo:
        await block()

    assert statuses == [500, 500]
    assert excinfo.value.request.url == URL(f"{m.server_url}/first")
    assert isinstance(excinfo.value.__cause__, Boom)
    assert excinfo.value.__cause__.args == ("first failure",)


@pytest.mark.anyio
async def test_a_successful_callback_raises_nothing_at_exit() -> None:
    def fine(url: URL, **kwargs: Any) -> CallbackResult:
        return CallbackResult(status=204)

    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get("/fine", callback=fine, repeat=2)
        responses = [await client.get(f"{m.server_url}/fine") for _ in range(2)]

    assert [r.status_code for r in responses] == [204, 204]


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_failing_callback_leaves_no_unretrieved_exception_behind(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The failure is reported once (500 + CallbackError), not also as an asyncio
    "exception was never retrieved" error from a future or task left behind."""
    gc.collect()  # what earlier tests left is not this test's business
    caplog.set_level(logging.ERROR)
    caplog.clear()

    def sync_fail(url: URL, **kwargs: Any) -> CallbackResult:
        raise Boom("reported once")

    async def async_fail(url: URL, **kwargs: Any) -> CallbackResult:
        raise Boom("reported once")

    statuses: list[int] = []

    async def block() -> None:
        async with aiointercept() as m, httpx.AsyncClient() as client:
            m.get("/fail", callback=sync_fail if kind == "sync" else async_fail)
            statuses.append((await client.get(f"{m.server_url}/fail")).status_code)

    with pytest.raises(CallbackError):
        await block()
    gc.collect()

    assert statuses == [500]
    leaked = [
        record.getMessage()
        for record in caplog.records
        if record.name == "asyncio" or "never retrieved" in record.getMessage()
    ]
    assert leaked == []


@pytest.mark.anyio
async def test_callback_result_headers_from_a_generator_reach_the_wire() -> None:
    def callback(url: URL, **kwargs: Any) -> CallbackResult:
        pairs = ((f"X-{n}", str(n)) for n in range(2))
        return CallbackResult(headers=pairs)

    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get("/gen", callback=callback)
        response = await client.get(f"{m.server_url}/gen")
    assert (response.headers["X-0"], response.headers["X-1"]) == ("0", "1")
