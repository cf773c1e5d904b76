"""The built-in scrubbing: secrets a cassette never writes down unless told to.

When a cassette records (and only then: the interactions a file already holds
are never changed), :func:`scrub_request` and :func:`scrub_response` replace
the values of

- the headers of :data:`SECRET_HEADERS`, in requests and in responses;
- the query parameters of :data:`SECRET_QUERY_PARAMETERS`;
- the fields of :data:`SECRET_FIELDS` in URL-encoded form bodies and in JSON
  bodies (at any depth: objects in objects, objects in arrays), when the
  ``Content-Type`` says JSON and the body parses

with :data:`MARKER`. The names of parameters and fields are compared in any
case and without ``-`` or ``_`` (``access_token``, ``accessToken`` and
``Access-Token`` are one name). A value that holds nothing (an empty string,
``null``, a boolean) is left as it is; a secret field whose value is an
object or an array keeps its shape, with every string and number inside it
replaced. What has nothing to scrub is left byte for byte as it came.

A value is replaced whole, except where the header's structure is worth
keeping: an ``Authorization`` keeps its scheme (``Bearer SCRUBBED``), a
``Cookie`` and a ``Set-Cookie`` keep their cookie names and a ``Set-Cookie``
its attributes (``session=SCRUBBED; Path=/; HttpOnly``), so that a client
replaying the cassette still parses them. Scrubbing is idempotent: what it
wrote is left as it is if scrubbed again.

A live request has the real secret where the cassette has the marker (or,
in a cassette recorded before, or by vcrpy with filters, the real secret or
nothing). So for matching, :func:`without_secrets` leaves these headers,
parameters and fields out of both requests, the recorded one and the live
one, without changing the recorded interaction itself.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from multidict import CIMultiDict

from .format import CassetteRequest, CassetteResponse

__all__ = [
    "MARKER",
    "SECRET_FIELDS",
    "SECRET_HEADERS",
    "SECRET_QUERY_PARAMETERS",
    "Parts",
    "scrub_request",
    "scrub_response",
    "without_secrets",
]

#: What a scrubbed value becomes: unreserved characters only, so that it reads
#: the same in a header, a URL, a form and a JSON document.
MARKER = "SCRUBBED"

#: Header names, lower-cased, scrubbed in requests and responses.
SECRET_HEADERS = frozenset(
    {
        # HTTP's own credentials and session cookies
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        # API keys and tokens under the names most APIs use
        "x-api-key",  # Anthropic and many others
        "api-key",  # Azure OpenAI
        "x-auth-token",
        "x-access-token",
        # the vendors' own
        "x-amz-security-token",  # AWS temporary credentials
        "x-goog-api-key",  # Google APIs
        "ocp-apim-subscription-key",  # Azure API Management, Azure AI services
        "private-token",  # GitLab
        "x-auth-key",  # Cloudflare's global API key
        "x-vault-token",  # HashiCorp Vault
        "x-shopify-access-token",  # Shopify
    }
)


def _normalized(name: str) -> str:
    """A parameter or field name as it is compared: lower-cased, without ``-``
    or ``_``."""
    return name.lower().replace("-", "").replace("_", "")


#: The names of secret query parameters, form fields and JSON fields, as
#: documented (each one stands for its spellings, see :func:`_normalized`).
FIELD_NAMES = (
    "access_token",
    "refresh_token",
    "id_token",
    "auth_token",
    "session_token",
    "token",
    "api_key",
    "api_token",
    "api_secret",
    "client_secret",
    "client_assertion",
    "secret",
    "secret_key",
    "private_key",
    "private_token",
    "password",
    "passwd",
    "passphrase",
)

#: The names of secret query parameters, besides :data:`FIELD_NAMES`: where a
#: URL itself is the credential.
QUERY_ONLY_NAMES = (
    "key",  # Google APIs' API key
    "sig",  # Azure shared access signatures
    "signature",  # CloudFront signed URLs
    "x-amz-credential",  # S3 presigned URLs
    "x-amz-security-token",
    "x-amz-signature",
    "x-goog-credential",  # Google Cloud Storage signed URLs
    "x-goog-signature",
)

#: :data:`FIELD_NAMES`, normalized.
SECRET_FIELDS = frozenset(map(_normalized, FIELD_NAMES))
#: :data:`FIELD_NAMES` and :data:`QUERY_ONLY_NAMES`, normalized.
SECRET_QUERY_PARAMETERS = SECRET_FIELDS | frozenset(map(_normalized, QUERY_ONLY_NAMES))


# -- what is written down --------------------------------------------------------------


def scrub_request(request: CassetteRequest) -> CassetteRequest:
    """``request``, its secrets replaced in place."""
    headers = request.headers
    if any(name.lower() in SECRET_HEADERS for name in headers):
        request.headers = CIMultiDict(_scrubbed_headers(headers.items()))
    request.uri = _uri(request.uri, _REPLACE)
    if request.body:
        request.body = _body(
            request.body, request.headers.get("Content-Type", ""), _REPLACE
        )
    return request


def scrub_response(response: CassetteResponse) -> CassetteResponse:
    """``response``, its secrets replaced in place (its ``Content-Length``
    follows a body that changed, unless the body is stored decoded)."""
    headers = response.headers
    if any(name.lower() in SECRET_HEADERS for name, _ in headers):
        response.headers = headers = _scrubbed_headers(headers)
    if response.body:
        content_type = next((v for n, v in headers if n.lower() == "content-type"), "")
        body = _body(response.body, content_type, _REPLACE)
        if body is not response.body:
            response.body = body
            if not any(n.lower() == "content-encoding" for n, _ in headers):
                response.headers = [
                    (n, str(len(body)) if n.lower() == "content-length" else v)
                    for n, v in headers
                ]
    return response


def _scrubbed_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [
        (name, _header_value(name.lower(), value))
        if name.lower() in SECRET_HEADERS
        else (name, value)
        for name, value in headers
    ]


def _header_value(name: str, value: str) -> str:
    if not value.strip():
        return value
    if name == "cookie":
        return ";".join(_cookie(piece) for piece in value.split(";"))
    if name == "set-cookie":
        first, separator, attributes = value.partition(";")
        return _cookie(first) + separator + attributes
    if name in ("authorization", "proxy-authorization"):
        scheme, space, credentials = value.strip().partition(" ")
        return f"{scheme} {MARKER}" if space and credentials.strip() else MARKER
    return MARKER


def _cookie(piece: str) -> str:
    """``name=value`` as ``name=SCRUBBED`` (the spaces around it kept)."""
    name, equals, value = piece.partition("=")
    if not equals:
        return piece if not piece.strip() else _keep_spaces(piece, MARKER)
    if not value.strip():
        return piece
    return name + equals + _keep_spaces(value, MARKER)


def _keep_spaces(old: str, new: str) -> str:
    stripped = old.strip()
    start = old.index(stripped)
    return old[:start] + new + old[start + len(stripped) :]


# -- what is compared ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Parts:
    """Which parts of a request the matchers of a cassette compare."""

    headers: bool
    query: bool
    body: bool

    @classmethod
    def compared_by(cls, match_on: Iterable[object]) -> Parts:
        """What the matchers of ``match_on`` compare; a user's matcher
        function may compare anything."""
        names = set(match_on)
        anything = any(not isinstance(name, str) for name in names)
        return cls(
            headers=anything or "headers" in names,
            query=anything or bool(names & {"uri", "query"}),
            body=anything or bool(names & {"body", "raw_body"}),
        )


def without_secrets(request: CassetteRequest, parts: Parts) -> CassetteRequest:
    """``request`` as it is compared: without the secret headers, query
    parameters and body fields in ``parts``. ``request`` itself is never
    changed: it is returned when there is nothing to leave out, else a
    copy."""
    headers: Iterable[tuple[str, str]] = request.headers.items()
    uri, body = request.uri, request.body
    changed = False
    if parts.headers and any(
        name.lower() in SECRET_HEADERS for name in request.headers
    ):
        headers = [(n, v) for n, v in headers if n.lower() not in SECRET_HEADERS]
        changed = True
    if parts.query:
        uri = _uri(uri, _DROP)
        changed = changed or uri is not request.uri
    if parts.body and body:
        body = _body(body, request.headers.get("Content-Type", ""), _DROP)
        changed = changed or body is not request.body
    if not changed:
        return request
    return CassetteRequest(request.method, uri, body, headers)


# -- query strings and bodies ----------------------------------------------------------

#: What becomes of the ``name=value`` pieces of a query or a form, given the
#: secret names: the same list when nothing changes.
PairsChange = Callable[[list[str], frozenset[str]], list[str]]


def _replace_pairs(pieces: list[str], secret: frozenset[str]) -> list[str]:
    changed = False
    result = []
    for piece in pieces:
        name, _, value = piece.partition("=")
        if value and value != MARKER and _is_secret(name, secret):
            piece = f"{name}={MARKER}"
            changed = True
        result.append(piece)
    return result if changed else pieces


def _drop_pairs(pieces: list[str], secret: frozenset[str]) -> list[str]:
    kept = [p for p in pieces if not _is_secret(p.partition("=")[0], secret)]
    return kept if len(kept) != len(pieces) else pieces


def _is_secret(encoded_name: str, secret: frozenset[str]) -> bool:
    return _normalized(urllib.parse.unquote_plus(encoded_name)) in secret


def _uri(uri: str, change: Change) -> str:
    """``uri`` with its query changed, or ``uri`` itself when nothing is."""
    base, question, rest = uri.partition("?")
    if not rest:
        return uri
    query, hash_sign, fragment = rest.partition("#")
    pieces = query.split("&")
    changed = change.pairs(pieces, SECRET_QUERY_PARAMETERS)
    if changed is pieces:
        return uri
    query = "&".join(changed)
    return base + (question if query else "") + query + hash_sign + fragment


#: What becomes of a JSON document: the same object when nothing changes.
JsonChange = Callable[[Any], Any]


def _body(body: bytes, content_type: str, change: Change) -> bytes:
    """A JSON or form ``body`` changed, or ``body`` itself when nothing is
    (or when it does not parse)."""
    lower = content_type.lower()
    if "json" in lower:
        try:
            data = json.loads(body)
        except ValueError:  # UnicodeDecodeError included
            return body
        changed = change.json(data)
        if changed is data:
            return body
        return json.dumps(changed, ensure_ascii=False).encode()
    if "application/x-www-form-urlencoded" in lower:
        try:
            text = body.decode()
        except UnicodeDecodeError:
            return body
        pieces = text.split("&")
        changed_pieces = change.pairs(pieces, SECRET_FIELDS)
        if changed_pieces is pieces:
            return body
        return "&".join(changed_pieces).encode()
    return body


def _replace(data: Any) -> Any:
    """``data`` with the values of secret fields replaced, or ``data`` itself
    when it holds none."""
    if isinstance(data, dict):
        result = {}
        changed = False
        for name, value in data.items():
            new = (
                _replace_all(value)
                if isinstance(name, str) and _normalized(name) in SECRET_FIELDS
                else _replace(value)
            )
            changed = changed or new is not value
            result[name] = new
        return result if changed else data
    if isinstance(data, list):
        return _same_or([_replace(item) for item in data], data)
    return data


def _replace_all(value: Any) -> Any:
    """Every string and number of ``value`` replaced (but empty strings, and
    those already replaced), or ``value`` itself when none is."""
    if isinstance(value, bool) or value is None or value in ("", MARKER):
        return value
    if isinstance(value, str | int | float):
        return MARKER
    if isinstance(value, dict):
        items = {name: _replace_all(item) for name, item in value.items()}
        changed = any(items[name] is not item for name, item in value.items())
        return items if changed else value
    if isinstance(value, list):
        return _same_or([_replace_all(item) for item in value], value)
    return value


def _drop(data: Any) -> Any:
    """``data`` without its secret fields, or ``data`` itself when it has
    none."""
    if isinstance(data, dict):
        result = {}
        changed = False
        for name, value in data.items():
            if isinstance(name, str) and _normalized(name) in SECRET_FIELDS:
                changed = True
                continue
            new = _drop(value)
            changed = changed or new is not value
            result[name] = new
        return result if changed else data
    if isinstance(data, list):
        return _same_or([_drop(item) for item in data], data)
    return data


def _same_or(items: list[Any], old: list[Any]) -> list[Any]:
    """``old`` when ``items`` holds the same objects, else ``items``."""
    if all(new is item for new, item in zip(items, old, strict=True)):
        return old
    return items


class Change(NamedTuple):
    """What becomes of the pieces of a query or a form, and of a JSON
    document."""

    pairs: PairsChange
    json: JsonChange


#: Secret values replaced by the marker (what is written down).
_REPLACE = Change(_replace_pairs, _replace)
#: Secrets left out (what is compared).
_DROP = Change(_drop_pairs, _drop)
