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

#: The JSON payload every small response carries (and its bytes on the wire).
PAYLOAD: dict[str, Any] = {"ok": True}
PAYLOAD_BYTES = json.dumps(PAYLOAD).encode()
#: The large response body: 1 MiB.
BIG_BODY = b"x" * (1 << 20)
#: Hard-coded host for the modes that intercept aiohttp (never resolved).
EXTERNAL_BASE = "http://api.example.test"
#: Hard-coded ``https://`` host for the modes that intercept httpx (never
#: resolved either).
EXTERNAL_HTTPS_BASE = "https://api.example.test"

#: Each scenario and the rows of the report it measures, in report order.
SCENARIOS: dict[str, tuple[str, ...]] = {
    "lifecycle": ("lifecycle",),
    "sequential": ("sequential",),
    "concurrent": ("concurrent",),
    "body_1mb": ("body_1mb",),
    "routes_400": ("routes_400", "routes_400_register"),
    "fixture": ("fixture",),
    "httpx_asyncio": ("lifecycle_httpx_asyncio", "sequential_httpx_asyncio"),
    "httpx_trio": ("lifecycle_httpx_trio", "sequential_httpx_trio"),
    "external": ("lifecycle_external", "sequential_external"),
    "external_httpx": ("lifecycle_external_httpx", "sequential_external_httpx"),
    "external_httpx_trio": ("sequential_external_httpx_trio",),
}


@dataclass(frozen=True)
class Sizes:
    """How many operations one timed repeat of each scenario performs."""

    lifecycle: int = 20
    sequential: int = 500
    concurrency: int = 50
    concurrent_batches: int = 10
    body_1mb: int = 20
    routes: int = 400
    fixture_tests: int = 500

    def route_order(self) -> list[int]:
        """The order in which ``routes_400`` requests its routes: shuffled with a
        fixed seed, the same for every implementation, so that no route table
        gets its best case (registration order)."""
        return random.Random(self.routes).sample(range(self.routes), self.routes)


class Timer:
    """Time one repeat: ``with Timer(ops) as timer: ...; timer.per_op``.

    Collects garbage before, and keeps the cyclic garbage collector off while
    timing; every implementation is timed this way.
    """

    def __init__(self, ops: int) -> None:
        self.ops = ops
        self.per_op = 0.0
        self._start = 0.0

    def __enter__(self) -> Timer:
        gc.collect()
        gc.disable()
        self._start = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        elapsed = time.perf_counter() - self._start
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


# -- the network guard -----------------------------------------------------------------


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
                socket.EAI_NONAME, f"benchmark guard: refusing to resolve {host!r}"
            )
        return real_getaddrinfo(host, port, *args, **kwargs)

    def check(address: Any) -> None:
        if isinstance(address, tuple) and not _is_loopback(address[0]):
            raise ConnectionRefusedError(
                f"benchmark guard: refusing to connect to {address!r}"
            )

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


def _run_pytest(directory: Path, test_file: str, tests: int) -> float:
    """Run pytest on ``test_file``; the seconds its test loop took (setup, call
    and teardown of every test, without start-up and collection)."""
    timing = directory / "timing.txt"
    # without PYTHONDONTWRITEBYTECODE, pytest caches the rewritten test module
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["AIOINTERCEPT_BENCH_TIMING"] = str(timing)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
    done = subprocess.run(
        [*command, test_file],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
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


# -- the command line ------------------------------------------------------------------


def versions(*distributions: str) -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in distributions:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def main(
    implementation: str,
    scenarios: Mapping[str, Scenario],
    not_applicable: Mapping[str, str],
    distributions: Sequence[str],
    argv: Sequence[str] | None = None,
) -> None:
    """Run the scenarios selected on the command line and write their samples.

    ``not_applicable`` maps a scenario to the reason it is not measured. A
    scenario that raises is reported under ``errors`` and the others still run.
    """
    parser = argparse.ArgumentParser(description=f"benchmark {implementation}")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats")
    parser.add_argument(
        "--fixture-repeats", type=int, default=1, help="pytest pairs for 'fixture'"
    )
    parser.add_argument("--only", default="", help="comma-separated scenarios")
    parser.add_argument("--json", type=Path, help="write here instead of stdout")
    args = parser.parse_args(argv)
    only = {name for name in args.only.split(",") if name}

    install_loopback_guard()
    sizes = Sizes()
    samples: Samples = {}
    errors: dict[str, str] = {}
    for name, scenario in scenarios.items():
        if only and name not in only:
            continue
        repeats = args.fixture_repeats if name == "fixture" else args.repeats
        try:
            samples.update(scenario(sizes, repeats))
        except Exception as error:  # reported, and the other scenarios still run
            traceback.print_exc()
            for row in SCENARIOS[name]:
                errors[row] = f"{type(error).__name__}: {error}"
    result = {
        "implementation": implementation,
        "versions": versions(*distributions),
        "samples": samples,
        "not_applicable": {
            row: reason
            for name, reason in not_applicable.items()
            if not only or name in only
            for row in SCENARIOS[name]
        },
        "errors": errors,
    }
    text = json.dumps(result, indent=1)
    if args.json is None:
        print(text)
    else:
        args.json.write_text(text)
