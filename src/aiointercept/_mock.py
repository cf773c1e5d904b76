"""The ``aiointercept`` facade: the constructor, registration and inspection.

The block's lifecycle is :class:`._block.BlockLifecycle`, the decorator is
:mod:`._decorator`, the checked arguments are :mod:`._options`, and the
routes are built by :mod:`._core.registration`.
"""

from __future__ import annotations

import os
import re
from collections.abc import (
    Awaitable,
    Callable,
    Coroutine,
    Mapping,
    Sequence,
)
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from yarl import URL

from ._adapters import PassthroughHost
from ._block import BlockLifecycle
from ._cassette.options import (
    DEFAULT_MATCH_ON,
    Filter,
    InteractionHook,
    MatcherFunction,
    RequestHook,
    ResponseHook,
)
from ._cassette.view import Cassette
from ._children import proxy_env
from ._core.assertions import (
    MOCK,
    CallCountAssertions,
    CallSpec,
    expect_any_call,
    expect_called_with,
    expected_key,
    explain_key,
    ignore_extra_keywords,
)
from ._core.diagnostics import UnmatchedRequest
from ._core.handles import RegisteredRoute
from ._core.journal import RequestMap
from ._core.keywords import NoMoreKeywords, unexpected_keywords
from ._core.registration import Registry
from ._core.request import RecordedRequest, RequestKey
from ._decorator import decorate
from ._options import CALLBACK_START_TIMEOUT, check_options
from ._settings import strictness
from ._tls import TlsFault, TlsSettings, authority, check_client_ca, check_tls_fault

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["aiointercept"]

R = TypeVar("R")


# the public name is lower-case by design
class aiointercept(BlockLifecycle, Registry, CallCountAssertions):
    """Answer HTTP requests from a real local server for the duration of a block.

    Use it as ``async with aiointercept() as m:``; as ``with aiointercept() as
    m:`` in synchronous code; with ``await m.start()`` and ``await m.stop()``
    from set-up and tear-down hooks; or as a decorator on an async function,
    which then receives a copy of the instance as its last positional argument
    (or as the keyword argument named by ``param``). The first four parameters
    may be given positionally.

    :param mock_external_urls: make the requests that the process sends to
        any host (hard-coded URLs, in any client) reach the mock, by
        intercepting name lookups and connections in the standard library for
        the duration of the block (see "Interception modes" in the docs).
    :param passthrough: hosts whose requests reach the real network; requires
        ``mock_external_urls=True``.
    :param passthrough_unmatched: proxy unmatched requests to the real network;
        requires ``mock_external_urls=True``.
    :param block_network: with ``mock_external_urls=True``, make any other TCP
        connection to an address outside this machine (one that no adapter
        sends to the mock) fail with :exc:`~aiointercept.NetworkBlockedError`,
        unless ``passthrough`` or ``passthrough_unmatched`` lets it through.
        ``False`` turns this guard off.
    :param param: when used as a decorator, the keyword argument name under which
        the instance is passed.
    :param callback_start_timeout: seconds an async callback may wait for the
        test's event loop before its request gets a ``503`` saying that the loop
        is blocked.
    :param assert_all_called: when the block exits, raise
        :exc:`~aiointercept.StrictCheckError` if a route served no request.
        ``None`` (the default) means ``False``, unless the pytest plugin's
        strict option (``aiointercept_strict``) is on for the running test.
    :param assert_all_matched: when the block exits, raise
        :exc:`~aiointercept.StrictCheckError` if a request matched no route;
        ``None`` as for ``assert_all_called``.
    :param cassette: a cassette file (vcrpy's YAML format) to replay recorded
        interactions from and record new ones to; requires
        ``mock_external_urls=True``. See "Recording and replaying".
    :param record_mode: ``"none"``, ``"once"``, ``"new_episodes"``, ``"all"``
        or ``"rewrite"``, with vcrpy's (and pytest-recording's) meanings; or
        ``"verify"``: send every request to the real host, write nothing, and
        raise :exc:`~aiointercept.CassetteError` at the exit for every live
        response that differs from its recording.
    :param match_on: the vcrpy matcher names a request must share with a
        recorded one to replay it, or matcher functions ``(live, recorded)``
        that raise :exc:`AssertionError` (or return ``False``) when the two
        differ.
    :param filter_headers: request headers left out of recordings (names, or
        ``(name, replacement)`` pairs, the replacement a string or a function
        ``(key=, value=, request=)``), besides those the built-in scrubbing
        replaces.
    :param filter_query_parameters: query parameters left out of recordings;
        when given, the query is rebuilt sorted and encoded again, as vcrpy
        does.
    :param filter_post_data_parameters: form or JSON body fields left out of
        recordings.
    :param before_record_request: called with each request before it is
        recorded or matched, and with each one the cassette holds when it is
        read; returns it (changed or not), or ``None`` to leave it out.
    :param before_record_response: called with each response (a dict in
        vcrpy's shape) before it is recorded, and with each one the cassette
        holds when it is read; returns it, or ``None``.
    :param scrub_secrets: replace the values of the common secret headers
        (``Authorization``, ``Cookie``, ``Set-Cookie``, ``X-Api-Key``...),
        query parameters and form or JSON body fields (``access_token``,
        ``api_key``, ``password``...) with ``SCRUBBED`` in what is recorded;
        ``False`` records them as they are. See "Scrubbing secrets".
    :param allow_playback_repeats: an interaction may answer more than once.
    :param decode_compressed_response: record compressed bodies decoded.
    :param drop_unused_requests: write the cassette without what did not play.
    :param record_on_exception: write it when the block raises, too.
    :param serializer: the file's format, ``"yaml"`` or ``"json"``.
    :param before_save_interaction: hooks of each interaction as it is written.
    :param after_load_interaction: hooks of each interaction as it is read.
    :param filter_sensitive_data: placeholders written for secret values.
    :param json_bodies: ``"structured"`` writes JSON bodies as YAML values.
    :param stream_timing: replay streamed chunks with their recorded pauses.
    """

    def __init__(
        self,
        mock_external_urls: bool = False,
        passthrough: list[str] | None = None,
        passthrough_unmatched: bool = False,
        param: str | None = None,
        *,
        callback_start_timeout: float = CALLBACK_START_TIMEOUT,
        assert_all_called: bool | None = None,
        assert_all_matched: bool | None = None,
        block_network: bool = True,
        cassette: str | os.PathLike[str] | None = None,
        record_mode: str = "once",
        match_on: Sequence[str | MatcherFunction] = DEFAULT_MATCH_ON,
        filter_headers: Sequence[str | Filter] = (),
        filter_query_parameters: Sequence[str | Filter] = (),
        filter_post_data_parameters: Sequence[str | Filter] = (),
        before_record_request: RequestHook | None = None,
        before_record_response: ResponseHook | None = None,
        scrub_secrets: bool = True,
        allow_playback_repeats: bool = False,
        decode_compressed_response: bool = False,
        drop_unused_requests: bool = False,
        record_on_exception: bool = True,
        serializer: str = "yaml",
        before_save_interaction: InteractionHook
        | Sequence[InteractionHook]
        | None = None,
        after_load_interaction: InteractionHook
        | Sequence[InteractionHook]
        | None = None,
        filter_sensitive_data: Mapping[str, str | Callable[..., object]]
        | Sequence[tuple[str, str | Callable[..., object]]] = (),
        json_bodies: str = "text",
        stream_timing: bool = False,
        **unknown: Unpack[NoMoreKeywords],
    ) -> None:
        if unknown:
            raise unexpected_keywords("aiointercept()", aiointercept.__init__, unknown)
        options = check_options(
            mock_external_urls,
            passthrough,
            passthrough_unmatched,
            param,
            callback_start_timeout=callback_start_timeout,
            assert_all_called=assert_all_called,
            assert_all_matched=assert_all_matched,
            block_network=block_network,
            cassette=cassette,
            cassette_arguments={
                "record_mode": record_mode,
                "match_on": match_on,
                "filter_headers": filter_headers,
                "filter_query_parameters": filter_query_parameters,
                "filter_post_data_parameters": filter_post_data_parameters,
                "before_record_request": before_record_request,
                "before_record_response": before_record_response,
                "scrub_secrets": scrub_secrets,
                "allow_playback_repeats": allow_playback_repeats,
                "decode_compressed_response": decode_compressed_response,
                "drop_unused_requests": drop_unused_requests,
                "record_on_exception": record_on_exception,
                "serializer": serializer,
                "before_save_interaction": before_save_interaction,
                "after_load_interaction": after_load_interaction,
                "filter_sensitive_data": filter_sensitive_data,
                "json_bodies": json_bodies,
                "stream_timing": stream_timing,
            },
        )
        self._options = options
        self.mock_external_urls = options.mock_external_urls
        #: The passthrough entries, as given.
        self.passthrough: tuple[str, ...] = options.passthrough
        self.passthrough_unmatched = options.passthrough_unmatched
        self.block_network = options.block_network
        self.param = options.param
        self.callback_start_timeout = options.callback_start_timeout
        self.assert_all_called, self.assert_all_matched = strictness.resolve(
            *options.strict
        )
        self._new_state()

    def __call__(
        self, func: Callable[..., Awaitable[R]]
    ) -> Callable[..., Coroutine[Any, Any, R]]:
        """Decorate an async function: each call runs in a fresh block."""
        return decorate(self, func)

    # -- TLS ----------------------------------------------------------------------

    @property
    def cassette(self) -> Cassette | None:
        """The block's cassette, read-only (``play_count``, ``all_played``,
        ``requests``, ``responses``... as vcrpy names them): from the block's
        entry on, and after its exit until the next entry; ``None`` when it
        has no cassette or never ran."""
        return self._cassette_view

    @property
    def ca_pem(self) -> str:
        """The PEM text of the certificate authority that issues the
        certificates of intercepted ``https`` hosts, for a program that must
        be given it (a subprocess, a client that loads its own trust store).
        There is one per process, made on first use; its key never leaves
        memory. Clients in the process trust it without being told (see
        "TLS" in the docs)."""
        return authority().pem

    def tls(
        self,
        host: str,
        *,
        fault: TlsFault | None = None,
        client_ca: str | bytes | None = None,
    ) -> None:
        """Set how the TLS handshake of an ``https`` host goes, for this
        instance's blocks: intercepted in the process
        (``mock_external_urls=True``) or sent through :attr:`proxy_url`.

        :param host: ``"api.example.com"``, with a port (``"api.example.com:8443"``)
            or an ``https://`` URL; without a port, every port of the host.
        :param fault: ``"untrusted"`` (a certificate from an authority nobody
            trusts), ``"wrong_host"`` (a certificate for another name),
            ``"expired"``, or ``"refused"`` (the server refuses the
            handshake). The client raises its real TLS error; no request
            reaches a route.
        :param client_ca: mutual TLS: the PEM of the certificate authority
            whose client certificates the host requires. A client without
            such a certificate fails its handshake; a request from one that
            has it records the certificate's subject in
            :attr:`RecordedRequest.client_cert_subject`.

        With neither, the host's handshake is a plain one again.
        """
        __tracebackhide__ = True
        key = _tls_host(host)
        settings = TlsSettings(check_tls_fault(fault), check_client_ca(client_ca))
        if settings == TlsSettings():
            self._tls_hosts.pop(key, None)
        else:
            self._tls_hosts[key] = settings

    # -- programs outside the process ----------------------------------------------

    @property
    def proxy_url(self) -> str:
        """The block's address as an HTTP proxy, such as
        ``"http://127.0.0.1:54321"``, for programs outside the process (a
        subprocess, a client with its own networking): their ``http://``
        requests and ``CONNECT`` tunnels for ``https://`` meet this block's
        routes, records and faults, whatever the mode. Asking for it stops
        the warnings about routes for other hosts (``UnreachableRouteWarning``)
        for the rest of the block."""
        __tracebackhide__ = True
        self._check_running("proxy_url is set while the block runs")
        self._use_proxy()
        return self.server_url

    def proxy_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment that sends a child process's requests through
        :attr:`proxy_url`: ``base`` (``os.environ`` by default) with
        ``HTTP_PROXY``, ``HTTPS_PROXY`` and ``ALL_PROXY`` (upper and lower
        case), ``NO_PROXY`` for loopback, ``NODE_USE_ENV_PROXY=1``, and the
        process's certificate authority for ``SSL_CERT_FILE``,
        ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, ``GIT_SSL_CAINFO`` (a
        bundle of the system's authorities plus it) and
        ``NODE_EXTRA_CA_CERTS``. The files it names live as long as the block.

        ``subprocess.run([...], env=m.proxy_env())``.
        """
        __tracebackhide__ = True
        if base is not None and not isinstance(base, Mapping):
            raise TypeError(
                f"proxy_env() takes a mapping of variables as base, got {base!r}"
            )
        proxy_url = self.proxy_url
        return proxy_env(
            proxy_url, self._child_files, os.environ if base is None else base
        )

    # -- inspection --------------------------------------------------------------

    @property
    def requests(self) -> RequestMap:
        """Every request received, keyed by ``(METHOD, normalized yarl.URL)``."""
        return self._dispatcher.journal.requests

    def clear(self) -> None:
        """Drop every registered route, recorded request and unmatched-request
        report; the server stays up."""
        self._dispatcher.clear()
        self._outside.clear()

    @property
    def unmatched(self) -> list[UnmatchedRequest]:
        """The requests no route answered, oldest first, each with the closest
        routes and why they did not match."""
        return self._dispatcher.journal.unmatched

    @property
    def call_count(self) -> int:
        """How many requests the server received (those in :attr:`requests`)."""
        return len(self._dispatcher.journal)

    @property
    def last_request(self) -> RecordedRequest | None:
        """The most recently received request, or ``None``."""
        return self._dispatcher.journal.last()

    @property
    def ordered_requests(self) -> list[tuple[RequestKey, RecordedRequest]]:
        """Every request received, across URLs, in arrival order, as
        ``((METHOD, normalized URL), request)`` pairs (a copy): the keys of
        :attr:`requests`."""
        return [
            (request.key, request) for request in self._dispatcher.journal.snapshot()
        ]

    @property
    def handlers(
        self,
    ) -> Mapping[tuple[URL | re.Pattern[str], str], tuple[RegisteredRoute, ...]]:
        """The registered routes, read-only: ``(url, METHOD)`` (the normalized
        URL or the compiled pattern) to their handles, in registration order.
        Empty after :meth:`clear`."""
        with self._dispatcher.lock:
            routes = self._dispatcher.router.routes()
        view: dict[tuple[URL | re.Pattern[str], str], list[RegisteredRoute]] = {}
        for route in routes:
            view.setdefault((route.url, route.method), []).append(self._handle(route))
        return MappingProxyType({key: tuple(value) for key, value in view.items()})

    # -- assertions --------------------------------------------------------------

    _subject = MOCK

    def _calls(self) -> list[RecordedRequest]:
        return list(self._dispatcher.journal.order)

    def _calls_to(
        self, url: object, method: object, params: object
    ) -> tuple[list[RecordedRequest], dict[str, Any]]:
        """The calls to ``method`` ``url``, and how an expectation on them
        names them and ranks the others when there is none."""
        key = expected_key(url, method, params, lambda: self.server_url)
        journal = self._calls()
        calls = [request for request in journal if request.key == key]
        scope = {
            "subject": f"{key[0]} {key[1]}",
            "similar": journal,
            "explain": explain_key(key),
        }
        return calls, scope

    def assert_any_call(
        self,
        url: str | URL,
        method: str = "GET",
        params: Mapping[str, Any] | None = None,
        *,
        data: str | bytes | Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        strict_headers: bool = False,
        **extra: Any,
    ) -> None:
        """Some request went to ``method`` ``url`` (``params`` added to its
        query); when ``data``, ``json`` or ``headers`` are given, one such
        request also meets them (see :meth:`assert_called_with`)."""
        __tracebackhide__ = True
        ignore_extra_keywords("assert_any_call", extra)
        spec = CallSpec.build(
            data=data, json=json, headers=headers, strict_headers=strict_headers
        )
        calls, scope = self._calls_to(url, method, params)
        expect_any_call(calls, spec, **scope)

    def assert_called_with(
        self,
        url: str | URL,
        method: str = "GET",
        params: Mapping[str, Any] | None = None,
        data: str | bytes | Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        strict_headers: bool = False,
        **extra: Any,
    ) -> None:
        """The most recent request to ``method`` ``url`` (``params`` added to
        its query) meets every expectation given.

        ``data`` as ``bytes`` or ``str`` is compared with the raw body, as a
        mapping with a URL-encoded form body; ``json`` with the body parsed as
        JSON; ``headers`` must all be present with these values (names are
        case-insensitive), and with ``strict_headers=True`` no other header
        may be present. Arguments left at ``None``, or given as
        :data:`unittest.mock.ANY`, are not checked. A relative ``url`` such as
        ``"/users"`` means ``server_url + "/users"``.

        Any other keyword (such as the client options ``ssl=``, ``timeout=``
        or ``allow_redirects=`` that aioresponses-era tests pass) is not
        checked: it is ignored with a :exc:`DeprecationWarning` that names it,
        and starts with aiointercept 1.0.0's words, "Passing extra parameters
        to assert_called_with". A keyword close to one of the parameters above
        (``jsno=`` for ``json=``) is a :exc:`TypeError` that says "did you
        mean 'json'?".
        """
        __tracebackhide__ = True
        ignore_extra_keywords("assert_called_with", extra)
        spec = CallSpec.build(
            data=data, json=json, headers=headers, strict_headers=strict_headers
        )
        calls, scope = self._calls_to(url, method, params)
        expect_called_with(calls, spec, once=False, **scope)

    def assert_called_once_with(
        self,
        url: str | URL,
        method: str = "GET",
        params: Mapping[str, Any] | None = None,
        data: str | bytes | Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        strict_headers: bool = False,
        **extra: Any,
    ) -> None:
        """Exactly one request went to ``method`` ``url``, and it meets every
        expectation given (see :meth:`assert_called_with`)."""
        __tracebackhide__ = True
        ignore_extra_keywords("assert_called_once_with", extra)
        spec = CallSpec.build(
            data=data, json=json, headers=headers, strict_headers=strict_headers
        )
        calls, scope = self._calls_to(url, method, params)
        expect_called_with(calls, spec, once=True, **scope)


def _tls_host(host: object) -> tuple[str, int | None]:
    """``(host, port or None)`` of a ``tls()`` host: a name, ``name:port``
    or an ``https://`` URL."""
    if not isinstance(host, str):
        raise TypeError(f"host must be a str, got {type(host).__name__}")
    try:
        entry = PassthroughHost.parse(host)
    except ValueError:
        entry = None
    if entry is None or entry.scheme == "http":
        raise ValueError(
            f"host must be a host name, 'host:port' or an https:// URL, got {host!r}"
        )
    port = entry.port
    if "://" in host and URL(host).explicit_port is None:
        port = None
    return entry.host, port
