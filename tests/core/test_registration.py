"""Registration: ``add()``, the method shortcuts, URL forms and input validation."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from yarl import URL

from aiointercept import CallbackResult, ServerSentEvents, aiointercept
from tests.support import internals

SHORTCUTS = ["get", "post", "put", "patch", "delete", "head", "options"]


def shortcut(m: aiointercept, name: str) -> Callable[..., None]:
    registrar: Callable[..., None] = getattr(m, name)
    return registrar


class Unserializable:
    """Not JSON serializable, with a recognizable repr."""

    def __repr__(self) -> str:
        return "<Unserializable thing 7f3a>"


# -- the method shortcuts --------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("name", SHORTCUTS)
async def test_shortcut_forwards_static_response_keywords(name: str) -> None:
    method = name.upper()
    async with aiointercept() as m:
        shortcut(m, name)(
            "/static",
            status=203,
            body="forwarded body",
            headers={"X-Forwarded-Kw": "yes"},
            content_type="text/plain; charset=utf-8",
            reason="Forwarded Reason",
            repeat=2,
        )
        async with httpx.AsyncClient() as client:
            first = await client.request(method, f"{m.server_url}/static")
            second = await client.request(method, f"{m.server_url}/static")
            with pytest.raises(httpx.TransportError):
                await client.request(method, f"{m.server_url}/static")
    for response in (first, second):
        assert response.status_code == 203
        assert response.reason_phrase == "Forwarded Reason"
        assert response.headers["X-Forwarded-Kw"] == "yes"
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        expected = b"" if method == "HEAD" else b"forwarded body"
        assert response.content == expected
    assert len(m.requests[(method, URL(f"{m.server_url}/static"))]) == 3


@pytest.mark.anyio
@pytest.mark.parametrize("name", SHORTCUTS)
async def test_shortcut_forwards_json_payload_callback_and_exception(
    name: str,
) -> None:
    method = name.upper()
    seen: list[str] = []

    def callback(url: URL, **kwargs: Any) -> CallbackResult:
        seen.append(kwargs["method"])
        return CallbackResult(status=202, payload={"from": "callback"})

    async with aiointercept() as m:
        register = shortcut(m, name)
        register("/json", json={"kind": "json"})
        register("/payload", payload={"kind": "payload"})
        register("/callback", callback=callback)
        register("/exception", exception=True)
        async with httpx.AsyncClient() as client:
            json_response = await client.request(method, f"{m.server_url}/json")
            payload_response = await client.request(method, f"{m.server_url}/payload")
            callback_response = await client.request(method, f"{m.server_url}/callback")
            with pytest.raises(httpx.TransportError):
                await client.request(method, f"{m.server_url}/exception")
    assert seen == [method]
    assert callback_response.status_code == 202
    if method != "HEAD":
        assert json_response.json() == {"kind": "json"}
        assert payload_response.json() == {"kind": "payload"}
        assert callback_response.json() == {"from": "callback"}
    else:
        assert json_response.headers["Content-Length"] == str(len(b'{"kind": "json"}'))
        assert payload_response.headers["Content-Length"] == str(
            len(b'{"kind": "payload"}')
        )


@pytest.mark.anyio
@pytest.mark.parametrize("name", SHORTCUTS)
async def test_shortcut_registers_only_its_own_method(name: str) -> None:
    method = name.upper()
    other = "POST" if method != "POST" else "PUT"
    async with aiointercept() as m:
        shortcut(m, name)("/only", repeat=True, status=204)
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.TransportError):
                await client.request(other, f"{m.server_url}/only")
            response = await client.request(method, f"{m.server_url}/only")
    assert response.status_code == 204


# -- url forms -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_url_as_absolute_str() -> None:
    async with aiointercept() as m:
        m.get(f"{m.server_url}/abs", payload={"form": "str"})
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}/abs")
    assert response.json() == {"form": "str"}


@pytest.mark.anyio
async def test_url_as_yarl_url() -> None:
    async with aiointercept() as m:
        m.get(URL(m.server_url) / "yarl" / "path", payload={"form": "yarl"})
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}/yarl/path")
    assert response.json() == {"form": "yarl"}


@pytest.mark.anyio
async def test_url_as_relative_path_means_server_url_plus_path() -> None:
    async with aiointercept() as m:
        m.get("/api/users", payload=[{"id": 1}])
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}/api/users")
            with pytest.raises(httpx.TransportError):
                await client.get(f"{m.server_url}/api/users")
    assert response.json() == [{"id": 1}]
    assert list(m.requests) == [("GET", URL(f"{m.server_url}/api/users"))]


@pytest.mark.anyio
async def test_relative_path_with_query_matches_normalized_request() -> None:
    async with aiointercept() as m:
        m.get("/search?b=2&a=1", payload={"found": True})
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}/search?a=1&b=2")
    assert response.json() == {"found": True}


@pytest.mark.anyio
async def test_registered_url_is_normalized_fragment_and_empty_path() -> None:
    async with aiointercept() as m:
        m.get(f"{m.server_url}/frag#section", payload={"frag": True})
        m.get(m.server_url, payload={"root": True})
        async with httpx.AsyncClient() as client:
            frag = await client.get(f"{m.server_url}/frag")
            root = await client.get(f"{m.server_url}/")
    assert frag.json() == {"frag": True}
    assert root.json() == {"root": True}


@pytest.mark.anyio
async def test_regex_pattern_matches_a_family_of_urls() -> None:
    async with aiointercept() as m:
        pattern = re.compile(re.escape(m.server_url) + r"/users/\d+$")
        m.get(pattern, repeat=True, payload={"id": 1})
        async with httpx.AsyncClient() as client:
            one = await client.get(f"{m.server_url}/users/1")
            many = await client.get(f"{m.server_url}/users/4242")
            with pytest.raises(httpx.TransportError):
                await client.get(f"{m.server_url}/users/abc")
    assert one.json() == {"id": 1}
    assert many.json() == {"id": 1}


@pytest.mark.anyio
async def test_regex_pattern_is_matched_from_the_start_of_the_full_url() -> None:
    async with aiointercept() as m:
        # Only a path: ``.match`` against the full URL (scheme first) never matches.
        m.get(re.compile(r"/users/\d+"), repeat=True, payload={"path": True})
        # ``.match``, not ``fullmatch``: a prefix of the full URL is enough.
        m.get(re.compile(re.escape(m.server_url) + "/pre"), payload={"prefix": True})
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.TransportError):
                await client.get(f"{m.server_url}/users/1")
            prefix = await client.get(f"{m.server_url}/prefix/and/more")
    assert prefix.json() == {"prefix": True}


@pytest.mark.anyio
async def test_regex_pattern_sees_the_normalized_url() -> None:
    async with aiointercept() as m:
        m.get(
            re.compile(re.escape(f"{m.server_url}/s?a=1&b=2") + "$"),
            payload={"sorted": True},
        )
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}/s?b=2&a=1")
    assert response.json() == {"sorted": True}


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["post", "Post", "pOsT", "POST"])
async def test_method_is_case_insensitive(method: str) -> None:
    async with aiointercept() as m:
        m.add("/items", method=method, status=201)
        async with httpx.AsyncClient() as client:
            response = await client.post(f"{m.server_url}/items")
    assert response.status_code == 201
    assert list(m.requests) == [("POST", URL(f"{m.server_url}/items"))]


@pytest.mark.anyio
async def test_add_positional_method_and_extension_method() -> None:
    async with aiointercept() as m:
        m.add("/cache", "purge", status=204)
        m.add("/thing", "delete", status=202)
        async with httpx.AsyncClient() as client:
            purge = await client.request("PURGE", f"{m.server_url}/cache")
            delete = await client.delete(f"{m.server_url}/thing")
    assert purge.status_code == 204
    assert delete.status_code == 202


@pytest.mark.anyio
async def test_add_defaults_to_get_status_200_empty_body() -> None:
    async with aiointercept() as m:
        m.add("/default")
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.TransportError):
                await client.post(f"{m.server_url}/default")
            response = await client.get(f"{m.server_url}/default")
    assert response.status_code == 200
    assert response.content == b""


#: URLs as text: canonical ones, and ones that normalizing changes.
URL_TEXTS = [
    "http://api.test/a",
    "http://api.test:8080/a/b-c_d.e~f",
    "https://api.test/a/",
    "http://api.test",
    "http://api.test/",
    "http://API.Test/a",
    "http://api.test:80/a",
    "https://api.test:443/a",
    "https://api.test:80/a",
    "http://api.test./a",
    "http://api.test/a/../b",
    "http://api.test/a/./b",
    "http://api.test/a/.",
    "http://api.test/.well-known/x",
    "http://api.test/a//b",
    "http://api.test/~user",
    "http://api.test/%7Euser",
    "http://api.test/caf%C3%A9",
    "http://api.test/café",
    "http://api.test/a b",
    "http://api.test/a?y=2&x=1",
    "http://api.test/a#frag",
    "http://user@api.test/a",
    "http://127.0.0.1:8000/a",
    "http://[::1]:8000/a",
    "http://xn--caf-dma.test/a",
]


@pytest.mark.parametrize("text", URL_TEXTS)
def test_url_as_text_is_registered_as_the_same_yarl_url(text: str) -> None:
    with (
        aiointercept(mock_external_urls=True) as by_text,
        aiointercept(mock_external_urls=True) as by_url,
    ):
        by_text.get(text)
        by_url.get(URL(text))
    assert list(by_text.handlers) == list(by_url.handlers)
    assert [str(url) for url, _ in by_text.handlers] == [
        str(url) for url, _ in by_url.handlers
    ]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path",
    ["/a", "/a/", "/", "/a/b-c_d.e~f", "/a//b", "/a/../b", "/.x", "/%7Eu", "/a b"],
)
async def test_relative_url_is_registered_as_the_absolute_one(path: str) -> None:
    async with aiointercept() as m:
        m.get(path, body="relative")
        m.get(URL(m.server_url + path), body="absolute")
        assert [len(handles) for handles in m.handlers.values()] == [2]
        async with httpx.AsyncClient() as client:
            url = str(next(iter(m.handlers))[0])
            first = await client.get(url)
            second = await client.get(url)
    assert (first.text, second.text) == ("relative", "absolute")


@pytest.mark.anyio
async def test_a_payload_is_serialized_when_it_is_registered() -> None:
    payload: dict[str, Any] = {"items": [1]}
    async with aiointercept() as m:
        m.get("/first", payload=payload)
        payload["items"].append(2)
        m.get("/second", payload=payload)
        m.get("/third", json=payload, repeat=True)
        payload["items"].append(3)
        payload["late"] = True
        async with httpx.AsyncClient() as client:
            first = await client.get(f"{m.server_url}/first")
            second = await client.get(f"{m.server_url}/second")
            third = [await client.get(f"{m.server_url}/third") for _ in range(2)]
    assert first.json() == {"items": [1]}
    assert second.json() == {"items": [1, 2]}
    assert [response.json() for response in third] == [{"items": [1, 2]}] * 2


@pytest.mark.anyio
async def test_each_of_many_exact_routes_answers_its_own_url() -> None:
    count = 10_000
    async with aiointercept() as m:
        for i in range(count):
            m.get(f"/items/{i}", payload={"id": i}, repeat=True)
        m.get(f"{m.server_url}/items/{count}", body="last")
        sample = [0, 1, count - 1, *range(7, count, 211)]
        async with httpx.AsyncClient() as client:
            answers = [
                (await client.get(f"{m.server_url}/items/{i}")).json() for i in sample
            ]
            last = await client.get(f"{m.server_url}/items/{count}")
    assert answers == [{"id": i} for i in sample]
    assert last.text == "last"
    assert len(m.handlers) == count + 1


@pytest.mark.anyio
async def test_exact_and_pattern_routes_answer_in_registration_order() -> None:
    async with aiointercept() as m:
        digits = re.compile(re.escape(m.server_url) + r"/r/\d+$")
        m.get(digits, body="pattern 1")
        m.get("/r/1", body="exact 1", repeat=2)
        m.get(re.compile(re.escape(m.server_url) + "/r/"), body="pattern 2")
        m.get("/r/1", body="exact 2")
        m.get(digits, body="pattern 3")
        async with httpx.AsyncClient() as client:
            answers = [(await client.get(f"{m.server_url}/r/1")).text for _ in range(6)]
            with pytest.raises(httpx.TransportError):
                await client.get(f"{m.server_url}/r/1")
    assert answers == [
        "pattern 1",
        "exact 1",
        "exact 1",
        "pattern 2",
        "exact 2",
        "pattern 3",
    ]


def test_a_repeat_true_pattern_refuses_itself_among_many_patterns() -> None:
    with aiointercept(mock_external_urls=True) as m:
        for i in range(100):
            m.get(re.compile(rf"http://api\.test/{i}/\d+"), repeat=i % 2 == 0)
        m.get(re.compile(r"http://api\.test/1/\d+"))  # that one serves once
        m.get(re.compile(r"http://api\.test/50/\d+", re.IGNORECASE))  # another one
        with pytest.raises(
            ValueError, match=r"http://api\\.test/50/\\d\+ \(unlimited\)"
        ):
            m.get(re.compile(r"http://api\.test/50/\d+"), status=500)
    assert len(m.handlers) == 101


# -- bad input: add() ------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("status", [99, 600, 0, -200, 1000])
async def test_status_out_of_range_is_a_value_error(status: int) -> None:
    async with aiointercept() as m:
        with pytest.raises(ValueError, match=re.escape(repr(status))):
            m.get("/x", status=status)


@pytest.mark.anyio
@pytest.mark.parametrize("status", ["200", 200.0, True, False, None])
async def test_status_not_an_int_is_a_type_error(status: object) -> None:
    async with aiointercept() as m:
        with pytest.raises(TypeError, match=re.escape(repr(status))):
            m.get("/x", status=status)  # type: ignore[arg-type]


@pytest.mark.anyio
@pytest.mark.parametrize("status", [100, 599])
async def test_status_bounds_are_accepted(status: int) -> None:
    async with aiointercept() as m:
        m.get("/x", status=status)


@pytest.mark.anyio
@pytest.mark.parametrize("repeat", [0, -1, -100])
async def test_repeat_zero_or_negative_is_a_value_error(repeat: int) -> None:
    async with aiointercept() as m:
        with pytest.raises(ValueError, match=re.escape(repr(repeat))):
            m.get("/x", repeat=repeat)


@pytest.mark.anyio
@pytest.mark.parametrize("repeat", ["3", 2.0, None, [1]])
async def test_repeat_not_bool_or_int_is_a_type_error(repeat: object) -> None:
    async with aiointercept() as m:
        with pytest.raises(TypeError, match=re.escape(repr(repeat))):
            m.get("/x", repeat=repeat)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "method", ["GE T", "GET /x", "GE\r\nT", "", "GÉT", "GET\n", "(GET)"]
)
def test_method_not_an_http_token_is_a_value_error(method: str) -> None:
    m = aiointercept()
    with pytest.raises(ValueError, match=re.escape(repr(method))):
        m.add("http://127.0.0.1:1/x", method=method)


@pytest.mark.parametrize("method", [1, None, b"GET"])
def test_method_not_a_str_is_a_type_error(method: object) -> None:
    m = aiointercept()
    with pytest.raises(TypeError, match=re.escape(repr(method))):
        m.add("http://127.0.0.1:1/x", method=method)  # type: ignore[arg-type]


@pytest.mark.parametrize("url", [123, b"/x", None, 1.5, ["/x"]])
def test_url_of_another_type_is_a_type_error(url: object) -> None:
    m = aiointercept()
    with pytest.raises(TypeError, match=re.escape(repr(url))):
        m.get(url)  # type: ignore[arg-type]


def test_url_bytes_pattern_is_a_type_error() -> None:
    m = aiointercept()
    pattern = re.compile(b"^http://")
    with pytest.raises(TypeError, match=re.escape(repr(pattern))):
        m.get(pattern)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "ws://127.0.0.1/socket", "file:///etc/hosts"]
)
def test_url_with_a_non_http_scheme_is_a_value_error(url: str) -> None:
    m = aiointercept()
    with pytest.raises(ValueError, match=re.escape(repr(url))):
        m.get(url)


def test_url_with_a_non_http_scheme_as_yarl_url_is_a_value_error() -> None:
    m = aiointercept()
    with pytest.raises(ValueError, match=re.escape("ftp://example.com/x")):
        m.get(URL("ftp://example.com/x"))


@pytest.mark.anyio
async def test_relative_url_without_leading_slash_is_a_value_error() -> None:
    async with aiointercept() as m:
        with pytest.raises(ValueError, match=re.escape("'api/users'")):
            m.get("api/users")


def test_relative_path_before_the_block_is_a_value_error() -> None:
    m = aiointercept()
    with pytest.raises(ValueError, match=re.escape("'/api/users'")):
        m.get("/api/users")


@pytest.mark.anyio
async def test_absolute_url_can_be_registered_before_the_block() -> None:
    m = aiointercept(mock_external_urls=True)
    m.get("https://api.example.com/users", payload=[])
    m.get(URL("http://api.example.com/other"), body="other")
    m.get(re.compile(r"^https://api\.example\.com/"), body="pattern")
    async with m, httpx.AsyncClient() as client:
        assert (await client.get("https://api.example.com/users")).json() == []
        assert (await client.get("http://api.example.com/other")).text == "other"
        assert (await client.get("https://api.example.com/x")).text == "pattern"


@pytest.mark.parametrize("kw", ["json", "payload"])
def test_json_not_serializable_is_a_type_error(kw: str) -> None:
    m = aiointercept()
    value = {"thing": Unserializable()}
    arguments: dict[str, Any] = {kw: value}
    with pytest.raises(TypeError, match=re.escape("<Unserializable thing 7f3a>")):
        m.get("http://127.0.0.1:1/x", **arguments)


@pytest.mark.parametrize("kw", ["json", "payload"])
def test_json_with_a_set_is_not_serializable(kw: str) -> None:
    m = aiointercept()
    arguments: dict[str, Any] = {kw: {"ids": {1, 2}}}
    with pytest.raises(TypeError, match=re.escape(kw)):
        m.get("http://127.0.0.1:1/x", **arguments)


def test_json_and_payload_together_are_rejected() -> None:
    m = aiointercept()
    with pytest.raises(TypeError, match=r"json.*payload"):
        m.get("http://127.0.0.1:1/x", json={"a": 1}, payload={"b": 2})


@pytest.mark.parametrize(
    "headers",
    [{"X-Number": 1}, {"X-Bytes": b"v"}, [("X-None", None)]],
)
def test_header_with_a_non_str_value_is_a_type_error(headers: Any) -> None:
    m = aiointercept()
    items = headers.items() if isinstance(headers, dict) else headers
    bad_value = next(iter(items))[1]
    with pytest.raises(TypeError, match=re.escape(repr(bad_value))):
        m.get("http://127.0.0.1:1/x", headers=headers)


@pytest.mark.parametrize(
    "value", ["a\r\nInjected: 1", "line\nbreak", "carriage\rreturn"]
)
def test_header_value_with_cr_or_lf_is_a_value_error(value: str) -> None:
    m = aiointercept()
    with pytest.raises(ValueError, match=re.escape(repr(value))):
        m.get("http://127.0.0.1:1/x", headers={"X-Evil": value})


@pytest.mark.parametrize(
    "name", ["X-Evil\r\nInjected", "Bad Name", "", "X-Evil\n", "X-Evil\r"]
)
def test_header_name_that_is_not_a_token_is_a_value_error(name: str) -> None:
    m = aiointercept()
    with pytest.raises(ValueError, match=re.escape(repr(name))):
        m.get("http://127.0.0.1:1/x", headers={name: "v"})


@pytest.mark.parametrize("callback", ["not callable", 42, {"a": 1}])
def test_callback_not_callable_is_a_type_error(callback: object) -> None:
    m = aiointercept()
    with pytest.raises(TypeError, match=re.escape(repr(callback))):
        m.get("http://127.0.0.1:1/x", callback=callback)  # type: ignore[arg-type]


def _callback(url: URL, **kwargs: Any) -> CallbackResult:
    return CallbackResult()


STATIC_ARGS: list[dict[str, Any]] = [
    {"status": 500},
    {"body": "text"},
    {"body": b"bytes"},
    {"json": {"a": 1}},
    {"payload": {"a": 1}},
    {"headers": {"X-A": "1"}},
    {"content_type": "text/plain"},
    {"reason": "Because"},
]


@pytest.mark.parametrize("exception", [True, RuntimeError("boom")])
def test_exception_with_callback_is_rejected(exception: object) -> None:
    m = aiointercept()
    with pytest.raises(TypeError, match="exception"):
        m.get("http://127.0.0.1:1/x", exception=exception, callback=_callback)


@pytest.mark.parametrize("static", STATIC_ARGS)
def test_exception_with_response_arguments_is_rejected(
    static: dict[str, Any],
) -> None:
    m = aiointercept()
    with pytest.raises(TypeError, match="exception"):
        m.get("http://127.0.0.1:1/x", exception=True, **static)


@pytest.mark.parametrize(
    "delivery",
    [{"delay": 1}, {"fault": "reset"}, {"chunk_delay": 0.1}, {"compress": True}],
)
def test_callback_with_delivery_arguments_is_rejected(
    delivery: dict[str, Any],
) -> None:
    # the static response arguments are allowed (the response for a callback
    # that returns None); how to deliver belongs in the CallbackResult
    m = aiointercept()
    with pytest.raises(TypeError, match="callback"):
        m.get("http://127.0.0.1:1/x", callback=_callback, **delivery)


@pytest.mark.anyio
async def test_rejected_registration_registers_nothing() -> None:
    async with aiointercept() as m:
        with pytest.raises(ValueError, match="600"):
            m.get("/x", status=600)
        with pytest.raises(TypeError, match="callback"):
            m.get("/x", callback=_callback, fault="reset")
        with pytest.raises(TypeError, match="exception"):
            m.get("/x", exception=True, payload={"a": 1})
        m.get("/x", status=202)
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}/x")
            with pytest.raises(httpx.TransportError):
                await client.get(f"{m.server_url}/x")
    assert response.status_code == 202


# -- misspelt keywords -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["add", *SHORTCUTS])
@pytest.mark.parametrize(
    ("typo", "meant"),
    [("stauts", "status"), ("paylaod", "payload"), ("jsno", "json"), ("bdy", "body")],
)
def test_a_misspelt_keyword_suggests_the_one_meant(
    name: str, typo: str, meant: str
) -> None:
    m = aiointercept()
    arguments: dict[str, Any] = {typo: 500}
    with pytest.raises(TypeError) as raised:
        shortcut(m, name)("https://api.example.com/x", **arguments)
    assert str(raised.value) == (
        f"{name}() got an unexpected keyword argument {typo!r} "
        f"(did you mean {meant!r}?)"
    )
    assert m.handlers == {}


def test_every_misspelt_keyword_is_named() -> None:
    arguments: dict[str, Any] = {"stauts": 500, "repaet": True}
    with pytest.raises(TypeError) as raised:
        aiointercept().get("https://api.example.com/x", **arguments)
    assert str(raised.value) == (
        "get() got unexpected keyword arguments 'stauts' (did you mean "
        "'status'?), 'repaet' (did you mean 'repeat'?)"
    )


def test_an_unknown_keyword_with_no_close_match_lists_the_keywords_taken() -> None:
    arguments: dict[str, Any] = {"colour": "blue"}
    with pytest.raises(TypeError) as raised:
        aiointercept().post("https://api.example.com/x", **arguments)
    message = str(raised.value)
    assert message.startswith(
        "post() got an unexpected keyword argument 'colour'; it takes url, status, "
    )
    assert message.endswith(", chunk_delay, compress")
    assert "method" not in message


@pytest.mark.parametrize("name", SHORTCUTS)
def test_a_shortcut_given_a_method_says_to_call_add(name: str) -> None:
    arguments: dict[str, Any] = {"method": "GET"}
    with pytest.raises(TypeError) as raised:
        shortcut(aiointercept(), name)("https://api.example.com/x", **arguments)
    assert str(raised.value) == (
        f"{name}() got an unexpected keyword argument 'method' ({name}() sends "
        f"{name.upper()}: call add(url, method) instead)"
    )


def test_a_misspelt_keyword_of_ws_suggests_the_one_meant() -> None:
    async def handler(ws: Any) -> None:
        pass

    arguments: dict[str, Any] = {"repaet": True}
    with pytest.raises(TypeError) as raised:
        aiointercept().ws("wss://api.example.com/feed", handler, **arguments)
    assert str(raised.value) == (
        "ws() got an unexpected keyword argument 'repaet' (did you mean 'repeat'?)"
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"stauts": 201}, "'stauts' (did you mean 'status'?)"),
        (
            {"contnet_type": "text/plain"},
            "'contnet_type' (did you mean 'content_type'?)",
        ),
        ({"json": {"a": 1}}, "'json' (the JSON document is payload= here)"),
    ],
)
def test_a_misspelt_keyword_of_callback_result_suggests_the_one_meant(
    arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(TypeError) as raised:
        CallbackResult(**arguments)
    assert str(raised.value) == (
        f"CallbackResult() got an unexpected keyword argument {message}"
    )


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("mock_external_url", "mock_external_urls"),
        ("passthru", "passthrough"),
        ("record_mod", "record_mode"),
        ("callback_timeout", "callback_start_timeout"),
    ],
)
def test_a_misspelt_keyword_of_the_constructor_suggests_the_one_meant(
    typo: str, meant: str
) -> None:
    arguments: dict[str, Any] = {typo: True}
    with pytest.raises(TypeError) as raised:
        aiointercept(**arguments)
    assert str(raised.value) == (
        f"aiointercept() got an unexpected keyword argument {typo!r} "
        f"(did you mean {meant!r}?)"
    )


def _keywords(function: Callable[..., Any], *left_out: str) -> list[Any]:
    return [
        (p.name, p.default, p.annotation)
        for p in inspect.signature(function).parameters.values()
        if p.kind is not p.VAR_KEYWORD and p.name not in ("self", *left_out)
    ]


@pytest.mark.parametrize("name", SHORTCUTS)
def test_the_shortcuts_take_the_keywords_of_add_but_method(name: str) -> None:
    """The same names, defaults and types, also as type checkers see them."""
    expected = _keywords(aiointercept.add, "method")
    assert _keywords(getattr(aiointercept, name)) == expected
    assert _keywords(internals.Shortcut.__call__) == expected


# -- bad input: the constructor --------------------------------------------------------


def test_passthrough_without_mock_external_urls_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="passthrough"):
        aiointercept(passthrough=["https://real-api.example.com"])


def test_passthrough_unmatched_without_mock_external_urls_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="passthrough_unmatched"):
        aiointercept(passthrough_unmatched=True)


def test_passthrough_with_mock_external_urls_is_accepted() -> None:
    aiointercept(
        mock_external_urls=True,
        passthrough=["https://real-api.example.com"],
        passthrough_unmatched=True,
    )


@pytest.mark.parametrize("value", ["yes", 1, 0, None])
def test_mock_external_urls_not_a_bool_is_a_type_error(value: object) -> None:
    with pytest.raises(TypeError, match=re.escape(repr(value))):
        aiointercept(mock_external_urls=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["yes", 1, 0, None])
def test_passthrough_unmatched_not_a_bool_is_a_type_error(value: object) -> None:
    with pytest.raises(TypeError, match=re.escape(repr(value))):
        aiointercept(
            mock_external_urls=True,
            passthrough_unmatched=value,  # type: ignore[arg-type]
        )


@pytest.mark.parametrize("param", ["1abc", "not valid", "", "a-b", 3])
def test_bad_param_name_is_rejected(param: object) -> None:
    with pytest.raises((ValueError, TypeError), match=re.escape(repr(param))):
        aiointercept(param=param)  # type: ignore[arg-type]


def test_valid_param_name_is_kept() -> None:
    assert aiointercept(param="mock").param == "mock"


@pytest.mark.parametrize("timeout", [0, -1, -0.5, True, "5", None, float("nan")])
def test_bad_callback_start_timeout_is_rejected(timeout: object) -> None:
    with pytest.raises((ValueError, TypeError), match=re.escape(repr(timeout))):
        aiointercept(callback_start_timeout=timeout)  # type: ignore[arg-type]


@pytest.mark.parametrize("timeout", [0.01, 1, 30.0])
def test_valid_callback_start_timeout_is_accepted(timeout: float) -> None:
    aiointercept(callback_start_timeout=timeout)


# -- server_url ------------------------------------------------------------------------


def test_server_url_before_the_first_entry_is_a_runtime_error() -> None:
    m = aiointercept()
    with pytest.raises(RuntimeError, match="server_url"):
        _ = m.server_url


@pytest.mark.anyio
async def test_server_url_is_a_local_http_base_url() -> None:
    async with aiointercept() as m:
        url = URL(m.server_url)
        assert url.scheme == "http"
        assert url.host == "127.0.0.1"
        assert url.port is not None
        assert url.port > 0
        assert not m.server_url.endswith("/")
        assert url.path in ("", "/")


@pytest.mark.anyio
async def test_server_url_keeps_the_last_value_after_the_block() -> None:
    m = aiointercept()
    async with m:
        first = m.server_url
    assert m.server_url == first
    async with m:
        second = m.server_url
        m.get("/again", payload={"again": True})
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}/again")
    assert response.json() == {"again": True}
    assert m.server_url == second


# -- mistakes caught at registration ---------------------------------------------------


def _no_arguments() -> CallbackResult:
    return CallbackResult()


def _extra_positional(url: URL, extra: str) -> CallbackResult:
    return CallbackResult()


def _required_keyword(url: URL, *, token: str) -> CallbackResult:
    return CallbackResult()


def _unknown_keyword_only(url: URL, method: str, tenant: str) -> CallbackResult:
    return CallbackResult()


@pytest.mark.parametrize(
    ("callback", "why"),
    [
        (_no_arguments, "too many positional arguments"),
        (_extra_positional, "missing a required argument: 'extra'"),
        (_required_keyword, "missing a required argument: 'token'"),
        (_unknown_keyword_only, "missing a required argument: 'tenant'"),
    ],
)
def test_callback_that_cannot_take_url_and_kwargs_is_rejected(
    callback: Callable[..., Any], why: str
) -> None:
    with pytest.raises(TypeError) as raised:
        aiointercept().get("https://api.example.com/x", callback=callback)
    message = str(raised.value)
    assert callback.__name__ in message
    assert why in message
    assert "cannot be called as callback(url, **kwargs)" in message
    assert "'def callback(url, **kwargs)'" in message
    assert "method, request, headers, query, json, data" in message


def _url_and_selected_keywords(
    url: URL, method: str, json: Any = None, *, data: bytes = b""
) -> CallbackResult:
    return CallbackResult(body=f"{method} {url.path} {json} {data!r}")


class _CallableObject:
    def __call__(self, url: URL, **kwargs: Any) -> CallbackResult:
        return CallbackResult(body=f"object {url.path}")


@pytest.mark.anyio
async def test_callbacks_that_take_url_and_kwargs_are_accepted() -> None:
    async with aiointercept() as m:
        m.post("/selected", callback=_url_and_selected_keywords)
        m.get("/object", callback=_CallableObject())
        m.get("/varargs", callback=lambda *args, **kwargs: CallbackResult(body="v"))
        async with httpx.AsyncClient(base_url=m.server_url) as client:
            selected = await client.post("/selected", json={"a": 1})
            assert selected.text == "POST /selected {'a': 1} b'{\"a\":1}'"
            assert (await client.get("/object")).text == "object /object"
            assert (await client.get("/varargs")).text == "v"


@pytest.mark.parametrize("given", ["json", "payload"])
def test_a_json_document_with_chunk_delay_is_rejected(given: str) -> None:
    document: dict[str, Any] = {given: [1]}
    with pytest.raises(ValueError, match=f"not to a {given}= document"):
        aiointercept().get(
            "https://api.example.com/x", body=[b"a"], chunk_delay=0.1, **document
        )
    with pytest.raises(ValueError, match="not to a payload= document"):
        CallbackResult(payload=[1], chunk_delay=0.1)


@pytest.mark.anyio
async def test_a_payload_replaces_a_server_sent_events_body_and_its_type() -> None:
    events = ServerSentEvents([{"data": "x"}])
    async with aiointercept() as m, httpx.AsyncClient(base_url=m.server_url) as client:
        m.get("/static", body=events, json={"static": True})
        m.get(
            "/callback",
            callback=lambda url, **kwargs: CallbackResult(body=events, payload=[1]),
        )
        static = await client.get("/static")
        callback = await client.get("/callback")
    assert static.json() == {"static": True}
    assert callback.json() == [1]
    for response in (static, callback):
        assert response.headers["Content-Type"] == "application/json"
        assert "Cache-Control" not in response.headers


@pytest.mark.parametrize("status", [100, 101, 204, 304])
@pytest.mark.parametrize(
    "kwargs",
    [{"json": {"id": 1}}, {"payload": []}, {"body": "text"}, {"body": [b"chunk"]}],
)
def test_body_with_a_status_that_has_none_is_rejected(
    status: int, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match=f"a {status} response has no body, got "):
        aiointercept().get("https://api.example.com/x", status=status, **kwargs)
    with pytest.raises(ValueError, match=f"a {status} response has no body, got "):
        CallbackResult(
            status=status,
            body=kwargs.get("body", ""),
            payload=kwargs.get("json", kwargs.get("payload")),
        )


@pytest.mark.anyio
@pytest.mark.parametrize("status", [204, 304])
async def test_status_without_a_body_is_accepted_without_one(status: int) -> None:
    async with aiointercept() as m:
        m.get("/empty", status=status, body="", headers={"X-Kept": "yes"})
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}/empty")
    assert response.status_code == status
    assert response.headers["X-Kept"] == "yes"
    assert response.content == b""


@pytest.mark.parametrize(
    ("method", "url"),
    [("POST", "/x"), ("get", "https://api.example.com/users"), ("DELETE", "/a/b")],
)
def test_method_given_before_the_url_says_the_url_comes_first(
    method: str, url: str
) -> None:
    with pytest.raises(ValueError, match="URL first") as raised:
        aiointercept().add(method, url)
    assert str(raised.value) == (
        f"add() takes the URL first, then the method: write "
        f"m.add({url!r}, {method!r}), got m.add({method!r}, {url!r})"
    )
