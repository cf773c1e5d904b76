"""The cassette options vcrpy users have: playback repeats, matcher
functions, decoded compressed responses, dropping unused interactions, no
cassette on an exception, the JSON format, interaction hooks, sensitive data,
filter functions, and the cassette a test reads (``m.cassette``).

Each test records from the upstream of :mod:`tests.support.upstream`
(addressed by name, which a ``mock_external_urls=True`` block intercepts),
then replays with the upstream stopped, so that a replay that reached the
network would fail. ``conftest.py`` puts every test under the loopback net.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import requests
import vcr

from aiointercept import Cassette, CassetteError, CassetteRequest, aiointercept
from tests.support.cassettes import (
    header,
    interactions,
    miss,
    record,
    replay,
    response_body,
    uris,
    with_cassette,
)
from tests.support.clients import Client, open_client
from tests.support.upstream import GZIP_TEXT, SECRET_BODY, running, serving


async def json_of(client: Client, url: str, **kwargs: Any) -> Any:
    return (await client.get(url, **kwargs)).json()


async def body_of(client: Client, url: str) -> bytes:
    return (await client.get(url)).body


pytestmark = pytest.mark.anyio


# -- allow_playback_repeats ---------------------------------------------------


async def test_without_repeats_an_interaction_plays_once(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/counter"
        await record(path, upstream, "httpx-async", lambda c: c.text(url))

    async def first(client: Client) -> None:
        assert await client.text(url) == "1"

    error, _ = await miss(path, "httpx-async", "GET", url, before=first)
    assert "already replayed" in str(error)


async def test_repeats_play_the_first_matching_interaction_again(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/counter"

        async def twice(client: Client) -> list[str]:
            return [await client.text(url), await client.text(url)]

        assert await record(path, upstream, "httpx-async", twice) == ["1", "2"]

    async def four_times(client: Client) -> list[str]:
        return [await client.text(url) for _ in range(4)]

    async with (
        aiointercept(
            mock_external_urls=True,
            cassette=path,
            record_mode="none",
            allow_playback_repeats=True,
        ) as m,
        open_client("httpx-async") as client,
    ):
        assert await four_times(client) == ["1", "1", "1", "1"]
    assert m.cassette is not None
    assert m.cassette.play_count == 4
    assert m.cassette.play_counts == {0: 4}
    assert not m.cassette.all_played


# -- matcher functions --------------------------------------------------------------


def same_path_and_x(live: CassetteRequest, recorded: CassetteRequest) -> None:
    """Written as vcrpy users write matchers: ``url`` is the URL as text."""
    assert urllib.parse.urlparse(live.url).path == recorded.path
    assert dict(live.query).get("x") == dict(recorded.query).get("x"), "x differs"


async def test_a_matcher_function_decides_with_the_named_ones(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        recorded = f"{upstream.url}/echo?x=1&noise=a"
        await record(path, upstream, "httpx-async", lambda c: json_of(c, recorded))
    replayed = await with_cassette(
        path,
        "httpx-async",
        lambda c: json_of(c, f"{upstream.url}/echo?noise=b&x=1"),
        record_mode="none",
        match_on=["method", same_path_and_x],
    )
    assert replayed["path"] == "/echo?x=1&noise=a"
    error, _ = await miss(
        path,
        "httpx-async",
        "GET",
        f"{upstream.url}/echo?x=2",
        match_on=["method", same_path_and_x],
    )
    assert "same_path_and_x: x differs" in str(error)


async def test_a_matcher_function_that_returns_false_refuses(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/hello"
        await record(path, upstream, "httpx-async", lambda c: c.text(url))

    def never(live: CassetteRequest, recorded: CassetteRequest) -> bool:
        return False

    error, _ = await miss(path, "httpx-async", "GET", url, match_on=["path", never])
    assert "never: returned False" in str(error)


# -- decode_compressed_response -----------------------------------------------------


@pytest.mark.parametrize("decode", [False, True])
async def test_decode_compressed_response(
    tmp_path: Path, anyio_backend: str, decode: bool
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/gzip"
        text = await record(
            path,
            upstream,
            "httpx-async",
            lambda c: c.text(url),
            decode_compressed_response=decode,
        )
    assert text == GZIP_TEXT
    (stored,) = interactions(path)
    encoding = header(stored["response"], "Content-Encoding")
    assert encoding == ([] if decode else ["gzip"])
    assert response_body(stored) == GZIP_TEXT.encode()
    if decode:
        assert header(stored["response"], "Content-Length") in (
            [],
            [str(len(GZIP_TEXT))],
        )
    assert await replay(path, "httpx-async", lambda c: c.text(url)) == GZIP_TEXT


# -- drop_unused_requests -----------------------------------------------------------


@pytest.mark.parametrize("drop", [False, True])
async def test_drop_unused_requests(
    tmp_path: Path, anyio_backend: str, drop: bool
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        used, unused = f"{upstream.url}/used", f"{upstream.url}/unused"

        async def both(client: Client) -> None:
            await client.text(used)
            await client.text(unused)

        await record(path, upstream, "httpx-async", both)
    await with_cassette(
        path,
        "httpx-async",
        lambda c: c.text(used),
        record_mode="once",
        drop_unused_requests=drop,
    )
    assert uris(path) == ([used] if drop else [used, unused])


# -- record_on_exception ------------------------------------------------------------


class Boom(Exception):
    pass


@pytest.mark.parametrize("record_on_exception", [True, False])
async def test_record_on_exception(
    tmp_path: Path, anyio_backend: str, record_on_exception: bool
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/hello"

        async def then_fail(client: Client) -> None:
            await client.text(url)
            raise Boom

        with pytest.raises(Boom):
            await record(
                path,
                upstream,
                "httpx-async",
                then_fail,
                record_on_exception=record_on_exception,
            )
    assert path.exists() is record_on_exception


# -- the JSON format ----------------------------------------------------------------


async def test_json_cassettes_are_recorded_and_replayed(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.json"
    async with serving() as upstream:
        url = f"{upstream.url}/teapot"
        await record(
            path, upstream, "httpx-async", lambda c: c.get(url), serializer="json"
        )
    data = json.loads(path.read_text())
    assert data["version"] == 1
    assert data["interactions"][0]["request"]["uri"] == url
    assert data["interactions"][0]["response"]["status"]["code"] == 418
    replayed = await with_cassette(
        path,
        "httpx-async",
        lambda c: c.request("GET", url),
        record_mode="none",
        serializer="json",
    )
    assert replayed.status == 418


async def test_a_binary_body_cannot_be_written_as_json(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.json"
    async with serving() as upstream:
        url = f"{upstream.url}/binary"
        with pytest.raises(CassetteError, match="serializer='yaml'") as info:
            await record(
                path,
                upstream,
                "httpx-async",
                lambda c: body_of(c, url),
                serializer="json",
            )
    assert url in str(info.value)
    assert not path.exists()


def test_a_json_cassette_vcrpy_wrote_replays(tmp_path: Path) -> None:
    path = tmp_path / "vcrpy.json"
    with running() as upstream:
        url = f"{upstream.url}/teapot"
        with vcr.use_cassette(str(path), serializer="json"):
            assert requests.get(url, timeout=5).status_code == 418
    with aiointercept(
        mock_external_urls=True, cassette=path, record_mode="none", serializer="json"
    ):
        response = requests.get(url, timeout=5)
    assert (response.status_code, response.content) == (418, b"short and stout")
    assert response.headers["X-Custom"] == "kept"


# -- interaction hooks and sensitive data --------------------------------------


async def test_interaction_hooks_change_what_is_written_and_read(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    seen: list[object] = []

    def on_save(
        request: CassetteRequest, response: dict[str, Any], cassette: Cassette
    ) -> tuple[CassetteRequest, dict[str, Any]] | None:
        seen.append(cassette)
        if request.path == "/dropped":
            return None
        response["headers"]["X-Saved"] = ["yes"]
        return request, response

    def on_load(
        request: CassetteRequest, response: dict[str, Any]
    ) -> tuple[CassetteRequest, dict[str, Any]]:
        response["body"]["string"] = response["body"]["string"] + b" (loaded)"
        return request, response

    async with serving() as upstream:
        kept, dropped = f"{upstream.url}/kept", f"{upstream.url}/dropped"

        async def both(client: Client) -> None:
            await client.text(kept)
            await client.text(dropped)

        m = aiointercept(
            mock_external_urls=True, cassette=path, before_save_interaction=on_save
        )
        async with m, open_client("httpx-async") as client:
            await both(client)
    assert seen == [m.cassette, m.cassette]
    assert uris(path) == [kept]
    assert header(interactions(path)[0]["response"], "X-Saved") == ["yes"]
    text = await with_cassette(
        path,
        "httpx-async",
        lambda c: c.text(kept),
        record_mode="none",
        after_load_interaction=[on_load],
    )
    assert text == "upstream GET /kept (loaded)"


async def test_a_hook_that_returns_something_else_is_an_error(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/hello"
        await record(path, upstream, "httpx-async", lambda c: c.text(url))
    with pytest.raises(CassetteError, match=r"must return \(request, response\)"):
        await with_cassette(
            path,
            "httpx-async",
            lambda c: c.text(url),
            after_load_interaction=lambda request, response: response,
        )


async def test_filter_sensitive_data_hides_a_value_and_puts_it_back(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    sensitive = {"<TOKEN>": "token-123"}
    async with serving() as upstream:
        url = f"{upstream.url}/secret?ref=token-123"
        body = await record(
            path,
            upstream,
            "httpx-async",
            lambda c: body_of(c, url),
            filter_sensitive_data=sensitive,
        )
    assert body == SECRET_BODY
    text = path.read_text()
    assert "token-123" not in text
    assert "ref=<TOKEN>" in text
    assert "your <TOKEN> is here" in text
    replayed = await with_cassette(
        path,
        "httpx-async",
        lambda c: body_of(c, url),
        record_mode="none",
        filter_sensitive_data=[*sensitive.items(), ("<UNSET>", None)],
    )
    assert replayed == SECRET_BODY


async def test_a_filter_function_computes_the_recorded_value(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    calls: list[tuple[str, str, str]] = []

    def shorten(*, key: str, value: str, request: CassetteRequest) -> str:
        calls.append((key, value, request.method))
        return value[:3] + "..."

    async with serving() as upstream:
        url = f"{upstream.url}/echo?session=abcdef"
        await record(
            path,
            upstream,
            "httpx-async",
            lambda c: json_of(c, url, headers={"X-Trace": "123456"}),
            filter_headers=[("x-trace", shorten)],
            filter_query_parameters=[("session", shorten)],
        )
    (stored,) = interactions(path)
    assert header(stored["request"], "X-Trace") == ["123..."]
    assert stored["request"]["uri"].endswith("/echo?session=abc...")
    assert ("x-trace", "123456", "GET") in calls
    assert ("session", "abcdef", "GET") in calls


# -- m.cassette -----------------------------------------------------------------------


def played(cassette: Cassette) -> tuple[int, bool]:
    return cassette.play_count, cassette.all_played


async def test_the_cassette_a_test_reads(tmp_path: Path, anyio_backend: str) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        first, second = f"{upstream.url}/first", f"{upstream.url}/second"

        async def both(client: Client) -> None:
            await client.text(first)
            await client.text(second)

        m = aiointercept(mock_external_urls=True, cassette=path)
        never_entered = m.cassette
        async with m, open_client("httpx-async") as client:
            cassette = m.cassette
            assert cassette is not None
            assert not cassette.write_protected
            clean = cassette.dirty
            await both(client)
            assert (clean, cassette.dirty) == (False, True)
            assert len(cassette) == 2
        assert never_entered is None
        assert not cassette.dirty
        assert m.cassette is cassette
        assert [r.uri for r in cassette.requests] == [first, second]
        assert cassette.responses[1]["body"]["string"] == b"upstream GET /second"

    replaying = aiointercept(mock_external_urls=True, cassette=path)
    async with replaying, open_client("httpx-async") as client:
        cassette = replaying.cassette
        assert cassette is not None
        assert cassette.write_protected
        assert CassetteRequest("GET", second) in cassette
        assert played(cassette) == (0, False)
        assert await client.text(second) == "upstream GET /second"
        assert CassetteRequest("GET", second) not in cassette
        assert cassette.play_counts == {1: 1}
        assert played(cassette) == (1, False)
        assert await client.text(first) == "upstream GET /first"
        assert played(cassette) == (2, True)
        assert cassette.responses_of(CassetteRequest("GET", first))[0]["status"] == {
            "code": 200,
            "message": "OK",
        }
    assert repr(cassette).startswith(f"<aiointercept.Cassette {path}")
    assert aiointercept().cassette is None


def test_the_cassette_of_a_synchronous_block(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    with running() as upstream:
        url = f"{upstream.url}/hello"
        with aiointercept(mock_external_urls=True, cassette=path) as m:
            requests.get(url, timeout=5)
    assert m.cassette is not None
    assert len(m.cassette) == 1
    assert m.cassette.requests[0].url == url


# -- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"allow_playback_repeats": True},
        {"decode_compressed_response": True},
        {"drop_unused_requests": True},
        {"record_on_exception": False},
        {"serializer": "json"},
        {"before_save_interaction": lambda request, response: None},
        {"after_load_interaction": lambda request, response: None},
        {"filter_sensitive_data": {"<X>": "x"}},
    ],
    ids=lambda options: next(iter(options)),
)
def test_the_options_require_a_cassette(options: dict[str, Any]) -> None:
    (name,) = options
    with pytest.raises(ValueError, match=name):
        aiointercept(mock_external_urls=True, **options)


@pytest.mark.parametrize(
    ("options", "error", "named"),
    [
        ({"allow_playback_repeats": "yes"}, TypeError, "'yes'"),
        ({"record_on_exception": None}, TypeError, "None"),
        ({"serializer": "xml"}, ValueError, "'xml'"),
        ({"match_on": ["method", 42]}, TypeError, "42"),
        ({"match_on": []}, ValueError, r"\[\]"),
        ({"before_save_interaction": 5}, TypeError, "5"),
        ({"after_load_interaction": [print, "x"]}, TypeError, "'x'"),
        ({"filter_sensitive_data": [("<A>",)]}, TypeError, "'<A>'"),
        ({"filter_sensitive_data": {"": "x"}}, TypeError, "''"),
        ({"filter_sensitive_data": {"<A>": b"x"}}, TypeError, "b'x'"),
        ({"filter_headers": [("x", 3)]}, TypeError, "3"),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else None,
)
def test_bad_options_are_named(
    tmp_path: Path, options: dict[str, Any], error: type[Exception], named: str
) -> None:
    with pytest.raises(error, match=named):
        aiointercept(mock_external_urls=True, cassette=tmp_path / "c.yaml", **options)


@pytest.mark.parametrize("hook", ["before_record_request", "before_record_response"])
async def test_a_hook_that_fails_while_recording_writes_nothing(
    tmp_path: Path, anyio_backend: str, hook: str
) -> None:
    path = tmp_path / "c.yaml"

    def broken(value: object) -> object:
        raise LookupError("no such field")

    async with serving() as upstream:
        url = f"{upstream.url}/hello"
        hooks: dict[str, Any] = {hook: broken}
        m = aiointercept(mock_external_urls=True, cassette=path, **hooks)
        with pytest.raises(CassetteError, match="not written") as info:
            async with m, open_client("httpx-async") as client:
                await client.request("GET", url)
    assert "LookupError: no such field" in str(info.value)
    assert isinstance(info.value.__cause__, LookupError)
    assert not path.exists()


@pytest.mark.parametrize("when", ["before_save_interaction", "after_load_interaction"])
async def test_an_interaction_hook_that_raises_names_the_interaction(
    tmp_path: Path, anyio_backend: str, when: str
) -> None:
    path = tmp_path / "c.yaml"

    def broken(request: CassetteRequest, response: dict[str, Any]) -> None:
        raise LookupError("no such field")

    async with serving() as upstream:
        url = f"{upstream.url}/hello"
        await record(path, upstream, "httpx-async", lambda c: c.text(url))
        hooks: dict[str, Any] = {when: broken, "record_mode": "all"}
        named = r"c\.yaml, (interaction 1|new): "
        with pytest.raises(CassetteError, match=named) as info:
            await record(path, upstream, "httpx-async", lambda c: c.text(url), **hooks)
    done = "saved" if when == "before_save_interaction" else "loaded"
    assert f"broken failed as the cassette was {done}" in str(info.value)
    assert "LookupError: no such field" in str(info.value)
    assert isinstance(info.value.__cause__, LookupError)


async def test_a_hook_that_takes_any_arguments_gets_the_cassette(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    seen: list[int] = []

    def hook(*args: Any) -> tuple[Any, Any]:
        seen.append(len(args))
        return args[0], args[1]

    async with serving() as upstream:
        url = f"{upstream.url}/hello"
        await record(
            path,
            upstream,
            "httpx-async",
            lambda c: c.text(url),
            before_save_interaction=hook,
        )
    assert seen == [3]


async def test_sensitive_values_from_functions(
    tmp_path: Path, anyio_backend: str
) -> None:
    """A function gives the value from the interaction; ``None`` or an empty
    value hides nothing."""
    path = tmp_path / "c.yaml"
    calls: list[str] = []

    def token(request: CassetteRequest, response: dict[str, Any]) -> str:
        calls.append(request.method)
        return dict(request.query)["ref"]

    sensitive = {
        "<TOKEN>": token,
        "<UNSET>": lambda request, response: None,
        "<EMPTY>": lambda request, response: "",
    }
    async with serving() as upstream:
        url = f"{upstream.url}/secret?ref=token-123"
        await record(
            path,
            upstream,
            "httpx-async",
            lambda c: body_of(c, url),
            filter_sensitive_data=sensitive,
        )
    text = path.read_text()
    assert "token-123" not in text
    assert "your <TOKEN> is here" in text
    assert "<UNSET>" not in text
    assert "<EMPTY>" not in text
    assert calls == ["GET"]


async def test_repeats_still_need_every_matcher(
    tmp_path: Path, anyio_backend: str
) -> None:
    """With ``allow_playback_repeats``, a played interaction answers again
    only a request that all of ``match_on`` matches."""
    path = tmp_path / "c.yaml"
    options: dict[str, Any] = {
        "match_on": ["method", "path", "body"],
        "allow_playback_repeats": True,
    }
    async with serving() as upstream:
        url = f"{upstream.url}/echo"

        async def post(client: Client, body: bytes) -> int:
            return (await client.request("POST", url, content=body)).status

        await record(path, upstream, "httpx-async", lambda c: post(c, b"a"), **options)

    async def twice(client: Client) -> None:
        assert [await post(client, b"a"), await post(client, b"a")] == [200, 200]

    error, _ = await miss(
        path, "httpx-async", "POST", url, before=twice, content=b"b", **options
    )
    assert "body: recorded b'a', got b'b'" in str(error)
