"""URL normalization shared by routes and the request journal."""

from __future__ import annotations

from yarl import URL


def normalize_url(url: URL | str) -> URL:
    """Return the canonical form used to match and record requests.

    The fragment is dropped (it never reaches a server), the query parameters are
    sorted by name then value (duplicates are kept) and an empty path becomes
    ``/``. yarl already lower-cases the scheme and host and drops default ports.
    """
    url = URL(url)
    query = url.query
    base = url.with_query(None).with_fragment(None)
    if base.absolute and base.raw_path == "/":
        base = base.with_path("/")
    if query:
        return base.with_query(sorted(query.items()))
    return base
