"""Verifying a cassette: live responses compared with the recorded ones.

With ``record_mode="verify"``, every request nothing else answers goes to its
real host, as with ``"all"``, and the passthrough proxy hands the response to
:meth:`Verifier.record` instead of a recorder. Nothing is written. The response
is taken as it would be recorded (decoded, scrubbed, through
``before_record_response``), and compared with the recorded interaction that
the request matches (see :mod:`.matching`; each interaction answers one
request, in order, as when it replays):

- the status code;
- the headers that describe the body: ``Content-Type`` (compared without case
  and spaces, so ``application/json; charset=UTF-8`` and
  ``application/json;charset=utf-8`` are the same) and ``Location``; the
  others (``Date``, ``Server``, ``ETag``, cookies...) change from one response
  to the next and are not compared;
- the body: parsed when the recorded ``Content-Type`` says JSON and both
  bodies parse (the order of keys and the spaces do not count; each value that
  differs is named by its path, ``$.items[0].name``), else byte for byte.

:meth:`Verifier.failure` gathers every difference, and every request that no
recorded interaction matches, into the error the block raises at its exit.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Sequence

from aiointercept._core.request import RecordedRequest
from aiointercept._errors import CassetteError

from .filters import Filters
from .format import CassetteResponse, Interaction
from .options import CassetteOptions
from .player import Player
from .recorder import stored_response
from .structured import is_json

__all__ = ["Verifier", "compare"]

#: The response headers compared, besides the status and the body.
COMPARED_HEADERS = ("Content-Type", "Location")

#: How many values of one JSON body a message names.
_MOST_PATHS = 10


class Verifier:
    """Compares each live response with the interaction of ``interactions``
    that its request matches.

    :meth:`record` is called from the server's thread while the block's thread
    may ask for :meth:`failure`: both take the verifier's lock.
    """

    def __init__(
        self,
        options: CassetteOptions,
        interactions: Sequence[Interaction],
        filters: Filters,
    ) -> None:
        self.options = options
        self._filters = filters
        #: Finds (and consumes) the interaction a request matches, as a replay
        #: would.
        self._matcher = Player(options, interactions, filters)
        self._interactions = interactions
        self._lock = threading.Lock()
        #: One entry for each live request that differs from its recording,
        #: or has none: its lines.
        self._problems: list[list[str]] = []
        self.verified = 0

    def record(
        self,
        request: RecordedRequest,
        status: int,
        reason: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        chunks: list[tuple[int, float]] | None = None,
    ) -> None:
        """Compare a response the real network gave (from the server); its
        chunks are not compared."""
        filters = self._filters
        try:
            incoming = filters.request(request)
            if incoming is None:
                return  # the hook leaves it out of the cassette: not compared
            live = filters.response(
                stored_response(self.options, status, reason, headers, body)
            )
        except BaseException as exc:
            filters.failed(exc)
            raise
        position = self._matcher.take(request)
        title = f"{request.method} {request.url}"
        if position is None:
            problem = [f"{title}: no recorded interaction matches it"]
        else:
            recorded = self._interactions[position]
            if live is None:
                different = ["before_record_response dropped the live response"]
            else:
                different = compare(recorded.response, live)
            problem = (
                [f"{title} ({recorded.origin})", *(f"  - {d}" for d in different)]
                if different
                else []
            )
        with self._lock:
            self.verified += 1
            if problem:
                self._problems.append(problem)

    def save(self) -> None:
        """Write nothing; raise what a hook raised."""
        errors = self._filters.errors
        if errors:
            first = errors[0]
            raise CassetteError(
                f"cassette {self.options.path} was not verified: a before_record "
                f"hook failed with {type(first).__name__}: {first}"
            ) from first

    def failure(self) -> CassetteError | None:
        """The error listing every live response that differs from its
        recording, and every request that has none, if any."""
        with self._lock:
            problems = list(self._problems)
            verified = self.verified
        if not problems:
            return None
        lines = [
            f"cassette {self.options.path} (record_mode='verify'): "
            f"{len(problems)} of {verified} live responses differ from the "
            "recording"
        ]
        for problem in problems:
            lines += problem
        return CassetteError("\n".join(lines))


def compare(recorded: CassetteResponse, live: CassetteResponse) -> list[str]:
    """How ``live`` differs from ``recorded``: one line for the status, each
    compared header and the body (several for a JSON body)."""
    lines = []
    if recorded.status != live.status:
        lines.append(f"status: recorded {recorded.status}, got {live.status}")
    for name in COMPARED_HEADERS:
        before, after = _header(recorded, name), _header(live, name)
        if _normal(before) != _normal(after):
            lines.append(f"{name}: recorded {before!r}, got {after!r}")
    lines += _body_differences(recorded, live)
    return lines


def _header(response: CassetteResponse, name: str) -> str | None:
    values = [v for n, v in response.headers if n.lower() == name.lower()]
    return ", ".join(values) if values else None


def _normal(value: str | None) -> str | None:
    return None if value is None else "".join(value.split()).lower()


def _body_differences(recorded: CassetteResponse, live: CassetteResponse) -> list[str]:
    if recorded.body == live.body:
        return []
    if is_json(_header(recorded, "Content-Type")):
        try:
            before, after = json.loads(recorded.body), json.loads(live.body)
        except (ValueError, UnicodeDecodeError):
            pass
        else:
            paths = list(_json_differences("$", before, after))
            if not paths:
                return []
            more = len(paths) - _MOST_PATHS
            shown = [f"body {path}" for path in paths[:_MOST_PATHS]]
            return shown + ([f"body: and {more} more values"] if more > 0 else [])
    return [_bytes_difference(recorded.body, live.body)]


def _json_differences(path: str, before: object, after: object) -> Iterator[str]:
    """``"PATH: recorded X, got Y"`` for each value that differs."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in before:
            where = f"{path}.{key}" if key.isidentifier() else f"{path}[{key!r}]"
            if key not in after:
                yield f"{where}: recorded {_short(before[key])}, missing now"
            else:
                yield from _json_differences(where, before[key], after[key])
        for key in after:
            if key not in before:
                where = f"{path}.{key}" if key.isidentifier() else f"{path}[{key!r}]"
                yield f"{where}: not recorded, got {_short(after[key])}"
    elif isinstance(before, list) and isinstance(after, list):
        for index, (old, new) in enumerate(zip(before, after, strict=False)):
            yield from _json_differences(f"{path}[{index}]", old, new)
        if len(before) != len(after):
            yield f"{path}: recorded {len(before)} items, got {len(after)}"
    elif before != after or type(before) is not type(after):
        yield f"{path}: recorded {_short(before)}, got {_short(after)}"


def _short(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _bytes_difference(before: bytes, after: bytes) -> str:
    at = next(
        (i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b),
        min(len(before), len(after)),
    )
    return (
        f"body: recorded {len(before)} bytes, got {len(after)}; they differ from "
        f"byte {at}: recorded {before[at : at + 30]!r}, got {after[at : at + 30]!r}"
    )
