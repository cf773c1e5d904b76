"""JSON bodies written as YAML (``json_bodies="structured"``), and read back.

vcrpy's format keeps a body as one string, so a JSON answer is a line of
escaped text in the file. A cassette written with ``json_bodies="structured"``
keeps each JSON body as the value it holds, under ``json``, with the
``layout`` that gives back its exact text::

    body:
      json:
        id: 1
        name: Ada
      layout: spaced ascii

A body is written so only when its text is exactly what :func:`dumps` makes of
its value in one of the layouts below; any other JSON (numbers written
``1.50`` or ``1e3``, a key twice, another indent, a byte order mark...) stays
text, so every body replays byte for byte. The value is read back in the
order the file gives its keys, and changing a value in the file changes the
body replayed, in the same layout.

A layout is a spacing, then what else the text has, as words:

- ``compact`` (the default, when there is no ``layout``): ``{"a":1,"b":[1,2]}``,
  as JavaScript's ``JSON.stringify`` and most servers write it;
- ``spaced``: ``{"a": 1, "b": [1, 2]}``, as Python's ``json.dumps``;
- ``indent=N``: one value a line, indented by N spaces;
- ``ascii``: characters beyond ASCII escaped (``\\u00e9``), as Python does;
- ``newline``: a line end after the value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiointercept._errors import CassetteError

__all__ = [
    "MARK",
    "dumps",
    "is_json",
    "structure",
    "structured_data",
    "unstructure",
]

#: The first lines of a cassette written with ``json_bodies="structured"``.
MARK = (
    '# Written with json_bodies="structured": JSON bodies are stored as YAML\n'
    '# values under "json", which vcrpy cannot read; aiointercept reads them\n'
    "# back to the exact bytes recorded.\n"
)

_SPACINGS = ("compact", "spaced")


def dumps(value: Any, layout: str) -> str:
    """``value`` as JSON text, in ``layout`` (checked by :func:`_parse`)."""
    indent, ascii_only, newline = _parse(layout)
    text = json.dumps(
        value,
        ensure_ascii=ascii_only,
        indent=indent,
        separators=(",", ":") if layout.split()[0] == "compact" else None,
        allow_nan=True,
    )
    return text + "\n" if newline else text


def _parse(layout: str) -> tuple[int | None, bool, bool]:
    """``(indent, ascii, newline)`` of a layout; a ``ValueError`` names what
    is wrong with it."""
    words = layout.split()
    if not words:
        raise ValueError("a layout names a spacing: compact, spaced or indent=N")
    spacing, flags = words[0], words[1:]
    indent: int | None = None
    if spacing.startswith("indent="):
        number = spacing.removeprefix("indent=")
        if not number.isdigit() or not 0 < int(number) <= 16:
            raise ValueError(f"indent=N takes a number of spaces, got {spacing!r}")
        indent = int(number)
    elif spacing not in _SPACINGS:
        raise ValueError(
            f"a layout starts with compact, spaced or indent=N, got {spacing!r}"
        )
    unknown = [flag for flag in flags if flag not in ("ascii", "newline")]
    if unknown or len(set(flags)) != len(flags):
        raise ValueError(
            f"after the spacing, a layout may say ascii and newline, got {layout!r}"
        )
    return indent, "ascii" in flags, "newline" in flags


def structure(body: bytes) -> dict[str, Any] | None:
    """``{"json": value, "layout": ...}`` for a JSON ``body`` that one of the
    layouts writes exactly (no ``layout`` for ``compact``), else ``None``."""
    if not body or body[:1].isspace():
        return None
    try:
        text = body.decode("utf-8")
        value = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        return None
    for layout in _candidates(text):
        if dumps(value, layout) == text:
            if layout == "compact":
                return {"json": value}
            return {"json": value, "layout": layout}
    return None


def _candidates(text: str) -> list[str]:
    """The layouts that may write ``text``, the plainest first."""
    flags = ["newline"] if text.endswith("\n") else []
    if "\n" in text.rstrip("\n"):
        second = text.split("\n", 2)[1]
        spacings = [f"indent={len(second) - len(second.lstrip(' '))}"]
    else:
        spacings = list(_SPACINGS)
    return [
        " ".join([spacing, *extra, *flags])
        for extra in ([], ["ascii"])
        for spacing in spacings
    ]


def unstructure(body: dict[Any, Any], where: str) -> bytes:
    """The bytes of a structured body read from the cassette."""
    unknown = sorted(str(key) for key in body if key not in ("json", "layout"))
    if unknown:
        raise CassetteError(
            f"{where}: a structured JSON body has 'json' and 'layout', got "
            f"{', '.join(unknown)}"
        )
    layout = body.get("layout", "compact")
    if not isinstance(layout, str):
        raise CassetteError(f"{where}: a body's layout must be a string")
    try:
        return dumps(body["json"], layout).encode("utf-8")
    except ValueError as exc:
        raise CassetteError(f"{where}: {exc}") from None
    except TypeError as exc:  # a YAML value JSON has no form for (a date...)
        raise CassetteError(f"{where}: the body's json value: {exc}") from None


def structured_data(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with its JSON bodies as values where :func:`structure` can,
    every mapping's keys sorted but those of the values, which keep theirs."""
    for item in data["interactions"]:
        request, response = item["request"], item["response"]
        body = request["body"]
        if body and is_json(_header(request["headers"], "Content-Type")):
            request["body"] = structure(body) or body
        body = response["body"]["string"]
        if body and is_json(_header(response["headers"], "Content-Type")):
            value = structure(body)
            if value is not None:
                del response["body"]["string"]
                response["body"].update(value)
    ordered: dict[str, Any] = _sorted(data)
    return ordered


def _sorted(value: Any) -> Any:
    """Mappings with their keys sorted, at any depth, but under ``json``."""
    if isinstance(value, dict):
        return {
            key: value[key] if key == "json" else _sorted(value[key])
            for key in sorted(value)
        }
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def _header(headers: Mapping[str, list[str]], name: str) -> str | None:
    return next(
        (
            v
            for key, values in headers.items()
            if key.lower() == name.lower()
            for v in values
        ),
        None,
    )


def is_json(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` says JSON (``application/json``, or a
    ``+json`` type such as ``application/problem+json``)."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media.endswith(("/json", "+json"))
