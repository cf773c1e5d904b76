"""Where a running block's server listens, as ``m.server`` gives it."""

from __future__ import annotations

from dataclasses import dataclass

from yarl import URL

__all__ = ["ServerAddress"]


@dataclass(frozen=True, slots=True)
class ServerAddress:
    """Where a running block's server listens: :attr:`aiointercept.server`.

    The server speaks plain HTTP on the loopback interface. Two addresses
    compare equal when they have the same host and port.
    """

    #: The server's IP address, ``"127.0.0.1"``.
    host: str
    #: The port the operating system chose for the block.
    port: int

    @property
    def scheme(self) -> str:
        """``"http"``: the server speaks plain HTTP."""
        return "http"

    @property
    def url(self) -> str:
        """The base URL, such as ``"http://127.0.0.1:54321"``: the block's
        :attr:`~aiointercept.server_url`."""
        return f"http://{self.host}:{self.port}"

    def make_url(self, path: str) -> URL:
        """The absolute URL of ``path`` (such as ``"/users?page=2"``) on this
        server."""
        if not isinstance(path, str):
            raise TypeError(f"path must be a str, got {path!r}")
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path!r}")
        return URL(self.url + path)
