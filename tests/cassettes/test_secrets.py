"""Secrets: what is not recorded by default, and the filters and hooks that
remove or edit the rest before it is written, which also apply, as in vcrpy,
to the interactions a cassette holds when a block reads it.

Each test records from the upstream of :mod:`tests.support.upstream`
(addressed by name, ``http://localhost:PORT``, which a
``mock_external_urls=True`` block intercepts), then replays with the upstream
stopped, so that a replay that reached the network would fail. Nothing leaves
the machine: ``conftest.py`` puts every test under the loopback net.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import vcr
import yaml

from aiointercept import CassetteError, aiointercept
from tests.support.cassettes import (
    as_bytes,
    cassette_block,
    every_client,
    header,
    interactions,
    miss,
    record,
    replay,
    uris,
)
from tests.support.clients import BOUND, Client, Reply, open_client
from tests.support.upstream import SECRET_BODY, serving

pytestmark = pytest.mark.anyio


@every_client
async def test_authorization_and_cookie_are_not_recorded_by_default(
    kind: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    headers = {
        "Authorization": "Bearer s3cret-token",
        "Cookie": "session=s3cret-cookie",
        "X-Request-Id": "kept-1",
    }
    async with serving() as upstream:
        url = f"{upstream.url}/hello"
        await record(path, upstream, kind, lambda c: c.get(url, headers=headers))
        (received,) = upstream.received
    # the real host got the credentials
    assert received.headers["Authorization"] == "Bearer s3cret-token"
    assert received.headers["Cookie"] == "session=s3cret-cookie"
    assert "s3cret" not in path.read_text()
    ((request, _),) = [(i["request"], i["response"]) for i in interactions(path)]
    assert header(request, "Authorization") == []
    assert header(request, "Cookie") == []
    assert header(request, "X-Request-Id") == ["kept-1"]

    assert (
        await replay(path, kind, lambda c: c.get(url, headers=headers))
    ).text == "upstream GET /hello"


async def test_filter_headers_removes_or_replaces(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/hello"
        await record(
            path,
            upstream,
            "httpx-async",
            lambda c: c.get(
                url,
                headers={
                    "X-Api-Key": "s3cret-key",
                    "X-Other-Secret": "s3cret-other",
                    "X-Dropped": "s3cret-dropped",
                    "X-Kept": "kept",
                },
            ),
            filter_headers=[
                ("x-api-key", "REDACTED"),
                "X-Other-Secret",
                ("X-Dropped", None),
            ],
        )
        (received,) = upstream.received
    assert received.headers["X-Api-Key"] == "s3cret-key"
    assert "s3cret" not in path.read_text()
    (interaction,) = interactions(path)
    request = interaction["request"]
    assert header(request, "X-Api-Key") == ["REDACTED"]
    assert header(request, "X-Other-Secret") == []
    assert header(request, "X-Dropped") == []
    assert header(request, "X-Kept") == ["kept"]


async def test_filter_query_parameters(tmp_path: Path, anyio_backend: str) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/search?api_key=s3cret-key&token=s3cret-token&page=2"
        await record(
            path,
            upstream,
            "httpx-async",
            lambda c: c.text(url),
            filter_query_parameters=["api_key", ("token", "XXX")],
        )
        assert upstream.paths == [
            "/search?api_key=s3cret-key&token=s3cret-token&page=2"
        ]
    (uri,) = uris(path)
    assert urlsplit(uri).path == "/search"
    assert sorted(parse_qsl(urlsplit(uri).query)) == [("page", "2"), ("token", "XXX")]
    # the same request, with the real secrets, is filtered the same way and
    # replays
    async with (
        aiointercept(
            mock_external_urls=True,
            cassette=path,
            record_mode="none",
            filter_query_parameters=["api_key", ("token", "XXX")],
        ),
        open_client("httpx-async") as client,
    ):
        assert (await client.get(url)).status == 200


@pytest.mark.parametrize("encoding", ["form", "json"])
async def test_filter_post_data_parameters(
    tmp_path: Path, anyio_backend: str, encoding: str
) -> None:
    path = tmp_path / "c.yaml"
    fields = {"user": "bob", "password": "s3cret-password", "otp": "s3cret-otp"}
    async with serving() as upstream:
        url = f"{upstream.url}/login"

        async def send(client: Client) -> Reply:
            if encoding == "json":
                return await client.request("POST", url, json_body=fields)
            return await client.request(
                "POST",
                url,
                content=b"user=bob&password=s3cret-password&otp=s3cret-otp",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )

        await record(
            path,
            upstream,
            "httpx-async",
            send,
            filter_post_data_parameters=["password", ("otp", "XXX")],
        )
        (received,) = upstream.received
    assert b"s3cret-password" in received.body
    assert "s3cret" not in path.read_text()
    (interaction,) = interactions(path)
    body = as_bytes(interaction["request"]["body"])
    if encoding == "json":
        assert json.loads(body) == {"user": "bob", "otp": "XXX"}
    else:
        assert sorted(parse_qsl(body.decode())) == [("otp", "XXX"), ("user", "bob")]


async def test_before_record_request_edits_or_drops_requests(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    seen: list[tuple[str, str, bytes | None]] = []

    def before_record_request(request: Any) -> Any:
        seen.append((request.method, request.uri, request.body))
        if "/health" in request.uri:
            return None
        request.headers["X-Signature"] = "redacted"
        return request

    async with serving() as upstream:
        health, data = f"{upstream.url}/health", f"{upstream.url}/data"

        async def send(client: Client) -> None:
            await client.text(health)
            await client.request(
                "POST", data, content=b"payload", headers={"x-signature": "s3cret"}
            )

        await record(
            path,
            upstream,
            "httpx-async",
            send,
            before_record_request=before_record_request,
        )
        assert upstream.paths == ["/health", "/data"]
    assert ("POST", data, b"payload") in seen
    assert any(uri == health for _, uri, _ in seen)
    (interaction,) = interactions(path)
    assert interaction["request"]["uri"] == data
    assert header(interaction["request"], "X-Signature") == ["redacted"]
    assert "s3cret" not in path.read_text()


async def test_request_edited_by_the_hook_still_matches_on_replay(
    tmp_path: Path, anyio_backend: str
) -> None:
    """As in vcrpy, the hook sees the requests to replay too, so a request
    rewritten when it was recorded is found again."""
    path = tmp_path / "c.yaml"

    def strip_version(request: Any) -> Any:
        request.uri = re.sub(r"/v\d+/", "/", request.uri)
        return request

    async with serving() as upstream:
        await record(
            path,
            upstream,
            "httpx-async",
            lambda c: c.text(f"{upstream.url}/v1/items"),
            before_record_request=strip_version,
        )
        assert upstream.paths == ["/v1/items"]
    assert uris(path) == [f"{upstream.url}/items"]
    async with (
        aiointercept(
            mock_external_urls=True,
            cassette=path,
            record_mode="none",
            before_record_request=strip_version,
        ),
        open_client("httpx-async") as client,
    ):
        reply = await client.get(f"{upstream.url}/v2/items")
    assert reply.text == "upstream GET /v1/items"


async def test_before_record_response_edits_or_drops_responses(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    seen: list[Any] = []

    def before_record_response(response: dict[str, Any]) -> dict[str, Any] | None:
        seen.append(response["body"]["string"])
        if response["status"]["code"] == 418:
            return None
        response["body"]["string"] = response["body"]["string"].replace(
            b"token-123", b"XXXXXXXXX"
        )
        response["headers"]["X-Redacted"] = ["yes"]
        return response

    async with serving() as upstream:
        secret, teapot = f"{upstream.url}/secret", f"{upstream.url}/teapot"

        async def send(client: Client) -> Reply:
            await client.get(teapot)
            return await client.get(secret)

        recorded = await record(
            path,
            upstream,
            "httpx-async",
            send,
            before_record_response=before_record_response,
        )
    assert recorded.body == SECRET_BODY  # the client got the real response
    assert seen
    assert all(isinstance(body, bytes) for body in seen)
    assert uris(path) == [secret]
    assert "token-123" not in path.read_text()

    async with (
        aiointercept(mock_external_urls=True, cassette=path, record_mode="none"),
        open_client("httpx-async") as client,
    ):
        replayed = await client.get(secret)
    assert replayed.body == b"your XXXXXXXXX is here"
    assert replayed.headers["X-Redacted"] == "yes"


@every_client
async def test_response_body_shortened_by_a_hook_replays_whole(
    kind: str, tmp_path: Path
) -> None:
    """The recorded Content-Length no longer fits the body: the body wins."""
    path = tmp_path / "c.yaml"

    def before_record_response(response: dict[str, Any]) -> dict[str, Any]:
        response["body"]["string"] = b"[removed]"
        return response

    async with serving() as upstream:
        url = f"{upstream.url}/secret"
        await record(
            path,
            upstream,
            kind,
            lambda c: c.get(url),
            before_record_response=before_record_response,
        )
    replayed = await replay(path, kind, lambda c: c.get(url))
    assert replayed.body == b"[removed]"


# -- the cassette a block reads goes through the same filters and hooks ------------


def requests_get(url: str, headers: dict[str, str] | None = None) -> None:
    """GET ``url`` with requests (while vcrpy records)."""
    requests.get(url, headers=headers, timeout=BOUND).raise_for_status()


def stored_cassette(*paths: str, headers: dict[str, list[str]] | None = None) -> str:
    """A cassette as vcrpy writes it: a GET of each of ``paths`` on
    ``api.example.com``, each answered ``recorded <path>``."""
    return yaml.safe_dump(
        {
            "interactions": [
                {
                    "request": {
                        "body": None,
                        "headers": headers or {},
                        "method": "GET",
                        "uri": f"http://api.example.com{path}",
                    },
                    "response": {
                        "body": {"string": f"recorded {path}"},
                        "headers": {"Content-Type": ["text/plain"]},
                        "status": {"code": 200, "message": "OK"},
                    },
                }
                for path in paths
            ],
            "version": 1,
        }
    )


@every_client
async def test_hooks_see_the_interactions_the_cassette_holds(
    kind: str, tmp_path: Path
) -> None:
    """As vcrpy does when it loads a cassette: a stored request that the hook
    drops is not replayed."""
    path = tmp_path / "c.yaml"
    path.write_text(
        stored_cassette("/kept", "/dropped", headers={"X-From": ["cassette"]})
    )
    stored = path.read_text()
    hooked: list[tuple[str, str | None]] = []

    def before_record_request(request: Any) -> Any:
        origin = request.headers.get("X-From")
        hooked.append((request.path, origin))
        if request.path == "/dropped" and origin == "cassette":
            return None
        return request

    error, _ = await miss(
        path,
        kind,
        "GET",
        "http://api.example.com/dropped",
        before=lambda c: c.get("http://api.example.com/kept"),
        before_record_request=before_record_request,
    )
    # when the block starts, then for each live request
    assert hooked[:3] == [
        ("/kept", "cassette"),
        ("/dropped", "cassette"),
        ("/kept", None),
    ]
    assert set(hooked[3:]) == {("/dropped", None)}
    assert "no interaction left for GET http://api.example.com/dropped" in str(error)
    assert path.read_text() == stored


@every_client
async def test_stored_response_edited_by_the_hook_replays_edited(
    kind: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(stored_cassette("/kept"))

    def before_record_response(response: dict[str, Any]) -> dict[str, Any]:
        response["body"]["string"] = b"edited"
        response["headers"]["X-Edited"] = ["yes"]
        return response

    async with cassette_block(
        path, kind, record_mode="none", before_record_response=before_record_response
    ) as (_, client):
        reply = await client.get("http://api.example.com/kept")
    assert (reply.body, reply.headers["X-Edited"]) == (b"edited", "yes")


@every_client
async def test_query_filter_applies_to_the_cassette_it_reads(
    kind: str, tmp_path: Path
) -> None:
    """A cassette recorded without ``filter_query_parameters``, replayed with
    it and ``match_on=["method", "uri"]``: both queries are rebuilt alike, so
    their order no longer matters."""
    path = tmp_path / "c.yaml"
    path.write_text(stored_cassette("/search?b=2&token=old&a=1"))
    async with cassette_block(
        path,
        kind,
        record_mode="none",
        match_on=["method", "uri"],
        filter_query_parameters=["token"],
    ) as (_, client):
        reply = await client.get("http://api.example.com/search?a=1&token=new&b=2")
    assert reply.text == "recorded /search?b=2&token=old&a=1"


async def test_a_hook_that_fails_on_a_stored_interaction_stops_the_block(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(stored_cassette("/first", "/second"))

    def before_record_request(request: Any) -> Any:
        if request.path == "/second":
            raise KeyError("no such field")
        return request

    entered = False
    with pytest.raises(CassetteError) as info:
        async with aiointercept(
            mock_external_urls=True,
            cassette=path,
            before_record_request=before_record_request,
        ):
            entered = True
    assert not entered
    assert str(info.value) == (
        f"{path}, interaction 2: before_record_request failed on this recorded "
        "interaction with KeyError: 'no such field'"
    )
    assert isinstance(info.value.__cause__, KeyError)


@pytest.mark.parametrize("recorder", ["vcrpy", "aiointercept"])
async def test_cassette_rewritten_with_its_old_interactions_filtered(
    tmp_path: Path, anyio_backend: str, recorder: str
) -> None:
    """A cassette that records a new interaction is written back with the old
    ones as the user's filters leave them, as vcrpy writes it (the same file
    with the same options, through vcrpy and through aiointercept)."""
    path = tmp_path / "c.yaml"
    filters: dict[str, Any] = {
        "filter_headers": ["x-token"],
        "filter_query_parameters": ["token"],
    }
    async with serving() as upstream:
        old = f"{upstream.url}/counter?token=s3cret&b=2&a=1"
        with vcr.use_cassette(str(path)):
            requests_get(old, {"X-Token": "s3cret"})
        assert "s3cret" in path.read_text()
        new = f"{upstream.url}/hello"
        if recorder == "vcrpy":
            with vcr.use_cassette(str(path), record_mode="new_episodes", **filters):
                requests_get(new)
        else:
            await record(
                path,
                upstream,
                "requests",
                lambda c: c.get(new),
                record_mode="new_episodes",
                **filters,
            )
    assert "s3cret" not in path.read_text()
    first, second = interactions(path)
    assert first["request"]["uri"] == f"{upstream.url}/counter?a=1&b=2"
    assert header(first["request"], "X-Token") == []
    assert second["request"]["uri"] == new


async def test_the_default_header_filter_leaves_the_cassette_as_it_is(
    tmp_path: Path, anyio_backend: str
) -> None:
    """``Authorization`` and ``Cookie`` are left out of what is recorded, not
    taken out of the interactions a cassette already holds."""
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        old = f"{upstream.url}/echo"
        with vcr.use_cassette(str(path)):
            requests_get(old, {"Authorization": "Bearer t"})
        new = f"{upstream.url}/hello"
        await record(
            path,
            upstream,
            "requests",
            lambda c: c.get(new, headers={"Authorization": "Bearer t"}),
            record_mode="new_episodes",
        )
    first, second = interactions(path)
    assert header(first["request"], "Authorization") == ["Bearer t"]
    assert header(second["request"], "Authorization") == []
