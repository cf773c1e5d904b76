"""A block's cassette options, checked once, when the block is built.

``aiointercept(cassette=..., record_mode=..., match_on=..., ...)`` hands its
cassette arguments to :func:`check_cassette_options`, which raises for a bad
one (naming the bad value) and returns them as a :class:`CassetteOptions`, or
``None`` when there is no cassette. Everything else in this package takes a
:class:`CassetteOptions` and checks nothing again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from aiointercept._settings import RECORD_MODES

from .format import JSON_BODIES, CassetteRequest, require_yaml
from .matching import MATCHERS

__all__ = [
    "CASSETTE_DEFAULTS",
    "DEFAULT_MATCH_ON",
    "SERIALIZERS",
    "CassetteOptions",
    "Filter",
    "InteractionHook",
    "MatcherFunction",
    "RecordMode",
    "RequestHook",
    "ResponseHook",
    "cassette_defaults",
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
    ``all``           no                    yes, in place of what the file
                                            holds for the same requests
    ``rewrite``       no                    yes, in place of what it holds
    ``verify``        no                    no: compares with what it holds
    ================  ====================  =================================
    """

    NONE, ONCE, NEW_EPISODES, ALL, REWRITE, VERIFY = RECORD_MODES

    # the value, as StrEnum (Python 3.11+) shows it, in messages
    __str__ = str.__str__


#: What a request must share with a recorded one to replay it (vcrpy's default).
DEFAULT_MATCH_ON = ("method", "scheme", "host", "port", "path", "query")

#: A request as a replacement function of a filter sees it.
FilterFunction = Callable[..., str | None]
#: A filtered name and what replaces its value: ``None`` drops the name, a
#: string replaces the value, a function ``(key=, value=, request=)`` returns
#: the value to keep (or ``None`` to drop the name), as in vcrpy.
Filter = tuple[str, str | FilterFunction | None]
RequestHook = Callable[[CassetteRequest], CassetteRequest | None]
ResponseHook = Callable[[dict[str, Any]], dict[str, Any] | None]
#: A user's matcher: vcrpy's convention, ``(live, recorded)``; it matches
#: unless it raises :exc:`AssertionError` or returns something false (but
#: not ``None``).
MatcherFunction = Callable[[CassetteRequest, CassetteRequest], object]
#: ``(request, response)`` or ``(request, response, cassette)`` of one
#: interaction, returning the pair (changed or not) or ``None`` to leave it
#: out: ``before_save_interaction`` and ``after_load_interaction``.
InteractionHook = Callable[..., tuple[CassetteRequest, dict[str, Any]] | None]
#: ``filter_sensitive_data``: a placeholder and the value it stands for, or a
#: function of ``(request, response)`` that returns the value.
SensitiveValue = tuple[str, str | Callable[..., object]]

#: Formats a cassette file may be written in.
SERIALIZERS = ("yaml", "json")


@dataclass(frozen=True, slots=True)
class CassetteOptions:
    """A block's cassette configuration, checked."""

    path: Path
    record_mode: RecordMode
    #: Names of :data:`.matching.MATCHERS`, or the user's matcher functions;
    #: at least one.
    match_on: tuple[str | MatcherFunction, ...]
    #: Header names lower-cased.
    filter_headers: tuple[Filter, ...]
    filter_query_parameters: tuple[Filter, ...]
    filter_post_data_parameters: tuple[Filter, ...]
    before_record_request: RequestHook | None
    before_record_response: ResponseHook | None
    #: Whether the built-in scrubbing applies (see :mod:`.scrubbing`): to what
    #: is recorded, and to what is compared, never to what a file holds.
    scrub_secrets: bool
    #: A played interaction may answer again (vcrpy's option of that name).
    allow_playback_repeats: bool = False
    #: A compressed response is recorded decoded, without its
    #: ``Content-Encoding``.
    decode_compressed_response: bool = False
    #: What the file held and nothing played is left out when it is written.
    drop_unused_requests: bool = False
    #: The cassette is written when the block exits with an exception too.
    record_on_exception: bool = True
    #: ``"yaml"`` or ``"json"``.
    serializer: str = "yaml"
    before_save_interaction: tuple[InteractionHook, ...] = ()
    after_load_interaction: tuple[InteractionHook, ...] = ()
    filter_sensitive_data: tuple[SensitiveValue, ...] = ()
    #: How JSON bodies are written: one of :data:`.format.JSON_BODIES`.
    json_bodies: str = "text"
    #: The time between the chunks of a streamed body is recorded, and
    #: replayed.
    stream_timing: bool = False


#: Each cassette argument of ``aiointercept(...)`` and its default: given
#: without a cassette, any other value is a mistake.
CASSETTE_DEFAULTS: dict[str, object] = {
    "record_mode": "once",
    "match_on": DEFAULT_MATCH_ON,
    "filter_headers": (),
    "filter_query_parameters": (),
    "filter_post_data_parameters": (),
    "before_record_request": None,
    "before_record_response": None,
    "scrub_secrets": True,
    "allow_playback_repeats": False,
    "decode_compressed_response": False,
    "drop_unused_requests": False,
    "record_on_exception": True,
    "serializer": "yaml",
    "before_save_interaction": None,
    "after_load_interaction": None,
    "filter_sensitive_data": (),
    "json_bodies": "text",
    "stream_timing": False,
}

_FLAGS = (
    "scrub_secrets",
    "allow_playback_repeats",
    "decode_compressed_response",
    "drop_unused_requests",
    "record_on_exception",
    "stream_timing",
)


def cassette_defaults(arguments: Mapping[str, object]) -> bool:
    """Whether the cassette ``arguments`` are all left at their defaults (the
    objects of :data:`CASSETTE_DEFAULTS` themselves), and named as there."""
    defaults = CASSETTE_DEFAULTS
    # a list, not a generator: one call rather than one resumption each
    return arguments.keys() <= defaults.keys() and not [
        name for name, value in arguments.items() if value is not defaults[name]
    ]


def check_cassette_options(
    cassette: object, **arguments: object
) -> CassetteOptions | None:
    """Validate the cassette arguments of ``aiointercept(...)``: ``arguments``
    are named as in :data:`CASSETTE_DEFAULTS`, any left out takes its
    default."""
    unknown = [name for name in arguments if name not in CASSETTE_DEFAULTS]
    if unknown:  # a programming error of the caller, not the user's
        raise TypeError(f"unknown cassette arguments: {', '.join(unknown)}")
    # the defaults, passed as they are, cost one identity check each: every
    # block is built through here, most of them without a cassette
    changed = {
        name: value
        for name, value in arguments.items()
        if value is not CASSETTE_DEFAULTS[name]
    }
    for name in _FLAGS:
        if name in changed and not isinstance(changed[name], bool):
            raise TypeError(f"{name} must be a bool, got {changed[name]!r}")
    if cassette is None:
        for name, value in changed.items():
            if not _same(value, CASSETTE_DEFAULTS[name]):
                raise ValueError(f"{name} requires cassette= (a cassette file path)")
        return None
    given = {**CASSETTE_DEFAULTS, **changed}
    if cassette is True:
        raise TypeError(
            "cassette=True (a cassette named after the test) is for the pytest "
            "marker; pass a file path"
        )
    if not isinstance(cassette, str | os.PathLike) or isinstance(cassette, bytes):
        raise TypeError(
            f"cassette must be a path (str or os.PathLike), got {cassette!r}"
        )
    record_mode = given["record_mode"]
    if not isinstance(record_mode, str) or record_mode not in RECORD_MODES:
        raise ValueError(
            f"record_mode must be one of {', '.join(RECORD_MODES)}, got {record_mode!r}"
        )
    for name in ("before_record_request", "before_record_response"):
        hook = given[name]
        if hook is not None and not callable(hook):
            raise TypeError(f"{name} must be callable or None, got {hook!r}")
    serializer = given["serializer"]
    if serializer not in SERIALIZERS:
        raise ValueError(
            f"serializer must be one of {', '.join(SERIALIZERS)}, got {serializer!r}"
        )
    json_bodies = given["json_bodies"]
    if not isinstance(json_bodies, str) or json_bodies not in JSON_BODIES:
        raise ValueError(
            f"json_bodies must be one of {', '.join(JSON_BODIES)}, got {json_bodies!r}"
        )
    require_yaml()
    return CassetteOptions(
        path=Path(cassette),
        record_mode=RecordMode(record_mode),
        match_on=_matchers(given["match_on"]),
        filter_headers=_filters("filter_headers", given["filter_headers"], lower=True),
        filter_query_parameters=_filters(
            "filter_query_parameters", given["filter_query_parameters"]
        ),
        filter_post_data_parameters=_filters(
            "filter_post_data_parameters", given["filter_post_data_parameters"]
        ),
        before_record_request=given["before_record_request"],  # type: ignore[arg-type]
        before_record_response=given["before_record_response"],  # type: ignore[arg-type]
        scrub_secrets=given["scrub_secrets"],  # type: ignore[arg-type]
        allow_playback_repeats=given["allow_playback_repeats"],  # type: ignore[arg-type]
        decode_compressed_response=given["decode_compressed_response"],  # type: ignore[arg-type]
        drop_unused_requests=given["drop_unused_requests"],  # type: ignore[arg-type]
        record_on_exception=given["record_on_exception"],  # type: ignore[arg-type]
        serializer=serializer,
        before_save_interaction=_hooks(
            "before_save_interaction", given["before_save_interaction"]
        ),
        after_load_interaction=_hooks(
            "after_load_interaction", given["after_load_interaction"]
        ),
        filter_sensitive_data=_sensitive(given["filter_sensitive_data"]),
        json_bodies=json_bodies,
        stream_timing=given["stream_timing"],  # type: ignore[arg-type]
    )


def _matchers(value: object) -> tuple[str | MatcherFunction, ...]:
    """``match_on``: matcher names and functions, at least one."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise TypeError(
            f"match_on must be a list of matcher names or functions, got {value!r}"
        )
    matchers = tuple(value)
    if not matchers:
        raise ValueError(
            f"match_on takes matcher names among {', '.join(MATCHERS)} (or "
            f"functions), got {value!r}"
        )
    for matcher in matchers:
        if isinstance(matcher, str):
            if matcher not in MATCHERS:
                raise ValueError(
                    f"match_on takes matcher names among {', '.join(MATCHERS)} "
                    f"(or functions), got {matcher!r} in {value!r}"
                )
        elif not callable(matcher):
            raise TypeError(
                f"match_on entries must be matcher names or functions, got {matcher!r}"
            )
    return matchers


def _hooks(what: str, value: object) -> tuple[InteractionHook, ...]:
    """One interaction hook, several, or ``None``."""
    if value is None:
        return ()
    hooks = tuple(value) if isinstance(value, Iterable) else (value,)
    for hook in hooks:
        if not callable(hook):
            raise TypeError(
                f"{what} must be a function, a list of functions or None, got {value!r}"
            )
    return hooks


def _sensitive(value: object) -> tuple[SensitiveValue, ...]:
    """``filter_sensitive_data``: a mapping or pairs of a placeholder and the
    value (or a function of the interaction that returns it); a ``None``
    value is left out."""
    pairs = value.items() if isinstance(value, Mapping) else value
    if isinstance(pairs, str | bytes) or not isinstance(pairs, Iterable):
        raise TypeError(
            "filter_sensitive_data must be a dict or a list of (placeholder, "
            f"value) pairs, got {value!r}"
        )
    result: list[SensitiveValue] = []
    for pair in pairs:
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            raise TypeError(
                "filter_sensitive_data entries must be (placeholder, value) pairs, "
                f"got {pair!r}"
            )
        placeholder, secret = pair
        if not isinstance(placeholder, str) or not placeholder:
            raise TypeError(
                "a filter_sensitive_data placeholder must be a non-empty str, "
                f"got {placeholder!r}"
            )
        if secret is None:  # os.environ.get() of a variable not set: nothing
            continue
        if not callable(secret) and not isinstance(secret, str | int):
            raise TypeError(
                f"the filter_sensitive_data value of {placeholder!r} must be a "
                f"str or a function, got {secret!r}"
            )
        result.append((placeholder, secret if callable(secret) else str(secret)))
    return tuple(result)


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
            and (entry[1] is None or isinstance(entry[1], str) or callable(entry[1]))
        ):
            name, replacement = entry
        else:
            raise TypeError(
                f"{what} entries must be a name or a (name, replacement) pair, "
                f"the replacement a str, a function or None, got {entry!r}"
            )
        result.append((name.lower() if lower else name, replacement))
    return tuple(result)


def _same(value: object, default: object) -> bool:
    if isinstance(default, tuple) and isinstance(value, list | tuple):
        return tuple(value) == default
    return value is default or value == default
