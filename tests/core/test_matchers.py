"""Matching beyond method and URL: match_query, match_headers, match_json,
match_body, match_form and match=, their precedence and their validation."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import aiohttp
import httpx
import pytest

from aiointercept import (
    CallbackError,
    CallbackResult,
    RecordedRequest,
    RegisteredRoute,
    aiointercept,
)
from tests.support.backends import asyncio_only


async def status_of(client: httpx.AsyncClient, method: str, url: str, **kw: Any) -> int:
    """The response status, or 0 when the server closed the connection."""
    try:
        response = await client.request(method, url, **kw)
    except httpx.TransportError:
        return 0
    return response.status_code


# -- query -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_match_query_requires_the_given_parameters_and_allows_others() -> None:
    async with aiointercept() as m:
        m.get("/search", match_query={"q": "cats"}, repeat=True, status=201)
        async with httpx.AsyncClient(base_url=m.server_url) as client:
            assert await status_of(client, "GET", "/search?q=cats") == 201
            assert await status_of(client, "GET", "/search?page=2&q=cats") == 201
            assert await status_of(client, "GET", "/search?q=dogs") == 0
            assert await status_of(client, "GET", "/search") == 0
            assert await status_of(client, "GET", "/search/x?q=cats") == 0


@pytest.mark.anyio
async def test_match_query_values_lists_ints_and_any_order() -> None:
    async with aiointercept() as m:
        m.get("/items", match_query={"tag": ["a", "b"], "limit": 10}, repeat=True)
        async with httpx.AsyncClient(base_url=m.server_url) as client:
            assert await status_of(client, "GET", "/items?tag=b&limit=10&tag=a") == 200
            assert await status_of(client, "GET", "/items?tag=a&limit=10") == 0
            assert await status_of(client, "GET", "/items?tag=a&tag=b&limit=11") == 0


@pytest.mark.anyio
async def test_without_match_query_the_query_is_still_part_of_the_url() -> None:
    async with aiointercept() as m:
        m.get("/search", repeat=True)
        async with httpx.AsyncClient(base_url=m.server_url) as client:
            assert await status_of(client, "GET", "/search") == 200
            assert await status_of(client, "GET", "/search?q=cats") == 0


@pytest.mark.anyio
async def test_match_query_with_a_pattern() -> None:
    async with aiointercept() as m:
        pattern = re.compile(re.escape(m.server_url) + r"/users/\d+\?")
        m.get(pattern, match_query={"full": "1"}, repeat=True)
        async with httpx.AsyncClient(base_url=m.server_url) as client:
            assert await status_of(client, "GET", "/users/7?full=1") == 200
            assert await status_of(client, "GET", "/users/7?full=0") == 0


@pytest.mark.anyio
async def test_match_query_with_a_query_in_the_url_is_refused() -> None:
    async with aiointercept() as m:
        with pytest.raises(ValueError, match=r"page=1.*\{'q': 'x'\}"):
            m.get("/search?page=1", match_query={"q": "x"})


# -- headers ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_match_headers_is_a_case_insensitive_subset() -> None:
    async with aiointercept() as m:
        m.get("/me", match_headers={"authorization": "Bearer t0k"}, repeat=True)
        async with httpx.AsyncClient(base_url=m.server_url) as client:
            ok = {"Authorization": "Bearer t0k", "X-Other": "1"}
            assert await status_of(client, "GET", "/me", headers=ok) == 200
            wrong = {"Authorization": "Bearer nope"}
            assert await status_of(client, "GET", "/me", headers=wrong) == 0
            assert await status_of(client, "GET", "/me") == 0


@pytest.mark.anyio
async def test_match_headers_values_are_case_sensitive() -> None:
    async with aiointercept() as m:
        m.get("/x", match_headers={"X-Mode": "Fast"}, repeat=True)
        async with httpx.AsyncClient(base_url=m.server_url) as client:
            assert await status_of(client, "GET", "/x", headers={"X-Mode": "fast"}) == 0
            assert (
                await status_of(client, "GET", "/x", headers={"X-Mode": "Fast"}) == 200
            )


# -- bodies ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_match_json_compares_the_parsed_body() -> None:
    async with aiointercept() as m:
        m.post("/orders", match_json={"qty": 2, "tags": ["a"]}, repeat=True)
        async with httpx.AsyncClient(base_url=m.server_url) as client:
            body = {"tags": ["a"], "qty": 2}
            assert await status_of(client, "POST", "/orders", json=body) == 200
            other = {"tags": ["a"], "qty": 3}
            assert await status_of(client, "POST", "/orders", json=other) == 0
            assert await status_of(client, "POST", "/orders") == 0
            assert await status_of(client, "POST", "/orders", content=b"{nope") == 0


@pytest.mark.anyio
async def test_match_json_ignores_the_content_type() -> None:
    async with aiointercept() as m:
        m.post("/raw", match_json=[1, 2])
        async with httpx.AsyncClient(base_url=m.server_url) as client:
            content = b"[1, 2.0]"
            headers = {"Content-Type": "text/plain"}
            status = await status_of(
                client, "POST", "/raw", content=content, headers=headers
            )
            assert status == 200


@pytest.mark.anyio
async def test_match_json_tells_booleans_from_numbers() -> None:
    async with aiointercept() as m:
        m.post("/flag", match_json={"on": True}, repeat=True)
        async with httpx.AsyncClient(base_url=m.server_url) as client:
            assert await status_of(client, "POST", "/flag", json={"on": 1}) == 0
            assert await status_of(client, "POST", "/flag", json={"on": True}) == 200


@pytest.mark.anyio
async def test_match_body_compares_raw_bytes_and_str_as_utf8() -> None:
    async with aiointercept() as m:
        m.put("/blob", match_body=b"\x00\x01", status=204)
        m.put("/text", match_body="héllo", status=204)
        async with httpx.AsyncClient(base_url=m.server_url) as client:
            assert await status_of(client, "PUT", "/blob", content=b"\x00\x02") == 0
            assert await status_of(client, "PUT", "/blob", content=b"\x00\x01") == 204
            text = "héllo".encode()
            assert await status_of(client, "PUT", "/text", content=text) == 204


@pytest.mark.anyio
async def test_match_form_compares_a_urlencoded_body() -> None:
    async with aiointercept() as m:
        m.post("/login", match_form={"user": "ann", "role": ["b", "a"]}, repeat=True)
        async with httpx.AsyncClient(base_url=m.server_url) as client:
            form = {"role": ["a", "b"], "user": "ann"}
            assert await status_of(client, "POST", "/login", data=form) == 200
            extra = {"role": ["a", "b"], "user": "ann", "x": "1"}
            assert await status_of(client, "POST", "/login", data=extra) == 0
            assert await status_of(client, "POST", "/login", content=b"\xff") == 0
            assert await status_of(client, "POST", "/login", content=b"a=1&&=") == 0


@asyncio_only
@pytest.mark.anyio
async def test_body_matchers_with_the_aiohttp_client() -> None:
    async with aiointercept() as m:
        m.post("/form", match_form={"a": "1"}, body="form")
        m.post("/json", match_json={"a": 1}, body="json")
        async with aiohttp.ClientSession(base_url=m.server_url) as session:
            async with session.post("/form", data={"a": "1"}) as response:
                assert await response.text() == "form"
            async with session.post("/json", json={"a": 1}) as response:
                assert await response.text() == "json"
            with pytest.raises(aiohttp.ClientConnectionError):
                await session.post("/json", json={"a": 2})


# -- predicate -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_match_predicate_receives_the_recorded_request() -> None:
    seen: list[RecordedRequest] = []

    def is_admin(request: RecordedRequest) -> bool:
        seen.append(request)
        return request.headers.get("X-Role") == "admin"

    async with aiointercept() as m:
        m.delete("/users/1", match=is_admin, status=204)
        async with httpx.AsyncClient(base_url=m.server_url) as client:
            user = {"X-Role": "user"}
            assert await status_of(client, "DELETE", "/users/1", headers=user) == 0
            admin = {"X-Role": "admin"}
            assert await status_of(client, "DELETE", "/users/1", headers=admin) == 204
    assert all(isinstance(r, RecordedRequest) for r in seen)
    assert seen[-1] is m.last_request


@pytest.mark.anyio
async def test_a_predicate_that_raises_does_not_match_and_fails_the_block() -> None:
    def broken(request: RecordedRequest) -> bool:
        raise KeyError("role")

    async def block() -> None:
        async with aiointercept() as m:
            m.get("/x", match=broken)
            async with httpx.AsyncClient(base_url=m.server_url) as client:
                assert await status_of(client, "GET", "/x") == 0

    with pytest.raises(CallbackError, match=r"match=.*broken.*KeyError") as caught:
        await block()
    assert isinstance(caught.value.__cause__, KeyError)
    assert caught.value.request.method == "GET"


@pytest.mark.anyio
async def test_a_predicate_is_only_asked_when_everything_else_fits() -> None:
    calls: list[str] = []

    def predicate(request: RecordedRequest) -> bool:
        calls.append(request.url.path)
        return True

    async with aiointercept() as m:
        m.post("/x", match_json={"a": 1}, match=predicate, repeat=True)
        async with httpx.AsyncClient(base_url=m.server_url) as client:
            assert await status_of(client, "POST", "/x", json={"a": 2}) == 0
            assert await status_of(client, "POST", "/x", json={"a": 1}) == 200
    assert calls == ["/x"]


@pytest.mark.anyio
async def test_all_matchers_must_pass() -> None:
    async with aiointercept() as m:
        m.post(
            "/all",
            match_query={"v": "1"},
            match_headers={"X-Key": "k"},
            match_json={"a": 1},
            match=lambda request: request.query.getall("v") == ["1"],
            repeat=True,
        )
        async with httpx.AsyncClient(base_url=m.server_url) as client:
            good: dict[str, Any] = {"headers": {"X-Key": "k"}, "json": {"a": 1}}
            assert await status_of(client, "POST", "/all?v=1", **good) == 200
            assert await status_of(client, "POST", "/all?v=2", **good) == 0
            no_header = {"json": {"a": 1}}
            assert await status_of(client, "POST", "/all?v=1", **no_header) == 0
            wrong_json = {**good, "json": {"a": 2}}
            assert await status_of(client, "POST", "/all?v=1", **wrong_json) == 0


@pytest.mark.anyio
async def test_matchers_combine_with_callbacks_and_exception() -> None:
    async with aiointercept() as m:
        m.get("/x", match_headers={"X-Fail": "1"}, exception=True)
        m.get("/x", callback=lambda url, **kw: _result(kw["query"]), repeat=True)
        async with httpx.AsyncClient(base_url=m.server_url) as client:
            assert await status_of(client, "GET", "/x", headers={"X-Fail": "1"}) == 0
            assert await status_of(client, "GET", "/x") == 202


def _result(query: dict[str, list[str]]) -> CallbackResult:
    return CallbackResult(status=202, payload=query)


# -- precedence ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_first_registered_route_whose_matchers_pass_wins() -> None:
    async with aiointercept() as m:
        m.post("/p", match_json={"kind": "a"}, body="a", repeat=True)
        m.post("/p", match_json={"kind": "b"}, body="b", repeat=True)
        m.post("/p", body="any", repeat=True)
        async with httpx.AsyncClient(base_url=m.server_url) as client:
            texts = [
                (await client.post("/p", json={"kind": kind})).text
                for kind in ("b", "a", "c")
            ]
    assert texts == ["b", "a", "any"]


@pytest.mark.anyio
async def test_a_catch_all_registered_first_refuses_later_matchers() -> None:
    async with aiointercept() as m:
        m.post("/p", body="any", repeat=True)
        with pytest.raises(ValueError, match="could never serve"):
            m.post("/p", match_json={"kind": "a"}, body="a", repeat=True)
        async with httpx.AsyncClient(base_url=m.server_url) as client:
            assert (await client.post("/p", json={"kind": "a"})).text == "any"


@pytest.mark.anyio
async def test_exhausted_routes_are_skipped() -> None:
    async with aiointercept() as m:
        m.post("/p", match_json={"n": 1}, body="first")
        m.post("/p", body="fallback", repeat=True)
        async with httpx.AsyncClient(base_url=m.server_url) as client:
            texts = [(await client.post("/p", json={"n": 1})).text for _ in range(2)]
    assert texts == ["first", "fallback"]


@pytest.mark.anyio
async def test_query_matcher_and_exact_query_routes_in_registration_order() -> None:
    async with aiointercept() as m:
        m.get("/s", match_query={"q": "x"}, body="matcher")
        m.get("/s?page=1&q=x", body="exact")
        m.get("/s?page=1&q=x", body="exact again")
        m.get("/s", match_query={"q": "x"}, body="matcher again")
        async with httpx.AsyncClient(base_url=m.server_url) as client:
            texts = [(await client.get("/s?q=x&page=1")).text for _ in range(4)]
    assert texts == ["matcher", "exact", "exact again", "matcher again"]


@pytest.mark.anyio
async def test_pattern_routes_with_matchers_fall_through_to_later_routes() -> None:
    async with aiointercept() as m:
        everything = re.compile(re.escape(m.server_url) + "/.*")
        m.get(everything, match_headers={"X-Beta": "1"}, body="beta", repeat=True)
        m.get("/page", body="stable", repeat=True)
        async with httpx.AsyncClient(base_url=m.server_url) as client:
            assert (await client.get("/page")).text == "stable"
            beta = await client.get("/page", headers={"X-Beta": "1"})
            assert beta.text == "beta"


# -- handles from every shortcut -------------------------------------------------------


@pytest.mark.anyio
async def test_add_and_every_shortcut_return_a_route_handle() -> None:
    async with aiointercept() as m:
        shortcuts: dict[str, Callable[..., RegisteredRoute]] = {
            "GET": m.get,
            "POST": m.post,
            "PUT": m.put,
            "PATCH": m.patch,
            "DELETE": m.delete,
            "HEAD": m.head,
            "OPTIONS": m.options,
        }
        for method, shortcut in shortcuts.items():
            route = shortcut("/r", match_headers={"X-M": method})
            assert isinstance(route, RegisteredRoute)
            assert route.method == method
        added = m.add("/r", "trace")
        assert added.method == "TRACE"
        async with httpx.AsyncClient(base_url=m.server_url) as client:
            for method in shortcuts:
                headers = {"X-M": method}
                assert await status_of(client, method, "/r", headers=headers) == 200


# -- validation ------------------------------------------------------------------------


BAD_ARGUMENTS: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"match_query": "q=x"}, TypeError, "match_query must be a mapping.*'q=x'"),
    ({"match_query": {}}, ValueError, "match_query must not be empty"),
    ({"match_query": {"q": True}}, TypeError, r"match_query\['q'\].*True"),
    ({"match_query": {"q": None}}, TypeError, r"match_query\['q'\].*None"),
    (
        {"match_query": {"q": []}},
        ValueError,
        r"match_query\['q'\] must not be an empty list",
    ),
    ({"match_query": {1: "x"}}, TypeError, "match_query keys must be str, got 1"),
    ({"match_headers": ["X-A"]}, TypeError, r"match_headers must be a mapping.*X-A"),
    ({"match_headers": {}}, ValueError, "match_headers must not be empty"),
    ({"match_headers": {"Bad Name": "v"}}, ValueError, "'Bad Name'"),
    ({"match_headers": {"X-A": 1}}, TypeError, r"match_headers\['X-A'\].*got 1"),
    ({"match_json": {1, 2}}, TypeError, r"match_json is not JSON serializable"),
    ({"match_body": 12}, TypeError, "match_body must be str or bytes, got 12"),
    ({"match_form": "a=1"}, TypeError, "match_form must be a mapping.*'a=1'"),
    ({"match_form": {"a": object}}, TypeError, r"match_form\['a'\]"),
    ({"match": "yes"}, TypeError, "match must be a callable.*'yes'"),
    (
        {"match_json": {"a": 1}, "match_body": b"x"},
        TypeError,
        "at most one of match_json, match_body and match_form.*match_json and "
        "match_body",
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("kwargs", "error", "message"), BAD_ARGUMENTS)
async def test_invalid_matchers_are_refused_at_registration(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    # assert_all_called would fail the block if the bad route had been added
    async with aiointercept(assert_all_called=True) as m:
        with pytest.raises(error, match=message):
            m.post("/x", **kwargs)


@pytest.mark.anyio
async def test_async_predicates_are_refused() -> None:
    async def predicate(request: RecordedRequest) -> bool:
        return True

    class AsyncCallable:
        async def __call__(self, request: RecordedRequest) -> bool:
            return True

    async with aiointercept() as m:
        for value in (predicate, AsyncCallable()):
            with pytest.raises(TypeError, match="not an async function"):
                m.get("/x", match=value)  # type: ignore[arg-type]
