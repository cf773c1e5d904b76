"""The ``@aiointercept()`` decorator: each call of the decorated async
function runs in a fresh block of its own."""

from __future__ import annotations

import functools
import inspect
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from ._block import BlockLifecycle

__all__ = ["decorate"]

R = TypeVar("R")


def decorate(
    template: BlockLifecycle, func: Callable[..., Awaitable[R]]
) -> Callable[..., Coroutine[Any, Any, R]]:
    if not inspect.iscoroutinefunction(func):
        raise TypeError(
            f"@aiointercept decorates async functions, got {func!r}; in "
            "synchronous code use 'with aiointercept() as m:'"
        )
    signature = inspect.signature(func)
    parameters = list(signature.parameters.values())
    name = template.param
    if name is not None:
        injected = signature.parameters.get(name)
        if injected is None and not any(p.kind is p.VAR_KEYWORD for p in parameters):
            raise TypeError(f"{func.__qualname__}() has no parameter named {name!r}")
        if injected is not None and injected.kind is injected.POSITIONAL_ONLY:
            raise TypeError(
                f"param={name!r} names a positional-only parameter of "
                f"{func.__qualname__}()"
            )
        visible = [p for p in parameters if p.name != name]
    else:
        positional = [
            p
            for p in parameters
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        if not positional:
            raise TypeError(
                f"{func.__qualname__}() has no positional parameter to receive the "
                "aiointercept instance; add one, or name one with param="
            )
        injected = positional[-1]
        visible = [p for p in parameters if p is not injected]
    visible_signature = signature.replace(parameters=visible)
    target = injected.name if injected is not None else None
    var_keyword = next((p.name for p in parameters if p.kind is p.VAR_KEYWORD), "")

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> R:
        bound = visible_signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = bound.arguments
        async with template._fresh() as mock:
            if target is not None:
                arguments[target] = mock
            else:  # param= names no parameter: pass it through **kwargs
                arguments[var_keyword] = {**arguments[var_keyword], name: mock}
            call = inspect.BoundArguments(
                signature,
                OrderedDict(
                    (p, arguments[p]) for p in signature.parameters if p in arguments
                ),
            )
            return await func(*call.args, **call.kwargs)

    wrapper.__signature__ = visible_signature  # type: ignore[attr-defined]
    return wrapper
