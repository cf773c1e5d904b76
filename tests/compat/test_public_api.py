"""The public surface of ``import aiointercept``."""

from __future__ import annotations

import importlib.resources
import inspect
import json
import subprocess
import sys

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
    "Cassette",
    "CassetteRequest",
    "UnreachableRouteWarning",
    "Fault",
    "ServerAddress",
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
    assert issubclass(package.UnreachableRouteWarning, UserWarning)
    assert not issubclass(package.UnreachableRouteWarning, package.AiointerceptError)


def test_package_ships_py_typed() -> None:
    marker = importlib.resources.files("aiointercept").joinpath("py.typed")
    assert marker.is_file()


@pytest.mark.parametrize(("alias", "name"), sorted(ALIASES.items()))
def test_1_0_names_are_aliases(alias: str, name: str) -> None:
    assert getattr(package, alias) is getattr(package, name)


# -- what importing costs ---------------------------------------------------------

#: What a block needs, and what importing aiointercept (every pytest run does,
#: for the plugin) must not pull in before then.
DEPENDENCIES = ("aiohttp", "yarl", "multidict", "anyio", "asyncio", "yaml")


def imported_at(script: str) -> dict[str, list[str]]:
    """Run ``script`` in a fresh interpreter; wherever it calls ``stage(name)``,
    note which of :data:`DEPENDENCIES` are imported by then."""
    prelude = f"""\
import json, sys
_stages = {{}}
def stage(name):
    _stages[name] = sorted(m for m in {DEPENDENCIES!r} if m in sys.modules)
"""
    done = "\nprint(json.dumps(_stages))\n"
    result = subprocess.run(
        [sys.executable, "-c", prelude + script + done],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    stages: dict[str, list[str]] = json.loads(result.stdout.splitlines()[-1])
    return stages


def test_importing_the_package_and_its_plugin_imports_no_dependency() -> None:
    stages = imported_at(
        """
import aiointercept
stage("package")
from aiointercept import AiointerceptError, CassetteError, NetworkBlockedError
stage("exceptions")
import aiointercept.pytest_plugin
stage("plugin")
"""
    )
    assert stages == {"package": [], "exceptions": [], "plugin": []}


def test_a_block_imports_aiohttp_when_it_starts() -> None:
    stages = imported_at(
        """
import urllib.request
from aiointercept import aiointercept, Fault

stage("names")
with aiointercept() as m:
    stage("block")
    m.get(f"{m.server_url}/hello", body="hi")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{m.server_url}/hello", timeout=30) as response:
        assert response.read() == b"hi"
    m.assert_called_once()
assert aiointercept.__module__ == Fault.__module__ == "aiointercept"
stage("after")
"""
    )
    assert "aiohttp" not in stages["names"]
    assert "yaml" not in stages["names"]
    assert "aiohttp" in stages["block"]
    assert "aiohttp" in stages["after"]


def test_dir_lists_the_public_api_and_nothing_else() -> None:
    """Before and after the lazily imported names are loaded."""
    assert dir(package) == sorted(EXPECTED)
    assert package.aiointercept is not None  # loads every lazy name
    assert dir(package) == sorted(EXPECTED)


def test_an_unknown_name_is_still_an_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Nothing'"):
        getattr(package, "Nothing")  # noqa: B009
    with pytest.raises(ImportError, match="cannot import name 'Nothing'"):
        exec("from aiointercept import Nothing", {})
