"""``@aiointercept()`` as a decorator, called directly and on tests collected by
pytest (anyio plugin on both backends, pytest-asyncio, classes, fixtures, param=)."""

from __future__ import annotations

import inspect
import time
from typing import Any

import anyio
import httpx
import pytest
import requests
from yarl import URL

from aiointercept import CallbackResult, aiointercept
from tests.support import inner_pytest
from tests.support.blocks import assert_port_closed, port_of


class DecoratedError(Exception):
    """Raised by a decorated function."""


# -- called directly ----------------------------------------------------------------


@pytest.mark.anyio
async def test_injects_the_instance_as_the_last_positional_argument() -> None:
    @aiointercept()
    async def fetch(
        path: str, body: str, m: aiointercept
    ) -> tuple[aiointercept, str, int, str]:
        m.get(path, body=body)
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}{path}")
        return m, m.server_url, response.status_code, response.text

    m, server_url, status, text = await fetch("/hello", "world")

    assert isinstance(m, aiointercept)
    assert (status, text) == (200, "world")
    assert m.requests[("GET", URL(f"{server_url}/hello"))][0].method == "GET"
    await assert_port_closed(port_of(server_url))


@pytest.mark.anyio
async def test_positional_injection_with_keyword_arguments_and_defaults() -> None:
    @aiointercept()
    async def fetch(path: str, m: aiointercept, *, body: str = "default") -> str:
        m.get(path, body=body)
        async with httpx.AsyncClient() as client:
            return (await client.get(f"{m.server_url}{path}")).text

    assert await fetch("/a") == "default"
    assert await fetch("/b", body="given") == "given"
    assert await fetch(path="/c", body="by keyword") == "by keyword"


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["positional-or-keyword", "keyword-only"])
async def test_param_injects_the_instance_as_that_keyword(kind: str) -> None:
    async def first_param(mock: aiointercept, path: str) -> tuple[str, int, str]:
        mock.post(path, status=201, body="created")
        async with httpx.AsyncClient() as client:
            response = await client.post(f"{mock.server_url}{path}")
        return mock.server_url, response.status_code, response.text

    async def keyword_only(path: str, *, mock: aiointercept) -> tuple[str, int, str]:
        return await first_param(mock, path)

    func = first_param if kind == "positional-or-keyword" else keyword_only
    decorated = aiointercept(param="mock")(func)

    server_url, status, text = await decorated("/items")

    assert (status, text) == (201, "created")
    await assert_port_closed(port_of(server_url))


@pytest.mark.anyio
async def test_each_call_gets_a_fresh_server_and_routes() -> None:
    calls: list[tuple[aiointercept, str, str]] = []

    @aiointercept()
    async def call(register: bool, m: aiointercept) -> None:
        if register:
            m.get("/only-first", body="registered")
        async with httpx.AsyncClient() as client:
            try:
                response = await client.get(f"{m.server_url}/only-first")
            except httpx.TransportError:
                outcome = "no route"
            else:
                outcome = response.text
        calls.append((m, m.server_url, outcome))

    await call(True)
    await assert_port_closed(port_of(calls[0][1]))
    await call(False)

    (first, first_url, first_outcome), (second, second_url, second_outcome) = calls
    assert first is not second
    assert first_url != second_url
    assert first_outcome == "registered"
    assert second_outcome == "no route"
    assert len(second.requests) == 1
    await assert_port_closed(port_of(second_url))


@pytest.mark.anyio
async def test_concurrent_calls_get_separate_servers() -> None:
    urls: dict[str, str] = {}
    bodies: dict[str, str] = {}

    @aiointercept()
    async def call(name: str, m: aiointercept) -> None:
        m.get("/name", body=name)
        urls[name] = m.server_url
        await anyio.sleep(0.05)  # both blocks are open at the same time
        async with httpx.AsyncClient() as client:
            bodies[name] = (await client.get(f"{m.server_url}/name")).text

    async def run(name: str) -> None:
        await call(name)

    async with anyio.create_task_group() as tg:
        tg.start_soon(run, "a")
        tg.start_soon(run, "b")

    assert bodies == {"a": "a", "b": "b"}
    assert urls["a"] != urls["b"]


@pytest.mark.anyio
async def test_the_return_value_passes_through() -> None:
    sentinel = object()

    @aiointercept()
    async def give(m: aiointercept) -> object:
        return sentinel

    assert await give() is sentinel


@pytest.mark.anyio
async def test_exceptions_pass_through_unchanged_and_close_the_server() -> None:
    mine = DecoratedError("from the decorated function")
    urls: list[str] = []

    @aiointercept()
    async def fail(m: aiointercept) -> None:
        urls.append(m.server_url)
        raise mine

    with pytest.raises(DecoratedError) as excinfo:
        await fail()

    assert excinfo.value is mine
    assert excinfo.value.args == ("from the decorated function",)
    await assert_port_closed(port_of(urls[0]))


@pytest.mark.anyio
async def test_decorator_configuration_reaches_each_fresh_instance() -> None:
    """callback_start_timeout given to the decorator applies inside each call."""

    async def never(url: URL, **kwargs: Any) -> CallbackResult:
        return CallbackResult()  # pragma: no cover - the loop is blocked

    @aiointercept(callback_start_timeout=0.2)
    async def blocked(m: aiointercept) -> tuple[int, float]:
        m.get("/async", callback=never)
        start = time.monotonic()
        response = requests.get(f"{m.server_url}/async", timeout=5)  # noqa: ASYNC210
        return response.status_code, time.monotonic() - start

    status, elapsed = await blocked()
    assert status == 503
    assert elapsed < 2  # the default of 5 s would have hit the client's timeout


def test_signature_hides_the_injected_parameter() -> None:
    async def positional(a: int, b: str, m: aiointercept) -> None:
        pass  # pragma: no cover

    async def named(mock: aiointercept, a: int, *, flag: bool = False) -> None:
        pass  # pragma: no cover

    assert list(inspect.signature(aiointercept()(positional)).parameters) == [
        "a",
        "b",
    ]
    assert list(inspect.signature(aiointercept(param="mock")(named)).parameters) == [
        "a",
        "flag",
    ]


def test_decorated_function_keeps_its_name_and_is_a_coroutine_function() -> None:
    async def my_test(m: aiointercept) -> None:
        """Docstring."""

    decorated = aiointercept()(my_test)
    assert decorated.__name__ == "my_test"
    assert decorated.__doc__ == "Docstring."
    assert inspect.iscoroutinefunction(decorated)


def test_decorating_a_sync_function_raises_type_error() -> None:
    def sync(m: aiointercept) -> None:
        pass  # pragma: no cover

    with pytest.raises(TypeError, match="async"):
        aiointercept()(sync)  # type: ignore[arg-type]


def test_param_naming_a_missing_parameter_raises_type_error() -> None:
    async def func(a: int, m: aiointercept) -> None:
        pass  # pragma: no cover

    with pytest.raises(TypeError, match="missing_name"):
        aiointercept(param="missing_name")(func)


# -- on tests collected by pytest ---------------------------------------------------

INI = """
[pytest]
addopts = -p no:cacheprovider
filterwarnings = error
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
"""

ANYIO_CONFTEST = """
import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param


@pytest.fixture
def token():
    return "user-fixture-token"
"""

HEADER = """
import sniffio
import httpx
import pytest
from yarl import URL

from aiointercept import aiointercept


async def roundtrip(m, path, body):
    m.get(path, body=body)
    async with httpx.AsyncClient() as client:
        response = await client.get(m.server_url + path, headers={"X-Test": body})
    assert response.status_code == 200
    assert response.text == body
    records = m.requests[("GET", URL(m.server_url + path))]
    assert [r.headers["X-Test"] for r in records] == [body]
    return response
"""


def run_pytest(pytester: pytest.Pytester, source: str) -> pytest.RunResult:
    return inner_pytest.run_pytest(
        pytester, ini=INI, conftest=ANYIO_CONFTEST, test_generated=HEADER + source
    )


def test_pytest_anyio_plugin_on_both_backends(pytester: pytest.Pytester) -> None:
    result = run_pytest(
        pytester,
        """
@pytest.mark.anyio
@aiointercept()
async def test_injected(anyio_backend, m):
    assert sniffio.current_async_library() == anyio_backend
    await roundtrip(m, "/hello", "world-" + anyio_backend)


@pytest.mark.anyio
@aiointercept()
async def test_wrong_expectation_fails(m):
    m.get("/hello", body="actual")
    async with httpx.AsyncClient() as client:
        response = await client.get(m.server_url + "/hello")
    assert response.text == "something else"
""",
    )
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_injected?asyncio? PASSED*",
            "*test_injected?trio? PASSED*",
            "*test_wrong_expectation_fails?asyncio? FAILED*",
            "*test_wrong_expectation_fails?trio? FAILED*",
        ]
    )


def test_pytest_asyncio(pytester: pytest.Pytester) -> None:
    result = run_pytest(
        pytester,
        """
import asyncio


@pytest.mark.asyncio
@aiointercept()
async def test_injected(m):
    assert sniffio.current_async_library() == "asyncio"
    asyncio.get_running_loop()
    await roundtrip(m, "/hello", "pytest-asyncio")


@pytest.mark.asyncio
@aiointercept()
async def test_fresh_server_per_test(m):
    assert m.requests == {}
    await roundtrip(m, "/again", "fresh")
""",
    )
    result.assert_outcomes(passed=2)


def test_pytest_methods_of_test_classes(pytester: pytest.Pytester) -> None:
    result = run_pytest(
        pytester,
        """
class TestWithAnyio:
    @pytest.mark.anyio
    @aiointercept()
    async def test_method(self, anyio_backend, m):
        assert isinstance(self, TestWithAnyio)
        await roundtrip(m, "/method", "anyio-" + anyio_backend)


class TestWithPytestAsyncio:
    @pytest.mark.asyncio
    @aiointercept()
    async def test_method(self, m):
        assert isinstance(self, TestWithPytestAsyncio)
        await roundtrip(m, "/method", "pytest-asyncio")
""",
    )
    result.assert_outcomes(passed=3)


def test_pytest_other_fixtures_still_arrive(pytester: pytest.Pytester) -> None:
    result = run_pytest(
        pytester,
        """
@pytest.fixture
def prefix():
    return "/api"


@pytest.mark.anyio
@aiointercept()
async def test_anyio(tmp_path, token, prefix, anyio_backend, m):
    (tmp_path / "note.txt").write_text(token)
    assert token == "user-fixture-token"
    await roundtrip(m, prefix + "/anyio", (tmp_path / "note.txt").read_text())


@pytest.mark.asyncio
@aiointercept()
async def test_pytest_asyncio(tmp_path, token, prefix, m):
    (tmp_path / "note.txt").write_text(token)
    await roundtrip(m, prefix + "/asyncio", (tmp_path / "note.txt").read_text())


@pytest.mark.anyio
@pytest.mark.parametrize("value", ["one", "two"])
@aiointercept()
async def test_parametrized(value, anyio_backend, m):
    await roundtrip(m, "/param", value)
""",
    )
    result.assert_outcomes(passed=7)


def test_pytest_with_param(pytester: pytest.Pytester) -> None:
    result = run_pytest(
        pytester,
        """
@pytest.mark.anyio
@aiointercept(param="mock")
async def test_first_parameter(mock, tmp_path, anyio_backend):
    assert tmp_path.is_dir()
    await roundtrip(mock, "/first", "first-" + anyio_backend)


@pytest.mark.anyio
@aiointercept(param="mock")
async def test_keyword_only(anyio_backend, *, mock):
    await roundtrip(mock, "/kwonly", "kwonly-" + anyio_backend)


@pytest.mark.anyio
@aiointercept(param="mock")
async def test_last_parameter(tmp_path, anyio_backend, mock):
    assert tmp_path.is_dir()
    await roundtrip(mock, "/last", "last-" + anyio_backend)


@pytest.mark.asyncio
@aiointercept(param="http_mock")
async def test_pytest_asyncio(http_mock, token):
    await roundtrip(http_mock, "/asyncio", token)


class TestParamOnAMethod:
    @pytest.mark.asyncio
    @aiointercept(param="mock")
    async def test_method(self, mock, tmp_path):
        assert isinstance(self, TestParamOnAMethod)
        assert tmp_path.is_dir()
        await roundtrip(mock, "/method", "param")
""",
    )
    result.assert_outcomes(passed=8)
