"""vcrpy's options, checked where they are given, and what they become.

:class:`~aiointercept.vcr.VCR` and ``use_cassette()`` take vcrpy's keyword
arguments. :func:`check` raises for a name vcrpy does not know
(``TypeError``, naming it), for a vcrpy option that aiointercept does not
support (``TypeError``, saying why, unless it is given its harmless default)
and for a bad value (naming it). :func:`block_options` turns the options of
one cassette, merged, into the arguments of ``aiointercept(...)``.
"""

from __future__ import annotations

import collections.abc
import difflib
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aiointercept._cassette.options import DEFAULT_MATCH_ON, RecordMode
from aiointercept._settings import RECORD_MODES

__all__ = [
    "DEFAULTS",
    "LOCALHOST",
    "SERIALIZERS",
    "check",
    "check_matcher",
    "hooks",
    "unsupported",
]

#: The serializers of ``serializer=``, by name.
SERIALIZERS = ("yaml", "json")

#: The hosts ``ignore_localhost=True`` lets through, as vcrpy lists them.
LOCALHOST = ("localhost", "0.0.0.0", "127.0.0.1", "::1")

#: Every option a cassette takes, with its default: vcrpy's (those of
#: ``VCR()`` and of ``use_cassette()``), then aiointercept's own.
DEFAULTS: dict[str, Any] = {
    "record_mode": RecordMode.ONCE,
    "match_on": DEFAULT_MATCH_ON,
    "additional_matchers": (),
    "filter_headers": (),
    "filter_query_parameters": (),
    "filter_post_data_parameters": (),
    "filter_nested_post_data_parameters": False,
    "before_record_request": None,
    "before_record": None,
    "before_record_response": None,
    "ignore_hosts": (),
    "ignore_localhost": False,
    "cassette_library_dir": None,
    "path_transformer": None,
    "func_path_generator": None,
    "serializer": "yaml",
    "decode_compressed_response": False,
    "record_on_exception": True,
    "allow_playback_repeats": False,
    "drop_unused_requests": False,
    "inject_cassette": False,
    "filter_sensitive_data": (),
    "custom_patches": (),
    "skip_patchers": (),
    "before_save_interaction": None,
    "after_load_interaction": None,
    "persister": None,
    # aiointercept's own
    "scrub_secrets": True,
    "block_network": True,
    "json_bodies": "text",
    "stream_timing": False,
}

#: Why each vcrpy option that aiointercept does not support is refused. The
#: option is accepted at its default (``custom_patches=()``), which changes
#: nothing.
_UNSUPPORTED = {
    "custom_patches": (
        "aiointercept patches no client: it intercepts connections in the "
        "standard library (socket and ssl), so every client is covered, "
        "the one you patched for included"
    ),
    "skip_patchers": (
        "aiointercept patches no client, so there is no patcher to skip; to "
        "let a host reach the network, list it in ignore_hosts"
    ),
    "persister": (
        "aiointercept reads and writes cassette files itself, in vcrpy's "
        "YAML or JSON format"
    ),
    "filter_nested_post_data_parameters": (
        "filter_post_data_parameters applies to the top-level fields of form "
        "and JSON bodies; change nested fields in before_record_request"
    ),
}

#: How ``record_mode`` is spelt in messages.
_MODES = ", ".join(repr(mode) for mode in RECORD_MODES)


def unsupported(name: str, reason: str) -> TypeError:
    """The error for the vcrpy feature ``name``, which aiointercept does not
    support, for ``reason``."""
    return TypeError(f"{name} is not supported by aiointercept.vcr: {reason}")


def check(called: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options``, given to ``called`` (``"VCR()"``), checked; returns them
    with ``record_mode`` as a :class:`RecordMode`."""
    unknown = [name for name in options if name not in DEFAULTS]
    if unknown:
        raise TypeError(f"{called} got {_unknown(unknown)}")
    checked = dict(options)
    for name, value in options.items():
        if name in _UNSUPPORTED and not _is_default(name, value):
            raise unsupported(name, _UNSUPPORTED[name])
        checker = _CHECKS.get(name)
        if checker is not None:
            checked[name] = checker(name, value)
    return checked


def _unknown(names: list[str]) -> str:
    parts = []
    for name in names:
        close = difflib.get_close_matches(name, list(DEFAULTS), n=1, cutoff=0.7)
        parts.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
    noun = (
        "an unexpected keyword argument"
        if len(parts) == 1
        else "unexpected keyword arguments"
    )
    return (
        f"{noun} {', '.join(parts)}: vcrpy's cassette options are {', '.join(DEFAULTS)}"
    )


def _is_default(name: str, value: object) -> bool:
    default = DEFAULTS[name]
    if default == () and isinstance(value, list | tuple):
        return not value
    return value is default or (default is False and value is False)


# -- each option's check ---------------------------------------------------------------


def _record_mode(name: str, value: object) -> RecordMode:
    if isinstance(value, str) and value in RECORD_MODES:
        return RecordMode(value)
    raise ValueError(f"{name} must be one of {_MODES}, got {value!r}")


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return value


def _callable_or_none(name: str, value: object) -> object:
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be callable or None, got {value!r}")
    return value


def _hooks(name: str, value: object) -> object:
    """A hook, ``None``, or a list of hooks (vcrpy runs them in order)."""
    if value is None or callable(value):
        return value
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise TypeError(
            f"{name} must be callable, a list of callables or None, got {value!r}"
        )
    hooks = tuple(value)
    for hook in hooks:
        if not callable(hook):
            raise TypeError(f"{name} entries must be callable, got {hook!r}")
    return hooks


def _names(name: str, value: object) -> tuple[Any, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a list, got {value!r}")
    return tuple(value)


def _matchers(name: str, value: object) -> tuple[Any, ...]:
    entries = _names(name, value)
    for entry in entries:
        check_matcher(name, entry)
    return entries


def check_matcher(what: str, entry: object) -> None:
    """A ``match_on`` entry: a matcher's name, or a matcher."""
    if not isinstance(entry, str) and not callable(entry):
        raise TypeError(
            f"{what} entries must be matcher names or callables, got {entry!r}"
        )


def _hosts(name: str, value: object) -> tuple[str, ...]:
    entries = _names(name, value)
    for entry in entries:
        if isinstance(entry, re.Pattern):
            raise unsupported(
                f"a pattern in {name} ({entry.pattern!r})",
                "aiointercept lets hosts through by name: list each host",
            )
        if not isinstance(entry, str):
            raise TypeError(f"{name} entries must be host names, got {entry!r}")
    return entries


def _directory(name: str, value: object) -> object:
    if value is not None and (
        not isinstance(value, str | os.PathLike) or isinstance(value, bytes)
    ):
        raise TypeError(f"{name} must be a path or None, got {value!r}")
    return value


def _serializer(name: str, value: object) -> str:
    if value not in SERIALIZERS:
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, SERIALIZERS))} (vcrpy's "
            f"built-in formats), got {value!r}"
        )
    return str(value)


_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "record_mode": _record_mode,
    "match_on": _matchers,
    "additional_matchers": _matchers,
    "filter_headers": _names,
    "filter_query_parameters": _names,
    "filter_post_data_parameters": _names,
    "before_record_request": _hooks,
    "before_record": _hooks,
    "before_record_response": _hooks,
    "ignore_hosts": _hosts,
    "ignore_localhost": _flag,
    "cassette_library_dir": _directory,
    "path_transformer": _callable_or_none,
    "func_path_generator": _callable_or_none,
    "serializer": _serializer,
    "decode_compressed_response": _flag,
    "record_on_exception": _flag,
    "allow_playback_repeats": _flag,
    "drop_unused_requests": _flag,
    "inject_cassette": _flag,
    "before_save_interaction": _hooks,
    "after_load_interaction": _hooks,
    "scrub_secrets": _flag,
    "block_network": _flag,
}


def hooks(value: object) -> list[Callable[[Any], Any]]:
    """A checked hook option as a list of hooks."""
    if value is None:
        return []
    if callable(value):
        return [value]
    assert isinstance(value, collections.abc.Iterable)
    return list(value)
