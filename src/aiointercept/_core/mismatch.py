"""Why a request does not fit: :class:`Mismatch`, and previews for reading it.

A :class:`Mismatch` names what differs (the method, the host, a header...)
and renders the expected and actual values for a diff or a one-line summary;
its weight ranks the routes closest to a request first. Here too are the
mismatches of a request's method and URL, which every route checks, and the
short previews of bodies and values that reports show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from yarl import URL

__all__ = [
    "Mismatch",
    "method_mismatches",
    "one_line",
    "preview_body",
    "url_mismatches",
]

#: How many characters of a value a one-line summary shows.
_SUMMARY_LIMIT = 80
#: How many bytes of a body a preview shows.
PREVIEW_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Mismatch:
    """Why a request does not fit one condition.

    ``expected`` and ``actual`` are readable renderings (possibly several lines,
    such as indented JSON) used for diffs; a mismatch without them, such as
    "exhausted after 2 calls", is described by ``what`` alone.
    """

    #: What differs: ``"method"``, ``"path"``, ``"header 'X-Token'"`` ...
    what: str
    expected: str = ""
    actual: str = ""
    #: How far apart this puts a request and a route: a different host weighs
    #: more than a different query. Used to sort the closest routes first.
    weight: int = 1
    #: A shorter "expected ..., got ..." for the one-line summary, if any.
    brief: str = ""

    @property
    def summary(self) -> str:
        """One line: ``"path: expected '/users', got '/user'"``."""
        if self.brief:
            return f"{self.what}: {self.brief}"
        if not self.expected and not self.actual:
            return self.what
        return (
            f"{self.what}: expected {one_line(self.expected)}, "
            f"got {one_line(self.actual)}"
        )


def one_line(text: str) -> str:
    line = " ".join(part.strip() for part in text.splitlines())
    if len(line) > _SUMMARY_LIMIT:
        line = line[: _SUMMARY_LIMIT - 1] + "…"
    return line


def preview_body(body: bytes, limit: int = PREVIEW_LIMIT) -> str:
    """A short, printable rendering of a request body."""
    if not body:
        return "(empty)"
    shown = body[:limit]
    try:
        text: object = shown.decode("utf-8")
    except UnicodeDecodeError:
        text = shown
    rendered = repr(text)
    if len(body) > limit:
        rendered += f"… ({len(body)} bytes)"
    return rendered


# -- method and URL --------------------------------------------------------------------


def method_mismatches(expected: str, actual: str) -> list[Mismatch]:
    if expected == actual:
        return []
    return [Mismatch("method", expected, actual, weight=2)]


def url_mismatches(
    expected: URL | re.Pattern[str], actual: URL, *, ignore_query: bool = False
) -> list[Mismatch]:
    """How the normalized URL ``actual`` differs from a route's URL."""
    if isinstance(expected, re.Pattern):
        if expected.match(str(actual)):
            return []
        return [
            Mismatch(
                f"url {str(actual)!r} does not match the pattern {expected.pattern!r}",
                weight=3,
            )
        ]
    mismatches = []
    if expected.origin() != actual.origin():
        mismatches.append(
            Mismatch("host", _origin(expected), _origin(actual), weight=4)
        )
    if expected.path != actual.path:
        mismatches.append(Mismatch("path", expected.path, actual.path, weight=3))
    if not ignore_query and list(expected.query.items()) != list(actual.query.items()):
        mismatches.append(
            Mismatch(
                "query",
                expected.query_string or "(none)",
                actual.query_string or "(none)",
            )
        )
    return mismatches


def _origin(url: URL) -> str:
    """Scheme, host and port as written (a default port written out shows)."""
    return f"{url.scheme}://{url.raw_authority.rpartition('@')[2]}"
