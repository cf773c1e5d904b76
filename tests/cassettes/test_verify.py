"""``record_mode="verify"``: every request goes to the real host, nothing is
written, and each live response is compared with its recording.

Each test records from an upstream (:mod:`tests.support.upstream`, addressed
by name) whose answers it then changes, and verifies against it. Nothing
leaves the machine: ``conftest.py`` puts every test under the loopback net.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiointercept import CassetteError, aiointercept
from tests.support.cassettes import cassette_block, every_client, record
from tests.support.clients import Client, open_client
from tests.support.upstream import GZIP_TEXT, UpstreamHandler, serving

pytestmark = pytest.mark.anyio

#: What the upstream answers, by path: status, Content-Type, body.
Answers = dict[str, tuple[int, str, bytes]]


def answering(answers: Answers) -> type[UpstreamHandler]:
    """An upstream handler that answers from ``answers``, which the test may
    change between blocks."""

    class Handler(UpstreamHandler):
        def respond(self, body: bytes) -> None:
            status, content_type, answer = answers[self.route]
            self.send_body(answer, content_type, status=status)

    return Handler


FIRST: Answers = {
    "/user": (200, "application/json", b'{"id":1,"name":"Ada","tags":["a","b"]}'),
    "/page": (200, "text/html; charset=utf-8", b"<p>hello</p>"),
    "/gone": (200, "text/plain", b"here"),
}


async def send_all(client: Client, url: str) -> list[bytes]:
    return [(await client.get(f"{url}{path}")).body for path in FIRST]


@every_client
async def test_verify_sends_every_request_and_passes_when_only_the_form_changed(
    kind: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    answers = dict(FIRST)
    async with serving(answering(answers)) as upstream:
        await record(path, upstream, kind, lambda c: send_all(c, upstream.url))
        written = path.read_bytes()
        # the same JSON, its keys in another order and spaced; the media type
        # written in another case
        answers["/user"] = (
            200,
            "Application/JSON",
            json.dumps({"tags": ["a", "b"], "name": "Ada", "id": 1}, indent=2).encode(),
        )
        async with cassette_block(path, kind, record_mode="verify") as (m, client):
            bodies = await send_all(client, upstream.url)
        # every request reached the real host, and got its live answer
        assert upstream.paths == [*FIRST, *FIRST]
        assert bodies[0] == answers["/user"][2]
    assert len(m.requests) == 3
    assert path.read_bytes() == written


@every_client
async def test_verify_lists_every_difference_at_the_exit(
    kind: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    answers = dict(FIRST)
    async with serving(answering(answers)) as upstream:
        await record(path, upstream, kind, lambda c: send_all(c, upstream.url))
        written = path.read_bytes()
        answers["/user"] = (
            200,
            "application/json",
            b'{"id": 2, "name": "Ada", "tags": ["a"], "extra": true}',
        )
        answers["/page"] = (200, "text/plain", b"<p>hello!</p>")
        answers["/gone"] = (404, "text/plain", b"here")
        answers["/new"] = (200, "text/plain", b"new")

        async def verify() -> list[bytes]:
            async with cassette_block(path, kind, record_mode="verify") as (_, client):
                sent.append(await send_all(client, upstream.url))
                await client.get(f"{upstream.url}/new")
            return sent[0]

        sent: list[list[bytes]] = []
        with pytest.raises(CassetteError) as info:
            await verify()
        [bodies] = sent
        # the client got the live answers all the same
        assert bodies == [answers[p][2] for p in FIRST]
    assert path.read_bytes() == written
    message = str(info.value)
    url = upstream.url
    assert f"cassette {path} (record_mode='verify'): 4 of 4 live responses" in message
    lines = message.splitlines()
    assert lines[1:] == [
        f"GET {url}/user ({path}, interaction 1)",
        "  - body $.id: recorded 1, got 2",
        "  - body $.tags: recorded 2 items, got 1",
        "  - body $.extra: not recorded, got true",
        f"GET {url}/page ({path}, interaction 2)",
        "  - Content-Type: recorded 'text/html; charset=utf-8', got 'text/plain'",
        "  - body: recorded 12 bytes, got 13; they differ from byte 8: recorded "
        "b'</p>', got b'!</p>'",
        f"GET {url}/gone ({path}, interaction 3)",
        "  - status: recorded 200, got 404",
        f"GET {url}/new: no recorded interaction matches it",
    ]


async def test_each_recorded_interaction_verifies_one_request(
    tmp_path: Path, anyio_backend: str
) -> None:
    """Two identical requests are compared with the two recordings, in order;
    a third has none."""
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/counter"

        async def twice(client: Client) -> None:
            await client.get(url)
            await client.get(url)

        await record(path, upstream, "httpx-async", twice)
        upstream.count = 0  # the live answers start again from 1
        async with cassette_block(path, "httpx-async", record_mode="verify") as (
            _,
            client,
        ):
            assert [await client.text(url) for _ in range(2)] == ["1", "2"]
        with pytest.raises(CassetteError) as info:
            async with cassette_block(path, "httpx-async", record_mode="verify") as (
                _,
                client,
            ):
                assert [await client.text(url) for _ in range(3)] == ["3", "4", "5"]
    lines = str(info.value).splitlines()
    assert lines[1:] == [
        f"GET {url} ({path}, interaction 1)",
        "  - body: recorded 1 bytes, got 1; they differ from byte 0: recorded "
        "b'1', got b'3'",
        f"GET {url} ({path}, interaction 2)",
        "  - body: recorded 1 bytes, got 1; they differ from byte 0: recorded "
        "b'2', got b'4'",
        f"GET {url}: no recorded interaction matches it",
    ]


async def test_verify_compares_responses_as_they_would_be_recorded(
    tmp_path: Path, anyio_backend: str
) -> None:
    """A compressed body is compared decoded, and a secret that the recording
    scrubbed is compared scrubbed: a new token is no difference."""
    path = tmp_path / "c.yaml"
    answers = dict(FIRST)
    answers["/token"] = (200, "application/json", b'{"access_token": "first"}')
    async with serving(answering(answers)) as upstream:

        async def send(client: Client) -> None:
            await client.get(f"{upstream.url}/token")

        await record(path, upstream, "httpx-async", send)
        assert b"first" not in path.read_bytes()
        answers["/token"] = (200, "application/json", b'{"access_token": "second"}')
        async with cassette_block(path, "httpx-async", record_mode="verify") as (
            _,
            client,
        ):
            await send(client)
        assert len(upstream.received) == 2
    async with serving() as upstream:

        async def gzipped(client: Client) -> None:
            assert (await client.get(f"{upstream.url}/gzip")).text == GZIP_TEXT

        await record(path, upstream, "httpx-async", gzipped, record_mode="rewrite")
        async with cassette_block(path, "httpx-async", record_mode="verify") as (
            _,
            client,
        ):
            await gzipped(client)
        assert len(upstream.received) == 2


async def test_verify_needs_a_cassette_file(tmp_path: Path, anyio_backend: str) -> None:
    path = tmp_path / "missing.yaml"
    with pytest.raises(CassetteError, match="does not exist: record it first"):
        async with aiointercept(
            mock_external_urls=True, cassette=path, record_mode="verify"
        ):
            pass
    assert not path.exists()


async def test_a_route_still_answers_first(tmp_path: Path, anyio_backend: str) -> None:
    path = tmp_path / "c.yaml"
    async with serving(answering(dict(FIRST))) as upstream:
        await record(path, upstream, "httpx-async", lambda c: send_all(c, upstream.url))
        async with (
            aiointercept(
                mock_external_urls=True, cassette=path, record_mode="verify"
            ) as m,
            open_client("httpx-async") as client,
        ):
            m.get(f"{upstream.url}/user", body="from a route")
            assert await client.text(f"{upstream.url}/user") == "from a route"
        assert upstream.paths == list(FIRST)
