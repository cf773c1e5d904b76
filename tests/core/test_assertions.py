"""Assertions on the instance and on route handles, and the strict options."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest
from yarl import URL

from aiointercept import (
    CallbackError,
    CallbackResult,
    RegisteredRoute,
    StrictCheckError,
    aiointercept,
)
from tests.support.backends import asyncio_only
from tests.support.journal import send

# -- called / not called / once --------------------------------------------------------


@pytest.mark.anyio
async def test_assert_called_and_not_called() -> None:
    async with aiointercept() as m:
        m.assert_not_called()
        with pytest.raises(AssertionError, match="to be called, but it got no calls"):
            m.assert_called()
        m.get("/a")
        await send(m, "GET", "/a")
        m.assert_called()
        with pytest.raises(AssertionError) as caught:
            m.assert_not_called()
    message = str(caught.value)
    assert message.startswith("expected the mock not to be called, but it got 1 call:")
    assert f"GET {m.server_url}/a" in message


@pytest.mark.anyio
async def test_long_lists_of_calls_show_the_latest() -> None:
    async with aiointercept() as m:
        m.get(re.compile(".*"), repeat=True)
        for n in range(12):
            await send(m, "GET", f"/n/{n}")
        with pytest.raises(AssertionError) as caught:
            m.assert_not_called()
    lines = str(caught.value).splitlines()
    assert lines[1] == "  ... 2 earlier requests not shown"
    assert lines[2:] == [f"  GET {m.server_url}/n/{n}" for n in range(2, 12)]


@pytest.mark.anyio
async def test_assert_called_once() -> None:
    async with aiointercept() as m:
        m.get("/a", repeat=True)
        with pytest.raises(AssertionError, match="called once, but it got 0 calls"):
            m.assert_called_once()
        await send(m, "GET", "/a")
        m.assert_called_once()
        await send(m, "GET", "/a?x=1")  # unmatched requests count too
        with pytest.raises(AssertionError, match="called once, but it got 2 calls:"):
            m.assert_called_once()


@pytest.mark.anyio
async def test_call_count_and_last_request() -> None:
    async with aiointercept() as m:
        assert m.call_count == 0
        before = m.last_request
        assert before is None
        m.get("/a")
        m.post("/b")
        await send(m, "GET", "/a")
        await send(m, "POST", "/b", json={"n": 1})
        await send(m, "GET", "/unregistered")
        assert m.call_count == 3
        last = m.last_request
        assert last is not None
        assert (last.method, last.url.path) == ("GET", "/unregistered")
        await send(m, "GET", "/a")
        assert m.call_count == 4
        m.clear()
        assert m.call_count == 0
        assert m.last_request is None


# -- assert_any_call -------------------------------------------------------------------


@pytest.mark.anyio
async def test_assert_any_call_with_params_and_relative_urls() -> None:
    async with aiointercept() as m:
        m.get(re.compile(".*"), repeat=True)
        await send(m, "GET", "/search?b=2&a=1")
        await send(m, "GET", "/other")
        m.assert_any_call(f"{m.server_url}/search?a=1&b=2")
        m.assert_any_call("/search", params={"b": 2, "a": "1"})
        m.assert_any_call(URL(f"{m.server_url}/search"), "get", {"a": 1, "b": 2})
        with pytest.raises(AssertionError, match="expected a call to POST"):
            m.assert_any_call("/search?a=1&b=2", "POST")


@pytest.mark.anyio
async def test_assert_any_call_checks_bodies_of_every_call() -> None:
    async with aiointercept() as m:
        m.post("/o", repeat=True)
        for qty in (1, 2, 3):
            await send(m, "POST", "/o", json={"qty": qty})
        m.assert_any_call("/o", "POST", json={"qty": 2})
        with pytest.raises(AssertionError) as caught:
            m.assert_any_call("/o", "POST", json={"qty": 9})
    message = str(caught.value)
    assert "got 3 calls, none with the expected arguments" in message
    assert "call 1 of 3" in message
    assert "call 3 of 3" in message
    assert '-   "qty": 9' in message
    assert '+   "qty": 3' in message


@pytest.mark.anyio
async def test_assert_any_call_lists_only_the_latest_differing_calls() -> None:
    async with aiointercept() as m:
        m.post("/o", repeat=True)
        for n in range(7):
            await send(m, "POST", "/o", content=str(n).encode())
        with pytest.raises(AssertionError) as caught:
            m.assert_any_call("/o", "POST", data=b"x")
    message = str(caught.value)
    assert "2 earlier calls not shown" in message
    assert "call 1 of 7" not in message
    assert "call 7 of 7" in message


# -- assert_called_with ----------------------------------------------------------------


@pytest.mark.anyio
async def test_assert_called_with_checks_the_most_recent_call() -> None:
    async with aiointercept() as m:
        m.post("/orders", repeat=True)
        await send(m, "POST", "/orders", json={"qty": 2})
        await send(m, "POST", "/orders", json={"qty": 3})
        m.assert_called_with("/orders", "POST", json={"qty": 3})
        with pytest.raises(AssertionError) as caught:
            m.assert_called_with("/orders", "POST", json={"qty": 2})
    message = str(caught.value)
    assert message.startswith(
        f"assert_called_with: POST {m.server_url}/orders was not called with "
        "the expected arguments."
    )
    assert "The most recent of 2 calls differs (- expected, + actual):" in message
    assert (
        '  json body:\n      {\n    -   "qty": 2\n    +   "qty": 3\n      }\n'
    ) in message
    assert "Actual request:" in message
    assert """body: '{"qty":3}'""" in message


@pytest.mark.anyio
async def test_assert_called_with_raw_and_form_data() -> None:
    async with aiointercept() as m:
        m.post("/raw", repeat=True)
        m.post("/form", repeat=True)
        await send(m, "POST", "/raw", content=b"line 1\nline 2\n")
        await send(m, "POST", "/form", data={"a": "1", "b": ["2", "3"]})
        m.assert_called_with("/raw", "POST", data=b"line 1\nline 2\n")
        m.assert_called_with("/raw", "POST", data="line 1\nline 2\n")
        m.assert_called_with("/form", "POST", data={"b": ["3", "2"], "a": 1})
        with pytest.raises(AssertionError) as raw:
            m.assert_called_with("/raw", "POST", data=b"line 1\nline 3\n")
        with pytest.raises(AssertionError) as form:
            m.assert_called_with("/form", "POST", data={"a": "1"})
    assert "body:\n      'line 1\\n'\n    - 'line 3\\n'\n    + 'line 2\\n'" in str(
        raw.value
    )
    assert "form body:\n      a=1\n    + b=2\n    + b=3" in str(form.value)


@pytest.mark.anyio
async def test_binary_and_empty_bodies_in_diffs() -> None:
    async with aiointercept() as m:
        m.post("/bin", repeat=True)
        await send(m, "POST", "/bin", content=b"\xff\xfe")
        with pytest.raises(AssertionError) as binary:
            m.assert_called_with("/bin", "POST", data=b"\xff")
        with pytest.raises(AssertionError) as empty:
            m.assert_called_with("/bin", "POST", data=b"")
    assert "body:\n    - b'\\xff'\n    + b'\\xff\\xfe'" in str(binary.value)
    assert "body:\n    - (empty)\n    + b'\\xff\\xfe'" in str(empty.value)


@pytest.mark.anyio
async def test_assert_called_with_headers_subset_and_strict() -> None:
    async with aiointercept() as m:
        m.get("/h")
        await send(m, "GET", "/h", headers={"X-Token": "abc"})
        m.assert_called_with("/h", headers={"x-token": "abc"})
        with pytest.raises(AssertionError) as caught:
            m.assert_called_with("/h", headers={"X-Token": "abd", "X-Other": "1"})
        message = str(caught.value)
        assert "header 'X-Token':\n    - 'abd'\n    + 'abc'" in message
        with pytest.raises(AssertionError, match="headers \\(strict\\):"):
            m.assert_called_with("/h", headers={"X-Token": "abc"}, strict_headers=True)
        last = m.last_request
        assert last is not None
        m.assert_called_with("/h", headers=dict(last.headers), strict_headers=True)


@pytest.mark.anyio
async def test_a_missing_header_is_reported_as_missing() -> None:
    async with aiointercept() as m:
        m.get("/h")
        await send(m, "GET", "/h")
        with pytest.raises(AssertionError, match="- 'abc'\n    \\+ \\(missing\\)"):
            m.assert_called_with("/h", headers={"X-Token": "abc"})


@pytest.mark.anyio
async def test_assert_called_with_lists_similar_requests_of_a_missing_url() -> None:
    async with aiointercept() as m:
        with pytest.raises(AssertionError, match=r"No requests were recorded\."):
            m.assert_called_with("/users")
        m.get(re.compile(".*"), repeat=True)
        m.post(re.compile(".*"), repeat=True)
        await send(m, "GET", "/users?page=1")
        await send(m, "POST", "/users", json={"name": "a"})
        await send(m, "GET", "/elsewhere/x")
        with pytest.raises(AssertionError) as caught:
            m.assert_called_with("/users", params={"page": 2})
    message = str(caught.value)
    lines = message.splitlines()
    assert lines[0] == (
        f"expected a call to GET {m.server_url}/users?page=2, but there was none."
    )
    assert lines[1] == "Recorded requests, closest first:"
    assert lines[2] == f"  GET {m.server_url}/users?page=1"
    assert lines[3] == "    - query: expected page=2, got page=1"
    assert f"  POST {m.server_url}/users" in lines
    assert "    - method: expected GET, got POST" in lines
    assert (
        message.index("/users?page=1")
        < message.index("POST")
        < message.index("/elsewhere/x")
    )


@pytest.mark.anyio
async def test_assert_called_with_after_the_block() -> None:
    async with aiointercept() as m:
        m.put("/doc")
        await send(m, "PUT", "/doc", json=[1, 2])
    m.assert_called_with("/doc", "PUT", json=[1, 2])
    m.assert_called_once_with(f"{m.server_url}/doc", "PUT", json=(1, 2))


@pytest.mark.anyio
async def test_assert_called_once_with() -> None:
    async with aiointercept() as m:
        m.post("/o", repeat=True)
        await send(m, "POST", "/o", json={"a": 1})
        m.assert_called_once_with("/o", "POST", json={"a": 1})
        with pytest.raises(AssertionError, match="json body"):
            m.assert_called_once_with("/o", "POST", json={"a": 2})
        await send(m, "POST", "/o", json={"a": 1})
        with pytest.raises(AssertionError) as caught:
            m.assert_called_once_with("/o", "POST", json={"a": 1})
        with pytest.raises(AssertionError, match="expected a call to POST"):
            m.assert_called_once_with("/nothing", "POST")
    assert str(caught.value).startswith(
        f"assert_called_once_with: expected 1 call to POST {m.server_url}/o, "
        "but it got 2:"
    )


@asyncio_only
@pytest.mark.anyio
async def test_assert_called_with_and_the_aiohttp_client() -> None:
    async with aiointercept() as m:
        m.post("/form")
        m.post("/json", match_query={"v": "2"})
        async with aiohttp.ClientSession(base_url=m.server_url) as session:
            await session.post("/form", data={"user": "ann"}, headers={"X-A": "1"})
            await session.post("/json", json={"ok": True}, params={"v": "2"})
    m.assert_called_with("/form", "POST", data={"user": "ann"}, headers={"X-A": "1"})
    m.assert_called_with("/json", "POST", {"v": "2"}, json={"ok": True})
    with pytest.raises(AssertionError):
        m.assert_called_with("/json", "POST", {"v": "2"}, json={"ok": 1})


# -- argument checks -------------------------------------------------------------------


BAD_ASSERTIONS: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"url": 42}, TypeError, "url must be a str or a yarl.URL, got 42"),
    ({"url": "users"}, ValueError, "absolute or a path starting with '/'.*'users'"),
    ({"method": "GE T"}, ValueError, "'GE T'"),
    ({"params": "a=1"}, TypeError, "params must be a mapping.*'a=1'"),
    ({"data": 12}, TypeError, "data must be bytes or str.*got 12"),
    ({"data": b"x", "json": {}}, TypeError, "either data= or json="),
    ({"headers": ["X"]}, TypeError, "headers must be a mapping"),
    ({"strict_headers": True}, ValueError, "strict_headers=True needs"),
    ({"strict_headers": "yes", "headers": {}}, TypeError, "strict_headers.*'yes'"),
    ({"json": object()}, TypeError, "json is not JSON serializable"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("kwargs", "error", "message"), BAD_ASSERTIONS)
async def test_assertion_arguments_are_checked(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    async with aiointercept() as m:
        m.get("/users")
        await send(m, "GET", "/users")
        arguments = {"url": "/users", **kwargs}
        for assertion in (
            m.assert_called_with,
            m.assert_called_once_with,
            m.assert_any_call,
        ):
            with pytest.raises(error, match=message):
                assertion(**arguments)


def test_relative_urls_need_a_block_that_ran() -> None:
    m = aiointercept()
    with pytest.raises(RuntimeError, match="server_url is set when the block starts"):
        m.assert_called_with("/users")


# -- route handles ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_handle_counts_and_keeps_the_calls_it_served() -> None:
    async with aiointercept() as m:
        first = m.get("/q", body="1")
        second = m.get("/q", body="2", repeat=2)
        assert (first.called, first.call_count, first.calls) == (False, 0, [])
        assert first.last_request is None
        assert (first.remaining, second.remaining) == (1, 2)
        for n in range(3):
            await send(m, "GET", f"/q#{n}")
        assert first.called
        assert first.call_count == 1
        assert second.call_count == 2
        assert first.remaining == 0
        assert first.calls[0] is m.requests[("GET", URL(f"{m.server_url}/q"))][0]
        assert second.last_request is m.last_request
        calls = second.calls
        calls.clear()  # a copy
        assert second.call_count == 2
    assert first.url == URL(f"{m.server_url}/q")
    assert repr(first) == f"<RegisteredRoute GET {m.server_url}/q (0 left), 1 call>"


@pytest.mark.anyio
async def test_handle_assertions_are_scoped_to_the_route() -> None:
    async with aiointercept() as m:
        used = m.get("/a")
        unused = m.get("/a")
        other = m.get("/b")
        await send(m, "GET", "/a")
        used.assert_called()
        used.assert_called_once()
        unused.assert_not_called()
        other.assert_not_called()
        with pytest.raises(AssertionError) as not_called:
            unused.assert_called()
        with pytest.raises(AssertionError, match="not to be called, but it got 1"):
            used.assert_not_called()
        with pytest.raises(AssertionError, match="no calls"):
            other.assert_called_once()
        await send(m, "GET", "/a")
        with pytest.raises(AssertionError, match="called once, but it got 2 calls"):
            m.assert_called_once()
    message = str(not_called.value)
    assert message.startswith(
        f"expected the route GET {m.server_url}/a (1 left) to be called, "
        "but it got no calls."
    )
    assert f"  GET {m.server_url}/a\n    - answered by a route registered earlier" in (
        message
    )


@pytest.mark.anyio
async def test_handle_assert_called_with_on_its_most_recent_call() -> None:
    async with aiointercept() as m:
        orders = m.post("/orders", repeat=True)
        await send(m, "POST", "/orders", json={"qty": 1}, headers={"X-A": "1"})
        await send(m, "POST", "/orders", json={"qty": 2})
        orders.assert_called_with(json={"qty": 2})
        orders.assert_called_with("/orders", json={"qty": 2})
        orders.assert_any_call(json={"qty": 1}, headers={"X-A": "1"})
        with pytest.raises(AssertionError) as caught:
            orders.assert_called_with(json={"qty": 1})
        with pytest.raises(AssertionError, match="expected 1 call"):
            orders.assert_called_once_with(json={"qty": 2})
        with pytest.raises(AssertionError, match="none with the expected arguments"):
            orders.assert_any_call(json={"qty": 3})
    message = str(caught.value)
    assert message.startswith(
        f"assert_called_with: the route POST {m.server_url}/orders (unlimited) "
        "was not called with the expected arguments."
    )
    assert '-   "qty": 1' in message


@pytest.mark.anyio
async def test_handle_url_and_params_for_pattern_routes() -> None:
    async with aiointercept() as m:
        users = m.get(re.compile(re.escape(m.server_url) + r"/users/\d+"), repeat=True)
        await send(m, "GET", "/users/41?full=1")
        await send(m, "GET", "/users/42")
        users.assert_called_with(f"{m.server_url}/users/42")
        users.assert_any_call(f"{m.server_url}/users/41", {"full": 1})
        users.assert_any_call(params={"full": "1"})
        with pytest.raises(AssertionError) as caught:
            users.assert_called_with(f"{m.server_url}/users/41")
        with pytest.raises(AssertionError, match="- full=2\n      \\+ full=1"):
            users.assert_any_call(params={"full": 2})
        with pytest.raises(ValueError, match="pass an absolute url"):
            users.assert_called_with("/users/42")
    assert "path:\n    - /users/41\n    + /users/42" in str(caught.value)


@pytest.mark.anyio
async def test_handle_relative_urls_use_the_route_host() -> None:
    async with aiointercept() as m:
        item = m.get("/items/1", match_query={"v": "1"}, repeat=True)
        await send(m, "GET", "/items/1?v=1")
    item.assert_called_once_with("/items/1?v=1")
    item.assert_called_once_with("/items/1", {"v": 1})
    with pytest.raises(AssertionError, match="query:\n    - \\(none\\)\n    \\+ v=1"):
        item.assert_called_with("/items/1")


@pytest.mark.anyio
async def test_handle_assertions_without_calls_show_why_requests_missed() -> None:
    async with aiointercept() as m:
        route = m.post("/orders", match_json={"qty": 2})
        await send(m, "POST", "/orders", json={"qty": 3})
        for assertion in (
            route.assert_called_with,
            route.assert_called_once_with,
            route.assert_any_call,
        ):
            with pytest.raises(AssertionError) as caught:
                assertion(json={"qty": 2})
            assert 'json body: expected {"qty": 2}, got {"qty": 3}' in str(caught.value)


@pytest.mark.anyio
async def test_handles_compare_by_registration() -> None:
    async with aiointercept() as m:
        route = m.get("/x")
        twin = m.get("/x")
        await send(m, "GET", "/y")
        (listed, _), (listed_twin, _) = m.unmatched[0].closest
    assert listed == route
    assert listed_twin == twin
    assert route != twin
    assert route != "GET /x"
    assert len({route, listed, twin}) == 2


# -- strict options --------------------------------------------------------------------


@pytest.mark.anyio
async def test_assert_all_called_lists_the_unused_routes() -> None:
    m = aiointercept(assert_all_called=True)
    unused: list[RegisteredRoute] = []

    async def block() -> None:
        async with m:
            m.get("/used")
            unused.append(m.post("/unused", match_json={"a": 1}))
            await send(m, "GET", "/used")

    with pytest.raises(StrictCheckError) as caught:
        await block()
    error = caught.value
    assert isinstance(error, AssertionError)
    assert error.unused_routes == tuple(unused)
    assert error.unmatched == ()
    assert str(error) == (
        "1 route was never called (assert_all_called=True):\n"
        f'  POST {m.server_url}/unused (1 left), json {{"a": 1}}'
    )


@pytest.mark.anyio
async def test_assert_all_matched_lists_the_unmatched_requests() -> None:
    m = aiointercept(assert_all_matched=True)

    async def block() -> None:
        async with m:
            m.get("/a", repeat=True)
            await send(m, "GET", "/a")
            await send(m, "GET", "/b", headers={"X-Trace": "t1"})
            await send(m, "DELETE", "/a")

    with pytest.raises(StrictCheckError) as caught:
        await block()
    error = caught.value
    assert error.unused_routes == ()
    assert error.unmatched == tuple(m.unmatched)
    assert len(error.unmatched) == 2
    message = str(error)
    assert message.startswith("2 requests matched no route (assert_all_matched=True):")
    assert f"  no route matches GET {m.server_url}/b\n    Request:" in message
    assert "X-Trace: t1" in message
    assert "- path: expected /a, got /b" in message
    assert "- method: expected GET, got DELETE" in message


@pytest.mark.anyio
async def test_both_strict_options_report_together() -> None:
    async def block() -> None:
        async with aiointercept(assert_all_called=True, assert_all_matched=True) as m:
            m.get("/a")
            m.get("/b")
            await send(m, "GET", "/c")

    with pytest.raises(StrictCheckError) as caught:
        await block()
    assert len(caught.value.unused_routes) == 2
    assert len(caught.value.unmatched) == 1
    assert "2 routes were never called" in str(caught.value)
    assert "1 request matched no route" in str(caught.value)


@pytest.mark.anyio
async def test_strict_options_pass_when_everything_is_used() -> None:
    async with aiointercept(assert_all_called=True, assert_all_matched=True) as m:
        m.get("/a")
        await send(m, "GET", "/a")


@pytest.mark.anyio
async def test_strict_options_are_off_by_default() -> None:
    async with aiointercept() as m:
        m.get("/never")
        await send(m, "GET", "/unmatched")
    assert len(m.unmatched) == 1


@pytest.mark.anyio
async def test_the_block_exception_wins_over_strict_checks() -> None:
    async def block() -> None:
        async with aiointercept(assert_all_called=True, assert_all_matched=True) as m:
            m.get("/never")
            await send(m, "GET", "/unmatched")
            raise LookupError("from the block")

    with pytest.raises(LookupError, match="from the block"):
        await block()


@pytest.mark.anyio
async def test_callback_errors_win_over_strict_checks() -> None:
    def broken(url: URL, **kwargs: Any) -> CallbackResult:
        raise RuntimeError("boom")

    async def block() -> None:
        async with aiointercept(assert_all_called=True) as m:
            m.get("/never")
            m.get("/broken", callback=broken)
            await send(m, "GET", "/broken")

    with pytest.raises(CallbackError, match="boom"):
        await block()


@pytest.mark.anyio
async def test_the_decorator_keeps_the_strict_options() -> None:
    @aiointercept(assert_all_called=True)
    async def registers_without_calling(m: aiointercept) -> RegisteredRoute:
        return m.get("/never")

    with pytest.raises(StrictCheckError, match="1 route was never called"):
        await registers_without_calling()


@pytest.mark.parametrize("option", ["assert_all_called", "assert_all_matched"])
def test_strict_options_must_be_bools(option: str) -> None:
    kwargs: dict[str, Any] = {option: "yes"}
    with pytest.raises(TypeError, match=f"{option} must be a bool or None, got 'yes'"):
        aiointercept(**kwargs)


def test_strict_failures_read_well_in_pytest_output(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_strict="""
        import asyncio
        import httpx
        from aiointercept import aiointercept

        async def scenario():
            async with aiointercept(
                assert_all_called=True, assert_all_matched=True
            ) as m:
                m.get("/users", payload=[])
                async with httpx.AsyncClient(base_url=m.server_url) as client:
                    try:
                        await client.get("/user")
                    except httpx.TransportError:
                        pass

        def test_it():
            asyncio.run(scenario())
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(failed=1)
    url = r"http://127\.0\.0\.1:\d+"
    result.stdout.re_match_lines(
        [
            r"E\s+aiointercept\.StrictCheckError: 1 route was never called "
            r"\(assert_all_called=True\):",
            rf"E\s+  GET {url}/users \(1 left\)",
            r"E\s+1 request matched no route \(assert_all_matched=True\):",
            rf"E\s+  no route matches GET {url}/user$",
            r"E\s+    Request:",
            rf"E\s+      GET {url}/user$",
            r"E\s+    Closest route:",
            rf"E\s+      GET {url}/users \(1 left\)",
            r"E\s+        - path: expected /users, got /user",
        ]
    )
    # the library's own frames are hidden: the traceback ends in the block
    assert "def _check_strict" not in result.stdout.str()
