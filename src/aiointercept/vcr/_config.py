"""``VCR``: a cassette configuration, as vcrpy's ``vcr.VCR`` is one."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, overload

from ._context import CassetteContext
from ._options import DEFAULTS, check, unsupported

__all__ = ["VCR"]

R = TypeVar("R")


class VCR:
    """A configuration of cassettes: vcrpy's options (see "Switching from
    vcrpy" in the docs), the defaults of every :meth:`use_cassette`.

    The options are attributes too, read each time a cassette starts, so that
    a change made after a function was decorated applies to its next call, as
    in vcrpy.
    """

    _options: dict[str, Any]
    #: The matchers registered with :meth:`register_matcher`, by name.
    matchers: dict[str, Callable[..., Any]]

    def __init__(self, **options: Any) -> None:
        object.__setattr__(self, "_options", _aliased(check("VCR()", options)))
        object.__setattr__(self, "matchers", {})

    def __getattr__(self, name: str) -> Any:
        if name in DEFAULTS:
            return self.__dict__.get("_options", {}).get(name, DEFAULTS[name])
        raise AttributeError(
            f"{type(self).__name__!r} object has no attribute {name!r}"
        )

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in DEFAULTS:
            raise AttributeError(
                f"{name!r} is not an option of VCR: its options are "
                f"{', '.join(DEFAULTS)}"
            )
        self._options.update(_aliased(check(f"VCR.{name}", {name: value})))

    @staticmethod
    def ensure_suffix(suffix: str) -> Callable[[str | os.PathLike[str]], str]:
        """A ``path_transformer`` that adds ``suffix`` to a path that does not
        end with it: ``VCR(path_transformer=VCR.ensure_suffix(".yaml"))``."""

        def ensure(path: str | os.PathLike[str]) -> str:
            text = os.fspath(path)
            return text if text.endswith(suffix) else text + suffix

        return ensure

    def register_matcher(self, name: str, matcher: Callable[..., Any]) -> None:
        """Let ``match_on`` name ``matcher``, a function of the live and the
        recorded request that raises ``AssertionError`` or returns ``False``
        when they do not match."""
        if not isinstance(name, str):
            raise TypeError(f"a matcher's name must be a str, got {name!r}")
        if not callable(matcher):
            raise TypeError(f"matcher {name!r} must be callable, got {matcher!r}")
        self.matchers[name] = matcher

    def register_serializer(self, name: str, serializer: object) -> None:
        """Not supported: cassettes are YAML or JSON (``serializer=``)."""
        raise unsupported(
            "register_serializer()",
            "aiointercept reads and writes cassettes itself, in vcrpy's 'yaml' "
            "and 'json' formats (serializer='yaml' or 'json')",
        )

    def register_persister(self, persister: object) -> None:
        """Not supported: aiointercept reads and writes cassette files itself."""
        raise unsupported(
            "register_persister()",
            "aiointercept reads and writes cassette files itself, in vcrpy's "
            "YAML or JSON format",
        )

    def test_case(self, predicate: object = None) -> Any:
        """Not supported: decorate the test methods with :meth:`use_cassette`."""
        raise unsupported(
            "VCR.test_case()",
            "decorate the test methods with use_cassette() instead",
        )

    @overload
    def use_cassette(self, path: Callable[..., R], /) -> Callable[..., R]: ...

    @overload
    def use_cassette(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        with_current_defaults: bool = False,
        **options: Any,
    ) -> CassetteContext: ...

    def use_cassette(
        self,
        path: str | os.PathLike[str] | Callable[..., Any] | None = None,
        *,
        with_current_defaults: bool = False,
        **options: Any,
    ) -> Any:
        """A cassette at ``path`` with this configuration, changed by
        ``options``: a context manager (``with`` and ``async with``) that gives
        the cassette, and a decorator of sync and async functions, each call of
        which runs in a fresh block (named after the function when ``path`` is
        left out)."""
        overrides = _aliased(check("use_cassette()", options))
        function = None
        if path is not None and not isinstance(path, str | os.PathLike):
            if not callable(path):
                raise TypeError(
                    f"use_cassette() takes a path (str or os.PathLike), got {path!r}"
                )
            function, path = path, None
        if with_current_defaults:
            frozen = {**DEFAULTS, **self._options, **overrides}
            context = CassetteContext(lambda: dict(frozen), self.matchers.copy, path)
        else:
            context = CassetteContext(
                lambda: {**DEFAULTS, **self._options, **overrides},
                lambda: self.matchers,
                path,
            )
        return context if function is None else context(function)

    def _context(
        self,
        path: Path,
        extras: tuple[Path, ...],
        *,
        allowed: list[str],
        **options: Any,
    ) -> CassetteContext:
        """:meth:`use_cassette` for the pytest plugin's ``@pytest.mark.vcr``:
        with extra cassettes, and ``allowed`` hosts (passthrough entries) that
        the network guard lets through."""
        overrides = _aliased(check("@pytest.mark.vcr", options))
        return CassetteContext(
            lambda: {**DEFAULTS, **self._options, **overrides},
            lambda: self.matchers,
            path,
            extras=extras,
            allowed=allowed,
        )


def _aliased(options: dict[str, Any]) -> dict[str, Any]:
    """vcrpy's ``before_record``, an old name of ``before_record_request``,
    under the new name (which wins when both are given)."""
    if "before_record" in options:
        alias = options.pop("before_record")
        if options.get("before_record_request") is None:
            options["before_record_request"] = alias
    return options
