"""``m.tls()`` and the certificates of intercepted ``https`` hosts, seen from
the clients.

An intercepted ``https`` request is a real TLS handshake with the block's
server, which shows a certificate for the host issued by the process's
certificate authority (``m.ca_pem``). ``m.tls(host, fault=...)`` makes the
handshake go wrong the way a real server's can, and each client raises the
SSL error its users know; ``m.tls(host, client_ca=...)`` asks for a client
certificate (mutual TLS). The clients are those of
:mod:`tests.support.clients`, the asynchronous ones on each backend they run
on, the synchronous ones in a worker thread; the standard library's own TLS
(``http.client`` over ``SSLContext.wrap_socket``, anyio's TLS streams over
``wrap_bio``) shows the certificate and the protocol chosen.

Nothing here leaves the machine or asks a DNS server anything (see
``test_clients.py``).
"""

from __future__ import annotations

import contextlib
import http.client
import ssl
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import anyio
import anyio.to_thread
import httpcore
import httpx
import httpx2
import pytest
import requests
import trustme
import urllib3
from anyio.streams.tls import TLSAttribute
from cryptography import x509
from yarl import URL

from aiointercept import aiointercept
from tests.support import clients, loopback_net
from tests.support.certificates import ALICE, CLIENT_CA, MALLORY
from tests.support.clients import (
    ALL_SYNC_KINDS,
    BOUND,
    URLLIB3_2,
    Verify,
    client_params,
    open_client,
)
from tests.support.loopback_net import LoopbackNet

pytestmark = pytest.mark.anyio

#: The safety net, for every test of this module.
loopback_network = loopback_net.loopback_network
net = clients.net

URL_ = "https://api.example.com/account"

#: The clients of these tests: the asynchronous ones on each backend they run
#: on; the synchronous ones in a worker thread, on asyncio only (the
#: handshake happens in the thread, whatever the test's loop).
TLS_CLIENTS = [
    *client_params(["aiohttp", "httpx-async", "httpx2-async"]),
    *(pytest.param(kind, "asyncio", id=kind) for kind in ALL_SYNC_KINDS),
]

#: urllib3 (under requests) warns about every request made with
#: ``verify=False``; the users who turn verification off silence it.
INSECURE_WARNING = "ignore::urllib3.exceptions.InsecureRequestWarning"


def version_of(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3] if part.isdigit())


@pytest.fixture(autouse=True)
def nothing_resolved(net: LoopbackNet) -> Iterator[None]:
    """No intercepted name may reach the real ``socket.getaddrinfo``."""
    yield
    assert net.resolved == [], f"names resolved for real: {net.resolved}"


# == faults ==========================================================================

#: What OpenSSL says of each fault, in every client's message, and the
#: ``ssl`` error it raises.
FAULTS: dict[str, tuple[type[ssl.SSLError], str]] = {
    "untrusted": (
        ssl.SSLCertVerificationError,
        "certificate verify failed: unable to get local issuer certificate",
    ),
    "wrong_host": (
        ssl.SSLCertVerificationError,
        "certificate verify failed: Hostname mismatch, certificate is not "
        "valid for 'api.example.com'",
    ),
    "expired": (
        ssl.SSLCertVerificationError,
        "certificate verify failed: certificate has expired",
    ),
    "refused": (ssl.SSLError, "sslv3 alert handshake failure"),
}


#: httpcore raises an SSL error of its asyncio backend as a ConnectError from
#: 1.0.6 on; before, the ``ssl`` error itself reaches the user of httpx.
HTTPCORE_WRAPS_SSL_ERRORS = version_of(httpcore.__version__) >= (1, 0, 6)


@dataclass(frozen=True)
class Expected:
    """What the user of a client sees of a failed handshake."""

    #: The exception the client raises.
    error: type[BaseException]
    #: Part of its message.
    message: str
    #: The ``ssl`` error under it (see :func:`ssl_error_in`), or ``None``
    #: when the client raises an error of its own without one.
    ssl_error: type[ssl.SSLError] | None
    #: Whether the client's own error repeats the message (httpcore on trio
    #: raises its ConnectError from trio's BrokenResourceError, which has
    #: none: the SSL error is its cause).
    in_message: bool = True


def expected(kind: str, fault: str, backend: str) -> Expected:
    """What a client of ``kind`` raises for ``fault``."""
    ssl_error, message = FAULTS[fault]
    certificate = fault != "refused"
    if kind == "requests" and fault == "wrong_host" and not URLLIB3_2:
        # urllib3 1.26 matches the host name itself, with an error of its own
        return Expected(
            requests.exceptions.SSLError,
            "hostname 'api.example.com' doesn't match",
            None,
        )
    if kind in ("httpx-async", "httpx2-async") and backend == "trio":
        library: Any = httpx if kind == "httpx-async" else httpx2
        return Expected(library.ConnectError, message, ssl_error, in_message=False)
    if kind == "httpx-async" and not HTTPCORE_WRAPS_SSL_ERRORS:
        return Expected(ssl_error, message, ssl_error)
    errors: dict[str, type[BaseException]] = {
        "aiohttp": (
            aiohttp.ClientConnectorCertificateError
            if certificate
            else aiohttp.ClientConnectorSSLError
        ),
        "httpx-async": httpx.ConnectError,
        "httpx-sync": httpx.ConnectError,
        "httpx2-async": httpx2.ConnectError,
        "httpx2-sync": httpx2.ConnectError,
        "requests": requests.exceptions.SSLError,
        "urllib3": urllib3.exceptions.MaxRetryError,
        "urllib": urllib.error.URLError,
        "http.client": ssl_error,
    }
    return Expected(errors[kind], message, ssl_error)


def ssl_error_in(error: BaseException) -> ssl.SSLError:
    """The ``ssl`` error under a client's error, where its users find it."""
    if isinstance(error, urllib.error.URLError):
        assert isinstance(error.reason, ssl.SSLError), error.reason
        return error.reason
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        assert isinstance(error.certificate_error, ssl.SSLError)
        return error.certificate_error
    if isinstance(error, aiohttp.ClientConnectorSSLError):
        assert isinstance(error.os_error, ssl.SSLError)
        return error.os_error
    seen: BaseException | None = error
    while seen is not None:  # httpx, requests, urllib3: the exception chain
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    raise AssertionError(f"no ssl.SSLError in the chain of {error!r}")


def assert_shows(error: BaseException, what: Expected) -> None:
    """``error`` is what the user of the client should see."""
    assert isinstance(error, what.error)
    if what.in_message:
        assert what.message in str(error)
    if what.ssl_error is not None:
        under = ssl_error_in(error)
        assert type(under) is what.ssl_error
        assert what.message in str(under)


@pytest.mark.parametrize(("kind", "anyio_backend"), TLS_CLIENTS)
@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_fault_raises_the_clients_own_ssl_error(
    kind: str, anyio_backend: str, fault: str
) -> None:
    what = expected(kind, fault, anyio_backend)
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        route = m.get(URL_, body="never sent", repeat=True)
        m.tls("api.example.com", fault=fault)  # type: ignore[arg-type]
        with pytest.raises(what.error) as caught:
            await client.get(URL_)
    assert_shows(caught.value, what)
    assert route.call_count == 0
    assert m.call_count == 0
    assert m.unmatched == []


@pytest.mark.parametrize(("kind", "anyio_backend"), TLS_CLIENTS)
@pytest.mark.filterwarnings(INSECURE_WARNING)
async def test_verification_off_gets_past_certificate_faults_but_not_a_refusal(
    kind: str, anyio_backend: str
) -> None:
    """With verification off the client accepts any certificate, as it would
    a real server's: the faults of the certificate do not bite, and the
    request is answered and recorded. A refused handshake still fails."""
    hosts = {fault: f"{fault.replace('_', '-')}.example.com" for fault in FAULTS}
    async with (
        aiointercept(mock_external_urls=True) as m,
        open_client(kind, verify=False) as client,
    ):
        for fault, host in hosts.items():
            m.tls(host, fault=fault)  # type: ignore[arg-type]
            m.get(f"https://{host}/x", body=fault)
        for fault in ("untrusted", "wrong_host", "expired"):
            assert await client.text(f"https://{hosts[fault]}/x") == fault
        refusal = expected(kind, "refused", anyio_backend)
        with pytest.raises(refusal.error) as caught:
            await client.get(f"https://{hosts['refused']}/x")
    assert_shows(caught.value, refusal)
    assert sorted(str(url.host) for _, url in m.requests) == sorted(
        hosts[fault] for fault in ("untrusted", "wrong_host", "expired")
    )


#: What aiohttp raises for a certificate it does not accept.
CERTIFICATE_ERROR = aiohttp.ClientConnectorCertificateError


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_tls_settings_by_port_before_the_block_and_cleared() -> None:
    """``m.tls()`` applies to the blocks of the instance, from before the
    first one starts; ``host:port`` to that port only; with neither fault
    nor client_ca, the handshake is a plain one again."""
    m = aiointercept(mock_external_urls=True)
    m.tls("api.example.com:8443", fault="expired")
    m.tls("https://other.example.com", fault="untrusted")  # every port
    async with m, open_client("aiohttp") as client:
        m.get("https://api.example.com:8443/x", body="8443", repeat=True)
        m.get("https://api.example.com/x", body="443")
        m.get("https://other.example.com:8443/x", body="other")
        assert await client.text("https://api.example.com/x") == "443"
        with pytest.raises(CERTIFICATE_ERROR, match="certificate has expired"):
            await client.get("https://api.example.com:8443/x")
        with pytest.raises(CERTIFICATE_ERROR, match="unable to get local issuer"):
            await client.get("https://other.example.com:8443/x")
        m.tls("api.example.com:8443")
        m.tls("other.example.com", fault=None, client_ca=None)
        assert await client.text("https://api.example.com:8443/x") == "8443"
        assert await client.text("https://other.example.com:8443/x") == "other"
    assert m.call_count == 3


# == mutual TLS ======================================================================


def showing(certificate: trustme.LeafCert | None) -> Verify:
    """How a client is told to show ``certificate`` (none: as it comes)."""
    if certificate is None:
        return True
    context = ssl.create_default_context()
    certificate.configure_cert(context)
    return context


@pytest.mark.parametrize(("kind", "anyio_backend"), TLS_CLIENTS)
async def test_mutual_tls_needs_a_certificate_from_the_client_ca(kind: str) -> None:
    """A client that shows no certificate, or one the host's authority did
    not issue, fails (the server closes the connection during or right after
    its handshake); one that shows the right certificate is answered, and
    the record names the certificate's subject."""
    async with aiointercept(mock_external_urls=True) as m:
        m.tls("api.example.com", client_ca=CLIENT_CA.cert_pem.bytes())
        route = m.get(URL_, body="welcome, alice", repeat=True)
        for certificate in (None, MALLORY):
            async with open_client(kind, verify=showing(certificate)) as client:
                with anyio.fail_after(BOUND), pytest.raises(client.closed_error):
                    await client.get(URL_)
        assert route.call_count == 0
        async with open_client(kind, verify=showing(ALICE)) as client:
            assert await client.text(URL_) == "welcome, alice"
    (request,) = m.requests[("GET", URL(URL_))]
    assert request.client_cert_subject == "CN=alice,OU=Payments,O=Example"
    assert m.unmatched == []


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_without_mutual_tls_no_subject_is_recorded() -> None:
    """A client certificate the host did not ask for is not sent (nor
    recorded)."""
    async with (
        aiointercept(mock_external_urls=True) as m,
        open_client("httpx-async", verify=showing(ALICE)) as client,
    ):
        m.get(URL_, body="no questions")
        assert await client.text(URL_) == "no questions"
    assert m.requests[("GET", URL(URL_))][0].client_cert_subject is None


# == the certificate authority and the certificates ===================================


async def test_ca_pem_verifies_the_certificate_the_mock_shows() -> None:
    """A context that trusts ``m.ca_pem`` (as a program given it would make
    one) gets the answer; the certificate shown is issued by that authority,
    checked apart from any TLS library."""
    async with aiointercept(mock_external_urls=True) as m:
        m.get(URL_, body="trusted")
        ca_pem = m.ca_pem

        def fetch() -> tuple[bytes, bytes]:
            context = ssl.create_default_context(cadata=ca_pem)
            connection = http.client.HTTPSConnection(
                "api.example.com", context=context, timeout=BOUND
            )
            try:
                connection.request("GET", "/account")
                body = connection.getresponse().read()
                assert isinstance(connection.sock, ssl.SSLSocket)
                der = connection.sock.getpeercert(binary_form=True)
            finally:
                connection.close()
            assert der is not None
            return body, der

        body, der = await anyio.to_thread.run_sync(fetch)
    assert body == b"trusted"
    assert ca_pem.startswith("-----BEGIN CERTIFICATE-----")
    authority = x509.load_pem_x509_certificate(ca_pem.encode())
    constraints = authority.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.value.ca
    x509.load_der_x509_certificate(der).verify_directly_issued_by(authority)
    assert aiointercept(mock_external_urls=True).ca_pem == ca_pem  # one per process


async def tls_exchange(
    host: str, port: int, *, alpn: list[str] | None = None
) -> tuple[dict[str, Any], str | None, bytes]:
    """Connect to ``host`` with anyio's TLS (``SSLContext.wrap_bio``) and GET
    ``/``: the certificate the server showed, the application protocol
    chosen, and the start of the response."""
    context = ssl.create_default_context()
    if alpn is not None:
        context.set_alpn_protocols(alpn)
    with anyio.fail_after(BOUND):
        async with await anyio.connect_tcp(
            host, port, tls=True, ssl_context=context, tls_hostname=host
        ) as stream:
            certificate = stream.extra(TLSAttribute.peer_certificate)
            protocol = stream.extra(TLSAttribute.alpn_protocol)
            await stream.send(
                f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            response = b""
            with contextlib.suppress(anyio.EndOfStream):
                while True:  # to the end: the server closes the connection
                    response += await stream.receive()
    assert certificate is not None
    return certificate, protocol, response


@pytest.mark.parametrize(
    ("host", "port", "name"),
    [
        ("api.example.com", 443, ("DNS", "api.example.com")),
        ("internal.example.com", 8443, ("DNS", "internal.example.com")),
        ("xn--bcher-kva.example", 443, ("DNS", "xn--bcher-kva.example")),
        ("192.0.2.10", 443, ("IP Address", "192.0.2.10")),
    ],
)
async def test_the_certificate_names_the_host_asked_for(
    host: str, port: int, name: tuple[str, str]
) -> None:
    async with aiointercept(mock_external_urls=True) as m:
        m.get(f"https://{host}:{port}/", body="named")
        certificate, _, response = await tls_exchange(host, port)
    assert certificate["subjectAltName"] == (name,)
    assert response.startswith(b"HTTP/1.1 200")
    assert m.call_count == 1


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [(["h2", "http/1.1"], "http/1.1"), (["http/1.1"], "http/1.1"), (None, None)],
)
async def test_alpn_chooses_http_1_1(offered: list[str] | None, chosen: str) -> None:
    """The mock speaks HTTP/1.1: a client that offers h2 and http/1.1 gets
    http/1.1, one that offers nothing gets no protocol chosen."""
    async with aiointercept(mock_external_urls=True) as m:
        m.get("https://api.example.com/", body="1.1")
        _, protocol, response = await tls_exchange("api.example.com", 443, alpn=offered)
    assert protocol == chosen
    assert response.startswith(b"HTTP/1.1 200")


# == bad input =======================================================================


def test_an_unknown_fault_is_refused_with_the_choices() -> None:
    m = aiointercept(mock_external_urls=True)
    with pytest.raises(ValueError, match="'slow'") as caught:
        m.tls("api.example.com", fault="slow")  # type: ignore[arg-type]
    for fault in FAULTS:
        assert repr(fault) in str(caught.value)


@pytest.mark.parametrize(
    "client_ca",
    ["not a certificate", CLIENT_CA.cert_pem.bytes()[:-60], b"\x30\x82\xff\xfe"],
    ids=["text", "truncated", "binary"],
)
def test_client_ca_must_be_a_pem_certificate(client_ca: str | bytes) -> None:
    m = aiointercept(mock_external_urls=True)
    with pytest.raises(ValueError, match="client_ca"):
        m.tls("api.example.com", client_ca=client_ca)


def test_client_ca_of_another_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="client_ca"):
        aiointercept(mock_external_urls=True).tls("api.example.com", client_ca=42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "host", ["http://api.example.com", "http://api.example.com:8080", "", "https://"]
)
def test_the_host_must_be_a_name_or_an_https_url(host: str) -> None:
    m = aiointercept(mock_external_urls=True)
    with pytest.raises(ValueError, match="host must be"):
        m.tls(host, fault="expired")
