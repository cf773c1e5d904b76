"""Diagnostics: requests, mismatches and closest routes described for a person.

Everything here works on lists of :class:`RecordedRequest` and on routes; it
reads no socket and needs no event loop. It renders a request in a few lines,
the differences from an expectation as a diff, and the recorded requests or
routes closest to an expectation, each with why it differs. It also builds the
report of a request no route answered (:class:`UnmatchedRequest`) and the
error of the strict checks (:func:`strict_failure`).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from aiointercept._errors import StrictCheckError

from .mismatch import Mismatch, preview_body

if TYPE_CHECKING:
    from yarl import URL

    from .handles import RegisteredRoute
    from .request import RecordedRequest
    from .routing import Route

__all__ = [
    "UnmatchedRequest",
    "describe_request",
    "list_requests",
    "list_similar",
    "n_calls",
    "render_diff",
    "strict_failure",
    "unmatched_request",
]

#: How many requests a failure message lists.
_LISTED = 10
#: How many similar requests a failure message suggests.
SIMILAR = 5
#: Headers every client sends, left out of request summaries.
_ROUTINE_HEADERS = frozenset(
    {"host", "user-agent", "accept-encoding", "connection", "content-length"}
)


# -- describing requests and how they differ -------------------------------------------


def describe_request(request: RecordedRequest, indent: str = "") -> str:
    """The method and URL, then the headers worth reading and a body preview."""
    lines = [f"{indent}{request.method} {request.url}"]
    headers = [
        f"{name}: {value}"
        for name, value in request.headers.items()
        if name.lower() not in _ROUTINE_HEADERS
        and not (name.lower() == "accept" and value == "*/*")
    ]
    if headers:
        lines.append(f"{indent}  headers: {'; '.join(headers)}")
    if request.captured_body:
        lines.append(f"{indent}  body: {preview_body(request.captured_body)}")
    return "\n".join(lines)


def list_requests(requests: Sequence[RecordedRequest]) -> str:
    lines = [describe_request(r, "  ") for r in requests[-_LISTED:]]
    if len(requests) > _LISTED:
        lines.insert(0, f"  ... {len(requests) - _LISTED} earlier requests not shown")
    return "\n".join(lines)


def n_calls(count: int) -> str:
    return "1 call" if count == 1 else f"{count} calls"


def render_diff(mismatches: Iterable[Mismatch], indent: str) -> str:
    """Each difference as ``- expected`` / ``+ actual`` lines."""
    lines = []
    for mismatch in mismatches:  # all of them have an expected and an actual
        lines.append(f"{indent}{mismatch.what}:")
        expected = mismatch.expected.splitlines() or [""]
        actual = mismatch.actual.splitlines() or [""]
        if len(expected) == 1 and len(actual) == 1:
            diff = [f"- {expected[0]}", f"+ {actual[0]}"]
        else:
            diff = [
                line.rstrip()
                for line in difflib.ndiff(expected, actual)
                if not line.startswith("? ")
            ]
        lines += [f"{indent}  {line}" for line in diff]
    return "\n".join(lines)


def _ranked(
    requests: Iterable[RecordedRequest],
    explain: Callable[[RecordedRequest], list[Mismatch]],
    limit: int = SIMILAR,
) -> list[tuple[RecordedRequest, list[Mismatch]]]:
    """The requests closest to an expectation, each with why it differs; the
    most recent of requests with the same method and URL stands for them all."""
    latest: dict[tuple[str, URL], tuple[int, RecordedRequest]] = {}
    for index, request in enumerate(requests):
        latest[request.key] = (index, request)
    scored = []
    for index, request in latest.values():
        reasons = explain(request)
        scored.append((sum(m.weight for m in reasons), -index, request, reasons))
    scored.sort(key=lambda item: item[:2])
    return [(request, reasons) for _, _, request, reasons in scored[:limit]]


def list_similar(
    requests: Sequence[RecordedRequest],
    explain: Callable[[RecordedRequest], list[Mismatch]],
) -> str:
    if not requests:
        return "No requests were recorded."
    lines = ["Recorded requests, closest first:"]
    for request, reasons in _ranked(requests, explain):
        lines.append(describe_request(request, "  "))
        lines += [f"    - {reason.summary}" for reason in reasons]
    return "\n".join(lines)


# -- unmatched requests and the strict checks ------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class UnmatchedRequest:
    """A request that no route answered, and why the closest routes did not.

    ``str()`` gives the report that the ``WARNING`` log record shows, written
    when the request arrived.
    """

    #: The request, as recorded in ``m.requests``.
    request: RecordedRequest
    #: The closest routes, closest first, each with the reasons it did not
    #: match, such as ``"path: expected '/users', got '/user'"`` or
    #: ``"exhausted after 1 call"``.
    closest: tuple[tuple[RegisteredRoute, tuple[str, ...]], ...]
    #: The report: the request (method, URL, headers other than the routine
    #: ones, a body preview) and the closest routes with their reasons.
    report: str

    def __str__(self) -> str:
        return self.report


#: Makes the handle an :class:`UnmatchedRequest` gives for a route:
#: :class:`aiointercept.RegisteredRoute`, given to the dispatcher by the block
#: (its module imports this one).
RouteHandle: TypeAlias = Callable[["Route", Sequence["RecordedRequest"]], Any]


def unmatched_request(
    request: RecordedRequest,
    routes: Sequence[Route],
    journal: Sequence[RecordedRequest],
    *,
    limit: int,
    handle: RouteHandle,
) -> UnmatchedRequest:
    """Explain why the ``limit`` routes closest to ``request`` did not serve it."""
    url = request.key[1]
    explained = []
    for route in routes:
        found = route.explain(request, url)
        explained.append((sum(m.weight for m in found), route.order, route, found))
    explained.sort(key=lambda item: item[:2])
    lines = [
        f"no route matches {request.method} {request.url}",
        "Request:",
        describe_request(request, "  "),
    ]
    if not routes:
        lines.append("No routes are registered.")
    else:
        lines.append("Closest route:" if len(routes) == 1 else "Closest routes:")
    closest = []
    for _, _, route, mismatches in explained[:limit]:
        reasons = tuple(m.summary for m in mismatches) or (
            "no difference now (was it registered after the request arrived?)",
        )
        closest.append((handle(route, journal), reasons))
        lines.append(f"  {route.describe()}")
        lines += [f"    - {reason}" for reason in reasons]
    if len(routes) > limit:
        others = len(routes) - limit
        lines.append(f"  ... and {others} other route{'' if others == 1 else 's'}")
    return UnmatchedRequest(request, tuple(closest), "\n".join(lines))


def strict_failure(
    unused: Sequence[RegisteredRoute], unmatched: Sequence[UnmatchedRequest]
) -> StrictCheckError | None:
    """The error for ``assert_all_called`` / ``assert_all_matched``, if any."""
    if not unused and not unmatched:
        return None
    sections = []
    if unused:
        count = "1 route was" if len(unused) == 1 else f"{len(unused)} routes were"
        sections.append(
            f"{count} never called (assert_all_called=True):\n"
            + "\n".join(f"  {route._route.describe()}" for route in unused)
        )
    if unmatched:
        count = "1 request" if len(unmatched) == 1 else f"{len(unmatched)} requests"
        reports = "\n".join(
            "  " + str(item).replace("\n", "\n    ") for item in unmatched
        )
        sections.append(
            f"{count} matched no route (assert_all_matched=True):\n{reports}"
        )
    return StrictCheckError("\n".join(sections), tuple(unused), tuple(unmatched))
