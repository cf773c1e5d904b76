"""A block's cassette options, checked once, when the block is built.

``aiointercept(cassette=..., record_mode=..., match_on=..., ...)`` hands its
cassette arguments to :func:`check_cassette_options`, which raises for a bad
one (naming the bad value) and returns them as a :class:`CassetteOptions`, or
``None`` when there is no cassette. Everything else in this package takes a
:class:`CassetteOptions` and checks nothing again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from aiointercept._settings import RECORD_MODES

from .format import JSON_BODIES, CassetteRequest, require_yaml
from .matching import MATCHERS

__all__ = [
    "DEFAULT_MATCH_ON",
    "CassetteOptions",
    "Filter",
    "RecordMode",
    "RequestHook",
    "ResponseHook",
    "check_cassette_options",
]


class RecordMode(str, Enum):
    """vcrpy's record modes, pytest-recording's ``rewrite``, and ``verify``.

    A ``str`` enum: ``record_mode="once"`` and ``RecordMode.ONCE`` are the
    same option. The values come from :data:`aiointercept._settings.RECORD_MODES`,
    in its order, which the pytest plugin offers as ``--record-mode`` choices
    without importing this package; each member is named after its value.

    ================  ====================  =================================
    mode              replays the cassette  records what it cannot replay
    ================  ====================  =================================
    ``none``          yes                   no
    ``once``          if the file exists    if it does not
    ``new_episodes``  yes                   yes, after what the file holds
    ``all``           no                    yes, after what the file holds
    ``rewrite``       no                    yes, in place of what it holds
    ``verify``        no                    no: compares with what it holds
    ================  ====================  =================================
    """

    NONE, ONCE, NEW_EPISODES, ALL, REWRITE, VERIFY = RECORD_MODES

    # the value, as StrEnum (Python 3.11+) shows it, in messages
    __str__ = str.__str__


#: What a request must share with a recorded one to replay it (vcrpy's default).
DEFAULT_MATCH_ON = ("method", "scheme", "host", "port", "path", "query")

#: A filtered name and what replaces its value (``None``: the name is dropped).
Filter = tuple[str, str | None]
RequestHook = Callable[[CassetteRequest], CassetteRequest | None]
ResponseHook = Callable[[dict[str, Any]], dict[str, Any] | None]


@dataclass(frozen=True, slots=True)
class CassetteOptions:
    """A block's cassette configuration, checked."""

    path: Path
    record_mode: RecordMode
    #: Names of :data:`.matching.MATCHERS`, at least one.
    match_on: tuple[str, ...]
    #: Header names lower-cased.
    filter_headers: tuple[Filter, ...]
    filter_query_parameters: tuple[Filter, ...]
    filter_post_data_parameters: tuple[Filter, ...]
    before_record_request: RequestHook | None
    before_record_response: ResponseHook | None
    #: Whether the built-in scrubbing applies (see :mod:`.scrubbing`): to what
    #: is recorded, and to what is compared, never to what a file holds.
    scrub_secrets: bool
    #: How the file is written: one of :data:`.format.JSON_BODIES`.
    json_bodies: str = "text"


def check_cassette_options(
    cassette: object,
    *,
    record_mode: object,
    match_on: object,
    filter_headers: object,
    filter_query_parameters: object,
    filter_post_data_parameters: object,
    before_record_request: object,
    before_record_response: object,
    scrub_secrets: object,
    json_bodies: object = "text",
) -> CassetteOptions | None:
    """Validate the cassette arguments of ``aiointercept(...)``."""
    if not isinstance(scrub_secrets, bool):
        raise TypeError(f"scrub_secrets must be a bool, got {scrub_secrets!r}")
    if cassette is None:
        given = [
            name
            for name, value, default in (
                ("record_mode", record_mode, RecordMode.ONCE),
                ("match_on", match_on, DEFAULT_MATCH_ON),
                ("filter_headers", filter_headers, ()),
                ("filter_query_parameters", filter_query_parameters, ()),
                ("filter_post_data_parameters", filter_post_data_parameters, ()),
                ("before_record_request", before_record_request, None),
                ("before_record_response", before_record_response, None),
                ("scrub_secrets", scrub_secrets, True),
                ("json_bodies", json_bodies, "text"),
            )
            if not _same(value, default)
        ]
        if given:
            raise ValueError(f"{given[0]} requires cassette= (a cassette file path)")
        return None
    if cassette is True:
        raise TypeError(
            "cassette=True (a cassette named after the test) is for the pytest "
            "marker; pass a file path"
        )
    if not isinstance(cassette, str | os.PathLike) or isinstance(cassette, bytes):
        raise TypeError(
            f"cassette must be a path (str or os.PathLike), got {cassette!r}"
        )
    if not isinstance(record_mode, str) or record_mode not in RECORD_MODES:
        raise ValueError(
            f"record_mode must be one of {', '.join(RECORD_MODES)}, got {record_mode!r}"
        )
    if not isinstance(json_bodies, str) or json_bodies not in JSON_BODIES:
        raise ValueError(
            f"json_bodies must be one of {', '.join(JSON_BODIES)}, got {json_bodies!r}"
        )
    matchers = _names("match_on", match_on)
    unknown = [name for name in matchers if name not in MATCHERS]
    if unknown or not matchers:
        raise ValueError(
            f"match_on takes matcher names among {', '.join(MATCHERS)}, got "
            f"{match_on!r}"
        )
    for name, hook in (
        ("before_record_request", before_record_request),
        ("before_record_response", before_record_response),
    ):
        if hook is not None and not callable(hook):
            raise TypeError(f"{name} must be callable or None, got {hook!r}")
    require_yaml()
    return CassetteOptions(
        path=Path(cassette),
        record_mode=RecordMode(record_mode),
        match_on=matchers,
        filter_headers=_filters("filter_headers", filter_headers, lower=True),
        filter_query_parameters=_filters(
            "filter_query_parameters", filter_query_parameters
        ),
        filter_post_data_parameters=_filters(
            "filter_post_data_parameters", filter_post_data_parameters
        ),
        before_record_request=before_record_request,  # type: ignore[arg-type]
        before_record_response=before_record_response,  # type: ignore[arg-type]
        scrub_secrets=scrub_secrets,
        json_bodies=json_bodies,
    )


def _names(what: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise TypeError(f"{what} must be a list of names, got {value!r}")
    names = tuple(value)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"{what} entries must be str, got {name!r}")
    return names


def _filters(what: str, value: object, lower: bool = False) -> tuple[Filter, ...]:
    """``["name", ("name", "replacement"), ...]`` as ``(name, replacement)``."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise TypeError(
            f"{what} must be a list of names or (name, replacement) pairs, "
            f"got {value!r}"
        )
    result: list[Filter] = []
    for entry in value:
        if isinstance(entry, str):
            name, replacement = entry, None
        elif (
            isinstance(entry, tuple)
            and len(entry) == 2
            and isinstance(entry[0], str)
            and (entry[1] is None or isinstance(entry[1], str))
        ):
            name, replacement = entry
        else:
            raise TypeError(
                f"{what} entries must be a name or a (name, replacement) pair "
                f"of str, got {entry!r}"
            )
        result.append((name.lower() if lower else name, replacement))
    return tuple(result)


def _same(value: object, default: object) -> bool:
    if isinstance(default, tuple) and isinstance(value, list | tuple):
        return tuple(value) == default
    return value is default or value == default
