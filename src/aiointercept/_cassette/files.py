"""A cassette file's text: YAML or JSON, parsed and dumped, and written
whole or not at all.

This module knows nothing of the schema (see :mod:`.format`). PyYAML comes
with the ``aiointercept[record]`` extra; its C loader and dumper are used when
they are available.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from aiointercept._errors import CassetteError

__all__ = ["collector_paused", "dump", "parse", "require_yaml", "write"]

P = ParamSpec("P")
R = TypeVar("R")


def require_yaml() -> Any:
    """The ``yaml`` module, or an error that says how to install it."""
    try:
        import yaml
    except ImportError:
        raise ImportError(
            "cassettes need PyYAML: pip install 'aiointercept[record]'"
        ) from None
    return yaml


def collector_paused(function: Callable[P, R]) -> Callable[P, R]:
    """``function``, run with the garbage collector paused (and restarted
    after, if it ran): reading a long cassette makes objects by the hundred
    thousand, none of them garbage, and the collections they set off, each
    walking every object of the test process, cost more than the reading."""

    @functools.wraps(function)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        if not gc.isenabled():
            return function(*args, **kwargs)
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            gc.enable()

    return paused


def parse(path: Path, serializer: str) -> object:
    """The data of the file at ``path`` in ``serializer``'s format (``"yaml"``
    or ``"json"``); ``None`` when it is empty."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CassetteError(f"cannot read cassette {path}: {exc}") from exc
    if serializer == "json":
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise CassetteError(f"cannot read cassette {path}: {exc}") from exc
    yaml = require_yaml()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc
        raise CassetteError(f"cannot read cassette {path}{line}: {problem}") from exc


def dump(data: dict[str, Any], serializer: str, sort_keys: bool = True) -> str:
    """``data`` as text in ``serializer``'s format; without ``sort_keys``, in
    the order it is given. JSON holds no bytes: the caller checks."""
    if serializer == "json":
        return json.dumps(data, indent=4, sort_keys=sort_keys) + "\n"
    yaml = require_yaml()
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text: str = yaml.dump(data, Dumper=dumper, allow_unicode=True, sort_keys=sort_keys)
    return text


def write(path: Path, text: str) -> None:
    """Write ``text`` at ``path``: to a temporary file beside it, then renamed
    over it, so that a cassette is never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    # created like any new file (0o666 less the umask), or with the mode of
    # the cassette it replaces
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temporary, stat.S_IMODE(os.stat(path).st_mode))
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
