"""``aiointercept.vcr``: vcrpy's API, used as vcrpy users use it, with
``import vcr`` replaced by ``from aiointercept import vcr``.

Each test records from the upstream of :mod:`tests.support.upstream`
(addressed by name, ``http://localhost:PORT``, which a cassette block
intercepts), then replays with the upstream stopped, so that a replay that
reached the network would fail. ``conftest.py`` puts every test under the
loopback net: nothing leaves the machine.
"""

from __future__ import annotations

import inspect
import json
import re
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from aiointercept import (
    Cassette,
    CassetteError,
    CassetteRequest,
    NetworkBlockedError,
    vcr,
)
from aiointercept.vcr.errors import CannotOverwriteExistingCassetteException
from aiointercept.vcr.record_mode import RecordMode
from tests.support.cassettes import (
    as_bytes,
    every_client,
    header,
    interactions,
    uris,
)
from tests.support.clients import open_client
from tests.support.loopback_net import LoopbackNet
from tests.support.upstream import GZIP_TEXT, Upstream, running, serving


def get(url: str, **kwargs: Any) -> requests.Response:
    return requests.get(url, timeout=10, **kwargs)


def library(tmp_path: Path, **options: Any) -> vcr.VCR:
    """A configuration whose cassettes are ``tmp_path/<name>.yaml``."""
    return vcr.VCR(
        cassette_library_dir=str(tmp_path),
        path_transformer=vcr.VCR.ensure_suffix(".yaml"),
        **options,
    )


def record_once(my_vcr: vcr.VCR, name: str, *paths: str, **options: Any) -> Upstream:
    """Record a GET of each of ``paths`` into cassette ``name``; returns the
    stopped upstream, whose port the cassette names."""
    with running() as upstream, my_vcr.use_cassette(name, **options):
        for path in paths:
            assert get(upstream.url + path).ok
    return upstream


# -- the surface, end to end, with each client -----------------------------------------


@every_client
@pytest.mark.anyio
async def test_async_with_records_then_replays_with_the_upstream_stopped(
    kind: str, tmp_path: Path
) -> None:
    my_vcr = library(tmp_path)
    async with serving() as upstream:
        async with (
            my_vcr.use_cassette("users") as cassette,
            open_client(kind) as client,
        ):
            recorded = await client.text(f"{upstream.url}/users?page=1")
        assert isinstance(cassette, Cassette)
        assert cassette.path == tmp_path / "users.yaml"
        assert len(cassette) == 1
        assert cassette.play_count == 0
    assert uris(tmp_path / "users.yaml") == [f"{upstream.url}/users?page=1"]

    async with (
        my_vcr.use_cassette("users", record_mode=vcr.mode.NONE) as cassette,
        open_client(kind) as client,
    ):
        assert await client.text(f"{upstream.url}/users?page=1") == recorded
    assert cassette.play_count == 1
    assert cassette.all_played


@pytest.mark.anyio
async def test_a_decorated_async_function_runs_each_call_in_a_fresh_block(
    tmp_path: Path, anyio_backend: str
) -> None:
    my_vcr = library(tmp_path)

    @my_vcr.use_cassette("calls")
    async def call(url: str) -> str:
        async with httpx.AsyncClient() as client:
            return (await client.get(url)).text

    async with serving() as upstream:
        assert await call(f"{upstream.url}/one") == "upstream GET /one"
    # the next call replays the cassette that the first one wrote
    assert await call(f"{upstream.url}/one") == "upstream GET /one"
    assert upstream.paths == ["/one"]


def test_with_and_a_decorated_sync_function(tmp_path: Path) -> None:
    path = tmp_path / "sync.yaml"
    with running() as upstream, vcr.use_cassette(str(path)) as cassette:
        assert get(upstream.url + "/sync").text == "upstream GET /sync"
    assert cassette.path == path
    assert uris(path) == [upstream.url + "/sync"]

    @vcr.use_cassette(path, record_mode="none")
    def replay(suffix: str) -> str:
        return get(upstream.url + suffix).text

    assert replay("/sync") == "upstream GET /sync"
    with pytest.raises(CannotOverwriteExistingCassetteException) as info:
        replay("/missing")
    assert isinstance(info.value, CassetteError)
    assert "no interaction left for GET " + upstream.url + "/missing" in str(info.value)


def test_a_decorated_generator_runs_in_the_block_while_it_is_iterated(
    tmp_path: Path,
) -> None:
    my_vcr = library(tmp_path)

    @my_vcr.use_cassette("pages")
    def pages(base: str) -> Any:
        for page in (1, 2):
            yield get(f"{base}/page/{page}").text

    with running() as upstream:
        assert list(pages(upstream.url)) == [
            "upstream GET /page/1",
            "upstream GET /page/2",
        ]
    assert len(interactions(tmp_path / "pages.yaml")) == 2


# -- where the cassette is -------------------------------------------------------------


def test_a_decorator_without_a_path_names_the_cassette_after_the_function(
    tmp_path: Path,
) -> None:
    """As in vcrpy: in ``cassette_library_dir``, or without one, beside the
    function's file; ``func_path_generator`` names it otherwise."""
    namespace: dict[str, Any] = {"vcr": vcr, "get": get}
    code = compile(
        "@vcr.use_cassette\n"
        "def fetch(url):\n"
        "    return get(url).text\n"
        "\n"
        "@vcr.VCR(cassette_library_dir=LIBRARY).use_cassette()\n"
        "def fetch_into_library(url):\n"
        "    return get(url).text\n"
        "\n"
        "@vcr.VCR(func_path_generator=lambda f: LIBRARY + '/generated/' + f.__name__)"
        ".use_cassette()\n"
        "def fetch_generated(url):\n"
        "    return get(url).text\n",
        str(tmp_path / "module.py"),
        "exec",
    )
    namespace["LIBRARY"] = str(tmp_path / "library")
    exec(code, namespace)  # functions whose file is tmp_path/module.py
    with running() as upstream:
        for name in ("fetch", "fetch_into_library", "fetch_generated"):
            assert namespace[name](upstream.url + "/" + name).startswith("upstream")
    assert uris(tmp_path / "fetch") == [upstream.url + "/fetch"]
    assert uris(tmp_path / "library" / "fetch_into_library")
    assert uris(tmp_path / "library" / "generated" / "fetch_generated")


def test_the_library_folder_and_the_path_transformer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The transformer first, then the folder, unless the path is in it
    already (vcrpy's order)."""
    monkeypatch.chdir(tmp_path)
    my_vcr = vcr.VCR(
        cassette_library_dir="lib", path_transformer=vcr.VCR.ensure_suffix(".yml")
    )
    with running() as upstream:
        for name in ("a", "b.yml", "lib/c", Path("d")):
            with my_vcr.use_cassette(name):
                get(upstream.url + "/x")
    assert sorted(p.name for p in (tmp_path / "lib").iterdir()) == [
        "a.yml",
        "b.yml",
        "c.yml",
        "d.yml",
    ]
    assert vcr.VCR.ensure_suffix(".yaml")("x.yaml") == "x.yaml"


# -- options ---------------------------------------------------------------------------


def test_record_modes_and_their_names(tmp_path: Path) -> None:
    assert vcr.mode is RecordMode
    assert RecordMode("new_episodes") is vcr.mode.NEW_EPISODES
    my_vcr = library(tmp_path)
    record_once(my_vcr, "modes", "/first")
    with (
        running() as upstream,
        my_vcr.use_cassette("modes", record_mode=RecordMode.NEW_EPISODES) as cassette,
    ):
        get(upstream.url + "/second")
    assert cassette.record_mode is RecordMode.NEW_EPISODES
    assert [u.rsplit("/", 1)[1] for u in uris(tmp_path / "modes.yaml")] == [
        "first",
        "second",
    ]


def test_a_configuration_change_applies_to_the_next_call_of_a_decorated_function(
    tmp_path: Path,
) -> None:
    """vcrpy reads the VCR's options at each call, unless
    ``with_current_defaults=True`` froze them."""
    my_vcr = library(tmp_path)

    @my_vcr.use_cassette("late")
    def fetch(url: str) -> str:
        return get(url).text

    @my_vcr.use_cassette("frozen", with_current_defaults=True)
    def fetch_frozen(url: str) -> str:
        return get(url).text

    my_vcr.record_mode = "none"
    assert my_vcr.record_mode is RecordMode.NONE
    with running() as upstream:
        fetch(upstream.url + "/late")
        fetch_frozen(upstream.url + "/frozen")
    assert not (tmp_path / "late.yaml").exists()
    assert uris(tmp_path / "frozen.yaml") == [upstream.url + "/frozen"]


def test_match_on_names_vcrpys_url_and_registered_matchers(tmp_path: Path) -> None:
    my_vcr = library(tmp_path)
    seen: list[tuple[str, str]] = []

    def same_tenant(live: CassetteRequest, recorded: CassetteRequest) -> None:
        seen.append((live.url, recorded.url))
        assert live.headers.get("X-Tenant") == recorded.headers.get("X-Tenant")

    my_vcr.register_matcher("tenant", same_tenant)
    with running() as upstream, my_vcr.use_cassette("m"):
        get(upstream.url + "/t", headers={"X-Tenant": "a"})
        get(upstream.url + "/t", headers={"X-Tenant": "b"})

    with my_vcr.use_cassette(
        "m", record_mode="none", match_on=["method", "url", "tenant"]
    ):
        assert get(upstream.url + "/t", headers={"X-Tenant": "b"}).ok
    assert seen  # the registered matcher was asked
    with (
        pytest.raises(CassetteError, match="same_tenant"),
        my_vcr.use_cassette(
            "m", record_mode="none", match_on=["url"], additional_matchers=["tenant"]
        ),
        pytest.raises(requests.ConnectionError),
    ):
        get(upstream.url + "/t", headers={"X-Tenant": "c"})
    unknown = my_vcr.use_cassette("m", match_on=["tenantt"])
    with pytest.raises(
        ValueError, match="'tenantt' is neither built in nor registered"
    ):
        unknown.__enter__()


def test_filters_and_request_hooks_as_lists(tmp_path: Path) -> None:
    def tag(request: CassetteRequest) -> CassetteRequest:
        request.headers["X-Tagged"] = "yes"
        return request

    def drop_skipped(request: CassetteRequest) -> CassetteRequest | None:
        return None if request.path == "/skipped" else request

    def tag_response(response: dict[str, Any]) -> dict[str, Any]:
        response["headers"]["X-Recorded"] = ["yes"]
        return response

    my_vcr = library(
        tmp_path,
        filter_headers=["x-private"],
        filter_query_parameters=[("key", "KEY")],
        filter_post_data_parameters=["pin"],
        before_record=[tag, drop_skipped],
        before_record_response=[tag_response],
    )
    with running() as upstream, my_vcr.use_cassette("f"):
        requests.post(
            upstream.url + "/echo?key=k1",
            data={"pin": "1234", "name": "bob"},
            headers={"X-Private": "p"},
            timeout=10,
        )
        get(upstream.url + "/skipped")
    (interaction,) = interactions(tmp_path / "f.yaml")
    request = interaction["request"]
    assert request["uri"] == upstream.url + "/echo?key=KEY"
    assert header(request, "X-Private") == []
    assert header(request, "X-Tagged") == ["yes"]
    assert as_bytes(request["body"]) == b"name=bob"
    assert header(interaction["response"], "X-Recorded") == ["yes"]


def test_ignored_hosts_go_to_the_network_unrecorded(tmp_path: Path) -> None:
    """The upstream by address (``127.0.0.1``) is ignored, by name
    (``localhost``) recorded; replaying, the ignored host is still asked."""
    my_vcr = library(tmp_path, ignore_hosts=["127.0.0.1"])
    with running() as upstream:
        with my_vcr.use_cassette("i"):
            get(upstream.ip_url + "/ignored")
            get(upstream.url + "/recorded")
        assert uris(tmp_path / "i.yaml") == [upstream.url + "/recorded"]
        with my_vcr.use_cassette("i", record_mode="none"):
            get(upstream.ip_url + "/ignored")
            get(upstream.url + "/recorded")
        assert upstream.paths == ["/ignored", "/recorded", "/ignored"]

        # recording (no file yet), yet nothing is recorded
        localhost = library(tmp_path, ignore_localhost=True)
        with localhost.use_cassette("all-local"):
            get(upstream.url + "/by-name")
            get(upstream.ip_url + "/by-address")
    assert upstream.paths[-2:] == ["/by-name", "/by-address"]
    assert not (tmp_path / "all-local.yaml").exists()


def test_an_ignored_host_is_not_replayed_from_an_older_cassette(tmp_path: Path) -> None:
    my_vcr = library(tmp_path)
    upstream = record_once(my_vcr, "old", "/old")
    # the request goes to the stopped upstream's port, refused
    with (
        pytest.raises(requests.ConnectionError),
        my_vcr.use_cassette("old", record_mode="none", ignore_localhost=True),
    ):
        get(upstream.url + "/old")


def test_the_core_options_pass_through(tmp_path: Path) -> None:
    """serializer, decode_compressed_response, allow_playback_repeats,
    drop_unused_requests, filter_sensitive_data and the interaction hooks."""
    loaded: list[str] = []

    def note_loaded(request: CassetteRequest, response: dict[str, Any]) -> Any:
        loaded.append(request.path)
        return request, response

    my_vcr = vcr.VCR(
        cassette_library_dir=str(tmp_path),
        serializer="json",
        path_transformer=vcr.VCR.ensure_suffix(".json"),
        decode_compressed_response=True,
        filter_sensitive_data={"<TOKEN>": "token-123", "<UNSET>": None},
        after_load_interaction=note_loaded,
    )
    with running() as upstream, my_vcr.use_cassette("core"):
        assert get(upstream.url + "/gzip").text == GZIP_TEXT
        assert get(upstream.url + "/secret").text == "your token-123 is here"
        get(upstream.url + "/unused")
    data = json.loads((tmp_path / "core.json").read_text())
    gzipped, secret, _ = (item["response"] for item in data["interactions"])
    assert "Content-Encoding" not in gzipped["headers"]
    assert secret["body"]["string"] == "your <TOKEN> is here"

    with my_vcr.use_cassette(
        "core",
        record_mode="none",
        allow_playback_repeats=True,
        drop_unused_requests=True,
    ) as cassette:
        assert get(upstream.url + "/secret").text == "your token-123 is here"
        assert get(upstream.url + "/secret").text == "your token-123 is here"
    assert cassette.play_counts == {1: 2}
    assert loaded == ["/gzip", "/secret", "/unused"]
    (kept,) = json.loads((tmp_path / "core.json").read_text())["interactions"]
    assert kept["request"]["uri"] == upstream.url + "/secret"


def test_record_on_exception(tmp_path: Path) -> None:
    my_vcr = library(tmp_path, record_on_exception=False)

    def failing_test(url: str, name: str, **options: Any) -> None:
        with my_vcr.use_cassette(name, **options):
            get(url)
            raise KeyError("the test failed")

    with running() as upstream:
        for name, options in (("kept", {"record_on_exception": True}), ("lost", {})):
            with pytest.raises(KeyError):
                failing_test(upstream.url + "/x", name, **options)
    assert (tmp_path / "kept.yaml").exists()
    assert not (tmp_path / "lost.yaml").exists()


def test_inject_cassette_in_functions_and_methods(tmp_path: Path) -> None:
    my_vcr = library(tmp_path, inject_cassette=True)

    @my_vcr.use_cassette("injected")
    def fetch(cassette: Cassette, url: str) -> int:
        get(url)
        return len(cassette)

    class Suite:
        @my_vcr.use_cassette("method")
        def fetch(self, cassette: Cassette, url: str) -> tuple[Suite, Path]:
            return self, cassette.path

    suite = Suite()
    with running() as upstream:
        assert fetch(upstream.url + "/x") == 1
    assert suite.fetch(upstream.url) == (suite, tmp_path / "method.yaml")
    assert list(inspect.signature(fetch).parameters) == ["url"]


def test_secrets_are_scrubbed_unless_told(tmp_path: Path) -> None:
    """aiointercept's own option, which vcrpy does not have."""
    my_vcr = library(tmp_path)
    with running() as upstream:
        for name, options in (("scrubbed", {}), ("raw", {"scrub_secrets": False})):
            with my_vcr.use_cassette(name, **options):
                get(upstream.url + "/s", headers={"Authorization": "Bearer t0k"})
    for name, expected in (("scrubbed", "Bearer SCRUBBED"), ("raw", "Bearer t0k")):
        (interaction,) = interactions(tmp_path / f"{name}.yaml")
        assert header(interaction["request"], "Authorization") == [expected]


def test_aiointercepts_own_cassette_options_pass_through(tmp_path: Path) -> None:
    """``json_bodies`` and ``stream_timing``, which vcrpy does not have."""
    my_vcr = library(tmp_path)
    with running() as upstream:
        with my_vcr.use_cassette("structured", json_bodies="structured"):
            get(upstream.url + "/echo")
        with my_vcr.use_cassette("timed", stream_timing=True):
            get(upstream.url + "/chunked")
    assert "json_bodies: structured" in (tmp_path / "structured.yaml").read_text()
    (interaction,) = interactions(tmp_path / "timed.yaml")
    assert "pauses" in interaction["response"]["body"]


def test_the_network_guard_is_on_unless_told(
    tmp_path: Path, loopback_network: LoopbackNet
) -> None:
    """A connection outside this machine that no cassette takes (here, to a
    database port) is refused, as in every aiointercept block, unless
    ``block_network=False`` (aiointercept's own option) lets it out."""
    outside = ("192.0.2.10", 5432)
    with (
        vcr.use_cassette(tmp_path / "g.yaml"),
        socket.socket() as sock,
        pytest.raises(NetworkBlockedError),
    ):
        sock.connect(outside)
    assert loopback_network.refused == []
    with (
        vcr.use_cassette(tmp_path / "g.yaml", block_network=False),
        socket.socket() as sock,
        pytest.raises(OSError, match="loopback net"),
    ):
        sock.connect(outside)
    assert loopback_network.refused == [outside]
    loopback_network.refused.clear()


# -- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"custom_patches": [(object, "send", object)]},
            "custom_patches.*patches no client",
        ),
        ({"skip_patchers": ["requests"]}, "skip_patchers.*no patcher to skip"),
        ({"persister": object()}, "persister.*reads and writes cassette files"),
        ({"filter_nested_post_data_parameters": True}, "nested fields"),
        ({"ignore_hosts": [re.compile("api.*")]}, "pattern in ignore_hosts"),
    ],
)
def test_unsupported_options_say_why(options: dict[str, Any], message: str) -> None:
    for call in (vcr.VCR, vcr.use_cassette):
        with pytest.raises(
            TypeError, match=r"not supported by aiointercept\.vcr"
        ) as info:
            call(**options)
        assert re.search(message, str(info.value)), info.value
    # the harmless default is accepted
    vcr.VCR(
        custom_patches=(), skip_patchers=[], filter_nested_post_data_parameters=False
    )


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"path_transformer": "x"}, TypeError, "path_transformer must be callable"),
        ({"before_record_request": 3}, TypeError, "before_record_request must be"),
        ({"before_record_response": [print, 3]}, TypeError, "entries must be callable"),
        (
            {"filter_headers": "authorization"},
            TypeError,
            "filter_headers must be a list",
        ),
        ({"match_on": ["method", 3]}, TypeError, "match_on"),
        ({"ignore_hosts": ["api.test", 3]}, TypeError, "must be host names, got 3"),
        ({"cassette_library_dir": b"/tmp"}, TypeError, "must be a path or None"),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else None,
)
def test_bad_option_values_are_named(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    for call in (vcr.VCR, vcr.use_cassette):
        with pytest.raises(error, match=message):
            call(**options)


def test_unsupported_methods_say_why() -> None:
    my_vcr = vcr.VCR()
    with pytest.raises(TypeError, match=r"register_serializer.*'yaml' and 'json'"):
        my_vcr.register_serializer("pickle", object())
    with pytest.raises(TypeError, match=r"register_persister.*cassette files itself"):
        my_vcr.register_persister(object())
    with pytest.raises(TypeError, match=r"test_case.*use_cassette"):
        my_vcr.test_case()


def test_bad_input_is_refused_where_it_is_given(tmp_path: Path) -> None:
    with pytest.raises(
        TypeError, match=r"'recrod_mode' \(did you mean 'record_mode'\?\)"
    ):
        vcr.VCR(recrod_mode="none")
    with pytest.raises(TypeError, match="'unknown'"):
        vcr.use_cassette("x.yaml", unknown=1)
    with pytest.raises(ValueError, match=r"record_mode must be one of .* got 'any'"):
        vcr.VCR(record_mode="any")
    with pytest.raises(ValueError, match="serializer must be one of 'yaml', 'json'"):
        vcr.use_cassette("x", serializer="toml")
    with pytest.raises(TypeError, match="ignore_localhost must be a bool"):
        vcr.VCR().ignore_localhost = "yes"
    with pytest.raises(AttributeError, match="'record' is not an option of VCR"):
        vcr.VCR().record = "none"
    with pytest.raises(TypeError, match="needs a path when it is used as a context"):
        vcr.use_cassette().__enter__()
    context = vcr.use_cassette(tmp_path / "x.yaml")
    with context, pytest.raises(RuntimeError, match="already open"):
        context.__enter__()
    with pytest.raises(TypeError, match="async generator"):

        @vcr.use_cassette("x.yaml")
        async def stream() -> Any:
            yield 1


def test_vcrpys_public_names() -> None:
    assert vcr.Request is CassetteRequest
    assert vcr.Request("GET", "http://h/p?q=1").url == "http://h/p?q=1"
    assert vcr.errors.CannotOverwriteExistingCassetteException is CassetteError
    assert vcr.record_mode.RecordMode is vcr.RecordMode
    assert vcr.use_cassette.__self__ is vcr.default_vcr  # type: ignore[attr-defined]
    assert dir(vcr) == sorted(vcr.__all__)
    for name in vcr.__all__:
        assert getattr(vcr, name) is not None


@pytest.mark.anyio
async def test_a_cassette_that_cannot_be_read_can_be_entered_again(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("interactions: [unclosed\n")
    context = vcr.use_cassette(path)

    async def enter_async() -> None:
        async with context:
            pass

    def enter() -> None:
        with context:
            pass

    for _ in range(2):
        with pytest.raises(CassetteError, match="cannot read cassette"):
            enter()
        with pytest.raises(CassetteError, match="cannot read cassette"):
            await enter_async()
    with pytest.raises(RuntimeError, match="is not open"):
        context.__exit__(None, None, None)


@pytest.mark.anyio
async def test_a_miss_is_raised_at_the_exit_of_async_with(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("interactions: []\nversion: 1\n")

    async def replay() -> None:
        async with (
            vcr.use_cassette(path, record_mode="none"),
            httpx.AsyncClient() as client,
        ):
            with pytest.raises(httpx.TransportError):
                await client.get("http://api.example.test/missing")

    missing = CannotOverwriteExistingCassetteException
    with pytest.raises(missing, match="no interaction"):
        await replay()


def test_a_matcher_function_in_match_on(tmp_path: Path) -> None:
    """vcrpy takes functions in ``match_on`` as well as registered names."""
    calls: list[str] = []

    def same_path(live: Any, recorded: Any) -> None:
        calls.append(live.path)
        assert live.path == recorded.path

    my_vcr = library(tmp_path, match_on=["method", same_path])
    with running() as upstream, my_vcr.use_cassette("m"):
        get(upstream.url + "/p?x=1")
    with my_vcr.use_cassette("m", record_mode="none"):
        assert get(upstream.url + "/p?x=2").text == "upstream GET /p?x=1"
    assert calls == ["/p"]
