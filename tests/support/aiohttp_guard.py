"""A safety net under the tests that send requests with aiohttp.

:func:`guarded` (for an autouse fixture) makes sure that nothing leaves the
machine and no real DNS server is asked anything, whatever the library under
test does:

* the default resolver of every ``TCPConnector`` created during a test (the one
  a plain ``aiohttp.ClientSession()`` gets, and the passthrough proxy's) is
  :class:`GuardResolver`, which knows ``localhost`` only and records every
  call, so a test can also assert that it was never asked;
* as a last resort, every connection to an address that is not loopback is
  refused (and fails the test), even if the library under test is broken:
  at ``socket.socket.connect`` (under the interception, which wraps it when a
  block starts and sends intercepted connections to loopback first), and,
  outside ``mock_external_urls`` blocks, at aiohttp's private
  ``_wrap_create_connection``, checked to still take ``addr_infos``;
* the ``mock_external_urls`` patch must be off before and after the test.

The net for every client, at the level of :mod:`socket`, is
:mod:`tests.support.loopback_net`.
"""

from __future__ import annotations

import inspect
import ipaddress
import socket
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import aiohttp
import aiohttp.connector
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from tests.support.internals import interception

#: A bound on every aiohttp request of the tests that use it, so that a broken
#: library makes a test fail instead of hang (a proxy that sends requests to
#: itself, say).
BOUND = aiohttp.ClientTimeout(total=10)

#: The aiohttp method the ``mock_external_urls`` patch wraps, as aiohttp
#: defines it.
ORIGINAL_RESOLVE = aiohttp.TCPConnector._resolve_host


def patch_installed() -> bool:
    """Whether the ``mock_external_urls`` patch is installed."""
    resolve = aiohttp.TCPConnector._resolve_host
    assert (resolve is not ORIGINAL_RESOLVE) == interception.installed, (
        "the wrapped names must be installed and restored together"
    )
    return interception.installed


# -- resolvers of the test's own ---------------------------------------------------


def _result(host: str, ip: str, port: int) -> ResolveResult:
    return {
        "hostname": host,
        "host": ip,
        "port": port,
        "family": socket.AF_INET,
        "proto": 0,
        "flags": socket.AI_NUMERICHOST,
    }


class RecordingResolver(AbstractResolver):
    """Resolves the names it is given, records every call, fails for the rest."""

    def __init__(self, hosts: Mapping[str, str] | None = None) -> None:
        self.hosts = dict(hosts or {})
        self.calls: list[tuple[str, int]] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.calls.append((host, port))
        ip = self.hosts.get(host)
        if ip is None:
            raise socket.gaierror(socket.EAI_NONAME, f"test resolver: no {host!r}")
        return [_result(host, ip, port)]

    async def close(self) -> None:
        pass


class GuardResolver(AbstractResolver):
    """Stands in for aiohttp's default resolver during every guarded test.

    It knows ``localhost`` (the loopback upstreams) and nothing else, so no
    real DNS query can happen; ``calls`` lists every name asked, from any thread.
    """

    calls: ClassVar[list[tuple[str, int]]] = []

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        GuardResolver.calls.append((host, port))
        if host != "localhost":
            raise socket.gaierror(socket.EAI_NONAME, f"guard resolver: no {host!r}")
        return [_result(host, "127.0.0.1", port)]

    async def close(self) -> None:
        pass


# -- the loopback guard ------------------------------------------------------------

#: Connections that the loopback guard refused, as (host, port).
refused: list[tuple[str, int]] = []
_original_wrap_create_connection = aiohttp.TCPConnector._wrap_create_connection


async def _loopback_only(
    self: aiohttp.TCPConnector, *args: Any, addr_infos: list[Any], **kwargs: Any
) -> Any:
    """Let aiohttp connect to loopback addresses only, whatever the library
    does; inside a ``mock_external_urls`` block the interception sends
    connections to loopback under this, and the net at the socket checks."""
    if patch_installed():
        return await _original_wrap_create_connection(
            self, *args, addr_infos=addr_infos, **kwargs
        )
    outside = [
        (info[4][0], info[4][1]) for info in addr_infos if not is_loopback(info[4][0])
    ]
    if outside:
        refused.extend(outside)
        raise AssertionError(
            f"the test tried to connect outside the machine: {outside}"
        )
    return await _original_wrap_create_connection(
        self, *args, addr_infos=addr_infos, **kwargs
    )


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an IP address) is loopback, IPv4-mapped ones too."""
    address = ipaddress.ip_address(host)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback


def _refusing_outside(connect: Any) -> Any:
    def loopback_connect(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(
            address, tuple
        ):
            host = str(address[0]).split("%")[0]
            if not is_loopback(host):
                refused.append((host, int(address[1])))
                raise AssertionError(
                    f"the test tried to connect outside the machine: {address}"
                )
        return connect(sock, address)

    return loopback_connect


def guarded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """For an autouse fixture: replace aiohttp's default resolver, refuse any
    connection that would leave the machine, and check that the patch is off
    around the test. Yields the names the default resolver was asked for."""
    monkeypatch.setattr(aiohttp.connector, "DefaultResolver", GuardResolver)
    assert (
        "addr_infos" in inspect.signature(_original_wrap_create_connection).parameters
    )
    monkeypatch.setattr(aiohttp.TCPConnector, "_wrap_create_connection", _loopback_only)
    for name in ("connect", "connect_ex"):
        original = getattr(socket.socket, name)
        monkeypatch.setattr(socket.socket, name, _refusing_outside(original))
    GuardResolver.calls = []
    refused.clear()
    assert not patch_installed(), "a previous test left the patch installed"
    yield GuardResolver.calls
    assert not patch_installed(), "the patch is still installed after the test"
    assert refused == [], f"connections outside the machine were attempted: {refused}"


# -- sessions --------------------------------------------------------------------------


def session_with(
    resolver: AbstractResolver | None = None, **connector_kwargs: Any
) -> aiohttp.ClientSession:
    """A session whose connector has ``resolver`` and ``connector_kwargs``."""
    connector = aiohttp.TCPConnector(resolver=resolver, **connector_kwargs)
    return aiohttp.ClientSession(connector=connector, timeout=BOUND)


async def get_text(session: aiohttp.ClientSession, url: str, **kwargs: Any) -> str:
    """GET ``url``, which must answer 200: its text."""
    async with session.get(url, **kwargs) as resp:
        assert resp.status == 200, (url, resp.status)
        return await resp.text()


async def get_json(session: aiohttp.ClientSession, url: str) -> Any:
    """GET ``url``, which must answer 200: its JSON."""
    async with session.get(url) as resp:
        assert resp.status == 200, (url, resp.status)
        return await resp.json()
