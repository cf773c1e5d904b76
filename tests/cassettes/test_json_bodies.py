"""``json_bodies="structured"``: JSON bodies written as YAML values, read back
to the exact bytes recorded.

Each test records from an upstream (:mod:`tests.support.upstream`, addressed
by name) that answers with exact JSON texts, then replays with the upstream
stopped. Nothing leaves the machine: ``conftest.py`` puts every test under the
loopback net.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from aiointercept import CassetteError, aiointercept
from tests.support.cassettes import (
    cassette_block,
    every_client,
    interactions,
    load,
    record,
    replay,
    response_body,
)
from tests.support.clients import Client, open_client
from tests.support.upstream import UpstreamHandler, serving

pytestmark = pytest.mark.anyio

#: Exact response texts, by path, and whether the file stores them as values.
TEXTS: dict[str, tuple[bytes, bool]] = {
    # JavaScript's JSON.stringify
    "/compact": ('{"id":1,"name":"Zoë","tags":["a"],"meta":{}}'.encode(), True),
    # Python's json.dumps: spaced, non-ASCII escaped; the keys out of order
    "/spaced": (
        json.dumps({"z": 1, "a": "Zoë", "n": None, "f": 0.5, "t": True}).encode(),
        True,
    ),
    # pretty-printed, with a line end
    "/pretty": ((json.dumps({"list": [1, {"x": []}]}, indent=2) + "\n").encode(), True),
    # numbers no layout writes so: kept as text, replayed exactly
    "/odd": (b'{"price": 1.50, "big": 1E3}', False),
    # the same key twice: kept as text
    "/twice": (b'{"a":1,"a":2}', False),
    # not JSON although it says so
    "/broken": (b"{not json", False),
}


class JsonHandler(UpstreamHandler):
    """Answers ``/TEXT`` with :data:`TEXTS`, and ``/echo`` with the JSON it is
    sent, spaced."""

    def respond(self, body: bytes) -> None:
        if self.route == "/echo":
            self.send_body(json.dumps(json.loads(body)).encode(), "application/json")
            return
        self.send_body(TEXTS[self.route][0], "application/json; charset=utf-8")


async def get_all(client: Client, url: str) -> list[bytes]:
    return [(await client.get(f"{url}{path}")).body for path in TEXTS]


@every_client
async def test_json_bodies_are_written_as_values_and_replay_byte_for_byte(
    kind: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    async with serving(JsonHandler) as upstream:
        live = await record(
            path,
            upstream,
            kind,
            lambda c: get_all(c, upstream.url),
            json_bodies="structured",
        )
    assert live == [text for text, _ in TEXTS.values()]
    written = path.read_text()
    assert written.startswith('# Written with json_bodies="structured"')
    assert load(path)["json_bodies"] == "structured"
    for interaction, (text, structured) in zip(
        interactions(path), TEXTS.values(), strict=True
    ):
        body = interaction["response"]["body"]
        if structured:
            assert body["json"] == json.loads(text)
            assert "string" not in body
        else:
            assert body == {"string": text.decode()}
    spaced = interactions(path)[1]["response"]["body"]
    # the value's keys in the order they came, the layout that writes them
    assert list(spaced["json"]) == ["z", "a", "n", "f", "t"]
    assert spaced["layout"] == "spaced ascii"
    assert interactions(path)[2]["response"]["body"]["layout"] == "indent=2 newline"
    assert "layout" not in interactions(path)[0]["response"]["body"]
    # readable: the value's lines, not one escaped string
    assert "    name: Zoë\n" in written

    replayed = await replay(path, kind, lambda c: get_all(c, upstream.url))
    assert replayed == live


async def test_request_bodies_are_written_as_values_too(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    sent = {"query": "Zoë", "page": 2}

    async def post(client: Client) -> bytes:
        reply = await client.request("POST", f"{url}/echo", json_body=sent)
        return reply.body

    async with serving(JsonHandler) as upstream:
        url = upstream.url
        live = await record(
            path,
            upstream,
            "httpx-async",
            post,
            json_bodies="structured",
            match_on=["method", "uri", "body"],
        )
        [received] = upstream.received
    [interaction] = interactions(path)
    assert interaction["request"]["body"]["json"] == sent
    # the exact bytes sent are what the request is matched against
    async with (
        aiointercept(
            mock_external_urls=True,
            cassette=path,
            record_mode="none",
            match_on=["method", "uri", "raw_body"],
        ) as m,
        open_client("httpx-async") as client,
    ):
        assert await post(client) == live
    assert m.last_request is not None
    assert m.last_request.captured_body == received.body


async def test_an_edited_value_replays_in_the_recorded_layout(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    async with serving(JsonHandler) as upstream:
        url = f"{upstream.url}/spaced"
        await record(
            path,
            upstream,
            "httpx-async",
            lambda c: c.get(url),
            json_bodies="structured",
        )
    data = yaml.safe_load(path.read_text())
    data["interactions"][0]["response"]["body"]["json"]["a"] = "Bob"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    reply = await replay(path, "httpx-async", lambda c: c.get(url))
    assert reply.body == b'{"z": 1, "a": "Bob", "n": null, "f": 0.5, "t": true}'


async def test_text_is_the_default_and_reads_a_structured_file(
    tmp_path: Path, anyio_backend: str
) -> None:
    """The default writes vcrpy's strings; it reads a structured file, and a
    block that records with it writes the file back in vcrpy's form."""
    path = tmp_path / "c.yaml"
    async with serving(JsonHandler) as upstream:
        first, second = f"{upstream.url}/compact", f"{upstream.url}/spaced"
        await record(path, upstream, "httpx-async", lambda c: c.get(first))
        assert not path.read_text().startswith("#")
        assert "json_bodies" not in load(path)
        assert response_body(interactions(path)[0]) == TEXTS["/compact"][0]

        await record(
            path,
            upstream,
            "httpx-async",
            lambda c: c.get(first),
            json_bodies="structured",
            record_mode="rewrite",
        )
        assert "json" in interactions(path)[0]["response"]["body"]

        async def both(client: Client) -> list[bytes]:
            return [(await client.get(u)).body for u in (first, second)]

        bodies = await record(
            path, upstream, "httpx-async", both, record_mode="new_episodes"
        )
    assert bodies == [TEXTS["/compact"][0], TEXTS["/spaced"][0]]
    assert "json_bodies" not in load(path)
    assert [response_body(i) for i in interactions(path)] == bodies


def test_json_bodies_takes_text_or_structured(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="json_bodies must be one of text, structured"):
        aiointercept(
            mock_external_urls=True, cassette=tmp_path / "c.yaml", json_bodies="yaml"
        )
    with pytest.raises(ValueError, match="json_bodies requires cassette="):
        aiointercept(mock_external_urls=True, json_bodies="structured")


STRUCTURED = """\
json_bodies: structured
interactions:
- request: {body: null, headers: {}, method: GET, uri: 'http://localhost:1/a'}
  response:
    body: {json: {a: 1}, layout: %s}
    headers: {Content-Type: [application/json]}
    status: {code: 200, message: OK}
version: 1
"""


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (STRUCTURED % "'sideways'", "a layout starts with compact, spaced or indent=N"),
        (STRUCTURED % "'compact bold'", "a layout may say ascii and newline"),
        (STRUCTURED % "'indent=x'", "indent=N takes a number of spaces"),
        (
            STRUCTURED.replace("json_bodies: structured", "json_bodies: yaml")
            % "compact",
            "json_bodies must be one of text, structured, got 'yaml'",
        ),
        (
            (STRUCTURED % "compact").replace("{json: {a: 1}", "{json: 2020-01-01"),
            "the body's json value",
        ),
    ],
)
async def test_a_bad_structured_body_is_an_error_at_the_start(
    tmp_path: Path, anyio_backend: str, text: str, problem: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(CassetteError, match=problem) as info:
        async with aiointercept(
            mock_external_urls=True, cassette=path, record_mode="none"
        ):
            pass
    assert str(path) in str(info.value)


async def test_a_json_cassette_holds_the_values_as_json(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.json"
    async with serving(JsonHandler) as upstream:
        live = await record(
            path,
            upstream,
            "httpx-async",
            lambda c: get_all(c, upstream.url),
            json_bodies="structured",
            serializer="json",
        )
        data = json.loads(path.read_text())
        assert data["json_bodies"] == "structured"
        bodies = [i["response"]["body"] for i in data["interactions"]]
        assert bodies[1] == {
            "json": json.loads(TEXTS["/spaced"][0]),
            "layout": "spaced ascii",
        }
        assert list(bodies[1]["json"]) == ["z", "a", "n", "f", "t"]
        assert bodies[3] == {"string": TEXTS["/odd"][0].decode()}
        async with cassette_block(
            path, "httpx-async", record_mode="none", serializer="json"
        ) as (_, client):
            assert await get_all(client, upstream.url) == live
