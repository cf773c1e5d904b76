"""The process's certificate authority, and the TLS contexts made from it.

Inside a ``mock_external_urls=True`` block an intercepted ``https`` request is
a real TLS handshake with the block's server: the server shows a certificate
for the host the client asked for, issued by a certificate authority made for
this process, whose key never leaves memory. The clients trust it because the
interception adds it to their SSL context the first time that context wraps a
connection to an intercepted host (see ``_adapters._ssl``).

Everything here is made on first use, so a process that never intercepts an
``https`` request never imports trustme (an optional dependency) nor creates a
key. Host certificates and server contexts are kept for the process: a host's
first handshake pays for its key, every later one reuses it.
"""

from __future__ import annotations

import datetime
import importlib.util
import ssl
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    import trustme

__all__ = [
    "ALPN",
    "TLS_FAULTS",
    "Authority",
    "TlsFault",
    "TlsSettings",
    "authority",
    "check_client_ca",
    "check_tls_fault",
    "subject_of",
    "trust",
    "unavailable",
]

#: How a host's TLS handshake misbehaves, on purpose:
#:
#: ``"untrusted"``
#:     its certificate is issued by a certificate authority nobody trusts;
#: ``"wrong_host"``
#:     its certificate names another host;
#: ``"expired"``
#:     its certificate expired yesterday;
#: ``"refused"``
#:     the server answers the client's hello with a ``handshake_failure``
#:     alert and closes the connection.
TlsFault = Literal["untrusted", "wrong_host", "expired", "refused"]
TLS_FAULTS: tuple[str, ...] = get_args(TlsFault)

#: The only application protocol offered: the mock speaks HTTP/1.1.
ALPN = ["http/1.1"]

#: The host name of the certificate shown for ``"wrong_host"``.
_WRONG_HOST = "wrong-host.aiointercept.invalid"

#: What a server sends to refuse a handshake: a fatal ``handshake_failure``
#: alert record (TLS 1.2 framing, which TLS 1.3 clients accept too).
REFUSAL_ALERT = b"\x15\x03\x03\x00\x02\x02\x28"


def unavailable() -> str | None:
    """Why intercepted ``https`` cannot work in this environment, or ``None``."""
    if importlib.util.find_spec("trustme") is None:
        return (
            "intercepting https needs trustme, which makes the certificates "
            "the mock shows: pip install 'aiointercept[tls]'"
        )
    return None


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """What :meth:`aiointercept.tls` set for one host."""

    #: A misbehaviour of the handshake (see :data:`TlsFault`), or ``None``.
    fault: TlsFault | None = None
    #: The PEM of the certificate authority whose client certificates the
    #: host requires (mutual TLS), or ``None`` for no client certificate.
    client_ca: str | None = None


def check_tls_fault(fault: object) -> TlsFault | None:
    """``fault`` when it is ``None`` or a :data:`TlsFault`; else a
    :exc:`ValueError` that lists the choices."""
    if fault is None or fault in TLS_FAULTS:
        return fault  # type: ignore[return-value]
    choices = ", ".join(repr(name) for name in TLS_FAULTS)
    raise ValueError(f"fault must be None or one of {choices}, got {fault!r}")


def check_client_ca(client_ca: object) -> str | None:
    """The PEM text of ``client_ca`` (PEM ``str`` or ``bytes``), checked by
    loading it into a context; a :exc:`ValueError` names what is wrong."""
    if client_ca is None:
        return None
    if isinstance(client_ca, bytes):
        try:
            client_ca = client_ca.decode("ascii")
        except UnicodeDecodeError:
            raise ValueError(
                "client_ca must be a PEM certificate (text), got binary bytes"
            ) from None
    if not isinstance(client_ca, str):
        raise TypeError(
            "client_ca must be the PEM text of a certificate authority (str or "
            f"bytes), got {type(client_ca).__name__}"
        )
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cadata=client_ca)
    except (ssl.SSLError, ValueError) as exc:
        shown = client_ca if len(client_ca) <= 40 else client_ca[:37] + "..."
        raise ValueError(
            f"client_ca is not a PEM certificate ({exc}): {shown!r}"
        ) from None
    return client_ca


class Authority:
    """The certificate authority of the process, and the server contexts of
    the hosts it has issued certificates for."""

    def __init__(self) -> None:
        import trustme

        self._trustme = trustme
        self._ca = trustme.CA(organization_name="aiointercept")
        #: Issues the certificates of ``"untrusted"``; trusted by nobody.
        self._stranger: trustme.CA | None = None
        self.pem: str = self._ca.cert_pem.bytes().decode("ascii")
        self._contexts: dict[tuple[str, TlsSettings], ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def server_context(
        self,
        host: str,
        settings: TlsSettings | None = None,
        settings_for: Callable[[str], TlsSettings | None] | None = None,
    ) -> ssl.SSLContext:
        """The server context for ``host`` (a name or an IP address) with
        ``settings`` (a fault, mutual TLS), made on first use. A client that
        names another host in its hello (SNI) gets that host's, with the
        settings ``settings_for`` gives it."""
        key = (host.lower(), settings or _PLAIN)
        context = self._contexts.get(key)
        if context is None:
            with self._lock:
                context = self._contexts.get(key)
                if context is None:
                    context = self._new_context(*key)
                    context.sni_callback = self._picker(
                        key[0], settings_for or _no_settings
                    )
                    self._contexts[key] = context
        return context

    def sni_context(
        self, settings_for: Callable[[str], TlsSettings | None]
    ) -> ssl.SSLContext:
        """A server context that picks each connection's certificate by the
        name the client sends (SNI), for connections whose host is not known
        beforehand."""
        return self.server_context(_WRONG_HOST, None, settings_for)

    def _picker(
        self, host: str, settings_for: Callable[[str], TlsSettings | None]
    ) -> Callable[[ssl.SSLObject, str | None, ssl.SSLContext], int | None]:
        """The SNI callback of ``host``'s contexts: a client that names
        another host (it connected to an address: a loopback one, say) gets
        that host's certificate."""
        authority = weakref.proxy(self)

        def pick(
            sslobj: ssl.SSLObject, name: str | None, _: ssl.SSLContext
        ) -> int | None:
            if not name or name.lower() == host:
                return None
            settings = settings_for(name)
            if settings is not None and settings.fault == "refused":
                return ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE
            sslobj.context = authority.server_context(name, settings, settings_for)
            return None

        return pick

    def _new_context(self, host: str, settings: TlsSettings) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # no TLS 1.3 session tickets: the standard library's clients never
        # resume a session unless told to, and making two tickets after each
        # handshake, and reading them on the client's side, costs about a
        # twentieth of a new connection
        context.num_tickets = 0
        context.set_alpn_protocols(ALPN)
        self._certificate(host, settings.fault).configure_cert(context)
        if settings.client_ca is not None:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cadata=settings.client_ca)
        return context

    def _certificate(self, host: str, fault: TlsFault | None) -> trustme.LeafCert:
        if fault == "untrusted":
            if self._stranger is None:
                self._stranger = self._trustme.CA(organization_name="not trusted")
            return self._stranger.issue_cert(host)
        if fault == "wrong_host":
            return self._ca.issue_cert(_WRONG_HOST)
        if fault == "expired":
            now = datetime.datetime.now(datetime.timezone.utc)
            return self._ca.issue_cert(
                host,
                not_before=now - datetime.timedelta(days=30),
                not_after=now - datetime.timedelta(days=1),
            )
        return self._ca.issue_cert(host)


_PLAIN = TlsSettings()


def _no_settings(host: str) -> None:
    return None


_authority: Authority | None = None
_authority_lock = threading.Lock()


def authority() -> Authority:
    """The certificate authority of the process, made on first use (raises
    :exc:`RuntimeError` when trustme is not installed)."""
    global _authority
    if _authority is None:
        problem = unavailable()
        if problem is not None:
            raise RuntimeError(problem)
        with _authority_lock:
            if _authority is None:
                _authority = Authority()
    return _authority


def subject_of(der: bytes) -> str:
    """The subject of a DER certificate, as RFC 4514 text
    (``"CN=alice,O=Example"``)."""
    from cryptography import x509

    return x509.load_der_x509_certificate(der).subject.rfc4514_string()


#: The client contexts the authority has been added to.
_trusting: weakref.WeakSet[ssl.SSLContext] = weakref.WeakSet()


def trust(context: ssl.SSLContext) -> None:
    """Make ``context`` (a client's) trust the process's certificate
    authority, once; it keeps trusting it for the rest of the process, as a
    context cannot forget a certificate authority."""
    if context in _trusting:
        return
    if unavailable() is None:
        context.load_verify_locations(cadata=authority().pem)
    _trusting.add(context)
