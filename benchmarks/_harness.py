"""What every implementation module shares: sizes, timing, the network guard,
the pytest fixture measurement and the command line.

Standard library only: this module runs in every implementation's virtualenv.

An implementation module lists its scenarios as functions that take the
:class:`Sizes` and the number of timed repeats and return, for each row of the
report they measure, one sample per repeat: the time of *one* operation in
seconds (the repeat's total divided by its number of operations). :func:`main`
runs them and writes the samples as JSON; ``run.py`` takes the medians.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import ipaddress
import json
import os
import platform
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

#: One sample per timed repeat, per row: seconds per operation.
Samples = dict[str, list[float]]
#: A scenario: ``(sizes, repeats) -> {row: samples}``.
Scenario = Callable[["Sizes", int], Samples]
#: How many requests the implementation has served so far, in the process:
#: ``() -> (by the test's loops, by its server thread)``.
ServedCounter = Callable[[], tuple[int, int]]

#: The JSON payload every small response carries (and its bytes on the wire).
PAYLOAD: dict[str, Any] = {"ok": True}
PAYLOAD_BYTES = json.dumps(PAYLOAD).encode()
#: The large response body: 1 MiB.
BIG_BODY = b"x" * (1 << 20)
#: Hard-coded host for the modes that intercept aiohttp (never resolved).
EXTERNAL_BASE = "http://api.example.test"
#: Hard-coded ``https://`` host for the modes that intercept httpx, and for
#: the https rows (never resolved either).
EXTERNAL_HTTPS_BASE = "https://api.example.test"

#: Each scenario and the rows of the report it measures, in report order.
SCENARIOS: dict[str, tuple[str, ...]] = {
    "lifecycle": ("lifecycle",),
    "sequential": ("sequential",),
    "concurrent": ("concurrent",),
    "concurrent_200": ("concurrent_200",),
    "body_1mb": ("body_1mb",),
    "routes_400": ("routes_400", "routes_400_register"),
    "registration": ("registration", "registration_external"),
    "routes_scaling": (
        "routes_scaling_10",
        "routes_scaling_1000",
        "routes_scaling_10000",
    ),
    "fixture": ("fixture",),
    "idle_cpu": ("idle_cpu_asyncio", "idle_cpu_trio"),
    "pytest_startup": (
        "pytest_startup_overhead",
        "pytest_startup_with_plugin",
        "pytest_startup_without_plugin",
    ),
    "httpx_asyncio": ("lifecycle_httpx_asyncio", "sequential_httpx_asyncio"),
    "httpx_trio": ("lifecycle_httpx_trio", "sequential_httpx_trio"),
    "external": ("lifecycle_external", "sequential_external"),
    "external_httpx": ("lifecycle_external_httpx", "sequential_external_httpx"),
    "external_httpx_trio": ("sequential_external_httpx_trio",),
    "https": ("lifecycle_https", "sequential_https"),
    "https_httpx": ("lifecycle_https_httpx", "sequential_https_httpx"),
    "https_httpx2": ("lifecycle_https_httpx2", "sequential_https_httpx2"),
    "replay": (
        "replay_route",
        "replay_cassette",
        "replay_route_httpx",
        "replay_cassette_httpx",
    ),
    "cassette_load": (
        "cassette_load_1000",
        "cassette_block_1000",
        "cassette_replay_1000",
    ),
    "proxy_child": ("proxy_child_https",),
}


@dataclass(frozen=True)
class Sizes:
    """How many operations one timed repeat of each scenario performs."""

    lifecycle: int = 20
    sequential: int = 500
    concurrency: int = 50
    concurrent_batches: int = 10
    #: ``concurrent_200``: requests at once, and batches of them
    concurrency_200: int = 200
    concurrent_200_batches: int = 2
    body_1mb: int = 20
    routes: int = 400
    fixture_tests: int = 500
    #: interactions in the cassette that ``cassette_load`` loads
    cassette_interactions: int = 1000
    #: loads per timed repeat of ``cassette_load``
    cassette_loads: int = 2
    #: interactions of the cassette replayed, untimed, before the one timed
    #: block of ``cassette_replay_1000`` (a block of vcrpy's lasts seconds)
    cassette_warm_up: int = 10
    #: routes registered in a row per timed repeat of ``registration``
    registrations: int = 2000
    #: the numbers of routes of ``routes_scaling``, one row each
    route_counts: tuple[int, ...] = (10, 1000, 10000)
    #: requests per timed repeat of ``routes_scaling``
    routes_scaling_requests: int = 200
    #: seconds of one ``idle_cpu`` sample
    idle_seconds: float = 3.0
    #: tests in the project that ``pytest_startup`` collects
    startup_tests: int = 50
    #: https requests the child process of ``proxy_child`` makes in a row
    child_requests: int = 100

    def burst(self, scenario: str) -> tuple[int, int]:
        """How many requests ``concurrent`` or ``concurrent_200`` (the
        scenario named) sends at once, and how many such batches in a row."""
        if scenario == "concurrent_200":
            return self.concurrency_200, self.concurrent_200_batches
        if scenario == "concurrent":
            return self.concurrency, self.concurrent_batches
        raise ValueError(f"not a concurrent scenario: {scenario!r}")

    def route_order(self) -> list[int]:
        """The order in which ``routes_400`` requests its routes: shuffled with a
        fixed seed, the same for every implementation, so that no route table
        gets its best case (registration order)."""
        return random.Random(self.routes).sample(range(self.routes), self.routes)


#: The clock of the cassette loads: the CPU time of the process (all its
#: threads). A load only computes (the file is in the page cache), and on a
#: shared machine the wall time of a computation that long (a quarter of a
#: second) also measures the other processes.
CPU_CLOCK = time.process_time


class Timer:
    """Time one repeat: ``with Timer(ops) as timer: ...; timer.per_op``.

    Collects garbage before, and keeps the cyclic garbage collector off while
    timing; every implementation is timed this way. ``clock`` is
    ``time.perf_counter`` (wall time), or :data:`CPU_CLOCK` for work that only
    computes.
    """

    def __init__(
        self, ops: int, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.ops = ops
        self.per_op = 0.0
        self._clock = clock
        self._start = 0.0

    def __enter__(self) -> Timer:
        gc.collect()
        gc.disable()
        self._start = self._clock()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        elapsed = self._clock() - self._start
        gc.enable()
        self.per_op = elapsed / self.ops


async def timed(
    body: Callable[[], Awaitable[None]], ops: int, repeats: int
) -> list[float]:
    """Run ``body`` once to warm up, then ``repeats`` timed times; ``body``
    performs ``ops`` operations."""
    await body()
    samples = []
    for _ in range(repeats):
        with Timer(ops) as timer:
            await body()
        samples.append(timer.per_op)
    return samples


async def timed_bursts(
    get: Callable[[], Awaitable[None]], sizes: Sizes, row: str, repeats: int
) -> list[float]:
    """:func:`timed`, the body being the batches of ``row`` (``concurrent``,
    ``concurrent_200``): each as many calls of ``get`` at once
    (``asyncio.gather``) as :meth:`Sizes.burst` says."""
    import asyncio

    at_once, batches = sizes.burst(row)

    async def body() -> None:
        for _ in range(batches):
            await asyncio.gather(*(get() for _ in range(at_once)))

    return await timed(body, batches * at_once, repeats)


async def timed_each(
    operation: Callable[[], Awaitable[None]], ops: int, repeats: int
) -> list[float]:
    """:func:`timed`, the body being ``operation`` run ``ops`` times in a row."""

    async def body() -> None:
        for _ in range(ops):
            await operation()

    return await timed(body, ops, repeats)


async def idle_cpu(
    sleep: Callable[[float], Awaitable[object]], seconds: float, repeats: int
) -> list[float]:
    """The CPU time of the whole process (every thread, ``time.process_time``)
    while ``sleep(seconds)`` waits with nothing to do, as a fraction of one
    core; one sample per repeat. The garbage collector stays on: whatever
    runs meanwhile pays for its garbage as in a test."""
    samples = []
    for _ in range(repeats):
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        await sleep(seconds)
        samples.append((time.process_time() - cpu) / (time.perf_counter() - wall))
    return samples


def check_status(status: int, expected: int = 200) -> None:
    """Fail the scenario on a wrong answer (``assert`` would vanish under -O)."""
    if status != expected:
        raise RuntimeError(f"expected HTTP {expected}, got {status}")


def check_body(body: bytes, expected: bytes) -> None:
    if body != expected:
        raise RuntimeError(f"unexpected body: {body[:60]!r} ({len(body)} bytes)")


def check_json(status: int, body: bytes) -> None:
    """The status and JSON body of a ``PAYLOAD`` response, compared decoded: the
    mocks do not all encode JSON alike (httpx, and so respx, leaves no spaces)."""
    check_status(status)
    if json.loads(body) != PAYLOAD:
        raise RuntimeError(f"unexpected body: {body[:60]!r} ({len(body)} bytes)")


class NotAvailable(Exception):
    """Raised by a scenario that this environment cannot measure (say, a client
    that the implementation does not intercept yet): :func:`main` reports its
    rows as not applicable, with this reason, instead of as errors."""


# -- a child process -------------------------------------------------------------------

#: The child of ``proxy_child``: one keep-alive https connection to
#: ``host:port``, through a ``CONNECT`` tunnel to ``api.example.test:443``
#: when ``tunnel`` is set; one GET of ``/x`` to set it up, then ``count`` in a
#: row, timed; prints the seconds per request.
_CHILD_HTTPS = """
import http.client, ssl, sys, time
host, port, tunnel, cafile, count = sys.argv[1:]
context = ssl.create_default_context(cafile=cafile)
connection = http.client.HTTPSConnection(host, int(port), context=context)
if tunnel:
    connection.set_tunnel(tunnel, 443)
def get():
    connection.request("GET", "/x")
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        raise SystemExit(f"status {response.status}")
get()
start = time.perf_counter()
for _ in range(int(count)):
    get()
print((time.perf_counter() - start) / int(count))
"""


async def child_https(
    sizes: Sizes, repeats: int, host: str, port: int, tunnel: str, cafile: str
) -> list[float]:
    """Seconds per request of :data:`_CHILD_HTTPS`, one child process per
    repeat after one to warm up (the event loop serves meanwhile)."""
    import asyncio

    async def once() -> float:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _CHILD_HTTPS,
            host,
            str(port),
            tunnel,
            cafile,
            str(sizes.child_requests),
            stdout=subprocess.PIPE,
        )
        output, _ = await child.communicate()
        if child.returncode:
            raise RuntimeError(f"the child process failed ({child.returncode})")
        return float(output)

    await once()
    return [await once() for _ in range(repeats)]


# -- the network guard -----------------------------------------------------------------

#: What the guard's refusals say, to tell them from other failures.
GUARD = "benchmark guard"


def _is_loopback(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def install_loopback_guard() -> None:
    """Refuse, in this process, to resolve any name but loopback ones and to
    connect a socket anywhere but a loopback address.

    Every implementation process installs it, so its (tiny) cost is the same
    for all; a mock that failed to intercept ``api.example.test`` would fail
    here instead of asking a DNS server.
    """
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host):
            raise socket.gaierror(
                socket.EAI_NONAME, f"{GUARD}: refusing to resolve {host!r}"
            )
        return real_getaddrinfo(host, port, *args, **kwargs)

    def check(address: Any) -> None:
        if isinstance(address, tuple) and not _is_loopback(address[0]):
            raise ConnectionRefusedError(f"{GUARD}: refusing to connect to {address!r}")

    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return real_connect_ex(self, address)

    socket.getaddrinfo = getaddrinfo
    setattr(socket.socket, "connect", connect)  # noqa: B010
    setattr(socket.socket, "connect_ex", connect_ex)  # noqa: B010


def refused_by_the_guard(error: BaseException) -> bool:
    """Whether the guard refused a name or an address somewhere in ``error``'s
    causes (or, for a group, in one of its exceptions): a request that no mock
    intercepted."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and GUARD in str(current):
            return True
        # an exception group's (Python 3.11, or the exceptiongroup backport)
        grouped = getattr(current, "exceptions", None)
        if isinstance(grouped, tuple):
            pending.extend(e for e in grouped if isinstance(e, BaseException))
        pending.extend(
            cause
            for cause in (current.__cause__, current.__context__)
            if cause is not None
        )
    return False


# -- cassettes -------------------------------------------------------------------------

_DATE = "Mon, 04 May 2026 10:00:00 GMT"
#: What httpx sends, as vcrpy records it.
_HTTPX_HEADERS = (
    ("accept", "*/*"),
    ("accept-encoding", "gzip, deflate"),
    ("connection", "keep-alive"),
    ("host", "api.example.test"),
    ("user-agent", "python-httpx/0.28.1"),
)
_PLAIN = re.compile(r"[A-Za-z][\w ,;=/.:+?&()-]*")
#: Plain scalars that YAML 1.1 would not read back as strings.
_NOT_STRINGS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


@dataclass(frozen=True)
class RecordedInteraction:
    """One interaction of a generated cassette."""

    method: str
    uri: str
    request_headers: tuple[tuple[str, str], ...]
    request_body: str | None
    status: int
    message: str
    response_headers: tuple[tuple[str, str], ...]
    response_body: str


def _scalar(text: str, column: int = 0, indent: int = 0) -> str:
    """``text`` as vcrpy's dumper writes it at ``column``: plain when that reads
    back as the same string, else single-quoted, folded at spaces past column
    80 onto lines indented by ``indent`` (PyYAML's ``write_single_quoted``, for
    text without line breaks)."""
    if (
        _PLAIN.fullmatch(text)
        and ": " not in text
        and " #" not in text
        and not text.endswith((":", " "))
        and text.lower() not in _NOT_STRINGS
    ):
        return text
    out = ["'"]
    column += 1
    start = 0
    for end in range(len(text) + 1):
        ch = text[end] if end < len(text) else None
        previous = text[end - 1] if end else None
        if previous == " " and ch != " ":
            if start + 1 == end and column > 80 and start != 0 and end != len(text):
                out.append("\n" + " " * indent)
                column = indent
            else:
                out.append(text[start:end])
                column += end - start
            start = end
        elif previous != " " and (ch is None or ch in " '") and start < end:
            out.append(text[start:end])
            column += end - start
            start = end
        if ch == "'":
            out.append("''")
            column += 2
            start = end + 1
    out.append("'")
    return "".join(out)


def _headers(lines: list[str], headers: Sequence[tuple[str, str]]) -> None:
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(name, []).append(value)
    lines.append("    headers:")
    for name in sorted(grouped):
        lines.append(f"      {_scalar(name)}:")
        lines.extend(f"      - {_scalar(value)}" for value in grouped[name])


def cassette_text(interactions: Sequence[RecordedInteraction]) -> str:
    """A cassette in vcrpy's format (YAML, version 1), laid out as vcrpy's
    ``yaml.dump`` lays it out (block style, sorted keys), without PyYAML:
    every implementation's virtualenv writes the same bytes."""
    lines = ["interactions:"]
    for item in interactions:
        body = "null"
        if item.request_body is not None:
            body = _scalar(item.request_body, len("    body: "), 6)
        lines += ["- request:", f"    body: {body}"]
        _headers(lines, item.request_headers)
        lines += [
            f"    method: {item.method}",
            f"    uri: {_scalar(item.uri)}",
            "  response:",
            "    body:",
            f"      string: {_scalar(item.response_body, len('      string: '), 8)}",
        ]
        _headers(lines, item.response_headers)
        lines += [
            "    status:",
            f"      code: {item.status}",
            f"      message: {_scalar(item.message)}",
        ]
    lines.append("version: 1")
    return "\n".join(lines) + "\n"


def replay_interactions(count: int, url: str) -> list[RecordedInteraction]:
    """``count`` recordings of ``GET url`` by httpx, answered with ``PAYLOAD``
    and the headers an aiohttp server sends (what a route answers)."""
    body = PAYLOAD_BYTES.decode()
    response_headers = (
        ("Content-Length", str(len(PAYLOAD_BYTES))),
        ("Content-Type", "application/json; charset=utf-8"),
        ("Date", _DATE),
        ("Server", "Python/3.11 aiohttp/3.14.5"),
    )
    item = RecordedInteraction(
        "GET", url, _HTTPX_HEADERS, None, 200, "OK", response_headers, body
    )
    return [item] * count


def api_interactions(count: int) -> list[RecordedInteraction]:
    """``count`` distinct interactions with a JSON API, as vcrpy records them
    with httpx: a GET of an item (three in four) or a POST creating one, the
    request headers httpx sends, a response with the headers of a typical API
    behind a proxy and a small JSON body (about 250 bytes)."""
    interactions = []
    for i in range(count):
        item = {
            "id": i,
            "name": f"item {i}",
            "owner": {"id": i % 37, "login": f"user{i % 37}"},
            "price": f"{(i * 7919) % 10000 / 100:.2f}",
            "tags": ["alpha", "beta", "gamma"][: 1 + i % 3],
            "created_at": f"2026-05-{1 + i % 28:02d}T12:{i % 60:02d}:00Z",
            "active": i % 5 != 0,
        }
        if i % 4 == 3:
            sent = json.dumps({"name": item["name"], "price": item["price"]})
            method, uri, status, message = (
                "POST",
                f"{EXTERNAL_HTTPS_BASE}/v1/items",
                201,
                "Created",
            )
            request_headers: tuple[tuple[str, str], ...] = (
                *_HTTPX_HEADERS[:2],
                ("content-length", str(len(sent))),
                ("content-type", "application/json"),
                *_HTTPX_HEADERS[2:],
            )
        else:
            sent = None
            method, status, message = "GET", 200, "OK"
            uri = f"{EXTERNAL_HTTPS_BASE}/v1/items/{i}?expand=owner&page={1 + i % 7}"
            request_headers = _HTTPX_HEADERS
        body = json.dumps(item)
        response_headers = (
            ("Cache-Control", "private, max-age=0, must-revalidate"),
            ("Content-Length", str(len(body))),
            ("Content-Type", "application/json; charset=utf-8"),
            ("Date", _DATE),
            ("Server", "nginx"),
            ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
            ("Vary", "Accept-Encoding"),
            ("X-Request-Id", f"req_{i * 2654435761 % (1 << 64):016x}"),
        )
        interactions.append(
            RecordedInteraction(
                method,
                uri,
                request_headers,
                sent,
                status,
                message,
                response_headers,
                body,
            )
        )
    return interactions


def write_cassette(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


#: One request by a client: ``(method, url, body) -> (status, body)``.
Send = Callable[[str, str, bytes | None], Awaitable[tuple[int, bytes]]]


async def replay_each(interactions: Sequence[RecordedInteraction], send: Send) -> None:
    """Send the request of each of ``interactions``, in order, and check that
    its recorded status and body came back (the bytes recorded: every
    implementation replays them as they are)."""
    for item in interactions:
        sent = None if item.request_body is None else item.request_body.encode()
        status, body = await send(item.method, item.uri, sent)
        if status != item.status or body != item.response_body.encode():
            raise RuntimeError(
                f"{item.method} {item.uri}: got {status} {body[:60]!r}, not the "
                f"recorded {item.status} {item.response_body[:60]!r}"
            )


# -- the pytest fixture ----------------------------------------------------------------

_SYNC_WARM_UP = '''
def test_warm_up(aiointercept_server):
    """Starts the session's server in both files, so only the per-test cost
    of aiointercept_mock differs."""
    assert aiointercept_server.server_url
'''
_SYNC_WITH = """
def test_{i}(aiointercept_mock):
    assert aiointercept_mock.server_url
"""
_SYNC_WITHOUT = """
def test_{i}():
    assert True
"""
_ASYNC_WARM_UP = '''
import pytest


@pytest.mark.asyncio(loop_scope="session")
async def test_warm_up(aiointercept_server):
    """Starts the session's server in both files, so only the per-test cost
    of aiointercept_mock differs."""
    assert aiointercept_server.server_url
'''
_ASYNC_WITH = """
@pytest.mark.asyncio
async def test_{i}(aiointercept_mock):
    assert aiointercept_mock.server_url
"""
_ASYNC_WITHOUT = """
@pytest.mark.asyncio
async def test_{i}():
    assert True
"""
_STYLES = {
    # style: (pytest.ini, warm-up test, test with the fixture, test without)
    "sync": ("[pytest]\n", _SYNC_WARM_UP, _SYNC_WITH, _SYNC_WITHOUT),
    "pytest-asyncio": (
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n",
        _ASYNC_WARM_UP,
        _ASYNC_WITH,
        _ASYNC_WITHOUT,
    ),
}


_TIMING_CONFTEST = """
import os
import time

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session):
    start = time.perf_counter()
    try:
        return (yield)
    finally:
        elapsed = time.perf_counter() - start
        with open(os.environ["AIOINTERCEPT_BENCH_TIMING"], "w") as file:
            file.write(repr(elapsed))
"""


#: How the pytest subprocesses start: this virtualenv's pytest, quiet, and
#: without its cache (which would make a run depend on the one before).
_PYTEST = (sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q")


def _pytest(
    directory: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run pytest with ``args`` in ``directory``."""
    # without PYTHONDONTWRITEBYTECODE, pytest caches the rewritten test module
    environment = {
        k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"
    }
    return subprocess.run(
        [*_PYTEST, *args],
        cwd=directory,
        env={**environment, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


def _run_pytest(directory: Path, test_file: str, tests: int) -> float:
    """Run pytest on ``test_file``; the seconds its test loop took (setup, call
    and teardown of every test, without start-up and collection)."""
    timing = directory / "timing.txt"
    done = _pytest(directory, test_file, env={"AIOINTERCEPT_BENCH_TIMING": str(timing)})
    if done.returncode != 0 or f"{tests + 1} passed" not in done.stdout:
        raise RuntimeError(
            f"pytest {test_file} failed ({done.returncode}):\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return float(timing.read_text())


def fixture_overhead(sizes: Sizes, repeats: int, style: str) -> Samples:
    """Per-test cost of ``aiointercept_mock``: pytest runs a file of N trivial
    tests that request it, and the same N tests without it, in subprocesses;
    each repeat is one such pair (the order alternates) and gives
    ``(t_with - t_without) / N``, where t is the time of pytest's test loop.

    Both files start with one test that requests ``aiointercept_server``, so the
    session server's start and stop are in both and cancel out.
    """
    ini, warm_up, with_fixture, without_fixture = _STYLES[style]
    n = sizes.fixture_tests
    overhead: list[float] = []
    with_per_test: list[float] = []
    without_per_test: list[float] = []
    with tempfile.TemporaryDirectory(prefix="aiointercept-bench-") as name:
        directory = Path(name)
        (directory / "pytest.ini").write_text(ini)
        (directory / "conftest.py").write_text(_TIMING_CONFTEST)
        for file, template in (
            ("test_with.py", with_fixture),
            ("test_without.py", without_fixture),
        ):
            tests = "".join(template.format(i=i) for i in range(n))
            (directory / file).write_text(warm_up + tests)
            _run_pytest(directory, file, n)  # warm-up: bytecode, file cache
        for repeat in range(repeats):
            if repeat % 2 == 0:
                t_with = _run_pytest(directory, "test_with.py", n)
                t_without = _run_pytest(directory, "test_without.py", n)
            else:
                t_without = _run_pytest(directory, "test_without.py", n)
                t_with = _run_pytest(directory, "test_with.py", n)
            overhead.append((t_with - t_without) / n)
            with_per_test.append(t_with / n)
            without_per_test.append(t_without / n)
    return {
        "fixture": overhead,
        "fixture_with": with_per_test,
        "fixture_without": without_per_test,
    }


# -- pytest's start-up -----------------------------------------------------------------

_STARTUP_TEST = """
def test_{i}():
    assert True
"""


def _collect_only(directory: Path, tests: int, *args: str) -> float:
    """The wall time of ``pytest --collect-only`` on ``directory``'s project,
    start-up of the interpreter included."""
    start = time.perf_counter()
    done = _pytest(directory, "--collect-only", *args)
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or f"{tests} tests collected" not in done.stdout:
        raise RuntimeError(
            f"pytest --collect-only {' '.join(args)} failed ({done.returncode}):\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return elapsed


def pytest_startup(sizes: Sizes, pairs: int, plugin: str, module: str) -> Samples:
    """What the pytest plugin ``plugin`` (its ``pytest11`` entry point name;
    ``module``, the module it loads) adds to pytest's start-up:
    ``python -m pytest --collect-only`` on a project of trivial tests that do
    not use it, with the plugin and with it blocked (``-p no:<plugin>``), in
    pairs (the order alternates); each pair gives with - without.
    """
    blocked = ("-p", f"no:{plugin}")
    with tempfile.TemporaryDirectory(prefix="aiointercept-bench-") as name:
        directory = Path(name)
        (directory / "pytest.ini").write_text("[pytest]\n")
        tests = "".join(_STARTUP_TEST.format(i=i) for i in range(sizes.startup_tests))
        (directory / "test_startup.py").write_text(tests)
        # the plugin is loaded, or blocked, as the pairs expect it to be
        for args, loaded in (((), True), (blocked, False)):
            listed = _pytest(directory, "--fixtures", *args)
            if (f"fixtures defined from {module}" in listed.stdout) != loaded:
                state = "loaded" if loaded else "blocked"
                raise RuntimeError(
                    f"{plugin} is not {state} with {' '.join(args) or 'no option'}:\n"
                    f"{listed.stdout[-2000:]}\n{listed.stderr[-2000:]}"
                )
        # warm-up: bytecode, the file cache
        _collect_only(directory, sizes.startup_tests)
        _collect_only(directory, sizes.startup_tests, *blocked)
        overhead, with_plugin, without_plugin = [], [], []
        for pair in range(pairs):
            if pair % 2 == 0:
                t_with = _collect_only(directory, sizes.startup_tests)
                t_without = _collect_only(directory, sizes.startup_tests, *blocked)
            else:
                t_without = _collect_only(directory, sizes.startup_tests, *blocked)
                t_with = _collect_only(directory, sizes.startup_tests)
            overhead.append(t_with - t_without)
            with_plugin.append(t_with)
            without_plugin.append(t_without)
    return {
        "pytest_startup_overhead": overhead,
        "pytest_startup_with_plugin": with_plugin,
        "pytest_startup_without_plugin": without_plugin,
    }


def pytest_plugin(distribution: str) -> tuple[str, str]:
    """The name and module of ``distribution``'s ``pytest11`` entry point."""
    [entry_point] = (
        entry_point
        for entry_point in importlib.metadata.distribution(distribution).entry_points
        if entry_point.group == "pytest11"
    )
    return entry_point.name, entry_point.value


# -- the command line ------------------------------------------------------------------


def versions(*distributions: str) -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in distributions:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def pyyaml_details() -> dict[str, str]:
    """PyYAML's version and whether its C loader (libyaml) is there, for the
    versions of the report; empty when PyYAML is not installed."""
    try:
        yaml: Any = importlib.import_module("yaml")
    except ImportError:
        return {}
    version = importlib.metadata.version("PyYAML")
    if getattr(yaml, "__with_libyaml__", False):
        return {"PyYAML": f"{version} with libyaml"}
    return {"PyYAML": f"{version} without libyaml (pure-Python loader)"}


def _scenario_of(name: str) -> str:
    """``name`` if it is a scenario, else the scenario of the row ``name``."""
    if name in SCENARIOS:
        return name
    return next(scenario for scenario, rows in SCENARIOS.items() if name in rows)


def main(
    implementation: str,
    scenarios: Mapping[str, Scenario],
    not_applicable: Mapping[str, str],
    distributions: Sequence[str],
    details: Mapping[str, str] | None = None,
    argv: Sequence[str] | None = None,
    served: ServedCounter | None = None,
    served_not_counted: str | None = None,
) -> None:
    """Run the scenarios selected on the command line and write their samples.

    ``not_applicable`` maps a scenario to the reason it is not measured. A
    scenario that raises is reported under ``errors`` and the others still run;
    one that raises :class:`NotAvailable`, as not applicable, with its reason.
    A key of ``not_applicable`` may also be a single row of a scenario that
    is measured. ``details`` replace or add entries of the versions reported (say, how
    PyYAML was built).

    ``served``, for an implementation that serves from the test's loop or from
    a thread of its own: read before and after each scenario that ran, to
    report how many requests each served (``served``, by scenario:
    ``[test's loops, server thread]``, warm-up included, requests made in
    subprocesses not). ``served_not_counted``: why an implementation that has
    a server thread does not count them.
    """
    parser = argparse.ArgumentParser(description=f"benchmark {implementation}")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats")
    parser.add_argument(
        "--fixture-repeats", type=int, default=1, help="pytest pairs for 'fixture'"
    )
    parser.add_argument(
        "--startup-pairs",
        type=int,
        default=1,
        help="pytest pairs for 'pytest_startup'",
    )
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=Sizes.idle_seconds,
        help="seconds of an 'idle_cpu' sample",
    )
    parser.add_argument("--only", default="", help="comma-separated scenarios")
    parser.add_argument("--json", type=Path, help="write here instead of stdout")
    args = parser.parse_args(argv)
    only = {name for name in args.only.split(",") if name}

    install_loopback_guard()
    sizes = Sizes(idle_seconds=args.idle_seconds)
    samples: Samples = {}
    errors: dict[str, str] = {}
    unavailable: dict[str, str] = {}
    served_by: dict[str, list[int]] = {}
    for name, scenario in scenarios.items():
        if only and name not in only:
            continue
        repeats = {
            "fixture": args.fixture_repeats,
            "pytest_startup": args.startup_pairs,
            # a sample lasts seconds already: one per round
            "idle_cpu": 1,
        }.get(name, args.repeats)
        before = served() if served is not None else None
        try:
            samples.update(scenario(sizes, repeats))
        except NotAvailable as reason:
            print(f"{implementation} {name}: not available: {reason}", file=sys.stderr)
            for row in SCENARIOS[name]:
                unavailable[row] = str(reason)
        except Exception as error:  # reported, and the other scenarios still run
            traceback.print_exc()
            for row in SCENARIOS[name]:
                errors[row] = f"{type(error).__name__}: {error}"
        else:
            if served is not None and before is not None:
                after = served()
                served_by[name] = [after[0] - before[0], after[1] - before[1]]
    result = {
        "implementation": implementation,
        "versions": {**versions(*distributions), **(details or {})},
        "samples": samples,
        "not_applicable": {
            row: reason
            for name, reason in not_applicable.items()
            if not only or _scenario_of(name) in only
            for row in SCENARIOS.get(name, (name,))
        }
        | unavailable,
        "errors": errors,
    }
    if served is not None:
        result["served"] = served_by
    if served_not_counted is not None:
        result["served_not_counted"] = served_not_counted
    text = json.dumps(result, indent=1)
    if args.json is None:
        print(text)
    else:
        args.json.write_text(text)
