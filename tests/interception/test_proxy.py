"""Programs outside the process, through ``m.proxy_url`` and ``m.proxy_env()``.

Every block is also an HTTP proxy: a child process given ``m.proxy_env()``
sends its ``http://`` requests to the block in absolute form and opens a
``CONNECT`` tunnel for its ``https://`` ones, in which the block shows a
certificate from the process's authority (which the child trusts through
the variables). The tests run child Pythons (``urllib.request``, requests,
httpx) and curl when it is installed, and check what the user of such a
program sees: the answers of the routes, the records of the block (the URL
the child asked for), faults and TLS faults as a real server would make
them, unmatched requests reported as in-process ones are, the proxy's own
answers to bad requests (403, 400), passthrough, cassettes, and the
``aiointercept_proxy_env`` fixture.

Nothing leaves the machine: the children send everything to the block's
proxy and may resolve only loopback names (see :data:`GUARD`); the test's
own process is under the loopback net, with ``upstream.test`` (the loopback
upstream of :mod:`tests.support.upstream`, by a name that is not loopback)
added to its fake names for passthrough.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
import time
import urllib.request
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest
import trustme
from yarl import URL

from aiointercept import (
    CallbackResult,
    CassetteError,
    StrictCheckError,
    UnreachableRouteWarning,
    aiointercept,
)
from tests.support import clients, loopback_net
from tests.support.blocks import port_of
from tests.support.cassettes import interactions, uris
from tests.support.certificates import ALICE, CLIENT_CA, MALLORY
from tests.support.inner_pytest import BOTH_BACKENDS, run_pytest, summary
from tests.support.journal import only
from tests.support.loopback_net import LoopbackNet
from tests.support.upstream import serving

pytestmark = pytest.mark.anyio

#: The safety net of the test's own process, for every test of this module.
loopback_network = loopback_net.loopback_network
net = clients.net

#: A bound on every child and every wait, so that a broken proxy fails a test
#: instead of hanging it.
BOUND = 10.0
#: How long a child waits for an answer that must not come.
SHORT = 0.5

#: The two modes of a block.
MODES = [
    pytest.param(False, id="default"),
    pytest.param(True, id="mock_external_urls"),
]

#: The name the loopback upstream goes by in the passthrough tests.
UPSTREAM_NAME = "upstream.test"

# == the child ========================================================================

#: Put first in every child: it may resolve loopback names only, so a child
#: that ignored its proxy could not ask a DNS server anything (and every
#: name of the tests other than ``localhost`` is not loopback).
GUARD = r"""
import socket

_getaddrinfo = socket.getaddrinfo


def _loopback_only(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if name not in ("localhost", "127.0.0.1", "::1"):
        raise OSError(f"the child may resolve loopback names only, not {name!r}")
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _loopback_only
"""

#: A child that sends the requests of its JSON argument, one after the
#: other, with one client (``urllib``, ``requests`` or ``httpx``), as a
#: program configured by its environment does: its proxy and its trust come
#: from the variables. It prints one JSON line per request: the status,
#: headers and body of the answer, or the errors (each exception's classes,
#: the reason of a ``URLError`` and the exceptions under it) and their
#: messages. Before a request that says ``"wait": true`` it reads a line of
#: its standard input.
FETCH = (
    GUARD
    + r"""
import json
import sys
import time

spec = json.loads(sys.argv[1])
kind = spec["client"]


def errors_of(error):
    seen, chain = set(), []
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        chain.append(error)
        reason = getattr(error, "reason", None)
        if isinstance(reason, BaseException) and id(reason) not in seen:
            chain.append(reason)
            seen.add(id(reason))
        error = error.__cause__ or error.__context__
    names = [cls.__name__ for one in chain for cls in type(one).__mro__]
    return names, " | ".join(str(one) for one in chain)


def send_urllib(request, timeout):
    import ssl
    import urllib.error
    import urllib.request

    context = None
    if request.get("cert"):
        context = ssl.create_default_context()
        context.load_cert_chain(request["cert"])
    sent = urllib.request.Request(
        request["url"],
        data=None if request.get("body") is None else request["body"].encode(),
        headers=request.get("headers", {}),
        method=request["method"],
    )
    try:
        response = urllib.request.urlopen(sent, timeout=timeout, context=context)
    except urllib.error.HTTPError as error:  # an error status is an answer
        response = error
    with response:
        return response.status, dict(response.headers.items()), response.read()


def send_requests(request, timeout):
    import requests

    response = requests.request(
        request["method"],
        request["url"],
        data=request.get("body"),
        headers=request.get("headers", {}),
        timeout=timeout,
        cert=request.get("cert"),
    )
    return response.status_code, dict(response.headers), response.content


def send_httpx(request, timeout):
    import httpx

    response = httpx.request(
        request["method"],
        request["url"],
        content=request.get("body"),
        headers=request.get("headers", {}),
        timeout=timeout,
    )
    return response.status_code, dict(response.headers), response.content


send = {"urllib": send_urllib, "requests": send_requests, "httpx": send_httpx}[kind]
for request in spec["requests"]:
    if request.get("wait"):
        sys.stdin.readline()
    started = time.monotonic()
    try:
        status, headers, body = send(request, request["timeout"] or spec["timeout"])
    except Exception as error:
        names, message = errors_of(error)
        outcome = {"errors": names, "message": message}
    else:
        outcome = {"status": status, "headers": headers, "body": body.decode()}
    outcome["elapsed"] = time.monotonic() - started
    print(json.dumps(outcome), flush=True)
"""
)


@dataclass(frozen=True)
class Outcome:
    """What a child saw of one request."""

    #: The status of the answer, or ``None`` when the client raised.
    status: int | None
    body: str
    headers: dict[str, str]
    #: The names of the classes of the error the client raised and of every
    #: error under it (empty when it got an answer).
    errors: tuple[str, ...]
    #: Their messages.
    message: str
    #: Seconds the request took, in the child.
    elapsed: float

    @classmethod
    def parse(cls, line: str) -> Outcome:
        seen = json.loads(line)
        return cls(
            seen.get("status"),
            seen.get("body", ""),
            {name.lower(): value for name, value in seen.get("headers", {}).items()},
            tuple(seen.get("errors", ())),
            seen.get("message", ""),
            seen["elapsed"],
        )

    def answered(self) -> str:
        """The body of the answer, which must be a 2xx."""
        assert self.status is not None, f"the child got no answer: {self.message}"
        assert 200 <= self.status < 300, (self.status, self.body)
        return self.body

    def failed_with(self, error: str, *words: str) -> None:
        """The client raised ``error`` (a class name, here or under its
        error) with all of ``words`` in the messages."""
        assert self.status is None, f"the child got an answer: {self.status}"
        assert error in self.errors, (error, self.errors, self.message)
        for word in words:
            assert word in self.message, (word, self.message)


@dataclass
class Ask:
    """One request for a child to send."""

    url: str
    method: str = "GET"
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: A file with a client certificate and its key, for mutual TLS
    #: (``urllib`` and requests).
    cert: str | None = None
    #: Read a line of standard input first.
    wait: bool = False
    #: Seconds the client waits (the child's default when ``None``).
    timeout: float | None = None

    def spec(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "method": self.method,
            "body": self.body,
            "headers": self.headers,
            "cert": self.cert,
            "wait": self.wait,
            "timeout": self.timeout,
        }


def fetch_command(
    client: str, asks: tuple[Ask | str, ...], timeout: float
) -> list[str]:
    spec = {
        "client": client,
        "timeout": timeout,
        "requests": [
            (Ask(ask) if isinstance(ask, str) else ask).spec() for ask in asks
        ],
    }
    return [sys.executable, "-c", FETCH, json.dumps(spec)]


def unmeasured(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without what makes coverage measure a child Python (the
    suite's own coverage run): the children run clients, not aiointercept,
    and measuring each costs a tenth of a second."""
    return {
        name: value for name, value in env.items() if not name.startswith("COVERAGE_")
    }


def outcomes_of(stdout: bytes) -> list[Outcome]:
    return [Outcome.parse(line) for line in stdout.decode().splitlines()]


async def fetch(
    env: Mapping[str, str],
    *asks: Ask | str,
    client: str = "urllib",
    timeout: float = BOUND,
) -> list[Outcome]:
    """Run a child that sends ``asks`` (a URL is a GET) with ``client`` in
    the environment ``env``; what it saw of each."""
    command = fetch_command(client, asks, timeout)
    with anyio.fail_after(BOUND + timeout * len(asks)):
        done = await anyio.run_process(command, env=unmeasured(env), check=False)
    assert done.returncode == 0, done.stderr.decode()
    outcomes = outcomes_of(done.stdout)
    assert len(outcomes) == len(asks), done.stderr.decode()
    return outcomes


def without_no_proxy(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with ``NO_PROXY`` emptied: the child sends its requests for
    ``localhost`` (the loopback upstream) through the proxy too."""
    return {**env, "NO_PROXY": "", "no_proxy": ""}


def proxy_port(m: aiointercept) -> int:
    return port_of(m.proxy_url)


async def exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` to the proxy on ``port`` and read until it closes."""
    received = b""
    with anyio.fail_after(BOUND):
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            await stream.send(data)
            try:
                while True:
                    received += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                pass
    return received


def proxy_log(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The messages of the ``aiointercept`` logger's records."""
    return [r.getMessage() for r in caplog.records if r.name == "aiointercept"]


# == a child's requests meet the routes ===========================================


@pytest.mark.parametrize("external", MODES)
@pytest.mark.parametrize("client", ["urllib", "requests", "httpx"])
async def test_a_child_is_answered_by_the_routes_over_http_and_https(
    client: str, external: bool
) -> None:
    """The child sends to hard-coded URLs, as it would without the mock; the
    answers reach it, and the block records the URLs it asked for, with
    the headers and body it sent."""
    async with aiointercept(mock_external_urls=external) as m:
        env = m.proxy_env()
        items = m.get(
            "http://api.example.com/items?page=2",
            payload=[{"id": 1}],
            headers={"X-Served": "items"},
        )
        orders = m.post("https://api.example.com/v1/orders", status=201, body="created")
        got_items, got_order = await fetch(
            env,
            "http://api.example.com/items?page=2",
            Ask(
                "https://api.example.com/v1/orders",
                "POST",
                body='{"qty": 3}',
                headers={"X-Child": "yes", "Content-Type": "application/json"},
            ),
            client=client,
        )
    assert json.loads(got_items.answered()) == [{"id": 1}]
    assert got_items.headers["x-served"] == "items"
    assert got_order.status == 201
    assert got_order.body == "created"
    assert items.call_count == orders.call_count == 1
    assert list(m.requests) == [
        ("GET", URL("http://api.example.com/items?page=2")),
        ("POST", URL("https://api.example.com/v1/orders")),
    ]
    order = only(m, "POST", "https://api.example.com/v1/orders")
    assert order.captured_body == b'{"qty": 3}'
    assert order.headers["X-Child"] == "yes"
    assert order.headers["Host"] == "api.example.com"
    m.assert_called_once_with(
        "https://api.example.com/v1/orders", "POST", json={"qty": 3}
    )
    assert m.unmatched == []


@pytest.mark.parametrize("external", MODES)
@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_curl_is_answered_by_the_routes(scheme: str, external: bool) -> None:
    """curl reads the proxy and the bundle of certificate authorities from
    the variables, on a port that a route names."""
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    url = f"{scheme}://api.example.com:8443/v1/charges?limit=1"
    async with aiointercept(mock_external_urls=external) as m:
        env = m.proxy_env()
        m.get(url, payload={"data": []}, headers={"X-Served": "charges"})
        with anyio.fail_after(BOUND):
            done = await anyio.run_process(
                [curl, "-sS", "-i", "--suppress-connect-headers", "-m", "10", url],
                env=env,
                check=False,
            )
    assert done.returncode == 0, done.stderr.decode()
    head, body = done.stdout.decode().split("\r\n\r\n", 1)
    assert head.startswith("HTTP/1.1 200 OK\r\n"), head
    assert "x-served: charges" in head.lower()
    assert json.loads(body) == {"data": []}
    assert list(m.requests) == [("GET", URL(url))]


async def test_concurrent_children_are_answered_together() -> None:
    """Several children at once: each request waits in its callback until all
    of them have arrived, so the proxy must serve them side by side."""
    children = 4
    arrived: list[str] = []
    everyone = anyio.Event()

    async def gather(url: URL, **kwargs: Any) -> CallbackResult:
        arrived.append(url.query["child"])
        if len(arrived) == children:
            everyone.set()
        with anyio.fail_after(BOUND):
            await everyone.wait()
        return CallbackResult(body=f"hello, child {url.query['child']}")

    answers: dict[int, Outcome] = {}
    async with aiointercept() as m:
        env = m.proxy_env()
        route = m.get(
            re.compile(r"https://api\.example\.com/hello\?child=\d"),
            callback=gather,
            repeat=children,
        )

        async def child(number: int) -> None:
            url = f"https://api.example.com/hello?child={number}"
            (answers[number],) = await fetch(env, url)

        async with anyio.create_task_group() as group:
            for number in range(children):
                group.start_soon(child, number)
    assert {n: a.answered() for n, a in answers.items()} == {
        n: f"hello, child {n}" for n in range(children)
    }
    assert sorted(arrived) == [str(n) for n in range(children)]
    assert route.call_count == children
    assert sorted(url.query["child"] for _, url in m.requests) == sorted(arrived)


async def test_a_child_that_outlives_the_block_gets_an_error_not_a_hang() -> None:
    """The block ends while a child waits for an answer that never comes: it
    ends without waiting for the child, which gets an error at once (not its
    timeout); its next request finds nothing listening, and the files of
    ``proxy_env()`` are gone."""
    timeout = 3 * BOUND  # longer than the test waits: the child must not need it
    m = await aiointercept().start()
    running = True
    try:
        env = m.proxy_env()
        m.get("https://api.example.com/slow", fault="hang")
        command = fetch_command(
            "urllib",
            (
                "https://api.example.com/slow",
                Ask("http://api.example.com/after", wait=True),
            ),
            timeout,
        )
        async with await anyio.open_process(command, env=unmeasured(env)) as child:
            with anyio.fail_after(BOUND):
                while not m.requests:  # the child's request is in
                    await anyio.sleep(0.01)
            ended = time.monotonic()
            running = False
            with anyio.fail_after(BOUND):
                await m.stop()
            assert time.monotonic() - ended < BOUND / 2
            assert child.stdin is not None
            await child.stdin.send(b"go\n")
            with anyio.fail_after(BOUND):
                await child.wait()
            assert child.stdout is not None
            stdout = b""
            async for chunk in child.stdout:
                stdout += chunk
    finally:
        if running:
            await m.stop()
    assert child.returncode == 0
    hung, after = outcomes_of(stdout)
    hung.failed_with("ConnectionError")
    assert hung.elapsed < BOUND
    after.failed_with("ConnectionRefusedError")
    for name in ("SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"):
        assert not await anyio.Path(env[name]).exists()
    assert list(m.requests) == [("GET", URL("https://api.example.com/slow"))]


# == faults ===========================================================================

#: A route's fault, and what ``urllib.request`` raises for it over ``http``
#: and over ``https``, as it would for a real server doing the same: the
#: error's class and part of its message.
FAULTS: dict[str, tuple[dict[str, Any], dict[str, tuple[str, str]]]] = {
    "exception": (
        {"exception": True},
        dict.fromkeys(
            ("http", "https"), ("RemoteDisconnected", "closed connection without")
        ),
    ),
    "reset": (
        {"fault": "reset"},
        {
            "http": ("ConnectionResetError", "Connection reset by peer"),
            # under TLS the reset shows as the end of the stream
            "https": ("ConnectionResetError", ""),
        },
    ),
    "short_body": (
        {"fault": "short_body", "body": "x" * 100},
        dict.fromkeys(("http", "https"), ("IncompleteRead", "50 more expected")),
    ),
    "close_after_headers": (
        {"fault": "close_after_headers", "body": "abc"},
        dict.fromkeys(("http", "https"), ("IncompleteRead", "3 more expected")),
    ),
    "malformed_status": (
        {"fault": "malformed_status"},
        dict.fromkeys(("http", "https"), ("BadStatusLine", "")),
    ),
    "hang": (
        {"fault": "hang"},
        dict.fromkeys(("http", "https"), ("TimeoutError", "timed out")),
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_fault_reaches_the_child_over_http_and_https(fault: str) -> None:
    options, raised = FAULTS[fault]
    urls = {scheme: f"{scheme}://api.example.com/{fault}" for scheme in raised}
    async with aiointercept() as m:
        env = m.proxy_env()
        routes = [m.get(url, **options) for url in urls.values()]
        timeout = SHORT if fault == "hang" else None
        seen = await fetch(env, *(Ask(url, timeout=timeout) for url in urls.values()))
    for scheme, outcome in zip(urls, seen, strict=True):
        outcome.failed_with(*raised[scheme])
        if fault == "hang":
            assert outcome.elapsed >= SHORT
    assert [route.call_count for route in routes] == [1, 1]
    assert [url for _, url in m.requests] == [URL(url) for url in urls.values()]


async def test_a_delay_reaches_the_child_and_a_short_timeout_fires() -> None:
    delay = 0.2
    async with aiointercept() as m:
        env = m.proxy_env()
        for scheme in ("http", "https"):
            m.get(f"{scheme}://api.example.com/late", delay=delay, body="late")
            m.get(f"{scheme}://api.example.com/too-late", delay=BOUND, body="never")
        late_http, late_https, too_late = await fetch(
            env,
            "http://api.example.com/late",
            "https://api.example.com/late",
            Ask("https://api.example.com/too-late", timeout=2 * delay),
        )
    for late in (late_http, late_https):
        assert late.answered() == "late"
        assert late.elapsed >= delay
    too_late.failed_with("TimeoutError", "timed out")


# == TLS faults and mutual TLS ========================================================

#: What OpenSSL says of each fault of ``m.tls()``, under the client's error.
TLS_FAULTS = {
    "untrusted": (
        "SSLCertVerificationError",
        "certificate verify failed: unable to get local issuer certificate",
    ),
    "wrong_host": (
        "SSLCertVerificationError",
        "certificate verify failed: Hostname mismatch, certificate is not "
        "valid for 'api.example.com'",
    ),
    "expired": (
        "SSLCertVerificationError",
        "certificate verify failed: certificate has expired",
    ),
    "refused": ("SSLError", "sslv3 alert handshake failure"),
}


@pytest.mark.parametrize("external", MODES)
@pytest.mark.parametrize("fault", list(TLS_FAULTS))
async def test_a_tls_fault_fails_the_childs_handshake(
    fault: str, external: bool
) -> None:
    """The child trusts the process's authority: its handshake fails only
    for the fault, with the SSL error a real server's would give; no request
    reaches the route. Another host, through the same proxy, is answered."""
    async with aiointercept(mock_external_urls=external) as m:
        env = m.proxy_env()
        m.tls("api.example.com", fault=fault)  # type: ignore[arg-type]
        route = m.get("https://api.example.com/account", body="never sent")
        other = m.get("https://other.example.com/account", body="fine")
        faulty, fine = await fetch(
            env,
            "https://api.example.com/account",
            "https://other.example.com/account",
        )
    ssl_error, message = TLS_FAULTS[fault]
    faulty.failed_with("URLError", message)
    assert ssl_error in faulty.errors
    assert fine.answered() == "fine"
    assert (route.call_count, other.call_count) == (0, 1)
    assert list(m.requests) == [("GET", URL("https://other.example.com/account"))]
    assert m.unmatched == []


def certificate_file(certificate: trustme.LeafCert, folder: Path) -> str:
    """A file with the client certificate ``certificate`` and its key."""
    path = folder / f"{id(certificate)}.pem"
    certificate.private_key_and_cert_chain_pem.write_to_path(str(path))
    return str(path)


@pytest.mark.parametrize("external", MODES)
async def test_mutual_tls_through_the_proxy(external: bool, tmp_path: Path) -> None:
    """``client_ca`` asks the child for a certificate: without one, or with
    one the authority did not issue, its request fails; with the right one
    it is answered, and the record names the certificate's subject."""
    alice = certificate_file(ALICE, tmp_path)
    mallory = certificate_file(MALLORY, tmp_path)
    url = "https://api.example.com/account"
    async with aiointercept(mock_external_urls=external) as m:
        env = m.proxy_env()
        m.tls("api.example.com", client_ca=CLIENT_CA.cert_pem.bytes())
        route = m.get(url, body="welcome, alice", repeat=True)
        anonymous, stranger, known = await fetch(
            env, url, Ask(url, cert=mallory), Ask(url, cert=alice)
        )
    for refused in (anonymous, stranger):
        assert refused.status is None
        assert {"SSLError", "ConnectionError"} & set(refused.errors), refused
    assert known.answered() == "welcome, alice"
    assert route.call_count == 1
    assert only(m, "GET", url).client_cert_subject == ("CN=alice,OU=Payments,O=Example")


# == unmatched requests and the proxy's own answers ================================


def urllib_error(url: str) -> BaseException:
    """What ``urllib.request`` in the test's own process raises for ``url``."""
    try:
        urllib.request.urlopen(url, timeout=BOUND).close()
    except Exception as error:
        return error
    raise AssertionError(f"{url} was answered")


@pytest.mark.parametrize("external", MODES)
@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_an_unmatched_request_is_reported_as_an_in_process_one(
    scheme: str, external: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """The same request, unmatched, sent by ``urllib.request`` in the process
    (``mock_external_urls=True``) and by a child through the proxy: the same
    error for the client, the same report, log line and failure at exit."""
    caplog.set_level(logging.WARNING, logger="aiointercept")
    url = f"{scheme}://api.example.com/v1/missing?x=1"
    present = f"{scheme}://api.example.com/v1/present"

    reference = aiointercept(mock_external_urls=True, assert_all_matched=True)
    errors: list[BaseException] = []

    async def in_the_process() -> None:
        async with reference:
            reference.get(present)
            errors.append(await anyio.to_thread.run_sync(urllib_error, url))

    with pytest.raises(StrictCheckError) as in_process:
        await in_the_process()
    (error,) = errors
    (in_process_log,) = proxy_log(caplog)
    caplog.clear()

    m = aiointercept(mock_external_urls=external, assert_all_matched=True)
    outcomes: list[Outcome] = []

    async def through_the_proxy() -> None:
        async with m:
            env = m.proxy_env()
            m.get(present)
            outcomes.extend(await fetch(env, url))

    with pytest.raises(StrictCheckError) as through_proxy:
        await through_the_proxy()
    (seen,) = outcomes
    seen.failed_with(type(error).__name__, str(error))
    (expected,) = reference.unmatched
    (item,) = m.unmatched
    assert item.report == expected.report
    assert item.report.startswith(f"no route matches GET {url}\n")
    assert item.request is only(m, "GET", url)
    assert proxy_log(caplog) == [in_process_log]
    assert "the connection was closed without a response" in in_process_log
    assert str(through_proxy.value) == str(in_process.value)
    assert through_proxy.value.unmatched == (item,)


async def until_head(port: int, data: bytes) -> bytes:
    """Send ``data`` to the proxy on ``port``: the head of its answer."""
    received = b""
    with anyio.fail_after(BOUND):
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            await stream.send(data)
            while b"\r\n\r\n" not in received:
                received += await stream.receive()
    return received


def connect(target: str) -> bytes:
    return f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode()


@pytest.mark.parametrize("external", MODES)
async def test_connect_to_a_port_no_route_names_is_refused_with_403(
    external: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """The proxy takes ports 80 and 443 and those that routes name; a
    ``CONNECT`` to another port gets ``403``, which the child's client
    reports, and a warning; a tunnel to a port it takes is answered."""
    caplog.set_level(logging.WARNING, logger="aiointercept")
    async with aiointercept(mock_external_urls=external) as m:
        env = m.proxy_env()
        port = proxy_port(m)
        m.get("https://api.example.com:8443/x", body="8443")
        refused = await exchange(port, connect("api.example.com:8444"))
        taken = [
            await until_head(port, connect(target))
            for target in ("api.example.com:8443", "api.example.com:443", "a.test:80")
        ]
        child_refused, child_taken = await fetch(
            env, "https://api.example.com:8444/x", "https://api.example.com:8443/x"
        )
    head, body = refused.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert b"CONNECT api.example.com:8444 refused" in body
    assert taken == [b"HTTP/1.1 200 Connection established\r\n\r\n"] * 3
    child_refused.failed_with("URLError", "Tunnel connection failed: 403")
    assert child_taken.answered() == "8443"
    logged = proxy_log(caplog)
    assert len(logged) == 2
    for line in logged:
        assert line.startswith(
            "aiointercept's proxy answered 403: CONNECT api.example.com:8444 refused"
        )
    assert [r.levelno for r in caplog.records] == [logging.WARNING] * 2
    assert list(m.requests) == [("GET", URL("https://api.example.com:8443/x"))]


@pytest.mark.parametrize("external", MODES)
async def test_a_proxy_request_to_a_port_no_route_names_is_refused_with_403(
    external: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """``http://`` through the proxy follows the port rule of ``CONNECT``."""
    caplog.set_level(logging.WARNING, logger="aiointercept")

    def get(target: str) -> bytes:
        return (
            f"GET http://{target}/x HTTP/1.1\r\nHost: {target}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()

    async with aiointercept(mock_external_urls=external) as m:
        port = proxy_port(m)
        m.get("http://api.example.com:8080/x", body="8080")
        refused = await exchange(port, get("api.example.com:8081"))
        taken = await exchange(port, get("api.example.com:8080"))
    assert refused.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert b"GET http://api.example.com:8081/x refused" in refused
    assert taken.startswith(b"HTTP/1.1 200 OK\r\n")
    assert taken.endswith(b"\r\n\r\n8080")
    assert proxy_log(caplog) == [
        line for line in proxy_log(caplog) if "api.example.com:8081/x refused" in line
    ]
    assert len(proxy_log(caplog)) == 1
    assert list(m.requests) == [("GET", URL("http://api.example.com:8080/x"))]


@pytest.mark.parametrize(
    ("request_line", "why"),
    [
        ("CONNECT api.example.com HTTP/1.1", "malformed CONNECT request"),
        ("CONNECT api.example.com:99999 HTTP/1.1", "malformed CONNECT request"),
        ("CONNECT api.example.com:443", "malformed CONNECT request"),
        ("CONNECT api.example.com:443 SPDY/3", "malformed CONNECT request"),
        ("CONNECT https://api.example.com:443/ HTTP/1.1", "malformed CONNECT"),
        ("CONNECT user@api.example.com:443 HTTP/1.1", "malformed CONNECT request"),
        ("CONNECT " + "a" * 20_000, "the CONNECT request is too long"),
    ],
    ids=["no-port", "port-range", "no-version", "version", "url", "user", "long"],
)
async def test_a_malformed_connect_gets_400_and_a_log_line(
    request_line: str, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="aiointercept")
    end = "" if request_line.endswith("a" * 100) else "\r\n\r\n"
    async with aiointercept() as m:
        answer = await exchange(proxy_port(m), (request_line + end).encode())
    head, body = answer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert why.encode() in body
    (logged,) = proxy_log(caplog)
    assert logged.startswith("aiointercept's proxy answered 400: ")
    assert why in logged
    if end:
        assert repr(request_line) in logged
    assert m.requests == {}


@pytest.mark.parametrize("external", MODES)
@pytest.mark.parametrize(
    "head",
    [
        "GET http://[api.example.com/x HTTP/1.1\r\nHost: api.example.com",
        "GET http://api.example.com:99999/x HTTP/1.1\r\nHost: api.example.com",
        "GET http:///x HTTP/1.1\r\nHost: api.example.com",
    ],
    ids=["bracket", "port", "no-host"],
)
async def test_a_malformed_absolute_form_request_gets_400(
    head: str, external: bool
) -> None:
    async with aiointercept(mock_external_urls=external) as m:
        m.proxy_env()
        m.get("http://api.example.com/x", body="never sent")
        answer = await exchange(proxy_port(m), f"{head}\r\n\r\n".encode())
    assert re.match(rb"HTTP/1\.[01] 400 Bad Request\r\n", answer), answer
    assert m.requests == {}
    assert m.unmatched == []


# == passthrough ======================================================================


@pytest.fixture
def upstream_name(net: LoopbackNet, monkeypatch: pytest.MonkeyPatch) -> str:
    """``upstream.test`` resolves to 127.0.0.1 in the test's process (where
    the mock's passthrough proxy resolves it), as a remote host's name."""
    monkeypatch.setitem(loopback_net.FAKE_HOSTS, UPSTREAM_NAME, "127.0.0.1")
    return UPSTREAM_NAME


async def test_a_passthrough_host_is_reached_through_the_proxy(
    upstream_name: str,
) -> None:
    """With ``mock_external_urls=True``, a passthrough host asked for through
    the proxy is reached for real (and not recorded, as in the process);
    another host on that port is not."""
    async with serving() as upstream:
        origin = f"http://{upstream_name}:{upstream.port}"
        async with aiointercept(mock_external_urls=True, passthrough=[origin]) as m:
            env = m.proxy_env()
            m.get("https://mocked.example.com/data", payload={"mocked": True})
            passed, mocked, unlisted = await fetch(
                env,
                Ask(f"{origin}/echo", "POST", body="hi", headers={"X-Token": "t"}),
                "https://mocked.example.com/data",
                f"http://unlisted.test:{upstream.port}/echo",
            )
        assert upstream.paths == ["/echo"]
    echo = json.loads(passed.answered())
    assert (echo["method"], echo["body"], echo["token"]) == ("POST", "hi", "t")
    assert echo["host"] == f"{upstream_name}:{upstream.port}"
    assert json.loads(mocked.answered()) == {"mocked": True}
    # another host on a port no route names: refused, as by the guard
    assert unlisted.status == 403
    assert "refused by the network guard" in unlisted.body
    assert list(m.requests) == [("GET", URL("https://mocked.example.com/data"))]


async def test_passthrough_unmatched_through_the_proxy(upstream_name: str) -> None:
    """With ``passthrough_unmatched=True``, a child's request that no route
    answers goes on to its host, as an in-process one does: the same
    answer, the same records."""
    async with serving() as upstream:
        origin = f"http://{upstream_name}:{upstream.port}"
        async with (
            aiointercept(mock_external_urls=True, passthrough_unmatched=True) as m,
            httpx.AsyncClient(timeout=BOUND) as client,
        ):
            env = m.proxy_env()
            m.get(f"{origin}/mocked", body="from the mock", repeat=True)
            mocked, passed = await fetch(env, f"{origin}/mocked", f"{origin}/child")
            in_process = await client.get(f"{origin}/in-process")
            assert (await client.get(f"{origin}/mocked")).text == "from the mock"
        assert upstream.paths == ["/child", "/in-process"]
    assert mocked.answered() == "from the mock"
    assert passed.answered() == "upstream GET /child"
    assert in_process.text == "upstream GET /in-process"
    # recorded, as requests that went through the mock
    assert [str(url) for _, url in m.requests] == [
        f"{origin}/mocked",
        f"{origin}/child",
        f"{origin}/in-process",
    ]
    assert m.unmatched == []


@pytest.mark.parametrize("external", MODES)
async def test_loopback_through_the_proxy(external: bool) -> None:
    """A child that sends even loopback through the proxy (``NO_PROXY``
    emptied): the block's own address is answered by its routes; another
    local server is reached for real with ``mock_external_urls=True``, as
    in the process, and without it is refused (a port no route names):
    nothing passes through."""
    async with serving() as upstream:
        async with aiointercept(mock_external_urls=external) as m:
            env = without_no_proxy(m.proxy_env())
            m.get(f"{m.server_url}/own", body="own")
            own, local = await fetch(
                env, f"{m.server_url}/own", f"{upstream.url}/hello"
            )
        assert upstream.paths == (["/hello"] if external else [])
    assert own.answered() == "own"
    if external:
        assert local.answered() == "upstream GET /hello"
        assert list(m.requests) == [("GET", URL(f"{m.server_url}/own"))]
    else:  # a port that no route names: refused
        assert local.status == 403
        assert f"GET {upstream.url}/hello refused" in local.body
        assert list(m.requests) == [("GET", URL(f"{m.server_url}/own"))]


# == cassettes ========================================================================


async def test_a_cassette_recorded_from_a_child_replays_in_the_process(
    tmp_path: Path,
) -> None:
    """A child's requests to the upstream (``http://localhost:PORT``, which a
    recording block takes) are recorded through the proxy; ``httpx`` in the
    process replays them with the upstream stopped."""
    path = tmp_path / "child.yaml"
    async with serving() as upstream:
        async with aiointercept(
            mock_external_urls=True, cassette=path, record_mode="all"
        ) as m:
            env = without_no_proxy(m.proxy_env())
            hello, echo = await fetch(
                env,
                f"{upstream.url}/hello?lang=en",
                Ask(f"{upstream.url}/echo", "POST", body="ping"),
            )
        assert upstream.paths == ["/hello?lang=en", "/echo"]
    assert hello.answered() == "upstream GET /hello?lang=en"
    assert json.loads(echo.answered())["body"] == "ping"
    assert uris(path) == [f"{upstream.url}/hello?lang=en", f"{upstream.url}/echo"]
    assert len(m.requests) == 2

    async with (
        aiointercept(mock_external_urls=True, cassette=path, record_mode="none") as m,
        httpx.AsyncClient(timeout=BOUND) as client,
    ):
        replayed_hello = await client.get(f"{upstream.url}/hello?lang=en")
        replayed_echo = await client.post(f"{upstream.url}/echo", content=b"ping")
    assert replayed_hello.text == hello.body
    assert replayed_echo.json() == json.loads(echo.body)
    assert replayed_echo.headers["content-type"] == echo.headers["content-type"]
    assert len(m.requests) == 2


async def test_a_cassette_recorded_in_the_process_replays_to_a_child(
    tmp_path: Path,
) -> None:
    """``httpx`` in the process records; a child replays through the proxy
    with the upstream stopped; a request the cassette does not hold fails
    the child's client and the block, as it would in the process."""
    path = tmp_path / "in-process.yaml"
    async with serving() as upstream:
        async with (
            aiointercept(mock_external_urls=True, cassette=path) as m,
            httpx.AsyncClient(timeout=BOUND) as client,
        ):
            recorded = await client.get(f"{upstream.url}/hello?lang=en")
        assert upstream.paths == ["/hello?lang=en"]
    (interaction,) = interactions(path)

    m = aiointercept(mock_external_urls=True, cassette=path)
    outcomes: list[Outcome] = []

    async def replay() -> None:
        async with m:
            env = without_no_proxy(m.proxy_env())
            outcomes.extend(
                await fetch(
                    env, f"{upstream.url}/hello?lang=en", f"{upstream.url}/unknown"
                )
            )

    with pytest.raises(CassetteError) as missed:
        await replay()
    replayed, unknown = outcomes
    assert replayed.answered() == recorded.text == "upstream GET /hello?lang=en"
    assert replayed.headers["server"] == recorded.headers["server"]
    assert interaction["response"]["status"]["code"] == replayed.status
    unknown.failed_with("ConnectionError")
    assert f"{upstream.url}/unknown" in str(missed.value)
    assert [str(url) for _, url in m.requests] == [
        f"{upstream.url}/hello?lang=en",
        f"{upstream.url}/unknown",
    ]


# == proxy_env(), proxy_url and the fixture ============================================

#: Every variable that ``proxy_env()`` sets.
VARIABLES = {
    *(
        name
        for upper in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
        for name in (upper, upper.lower())
    ),
    "NODE_USE_ENV_PROXY",
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "GIT_SSL_CAINFO",
    "NODE_EXTRA_CA_CERTS",
}


def test_proxy_env_names_the_proxy_and_files_that_live_as_long_as_the_block() -> None:
    with aiointercept() as m:
        env = m.proxy_env(base={})
        assert set(env) == VARIABLES
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            assert env[name] == env[name.lower()] == m.proxy_url == m.server_url
        assert env["NO_PROXY"] == env["no_proxy"] == "localhost,127.0.0.1,::1"
        assert env["NODE_USE_ENV_PROXY"] == "1"
        bundle = Path(env["SSL_CERT_FILE"])
        for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO"):
            assert env[name] == str(bundle)
        ca = Path(env["NODE_EXTRA_CA_CERTS"])
        assert ca.read_text() == m.ca_pem
        # the system's authorities, then the process's
        text = bundle.read_text()
        assert text.endswith(m.ca_pem)
        assert text.count("-----BEGIN CERTIFICATE-----") > 1
        assert m.proxy_env(base={}) == env  # the same files, while the block runs
    assert not bundle.exists()
    assert not ca.exists()
    assert not ca.parent.exists()
    with m:  # a new block, new files
        again = m.proxy_env(base={})
        assert Path(again["SSL_CERT_FILE"]).is_file()
    assert not Path(again["SSL_CERT_FILE"]).exists()


def test_proxy_env_adds_to_its_base_and_replaces_its_proxy_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIOINTERCEPT_TEST_KEPT", "kept")
    base = {"PATH": "/bin", "http_proxy": "http://corporate:3128", "NO_PROXY": "*"}
    with aiointercept() as m:
        env = m.proxy_env(base=base)
        from_os = m.proxy_env()
        proxy_url = m.proxy_url
    assert base == {
        "PATH": "/bin",
        "http_proxy": "http://corporate:3128",
        "NO_PROXY": "*",
    }
    assert set(env) == VARIABLES | {"PATH"}
    assert env["PATH"] == "/bin"
    assert env["http_proxy"] == proxy_url
    assert env["NO_PROXY"] == "localhost,127.0.0.1,::1"
    assert from_os["AIOINTERCEPT_TEST_KEPT"] == "kept"
    assert set(from_os) == set(os.environ) | VARIABLES


def test_proxy_url_outside_a_block_is_an_error() -> None:
    m = aiointercept()
    for _ in range(2):  # before the block, and after it
        with pytest.raises(RuntimeError, match="proxy_url is set while the block"):
            _ = m.proxy_url
        with pytest.raises(RuntimeError, match="not running"):
            m.proxy_env()
        with m:
            assert m.proxy_url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("base", [42, ["HTTP_PROXY=x"], "PATH=/bin"])
def test_proxy_env_base_must_be_a_mapping(base: Any) -> None:
    with aiointercept() as m, pytest.raises(TypeError, match="mapping") as raised:
        m.proxy_env(base=base)
    assert repr(base) in str(raised.value)


def test_routes_for_other_hosts_warn_until_the_proxy_is_asked_for() -> None:
    """In the default mode, a route for another host is unreachable, unless a
    program sends its requests through the proxy: once ``proxy_url`` (or
    ``proxy_env()``) was asked for, no warning, for the rest of the block."""
    m = aiointercept()
    with m:
        with pytest.warns(UnreachableRouteWarning, match="m.proxy_url"):
            m.get("https://api.example.com/before")
        _ = m.proxy_url
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            m.get("https://api.example.com/after")
            m.post(re.compile(r"https://other\.example\.com/.*"))
    with m:  # a new block: warned again
        with pytest.warns(UnreachableRouteWarning):
            m.get("https://api.example.com/again")
        m.proxy_env(base={})
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            m.get("https://api.example.com/quiet")


#: A project whose tests run children with the fixture's variables.
FIXTURE_PROJECT = """
import os
import subprocess
import sys

import pytest

from aiointercept import UnreachableRouteWarning

VARIABLES = __VARIABLES__
BEFORE = {name: os.environ.get(name) for name in VARIABLES}
CHILD = __CHILD__


def child(url):
    return subprocess.run(
        [sys.executable, "-c", CHILD, url], capture_output=True, timeout=30
    )


def test_1_the_variables_are_set(aiointercept_proxy_env, aiointercept_mock):
    assert sorted(aiointercept_proxy_env) == VARIABLES
    for name, value in aiointercept_proxy_env.items():
        assert os.environ[name] == value
    assert os.environ["HTTPS_PROXY"] == aiointercept_mock.proxy_url
    aiointercept_mock.get("https://api.example.com/hello", body="hello, child")
    done = child("https://api.example.com/hello")
    assert done.stdout == b"hello, child", done.stderr


def test_2_and_restored_after_the_test(aiointercept_mock):
    assert {name: os.environ.get(name) for name in VARIABLES} == BEFORE
    assert os.environ["HTTP_PROXY"] == "http://before.invalid:3128"
    with pytest.warns(UnreachableRouteWarning):
        aiointercept_mock.get("https://api.example.com/hello")


@pytest.mark.anyio
@pytest.mark.aiointercept(mock_external_urls=True)
async def test_3_in_an_async_test(aiointercept_proxy_env, aiointercept_mock):
    import anyio

    aiointercept_mock.get("http://api.example.com/async", body="async, child")
    done = await anyio.to_thread.run_sync(child, "http://api.example.com/async")
    assert done.stdout == b"async, child", done.stderr
""".replace("__VARIABLES__", repr(sorted(VARIABLES))).replace(
    "__CHILD__",
    repr(
        GUARD
        + "import sys, urllib.request\n"
        + "sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1]).read())\n"
    ),
)


def test_the_proxy_env_fixture_sets_the_variables_for_one_test(
    pytester: pytest.Pytester,
) -> None:
    result = run_pytest(
        pytester,
        "-p",
        "no:randomly",  # in the order written: the second test runs after the first
        conftest=BOTH_BACKENDS
        + '\nimport os\nos.environ["HTTP_PROXY"] = "http://before.invalid:3128"\n',
        test_children=FIXTURE_PROJECT,
    )
    assert summary(result, "PASSED") == {
        "test_1_the_variables_are_set",
        "test_2_and_restored_after_the_test",
        "test_3_in_an_async_test[asyncio]",
        "test_3_in_an_async_test[trio]",
    }, result.stdout.str()
    result.assert_outcomes(passed=4)
