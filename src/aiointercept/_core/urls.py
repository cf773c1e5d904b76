"""URL normalization shared by routes and the request journal."""

from __future__ import annotations

import re

from yarl import URL

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
#: A path that every encoding leaves as it is.
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9._~/\-]*")
_PLAIN_HOST = re.compile(r"[a-z0-9.\-]+")
#: An http(s) URL as text, split into its scheme and authority (a plain
#: host, perhaps a port) and a plain path.
_PLAIN_ABSOLUTE = re.compile(
    r"(https?://[a-z0-9.\-]+(?::[0-9]{1,5})?)(/[A-Za-z0-9._~/\-]*)"
)


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
        and is_canonical_path(url.raw_path)
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


def is_canonical_path(path: str) -> bool:
    """Whether :func:`normalize_url` leaves the path ``path`` of a URL as it
    is, when the rest of the URL is canonical: it uses only characters that
    no encoding changes and has no dot segment, and it is not ``/`` alone
    (``http://h`` and ``http://h/`` differ as text)."""
    return path != "/" and "/." not in path and _PLAIN_PATH.fullmatch(path) is not None


def plain_url(text: str, server_url: str | None) -> URL | None:
    """The normalized URL for ``text`` when the text is already canonical, so
    that no parsing or normalizing is needed; ``None`` when
    :func:`normalize_url` must decide (or report the mistake).

    ``text`` is an absolute http(s) URL with a plain lower-case host, or a
    path relative to ``server_url`` (``None`` outside a block); its path uses
    only characters that no encoding changes and has no dot segment and no
    empty segment; it has no query and no fragment.
    """
    if text[:1] == "/":
        if server_url is None:
            return None
        prefix, path = server_url, text
    elif server_url is not None and text.startswith(server_url + "/"):
        prefix, path = server_url, text[len(server_url) :]  # the common case
    else:
        match = _PLAIN_ABSOLUTE.fullmatch(text)
        if match is None:
            return None
        prefix, path = match.group(1, 2)
    if prefix is server_url and not _PLAIN_PATH.fullmatch(path):
        return None
    if "/." in path or "//" in path:
        return None
    base = _canonical_base(prefix)
    if base is None:
        return None
    return base.with_path(path, encoded=True)


def known_base(prefix: str, base: URL) -> None:
    """``base`` is the normalized URL of ``prefix``, a ``scheme://authority``
    that normalizing leaves as it is: a block's own address, built from its
    parts (so :func:`plain_url` need not parse it; a registration of each
    block's first route would, since each block has a port of its own)."""
    if base.explicit_port != _DEFAULT_PORTS.get(base.scheme):  # else not canonical
        _remember(prefix, base)


def _canonical_base(prefix: str) -> URL | None:
    """``scheme://authority`` as a normalized URL, when normalizing leaves the
    text as it is; else ``None``.

    The prefix has no user, query or fragment (see :func:`plain_url`), so of
    :func:`normalize_url`'s rules only two could change it: a default port
    given explicitly, and a trailing dot; every other difference shows in
    the text that yarl gives back."""
    try:
        return _BASES[prefix]
    except KeyError:
        pass
    try:
        base: URL | None = URL(prefix + "/")
    except (TypeError, ValueError):  # reported by the general path
        base = None
    if base is not None and (
        base.explicit_port == _DEFAULT_PORTS.get(base.scheme)
        or (base.raw_host or "").endswith(".")
        or str(base) != prefix + "/"
    ):
        base = None
    _remember(prefix, base)
    return base


#: What :func:`_canonical_base` answered, by prefix (any thread: each
#: operation on a dict is atomic).
_BASES: dict[str, URL | None] = {}
#: How many answers are kept: when full, it starts afresh.
_MAX_BASES = 256


def _remember(prefix: str, base: URL | None) -> None:
    if len(_BASES) >= _MAX_BASES:
        _BASES.clear()
    _BASES[prefix] = base
