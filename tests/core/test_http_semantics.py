"""Redirects, cookies and raise_for_status behave as they do against a real API.

aiohttp (asyncio only) and httpx (asyncio and trio) talk to the mock exactly as
they would to a remote server: they follow its redirects, keep its cookies in
their jar and raise for its error statuses. Nothing here needs an API of its
own; the responses are plain ``status=``, ``headers=`` and ``reason=``.

aiohttp's default ``CookieJar`` ignores cookies from IP-address hosts, and
``m.server_url`` is ``http://127.0.0.1:<port>``: in the default mode the
tests use ``aiohttp.CookieJar(unsafe=True)``, and one test shows that the
default jar keeps nothing. The ``mock_external_urls=True`` tests use host names
(with the default jar); they run behind the loopback-only network guard of
:mod:`tests.support.aiohttp_guard`, so no real name is ever resolved.
"""

from __future__ import annotations

import http
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import pytest
from yarl import URL

from aiointercept import CallbackResult, RecordedRequest, aiointercept
from tests.support.aiohttp_guard import BOUND, guarded
from tests.support.backends import asyncio_only
from tests.support.journal import only

pytestmark = pytest.mark.anyio

REDIRECTS = [301, 302, 303, 307, 308]
#: Statuses after which a POST becomes a body-less GET (as browsers, aiohttp
#: and httpx do for 301 and 302 too), and those after which it stays a POST.
TO_GET = [301, 302, 303]
KEEP_METHOD = [307, 308]
ERRORS = [400, 401, 403, 404, 409, 422, 429, 500, 502, 503]
TIMEOUT = 10.0


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """aiohttp's default resolver knows ``localhost`` only and aiohttp may
    connect to loopback addresses only (see
    :func:`tests.support.aiohttp_guard.guarded`)."""
    yield from guarded(monkeypatch)


def httpx_client(**kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=TIMEOUT, **kwargs)


def aiohttp_session(**kwargs: Any) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=BOUND, **kwargs)


def location(kind: str, server_url: str) -> str:
    """The Location that sends ``/dir/start`` to ``/dir/end``."""
    return {
        "absolute": f"{server_url}/dir/end",
        "absolute-path": "/dir/end",
        "relative-path": "end",
    }[kind]


LOCATIONS = ["absolute", "absolute-path", "relative-path"]


def cookies_sent(request: RecordedRequest) -> dict[str, str]:
    """The cookies of a recorded request's Cookie header(s), by name."""
    sent: dict[str, str] = {}
    for header in request.headers.getall("Cookie", []):
        for pair in header.split(";"):
            name, _, value = pair.strip().partition("=")
            assert name not in sent, f"cookie {name!r} sent twice: {header!r}"
            sent[name] = value
    return sent


def aiohttp_jar(session: aiohttp.ClientSession) -> dict[str, str]:
    return {morsel.key: morsel.value for morsel in session.cookie_jar}


# == redirects ======================================================================


@asyncio_only
@pytest.mark.parametrize("kind", LOCATIONS)
@pytest.mark.parametrize("status", REDIRECTS)
async def test_aiohttp_follows_a_redirect(status: int, kind: str) -> None:
    async with aiointercept() as m, aiohttp_session() as session:
        start = m.get(
            "/dir/start",
            status=status,
            headers={"Location": location(kind, m.server_url)},
        )
        end = m.get("/dir/end", body="arrived", content_type="text/plain")
        async with session.get(f"{m.server_url}/dir/start") as resp:
            assert resp.status == 200
            assert await resp.text() == "arrived"
            assert resp.url == URL(f"{m.server_url}/dir/end")
            (hop,) = resp.history
            assert hop.status == status
            assert hop.url == URL(f"{m.server_url}/dir/start")
            assert hop.headers["Location"] == location(kind, m.server_url)
    assert start.call_count == 1
    assert end.call_count == 1
    assert m.call_count == 2
    assert only(m, "GET", f"{m.server_url}/dir/start").method == "GET"
    assert only(m, "GET", f"{m.server_url}/dir/end").method == "GET"


@pytest.mark.parametrize("kind", LOCATIONS)
@pytest.mark.parametrize("status", REDIRECTS)
async def test_httpx_follows_a_redirect(status: int, kind: str) -> None:
    async with aiointercept() as m, httpx_client(follow_redirects=True) as client:
        m.get(
            "/dir/start",
            status=status,
            headers={"Location": location(kind, m.server_url)},
        )
        m.get("/dir/end", body="arrived", content_type="text/plain")
        response = await client.get(f"{m.server_url}/dir/start")
    assert response.status_code == 200
    assert response.text == "arrived"
    assert str(response.url) == f"{m.server_url}/dir/end"
    (hop,) = response.history
    assert hop.status_code == status
    assert str(hop.url) == f"{m.server_url}/dir/start"
    assert m.call_count == 2
    only(m, "GET", f"{m.server_url}/dir/start")
    only(m, "GET", f"{m.server_url}/dir/end")


@asyncio_only
@pytest.mark.parametrize("status", TO_GET)
async def test_aiohttp_post_becomes_a_get_without_body(status: int) -> None:
    async with aiointercept() as m, aiohttp_session() as session:
        m.post("/form", status=status, headers={"Location": "/result"})
        m.get("/result", json={"done": True})
        posted = m.post("/result", status=500)  # must not be reached
        async with session.post(f"{m.server_url}/form", json={"n": 1}) as resp:
            assert resp.status == 200
            assert await resp.json() == {"done": True}
            assert resp.method == "GET"
            assert [r.status for r in resp.history] == [status]
    assert only(m, "POST", f"{m.server_url}/form").kwargs["json"] == {"n": 1}
    follow = only(m, "GET", f"{m.server_url}/result")
    assert follow.captured_body == b""
    assert "Content-Type" not in follow.headers
    posted.assert_not_called()


@pytest.mark.parametrize("status", TO_GET)
async def test_httpx_post_becomes_a_get_without_body(status: int) -> None:
    async with aiointercept() as m, httpx_client(follow_redirects=True) as client:
        m.post("/form", status=status, headers={"Location": "/result"})
        m.get("/result", json={"done": True})
        posted = m.post("/result", status=500)
        response = await client.post(f"{m.server_url}/form", json={"n": 1})
    assert response.status_code == 200
    assert response.json() == {"done": True}
    assert response.request.method == "GET"
    assert only(m, "POST", f"{m.server_url}/form").kwargs["json"] == {"n": 1}
    follow = only(m, "GET", f"{m.server_url}/result")
    assert follow.captured_body == b""
    # httpx drops the body headers but keeps Content-Type
    assert "Content-Length" not in follow.headers
    assert "Transfer-Encoding" not in follow.headers
    posted.assert_not_called()


@asyncio_only
@pytest.mark.parametrize("status", KEEP_METHOD)
async def test_aiohttp_keeps_method_and_body(status: int) -> None:
    async with aiointercept() as m, aiohttp_session() as session:
        m.post("/v1/items", status=status, headers={"Location": "/v2/items"})
        m.post("/v2/items", status=201, json={"id": 7})
        async with session.post(
            f"{m.server_url}/v1/items", json={"name": "widget"}
        ) as resp:
            assert resp.status == 201
            assert await resp.json() == {"id": 7}
            assert resp.method == "POST"
            assert [r.status for r in resp.history] == [status]
    first = only(m, "POST", f"{m.server_url}/v1/items")
    second = only(m, "POST", f"{m.server_url}/v2/items")
    assert first.kwargs["json"] == second.kwargs["json"] == {"name": "widget"}
    assert second.captured_body == first.captured_body
    assert second.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("status", KEEP_METHOD)
async def test_httpx_keeps_method_and_body(status: int) -> None:
    async with aiointercept() as m, httpx_client(follow_redirects=True) as client:
        m.post("/v1/items", status=status, headers={"Location": "/v2/items"})
        m.post("/v2/items", status=201, json={"id": 7})
        response = await client.post(
            f"{m.server_url}/v1/items", json={"name": "widget"}
        )
    assert response.status_code == 201
    assert response.json() == {"id": 7}
    assert response.request.method == "POST"
    first = only(m, "POST", f"{m.server_url}/v1/items")
    second = only(m, "POST", f"{m.server_url}/v2/items")
    assert first.kwargs["json"] == second.kwargs["json"] == {"name": "widget"}
    assert second.captured_body == first.captured_body


def register_chain(m: aiointercept) -> None:
    """/a -302-> /b -307-> /c?step=3 -301-> /d (200)."""
    m.get("/a", status=302, headers={"Location": "/b"})
    m.get("/b", status=307, headers={"Location": f"{m.server_url}/c?step=3"})
    m.get("/c?step=3", status=301, headers={"Location": "d"})
    m.get("/d", body="the end", content_type="text/plain")


CHAIN = ["/a", "/b", "/c?step=3", "/d"]


@asyncio_only
async def test_aiohttp_follows_a_chain() -> None:
    async with aiointercept() as m, aiohttp_session() as session:
        register_chain(m)
        async with session.get(f"{m.server_url}/a") as resp:
            assert resp.status == 200
            assert await resp.text() == "the end"
            assert [r.status for r in resp.history] == [302, 307, 301]
            assert [r.url.path_qs for r in resp.history] == CHAIN[:3]
            assert resp.url.path_qs == "/d"
    assert [key[1].path_qs for key in m.requests] == CHAIN
    assert all(len(records) == 1 for records in m.requests.values())
    assert only(m, "GET", f"{m.server_url}/c?step=3").query["step"] == "3"


async def test_httpx_follows_a_chain() -> None:
    async with aiointercept() as m, httpx_client(follow_redirects=True) as client:
        register_chain(m)
        response = await client.get(f"{m.server_url}/a")
    assert response.status_code == 200
    assert response.text == "the end"
    assert [r.status_code for r in response.history] == [302, 307, 301]
    assert [r.url.raw_path.decode() for r in response.history] == CHAIN[:3]
    assert [key[1].path_qs for key in m.requests] == CHAIN


@asyncio_only
async def test_aiohttp_too_many_redirects() -> None:
    async with aiointercept() as m, aiohttp_session() as session:
        loop = m.get("/loop", status=302, headers={"Location": "/loop"}, repeat=True)
        with pytest.raises(aiohttp.TooManyRedirects):
            await session.get(f"{m.server_url}/loop", max_redirects=3)
    # aiohttp gives up when the third redirect arrives
    assert loop.call_count == 3


async def test_httpx_too_many_redirects() -> None:
    async with (
        aiointercept() as m,
        httpx_client(follow_redirects=True, max_redirects=3) as client,
    ):
        loop = m.get("/loop", status=302, headers={"Location": "/loop"}, repeat=True)
        with pytest.raises(httpx.TooManyRedirects):
            await client.get(f"{m.server_url}/loop")
    assert loop.call_count == 4


@asyncio_only
@pytest.mark.parametrize("status", REDIRECTS)
async def test_aiohttp_allow_redirects_false(status: int) -> None:
    async with aiointercept() as m, aiohttp_session() as session:
        m.get("/start", status=status, headers={"Location": "/end"})
        end = m.get("/end")
        async with session.get(f"{m.server_url}/start", allow_redirects=False) as resp:
            assert resp.status == status
            assert resp.headers["Location"] == "/end"
            assert resp.history == ()
            assert resp.url == URL(f"{m.server_url}/start")
    end.assert_not_called()
    assert m.call_count == 1


@pytest.mark.parametrize("status", REDIRECTS)
async def test_httpx_does_not_follow_by_default(status: int) -> None:
    async with aiointercept() as m, httpx_client() as client:
        m.get("/start", status=status, headers={"Location": "/end"})
        end = m.get("/end")
        response = await client.get(f"{m.server_url}/start")
    assert response.status_code == status
    assert response.is_redirect
    assert response.history == []
    assert response.next_request is not None
    assert str(response.next_request.url) == f"{m.server_url}/end"
    end.assert_not_called()
    assert m.call_count == 1


@asyncio_only
async def test_aiohttp_redirect_from_a_callback() -> None:
    def to_end(url: URL, **kwargs: Any) -> CallbackResult:
        return CallbackResult(status=303, headers={"Location": f"/end?from={url.path}"})

    async with aiointercept() as m, aiohttp_session() as session:
        m.post("/start", callback=to_end)
        m.get("/end?from=/start", body="done")
        async with session.post(f"{m.server_url}/start", data=b"x") as resp:
            assert resp.status == 200
            assert await resp.text() == "done"
            assert [r.status for r in resp.history] == [303]


@asyncio_only
async def test_external_redirect_between_intercepted_hosts(
    network_guard: list[tuple[str, int]],
) -> None:
    async with (
        aiointercept(mock_external_urls=True) as m,
        aiohttp_session() as session,
    ):
        m.get(
            "https://api.example.com/a",
            status=302,
            headers={"Location": "https://auth.example.com/b?next=home"},
        )
        m.get(
            "https://auth.example.com/b?next=home",
            status=307,
            headers={"Location": "/c"},
        )
        m.get("https://auth.example.com/c", json={"token": "t"})
        async with session.get("https://api.example.com/a") as resp:
            assert resp.status == 200
            assert await resp.json() == {"token": "t"}
            assert resp.url == URL("https://auth.example.com/c")
            assert [str(r.url) for r in resp.history] == [
                "https://api.example.com/a",
                "https://auth.example.com/b?next=home",
            ]
    assert list(m.requests) == [
        ("GET", URL("https://api.example.com/a")),
        ("GET", URL("https://auth.example.com/b?next=home")),
        ("GET", URL("https://auth.example.com/c")),
    ]
    assert only(m, "GET", "https://auth.example.com/b?next=home").headers["Host"] == (
        "auth.example.com"
    )
    assert network_guard == []


# == cookies ========================================================================

LOGIN_COOKIES = [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2; Path=/")]


@asyncio_only
async def test_aiohttp_unsafe_jar_keeps_cookies_and_sends_them_back() -> None:
    async with (
        aiointercept() as m,
        aiohttp_session(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session,
    ):
        m.post("/login", headers=LOGIN_COOKIES)
        m.get("/me", json={"me": "alice"})
        async with session.post(f"{m.server_url}/login") as resp:
            assert resp.status == 200
            assert resp.headers.getall("Set-Cookie") == ["a=1", "b=2; Path=/"]
            assert {k: v.value for k, v in resp.cookies.items()} == {"a": "1", "b": "2"}
        assert aiohttp_jar(session) == {"a": "1", "b": "2"}
        async with session.get(f"{m.server_url}/me") as resp:
            assert resp.status == 200
    assert cookies_sent(only(m, "POST", f"{m.server_url}/login")) == {}
    assert cookies_sent(only(m, "GET", f"{m.server_url}/me")) == {"a": "1", "b": "2"}


@asyncio_only
async def test_aiohttp_default_jar_ignores_cookies_of_the_ip_host() -> None:
    """The pitfall: ``m.server_url`` is an IP address, whose cookies aiohttp's
    default jar does not keep."""
    async with aiointercept() as m, aiohttp_session() as session:
        m.post("/login", headers=LOGIN_COOKIES)
        m.get("/me")
        async with session.post(f"{m.server_url}/login") as resp:
            # the response carries them...
            assert {k: v.value for k, v in resp.cookies.items()} == {"a": "1", "b": "2"}
        # ...but the jar keeps none, so none is sent back
        assert aiohttp_jar(session) == {}
        async with session.get(f"{m.server_url}/me") as resp:
            assert resp.status == 200
    assert "Cookie" not in only(m, "GET", f"{m.server_url}/me").headers


@asyncio_only
async def test_aiohttp_cookie_path_and_deletion() -> None:
    async with (
        aiointercept() as m,
        aiohttp_session(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session,
    ):
        m.post(
            "/login",
            headers=[
                *LOGIN_COOKIES,
                ("Set-Cookie", "scoped=s; Path=/api"),
                ("Set-Cookie", "keep=k; Path=/; Max-Age=3600"),
            ],
        )
        m.post(
            "/logout",
            headers=[
                ("Set-Cookie", "a=; Max-Age=0"),
                ("Set-Cookie", "b=; Path=/; Expires=Wed, 01 Jan 2020 00:00:00 GMT"),
                ("Set-Cookie", "scoped=; Path=/api; Max-Age=0"),
            ],
        )
        m.get("/api/x", repeat=True)
        m.get("/other")
        for method, path in [
            ("POST", "/login"),
            ("GET", "/api/x"),
            ("GET", "/other"),
            ("POST", "/logout"),
            ("GET", "/api/x"),
        ]:
            async with session.request(method, f"{m.server_url}{path}") as resp:
                assert resp.status == 200
        assert aiohttp_jar(session) == {"keep": "k"}
    first, after_logout = m.requests[("GET", URL(f"{m.server_url}/api/x"))]
    assert cookies_sent(first) == {"a": "1", "b": "2", "scoped": "s", "keep": "k"}
    assert cookies_sent(only(m, "GET", f"{m.server_url}/other")) == {
        "a": "1",
        "b": "2",
        "keep": "k",
    }
    assert cookies_sent(after_logout) == {"keep": "k"}


@asyncio_only
async def test_aiohttp_cookie_set_by_a_callback() -> None:
    def login(url: URL, *, json: Any, **kwargs: Any) -> CallbackResult:
        return CallbackResult(
            payload={"user": json["user"]},
            headers=[
                ("Set-Cookie", f"session={json['user']}-42; Path=/; HttpOnly"),
                ("Set-Cookie", "theme=dark; Path=/"),
            ],
        )

    async with (
        aiointercept() as m,
        aiohttp_session(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session,
    ):
        m.post("/login", callback=login)
        m.get("/me")
        async with session.post(f"{m.server_url}/login", json={"user": "bob"}) as resp:
            assert await resp.json() == {"user": "bob"}
        async with session.get(f"{m.server_url}/me") as resp:
            assert resp.status == 200
    assert cookies_sent(only(m, "GET", f"{m.server_url}/me")) == {
        "session": "bob-42",
        "theme": "dark",
    }


@asyncio_only
async def test_aiohttp_cookie_set_on_a_redirect_is_sent_to_the_target() -> None:
    async with (
        aiointercept() as m,
        aiohttp_session(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session,
    ):
        m.post(
            "/login",
            status=303,
            headers=[("Location", "/home"), ("Set-Cookie", "sid=xyz; Path=/")],
        )
        m.get("/home", body="welcome")
        async with session.post(f"{m.server_url}/login") as resp:
            assert await resp.text() == "welcome"
    assert cookies_sent(only(m, "GET", f"{m.server_url}/home")) == {"sid": "xyz"}


@asyncio_only
async def test_external_default_jar_keeps_cookies_of_a_host_name(
    network_guard: list[tuple[str, int]],
) -> None:
    async with (
        aiointercept(mock_external_urls=True) as m,
        aiohttp_session() as session,
    ):
        m.post(
            "https://api.example.com/login",
            headers=[
                *LOGIN_COOKIES,
                ("Set-Cookie", "shared=1; Domain=example.com; Path=/"),
                ("Set-Cookie", "tls_only=1; Path=/; Secure"),
            ],
        )
        m.get("https://api.example.com/me")
        m.get("http://api.example.com/plain")
        m.get("https://auth.example.com/check")
        m.get("https://other.example.org/x")
        async with session.post("https://api.example.com/login") as resp:
            assert resp.status == 200
        for url in [
            "https://api.example.com/me",
            "http://api.example.com/plain",
            "https://auth.example.com/check",
            "https://other.example.org/x",
        ]:
            async with session.get(url) as resp:
                assert resp.status == 200, url
    every = {"a": "1", "b": "2", "shared": "1", "tls_only": "1"}
    assert cookies_sent(only(m, "GET", "https://api.example.com/me")) == every
    # a Secure cookie does not travel over plain http
    assert cookies_sent(only(m, "GET", "http://api.example.com/plain")) == {
        "a": "1",
        "b": "2",
        "shared": "1",
    }
    # a Domain cookie reaches the sibling host, the host-only ones do not
    assert cookies_sent(only(m, "GET", "https://auth.example.com/check")) == {
        "shared": "1"
    }
    assert cookies_sent(only(m, "GET", "https://other.example.org/x")) == {}
    assert network_guard == []


@asyncio_only
async def test_external_cookie_across_a_redirect_to_another_host(
    network_guard: list[tuple[str, int]],
) -> None:
    async with (
        aiointercept(mock_external_urls=True) as m,
        aiohttp_session() as session,
    ):
        m.get(
            "https://api.example.com/a",
            status=302,
            headers=[
                ("Location", "https://auth.example.com/b"),
                ("Set-Cookie", "api_only=1; Path=/"),
                ("Set-Cookie", "both=1; Domain=example.com; Path=/"),
            ],
        )
        m.get("https://auth.example.com/b", body="ok")
        async with session.get("https://api.example.com/a") as resp:
            assert await resp.text() == "ok"
    assert cookies_sent(only(m, "GET", "https://auth.example.com/b")) == {"both": "1"}
    assert network_guard == []


async def test_httpx_client_keeps_cookies_and_sends_them_back() -> None:
    async with aiointercept() as m, httpx_client() as client:
        m.post("/login", headers=LOGIN_COOKIES)
        m.get("/me")
        response = await client.post(f"{m.server_url}/login")
        assert response.headers.get_list("Set-Cookie") == ["a=1", "b=2; Path=/"]
        assert dict(response.cookies) == {"a": "1", "b": "2"}
        assert dict(client.cookies) == {"a": "1", "b": "2"}
        await client.get(f"{m.server_url}/me")
    assert cookies_sent(only(m, "GET", f"{m.server_url}/me")) == {"a": "1", "b": "2"}


async def test_httpx_cookie_set_by_a_callback_and_deleted() -> None:
    async def login(url: URL, **kwargs: Any) -> CallbackResult:
        return CallbackResult(
            headers=[("Set-Cookie", "token=abc; Path=/; HttpOnly")],
        )

    def logout(url: URL, **kwargs: Any) -> CallbackResult:
        return CallbackResult(headers=[("Set-Cookie", "token=; Path=/; Max-Age=0")])

    async with aiointercept() as m, httpx_client() as client:
        m.post("/login", callback=login)
        m.post("/logout", callback=logout)
        m.get("/me", repeat=True)
        await client.post(f"{m.server_url}/login")
        assert dict(client.cookies) == {"token": "abc"}
        await client.get(f"{m.server_url}/me")
        await client.post(f"{m.server_url}/logout")
        assert dict(client.cookies) == {}
        await client.get(f"{m.server_url}/me")
    logged_in, logged_out = m.requests[("GET", URL(f"{m.server_url}/me"))]
    assert cookies_sent(logged_in) == {"token": "abc"}
    assert "Cookie" not in logged_out.headers


async def test_httpx_cookie_set_on_a_redirect_is_sent_to_the_target() -> None:
    async with aiointercept() as m, httpx_client(follow_redirects=True) as client:
        m.post(
            "/login",
            status=303,
            headers=[("Location", "/home"), ("Set-Cookie", "sid=xyz; Path=/")],
        )
        m.get("/home", body="welcome")
        response = await client.post(f"{m.server_url}/login")
    assert response.text == "welcome"
    assert cookies_sent(only(m, "GET", f"{m.server_url}/home")) == {"sid": "xyz"}


# == raise_for_status ===============================================================


@asyncio_only
@pytest.mark.parametrize("status", ERRORS)
async def test_aiohttp_raise_for_status_session(status: int) -> None:
    async with (
        aiointercept() as m,
        aiohttp_session(raise_for_status=True) as session,
    ):
        m.get("/fail", status=status, json={"error": "nope"})
        with pytest.raises(aiohttp.ClientResponseError) as caught:
            await session.get(f"{m.server_url}/fail")
    assert caught.value.status == status
    assert caught.value.message == http.HTTPStatus(status).phrase
    assert caught.value.request_info.url == URL(f"{m.server_url}/fail")
    assert m.call_count == 1


@asyncio_only
@pytest.mark.parametrize("status", ERRORS)
async def test_aiohttp_resp_raise_for_status(status: int) -> None:
    async with aiointercept() as m, aiohttp_session() as session:
        m.get("/fail", status=status)
        async with session.get(f"{m.server_url}/fail") as resp:
            assert resp.status == status
            assert not resp.ok
            with pytest.raises(aiohttp.ClientResponseError) as caught:
                resp.raise_for_status()
    assert caught.value.status == status
    assert caught.value.message == http.HTTPStatus(status).phrase


@asyncio_only
@pytest.mark.parametrize("how", ["static", "callback"])
async def test_aiohttp_custom_reason(how: str) -> None:
    async with aiointercept() as m, aiohttp_session() as session:
        if how == "static":
            m.get("/teapot", status=418, reason="Short And Stout")
        else:
            m.get(
                "/teapot",
                callback=lambda url, **_: CallbackResult(
                    status=418, reason="Short And Stout"
                ),
            )
        async with session.get(f"{m.server_url}/teapot") as resp:
            assert resp.reason == "Short And Stout"
            with pytest.raises(aiohttp.ClientResponseError) as caught:
                resp.raise_for_status()
    assert caught.value.status == 418
    assert caught.value.message == "Short And Stout"


@asyncio_only
async def test_aiohttp_raise_for_status_after_a_redirect() -> None:
    async with (
        aiointercept() as m,
        aiohttp_session(raise_for_status=True) as session,
    ):
        m.get("/old", status=301, headers={"Location": "/gone"})
        m.get("/gone", status=410, reason="Gone For Good")
        with pytest.raises(aiohttp.ClientResponseError) as caught:
            await session.get(f"{m.server_url}/old")
    assert caught.value.status == 410
    assert caught.value.message == "Gone For Good"
    assert caught.value.request_info.url == URL(f"{m.server_url}/gone")
    assert m.call_count == 2


@asyncio_only
@pytest.mark.parametrize("status", [200, 201, 202, 204, 301, 302, 304, 307])
async def test_aiohttp_2xx_and_3xx_do_not_raise(status: int) -> None:
    async with (
        aiointercept() as m,
        aiohttp_session(raise_for_status=True) as session,
    ):
        m.get("/ok", status=status, headers={"Location": "/elsewhere"})
        async with session.get(f"{m.server_url}/ok", allow_redirects=False) as resp:
            assert resp.status == status
            assert resp.ok
            resp.raise_for_status()


@pytest.mark.parametrize("status", ERRORS)
async def test_httpx_raise_for_status(status: int) -> None:
    async with aiointercept() as m, httpx_client() as client:
        m.get("/fail", status=status, json={"error": "nope"})
        response = await client.get(f"{m.server_url}/fail")
    with pytest.raises(httpx.HTTPStatusError) as caught:
        response.raise_for_status()
    assert caught.value.response.status_code == status
    assert caught.value.response.reason_phrase == http.HTTPStatus(status).phrase
    assert caught.value.response.json() == {"error": "nope"}
    assert str(caught.value.request.url) == f"{m.server_url}/fail"


@pytest.mark.parametrize("how", ["static", "callback"])
async def test_httpx_custom_reason(how: str) -> None:
    async with aiointercept() as m, httpx_client() as client:
        if how == "static":
            m.get("/teapot", status=418, reason="Short And Stout")
        else:
            m.get(
                "/teapot",
                callback=lambda url, **_: CallbackResult(
                    status=418, reason="Short And Stout"
                ),
            )
        response = await client.get(f"{m.server_url}/teapot")
    assert response.reason_phrase == "Short And Stout"
    with pytest.raises(httpx.HTTPStatusError, match="418 Short And Stout"):
        response.raise_for_status()


@pytest.mark.parametrize("status", [200, 201, 202, 204])
async def test_httpx_2xx_do_not_raise(status: int) -> None:
    async with aiointercept() as m, httpx_client() as client:
        m.get("/ok", status=status)
        response = await client.get(f"{m.server_url}/ok")
    assert response.raise_for_status() is response


async def test_httpx_followed_redirect_does_not_raise() -> None:
    async with aiointercept() as m, httpx_client(follow_redirects=True) as client:
        m.get("/old", status=308, headers={"Location": "/new"})
        m.get("/new", json={"ok": True})
        response = await client.get(f"{m.server_url}/old")
    assert response.raise_for_status() is response
    assert response.json() == {"ok": True}


@pytest.mark.parametrize("status", [301, 302, 304])
async def test_httpx_unfollowed_3xx_raises_as_httpx_does(status: int) -> None:
    """httpx (unlike aiohttp) treats any non-2xx as an error in raise_for_status."""
    async with aiointercept() as m, httpx_client() as client:
        m.get("/moved", status=status, headers={"Location": "/new"})
        response = await client.get(f"{m.server_url}/moved")
    with pytest.raises(httpx.HTTPStatusError) as caught:
        response.raise_for_status()
    assert caught.value.response.status_code == status
