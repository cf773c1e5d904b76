"""What ``use_cassette()`` returns: a context manager (``with`` and ``async
with``) and a decorator (of sync, async and generator functions).

Each entry resolves the options (the :class:`~aiointercept.vcr.VCR`'s as they
are then, and the call's), builds ``aiointercept(mock_external_urls=True,
cassette=<path>, ...)`` and enters it; the entry gives the block's cassette.
A decorated function runs each call in a fresh context, so it may be called
concurrently, or from itself.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from aiointercept._cassette.view import Cassette

from ._combined import Combined
from ._options import LOCALHOST, hooks

if TYPE_CHECKING:
    from aiointercept._mock import aiointercept

__all__ = ["CassetteContext"]

R = TypeVar("R")

#: The matchers of ``match_on``, by vcrpy's names: aiointercept's own, and
#: vcrpy's old name ``url`` for ``uri``.
_RENAMED_MATCHERS = {"url": "uri"}


class CassetteContext:
    """One ``use_cassette()``: entered at most once at a time; a decorated
    function enters a copy for each call."""

    def __init__(
        self,
        options: Callable[[], dict[str, Any]],
        matchers: Callable[[], Mapping[str, Callable[..., Any]]],
        path: str | os.PathLike[str] | None,
        *,
        extras: Sequence[Path] = (),
        allowed: Sequence[str] = (),
    ) -> None:
        self._options = options
        self._matchers = matchers
        self._path = path
        self._extras = tuple(extras)
        self._allowed = tuple(allowed)
        self._func: Callable[..., Any] | None = None
        self._open: _Open | None = None

    # -- as a context manager ---------------------------------------------------------

    def __enter__(self) -> Cassette:
        opened = self._start()
        try:
            opened.block.__enter__()
        except BaseException:
            self._open = None
            opened.finish()
            raise
        return opened.cassette()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        __tracebackhide__ = True
        opened = self._stop()
        try:
            opened.block.__exit__(exc_type, exc, traceback)
        except BaseException as error:
            opened.rename(error)
            raise
        finally:
            opened.finish()

    async def __aenter__(self) -> Cassette:
        opened = self._start()
        try:
            await opened.block.__aenter__()
        except BaseException:
            self._open = None
            opened.finish()
            raise
        return opened.cassette()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        __tracebackhide__ = True
        opened = self._stop()
        try:
            await opened.block.__aexit__(exc_type, exc, traceback)
        except BaseException as error:
            opened.rename(error)
            raise
        finally:
            opened.finish()

    def _start(self) -> _Open:
        if self._open is not None:
            raise RuntimeError(
                "this use_cassette() is already open: a context manager is "
                "entered once at a time (a decorated function gets a fresh one "
                "for each call)"
            )
        options = self._options()
        path = self._resolve_path(options)
        self._open = _Open.build(
            path, options, self._matchers(), self._extras, self._allowed
        )
        return self._open

    def _stop(self) -> _Open:
        opened, self._open = self._open, None
        if opened is None:
            raise RuntimeError("this use_cassette() is not open")
        return opened

    def _resolve_path(self, options: Mapping[str, Any]) -> Path:
        """The cassette's file: the path given, or (for a decorated function)
        the one named after the function; through ``path_transformer``, then
        in ``cassette_library_dir`` unless already there (vcrpy's order)."""
        path = self._path
        func = self._func
        library = options["cassette_library_dir"]
        if path is None:
            if func is None:
                raise TypeError(
                    "use_cassette() needs a path when it is used as a context "
                    "manager; it may be left out only when it decorates a "
                    "function, whose cassette is then named after it"
                )
            generator = options["func_path_generator"]
            if generator is not None:
                path = generator(func)
            elif library is not None:
                path = func.__name__
            else:
                path = os.path.join(
                    os.path.dirname(inspect.getfile(func)), func.__name__
                )
        transformer = options["path_transformer"]
        text = os.fspath(path if transformer is None else transformer(path))
        if library is not None:
            folder = os.fspath(library)
            if not text.startswith(folder):
                text = os.path.join(folder, text)
        return Path(text)

    # -- as a decorator ---------------------------------------------------------------

    def __call__(self, func: Callable[..., R]) -> Callable[..., R]:
        """Decorate ``func``: each call runs in a fresh block. (With
        ``inject_cassette=True`` the decorated function takes one argument
        less than ``func``.)"""
        if inspect.isasyncgenfunction(func):
            raise TypeError(
                f"use_cassette() cannot decorate the async generator function "
                f"{func.__qualname__}(): use 'async with' inside it"
            )
        inject = self._options()["inject_cassette"]

        def fresh() -> CassetteContext:
            context = CassetteContext(
                self._options,
                self._matchers,
                self._path,
                extras=self._extras,
                allowed=self._allowed,
            )
            context._func = func
            return context

        def arguments(cassette: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
            if not self._options()["inject_cassette"]:
                return args
            # in a method, the cassette comes after ``self``, as in vcrpy
            if _is_method(func) and args:
                return (args[0], cassette, *args[1:])
            return (cassette, *args)

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                async with fresh() as cassette:
                    return await func(*arguments(cassette, args), **kwargs)

            wrapper: Callable[..., Any] = run_async
        elif inspect.isgeneratorfunction(func):

            @functools.wraps(func)
            def run_generator(*args: Any, **kwargs: Any) -> Any:
                with fresh() as cassette:
                    return (yield from func(*arguments(cassette, args), **kwargs))

            wrapper = run_generator
        else:

            @functools.wraps(func)
            def run(*args: Any, **kwargs: Any) -> Any:
                with fresh() as cassette:
                    return func(*arguments(cassette, args), **kwargs)

            wrapper = run
        if inject:
            # pytest (and any caller that reads the signature) does not see the
            # parameter that receives the cassette
            signature = inspect.signature(func)
            parameters = list(signature.parameters.values())
            position = 1 if _is_method(func) else 0
            if len(parameters) > position:
                del parameters[position]
            wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
                parameters=parameters
            )
        return wrapper


def _is_method(func: Callable[..., Any]) -> bool:
    """Whether ``func`` is defined in a class body (its caller passes the
    instance first)."""
    owner = func.__qualname__.rpartition(".")[0]
    return bool(owner) and not owner.endswith("<locals>")


class _Open:
    """One entry of a context: its block, and the combined file of extra
    cassettes, if any."""

    def __init__(self, block: aiointercept, combined: Combined | None) -> None:
        self.block = block
        self.combined = combined
        #: The block's cassette file as the block starts, to tell whether the
        #: block wrote it.
        self._before = _state(self.file)

    @property
    def file(self) -> Path:
        """The file of the block's cassette."""
        options = self.block._options.cassette
        assert options is not None  # every block of this module has a cassette
        return options.path

    @classmethod
    def build(
        cls,
        path: Path,
        options: Mapping[str, Any],
        matchers: Mapping[str, Callable[..., Any]],
        extras: Sequence[Path],
        allowed: Sequence[str],
    ) -> _Open:
        from aiointercept._mock import aiointercept

        record_mode = options["record_mode"]
        combined: Combined | None = None
        cassette = path
        if extras:
            combined = Combined(path, extras)
            file = combined.prepare(
                options["serializer"], rewrite=record_mode == "rewrite"
            )
            if file is not None:
                cassette = file
                if record_mode == "rewrite":
                    # the default cassette's own interactions are left out of
                    # the file; the extra ones are replayed
                    record_mode = "new_episodes"
        ignored = _ignored_hosts(options)
        passthrough = [*map(_passthrough_entry, ignored), *allowed]
        try:
            block = aiointercept(
                mock_external_urls=True,
                passthrough=passthrough or None,
                block_network=options["block_network"],
                cassette=cassette,
                record_mode=record_mode,
                match_on=_match_on(options, matchers),
                filter_headers=options["filter_headers"],
                filter_query_parameters=options["filter_query_parameters"],
                filter_post_data_parameters=options["filter_post_data_parameters"],
                before_record_request=_request_hook(options, ignored),
                before_record_response=_chained(options["before_record_response"]),
                scrub_secrets=options["scrub_secrets"],
                allow_playback_repeats=options["allow_playback_repeats"],
                decode_compressed_response=options["decode_compressed_response"],
                drop_unused_requests=options["drop_unused_requests"],
                record_on_exception=options["record_on_exception"],
                serializer=options["serializer"],
                before_save_interaction=options["before_save_interaction"],
                after_load_interaction=options["after_load_interaction"],
                filter_sensitive_data=options["filter_sensitive_data"],
                json_bodies=options["json_bodies"],
                stream_timing=options["stream_timing"],
            )
        except BaseException:
            if combined is not None:
                combined.cleanup()
            raise
        return cls(block, combined)

    def cassette(self) -> Cassette:
        """What the entry gives: the block's cassette (named after the default
        cassette when it is a combined file)."""
        view = self.block.cassette
        assert view is not None  # the block has a cassette, and has started
        if self.combined is not None and self.combined.file is not None:
            return _CombinedCassette(view, self.combined.path)
        return view

    def rename(self, error: BaseException) -> None:
        """Name the default cassette, not the combined file, in ``error``."""
        if self.combined is not None:
            self.combined.rename(error)

    def finish(self) -> None:
        """Once the block has ended: write a combined file back to the default
        cassette, if the block wrote it."""
        combined = self.combined
        if combined is None:
            return
        try:
            if _state(self.file) != self._before:
                combined.write_back()
        finally:
            combined.cleanup()


class _CombinedCassette(Cassette):
    """The cassette of a block that replays a combined file: its ``path`` is
    the default cassette's."""

    __slots__ = ("_shown",)

    def __init__(self, view: Cassette, shown: Path) -> None:
        super().__init__(view._run)
        self._shown = shown

    @property
    def path(self) -> Path:
        return self._shown


def _state(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def _ignored_hosts(options: Mapping[str, Any]) -> list[str]:
    hosts = list(options["ignore_hosts"])
    if options["ignore_localhost"]:
        hosts += [host for host in LOCALHOST if host not in hosts]
    return hosts


def _passthrough_entry(host: str) -> str:
    """``host`` as a passthrough entry: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _match_on(
    options: Mapping[str, Any], registered: Mapping[str, Callable[..., Any]]
) -> list[Any]:
    """The matchers of ``match_on`` and ``additional_matchers``: the names of
    aiointercept's, and the functions registered under the other names."""
    from aiointercept._cassette.matching import MATCHERS

    matchers: list[Any] = []
    for entry in (*options["match_on"], *options["additional_matchers"]):
        if callable(entry):
            matchers.append(entry)
        elif entry in registered:
            matchers.append(registered[entry])
        elif _RENAMED_MATCHERS.get(entry, entry) in MATCHERS:
            matchers.append(_RENAMED_MATCHERS.get(entry, entry))
        else:
            known = [*MATCHERS, *_RENAMED_MATCHERS, *registered]
            raise ValueError(
                f"matcher {entry!r} is neither built in nor registered with "
                f"register_matcher(); known matchers: {', '.join(known)}"
            )
    return matchers


def _request_hook(
    options: Mapping[str, Any], ignored: list[str]
) -> Callable[[Any], Any] | None:
    """``before_record_request`` (its hooks in order), the requests to the
    ignored hosts left out first, as vcrpy does: never recorded, and never
    replayed (the file's own are left out as it is read)."""
    chain = hooks(options["before_record_request"])
    names = {host.strip("[]").lower() for host in ignored}
    if names:
        chain.insert(0, lambda request: None if request.host in names else request)
    return _run_in_order(chain)


def _chained(value: object) -> Callable[[Any], Any] | None:
    """A hook option (one hook or a list of them) as one hook."""
    return _run_in_order(hooks(value))


def _run_in_order(chain: list[Callable[[Any], Any]]) -> Callable[[Any], Any] | None:
    """One hook that runs those of ``chain`` in order, until one returns
    ``None``."""
    if not chain:
        return None
    if len(chain) == 1:
        return chain[0]

    def run(value: Any) -> Any:
        for hook in chain:
            value = hook(value)
            if value is None:
                return None
        return value

    return run
