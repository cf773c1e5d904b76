"""pytest plugin: the ``aiointercept_mock`` and ``aiointercept_server`` fixtures
and the ``aiointercept`` marker.

Registered through the ``pytest11`` entry point. One server serves the whole
session (one per xdist worker); each test that uses ``aiointercept_mock`` gets
it with no routes and no records, configured by its marker, and is failed at
teardown by what its own requests caused. The fixtures are synchronous, so they
work in sync tests and under every async harness (the anyio plugin on asyncio
and trio, pytest-asyncio) without depending on any of them; async callbacks
run on the loop of the test that registers them.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ._interceptor import aiointercept
from ._recording import RECORD_MODES

__all__ = ["aiointercept_mock", "aiointercept_server"]

_MARKER = "aiointercept"
_DEFAULT = aiointercept()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("aiointercept")
    # pytest-recording may have added it already: then its value is shared
    with contextlib.suppress(ValueError):
        group.addoption(
            "--record-mode",
            dest="record_mode",
            choices=RECORD_MODES,
            default=None,
            help="record mode of every aiointercept cassette whose marker does not "
            "set one (default: once)",
        )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(**options): configure the aiointercept_mock fixture for this "
        "test with aiointercept's constructor options (mock_external_urls, "
        "passthrough, passthrough_unmatched, callback_start_timeout, "
        "assert_all_called, assert_all_matched, cassette, record_mode, ...); "
        "cassette=True records to cassettes/<module>/<test>.yaml",
    )


@pytest.fixture(scope="session")
def aiointercept_server() -> Iterator[aiointercept]:
    """One mock server for the whole session, cleared after each test."""
    server = aiointercept()
    server._start_shared()
    try:
        yield server
    finally:
        server._stop_shared()


@pytest.fixture
def aiointercept_mock(
    request: pytest.FixtureRequest, aiointercept_server: aiointercept
) -> Iterator[aiointercept]:
    """The session's mock server, ready for this test: no routes, no records,
    configured by the test's ``@pytest.mark.aiointercept(...)`` marker."""
    __tracebackhide__ = True
    aiointercept_server._begin_test(_options(request.node))
    yield aiointercept_server
    aiointercept_server._end_test()


def _options(node: pytest.Item | Any) -> aiointercept:
    marker = node.get_closest_marker(_MARKER)
    if marker is None:
        return _DEFAULT
    if marker.args:
        raise TypeError(
            f"@pytest.mark.{_MARKER} takes keyword arguments only, got {marker.args!r}"
        )
    if "param" in marker.kwargs:
        raise TypeError(
            f"@pytest.mark.{_MARKER} does not take param=: it configures the "
            "aiointercept_mock fixture, which is requested by name"
        )
    kwargs = dict(marker.kwargs)
    cassette = kwargs.get("cassette")
    if cassette is True:
        kwargs["cassette"] = default_cassette(node)
    elif cassette is False:
        del kwargs["cassette"]
    elif isinstance(cassette, str | os.PathLike) and not Path(cassette).is_absolute():
        kwargs["cassette"] = Path(node.path).parent / cassette
    if kwargs.get("cassette") is not None and "record_mode" not in kwargs:
        mode = node.config.getoption("record_mode", None)
        if mode is not None:
            kwargs["record_mode"] = mode
    return aiointercept(**kwargs)


def default_cassette(node: pytest.Item | Any) -> Path:
    """``cassettes/<module>/<test>.yaml`` beside the test's file."""
    path = Path(node.path)
    cls = getattr(node, "cls", None)
    name = node.name if cls is None else f"{cls.__name__}.{node.name}"
    return path.parent / "cassettes" / path.stem / f"{_safe(name)}.yaml"


def _safe(name: str) -> str:
    return re.sub(r'[\\/:*?"<>|\s]+', "-", name)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """A test that used ``aiointercept_server`` directly leaves nothing behind,
    and is failed by what its own requests caused."""
    __tracebackhide__ = True
    fixtures = getattr(item, "funcargs", {})
    server = fixtures.get("aiointercept_server")
    if isinstance(server, aiointercept) and "aiointercept_mock" not in fixtures:
        server._end_test()
