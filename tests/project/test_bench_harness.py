"""The benchmarks' harness (benchmarks/_harness.py): how a scenario that this
environment cannot measure is reported.

Nothing here times anything or opens a connection.
"""

from __future__ import annotations

import builtins
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from benchmarks import _harness
from benchmarks._harness import (
    GUARD,
    SCENARIOS,
    NotAvailable,
    Samples,
    Sizes,
    refused_by_the_guard,
)

from tests.support.paths import ROOT


def refused() -> socket.gaierror:
    return socket.gaierror(socket.EAI_NONAME, f"{GUARD}: refusing to resolve 'x'")


def test_a_refusal_of_the_guard_is_found_among_the_causes() -> None:
    class ClientError(Exception):
        pass

    def connect() -> None:
        try:
            raise refused()
        except OSError as error:
            raise ClientError("could not connect") from error

    with pytest.raises(ClientError) as raised:
        connect()
    assert refused_by_the_guard(raised.value)


def test_a_refusal_of_the_guard_is_found_in_an_exception_group() -> None:
    group = getattr(builtins, "ExceptionGroup", None)
    if group is None:
        pytest.skip("ExceptionGroup is built in from Python 3.11")
    assert refused_by_the_guard(group("task group", [ValueError(), refused()]))


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError("[Errno 111] Connection refused"),
        RuntimeError(f"{GUARD} said no, but not as a socket error"),
        ValueError("unexpected body"),
    ],
)
def test_other_failures_are_not_refusals_of_the_guard(error: Exception) -> None:
    assert not refused_by_the_guard(error)


def test_the_guard_refuses_in_a_way_it_recognizes() -> None:
    """In a process of its own: the guard patches the socket module."""
    script = (
        "import socket\n"
        "from benchmarks._harness import install_loopback_guard, "
        "refused_by_the_guard\n"
        "install_loopback_guard()\n"
        "try:\n"
        "    socket.getaddrinfo('api.example.test', 443)\n"
        "except OSError as error:\n"
        "    print(refused_by_the_guard(error))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == "True\n"


def test_a_scenario_not_available_is_reported_not_applicable_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the guard would patch this (the test) process's socket module
    monkeypatch.setattr(_harness, "install_loopback_guard", lambda: None)

    def measured(sizes: Sizes, repeats: int) -> Samples:
        return {"lifecycle_https": [1.0], "sequential_https": [2.0]}

    def not_available(sizes: Sizes, repeats: int) -> Samples:
        raise NotAvailable("httpx2's requests are not intercepted")

    def broken(sizes: Sizes, repeats: int) -> Samples:
        raise RuntimeError("unexpected body")

    output = tmp_path / "result.json"
    _harness.main(
        "aiointercept",
        {"https": measured, "https_httpx2": not_available, "https_httpx": broken},
        {},
        [],
        argv=["--repeats", "1", "--json", str(output)],
    )
    result = json.loads(output.read_text())
    assert result["samples"] == {"lifecycle_https": [1.0], "sequential_https": [2.0]}
    assert result["not_applicable"] == dict.fromkeys(
        SCENARIOS["https_httpx2"], "httpx2's requests are not intercepted"
    )
    assert result["errors"] == dict.fromkeys(
        SCENARIOS["https_httpx"], "RuntimeError: unexpected body"
    )


def test_the_requests_each_scenario_served_are_counted_where_they_were_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_harness, "install_loopback_guard", lambda: None)
    counts = [10, 0]

    def serve(by_the_loop: int, by_the_thread: int) -> _harness.Scenario:
        def scenario(sizes: Sizes, repeats: int) -> Samples:
            counts[0] += by_the_loop
            counts[1] += by_the_thread
            return {"concurrent": [1.0]}

        return scenario

    def broken(sizes: Sizes, repeats: int) -> Samples:
        counts[1] += 5
        raise RuntimeError("unexpected body")

    output = tmp_path / "result.json"
    _harness.main(
        "aiointercept",
        {
            "concurrent": serve(3, 0),
            "concurrent_200": serve(1, 7),
            "lifecycle": broken,
        },
        {},
        [],
        argv=["--repeats", "1", "--json", str(output)],
        served=lambda: (counts[0], counts[1]),
    )
    result = json.loads(output.read_text())
    # a scenario that failed counts nothing
    assert result["served"] == {"concurrent": [3, 0], "concurrent_200": [1, 7]}
    assert "served_not_counted" not in result


def test_an_implementation_says_why_it_does_not_count_where_requests_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_harness, "install_loopback_guard", lambda: None)
    output = tmp_path / "result.json"
    _harness.main(
        "aiointercept-1.0.0",
        {"concurrent": lambda sizes, repeats: {"concurrent": [1.0]}},
        {},
        [],
        argv=["--repeats", "1", "--json", str(output)],
        served_not_counted="counts nothing",
    )
    result = json.loads(output.read_text())
    assert "served" not in result
    assert result["served_not_counted"] == "counts nothing"


def test_the_concurrent_scenarios_send_their_own_bursts() -> None:
    sizes = Sizes()
    assert sizes.burst("concurrent") == (sizes.concurrency, sizes.concurrent_batches)
    assert sizes.burst("concurrent_200") == (200, 2)
    with pytest.raises(ValueError, match="'sequential'"):
        sizes.burst("sequential")
