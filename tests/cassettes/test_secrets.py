"""Secrets: what the built-in scrubbing replaces by ``SCRUBBED`` in what is
recorded (and never in what a cassette already holds), how a live request
carrying the real secret still matches, and the filters and hooks that
remove or edit the rest before it is written, which also apply, as in vcrpy,
to the interactions a cassette holds when a block reads it.

The names the scrubbing knows are read from the tables of
``docs/scrubbing.rst``, so that every name the page lists is tested.

Each test records from the upstream of :mod:`tests.support.upstream`
(addressed by name, ``http://localhost:PORT``, which a
``mock_external_urls=True`` block intercepts), then replays with the upstream
stopped, so that a replay that reached the network would fail. Nothing leaves
the machine: ``conftest.py`` puts every test under the loopback net.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

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
    response_body,
    uris,
    with_cassette,
)
from tests.support.clients import BOUND, Client, Reply, open_client
from tests.support.paths import DOCS
from tests.support.upstream import SECRET_BODY, UpstreamHandler, serving

pytestmark = pytest.mark.anyio

#: vcrpy's default matchers (and ours).
DEFAULT_MATCH_ON = ["method", "scheme", "host", "port", "path", "query"]


def getter(url: str, **options: Any) -> Callable[[Client], Awaitable[Reply]]:
    """What sends ``GET url`` with a client."""
    return lambda client: client.get(url, **options)


@every_client
async def test_secret_request_headers_are_scrubbed_and_still_match(
    kind: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    headers = {
        "Authorization": "Bearer s3cret-token",
        "Cookie": "session=s3cret-cookie; theme=s3cret-theme",
        "X-Api-Key": "s3cret-key",
        "X-Request-Id": "kept-1",
    }
    async with serving() as upstream:
        url = f"{upstream.url}/hello"
        await record(path, upstream, kind, lambda c: c.get(url, headers=headers))
        (received,) = upstream.received
    # the real host got the credentials
    assert received.headers["Authorization"] == "Bearer s3cret-token"
    assert received.headers["Cookie"] == "session=s3cret-cookie; theme=s3cret-theme"
    assert received.headers["X-Api-Key"] == "s3cret-key"
    assert "s3cret" not in path.read_text()
    ((request, _),) = [(i["request"], i["response"]) for i in interactions(path)]
    assert header(request, "Authorization") == ["Bearer SCRUBBED"]
    assert header(request, "Cookie") == ["session=SCRUBBED; theme=SCRUBBED"]
    assert header(request, "X-Api-Key") == ["SCRUBBED"]
    assert header(request, "X-Request-Id") == ["kept-1"]

    # the live request, with the real secrets or others, matches, even when
    # the headers are compared
    other = {**headers, "Authorization": "Bearer other", "X-Api-Key": "other"}
    for sent in (headers, other):
        reply = await with_cassette(
            path,
            kind,
            getter(url, headers=sent),
            record_mode="none",
            match_on=[*DEFAULT_MATCH_ON, "headers"],
        )
        assert reply.text == "upstream GET /hello"
    # a header that is not a secret still tells requests apart
    error, _ = await miss(
        path,
        kind,
        "GET",
        url,
        headers={**headers, "X-Request-Id": "kept-2"},
        match_on=[*DEFAULT_MATCH_ON, "headers"],
    )
    assert "x-request-id" in str(error)
    assert "s3cret" not in str(error)


async def test_filter_headers_removes_or_replaces(
    tmp_path: Path, anyio_backend: str
) -> None:
    """The user's filters come after the scrubbing: for a header both know
    (X-Api-Key), the filter's replacement is written."""
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


async def test_the_scrubbing_leaves_the_cassette_it_reads_as_it_is(
    tmp_path: Path, anyio_backend: str
) -> None:
    """Secrets are scrubbed out of what is recorded, not out of the
    interactions a cassette already holds."""
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        old = f"{upstream.url}/echo?api_key=t"
        with vcr.use_cassette(str(path)):
            requests_get(old, {"Authorization": "Bearer t"})
        new = f"{upstream.url}/hello?api_key=t"
        await record(
            path,
            upstream,
            "requests",
            lambda c: c.get(new, headers={"Authorization": "Bearer t"}),
            record_mode="new_episodes",
        )
    first, second = interactions(path)
    assert header(first["request"], "Authorization") == ["Bearer t"]
    assert first["request"]["uri"] == old
    assert header(second["request"], "Authorization") == ["Bearer SCRUBBED"]
    assert second["request"]["uri"] == f"{upstream.url}/hello?api_key=SCRUBBED"


# -- the built-in scrubbing ----------------------------------------------------------


def documented_names(table: str) -> list[str]:
    """The names in the first column of the list-table ``:name: table`` of
    ``docs/scrubbing.rst``."""
    page = (DOCS / "scrubbing.rst").read_text()
    block = page.split(f":name: {table}\n", 1)[1].split("\n\n", 2)[1]
    names = []
    for row in re.findall(r"^   \* - (.+)$", block, re.M):
        names += re.findall(r"``([^`]+)``", row)
    assert names, f"no names in the table {table}"
    return names


SECRET_HEADERS = documented_names("secret-headers")
SECRET_FIELDS = documented_names("secret-fields")
SECRET_QUERY_ONLY = documented_names("secret-query-parameters")


def test_the_documented_tables_are_read() -> None:
    assert SECRET_HEADERS[:4] == [
        "Authorization",
        "Proxy-Authorization",
        "Cookie",
        "Set-Cookie",
    ]
    assert "X-Amz-Security-Token" in SECRET_HEADERS
    assert {"access_token", "api_key", "password"} <= set(SECRET_FIELDS)
    assert {"key", "X-Amz-Signature"} <= set(SECRET_QUERY_ONLY)


class SecretsHandler(UpstreamHandler):
    """``/login``: a JSON answer full of tokens, and a session cookie;
    ``/respond-with?h=NAME&h=...``: an answer with each header ``NAME``, set
    to ``s3cret-NAME``; anything else: ``ok METHOD PATH`` without the query
    (where the secrets are)."""

    def respond(self, body: bytes) -> None:
        if self.route == "/login":
            self.send_body(
                json.dumps(LOGIN_ANSWER).encode(),
                "application/json",
                extra=[
                    ("Set-Cookie", "session=s3cret-session; Path=/; HttpOnly"),
                    ("X-Auth-Token", "s3cret-header"),
                ],
            )
        elif self.route == "/respond-with":
            names = parse_qs(urlsplit(self.path).query)["h"]
            self.send_body(
                b"headers",
                "text/plain",
                extra=[(name, f"s3cret-{name}") for name in names],
            )
        else:
            self.send_body(f"ok {self.command} {self.route}".encode(), "text/plain")


#: What ``/login`` answers.
LOGIN_ANSWER: dict[str, Any] = {
    "access_token": "s3cret-access",
    "refresh_token": "s3cret-refresh",
    "token_type": "Bearer",
    "expires_in": 3600,
    "user": {
        "name": "bob",
        "apiKey": "s3cret-api-key",
        "keys": [{"Client-Secret": "s3cret-client"}, {"kept": "yes"}],
    },
    "secret": {"value": "s3cret-value", "rotations": 2, "active": True},
    "password": None,
    "token": "",
}

#: ``/login``'s answer, as the cassette holds it.
LOGIN_SCRUBBED: dict[str, Any] = {
    "access_token": "SCRUBBED",
    "refresh_token": "SCRUBBED",
    "token_type": "Bearer",
    "expires_in": 3600,
    "user": {
        "name": "bob",
        "apiKey": "SCRUBBED",
        "keys": [{"Client-Secret": "SCRUBBED"}, {"kept": "yes"}],
    },
    "secret": {"value": "SCRUBBED", "rotations": "SCRUBBED", "active": True},
    "password": None,
    "token": "",
}


@every_client
async def test_secrets_of_a_response_are_scrubbed_and_replayed_scrubbed(
    kind: str, tmp_path: Path
) -> None:
    """Headers, a Set-Cookie that keeps its name and attributes, and the
    fields of a JSON body at any depth."""
    path = tmp_path / "c.yaml"
    async with serving(SecretsHandler) as upstream:
        url = f"{upstream.url}/login"
        recorded = await record(path, upstream, kind, getter(url))
    # the client got the real answer while recording
    assert recorded.json() == LOGIN_ANSWER
    assert recorded.headers["Set-Cookie"].startswith("session=s3cret-session")
    assert "s3cret" not in path.read_text()
    (interaction,) = interactions(path)
    response = interaction["response"]
    assert header(response, "Set-Cookie") == ["session=SCRUBBED; Path=/; HttpOnly"]
    assert header(response, "X-Auth-Token") == ["SCRUBBED"]
    body = response_body(interaction)
    assert json.loads(body) == LOGIN_SCRUBBED
    # the length of the body as it is written, for vcrpy
    assert header(response, "Content-Length") == [str(len(body))]

    replayed = await replay(path, kind, getter(url))
    assert replayed.json() == LOGIN_SCRUBBED
    assert replayed.headers["Set-Cookie"] == "session=SCRUBBED; Path=/; HttpOnly"
    assert replayed.headers["X-Auth-Token"] == "SCRUBBED"


def replayed_by_vcrpy(path: Path, url: str) -> requests.Response:
    """GET ``url`` with requests, replayed by vcrpy from ``path``."""
    with vcr.use_cassette(str(path), record_mode="none"):
        return requests.get(url, timeout=BOUND)


async def test_a_scrubbed_cassette_replays_under_vcrpy(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    async with serving(SecretsHandler) as upstream:
        url = f"{upstream.url}/login"
        await record(path, upstream, "requests", getter(url))
    response = replayed_by_vcrpy(path, url)
    assert response.json() == LOGIN_SCRUBBED
    assert response.cookies["session"] == "SCRUBBED"


async def test_every_documented_header_is_scrubbed_in_requests_and_responses(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    headers = {name: f"s3cret-{name}" for name in SECRET_HEADERS}
    # a proxy does not pass it on (RFC 9110), the recording proxy neither
    hop_by_hop = {"Proxy-Authorization"}
    async with serving(SecretsHandler) as upstream:
        query = urlencode([("h", name) for name in SECRET_HEADERS])
        url = f"{upstream.url}/respond-with?{query}"
        recorded = await record(
            path, upstream, "httpx-async", getter(url, headers=headers)
        )
        (received,) = upstream.received
    for name in set(SECRET_HEADERS) - hop_by_hop:
        assert received.headers[name] == f"s3cret-{name}"
        assert recorded.headers[name] == f"s3cret-{name}"
    assert "s3cret" not in path.read_text()
    (interaction,) = interactions(path)
    for name in SECRET_HEADERS:
        # no scheme, no cookie name: the whole value
        assert header(interaction["request"], name) == ["SCRUBBED"], name
        if name not in hop_by_hop:
            assert header(interaction["response"], name) == ["SCRUBBED"], name


async def test_every_documented_name_is_scrubbed_in_a_query(
    tmp_path: Path, anyio_backend: str
) -> None:
    """In place: the other parameters keep their order, and an empty value
    stays empty."""
    path = tmp_path / "c.yaml"
    names = [*SECRET_FIELDS, *SECRET_QUERY_ONLY]
    sent = [
        ("page", "2"),
        *((name, f"s3cret-{n}") for n, name in enumerate(names)),
        ("accessToken", "s3cret-camel"),
        ("Api-Key", "s3cret-kebab"),
        ("token", ""),
        ("q", "a b"),
    ]
    async with serving(SecretsHandler) as upstream:
        url = f"{upstream.url}/search?{urlencode(sent)}"
        await record(path, upstream, "httpx-async", getter(url))
        (received,) = upstream.received
    assert parse_qsl(urlsplit(received.path).query, keep_blank_values=True) == sent
    assert "s3cret" not in path.read_text()
    (uri,) = uris(path)
    assert parse_qsl(urlsplit(uri).query, keep_blank_values=True) == [
        (name, "SCRUBBED" if value.startswith("s3cret") else value)
        for name, value in sent
    ]


@pytest.mark.parametrize("encoding", ["json", "form"])
async def test_every_documented_name_is_scrubbed_in_a_request_body(
    tmp_path: Path, anyio_backend: str, encoding: str
) -> None:
    """Names of the query only (``key``) are not body fields."""
    path = tmp_path / "c.yaml"
    fields = {name: f"s3cret-{n}" for n, name in enumerate(SECRET_FIELDS)}
    fields |= {"accessToken": "s3cret-camel", "key": "kept", "user": "bob"}
    async with serving(SecretsHandler) as upstream:
        url = f"{upstream.url}/login"

        async def send(client: Client) -> Reply:
            if encoding == "json":
                return await client.request("POST", url, json_body=fields)
            return await client.request(
                "POST",
                url,
                content=urlencode(fields).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )

        await record(path, upstream, "httpx-async", send)
        (received,) = upstream.received
    assert b"s3cret-0" in received.body
    assert "s3cret" not in path.read_text()
    (interaction,) = interactions(path)
    body = as_bytes(interaction["request"]["body"])
    expected = {
        name: "SCRUBBED" if value.startswith("s3cret") else value
        for name, value in fields.items()
    }
    if encoding == "json":
        assert json.loads(body) == expected
    else:
        assert parse_qsl(body.decode()) == list(expected.items())


#: A JSON request body with secrets inside objects and arrays.
NESTED = {
    "user": "bob",
    "credentials": {"password": "s3cret-1", "otp": "123456"},
    "clients": [{"id": 1, "clientSecret": "s3cret-2"}, {"id": 2}],
    "refresh_token": ["s3cret-3", "s3cret-4"],
    "api_key": None,
}
NESTED_SCRUBBED = {
    "user": "bob",
    "credentials": {"password": "SCRUBBED", "otp": "123456"},
    "clients": [{"id": 1, "clientSecret": "SCRUBBED"}, {"id": 2}],
    "refresh_token": ["SCRUBBED", "SCRUBBED"],
    "api_key": None,
}


@every_client
@pytest.mark.parametrize("matcher", ["body", "raw_body"])
async def test_a_scrubbed_json_body_still_matches_on_the_body(
    kind: str, tmp_path: Path, matcher: str
) -> None:
    path = tmp_path / "c.yaml"
    match_on = [*DEFAULT_MATCH_ON, matcher]

    def post(body: Any) -> Callable[[Client], Awaitable[Reply]]:
        return lambda client: client.request("POST", url, json_body=body)

    async with serving(SecretsHandler) as upstream:
        url = f"{upstream.url}/session?api_key=s3cret-5"
        await record(path, upstream, kind, post(NESTED), match_on=match_on)
        (received,) = upstream.received
    assert json.loads(received.body) == NESTED
    assert "s3cret" not in path.read_text()
    (interaction,) = interactions(path)
    assert json.loads(as_bytes(interaction["request"]["body"])) == NESTED_SCRUBBED

    # with the real secrets, or others
    other = {**NESTED, "credentials": {"password": "other", "otp": "123456"}}
    for body in (NESTED, other):
        reply = await with_cassette(
            path, kind, post(body), record_mode="none", match_on=match_on
        )
        assert reply.text == "ok POST /session"
    # what is not a secret is still compared
    error, _ = await miss(
        path,
        kind,
        "POST",
        url,
        headers={"Content-Type": "application/json"},
        content=json.dumps({**NESTED, "user": "alice"}).encode(),
        match_on=match_on,
    )
    assert f"{matcher}: recorded" in str(error)
    assert "s3cret" not in str(error).split("\n", 1)[1]


@every_client
async def test_a_scrubbed_query_still_matches_on_the_uri(
    kind: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    async with serving(SecretsHandler) as upstream:
        url = f"{upstream.url}/items?api_key=s3cret-1&page=2"
        await record(path, upstream, kind, getter(url))
    assert uris(path) == [f"{upstream.url}/items?api_key=SCRUBBED&page=2"]
    for match_on in (DEFAULT_MATCH_ON, ["method", "uri"]):
        for sent in (url, url.replace("s3cret-1", "other")):
            reply = await with_cassette(
                path, kind, getter(sent), record_mode="none", match_on=match_on
            )
            assert reply.text == "ok GET /items"
    error, _ = await miss(path, kind, "GET", url.replace("page=2", "page=3"))
    assert "query: recorded api_key=SCRUBBED&page=2, got page=3" not in str(error)
    assert "query: recorded page=2, got page=3" in str(error)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"password": "s3cret", "user": '),  # cut short
        ("application/json", b"\xff\xfe not UTF-8 password=s3cret"),
        ("text/plain", b'{"password": "s3cret"}'),
        ("application/octet-stream", b"password=s3cret"),
        ("multipart/form-data; boundary=x", b"--x\r\npassword=s3cret\r\n--x--\r\n"),
    ],
    ids=["truncated-json", "binary-json", "json-as-text", "bytes", "multipart"],
)
async def test_a_body_that_is_not_json_or_a_form_is_written_as_it_came(
    tmp_path: Path, anyio_backend: str, content_type: str, body: bytes
) -> None:
    path = tmp_path / "c.yaml"
    async with serving(SecretsHandler) as upstream:
        url = f"{upstream.url}/upload"
        await record(
            path,
            upstream,
            "httpx-async",
            lambda c: c.request(
                "POST", url, content=body, headers={"Content-Type": content_type}
            ),
        )
    (interaction,) = interactions(path)
    assert as_bytes(interaction["request"]["body"]) == body


async def test_scrub_secrets_false_records_secrets_as_they_came(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    headers = {"Authorization": "Bearer s3cret-token", "X-Api-Key": "s3cret-key"}
    async with serving(SecretsHandler) as upstream:
        login = f"{upstream.url}/login?api_key=s3cret-query"

        async def send(client: Client) -> Reply:
            await client.request(
                "POST", login, json_body={"password": "s3cret-pw"}, headers=headers
            )
            return await client.get(f"{upstream.url}/login")

        await record(path, upstream, "httpx-async", send, scrub_secrets=False)
    first, second = interactions(path)
    assert header(first["request"], "Authorization") == ["Bearer s3cret-token"]
    assert header(first["request"], "X-Api-Key") == ["s3cret-key"]
    assert first["request"]["uri"] == login
    assert json.loads(as_bytes(first["request"]["body"])) == {"password": "s3cret-pw"}
    assert json.loads(response_body(second)) == LOGIN_ANSWER
    assert header(second["response"], "Set-Cookie") == [
        "session=s3cret-session; Path=/; HttpOnly"
    ]
    # and replays, matched on the real secrets
    reply = await with_cassette(
        path,
        "httpx-async",
        lambda c: c.request(
            "POST", login, json_body={"password": "s3cret-pw"}, headers=headers
        ),
        record_mode="none",
        scrub_secrets=False,
        match_on=[*DEFAULT_MATCH_ON, "body"],
    )
    assert reply.json() == LOGIN_ANSWER
    error, _ = await miss(
        path,
        "httpx-async",
        "POST",
        login.replace("s3cret-query", "other"),
        scrub_secrets=False,
    )
    assert "query: recorded api_key=s3cret-query" in str(error)


async def test_the_users_filters_and_hooks_add_to_the_scrubbing(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    seen: list[str] = []

    def before_record_request(request: Any) -> Any:
        seen.append(request.headers["Authorization"])
        return request

    async with serving(SecretsHandler) as upstream:
        url = f"{upstream.url}/login?session_id=s3cret-1&api_key=s3cret-2"
        await record(
            path,
            upstream,
            "httpx-async",
            lambda c: c.request(
                "POST",
                url,
                json_body={"pin": "s3cret-3", "password": "s3cret-4", "user": "bob"},
                headers={
                    "Authorization": "Bearer s3cret-5",
                    "X-Service-Token": "s3cret-6",
                },
            ),
            filter_headers=["X-Service-Token"],
            filter_query_parameters=["session_id"],
            filter_post_data_parameters=[("pin", "****")],
            before_record_request=before_record_request,
        )
    # the hook sees the request scrubbed
    assert seen == ["Bearer SCRUBBED"]
    assert "s3cret" not in path.read_text()
    (interaction,) = interactions(path)
    request = interaction["request"]
    assert header(request, "Authorization") == ["Bearer SCRUBBED"]
    assert header(request, "X-Service-Token") == []
    assert request["uri"] == f"{upstream.url}/login?api_key=SCRUBBED"
    assert json.loads(as_bytes(request["body"])) == {
        "pin": "****",
        "password": "SCRUBBED",
        "user": "bob",
    }


def stored_with_secrets(url: str) -> str:
    """A cassette as vcrpy writes it, with real secrets: a POST of a JSON
    body to ``url``, answered with a token and a cookie."""
    return yaml.safe_dump(
        {
            "interactions": [
                {
                    "request": {
                        "body": '{"user": "bob", "password": "s3cret-pw"}',
                        "headers": {
                            "Authorization": ["Bearer s3cret-token"],
                            "Content-Type": ["application/json"],
                        },
                        "method": "POST",
                        "uri": url,
                    },
                    "response": {
                        "body": {"string": '{"access_token": "s3cret-access"}'},
                        "headers": {
                            "Content-Type": ["application/json"],
                            "Set-Cookie": ["session=s3cret-session; Path=/"],
                        },
                        "status": {"code": 200, "message": "OK"},
                    },
                }
            ],
            "version": 1,
        }
    )


@every_client
async def test_a_cassette_holding_secrets_replays_them_as_they_are(
    kind: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    url = "http://api.example.com/login?api_key=s3cret-key"
    path.write_text(stored_with_secrets(url))
    stored = path.read_text()
    for password, key in (("s3cret-pw", "s3cret-key"), ("changed", "changed")):
        async with cassette_block(
            path, kind, record_mode="none", match_on=[*DEFAULT_MATCH_ON, "body"]
        ) as (_, client):
            reply = await client.request(
                "POST",
                url.replace("s3cret-key", key),
                json_body={"user": "bob", "password": password},
                headers={"Authorization": "Bearer s3cret-token"},
            )
        assert reply.json() == {"access_token": "s3cret-access"}
        assert reply.headers["Set-Cookie"] == "session=s3cret-session; Path=/"
    assert path.read_text() == stored


async def test_a_secret_that_vcrpy_filtered_out_still_matches(
    tmp_path: Path, anyio_backend: str
) -> None:
    """vcrpy left the secrets out; the live request, which has them, matches
    without the same filters."""
    path = tmp_path / "c.yaml"
    async with serving(SecretsHandler) as upstream:
        url = f"{upstream.url}/items?api_key=s3cret&page=1"
        headers = {"Authorization": "Bearer s3cret"}
        with vcr.use_cassette(
            str(path),
            filter_headers=["authorization"],
            filter_query_parameters=["api_key"],
        ):
            requests_get(url, headers)
    assert "s3cret" not in path.read_text()
    assert uris(path) == [f"{upstream.url}/items?page=1"]
    for match_on in (DEFAULT_MATCH_ON, ["method", "uri"]):
        reply = await with_cassette(
            path,
            "requests",
            getter(url, headers=headers),
            record_mode="none",
            match_on=match_on,
        )
        assert reply.text == "ok GET /items"


async def test_a_hook_that_fails_on_a_live_request_fails_the_block(
    tmp_path: Path, anyio_backend: str
) -> None:
    """The stored requests pass; the live one makes the hook raise: it gets no
    reply, and the block exits with the hook's error."""
    path = tmp_path / "c.yaml"
    path.write_text(stored_cassette("/kept", headers={"X-From": ["cassette"]}))

    def before_record_request(request: Any) -> Any:
        if request.headers.get("X-From") != "cassette":
            raise LookupError("live requests are not expected")
        return request

    error, _ = await miss(
        path,
        "httpx-async",
        "GET",
        "http://api.example.com/kept",
        before_record_request=before_record_request,
    )
    assert "LookupError: live requests are not expected" in str(error)
