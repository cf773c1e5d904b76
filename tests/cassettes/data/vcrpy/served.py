"""What the upstream of ``make.py`` serves, and what each client sends it:
the one list that the generator records from and that
``tests/cassettes/test_vcrpy_releases.py`` checks the replays against.

Standard library only: ``make.py`` imports it (as ``served``, beside it) in a
virtual environment that has vcrpy and old clients, not aiointercept.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

#: The host every cassette names; ``make.py`` resolves it to its own server.
HOST = "api.example.test"
ORIGIN = f"http://{HOST}"

#: A fixed ``Server`` and ``Date``, so that a cassette does not say where or
#: when it was recorded, and recording again writes the same file.
SERVER = "upstream/1.0"
DATE = "Mon, 01 Jan 2024 00:00:00 GMT"

ITEMS = json.dumps([{"id": 1, "name": "caf\u00e9"}]).encode()
#: Query parameters with characters that need quoting: space, ``&``, ``=``,
#: ``/``, ``?``, ``+``, ``#``, ``%`` and non-ASCII.
PARAMS = [("q", "caf\u00e9 & cr\u00e8me"), ("path", "/a/b?c=d#e"), ("sum", "1+1=2%")]
JSON_BODY = {"name": "new", "tags": ["a", "\u00e9"]}
FORM = [("name", "a b"), ("note", "\u00e9&=+")]
#: Bytes that are not UTF-8.
BINARY = bytes(range(256))[::-1]
GZIP_TEXT = b"a compressed answer. " * 40
LARGE = "".join(f"line {number:05d} of a large body\n" for number in range(400))


def form_body() -> bytes:
    """:data:`FORM` as a client sends it (``application/x-www-form-urlencoded``)."""
    return urlencode(FORM).encode()


@dataclass(frozen=True)
class Answer:
    """A response of the upstream: what the client reads (``body`` decoded
    from any ``coding``)."""

    status: int
    reason: str
    content_type: str | None = None
    body: bytes = b""
    cookies: tuple[str, ...] = ()
    location: str | None = None
    #: ``"gzip"``: the body is sent compressed.
    coding: str | None = None
    chunked: bool = False

    def wire_body(self) -> bytes:
        """The body as it is sent (compressed, not yet chunked)."""
        if self.coding == "gzip":
            return gzip.compress(self.body, mtime=0)
        return self.body


@dataclass(frozen=True)
class Exchange:
    """One request a client sends, and the answer it reads in the end (after
    any redirect)."""

    name: str
    method: str
    path: str
    answer: Answer
    params: list[tuple[str, str]] = field(default_factory=list)
    json: Any = None
    form: list[tuple[str, str]] = field(default_factory=list)
    #: The redirects answered before ``answer``: (status, reason, Location).
    redirects: tuple[tuple[int, str, str], ...] = ()

    @property
    def url(self) -> str:
        """The URL, its query encoded as ``urllib.parse.urlencode`` does."""
        query = f"?{urlencode(self.params)}" if self.params else ""
        return f"{ORIGIN}{self.path}{query}"


JSON = "application/json"
TEXT = "text/plain; charset=utf-8"

EXCHANGES = [
    Exchange("get-json", "GET", "/items", Answer(200, "OK", JSON, ITEMS)),
    Exchange(
        "query",
        "GET",
        "/search",
        Answer(200, "OK", JSON, json.dumps(sorted(PARAMS)).encode()),
        params=PARAMS,
    ),
    Exchange(
        "post-json",
        "POST",
        "/items",
        Answer(201, "Created", JSON, b'{"id": 2}'),
        json=JSON_BODY,
    ),
    Exchange(
        "post-form",
        "POST",
        "/form",
        Answer(200, "OK", TEXT, b"form received"),
        form=FORM,
    ),
    Exchange(
        "binary",
        "GET",
        "/binary",
        Answer(200, "OK", "application/octet-stream", BINARY),
    ),
    Exchange(
        "gzip",
        "GET",
        "/gzip",
        Answer(200, "OK", TEXT, GZIP_TEXT, coding="gzip"),
    ),
    Exchange(
        "gzip-chunked",
        "GET",
        "/gzip-chunked",
        Answer(200, "OK", TEXT, GZIP_TEXT, coding="gzip", chunked=True),
    ),
    Exchange(
        "redirect",
        "GET",
        "/old",
        Answer(200, "OK", TEXT, b"moved here"),
        redirects=((302, "Found", "/new"),),
    ),
    Exchange(
        "not-found",
        "GET",
        "/missing",
        Answer(404, "No Such Thing", TEXT, b"nothing here"),
    ),
    Exchange(
        "cookies",
        "GET",
        "/cookies",
        Answer(
            200,
            "OK",
            TEXT,
            b"cookies set",
            cookies=("session=abc123; Path=/; HttpOnly", "theme=dark; Path=/"),
        ),
    ),
    Exchange("no-content", "DELETE", "/items/1", Answer(204, "No Content")),
    Exchange("head", "HEAD", "/items", Answer(200, "OK", JSON, b"")),
    Exchange("large", "GET", "/large", Answer(200, "OK", TEXT, LARGE.encode())),
]


def answer_for(method: str, path: str, query: str, body: bytes) -> Answer:
    """The upstream's answer to a request: the one :data:`EXCHANGES` expects,
    or a ``400`` that says what was not as expected."""
    for exchange in EXCHANGES:
        hops = [exchange.path] + [location for _, _, location in exchange.redirects]
        if path not in hops or method != exchange.method:
            continue
        if path != hops[-1]:
            status, reason, location = exchange.redirects[hops.index(path)]
            return Answer(status, reason, TEXT, b"", location=location)
        problem = None
        if exchange.params and parse_qsl(query) != exchange.params:
            problem = f"query {query!r}"
        elif exchange.json is not None and json.loads(body) != exchange.json:
            problem = f"JSON body {body!r}"
        elif exchange.form and parse_qsl(body.decode()) != exchange.form:
            problem = f"form body {body!r}"
        if problem is not None:
            return Answer(400, "Bad Request", TEXT, f"unexpected {problem}".encode())
        if exchange.name == "head":
            return Answer(200, "OK", JSON, ITEMS)  # the server sends no body
        return exchange.answer
    return Answer(400, "Bad Request", TEXT, f"unexpected {method} {path}".encode())
