"""URL normalization shared by routes and the request journal."""

from __future__ import annotations

from yarl import URL

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def normalize_url(url: URL | str) -> URL:
    """Return the canonical form used to match and record requests.

    The fragment is dropped (it never reaches a server), the query parameters are
    sorted by name then value (duplicates are kept) and an empty path becomes
    ``/``. A default port given explicitly (``:443`` for https) is dropped; yarl already
    lower-cases the scheme and host. The percent-encoding is made canonical, as
    yarl does for a URL given as a string, so that a URL received as raw bytes
    (``/%7euser``) and one registered as text (``/~user``) compare alike.
    """
    url = URL(str(url))
    query = url.query
    base = url.with_query(None).with_fragment(None)
    if base.explicit_port is not None and base.explicit_port == _DEFAULT_PORTS.get(
        base.scheme
    ):
        base = base.with_port(None)
    if base.absolute and base.raw_path == "/":
        base = base.with_path("/")
    if query:
        return base.with_query(sorted(query.items()))
    return base
