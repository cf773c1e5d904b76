"""delay= and faults: slow answers, broken connections and what clients see.

Each fault is checked through aiohttp (asyncio) and httpx (asyncio and trio) by
what the client really gets: an exception at the request (no response at all)
or a status and headers followed by an exception while reading the body.

aiohttp would send an idempotent request (GET...) once more when its
connection is closed without an answer; against the mock it does not, so the
n-th request to a route gets the n-th response whatever the client, its
headers, its pool and the method ("Faults are deterministic" below).

Every aiohttp connection of this module is checked to stay on loopback and no
host name is resolved (:func:`tests.support.aiohttp_guard.guarded`).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import aiohttp
import anyio
import anyio.lowlevel
import anyio.to_thread
import httpx
import pytest
import requests
from yarl import URL

from aiointercept import CallbackResult, Fault, aiointercept
from tests.support import internals
from tests.support.aiohttp_guard import guarded
from tests.support.backends import asyncio_only

#: A bound on every request that is not meant to time out, so that a broken
#: library makes a test fail instead of hang.
BOUND = 10.0
#: The client timeout of the requests that are meant to time out.
SHORT = 0.3

BODY = b'{"message": "the full body", "padding": "' + b"x" * 200 + b'"}'

ALL_FAULTS = [
    "reset",
    "close",
    "close_after_headers",
    "short_body",
    "hang",
    "malformed_status",
]


@pytest.fixture(autouse=True)
def guard_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """No aiohttp connection leaves the machine, no name is resolved for real."""
    yield from guarded(monkeypatch)


def fault_forms() -> list[Any]:
    """Every fault, as the enum member and as its string value."""
    params = []
    for fault in Fault:
        params.append(pytest.param(fault, id=f"{fault.value}-enum"))
        params.append(pytest.param(fault.value, id=f"{fault.value}-str"))
    return params


# -- what a client saw -------------------------------------------------------------


@dataclass
class Seen:
    """What one request got: ``stage`` is "response" when no response arrived
    (the request raised), "body" when status and headers arrived and reading the
    body raised, "ok" when the whole response arrived."""

    stage: str
    error: BaseException | None = None
    status: int | None = None
    headers: Mapping[str, str] | None = None
    body: bytes | None = None

    def signature(self) -> tuple[str, type[BaseException] | None, int | None]:
        error = None if self.error is None else type(self.error)
        return (self.stage, error, self.status)


async def aiohttp_sees(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    timeout: float = BOUND,
    **kwargs: Any,
) -> Seen:
    try:
        async with session.request(
            method, url, timeout=aiohttp.ClientTimeout(total=timeout), **kwargs
        ) as resp:
            status, headers = resp.status, dict(resp.headers)
            try:
                body = await resp.read()
            except Exception as exc:
                return Seen("body", exc, status, headers)
            return Seen("ok", None, status, headers, body)
    except Exception as exc:
        return Seen("response", exc)


async def httpx_sees(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    timeout: float = BOUND,
    **kwargs: Any,
) -> Seen:
    try:
        async with client.stream(method, url, timeout=timeout, **kwargs) as resp:
            status, headers = resp.status_code, dict(resp.headers)
            try:
                body = await resp.aread()
            except httpx.HTTPError as exc:
                return Seen("body", exc, status, headers)
            return Seen("ok", None, status, headers, body)
    except httpx.HTTPError as exc:
        return Seen("response", exc)


def timeout_for(fault: Fault | str) -> float:
    return SHORT if Fault(fault) is Fault.HANG else BOUND


def check_aiohttp(fault: Fault | str, seen: Seen) -> None:
    """What aiohttp raises for each fault (when the route was registered with
    status=201, BODY and an X-Fault header)."""
    fault = Fault(fault)
    error = seen.error
    if fault is Fault.RESET:
        assert seen.stage == "response", seen
        assert isinstance(error, aiohttp.ClientOSError), seen
        assert not isinstance(error, aiohttp.ServerDisconnectedError), seen
        assert error.errno == errno.ECONNRESET, seen
    elif fault is Fault.CLOSE:
        assert seen.stage == "response", seen
        assert type(error) is aiohttp.ServerDisconnectedError, seen
    elif fault in (Fault.CLOSE_AFTER_HEADERS, Fault.SHORT_BODY):
        assert seen.stage == "body", seen
        assert type(error) is aiohttp.ClientPayloadError, seen
        assert seen.status == 201
        assert seen.headers is not None
        assert seen.headers["X-Fault"] == "yes"
        assert seen.headers["Content-Length"] == str(len(BODY))
    elif fault is Fault.HANG:
        assert seen.stage == "response", seen
        assert isinstance(error, asyncio.TimeoutError), seen
    else:
        assert fault is Fault.MALFORMED_STATUS
        assert seen.stage == "response", seen
        assert type(error) is aiohttp.ClientResponseError, seen


def check_httpx(fault: Fault | str, seen: Seen) -> None:
    """What httpx raises for each fault (registered as for check_aiohttp)."""
    fault = Fault(fault)
    error = seen.error
    if fault is Fault.RESET:
        assert seen.stage == "response", seen
        assert type(error) is httpx.ReadError, seen
    elif fault is Fault.CLOSE:
        assert seen.stage == "response", seen
        assert type(error) is httpx.RemoteProtocolError, seen
        assert "without sending a response" in str(error)
    elif fault in (Fault.CLOSE_AFTER_HEADERS, Fault.SHORT_BODY):
        assert seen.stage == "body", seen
        assert type(error) is httpx.RemoteProtocolError, seen
        assert seen.status == 201
        assert seen.headers is not None
        assert seen.headers["x-fault"] == "yes"
        assert seen.headers["content-length"] == str(len(BODY))
    elif fault is Fault.HANG:
        assert seen.stage == "response", seen
        assert type(error) is httpx.ReadTimeout, seen
    else:
        assert fault is Fault.MALFORMED_STATUS
        assert seen.stage == "response", seen
        assert type(error) is httpx.RemoteProtocolError, seen
        assert "without sending a response" not in str(error)


async def wait_recorded(m: aiointercept, method: str, url: str, count: int = 1) -> None:
    """Wait (bounded) until the server has recorded ``count`` such requests."""
    with anyio.fail_after(BOUND):
        while len(m.requests.get((method, URL(url))) or []) < count:
            await anyio.sleep(0.01)


# == delay =========================================================================


@pytest.mark.anyio
@asyncio_only
@pytest.mark.parametrize("where", ["add", "callback"])
async def test_delay_makes_an_aiohttp_total_timeout_expire(where: str) -> None:
    async with aiointercept() as m, aiohttp.ClientSession() as session:
        url = f"{m.server_url}/slow"
        if where == "add":
            m.get(url, body="late", delay=2)
        else:
            m.get(url, callback=lambda u, **kw: CallbackResult(body="late", delay=2))
        with pytest.raises(asyncio.TimeoutError):
            await session.get(url, timeout=aiohttp.ClientTimeout(total=0.2))
    # recorded although the client gave up
    assert len(m.requests[("GET", URL(url))]) == 1


@pytest.mark.anyio
@asyncio_only
async def test_delay_makes_an_aiohttp_sock_read_timeout_expire() -> None:
    async with aiointercept() as m, aiohttp.ClientSession() as session:
        m.post("/slow", body="late", delay=2)
        with pytest.raises(aiohttp.ServerTimeoutError):
            await session.post(
                f"{m.server_url}/slow",
                data=b"sent",
                timeout=aiohttp.ClientTimeout(sock_read=0.2),
            )
    (recorded,) = m.requests[("POST", URL(f"{m.server_url}/slow"))]
    assert recorded.captured_body == b"sent"


@pytest.mark.anyio
@pytest.mark.parametrize("where", ["add", "callback"])
async def test_delay_makes_an_httpx_timeout_expire(where: str) -> None:
    async def slow(url: URL, **kwargs: Any) -> CallbackResult:
        return CallbackResult(body="late", delay=2)

    async with aiointercept() as m, httpx.AsyncClient(timeout=0.2) as client:
        url = f"{m.server_url}/slow"
        if where == "add":
            m.get(url, body="late", delay=2)
        else:
            m.get(url, callback=slow)
        with pytest.raises(httpx.ReadTimeout):
            await client.get(url)
        # recorded although the client gave up
        assert len(m.requests[("GET", URL(url))]) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("where", ["add", "sync-callback", "async-callback"])
async def test_small_delay_still_answers_after_at_least_the_delay(where: str) -> None:
    def sync_callback(url: URL, **kwargs: Any) -> CallbackResult:
        return CallbackResult(status=201, body="worth the wait", delay=0.2)

    async def async_callback(url: URL, **kwargs: Any) -> CallbackResult:
        return sync_callback(url)

    async with aiointercept() as m, httpx.AsyncClient(timeout=BOUND) as client:
        if where == "add":
            m.get("/slow", status=201, body="worth the wait", delay=0.2)
        else:
            callback = sync_callback if where == "sync-callback" else async_callback
            m.get("/slow", callback=callback)
        started = time.monotonic()
        response = await client.get(f"{m.server_url}/slow")
        elapsed = time.monotonic() - started
    assert response.status_code == 201
    assert response.text == "worth the wait"
    # a lower bound (10 ms of slack for the timers' resolution) and a generous
    # upper one
    assert 0.19 <= elapsed < 5


@pytest.mark.anyio
@asyncio_only
async def test_small_delay_with_aiohttp() -> None:
    async with aiointercept() as m, aiohttp.ClientSession() as session:
        m.get("/slow", payload={"ok": True}, delay=0.2)
        started = time.monotonic()
        async with session.get(
            f"{m.server_url}/slow", timeout=aiohttp.ClientTimeout(total=BOUND)
        ) as resp:
            assert resp.status == 200
            assert await resp.json() == {"ok": True}
        elapsed = time.monotonic() - started
    assert 0.19 <= elapsed < 5


@pytest.mark.anyio
async def test_delay_does_not_hold_back_other_requests() -> None:
    """A fast route requested while a slow one is being held answers first."""
    finished: list[str] = []
    answers: dict[str, str] = {}
    async with aiointercept() as m, httpx.AsyncClient(timeout=BOUND) as client:
        m.get("/slow", body="slow answer", delay=2)
        m.get("/fast", body="fast answer")

        async def fetch(name: str) -> None:
            response = await client.get(f"{m.server_url}/{name}")
            answers[name] = response.text
            finished.append(name)

        async with anyio.create_task_group() as tg:
            tg.start_soon(fetch, "slow")
            # the slow request has reached the server (it is recorded before
            # the delay) when the fast one is sent
            await wait_recorded(m, "GET", f"{m.server_url}/slow")
            await fetch("fast")
            assert finished == ["fast"]
    assert finished == ["fast", "slow"]
    assert answers == {"fast": "fast answer", "slow": "slow answer"}


@pytest.mark.anyio
@asyncio_only
async def test_delay_does_not_hold_back_other_requests_aiohttp() -> None:
    finished: list[str] = []
    async with aiointercept() as m, aiohttp.ClientSession() as session:
        m.get("/slow", body="slow answer", delay=2)
        m.get("/fast", body="fast answer")

        async def fetch(name: str) -> None:
            async with session.get(
                f"{m.server_url}/{name}", timeout=aiohttp.ClientTimeout(total=BOUND)
            ) as resp:
                assert await resp.text() == f"{name} answer"
            finished.append(name)

        async with anyio.create_task_group() as tg:
            tg.start_soon(fetch, "slow")
            await wait_recorded(m, "GET", f"{m.server_url}/slow")
            await fetch("fast")
            assert finished == ["fast"]
    assert finished == ["fast", "slow"]


@pytest.mark.anyio
async def test_delayed_requests_are_served_concurrently() -> None:
    """Three requests to a delayed route all reach the server before any answer
    comes back (the delay leaves them 1.5 s to do so)."""
    recorded_when_answered: list[int] = []
    async with aiointercept() as m, httpx.AsyncClient(timeout=BOUND) as client:
        url = f"{m.server_url}/slow"
        m.get("/slow", body="slow", delay=1.5, repeat=True)

        async def fetch() -> None:
            response = await client.get(url)
            assert response.text == "slow"
            recorded_when_answered.append(len(m.requests[("GET", URL(url))]))

        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(fetch)
    assert recorded_when_answered == [3, 3, 3]


@pytest.mark.parametrize(
    "delay",
    [
        pytest.param(-1, id="negative"),
        pytest.param(-0.5, id="negative-float"),
        pytest.param("1", id="str"),
        pytest.param(True, id="bool"),
        pytest.param(float("nan"), id="nan"),
        pytest.param(float("inf"), id="inf"),
    ],
)
def test_bad_delay_is_rejected_at_registration(delay: Any) -> None:
    m = aiointercept()
    with pytest.raises((TypeError, ValueError)) as excinfo:
        m.get("http://127.0.0.1:1/x", delay=delay)
    assert "delay" in str(excinfo.value)
    assert repr(delay) in str(excinfo.value)
    with pytest.raises((TypeError, ValueError)) as excinfo:
        CallbackResult(delay=delay)
    assert "delay" in str(excinfo.value)
    assert repr(delay) in str(excinfo.value)


@pytest.mark.parametrize(
    "delay", [-1, -0.001, float("nan"), float("inf"), float("-inf")]
)
def test_out_of_range_delay_is_a_value_error(delay: float) -> None:
    m = aiointercept()
    with pytest.raises(ValueError, match="delay"):
        m.get("http://127.0.0.1:1/x", delay=delay)
    with pytest.raises(ValueError, match="delay"):
        CallbackResult(delay=delay)


@pytest.mark.parametrize("delay", [0, 0.0, 1, 2.5])
def test_good_delays_are_accepted(delay: float) -> None:
    with aiointercept() as m:
        m.get("/x", delay=delay)
    CallbackResult(delay=delay)


def test_delay_cannot_be_passed_positionally() -> None:
    """The new add() parameters are keyword-only."""
    m = aiointercept()
    # url, method, status, body, json, payload, headers, content_type, repeat,
    # callback, reason, exception: twelve positional parameters, then one more
    args: list[Any] = ["http://127.0.0.1:1/x", "GET", 200, b"", None, None]
    args += [None, None, False, None, None, None, 1]
    with pytest.raises(TypeError):
        m.add(*args)


# == faults: the enum ================================================================


def test_fault_members_and_values() -> None:
    assert len(Fault) == len(ALL_FAULTS)
    assert {f.value for f in Fault} == set(ALL_FAULTS)
    assert issubclass(Fault, str)
    for value in ALL_FAULTS:
        assert Fault(value).value == value
        assert Fault(value) == value
    assert cast(str, Fault.RESET) == "reset"
    assert cast(str, Fault.MALFORMED_STATUS) == "malformed_status"


# == faults: what the clients see ===================================================


@pytest.mark.anyio
@asyncio_only
@pytest.mark.parametrize("fault", fault_forms())
async def test_fault_seen_by_aiohttp(fault: Fault | str) -> None:
    async with aiointercept() as m, aiohttp.ClientSession() as session:
        url = f"{m.server_url}/fault"
        m.post(url, fault=fault, status=201, body=BODY, headers={"X-Fault": "yes"})
        m.post(url, body="recovered")
        started = time.monotonic()
        seen = await aiohttp_sees(
            session, "POST", url, data=b"request body", timeout=timeout_for(fault)
        )
        check_aiohttp(fault, seen)
        assert time.monotonic() - started < 5
        # the next request is answered normally
        after = await aiohttp_sees(session, "POST", url, data=b"again")
        assert (after.stage, after.status, after.body) == ("ok", 200, b"recovered")
    records = m.requests[("POST", URL(url))]
    assert [r.captured_body for r in records] == [b"request body", b"again"]


@pytest.mark.anyio
@asyncio_only
@pytest.mark.parametrize("fault", fault_forms())
async def test_fault_seen_by_aiohttp_get(fault: Fault | str) -> None:
    """GET, which aiohttp would resend after a close or a reset: the client sees
    the very fault, and the server got one request."""
    async with aiointercept() as m, aiohttp.ClientSession() as session:
        url = f"{m.server_url}/fault"
        m.get(url, fault=fault, status=201, body=BODY, headers={"X-Fault": "yes"})
        seen = await aiohttp_sees(session, "GET", url, timeout=timeout_for(fault))
        check_aiohttp(fault, seen)
    assert len(m.requests[("GET", URL(url))]) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("fault", fault_forms())
async def test_fault_seen_by_httpx(fault: Fault | str) -> None:
    async with aiointercept() as m, httpx.AsyncClient() as client:
        url = f"{m.server_url}/fault"
        m.get(url, fault=fault, status=201, body=BODY, headers={"X-Fault": "yes"})
        m.get(url, body="recovered")
        started = time.monotonic()
        seen = await httpx_sees(client, "GET", url, timeout=timeout_for(fault))
        check_httpx(fault, seen)
        assert time.monotonic() - started < 5
        after = await httpx_sees(client, "GET", url)
        assert (after.stage, after.status, after.body) == ("ok", 200, b"recovered")
    assert len(m.requests[("GET", URL(url))]) == 2


async def raw_bytes_until_error(
    client: httpx.AsyncClient, url: str
) -> tuple[httpx.Response, bytes, BaseException | None]:
    """The response, the body bytes that arrived and what reading them raised."""
    received: list[bytes] = []
    async with client.stream("GET", url) as resp:
        try:
            async for data in resp.aiter_raw():
                received.append(data)
        except httpx.HTTPError as exc:
            return resp, b"".join(received), exc
    return resp, b"".join(received), None


@pytest.mark.anyio
async def test_close_after_headers_sends_no_body_byte() -> None:
    async with aiointercept() as m, httpx.AsyncClient(timeout=BOUND) as client:
        m.get("/f", fault="close_after_headers", status=503, body=BODY)
        resp, received, error = await raw_bytes_until_error(client, f"{m.server_url}/f")
    assert resp.status_code == 503
    assert resp.headers["content-length"] == str(len(BODY))
    assert type(error) is httpx.RemoteProtocolError
    assert received == b""


@pytest.mark.anyio
async def test_short_body_sends_half_of_the_body() -> None:
    async with aiointercept() as m, httpx.AsyncClient(timeout=BOUND) as client:
        m.get("/f", fault=Fault.SHORT_BODY, body=BODY, content_type="text/plain")
        resp, received, error = await raw_bytes_until_error(client, f"{m.server_url}/f")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/plain"
    assert resp.headers["content-length"] == str(len(BODY))
    assert type(error) is httpx.RemoteProtocolError
    assert received == BODY[: len(received)]
    assert len(received) in (len(BODY) // 2, (len(BODY) + 1) // 2)


@pytest.mark.anyio
@asyncio_only
async def test_short_body_with_aiohttp_iterating_the_content() -> None:
    async with aiointercept() as m, aiohttp.ClientSession() as session:
        m.post("/f", fault="short_body", body=BODY)
        async with session.post(
            f"{m.server_url}/f", timeout=aiohttp.ClientTimeout(total=BOUND)
        ) as resp:
            assert resp.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                async for _ in resp.content.iter_chunked(16):
                    pass


@pytest.mark.anyio
async def test_hang_times_out_and_the_block_exits_quickly() -> None:
    async with aiointercept() as m:
        m.get("/hang", fault=Fault.HANG)
        async with httpx.AsyncClient(timeout=SHORT) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get(f"{m.server_url}/hang")
        gave_up = time.monotonic()
    assert time.monotonic() - gave_up < 3
    assert len(m.requests[("GET", URL(f"{m.server_url}/hang"))]) == 1


@pytest.mark.anyio
@asyncio_only
async def test_hang_times_out_aiohttp_and_the_block_exits_quickly() -> None:
    async with aiointercept() as m:
        m.get("/hang", fault="hang")
        async with aiohttp.ClientSession() as session:
            with pytest.raises(asyncio.TimeoutError):
                await session.get(
                    f"{m.server_url}/hang", timeout=aiohttp.ClientTimeout(total=SHORT)
                )
        gave_up = time.monotonic()
    assert time.monotonic() - gave_up < 3
    assert len(m.requests[("GET", URL(f"{m.server_url}/hang"))]) == 1


@pytest.mark.anyio
async def test_hang_ends_when_the_block_ends() -> None:
    """A client that waits longer than the block lasts sees the connection
    closed when the block ends, not its own timeout."""
    outcome: list[Seen] = []
    started = time.monotonic()
    async with httpx.AsyncClient() as client, anyio.create_task_group() as tg:
        async with aiointercept() as m:
            url = f"{m.server_url}/hang"
            m.get(url, fault="hang")

            async def fetch() -> None:
                outcome.append(await httpx_sees(client, "GET", url, timeout=30))

            tg.start_soon(fetch)
            await wait_recorded(m, "GET", url)
            assert outcome == []
        with anyio.fail_after(5):
            while not outcome:
                await anyio.sleep(0.01)
    (seen,) = outcome
    assert seen.stage == "response", seen
    assert isinstance(seen.error, httpx.TransportError), seen
    assert not isinstance(seen.error, httpx.TimeoutException), seen
    assert time.monotonic() - started < 10


# == a hang says what it waits for ==================================================


def warnings_about(caplog: pytest.LogCaptureFixture, words: str) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and words in record.getMessage()
    ]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "registration",
    [{"fault": "hang"}, {"exception": asyncio.TimeoutError()}],
    ids=["fault=hang", "exception=TimeoutError()"],
)
async def test_a_hanging_request_logs_what_it_waits_for_and_the_fix(
    registration: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.WARNING, logger="aiointercept")
    monkeypatch.setattr(internals.request_handler, "HANG_WARNING_AFTER", 0.05)
    async with (
        aiointercept() as m,
        httpx.AsyncClient(timeout=BOUND) as client,
        anyio.create_task_group() as tg,
    ):
        url = f"{m.server_url}/hang"
        m.get(url, **registration)
        tg.start_soon(client.get, url)
        with anyio.fail_after(BOUND):
            while not warnings_about(caplog, "hanging"):
                await anyio.sleep(0.01)
        tg.cancel_scope.cancel()  # the client gives up
    (warning,) = warnings_about(caplog, "hanging")
    assert warning.startswith(f"aiointercept: GET {url} has been hanging for 0.05 s")
    assert 'fault="hang", or an exception= that is a timeout' in warning
    assert "the client's own timeout decides when the request ends" in warning
    assert "aiohttp's default total timeout is 300 s" in warning
    assert "aiohttp.ClientTimeout(total=1), or timeout=1 for httpx" in warning


@pytest.mark.anyio
async def test_requests_that_do_not_hang_schedule_no_warning(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a request that waits has a timer: with no delay at all before the
    warning, the others still log none."""
    caplog.set_level(logging.WARNING, logger="aiointercept")
    monkeypatch.setattr(internals.request_handler, "HANG_WARNING_AFTER", 0)

    async def quick(url: URL, **_: Any) -> CallbackResult:
        return CallbackResult(body="quick")

    async with aiointercept() as m, httpx.AsyncClient(timeout=BOUND) as client:
        m.get("/static", body="static", repeat=True)
        m.get("/callback", callback=quick, repeat=True)
        m.get("/delayed", body="delayed", delay=0.05)
        for _ in range(3):
            assert (await client.get(f"{m.server_url}/static")).text == "static"
            assert (await client.get(f"{m.server_url}/callback")).text == "quick"
        assert (await client.get(f"{m.server_url}/delayed")).text == "delayed"
    assert [r.getMessage() for r in caplog.records] == []


# == faults: recording, repeat, callbacks ============================================


@pytest.mark.anyio
async def test_fault_with_repeat() -> None:
    async with aiointercept() as m, httpx.AsyncClient(timeout=BOUND) as client:
        url = f"{m.server_url}/flaky"
        route = m.get(url, fault=Fault.RESET, repeat=3)
        m.get(url, body="up again")
        for _ in range(3):
            with pytest.raises(httpx.ReadError):
                await client.get(url)
        response = await client.get(url)
    assert response.text == "up again"
    assert len(m.requests[("GET", URL(url))]) == 4
    assert route.call_count == 3


@pytest.mark.anyio
async def test_fault_with_repeat_true_faults_every_time() -> None:
    async with aiointercept() as m, httpx.AsyncClient(timeout=BOUND) as client:
        url = f"{m.server_url}/down"
        m.post(url, fault="close", repeat=True)
        for n in range(5):
            with pytest.raises(httpx.RemoteProtocolError):
                await client.post(url, content=f"attempt {n}".encode())
    records = m.requests[("POST", URL(url))]
    assert [r.captured_body for r in records] == [
        f"attempt {n}".encode() for n in range(5)
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("fault", fault_forms())
async def test_fault_from_a_callback(kind: str, fault: Fault | str) -> None:
    calls: list[URL] = []

    def sync_callback(url: URL, **kwargs: Any) -> CallbackResult:
        calls.append(url)
        return CallbackResult(
            status=201,
            body=BODY,
            headers={"X-Fault": "yes"},
            content_type="application/json",
            fault=fault,
        )

    async def async_callback(url: URL, **kwargs: Any) -> CallbackResult:
        await anyio.lowlevel.checkpoint()
        return sync_callback(url)

    async with aiointercept() as m, httpx.AsyncClient() as client:
        url = f"{m.server_url}/cb"
        m.get(url, callback=sync_callback if kind == "sync" else async_callback)
        seen = await httpx_sees(client, "GET", url, timeout=timeout_for(fault))
    check_httpx(fault, seen)
    assert calls == [URL(url)]
    assert len(m.requests[("GET", URL(url))]) == 1


@pytest.mark.anyio
@asyncio_only
async def test_callback_chooses_the_fault_per_request() -> None:
    faults = iter([Fault.RESET, None, "close_after_headers"])

    def callback(url: URL, **kwargs: Any) -> CallbackResult:
        return CallbackResult(status=202, body=BODY, fault=next(faults))

    async with aiointercept() as m, aiohttp.ClientSession() as session:
        url = f"{m.server_url}/cb"
        m.post(url, callback=callback, repeat=True)
        first = await aiohttp_sees(session, "POST", url)
        second = await aiohttp_sees(session, "POST", url)
        third = await aiohttp_sees(session, "POST", url)
    assert isinstance(first.error, aiohttp.ClientOSError), first
    assert (second.stage, second.status, second.body) == ("ok", 202, BODY)
    assert third.stage == "body", third
    assert third.status == 202
    assert isinstance(third.error, aiohttp.ClientPayloadError), third


@pytest.mark.parametrize("fault", ["explode", "timeout", "short-body"])
def test_unknown_fault_string_is_a_value_error(fault: str) -> None:
    m = aiointercept()
    with pytest.raises(ValueError, match=re.escape(fault)):
        m.get("http://127.0.0.1:1/x", fault=fault)
    with pytest.raises(ValueError, match=re.escape(fault)):
        CallbackResult(fault=fault)


@pytest.mark.parametrize("fault", [42, b"reset", ["reset"]])
def test_fault_of_another_type_is_rejected(fault: Any) -> None:
    m = aiointercept()
    with pytest.raises((TypeError, ValueError), match="fault"):
        m.get("http://127.0.0.1:1/x", fault=fault)
    with pytest.raises((TypeError, ValueError), match="fault"):
        CallbackResult(fault=fault)


def _callback(url: URL, **kwargs: Any) -> CallbackResult:
    return CallbackResult()


@pytest.mark.parametrize("fault", [Fault.RESET, "hang"])
def test_fault_with_callback_is_a_type_error(fault: Fault | str) -> None:
    m = aiointercept()
    with pytest.raises(TypeError, match="fault"):
        m.get("http://127.0.0.1:1/x", fault=fault, callback=_callback)


@pytest.mark.parametrize("exception", [True, ConnectionResetError(), ValueError("x")])
def test_fault_with_exception_is_a_type_error(exception: object) -> None:
    m = aiointercept()
    with pytest.raises(TypeError, match="fault"):
        m.get("http://127.0.0.1:1/x", fault="close", exception=exception)


@pytest.mark.anyio
async def test_rejected_fault_registers_nothing() -> None:
    async with aiointercept() as m, httpx.AsyncClient(timeout=BOUND) as client:
        with pytest.raises(ValueError, match="explode"):
            m.get("/x", fault="explode")
        with pytest.raises(TypeError):
            m.get("/x", fault="reset", callback=_callback)
        m.get("/x", body="the only route")
        response = await client.get(f"{m.server_url}/x")
    assert response.text == "the only route"


@pytest.mark.anyio
async def test_fault_none_is_a_normal_response() -> None:
    async with aiointercept() as m, httpx.AsyncClient(timeout=BOUND) as client:
        m.get("/x", body="fine", fault=None)
        response = await client.get(f"{m.server_url}/x")
    assert response.text == "fine"


# == exception= maps to a fault ======================================================


class MyReset(ConnectionResetError):
    pass


EXCEPTION_FAULTS = [
    pytest.param(ConnectionResetError(), Fault.RESET, id="ConnectionResetError()"),
    pytest.param(ConnectionResetError, Fault.RESET, id="ConnectionResetError-class"),
    pytest.param(MyReset("sub"), Fault.RESET, id="subclass-of-reset"),
    pytest.param(TimeoutError(), Fault.HANG, id="TimeoutError()"),
    pytest.param(asyncio.TimeoutError, Fault.HANG, id="asyncio.TimeoutError-class"),
    pytest.param(aiohttp.ServerTimeoutError(), Fault.HANG, id="ServerTimeoutError()"),
    pytest.param(httpx.ReadTimeout("slow"), Fault.HANG, id="httpx.ReadTimeout()"),
    pytest.param(httpx.TimeoutException, Fault.HANG, id="httpx.TimeoutException-class"),
    pytest.param(
        aiohttp.ClientPayloadError(), Fault.SHORT_BODY, id="ClientPayloadError()"
    ),
    pytest.param(ValueError("x"), Fault.CLOSE, id="ValueError()"),
    pytest.param(True, Fault.CLOSE, id="True"),
    pytest.param(ConnectionError(), Fault.CLOSE, id="ConnectionError()"),
    pytest.param(BrokenPipeError(), Fault.CLOSE, id="BrokenPipeError()"),
    pytest.param(
        aiohttp.ServerDisconnectedError(),
        Fault.CLOSE,
        id="ServerDisconnectedError()",
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("exception", "fault"), EXCEPTION_FAULTS)
async def test_exception_maps_to_a_fault_httpx(exception: object, fault: Fault) -> None:
    """exception=X behaves on the wire as fault=F with no other arguments."""
    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get("/exception", exception=exception)
        m.get("/fault", fault=fault)
        timeout = timeout_for(fault)
        by_exception = await httpx_sees(
            client, "GET", f"{m.server_url}/exception", timeout=timeout
        )
        by_fault = await httpx_sees(
            client, "GET", f"{m.server_url}/fault", timeout=timeout
        )
    assert by_exception.signature() == by_fault.signature()
    if fault is not Fault.SHORT_BODY:  # without a body, half a body is no body
        assert by_exception.stage == "response"
        expected = {
            Fault.RESET: httpx.ReadError,
            Fault.HANG: httpx.ReadTimeout,
            Fault.CLOSE: httpx.RemoteProtocolError,
        }[fault]
        assert type(by_exception.error) is expected, by_exception
    else:
        assert by_exception.status == 200, by_exception
    assert len(m.requests[("GET", URL(f"{m.server_url}/exception"))]) == 1


@pytest.mark.anyio
@asyncio_only
@pytest.mark.parametrize(("exception", "fault"), EXCEPTION_FAULTS)
async def test_exception_maps_to_a_fault_aiohttp(
    exception: object, fault: Fault
) -> None:
    async with aiointercept() as m, aiohttp.ClientSession() as session:
        m.post("/exception", exception=exception)
        m.post("/fault", fault=fault)
        timeout = timeout_for(fault)
        by_exception = await aiohttp_sees(
            session, "POST", f"{m.server_url}/exception", timeout=timeout
        )
        by_fault = await aiohttp_sees(
            session, "POST", f"{m.server_url}/fault", timeout=timeout
        )
    assert by_exception.signature() == by_fault.signature()
    if fault is Fault.RESET:
        assert isinstance(by_exception.error, aiohttp.ClientOSError), by_exception
        assert not isinstance(by_exception.error, aiohttp.ServerDisconnectedError)
    elif fault is Fault.HANG:
        assert isinstance(by_exception.error, asyncio.TimeoutError), by_exception
    elif fault is Fault.CLOSE:
        assert type(by_exception.error) is aiohttp.ServerDisconnectedError


@pytest.mark.anyio
@asyncio_only
async def test_hang_from_an_exception_ends_with_the_block() -> None:
    async with aiointercept() as m:
        m.get("/t", exception=TimeoutError("upstream too slow"))
        async with aiohttp.ClientSession() as session:
            with pytest.raises(asyncio.TimeoutError):
                await session.get(
                    f"{m.server_url}/t", timeout=aiohttp.ClientTimeout(total=SHORT)
                )
        gave_up = time.monotonic()
    assert time.monotonic() - gave_up < 3


# == with mock_external_urls=True ====================================================


@pytest.mark.anyio
@asyncio_only
async def test_exceptions_with_mock_external_urls(
    guard_resolver: list[tuple[str, int]],
) -> None:
    base = "https://api.example.com"
    async with (
        aiointercept(mock_external_urls=True) as m,
        aiohttp.ClientSession() as session,
    ):
        m.post(f"{base}/reset", exception=ConnectionResetError())
        m.get(f"{base}/slow", exception=aiohttp.ServerTimeoutError())
        m.post(f"{base}/down", exception=True)
        reset = await aiohttp_sees(session, "POST", f"{base}/reset", data=b"r")
        slow = await aiohttp_sees(session, "GET", f"{base}/slow", timeout=SHORT)
        down = await aiohttp_sees(session, "POST", f"{base}/down")
    assert reset.stage == "response"
    assert isinstance(reset.error, aiohttp.ClientOSError), reset
    assert not isinstance(reset.error, aiohttp.ServerDisconnectedError), reset
    assert slow.stage == "response"
    assert isinstance(slow.error, asyncio.TimeoutError), slow
    assert type(down.error) is aiohttp.ServerDisconnectedError, down
    for method, path in [("POST", "/reset"), ("GET", "/slow"), ("POST", "/down")]:
        assert len(m.requests[(method, URL(f"{base}{path}"))]) == 1
    assert guard_resolver == []


@pytest.mark.anyio
@asyncio_only
@pytest.mark.parametrize("fault", ["close_after_headers", Fault.SHORT_BODY])
async def test_body_faults_with_mock_external_urls(
    fault: Fault | str, guard_resolver: list[tuple[str, int]]
) -> None:
    url = "https://api.example.com/v1/report"
    async with (
        aiointercept(mock_external_urls=True) as m,
        aiohttp.ClientSession() as session,
    ):
        m.post(url, fault=fault, status=201, body=BODY, headers={"X-Fault": "yes"})
        seen = await aiohttp_sees(session, "POST", url, json={"q": 1})
    check_aiohttp(fault, seen)
    (recorded,) = m.requests[("POST", URL(url))]
    assert recorded.kwargs["json"] == {"q": 1}
    assert guard_resolver == []


@pytest.mark.anyio
@asyncio_only
async def test_delay_with_mock_external_urls() -> None:
    url = "https://api.example.com/v1/slow"
    async with (
        aiointercept(mock_external_urls=True) as m,
        aiohttp.ClientSession() as session,
    ):
        m.get(url, payload={"late": True}, delay=2)
        seen = await aiohttp_sees(session, "GET", url, timeout=0.2)
    assert isinstance(seen.error, asyncio.TimeoutError), seen
    assert len(m.requests[("GET", URL(url))]) == 1


# -- faults part way through a streamed body --------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("fault", [Fault.CLOSE_AFTER_HEADERS, Fault.SHORT_BODY])
async def test_faults_on_a_streamed_body(fault: Fault) -> None:
    """After the headers, or after every chunk but without the chunk that
    ends the body: the client sees the status, then an incomplete body."""
    async with aiointercept() as m, httpx.AsyncClient(timeout=5) as c:
        m.get("/s", body=[b"one;", b"two"], fault=fault, content_type="text/plain")
        async with c.stream("GET", f"{m.server_url}/s") as resp:
            assert resp.status_code == 200
            assert resp.headers["transfer-encoding"] == "chunked"
            received: list[bytes] = []

            async def read_all() -> None:
                async for data in resp.aiter_bytes():
                    received.append(data)

            with pytest.raises(httpx.RemoteProtocolError):
                await read_all()
    assert b"".join(received) == (
        b"" if fault is Fault.CLOSE_AFTER_HEADERS else b"one;two"
    )
    assert len(m.requests[("GET", f"{m.server_url}/s")]) == 1


@pytest.mark.anyio
async def test_a_fault_after_the_headers_of_an_unknown_status() -> None:
    async with aiointercept() as m, httpx.AsyncClient(timeout=5) as c:
        m.get("/odd", status=599, body="partial", fault="short_body")
        async with c.stream("GET", f"{m.server_url}/odd") as resp:
            assert resp.status_code == 599
            with pytest.raises(httpx.RemoteProtocolError):
                await resp.aread()


# -- faults are deterministic ---------------------------------------------------------

METHODS = ["GET", "HEAD", "PUT", "DELETE", "POST"]

#: The registrations that end a request before any response byte, and what
#: the client sees for each: (add() keywords, the fault).
NO_RESPONSE = [
    pytest.param({"exception": True}, Fault.CLOSE, id="exception-true"),
    pytest.param(
        {"exception": ConnectionResetError()}, Fault.RESET, id="exception-reset"
    ),
    pytest.param({"fault": "reset"}, Fault.RESET, id="fault-reset"),
    pytest.param({"fault": "close"}, Fault.CLOSE, id="fault-close"),
]

#: The sessions a user may have: their own User-Agent and raise_for_status, or
#: aiohttp's defaults.
SESSIONS = [
    pytest.param(
        {"headers": {"User-Agent": "ghclient/1.0"}, "raise_for_status": True},
        id="custom-agent",
    ),
    pytest.param({}, id="default-agent"),
]


def fault_then_ok(m: aiointercept, method: str, path: str, kwargs: Any) -> str:
    url = f"{m.server_url}{path}"
    m.add(url, method, **kwargs)
    m.add(url, method, body="" if method == "HEAD" else "second", headers={"X-N": "2"})
    return url


@pytest.mark.anyio
@asyncio_only
@pytest.mark.parametrize("session_kwargs", SESSIONS)
@pytest.mark.parametrize("pooled", [False, True], ids=["fresh", "pooled"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("kwargs", "fault"), NO_RESPONSE)
async def test_aiohttp_call_fails_with_the_fault_and_the_next_gets_the_next(
    session_kwargs: dict[str, Any],
    pooled: bool,
    method: str,
    kwargs: dict[str, Any],
    fault: Fault,
) -> None:
    """aiohttp does not resend the request to the mock: the first call raises
    what the fault causes, the second call gets the second response, and the
    server got exactly these two requests."""
    async with aiointercept() as m, aiohttp.ClientSession(**session_kwargs) as session:
        if pooled:
            m.add(f"{m.server_url}/warm", method)
            async with session.request(method, f"{m.server_url}/warm") as warm:
                await warm.read()
        url = fault_then_ok(m, method, "/flaky", kwargs)
        first = await aiohttp_sees(session, method, url)
        second = await aiohttp_sees(session, method, url)
    assert first.stage == "response", first
    if fault is Fault.RESET:
        assert type(first.error) is aiohttp.ClientOSError, first
        assert first.error.errno == errno.ECONNRESET
    else:
        assert type(first.error) is aiohttp.ServerDisconnectedError, first
    assert (second.stage, second.status) == ("ok", 200), second
    assert second.headers is not None
    assert second.headers["X-N"] == "2"
    assert len(m.requests[(method, "/flaky")]) == 2


@pytest.mark.anyio
@asyncio_only
@pytest.mark.parametrize("session_kwargs", SESSIONS)
async def test_aiohttp_user_retry_code_sees_every_fault(
    session_kwargs: dict[str, Any],
) -> None:
    """The code under test retries on its own: each of its attempts is one
    request, and it succeeds on the attempt the routes say."""
    async with aiointercept() as m:
        url = f"{m.server_url}/flaky"
        m.get(url, exception=True)
        m.get(url, fault="reset")
        m.get(url, body="third time")
        attempts = 0
        async with aiohttp.ClientSession(**session_kwargs) as session:
            while True:
                attempts += 1
                try:
                    async with session.get(url) as response:
                        text = await response.text()
                        break
                except aiohttp.ClientConnectionError:
                    assert attempts < 5
    assert (attempts, text) == (3, "third time")
    assert len(m.requests[("GET", "/flaky")]) == 3


@pytest.mark.anyio
@asyncio_only
@pytest.mark.skipif(
    not hasattr(aiohttp, "ClientHandlerType"),
    reason="client middlewares come with aiohttp 3.12",
)
async def test_aiohttp_retry_middleware_is_served_the_next_response() -> None:
    """A client middleware that retries sends the same request again: that is
    the user's retry, and it reaches the route."""
    calls = 0

    async def retry_once(request: Any, handler: Any) -> Any:
        nonlocal calls
        try:
            calls += 1
            return await handler(request)
        except aiohttp.ClientConnectionError:
            calls += 1
            return await handler(request)

    async with aiointercept() as m:
        url = f"{m.server_url}/flaky"
        m.get(url, exception=True)
        m.get(url, body="retried")
        async with (
            aiohttp.ClientSession(middlewares=(retry_once,)) as session,
            session.get(url) as response,
        ):
            assert await response.text() == "retried"
    assert calls == 2
    assert len(m.requests[("GET", "/flaky")]) == 2


@pytest.mark.anyio
@asyncio_only
async def test_aiohttp_resend_to_another_server_is_left_alone() -> None:
    """aiohttp still resends a request whose connection to a server that is
    not a mock was closed (here a raw server that closes its first
    connection): the guard applies to the mock's connections only."""
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        if connections > 1:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with (
            aiointercept(),
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/") as response,
        ):
            assert await response.text() == "ok"
    finally:
        server.close()
        await server.wait_closed()
    assert connections == 2


@pytest.mark.anyio
@pytest.mark.parametrize("pooled", [False, True], ids=["fresh", "pooled"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("kwargs", "fault"), NO_RESPONSE)
async def test_httpx_call_fails_with_the_fault_and_the_next_gets_the_next(
    pooled: bool, method: str, kwargs: dict[str, Any], fault: Fault
) -> None:
    async with (
        aiointercept() as m,
        httpx.AsyncClient(headers={"User-Agent": "ghclient/1.0"}) as client,
    ):
        if pooled:
            m.add(f"{m.server_url}/warm", method)
            await client.request(method, f"{m.server_url}/warm")
        url = fault_then_ok(m, method, "/flaky", kwargs)
        first = await httpx_sees(client, method, url)
        second = await httpx_sees(client, method, url)
    assert first.stage == "response", first
    expected = httpx.ReadError if fault is Fault.RESET else httpx.RemoteProtocolError
    assert type(first.error) is expected, first
    assert (second.stage, second.status) == ("ok", 200), second
    assert len(m.requests[(method, "/flaky")]) == 2


@pytest.mark.anyio
@pytest.mark.parametrize("pooled", [False, True], ids=["fresh", "pooled"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("kwargs", "fault"), NO_RESPONSE)
async def test_requests_call_fails_with_the_fault_and_the_next_gets_the_next(
    pooled: bool, method: str, kwargs: dict[str, Any], fault: Fault
) -> None:
    async with aiointercept() as m:
        if pooled:
            m.add(f"{m.server_url}/warm", method)
        url = fault_then_ok(m, method, "/flaky", kwargs)

        def calls() -> tuple[BaseException | None, int]:
            with requests.Session() as session:
                session.headers["User-Agent"] = "ghclient/1.0"
                if pooled:
                    session.request(method, f"{m.server_url}/warm", timeout=BOUND)
                try:
                    session.request(method, url, timeout=BOUND)
                except requests.RequestException as exc:
                    error: BaseException | None = exc
                else:
                    error = None
                return error, session.request(method, url, timeout=BOUND).status_code

        error, second = await anyio.to_thread.run_sync(calls)
    assert type(error) is requests.ConnectionError, error
    reason = ConnectionResetError if fault is Fault.RESET else ConnectionError
    assert isinstance(error.args[0].args[1], reason), error
    assert second == 200
    assert len(m.requests[(method, "/flaky")]) == 2


#: What requests raises for each fault: (the stage, the exception type).
REQUESTS_SEES = {
    Fault.RESET: ("response", requests.ConnectionError),
    Fault.CLOSE: ("response", requests.ConnectionError),
    Fault.CLOSE_AFTER_HEADERS: ("body", requests.exceptions.ChunkedEncodingError),
    Fault.SHORT_BODY: ("body", requests.exceptions.ChunkedEncodingError),
    Fault.HANG: ("response", requests.ReadTimeout),
    Fault.MALFORMED_STATUS: ("response", requests.ConnectionError),
}


@pytest.mark.anyio
@pytest.mark.parametrize("fault", list(Fault))
async def test_fault_seen_by_requests(fault: Fault) -> None:
    """The requests column of the table on the faults page."""
    async with aiointercept() as m:
        url = f"{m.server_url}/fault"
        m.get(url, fault=fault, status=201, body=BODY)

        def call() -> Seen:
            timeout = timeout_for(fault)
            try:
                response = requests.get(url, timeout=timeout, stream=True)
            except requests.RequestException as exc:
                return Seen("response", exc)
            try:
                return Seen("ok", None, response.status_code, body=response.content)
            except requests.RequestException as exc:
                return Seen("body", exc, response.status_code)
            finally:
                response.close()

        seen = await anyio.to_thread.run_sync(call)
    stage, error = REQUESTS_SEES[fault]
    assert (seen.stage, type(seen.error)) == (stage, error), seen
    assert seen.status == (201 if stage == "body" else None)


# -- a client that gives up ----------------------------------------------------------


@pytest.mark.anyio
async def test_async_callback_is_cancelled_when_its_client_gives_up() -> None:
    """The client times out and closes its connection: the callback still
    answering it is cancelled at once, not when the block exits."""
    started, cancelled = anyio.Event(), anyio.Event()

    async def slow(url: URL, **kwargs: Any) -> CallbackResult:
        started.set()
        try:
            await anyio.sleep(60)
        except anyio.get_cancelled_exc_class():
            cancelled.set()
            raise
        return CallbackResult(body="too late")  # pragma: no cover

    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get("/slow", callback=slow)
        with pytest.raises(httpx.ReadTimeout):
            await client.get(
                f"{m.server_url}/slow", timeout=httpx.Timeout(BOUND, read=SHORT)
            )
        assert started.is_set()
        with anyio.fail_after(BOUND):
            await cancelled.wait()
    assert len(m.requests[("GET", "/slow")]) == 1


@pytest.mark.anyio
async def test_streamed_body_stops_when_its_client_gives_up() -> None:
    """The client receives the head of the response and closes it: the stream
    waiting to send its next chunk stops at once (its generator is closed)."""
    closed = threading.Event()

    def chunks() -> Iterator[bytes]:
        try:
            yield b"first"
            yield b"never sent"
        finally:
            closed.set()

    async with aiointercept() as m, httpx.AsyncClient(timeout=BOUND) as client:
        m.get("/stream", body=chunks(), chunk_delay=60)
        async with client.stream("GET", f"{m.server_url}/stream") as response:
            assert response.status_code == 200
        with anyio.fail_after(BOUND):
            while not closed.is_set():
                await anyio.sleep(0.01)


@pytest.mark.anyio
@asyncio_only
async def test_async_callback_is_cancelled_when_aiohttp_gives_up() -> None:
    cancelled = anyio.Event()

    async def slow(url: URL, **kwargs: Any) -> CallbackResult:
        try:
            await anyio.sleep(60)
        except anyio.get_cancelled_exc_class():
            cancelled.set()
            raise
        return CallbackResult(body="too late")  # pragma: no cover

    async with aiointercept() as m, aiohttp.ClientSession() as session:
        m.post("/slow", callback=slow)
        with pytest.raises(asyncio.TimeoutError):
            await session.post(
                f"{m.server_url}/slow",
                timeout=aiohttp.ClientTimeout(total=BOUND, sock_read=SHORT),
            )
        with anyio.fail_after(BOUND):
            await cancelled.wait()


@pytest.mark.anyio
@asyncio_only
@pytest.mark.parametrize(("kwargs", "fault"), NO_RESPONSE)
async def test_aiohttp_fault_on_a_hard_coded_url_is_not_resent(
    kwargs: dict[str, Any], fault: Fault
) -> None:
    """Under mock_external_urls=True too: the call fails, the next call gets
    the next response."""
    url = "https://api.example.com/v1/charges"
    async with (
        aiointercept(mock_external_urls=True) as m,
        aiohttp.ClientSession(headers={"User-Agent": "sdk/2.0"}) as session,
    ):
        m.get(url, **kwargs)
        m.get(url, payload={"data": []})
        first = await aiohttp_sees(session, "GET", url)
        second = await aiohttp_sees(session, "GET", url)
    assert first.stage == "response", first
    assert isinstance(first.error, aiohttp.ClientConnectionError), first
    assert (second.stage, second.status) == ("ok", 200), second
    assert len(m.requests[("GET", url)]) == 2
