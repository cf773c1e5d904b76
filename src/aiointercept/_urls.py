"""URL normalization shared by routes and the request journal."""

from __future__ import annotations

import re

from yarl import URL

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
#: A path that every encoding leaves as it is.
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9._~/\-]*")
_PLAIN_HOST = re.compile(r"[a-z0-9.\-]+")


def normalize_url(url: URL | str) -> URL:
    """Return the canonical form used to match and record requests.

    The fragment is dropped (it never reaches a server), the query parameters are
    sorted by name then value (duplicates are kept) and an empty path becomes
    ``/``. A default port given explicitly (``:443`` for https) is dropped, and so
    is the trailing dot of a fully qualified host (``api.test.``); yarl already
    lower-cases the scheme and host. The percent-encoding is made canonical, as
    yarl does for a URL given as a string, so that a URL received as raw bytes
    (``/%7euser``) and one registered as text (``/~user``) compare alike.
    """
    if (
        isinstance(url, URL)
        and not url.raw_query_string
        and not url.raw_fragment
        and url.raw_user is None
        and url.raw_host is not None
        and _PLAIN_HOST.fullmatch(url.raw_host)
        and not url.raw_host.endswith(".")
        and url.raw_path != "/"  # "http://h" and "http://h/" differ as text
        and _PLAIN_PATH.fullmatch(url.raw_path)
        and "/." not in url.raw_path  # dot segments are resolved
        and url.explicit_port != _DEFAULT_PORTS.get(url.scheme)
    ):
        return url  # already canonical: the common case of a received request
    url = URL(str(url))
    query = url.query
    base = url.with_query(None).with_fragment(None)
    if base.explicit_port is not None and base.explicit_port == _DEFAULT_PORTS.get(
        base.scheme
    ):
        base = base.with_port(None)
    host = base.raw_host
    if host and host.endswith(".") and host.rstrip("."):
        # "api.test." is the fully qualified "api.test": one host
        base = base.with_host(host.rstrip("."))
    if base.absolute and base.raw_path == "/":
        base = base.with_path("/")
    if query:
        return base.with_query(sorted(query.items()))
    return base
