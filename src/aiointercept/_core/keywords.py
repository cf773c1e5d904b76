"""Unknown keyword arguments, reported with the closest name the function
takes: ``m.get(url, stauts=500)`` is a ``TypeError`` that suggests
``status``.

The functions that report them (``add()``, ``ws()``, ``CallbackResult()``,
``aiointercept()``) take ``**unknown`` and call :func:`unexpected_keywords`
only when it is not empty, so a correct call pays for an empty dict and
nothing else. Type checkers see no such parameter: it is typed as
:class:`NoMoreKeywords`, a ``TypedDict`` without keys. The method shortcuts
forward their keywords to ``add()``, and report its error under their own
name.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypedDict

__all__ = ["NoMoreKeywords", "unexpected_keywords"]


class NoMoreKeywords(TypedDict):
    """No keyword beyond those a function names (``**unknown:
    Unpack[NoMoreKeywords]``): a type checker rejects any other, as it would
    without ``**unknown``."""


def unexpected_keywords(
    called: str,
    function: Callable[..., Any],
    unknown: Iterable[str],
    hints: Mapping[str, str] | None = None,
) -> TypeError:
    """The error for ``unknown`` keywords given to ``function``, which the
    user called as ``called`` (``"get()"``): each with the closest keyword
    ``function`` takes, or with ``hints[name]`` when there is one."""
    accepted = [
        parameter.name
        for parameter in inspect.signature(function).parameters.values()
        if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
        and parameter.name != "self"
    ]
    parts = []
    unexplained = False
    for name in unknown:
        hint = (hints or {}).get(name)
        if hint is None:
            close = difflib.get_close_matches(name, accepted, n=1, cutoff=0.7)
            hint = f"did you mean {close[0]!r}?" if close else None
        unexplained = unexplained or hint is None
        parts.append(f"{name!r}" if hint is None else f"{name!r} ({hint})")
    argument = (
        "an unexpected keyword argument"
        if len(parts) == 1
        else ("unexpected keyword arguments")
    )
    message = f"{called} got {argument} {', '.join(parts)}"
    if unexplained:
        message += f"; it takes {', '.join(accepted)}"
    return TypeError(message)
