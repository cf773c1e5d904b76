"""The cassette format: vcrpy's YAML, version 1, read and written.

This module knows the file and its schema, nothing about servers or matching::

    interactions:
    - request:
        body: null
        headers:
          Accept: ['*/*']
        method: GET
        uri: https://api.example.com/items?page=1
      response:
        body: {string: '[]'}
        headers:
          Content-Type: [application/json]
        status: {code: 200, message: OK}
    version: 1

Bodies that are UTF-8 text are written as strings, others as ``!!binary``;
both read back as ``bytes``. A compressed response body is stored decoded,
under its ``Content-Encoding`` header (vcrpy's way for requests and aiohttp;
see :func:`content_coding`), or as the compressed bytes. A response in the
shape that vcrpy's httpx support wrote before vcrpy 6 (``status_code``,
``http_version``, ``headers``, ``content``) is read too, and written in this
one. A request body stored as a mapping or a list (the ``json=`` or ``data=``
object that vcrpy's aiohttp recorder keeps as it was given) is read as JSON.
The text of the file, YAML or JSON, is parsed and written by :mod:`.files`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from multidict import CIMultiDict
from yarl import URL

from aiointercept._errors import CassetteError

from .files import collector_paused, dump, parse, require_yaml, write
from .streams import fit, read_chunks
from .structured import MARK, structured_data, unstructure

__all__ = [
    "JSON_BODIES",
    "CassetteRequest",
    "CassetteResponse",
    "Interaction",
    "content_coding",
    "interactions_of",
    "load",
    "read",
    "require_yaml",
    "save",
]

#: The one version of the format.
VERSION = 1

#: How JSON bodies may be written: as text (vcrpy's way), or as values.
JSON_BODIES = ("text", "structured")


class CassetteRequest:
    """A request as a cassette stores it, and as ``before_record_request``
    hooks see (and may change) it.

    ``headers`` is case-insensitive and mutable; ``body`` is ``bytes`` or
    ``None``.
    """

    __slots__ = ("_parsed", "body", "headers", "method", "uri")

    def __init__(
        self,
        method: str,
        uri: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    ) -> None:
        self.method = method
        self.uri = uri
        self.body = body
        self.headers: CIMultiDict[str] = CIMultiDict(headers)
        self._parsed: tuple[str, URL] | None = None

    @property
    def parsed_url(self) -> URL:
        """``uri`` parsed (once for each value it takes)."""
        parsed = self._parsed
        if parsed is None or parsed[0] is not self.uri:
            parsed = self._parsed = (self.uri, URL(self.uri, encoded=True))
        return parsed[1]

    @property
    def url(self) -> str:
        """``uri`` (vcrpy's name for it too)."""
        return self.uri

    @property
    def scheme(self) -> str:
        return self.parsed_url.scheme

    #: vcrpy's name for the scheme.
    protocol = scheme

    @property
    def host(self) -> str:
        return (self.parsed_url.raw_host or "").rstrip(".").lower()

    @property
    def port(self) -> int | None:
        return self.parsed_url.port

    @property
    def path(self) -> str:
        return self.parsed_url.raw_path

    @property
    def query(self) -> list[tuple[str, str]]:
        """The query parameters, sorted (as the ``query`` matcher compares them)."""
        return sorted(self.parsed_url.query.items())

    def as_dict(self) -> dict[str, Any]:
        """vcrpy's shape of a request in a cassette file."""
        return {
            "body": self.body,
            "headers": _header_dict(self.headers.items()),
            "method": self.method,
            "uri": self.uri,
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], where: str, *, structured: bool = False
    ) -> CassetteRequest:
        """Read a request; in a file written with ``json_bodies="structured"``,
        a body ``{json: ..., layout: ...}`` is a structured JSON body (in any
        other, a mapping is a JSON payload, as vcrpy's aiohttp support writes
        it)."""
        method, uri = data.get("method"), data.get("uri")
        if not isinstance(method, str) or not isinstance(uri, str):
            raise CassetteError(f"{where}: request.method and request.uri are needed")
        body = data.get("body")
        headers = _header_pairs(data.get("headers"), where)
        if structured and isinstance(body, Mapping) and "json" in body:
            return cls(
                method.upper(),
                uri,
                unstructure(dict(body), f"{where}: request.body"),
                headers,
            )
        if isinstance(body, Mapping | list) and not any(
            name.lower() == "content-type" for name, _ in headers
        ):
            # vcrpy's aiohttp recorder keeps the json= object as it was given,
            # without the Content-Type that aiohttp adds later: the body is
            # read as the JSON it was sent as
            headers.append(("Content-Type", "application/json"))
        return cls(method.upper(), uri, _bytes(body, where), headers)

    def copy(self) -> CassetteRequest:
        return CassetteRequest(self.method, self.uri, self.body, self.headers.items())

    def __repr__(self) -> str:
        return f"<CassetteRequest {self.method} {self.uri}>"


@dataclass
class CassetteResponse:
    """A recorded response."""

    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    #: A streamed body's chunks: their sizes, and the seconds before each
    #: (see :mod:`.streams`).
    chunks: list[int] | None = None
    pauses: list[float] | None = None

    def as_dict(self) -> dict[str, Any]:
        """vcrpy's shape, which ``before_record_response`` hooks receive (with
        the ``chunks`` and ``pauses`` of a streamed body, which vcrpy
        ignores)."""
        body: dict[str, Any] = {"string": self.body}
        if self.chunks is not None:
            body["chunks"] = list(self.chunks)
            if self.pauses is not None:
                body["pauses"] = list(self.pauses)
        return {
            "status": {"code": self.status, "message": self.reason},
            "headers": _header_dict(self.headers),
            "body": body,
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], where: str, *, from_file: bool = False
    ) -> CassetteResponse:
        """Read a response (``from_file``: as a cassette file holds it, whose
        chunks must fit its body; else as a hook returned it, whose chunks
        are fitted to its body)."""
        if "status" not in data and "status_code" in data:
            return cls._from_old_httpx_dict(data, where)
        status = data.get("status")
        if not isinstance(status, Mapping) or not isinstance(status.get("code"), int):
            raise CassetteError(f"{where}: response.status.code must be an int")
        body = data.get("body")
        chunks: list[int] | None = None
        pauses: list[float] | None = None
        if isinstance(body, Mapping) and "json" in body:
            content = unstructure(
                {k: v for k, v in body.items() if k not in ("chunks", "pauses")},
                f"{where}: response.body",
            )
        else:
            raw = body.get("string") if isinstance(body, Mapping) else body
            content = _bytes(raw, where) or b""
        headers = _header_pairs(data.get("headers"), where)
        if isinstance(body, Mapping) and content:
            chunks, pauses = read_chunks(body, len(content), where, strict=from_file)
            if not from_file:
                content_type = next(
                    (v for n, v in headers if n.lower() == "content-type"), None
                )
                chunks, pauses = fit(content, chunks, pauses, content_type)
        return cls(
            status=status["code"],
            reason=str(status.get("message") or ""),
            headers=headers,
            body=content,
            chunks=chunks,
            pauses=pauses,
        )

    @classmethod
    def _from_old_httpx_dict(
        cls, data: Mapping[str, Any], where: str
    ) -> CassetteResponse:
        """The shape vcrpy's httpx support wrote before vcrpy 6:
        ``{status_code, http_version, headers, content}``, the body as text
        (decoded from any ``Content-Encoding``, which stays among the headers),
        no reason phrase (the status code's own is sent)."""
        status = data.get("status_code")
        if not isinstance(status, int) or isinstance(status, bool):
            raise CassetteError(f"{where}: response.status_code must be an int")
        return cls(
            status=status,
            reason="",
            headers=_header_pairs(data.get("headers"), where),
            body=_bytes(data.get("content"), where) or b"",
        )


@dataclass
class Interaction:
    """One request and the response it got."""

    request: CassetteRequest
    response: CassetteResponse
    #: Where it comes from, for messages: ``"file.yaml, interaction 3"``.
    origin: str = ""
    #: Its number in the file it was read from (from 1), or 0 for a new one.
    number: int = 0


def content_coding(headers: Iterable[tuple[str, str]]) -> str | None:
    """The ``Content-Encoding`` of a body with these headers, lower-cased, or
    ``None`` when it has none (or ``identity``)."""
    for name, value in headers:
        if name.lower() == "content-encoding" and value.strip().lower() != "identity":
            return value.strip().lower()
    return None


def load(path: Path, serializer: str = "yaml") -> list[Interaction]:
    """Read the interactions of the cassette at ``path``, written in
    ``serializer``'s format (``"yaml"`` or ``"json"``)."""
    return interactions_of(read(path, serializer), path)


@collector_paused
def read(path: Path, serializer: str = "yaml") -> object:
    """The data of the cassette file at ``path`` (``None`` when empty)."""
    return parse(path, serializer)


@collector_paused
def interactions_of(data: object, path: Path) -> list[Interaction]:
    """The interactions of ``data``, read from the cassette file at ``path``."""
    if data is None:
        return []
    if not isinstance(data, Mapping) or not isinstance(
        data.get("interactions", []), list
    ):
        raise CassetteError(
            f"{path} is not a cassette: expected a mapping with 'interactions'"
        )
    version = data.get("version", VERSION)
    if version != VERSION:
        raise CassetteError(
            f"{path}: cassette version {version!r} is not supported (only {VERSION})"
        )
    json_bodies = data.get("json_bodies", "text")
    if json_bodies not in JSON_BODIES:
        raise CassetteError(
            f"{path}: json_bodies must be one of {', '.join(JSON_BODIES)}, got "
            f"{json_bodies!r}"
        )
    structured = json_bodies == "structured"
    interactions = []
    for index, item in enumerate(data.get("interactions") or []):
        where = f"{path}, interaction {index + 1}"
        if not isinstance(item, Mapping):
            raise CassetteError(f"{where}: expected a mapping")
        request, response = item.get("request"), item.get("response")
        if not isinstance(request, Mapping) or not isinstance(response, Mapping):
            raise CassetteError(f"{where}: needs a 'request' and a 'response'")
        interactions.append(
            Interaction(
                CassetteRequest.from_dict(request, where, structured=structured),
                CassetteResponse.from_dict(response, where, from_file=True),
                where,
                index + 1,
            )
        )
    return interactions


def save(
    path: Path,
    interactions: Iterable[Interaction],
    serializer: str = "yaml",
    json_bodies: str = "text",
    websockets: list[dict[str, Any]] | None = None,
) -> None:
    """Write a cassette at ``path``, in ``serializer``'s format: to a
    temporary file beside it, then renamed over it, so that a cassette is
    never half-written. With ``json_bodies="structured"``, JSON bodies are
    written as values (see :mod:`.structured`), and the file says so.
    ``websockets``, the recorded WebSocket conversations, go under a key of
    their own, which vcrpy does not read."""
    data: dict[str, Any] = {
        "interactions": [
            {"request": item.request.as_dict(), "response": item.response.as_dict()}
            for item in interactions
        ],
        "version": VERSION,
    }
    if websockets:
        data["websockets"] = websockets
    structured = json_bodies == "structured"
    if structured:
        data = {"json_bodies": "structured", **structured_data(data)}
    if serializer == "json":
        _check_text_bodies(data, path)
    text = dump(_bodies_as_text(data), serializer, sort_keys=not structured)
    write(path, MARK + text if structured and serializer == "yaml" else text)


def _check_text_bodies(data: dict[str, Any], path: Path) -> None:
    """JSON has no bytes: a body that is not UTF-8 text cannot be written."""
    for item in data["interactions"]:
        for part in ("request", "response"):
            body = item[part]["body"]
            if isinstance(body, dict) and "json" in body:
                continue
            body = body["string"] if isinstance(body, dict) else body
            if body is not None and not isinstance(_text_or_bytes(body), str):
                raise CassetteError(
                    f"cassette {path} was not written: the {part} of "
                    f"{item['request']['method']} {item['request']['uri']} has a "
                    "binary body, which JSON cannot hold; use serializer='yaml'"
                )


def _bodies_as_text(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with UTF-8 bodies as strings, readable in the file (the
    structured ones as they are)."""
    for item in data["interactions"]:
        request, response = item["request"], item["response"]
        if not isinstance(request["body"], dict):
            request["body"] = _text_or_bytes(request["body"])
        if "string" in response["body"]:
            response["body"] = {
                **response["body"],
                "string": _text_or_bytes(response["body"]["string"]),
            }
    return data


def _header_dict(headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for name, value in headers:  # str(): multidict's names are a str subclass
        result.setdefault(str(name), []).append(str(value))
    return result


def _header_pairs(headers: object, where: str) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if not isinstance(headers, Mapping):
        raise CassetteError(f"{where}: headers must be a mapping")
    pairs = []
    for name, values in headers.items():
        for value in values if isinstance(values, list) else [values]:
            pairs.append((str(name), str(value)))
    return pairs


def _bytes(value: object, where: str) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, Mapping | list):  # a JSON payload, as vcrpy's aiohttp
        return json.dumps(value).encode("utf-8")  # recorder stores it
    raise CassetteError(f"{where}: a body must be a string, got {value!r}")


def _text_or_bytes(body: bytes | None) -> str | bytes | None:
    """UTF-8 text as a string (readable in the file), anything else as bytes."""
    if body is None:
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body
