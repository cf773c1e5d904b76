"""Projects that a test writes with ``pytester`` and runs with pytest in a
subprocess (so that the ``pytest11`` entry point is what loads the plugin):
their ini files and conftests, how to run them and how to read the outcome.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.clients import PROXY_VARIABLES
from tests.support.upstream import Upstream, UpstreamHandler

INI = """\
[pytest]
addopts = --strict-markers
filterwarnings = error
"""
ASYNCIO_INI = (
    INI + "asyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
)

BOTH_BACKENDS = """
import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param
"""

# For the projects that send requests to hard-coded hosts: if interception
# failed, they must not reach the network (not even DNS), so name resolution is
# limited to loopback and aiohttp is made to resolve through socket.getaddrinfo.
LOOPBACK_ONLY = """
import socket

import aiohttp
import aiohttp.connector

_getaddrinfo = socket.getaddrinfo


def _loopback_only(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if name not in (None, "localhost", "127.0.0.1", "::1"):
        raise OSError(f"blocked: these tests must not resolve {name!r}")
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _loopback_only
aiohttp.connector.DefaultResolver = aiohttp.ThreadedResolver
"""

ASYNCIO_BACKEND = (
    LOOPBACK_ONLY
    + """
import pytest


@pytest.fixture
def anyio_backend():
    return "asyncio"
"""
)


#: The ini of those projects (pytest-asyncio is loaded too).
GUARDED_INI = """\
[pytest]
addopts = --strict-markers
filterwarnings = error
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
"""

#: The conftest of the projects that record from the outer test's upstream.
#: They must not reach the network if interception failed: no name but
#: loopback is resolved, no connection leaves loopback (such an attempt is
#: also written down in ``$REFUSED_FILE``, and the outer test fails on it),
#: and aiohttp (the passthrough proxy inside the mock) resolves through
#: socket.getaddrinfo. ``API`` is the upstream (``$UPSTREAM_PORT``), by name;
#: ``note(name, text)`` writes to ``$NOTES_DIR`` what a request got.
GUARDED_CONFTEST = """
import ipaddress
import os
import pathlib
import socket

import aiohttp
import aiohttp.connector
import pytest

_getaddrinfo = socket.getaddrinfo
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
REFUSED = pathlib.Path(os.environ["REFUSED_FILE"])


def _loopback_only(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if name not in (None, "localhost", "127.0.0.1", "::1"):
        raise OSError(f"blocked: these tests must not resolve {name!r}")
    return _getaddrinfo(host, *args, **kwargs)


def _is_loopback(host):
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:  # a name, which connect() would resolve itself
        return host == "localhost"


def _check(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        if not _is_loopback(host):
            with REFUSED.open("a") as file:
                file.write(f"{host}:{address[1]}\\n")
            raise OSError(f"blocked: connection to {host} outside loopback")


def _guarded_connect(sock, address):
    _check(sock, address)
    return _connect(sock, address)


def _guarded_connect_ex(sock, address):
    _check(sock, address)
    return _connect_ex(sock, address)


socket.getaddrinfo = _loopback_only
socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex
aiohttp.connector.DefaultResolver = aiohttp.ThreadedResolver

#: The "real API": the outer test's upstream, addressed by name.
API = f"http://localhost:{os.environ['UPSTREAM_PORT']}"
NOTES = pathlib.Path(os.environ["NOTES_DIR"])


def note(name, text):
    \"\"\"Tell the outer test what a request got.\"\"\"
    (NOTES / name).write_text(text)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run pytest on the project in a subprocess, verbosely, with the short
    summary of every outcome."""
    return pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-p",
        "no:hypothesispytest",
        "-v",
        "-rA",
        *args,
        timeout=120,
    )


def run_pytest(
    pytester: pytest.Pytester,
    *args: str,
    ini: str = ASYNCIO_INI,
    conftest: str | None = None,
    **files: str,
) -> pytest.RunResult:
    """Write a project (ini, conftest, test files) and :func:`run` it."""
    pytester.makeini(ini)
    if conftest is not None:
        pytester.makeconftest(conftest)
    pytester.makepyfile(**files)
    return run(pytester, *args)


def summary(result: pytest.RunResult, outcome: str) -> set[str]:
    """The test names listed with ``outcome`` (ERROR, FAILED, PASSED) in the
    short test summary."""
    names = set()
    for line in result.outlines:
        found = re.match(rf"{outcome} \S+?::(\S+)", line)
        if found:
            names.add(found.group(1))
    return names


def read_notes(folder: Path) -> dict[str, str]:
    """``name -> text`` of the files the generated tests wrote in ``folder``."""
    return {path.name: path.read_text() for path in sorted(folder.iterdir())}


def guarded_upstream(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    notes: Path,
    handler: type[UpstreamHandler],
    conftest: str = GUARDED_CONFTEST,
) -> Iterator[Upstream]:
    """For a fixture to ``yield from``: the "real API" (an upstream answering
    with ``handler``), known to the inner projects (``UPSTREAM_PORT``), with
    :data:`GUARDED_INI`, ``conftest`` (built on :data:`GUARDED_CONFTEST`), no
    proxy variables, and ``notes`` for what the inner tests write down.
    Fails the test if an inner run tried to leave loopback."""
    refused = pytester.path / "refused.txt"
    refused.touch()
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    server = Upstream().start(handler)
    monkeypatch.setenv("UPSTREAM_PORT", str(server.port))
    monkeypatch.setenv("NOTES_DIR", str(notes))
    monkeypatch.setenv("REFUSED_FILE", str(refused))
    pytester.makeini(GUARDED_INI)
    pytester.makeconftest(conftest)
    try:
        yield server
    finally:
        server.stop()
    assert refused.read_text() == "", "connections outside loopback"
