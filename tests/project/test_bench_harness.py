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
