"""The journal: what one ``aiointercept`` instance received.

Every request by ``(METHOD, URL)`` key and in arrival order, the requests no
route answered, and the errors to raise when the block exits. The dispatcher
holds :attr:`Journal.lock` while it consumes a route's response and records
the request, so that the two are one step for every thread that serves.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from yarl import URL

from .request import RecordedRequest, RequestKey
from .urls import normalize_url

if TYPE_CHECKING:
    from aiointercept._errors import CallbackError

    from .diagnostics import UnmatchedRequest

__all__ = ["Journal", "RequestMap"]


class Journal:
    """The requests, unmatched requests and errors of one instance."""

    __slots__ = ("errors", "lock", "order", "requests", "unmatched")

    def __init__(self) -> None:
        #: Guards everything here, and the dispatcher's routes.
        self.lock = threading.Lock()
        #: ``m.requests``: by ``(METHOD, normalized URL)``.
        self.requests = RequestMap()
        #: Every request in ``requests``, in the order received.
        self.order: list[RecordedRequest] = []
        #: The requests no route answered, with the closest routes explained.
        self.unmatched: list[UnmatchedRequest] = []
        #: What went wrong serving (callbacks, handlers, predicates), raised
        #: at the block's exit.
        self.errors: list[CallbackError] = []

    def record(self, request: RecordedRequest) -> None:
        """Add a request; call with :attr:`lock` held."""
        self.requests.setdefault(request.key, []).append(request)
        self.order.append(request)

    def add_error(self, error: CallbackError) -> None:
        with self.lock:
            self.errors.append(error)

    def add_unmatched(self, unmatched: UnmatchedRequest) -> None:
        with self.lock:
            self.unmatched.append(unmatched)

    def take_errors(self) -> list[CallbackError]:
        """The errors so far, which are then forgotten."""
        with self.lock:
            errors, self.errors = self.errors, []
        return errors

    def snapshot(self) -> list[RecordedRequest]:
        """The requests received so far, in order (a copy)."""
        with self.lock:
            return list(self.order)

    def last(self) -> RecordedRequest | None:
        order = self.order
        return order[-1] if order else None

    def __len__(self) -> int:
        return len(self.order)

    def forget(self) -> None:
        """Forget the requests and unmatched requests, in place (route handles
        keep reading ``order``); call with :attr:`lock` held."""
        self.requests.clear()
        self.order.clear()
        self.unmatched.clear()


class RequestMap(dict[RequestKey, list[RecordedRequest]]):
    """``m.requests``: recorded requests by ``(METHOD, normalized URL)``.

    A plain dict, except that looking a key up normalizes it first, the way the
    keys were normalized: ``("get", "https://h:443/p?b=2&a=1")`` finds
    ``("GET", URL("https://h/p?a=1&b=2"))``, and a path such as ``"/p"`` means
    the server's URL followed by that path, as in ``add()``.
    """

    #: The server's base URL, for relative paths (set when the block starts).
    base_url: str | None = None

    def __getitem__(self, key: tuple[str, URL | str]) -> list[RecordedRequest]:
        return super().__getitem__(key)  # type: ignore[index]

    def __missing__(self, key: object) -> list[RecordedRequest]:
        normalized = _normalize_key(key, self.base_url)
        if (
            normalized is not None
            and normalized != key
            and dict.__contains__(self, normalized)
        ):
            return dict.__getitem__(self, normalized)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if dict.__contains__(self, key):
            return True
        normalized = _normalize_key(key, self.base_url)
        return normalized is not None and dict.__contains__(self, normalized)

    def get(  # type: ignore[override]
        self, key: tuple[str, URL | str], default: list[RecordedRequest] | None = None
    ) -> list[RecordedRequest] | None:
        try:
            return self[key]
        except KeyError:
            return default


def _normalize_key(key: object, base_url: str | None) -> RequestKey | None:
    if not (isinstance(key, tuple) and len(key) == 2):
        return None
    method, url = key
    if not isinstance(method, str) or not isinstance(url, str | URL):
        return None
    if base_url is not None and str(url).startswith("/"):
        url = base_url + str(url)
    try:
        return (method.upper(), normalize_url(url))
    except (TypeError, ValueError):
        return None
