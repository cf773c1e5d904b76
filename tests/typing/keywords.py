"""A misspelt keyword is a type error, for registration and the constructors.

Never run: mypy checks it (see the package's docstring). The functions below
are the calls a user writes; the ``call-arg`` ignores are the mistakes a type
checker must find.
"""

from __future__ import annotations

import re
from typing import Any

from yarl import URL

from aiointercept import (
    CallbackResult,
    Fault,
    RecordedRequest,
    RegisteredRoute,
    WebSocket,
    aiointercept,
)

URL_ = "https://api.example.com/x"


def misspelt_keywords(m: aiointercept) -> None:
    m.get(URL_, stauts=500)  # type: ignore[call-arg]
    m.post(URL_, paylaod={"id": 1})  # type: ignore[call-arg]
    m.put(URL_, bdy="x")  # type: ignore[call-arg]
    m.patch(URL_, jsno={})  # type: ignore[call-arg]
    m.delete(URL_, repaet=True)  # type: ignore[call-arg]
    m.head(URL_, header={"X": "y"})  # type: ignore[call-arg]
    m.options(URL_, match_qeury={"a": "1"})  # type: ignore[call-arg]
    m.add(URL_, "GET", stauts=500)  # type: ignore[call-arg]
    m.ws(URL_, _handler, repaet=True)  # type: ignore[call-arg]
    CallbackResult(stauts=500)  # type: ignore[call-arg]
    aiointercept(mock_external_url=True)  # type: ignore[call-arg]


def method_given_to_a_shortcut(m: aiointercept) -> None:
    m.get(URL_, method="POST")  # type: ignore[call-arg]


def every_keyword_of_add_is_one_of_the_shortcuts(m: aiointercept) -> None:
    """The shortcuts take every keyword of ``add()`` but ``method``."""

    def callback(url: URL, **kwargs: Any) -> CallbackResult:
        return CallbackResult()

    def match(request: RecordedRequest) -> bool:
        return True

    routes: list[RegisteredRoute] = [
        shortcut(
            re.compile(r"https://api\.example\.com/.*"),
            status=201,
            body=b"x",
            json=None,
            payload=None,
            headers={"X-A": "1"},
            content_type="text/plain",
            repeat=2,
            callback=callback,
            reason="Created",
            exception=None,
            match_query={"a": "1"},
            match_headers={"X-B": "2"},
            match_json=None,
            match_body=None,
            match_form=None,
            match=match,
            delay=0,
            fault=None,
            chunk_delay=0,
            compress=None,
        )
        for shortcut in (m.get, m.post, m.put, m.patch, m.delete, m.head, m.options)
    ]
    routes.append(m.get(URL(URL_), fault=Fault.HANG))


async def _handler(ws: WebSocket) -> None:
    await ws.close()
