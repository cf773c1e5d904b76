"""A safety net under the interception tests of every client.

:func:`loopback_network` replaces, for one test, the three standard-library
entry points through which any Python client reaches the network:

* ``socket.getaddrinfo`` answers the names of :data:`FAKE_HOSTS` and numeric
  addresses, records every name it is asked, and fails for any other name, so
  no real DNS query can happen;
* ``socket.socket.connect`` and ``connect_ex`` let TCP connections reach
  loopback addresses only; any other attempt is recorded in ``refused`` and
  fails with ``ENETUNREACH``, so nothing leaves the machine even if the library
  under test is broken.

aiohttp's default resolver is made the threaded one, which asks
``socket.getaddrinfo`` (with aiodns installed it would use c-ares, which
does not).

aiointercept's network guard wraps whatever these are when a block starts, so
the net sits *under* it: a guard that lets a connection through is caught
here, and the test fails at teardown.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import aiohttp.connector
import pytest

#: Names the fake resolver knows. ``outside.test`` stands for a real remote
#: host: its address is in TEST-NET-1 (RFC 5737), never contacted.
FAKE_HOSTS = {
    "localhost": "127.0.0.1",
    "outside.test": "192.0.2.10",
    "other-outside.test": "192.0.2.11",
}


@dataclass
class LoopbackNet:
    """What the net saw during one test."""

    #: Every name asked of ``socket.getaddrinfo`` (numeric addresses excluded).
    resolved: list[str] = field(default_factory=list)
    #: The same, with the port asked for each: (name, port).
    lookups: list[tuple[str, Any]] = field(default_factory=list)
    #: Every TCP connection attempt to a non-loopback address, as (host, port).
    refused: list[tuple[str, int]] = field(default_factory=list)


def is_numeric(host: str) -> bool:
    """Whether ``host`` is an IP address (bracketed, with a zone, perhaps)."""
    try:
        ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped  # ::ffff:127.0.0.1
        return address.is_loopback
    except ValueError:
        return False


@pytest.fixture
def loopback_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackNet]:
    """Install the net for one test; fail the test if it refused anything."""
    net = LoopbackNet()
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is None or is_numeric(name):
            return real_getaddrinfo(host, port, *args, **kwargs)
        name = name.rstrip(".").lower()
        net.resolved.append(name)
        net.lookups.append((name, port))
        address = FAKE_HOSTS.get(name)
        if address is None:
            raise socket.gaierror(socket.EAI_NONAME, f"loopback net: no {name!r}")
        return real_getaddrinfo(address, port, *args, **kwargs)

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return
        host, port = address[0], address[1]
        if not _is_loopback(host):
            net.refused.append((host, port))
            raise OSError(errno.ENETUNREACH, f"loopback net: refused {host}:{port}")

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return real_connect_ex(sock, address)

    monkeypatch.setattr(aiohttp.connector, "DefaultResolver", aiohttp.ThreadedResolver)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield net
    assert net.refused == [], f"connections outside the machine: {net.refused}"
