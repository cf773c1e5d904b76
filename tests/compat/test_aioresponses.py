"""What users of aioresponses (and of aiointercept 1.0.0) rely on beyond the
names: a callback beside a static response, subclasses through the decorator,
hosts with a trailing dot, passthrough URLs with a path, routes that could
never serve, and a fresh journal for each block of an instance."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import requests
from yarl import URL

from aiointercept import CallbackResult, RegisteredRoute, aiointercept
from tests.support import internals

# -- callback= beside a static response ------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_callback_result_wins_over_the_static_response(kind: str) -> None:
    def sync_answer(url: URL, **kwargs: Any) -> CallbackResult:
        return CallbackResult(status=202, payload={"from": "callback"})

    async def async_answer(url: URL, **kwargs: Any) -> CallbackResult:
        return CallbackResult(status=202, payload={"from": "callback"})

    async with aiointercept() as m, httpx.AsyncClient(base_url=m.server_url) as client:
        m.get(
            "/x",
            callback=sync_answer if kind == "sync" else async_answer,
            status=201,
            payload={"from": "static"},
            headers={"X-Static": "1"},
        )
        response = await client.get("/x")
    assert response.status_code == 202
    assert response.json() == {"from": "callback"}
    assert "X-Static" not in response.headers


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_callback_returning_none_gets_the_static_response(kind: str) -> None:
    seen: list[Any] = []

    def sync_spy(url: URL, **kwargs: Any) -> None:
        seen.append(kwargs["json"])

    async def async_spy(url: URL, **kwargs: Any) -> None:
        seen.append(kwargs["json"])

    async with aiointercept() as m, httpx.AsyncClient(base_url=m.server_url) as client:
        m.post(
            "/orders",
            callback=sync_spy if kind == "sync" else async_spy,
            status=201,
            payload={"id": 7},
            content_type="application/vnd.api+json",
            reason="Made",
            repeat=2,
        )
        first = await client.post("/orders", json={"sku": "A"})
        second = await client.post("/orders", json={"sku": "B"})
    for response in (first, second):
        assert response.status_code == 201
        assert response.reason_phrase == "Made"
        assert response.headers["Content-Type"] == "application/vnd.api+json"
        assert response.json() == {"id": 7}
    assert seen == [{"sku": "A"}, {"sku": "B"}]


@pytest.mark.anyio
async def test_a_callback_returning_none_without_static_arguments_gets_200() -> None:
    async with aiointercept() as m, httpx.AsyncClient(base_url=m.server_url) as client:
        m.get("/ping", callback=lambda url, **kwargs: None)
        response = await client.get("/ping")
    assert response.status_code == 200
    assert response.content == b""


def test_a_streamed_static_body_with_a_callback_is_refused() -> None:
    with pytest.raises(TypeError, match="CallbackResult"):
        aiointercept().get(
            "http://api.test/x",
            callback=lambda url, **kwargs: None,
            body=[b"a", b"b"],
        )


# -- subclasses through the decorator --------------------------------------------------


class ApiMock(aiointercept):
    """A subclass that adapts the mock to a code base, as users write them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(mock_external_urls=True, **kwargs)
        self.base = "https://api.example.com"

    def user(self, user_id: int, **kwargs: Any) -> RegisteredRoute:
        return self.get(f"{self.base}/users/{user_id}", **kwargs)

    def add(self, url: Any, method: str = "GET", *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("headers", {"X-Mocked": "yes"})
        return super().add(url, method, *args, **kwargs)


@pytest.mark.anyio
async def test_the_decorator_passes_an_instance_of_the_subclass() -> None:
    received: list[aiointercept] = []

    @ApiMock(param="api")
    async def check(*, api: ApiMock) -> None:
        received.append(api)
        api.user(1, payload={"id": 1})
        async with httpx.AsyncClient() as client:
            response = await client.get("https://api.example.com/users/1")
        assert response.json() == {"id": 1}
        assert response.headers["X-Mocked"] == "yes"  # the overridden add()

    await check()
    await check()
    first, second = received
    assert type(first) is ApiMock
    assert first is not second
    assert first.mock_external_urls is True
    assert first.base == "https://api.example.com"


def test_a_subclass_through_the_pytest_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        f"""
        import pytest
        from aiointercept import aiointercept
        {internals.SHARED_SESSION_IMPORT}

        class ApiMock(aiointercept):
            def ping(self):
                return self.get("/ping", body="pong")

        @pytest.fixture(scope="session")
        def aiointercept_server():
            session = SharedSession(ApiMock())
            yield session.open()
            session.close()
        """
    )
    pytester.makepyfile(
        """
        import requests

        def test_ping(aiointercept_mock):
            assert type(aiointercept_mock).__name__ == "ApiMock"
            aiointercept_mock.ping()
            url = aiointercept_mock.server_url + "/ping"
            assert requests.get(url, timeout=5).text == "pong"
        """
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


# -- a host with a trailing dot --------------------------------------------------------


def test_a_route_for_a_host_with_a_trailing_dot_matches() -> None:
    with aiointercept(mock_external_urls=True) as m:
        m.get("http://api.test./dotted", body="dotted")
        m.get("http://api.test/plain", body="plain")
        assert requests.get("http://api.test/dotted", timeout=5).text == "dotted"
        assert requests.get("http://api.test./plain", timeout=5).text == "plain"
    key = ("GET", URL("http://api.test/dotted"))
    assert len(m.requests[key]) == 1
    assert len(m.requests[("GET", "http://api.test./dotted")]) == 1
    m.assert_called_once_with("http://api.test./dotted")
    m.assert_called_once_with("http://api.test/plain")


def test_a_passthrough_host_with_a_trailing_dot_is_the_same_host() -> None:
    with aiointercept() as upstream:  # stands for the real server
        upstream.get("/status", body="real")
        port = upstream.server_port
        entry = f"http://localhost.:{port}"
        with aiointercept(mock_external_urls=True, passthrough=[entry]) as m:
            m.get("http://api.test/", body="mocked")
            url = f"http://localhost:{port}/status"
            assert requests.get(url, timeout=5).text == "real"
        assert m.call_count == 0
    assert upstream.call_count == 1


# -- passthrough entries with a path ---------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        "http://127.0.0.2:8080/status",
        "http://127.0.0.2:8080/status?verbose=1#top",
        "127.0.0.2:8080/health",
    ],
)
def test_a_passthrough_url_with_a_path_stands_for_its_host_and_port(
    entry: str,
) -> None:
    m = aiointercept(mock_external_urls=True, passthrough=[entry])
    assert m.passthrough == (entry,)


def test_a_passthrough_url_with_a_path_lets_its_host_through() -> None:
    # a local server stands for the real one; by name, "localhost" would be
    # intercepted if it were not listed
    with aiointercept() as upstream:
        upstream.get("/status", body="real")
        port = upstream.server_port
        entry = f"http://localhost:{port}/status"
        with aiointercept(mock_external_urls=True, passthrough=[entry]) as m:
            m.get("http://api.test/", body="mocked")
            url = f"http://localhost:{port}/status"
            assert requests.get(url, timeout=5).text == "real"
        assert m.call_count == 0


def test_an_unparseable_passthrough_entry_is_still_an_error() -> None:
    with pytest.raises(ValueError, match="invalid passthrough host 'http://'"):
        aiointercept(mock_external_urls=True, passthrough=["http://"])


# -- routes that could never serve -----------------------------------------------------


def test_a_route_after_a_repeat_true_route_is_refused() -> None:
    with aiointercept(mock_external_urls=True) as m:
        m.get("http://api.test/x", repeat=True)
        with pytest.raises(ValueError, match=r"GET http://api.test/x .*repeat=True"):
            m.get("http://api.test/x", status=500)
        with pytest.raises(ValueError, match="could never serve"):
            m.get("http://api.test/x", repeat=True)
        with pytest.raises(ValueError, match="could never serve"):
            m.get("http://api.test/x", match_json={"a": 1})  # it asks for more
    assert len(m.handlers[(URL("http://api.test/x"), "GET")]) == 1


def test_a_pattern_route_after_a_repeat_true_pattern_is_refused() -> None:
    with aiointercept(mock_external_urls=True) as m:
        m.get(re.compile(r"http://api\.test/\d+"), repeat=True)
        with pytest.raises(ValueError, match="could never serve"):
            m.get(re.compile(r"http://api\.test/\d+"), repeat=2)


@pytest.mark.parametrize(
    "later",
    [
        {"method": "POST"},
        {"url": "http://api.test/y"},
        {"url": "http://api.test/x?page=2"},
        {"match_query": {"page": "2"}},
    ],
)
def test_a_route_the_repeat_true_route_does_not_shadow_is_accepted(
    later: dict[str, Any],
) -> None:
    with aiointercept(mock_external_urls=True) as m:
        m.get("http://api.test/x", repeat=True)
        url = later.pop("url", "http://api.test/x")
        method = later.pop("method", "GET")
        m.add(url, method, **later)  # no error


def test_a_route_after_a_repeat_true_route_with_matchers_is_accepted() -> None:
    with aiointercept(mock_external_urls=True) as m:
        m.get("http://api.test/x", repeat=True, match_headers={"X-Key": "1"})
        m.get("http://api.test/x")  # serves the requests without that header
        m.get("http://api.test/y", repeat=True)
        m.clear()
        m.get("http://api.test/y")  # clear() forgets the repeat=True route


# -- a fresh journal for each block ----------------------------------------------------


@pytest.mark.anyio
async def test_entering_again_starts_a_new_journal_and_keeps_the_routes() -> None:
    m = aiointercept(mock_external_urls=True)
    route = m.get("http://api.test/ping", repeat=True, body="pong")
    for _ in range(2):
        async with m, httpx.AsyncClient() as client:
            assert m.call_count == 0
            m.assert_not_called()
            assert (await client.get("http://api.test/ping")).text == "pong"
            m.assert_called_once()
        assert m.call_count == 1  # readable after the block
        assert len(m.ordered_requests) == 1
    assert route.call_count == 2  # the route's own history spans both blocks


@pytest.mark.anyio
async def test_start_starts_a_new_journal() -> None:
    m = aiointercept()
    for _ in range(2):
        await m.start()
        m.clear()
        m.get("/once")
        async with httpx.AsyncClient() as client:
            await client.get(f"{m.server_url}/once")
        await m.stop()
        assert m.call_count == 1
        assert len(m.requests) == 1
