"""Whole interactions, changed as a cassette file is read and written.

``after_load_interaction`` hooks see each interaction a file holds as it is
read, ``before_save_interaction`` hooks each one as the file is written:
``hook(request, response)`` (or ``hook(request, response, cassette)`` when it
takes a third argument), the request a :class:`.format.CassetteRequest`, the
response a dictionary in vcrpy's shape; a hook returns the pair, changed or
not, or ``None`` to leave the interaction out.

``filter_sensitive_data`` pairs a placeholder with the value it stands for
(or a function of the interaction that returns it): the value is written as
the placeholder after the user's save hooks, and the placeholder read back as
the value before the user's load hooks, so those hooks see real values.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from aiointercept._errors import CassetteError

from .format import CassetteRequest, CassetteResponse, Interaction
from .options import CassetteOptions, InteractionHook, SensitiveValue

__all__ = ["loaded", "saved", "sensitive_data"]

Pair = tuple[CassetteRequest, dict[str, Any]]


def loaded(
    options: CassetteOptions, interaction: Interaction, cassette: object
) -> Interaction | None:
    """``interaction``, read from the file, with its sensitive values put
    back, then through the ``after_load_interaction`` hooks (the caller
    knows there are some)."""
    where = interaction.origin
    pair: Pair | None = (interaction.request, interaction.response.as_dict())
    assert pair is not None
    if options.filter_sensitive_data:
        pair = _sensitive(options.filter_sensitive_data, pair, restore=True)
    pair = _run(options.after_load_interaction, pair, cassette, where, "loaded")
    return None if pair is None else _interaction(pair, where, interaction.number)


def saved(
    options: CassetteOptions, interactions: Sequence[Interaction], cassette: object
) -> list[Interaction]:
    """``interactions`` as they are written: each through the
    ``before_save_interaction`` hooks (given a copy), then with its sensitive
    values replaced by their placeholders."""
    if not (options.before_save_interaction or options.filter_sensitive_data):
        return list(interactions)
    result = []
    for interaction in interactions:
        where = interaction.origin
        pair: Pair | None = (
            interaction.request.copy(),
            interaction.response.as_dict(),
        )
        pair = _run(options.before_save_interaction, pair, cassette, where, "saved")
        if pair is None:
            continue
        if options.filter_sensitive_data:
            pair = _sensitive(options.filter_sensitive_data, pair, restore=False)
        result.append(_interaction(pair, where, interaction.number))
    return result


def sensitive_data(options: CassetteOptions, data: Any, *, restore: bool) -> Any:
    """A WebSocket conversation as the file holds it (its request, handshake
    and messages), each sensitive value replaced by its placeholder, or
    (``restore``) each placeholder by its value. A function that gives the
    value is called with the upgrade request and the handshake."""
    for placeholder, value in options.filter_sensitive_data:
        if callable(value):
            if not isinstance(data, dict) or not isinstance(data.get("request"), dict):
                continue
            request = CassetteRequest.from_dict(data["request"], "a websocket")
            secret = value(request, data.get("response") or {})
        else:
            secret = value
        if secret is None or not str(secret):
            continue
        old, new = (placeholder, str(secret)) if restore else (str(secret), placeholder)
        data = _replaced(data, old, new)
    return data


def _run(
    hooks: Sequence[InteractionHook],
    pair: Pair | None,
    cassette: object,
    where: str,
    when: str,
) -> Pair | None:
    for hook in hooks:
        if pair is None:
            return None
        name = getattr(hook, "__qualname__", repr(hook))
        try:
            result = hook(*pair, cassette) if _takes_three(hook) else hook(*pair)
        except Exception as exc:
            raise CassetteError(
                f"{where}: the interaction hook {name} failed as the cassette "
                f"was {when}, with {type(exc).__name__}: {exc}"
            ) from exc
        if result is not None and not (
            isinstance(result, tuple | list)
            and len(result) == 2
            and isinstance(result[0], CassetteRequest)
            and isinstance(result[1], dict)
        ):
            raise CassetteError(
                f"{where}: the interaction hook {name} must return (request, "
                f"response) or None, got {result!r}"
            )
        pair = None if result is None else (result[0], result[1])
    return pair


def _takes_three(hook: InteractionHook) -> bool:
    """Whether ``hook`` takes the cassette as a third positional argument."""
    try:
        signature = inspect.signature(hook)
    except (TypeError, ValueError):
        return False
    positional = 0
    for parameter in signature.parameters.values():
        if parameter.kind is parameter.VAR_POSITIONAL:
            return True
        if parameter.kind in (
            parameter.POSITIONAL_ONLY,
            parameter.POSITIONAL_OR_KEYWORD,
        ):
            positional += 1
    return positional >= 3


def _interaction(pair: Pair, where: str, number: int) -> Interaction:
    request, response = pair
    return Interaction(
        request,
        CassetteResponse.from_dict(response, f"{where}: the response of a hook"),
        where,
        number,
    )


def _sensitive(values: Sequence[SensitiveValue], pair: Pair, *, restore: bool) -> Pair:
    request, response = pair
    for placeholder, value in values:
        secret = value(request, response) if callable(value) else value
        if secret is None:
            continue
        secret = str(secret)
        if not secret:
            continue
        old, new = (placeholder, secret) if restore else (secret, placeholder)
        data = _replaced(request.as_dict(), old, new)
        request = CassetteRequest.from_dict(data, "filter_sensitive_data")
        response = _replaced(response, old, new)
    return request, response


def _replaced(value: Any, old: str, new: str) -> Any:
    """``value`` with ``old`` replaced by ``new`` in every string and bytes
    it holds (keys of mappings included)."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, bytes):
        return value.replace(old.encode(), new.encode())
    if isinstance(value, dict):
        return {
            _replaced(key, old, new): _replaced(item, old, new)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_replaced(item, old, new) for item in value]
    return value
