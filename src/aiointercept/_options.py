"""The constructor's arguments, checked once, where the mistake is made.

:func:`check_options` raises ``TypeError`` or ``ValueError`` naming the bad
value, and returns an immutable :class:`Options` that the facade, its block
and the pytest plugin's shared session read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ._adapters import PassthroughHost
from ._cassette.options import (
    CassetteOptions,
    cassette_defaults,
    check_cassette_options,
)

__all__ = ["CALLBACK_START_TIMEOUT", "Options", "check_options"]

#: ``callback_start_timeout``'s default, in seconds.
CALLBACK_START_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class Options:
    """What ``aiointercept(...)`` was given, checked."""

    mock_external_urls: bool
    #: The passthrough entries, as given, and parsed.
    passthrough: tuple[str, ...]
    passthrough_hosts: tuple[PassthroughHost, ...]
    passthrough_unmatched: bool
    block_network: bool
    param: str | None
    callback_start_timeout: float
    #: ``assert_all_called`` and ``assert_all_matched`` as given: ``None``
    #: follows the suite's default, resolved at each entry.
    strict: tuple[bool | None, bool | None]
    cassette: CassetteOptions | None


#: What :func:`check_options` answers when every argument is left out: the
#: options are immutable, so every such instance shares them.
_DEFAULT_OPTIONS: Options | None = None


def check_options(
    mock_external_urls: object,
    passthrough: object,
    passthrough_unmatched: object,
    param: object,
    *,
    callback_start_timeout: object,
    assert_all_called: object,
    assert_all_matched: object,
    block_network: object,
    cassette: object,
    cassette_arguments: Mapping[str, object],
) -> Options:
    """Check the arguments of ``aiointercept(...)``."""
    global _DEFAULT_OPTIONS
    # what most instances are given: every argument left out (each checked
    # by identity, or by type and value, so that no other value passes)
    defaults = (
        mock_external_urls is False
        and passthrough is None
        and passthrough_unmatched is False
        and param is None
        and type(callback_start_timeout) is float
        and callback_start_timeout == CALLBACK_START_TIMEOUT
        and assert_all_called is None
        and assert_all_matched is None
        and block_network is True
        and cassette is None
        and cassette_defaults(cassette_arguments)
    )
    if defaults and _DEFAULT_OPTIONS is not None:
        return _DEFAULT_OPTIONS
    if callable(mock_external_urls):
        raise TypeError(
            "aiointercept is a decorator factory: write @aiointercept() (with "
            f"parentheses), not @aiointercept, above {mock_external_urls!r}"
        )
    if not isinstance(mock_external_urls, bool):
        raise TypeError(
            f"mock_external_urls must be a bool, got {mock_external_urls!r}"
        )
    if not isinstance(passthrough_unmatched, bool):
        raise TypeError(
            f"passthrough_unmatched must be a bool, got {passthrough_unmatched!r}"
        )
    given_passthrough, passthrough_hosts = _check_passthrough(passthrough)
    if not isinstance(block_network, bool):
        raise TypeError(f"block_network must be a bool, got {block_network!r}")
    if (
        given_passthrough or passthrough_unmatched or not block_network
    ) and not mock_external_urls:
        given = (
            "passthrough"
            if given_passthrough
            else "passthrough_unmatched"
            if passthrough_unmatched
            else "block_network=False"
        )
        raise ValueError(f"{given} requires mock_external_urls=True")
    if param is not None and not (isinstance(param, str) and param.isidentifier()):
        raise (ValueError if isinstance(param, str) else TypeError)(
            f"param must be a Python identifier or None, got {param!r}"
        )
    if isinstance(callback_start_timeout, bool) or not isinstance(
        callback_start_timeout, int | float
    ):
        raise TypeError(
            "callback_start_timeout must be a positive number of seconds, "
            f"got {callback_start_timeout!r}"
        )
    if not callback_start_timeout > 0:
        raise ValueError(
            "callback_start_timeout must be a positive number of seconds, "
            f"got {callback_start_timeout!r}"
        )
    for name, value in (
        ("assert_all_called", assert_all_called),
        ("assert_all_matched", assert_all_matched),
    ):
        if value is not None and not isinstance(value, bool):
            raise TypeError(f"{name} must be a bool or None, got {value!r}")
    cassette_options = check_cassette_options(cassette, **cassette_arguments)
    if cassette_options is not None and not mock_external_urls:
        raise ValueError("cassette requires mock_external_urls=True")
    options = Options(
        mock_external_urls=mock_external_urls,
        passthrough=given_passthrough,
        passthrough_hosts=passthrough_hosts,
        passthrough_unmatched=passthrough_unmatched,
        block_network=block_network,
        param=param,
        callback_start_timeout=float(callback_start_timeout),
        strict=(assert_all_called, assert_all_matched),  # type: ignore[arg-type]
        cassette=cassette_options,
    )
    if defaults:
        _DEFAULT_OPTIONS = options
    return options


def _check_passthrough(
    passthrough: object,
) -> tuple[tuple[str, ...], tuple[PassthroughHost, ...]]:
    """The entries as given, and parsed."""
    if passthrough is None:
        return (), ()
    if isinstance(passthrough, str | bytes) or not isinstance(passthrough, Iterable):
        raise TypeError(
            f"passthrough must be a list of hosts such as 'https://api.example.com', "
            f"got {passthrough!r}"
        )
    entries = tuple(passthrough)
    for item in entries:
        if not isinstance(item, str):
            raise TypeError(f"passthrough entries must be str, got {item!r}")
    return entries, tuple(PassthroughHost.parse(item) for item in entries)
