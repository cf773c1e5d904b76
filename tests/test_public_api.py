"""The public surface of ``import aiointercept``."""

from __future__ import annotations

import importlib.resources
import inspect

import pytest

import aiointercept as package

EXPECTED = {
    "aiointercept",
    "CallbackResult",
    "RecordedRequest",
    "AiointerceptError",
    "CallbackError",
    "RegisteredRoute",
    "UnmatchedRequest",
    "StrictCheckError",
    "NetworkBlockedError",
    "CassetteError",
    "CassetteRequest",
    "Fault",
    "ServerSentEvents",
    "UploadedFile",
    "WebSocket",
    "WebSocketClosedError",
    "WebSocketMessage",
    "MockResponse",
    "AiointerceptRequest",
}
#: aiointercept 1.0.0's names, kept as aliases of today's classes.
ALIASES = {"MockResponse": "RegisteredRoute", "AiointerceptRequest": "RecordedRequest"}


def test_all_lists_exactly_the_public_names() -> None:
    assert set(package.__all__) == EXPECTED
    assert len(package.__all__) == len(EXPECTED)  # no duplicates


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_exported_names_exist_and_live_in_the_package(name: str) -> None:
    obj = getattr(package, name)
    assert inspect.isclass(obj)
    assert obj.__name__ == ALIASES.get(name, name)
    assert obj.__module__ == "aiointercept"


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from aiointercept import *", namespace)
    assert set(namespace) - {"__builtins__"} == EXPECTED


def test_exception_hierarchy() -> None:
    assert issubclass(package.AiointerceptError, Exception)
    assert issubclass(package.CallbackError, package.AiointerceptError)
    assert not issubclass(package.AiointerceptError, package.CallbackError)
    assert package.AiointerceptError is not Exception
    assert issubclass(package.StrictCheckError, package.AiointerceptError)
    assert issubclass(package.StrictCheckError, AssertionError)
    assert issubclass(package.WebSocketClosedError, package.AiointerceptError)
    assert issubclass(package.NetworkBlockedError, package.AiointerceptError)
    assert issubclass(package.NetworkBlockedError, ConnectionRefusedError)
    assert issubclass(package.CassetteError, package.AiointerceptError)
    assert issubclass(package.CassetteError, AssertionError)


def test_package_ships_py_typed() -> None:
    marker = importlib.resources.files("aiointercept").joinpath("py.typed")
    assert marker.is_file()


@pytest.mark.parametrize(("alias", "name"), sorted(ALIASES.items()))
def test_1_0_names_are_aliases(alias: str, name: str) -> None:
    assert getattr(package, alias) is getattr(package, name)
