"""What a program outside the process needs to send its requests to a block:
the proxy variables, and the files that make it trust the process's
certificate authority (see :meth:`aiointercept.aiointercept.proxy_env`).

The variables that replace a trust store (``SSL_CERT_FILE`` and the like) name
a bundle of the system's certificate authorities plus the process's, so that
real TLS (a passthrough host, a recording's upstream) keeps working in the
child; ``NODE_EXTRA_CA_CERTS``, which adds to Node's own, names the process's
alone. Both files are written once per block, on first use, and removed when
the block ends.
"""

from __future__ import annotations

import os
import shutil
import ssl
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path

from ._tls import authority, unavailable

__all__ = ["LOOPBACK", "PROXY_VARIABLES", "TRUST_VARIABLES", "ChildFiles", "proxy_env"]

#: The variables that name the proxy, each in upper and lower case (curl
#: reads only ``http_proxy`` in lower case).
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")

#: The variables that replace a program's trust store with a bundle file.
TRUST_VARIABLES = (
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "GIT_SSL_CAINFO",
)

#: What ``NO_PROXY`` lists: loopback, where ``m.server_url`` and the test's own
#: local servers listen.
LOOPBACK = "localhost,127.0.0.1,::1"

#: Where systems keep their bundle of certificate authorities, when Python's
#: OpenSSL does not say (Debian, Fedora, macOS, Homebrew, Alpine).
_KNOWN_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
    "/usr/local/etc/openssl/cert.pem",
    "/etc/ssl/ca-bundle.pem",
)


class ChildFiles:
    """The trust files of one block, written on first use."""

    def __init__(self) -> None:
        self._directory: Path | None = None

    def paths(self) -> tuple[Path, Path]:
        """The bundle (the system's authorities plus the process's) and the
        file of the process's authority alone."""
        directory = self._directory
        if directory is None:
            directory = Path(tempfile.mkdtemp(prefix="aiointercept-"))
            try:
                ca_pem = authority().pem
                system = system_bundle()
                (directory / "ca.pem").write_text(ca_pem)
                bundle = system.read_text() if system is not None else ""
                if bundle and not bundle.endswith("\n"):
                    bundle += "\n"
                (directory / "bundle.pem").write_text(bundle + ca_pem)
            except BaseException:
                shutil.rmtree(directory, ignore_errors=True)
                raise
            self._directory = directory
        return directory / "bundle.pem", directory / "ca.pem"

    def remove(self) -> None:
        """The block ends: remove the files."""
        directory, self._directory = self._directory, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


def system_bundle() -> Path | None:
    """The bundle of certificate authorities that programs on this machine
    trust: the one ``SSL_CERT_FILE`` names, OpenSSL's, a system's usual one,
    or certifi's; ``None`` when there is none."""
    defaults = ssl.get_default_verify_paths()
    candidates = [
        os.environ.get("SSL_CERT_FILE"),
        defaults.cafile,
        defaults.openssl_cafile,
        *_KNOWN_BUNDLES,
    ]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate):
            return Path(candidate)
    try:
        import certifi
    except ImportError:
        return None
    return Path(certifi.where())


def proxy_env(
    proxy_url: str, files: ChildFiles, base: Mapping[str, str]
) -> dict[str, str]:
    """``base`` with the variables that send a child's requests through the
    proxy at ``proxy_url`` and make it trust the process's authority."""
    env = dict(base)
    for name in PROXY_VARIABLES:
        env[name] = env[name.lower()] = proxy_url
    env["NO_PROXY"] = env["no_proxy"] = LOOPBACK
    env["NODE_USE_ENV_PROXY"] = "1"
    problem = unavailable()
    if problem is not None:
        warnings.warn(
            f"proxy_env() sets no certificate authority for https: {problem}",
            UserWarning,
            stacklevel=3,
        )
        return env
    bundle, ca = files.paths()
    for name in TRUST_VARIABLES:
        env[name] = str(bundle)
    env["NODE_EXTRA_CA_CERTS"] = str(ca)
    return env
