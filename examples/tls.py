"""Real TLS for hard-coded https URLs: httpx2 and urllib.request, under trio.

Run with ``python examples/tls.py`` (needs ``pip install
"aiointercept[trio,tls]" httpx2``); it exits non-zero if anything differs
from what the comments say. Nothing leaves the machine: every host is
answered by the mock, with a certificate for that host.
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request

import httpx2
import trio
import trustme

from aiointercept import aiointercept


def ssl_error(exc: BaseException | None) -> ssl.SSLError | None:
    """The :exc:`ssl.SSLError` under a client's error (trio wraps it)."""
    while exc is not None and not isinstance(exc, ssl.SSLError):
        exc = exc.__cause__ or exc.__context__
    return exc


async def main() -> None:
    # [tls]
    async with aiointercept(mock_external_urls=True) as m:
        m.get("https://api.example.com/status", payload={"ok": True}, repeat=True)

        # httpx2 checks the certificate with its own default settings: the
        # mock's certificate authority is trusted without configuration
        async with httpx2.AsyncClient() as client:
            response = await client.get("https://api.example.com/status")
        assert response.json() == {"ok": True}

        # so does the standard library, from a worker thread
        def fetch() -> bytes:
            with urllib.request.urlopen("https://api.example.com/status") as reply:
                body: bytes = reply.read()
                return body

        assert await trio.to_thread.run_sync(fetch) == b'{"ok": true}'

        # a TLS fault: the client raises its real certificate error
        m.get("https://expired.example.com/", body="never sent")
        m.tls("expired.example.com", fault="expired")
        async with httpx2.AsyncClient() as client:
            try:
                await client.get("https://expired.example.com/")
            except httpx2.ConnectError as exc:
                expired = "certificate has expired" in str(ssl_error(exc))
            else:  # pragma: no cover - the example checks what it shows
                expired = False
            assert expired, "an expired certificate must be refused"
    # [/tls]

    # [mtls]
    # the authority of your clients' certificates, and one client's
    clients = trustme.CA()
    alice = clients.issue_cert(
        "alice.example.com",
        common_name="alice",
        organization_name="Example",
        organization_unit_name="Payments",
    )
    context = ssl.create_default_context()
    alice.configure_cert(context)

    async with aiointercept(mock_external_urls=True) as m:
        m.get("https://bank.example.com/balance", payload={"balance": 12})
        m.tls("bank.example.com", client_ca=clients.cert_pem.bytes())

        def balance() -> bytes:
            url = "https://bank.example.com/balance"
            with urllib.request.urlopen(url, context=context) as reply:
                body: bytes = reply.read()
                return body

        assert await trio.to_thread.run_sync(balance) == b'{"balance": 12}'
        (request,) = m.requests.values()
        # the record shows who the client certificate says the client is
        assert request[0].client_cert_subject == "CN=alice,OU=Payments,O=Example"
    # [/mtls]


if __name__ == "__main__":
    trio.run(main)
    print("tls.py: all checks passed")
