"""Request bodies are recorded as the client sent them, with a decoded view.

Chunked uploads (aiohttp async generators and ``chunked=True``, httpx async
iterators), multipart forms (aiohttp ``FormData``, httpx ``files=``/``data=``),
URL-encoded forms and compressed bodies (``Content-Encoding: gzip``,
``deflate``, ``br``), as ``RecordedRequest`` shows them:

* ``captured_body``: the body as sent, transfer coding (chunked) removed,
  content coding kept;
* ``decoded_body``: content coding removed (``captured_body`` when there is
  none);
* ``json``: parsed from ``decoded_body``;
* ``form``: the fields of a URL-encoded or multipart body (file parts
  excluded), ``None`` for any other body;
* ``files``: the file parts of a multipart body, as ``UploadedFile``.

``match_json``, ``match_body`` and ``match_form`` compare the decoded body;
callbacks receive ``data`` (the body as sent) and ``json`` (parsed from the
decoded body).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import httpx
import pytest
from yarl import URL

from aiointercept import CallbackResult, RecordedRequest, aiointercept
from tests.support.backends import asyncio_only
from tests.support.journal import only

pytestmark = pytest.mark.anyio

TIMEOUT = 30.0
MiB = 1024 * 1024

#: A JSON document and its exact bytes, for the compressed-body tests.
DOCUMENT = {
    "order": {"sku": "X-1", "qty": 3, "note": "zoë ✓"},
    "lines": list(range(50)),
}
DOCUMENT_BYTES = json.dumps(DOCUMENT).encode()

#: Content codings the standard library can produce, as (name, compress).
CODINGS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": lambda data: gzip.compress(data, mtime=0),
    "deflate": zlib.compress,  # HTTP "deflate" is the zlib format
}
DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "deflate": zlib.decompress,
}

#: Binary file contents, with CR LF and dashes that look like a boundary.
PNG_A = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) + b"\r\n--\r\n"
PNG_B = b"\x89PNG\r\n\x1a\n" + bytes(reversed(range(256))) + b"\x00" * 64
REPORT = b"line one\r\n--not-a-boundary\r\nline three\n"


def random_bytes(size: int, seed: int = 6) -> bytes:
    return random.Random(seed).randbytes(size)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


async def stream(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def aiohttp_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT))


def httpx_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=TIMEOUT)


def assert_chunked(request: RecordedRequest) -> None:
    """The client really streamed the body (so the test tests what it says)."""
    assert request.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in request.headers


def uploads(request: RecordedRequest) -> dict[str, list[tuple[str, str | None, bytes]]]:
    """``request.files`` as plain (filename, content_type, data) tuples."""
    return {
        name: [(f.filename, f.content_type, f.data) for f in files]
        for name, files in request.files.items()
    }


# == chunked uploads ================================================================


@asyncio_only
async def test_aiohttp_async_generator_upload_is_recorded_whole() -> None:
    chunks = [b"first,", b"", b"second,", b"\x00\xff third"]
    async with aiointercept() as m, aiohttp_session() as session:
        m.post("/upload", status=201)
        async with session.post(f"{m.server_url}/upload", data=stream(chunks)) as resp:
            assert resp.status == 201
    request = only(m, "POST", f"{m.server_url}/upload")
    assert_chunked(request)
    assert request.captured_body == b"".join(chunks)


@asyncio_only
async def test_aiohttp_chunked_true_upload_is_recorded_whole() -> None:
    body = b"sent with chunked=True " * 100
    async with aiointercept() as m, aiohttp_session() as session:
        m.put("/upload")
        async with session.put(
            f"{m.server_url}/upload", data=body, chunked=True
        ) as resp:
            assert resp.status == 200
    request = only(m, "PUT", f"{m.server_url}/upload")
    assert_chunked(request)
    assert request.captured_body == body


@asyncio_only
async def test_aiohttp_chunked_json_upload_is_parsed() -> None:
    async with aiointercept() as m, aiohttp_session() as session:
        m.post("/events")
        async with session.post(
            f"{m.server_url}/events",
            data=stream(pieces(DOCUMENT_BYTES, 7)),
            headers={"Content-Type": "application/json"},
        ) as resp:
            assert resp.status == 200
    request = only(m, "POST", f"{m.server_url}/events")
    assert_chunked(request)
    assert request.captured_body == DOCUMENT_BYTES
    assert request.kwargs["json"] == DOCUMENT


async def test_httpx_async_iterator_upload_is_recorded_whole() -> None:
    chunks = [b"alpha;", b"beta;", b"", b"gamma\r\n0\r\n\r\n"]  # a fake last chunk
    async with aiointercept() as m, httpx_client() as client:
        m.post("/upload", status=201)
        response = await client.post(f"{m.server_url}/upload", content=stream(chunks))
    assert response.status_code == 201
    request = only(m, "POST", f"{m.server_url}/upload")
    assert_chunked(request)
    assert request.captured_body == b"".join(chunks)


async def test_httpx_empty_streamed_upload() -> None:
    async with aiointercept() as m, httpx_client() as client:
        m.post("/upload")
        response = await client.post(f"{m.server_url}/upload", content=stream([]))
    assert response.status_code == 200
    request = only(m, "POST", f"{m.server_url}/upload")
    assert request.captured_body == b""
    assert request.decoded_body == b""


@asyncio_only
async def test_aiohttp_big_chunked_upload_is_recorded_intact() -> None:
    """5 MiB in uneven chunks reach the record, and a callback, byte for byte."""
    body = random_bytes(5 * MiB)
    seen: list[bytes] = []

    def digest(url: URL, *, data: bytes, **kwargs: Any) -> CallbackResult:
        seen.append(data)
        return CallbackResult(payload={"size": len(data), "sha256": sha256(data)})

    async with aiointercept() as m, aiohttp_session() as session:
        m.post("/big", callback=digest)
        async with session.post(
            f"{m.server_url}/big", data=stream(pieces(body, 65_521))
        ) as resp:
            assert await resp.json() == {"size": len(body), "sha256": sha256(body)}
    request = only(m, "POST", f"{m.server_url}/big")
    assert_chunked(request)
    assert len(request.captured_body) == len(body)
    assert request.captured_body == body
    assert request.decoded_body == body
    assert seen == [body]


async def test_httpx_big_streamed_upload_is_recorded_intact() -> None:
    body = random_bytes(5 * MiB, seed=7)

    async def digest(url: URL, *, data: bytes, **kwargs: Any) -> CallbackResult:
        return CallbackResult(payload={"size": len(data), "sha256": sha256(data)})

    async with aiointercept() as m, httpx_client() as client:
        m.put("/big", callback=digest)
        response = await client.put(
            f"{m.server_url}/big", content=stream(pieces(body, 1 << 16))
        )
    assert response.json() == {"size": len(body), "sha256": sha256(body)}
    request = only(m, "PUT", f"{m.server_url}/big")
    assert_chunked(request)
    assert request.captured_body == body


# == views of a body that is neither compressed nor a form ==========================


@pytest.mark.parametrize(
    ("content", "content_type", "parsed"),
    [
        (b"", None, None),
        (b"plain text", "text/plain", None),
        (DOCUMENT_BYTES, "application/json", DOCUMENT),
        (b"a=1&b=2", "text/plain", None),  # looks like a form, is not one
        (bytes(range(256)), "application/octet-stream", None),
    ],
    ids=["empty", "text", "json", "form-like-text", "binary"],
)
async def test_plain_body_views(
    content: bytes, content_type: str | None, parsed: Any
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    async with aiointercept() as m, httpx_client() as client:
        m.post("/plain")
        await client.post(f"{m.server_url}/plain", content=content, headers=headers)
    request = only(m, "POST", f"{m.server_url}/plain")
    assert request.captured_body == content
    assert request.decoded_body == content
    assert request.kwargs["json"] == parsed
    assert request.form is None
    assert request.files == {}


# == URL-encoded forms ==============================================================

FORM_PAIRS = [
    ("tag", "a"),
    ("q", "x y&z=1"),
    ("tag", "b"),
    ("city", "Zürich"),
    ("empty", ""),
]
FORM = {"tag": ["a", "b"], "q": ["x y&z=1"], "city": ["Zürich"], "empty": [""]}


@asyncio_only
async def test_aiohttp_urlencoded_form() -> None:
    async with aiointercept() as m, aiohttp_session() as session:
        m.post("/form")
        async with session.post(f"{m.server_url}/form", data=FORM_PAIRS) as resp:
            assert resp.status == 200
    request = only(m, "POST", f"{m.server_url}/form")
    assert request.headers["Content-Type"].startswith(
        "application/x-www-form-urlencoded"
    )
    assert request.form == FORM
    assert request.files == {}
    assert request.kwargs["json"] is None
    assert request.decoded_body == request.captured_body


async def test_httpx_urlencoded_form() -> None:
    data = {"tag": ["a", "b"], "q": "x y&z=1", "city": "Zürich", "empty": ""}
    async with aiointercept() as m, httpx_client() as client:
        m.post("/form")
        await client.post(f"{m.server_url}/form", data=data)
    request = only(m, "POST", f"{m.server_url}/form")
    assert request.form == FORM
    assert request.files == {}


# == multipart forms ================================================================

MULTIPART_FIELDS = {"title": ["Report"], "tag": ["a", "b"], "note": ["naïve ✓"]}
MULTIPART_FILES = {
    "doc": [("report.txt", "text/plain", REPORT)],
    "images": [("a.png", "image/png", PNG_A), ("b.png", "image/png", PNG_B)],
    "empty": [("empty.bin", "application/octet-stream", b"")],
}


def assert_multipart(request: RecordedRequest) -> None:
    content_type = request.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.partition("boundary=")[2].strip('"').encode()
    assert request.captured_body.startswith(b"--" + boundary)
    assert request.captured_body.rstrip().endswith(b"--" + boundary + b"--")
    assert request.decoded_body == request.captured_body
    assert request.kwargs["json"] is None
    assert request.form == MULTIPART_FIELDS
    assert uploads(request) == MULTIPART_FILES


@asyncio_only
async def test_aiohttp_multipart_form_data() -> None:
    form = aiohttp.FormData()
    form.add_field("title", "Report")
    form.add_field("doc", REPORT, filename="report.txt", content_type="text/plain")
    form.add_field("tag", "a")
    form.add_field("images", PNG_A, filename="a.png", content_type="image/png")
    form.add_field("images", PNG_B, filename="b.png", content_type="image/png")
    form.add_field("tag", "b")
    form.add_field("note", "naïve ✓")
    form.add_field(
        "empty", b"", filename="empty.bin", content_type="application/octet-stream"
    )
    async with aiointercept() as m, aiohttp_session() as session:
        m.post("/upload", status=201)
        async with session.post(f"{m.server_url}/upload", data=form) as resp:
            assert resp.status == 201
    assert_multipart(only(m, "POST", f"{m.server_url}/upload"))


async def test_httpx_multipart_files_and_data() -> None:
    files: list[tuple[str, tuple[str, bytes, str]]] = [
        ("doc", ("report.txt", REPORT, "text/plain")),
        ("images", ("a.png", PNG_A, "image/png")),
        ("images", ("b.png", PNG_B, "image/png")),
        ("empty", ("empty.bin", b"", "application/octet-stream")),
    ]
    data = {"title": "Report", "tag": ["a", "b"], "note": "naïve ✓"}
    async with aiointercept() as m, httpx_client() as client:
        m.post("/upload", status=201)
        response = await client.post(f"{m.server_url}/upload", data=data, files=files)
    assert response.status_code == 201
    assert_multipart(only(m, "POST", f"{m.server_url}/upload"))


@asyncio_only
async def test_aiohttp_multipart_with_text_fields_only() -> None:
    form = aiohttp.FormData()
    # a field with a content type makes aiohttp send multipart (any version)
    form.add_field("title", "Report", content_type="text/plain")
    form.add_field("tag", "a")
    form.add_field("tag", "b")
    async with aiointercept() as m, aiohttp_session() as session:
        m.post("/upload")
        async with session.post(f"{m.server_url}/upload", data=form) as resp:
            assert resp.status == 200
    request = only(m, "POST", f"{m.server_url}/upload")
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    assert request.form == {"title": ["Report"], "tag": ["a", "b"]}
    assert request.files == {}


async def test_uploaded_file_is_exported() -> None:
    from aiointercept import UploadedFile

    async with aiointercept() as m, httpx_client() as client:
        m.post("/upload")
        await client.post(
            f"{m.server_url}/upload",
            files={"doc": ("r.txt", b"hi", "text/plain")},
        )
    (uploaded,) = only(m, "POST", f"{m.server_url}/upload").files["doc"]
    assert isinstance(uploaded, UploadedFile)
    assert (uploaded.filename, uploaded.content_type, uploaded.data) == (
        "r.txt",
        "text/plain",
        b"hi",
    )


#: File contents that a MIME parser could mangle: bare CR and LF, trailing line
#: breaks, a file that is only a line break, dashes, and 1 MiB of random bytes.
TRICKY_FILES = {
    "bare": b"a\rb\nc\r\nd\n",
    "trailing_crlf": b"last line\r\n",
    "trailing_blank_lines": b"text\r\n\r\n\r\n",
    "only_crlf": b"\r\n",
    "dashes": b"--\r\n--x--\r\n--",
    "latin1": "café".encode("latin-1"),
    "random": random_bytes(MiB, seed=9),
}


def assert_tricky_files(request: RecordedRequest) -> None:
    assert request.form == {"id": ["42"]}
    assert uploads(request) == {
        name: [(f"{name}.bin", "application/octet-stream", data)]
        for name, data in TRICKY_FILES.items()
    }


@asyncio_only
async def test_aiohttp_multipart_file_contents_are_kept_byte_for_byte() -> None:
    form = aiohttp.FormData()
    form.add_field("id", "42")
    for name, data in TRICKY_FILES.items():
        form.add_field(
            name, data, filename=f"{name}.bin", content_type="application/octet-stream"
        )
    async with aiointercept() as m, aiohttp_session() as session:
        m.post("/upload")
        async with session.post(f"{m.server_url}/upload", data=form) as resp:
            assert resp.status == 200
    assert_tricky_files(only(m, "POST", f"{m.server_url}/upload"))


async def test_httpx_multipart_file_contents_are_kept_byte_for_byte() -> None:
    files = {
        name: (f"{name}.bin", data, "application/octet-stream")
        for name, data in TRICKY_FILES.items()
    }
    async with aiointercept() as m, httpx_client() as client:
        m.post("/upload")
        await client.post(f"{m.server_url}/upload", data={"id": "42"}, files=files)
    assert_tricky_files(only(m, "POST", f"{m.server_url}/upload"))


async def test_multipart_non_ascii_filenames() -> None:
    """httpx sends the UTF-8 name as is; older clients send an RFC 5987
    ``filename*`` instead."""
    boundary = "b0undary"
    by_hand = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="legacy"; '
        "filename*=UTF-8''r%C3%A9sum%C3%A9.pdf\r\n"
        "Content-Type: application/pdf\r\n\r\n"
        "%PDF\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    async with aiointercept() as m, httpx_client() as client:
        m.post("/upload", repeat=True)
        await client.post(
            f"{m.server_url}/upload",
            files={"doc": ("résumé 2024.pdf", b"%PDF", "application/pdf")},
        )
        await client.post(
            f"{m.server_url}/upload",
            content=by_hand,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    modern, legacy = m.requests[("POST", URL(f"{m.server_url}/upload"))]
    assert uploads(modern) == {"doc": [("résumé 2024.pdf", "application/pdf", b"%PDF")]}
    assert uploads(legacy) == {"legacy": [("résumé.pdf", "application/pdf", b"%PDF")]}
    assert modern.form == legacy.form == {}


@pytest.mark.parametrize("coding", CODINGS)
async def test_compressed_multipart_form(coding: str) -> None:
    plain = httpx.Request(
        "POST",
        "http://unused.invalid/",
        data={"title": "Report"},
        files={"doc": ("report.txt", REPORT, "text/plain")},
    )
    body = plain.read()
    async with aiointercept() as m, httpx_client() as client:
        route = m.post("/upload", match_form={"title": "Report"})
        await client.post(
            f"{m.server_url}/upload",
            content=CODINGS[coding](body),
            headers={
                "Content-Type": plain.headers["Content-Type"],
                "Content-Encoding": coding,
            },
        )
    route.assert_called_once()
    request = only(m, "POST", f"{m.server_url}/upload")
    assert request.captured_body == CODINGS[coding](body)
    assert request.decoded_body == body
    assert request.form == {"title": ["Report"]}
    assert uploads(request) == {"doc": [("report.txt", "text/plain", REPORT)]}


# == compressed bodies ==============================================================


@asyncio_only
@pytest.mark.parametrize("coding", CODINGS)
async def test_aiohttp_precompressed_json_body(coding: str) -> None:
    compressed = CODINGS[coding](DOCUMENT_BYTES)
    async with aiointercept() as m, aiohttp_session() as session:
        m.post("/orders", status=201)
        async with session.post(
            f"{m.server_url}/orders",
            data=compressed,
            headers={"Content-Encoding": coding, "Content-Type": "application/json"},
        ) as resp:
            assert resp.status == 201
    request = only(m, "POST", f"{m.server_url}/orders")
    assert request.headers["Content-Encoding"] == coding
    assert request.captured_body == compressed
    assert request.decoded_body == DOCUMENT_BYTES
    assert request.kwargs["json"] == DOCUMENT


@pytest.mark.parametrize("coding", CODINGS)
async def test_httpx_precompressed_json_body(coding: str) -> None:
    compressed = CODINGS[coding](DOCUMENT_BYTES)
    async with aiointercept() as m, httpx_client() as client:
        m.post("/orders", status=201)
        response = await client.post(
            f"{m.server_url}/orders",
            content=compressed,
            headers={"Content-Encoding": coding, "Content-Type": "application/json"},
        )
    assert response.status_code == 201
    request = only(m, "POST", f"{m.server_url}/orders")
    assert request.captured_body == compressed
    assert request.decoded_body == DOCUMENT_BYTES
    assert request.kwargs["json"] == DOCUMENT


@asyncio_only
@pytest.mark.parametrize("coding", CODINGS)
async def test_aiohttp_compress_option(coding: str) -> None:
    """aiohttp compresses (and streams) the body itself with ``compress=``."""
    body = b"".join(json.dumps({"n": n}).encode() + b"\n" for n in range(20_000))
    async with aiointercept() as m, aiohttp_session() as session:
        m.post("/ingest")
        async with session.post(
            f"{m.server_url}/ingest", data=body, compress=coding
        ) as resp:
            assert resp.status == 200
    request = only(m, "POST", f"{m.server_url}/ingest")
    assert request.headers["Content-Encoding"] == coding
    assert len(request.captured_body) < len(body) // 4
    assert DECODERS[coding](request.captured_body) == body
    assert request.decoded_body == body


@pytest.mark.parametrize("coding", CODINGS)
async def test_httpx_compressed_and_chunked(coding: str) -> None:
    """Transfer coding removed, content coding kept."""
    compressed = CODINGS[coding](DOCUMENT_BYTES * 100)
    async with aiointercept() as m, httpx_client() as client:
        m.post("/orders")
        await client.post(
            f"{m.server_url}/orders",
            content=stream(pieces(compressed, 100)),
            headers={"Content-Encoding": coding},
        )
    request = only(m, "POST", f"{m.server_url}/orders")
    assert_chunked(request)
    assert request.captured_body == compressed
    assert request.decoded_body == DOCUMENT_BYTES * 100


@asyncio_only
async def test_big_compressed_chunked_upload_is_decoded_intact() -> None:
    body = random_bytes(5 * MiB, seed=8).hex().encode()[: 5 * MiB]
    compressed = gzip.compress(body, mtime=0)
    async with aiointercept() as m, aiohttp_session() as session:
        m.post("/big")
        async with session.post(
            f"{m.server_url}/big",
            data=stream(pieces(compressed, 50_000)),
            headers={"Content-Encoding": "gzip"},
        ) as resp:
            assert resp.status == 200
    request = only(m, "POST", f"{m.server_url}/big")
    assert request.captured_body == compressed
    assert sha256(request.decoded_body) == sha256(body)


@pytest.mark.parametrize("coding", CODINGS)
async def test_compressed_urlencoded_form(coding: str) -> None:
    compressed = CODINGS[coding](b"tag=a&tag=b&q=x+y%26z%3D1")
    async with aiointercept() as m, httpx_client() as client:
        m.post("/form")
        await client.post(
            f"{m.server_url}/form",
            content=compressed,
            headers={
                "Content-Encoding": coding,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
    request = only(m, "POST", f"{m.server_url}/form")
    assert request.captured_body == compressed
    assert request.form == {"tag": ["a", "b"], "q": ["x y&z=1"]}


async def test_brotli_body() -> None:
    brotli = pytest.importorskip("brotli")
    compressed: bytes = brotli.compress(DOCUMENT_BYTES)
    async with aiointercept() as m, httpx_client() as client:
        m.post("/orders")
        await client.post(
            f"{m.server_url}/orders",
            content=compressed,
            headers={"Content-Encoding": "br", "Content-Type": "application/json"},
        )
    request = only(m, "POST", f"{m.server_url}/orders")
    assert request.captured_body == compressed
    assert request.decoded_body == DOCUMENT_BYTES
    assert request.kwargs["json"] == DOCUMENT


async def test_body_that_is_not_what_its_coding_says_is_still_recorded() -> None:
    """A client bug must show up in the record, not as a lost request."""
    async with aiointercept() as m, httpx_client() as client:
        m.post("/orders", status=201)
        response = await client.post(
            f"{m.server_url}/orders",
            content=b"not gzip at all",
            headers={"Content-Encoding": "gzip"},
        )
    assert response.status_code == 201
    request = only(m, "POST", f"{m.server_url}/orders")
    assert request.captured_body == b"not gzip at all"


# == matchers compare the decoded body ==============================================


@pytest.mark.parametrize("coding", CODINGS)
async def test_match_json_on_a_compressed_body(coding: str) -> None:
    async with aiointercept() as m, httpx_client() as client:
        other = m.post("/orders", status=409, match_json={"order": None})
        right = m.post("/orders", status=201, match_json=DOCUMENT)
        response = await client.post(
            f"{m.server_url}/orders",
            content=CODINGS[coding](DOCUMENT_BYTES),
            headers={"Content-Encoding": coding, "Content-Type": "application/json"},
        )
    assert response.status_code == 201
    other.assert_not_called()
    right.assert_called_once()


@pytest.mark.parametrize("coding", CODINGS)
async def test_match_body_on_a_compressed_body(coding: str) -> None:
    compressed = CODINGS[coding](b"raw payload")
    async with aiointercept() as m, httpx_client() as client:
        as_sent = m.post("/raw", status=409, match_body=compressed)
        decoded = m.post("/raw", status=201, match_body="raw payload")
        response = await client.post(
            f"{m.server_url}/raw",
            content=compressed,
            headers={"Content-Encoding": coding},
        )
    assert response.status_code == 201
    as_sent.assert_not_called()
    decoded.assert_called_once()


@asyncio_only
async def test_match_body_on_a_chunked_upload() -> None:
    async with aiointercept() as m, aiohttp_session() as session:
        route = m.post("/raw", status=201, match_body=b"one two three")
        async with session.post(
            f"{m.server_url}/raw", data=stream([b"one ", b"two ", b"three"])
        ) as resp:
            assert resp.status == 201
    route.assert_called_once()


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "text/plain"]
)
@pytest.mark.parametrize("coding", CODINGS)
async def test_match_form_on_a_compressed_form(coding: str, content_type: str) -> None:
    """match_form takes any URL-encoded body for a form, whatever its
    Content-Type (as before), once decoded."""
    async with aiointercept() as m, httpx_client() as client:
        route = m.post("/form", status=201, match_form={"tag": ["b", "a"], "n": 1})
        response = await client.post(
            f"{m.server_url}/form",
            content=CODINGS[coding](b"tag=a&n=1&tag=b"),
            headers={"Content-Encoding": coding, "Content-Type": content_type},
        )
    assert response.status_code == 201
    route.assert_called_once()


@asyncio_only
async def test_match_form_on_aiohttp_multipart_text_fields() -> None:
    def form() -> aiohttp.FormData:
        data = aiohttp.FormData()
        data.add_field("title", "Report")
        data.add_field("tag", "a")
        data.add_field("tag", "b")
        data.add_field("doc", REPORT, filename="r.txt", content_type="text/plain")
        return data

    async with aiointercept() as m, aiohttp_session() as session:
        wrong = m.post(
            "/upload", status=409, match_form={"title": "Other", "tag": ["a", "b"]}
        )
        partial = m.post("/upload", status=409, match_form={"title": "Report"})
        right = m.post(
            "/upload", status=201, match_form={"title": "Report", "tag": ["b", "a"]}
        )
        async with session.post(f"{m.server_url}/upload", data=form()) as resp:
            assert resp.status == 201
    wrong.assert_not_called()
    partial.assert_not_called()  # "exactly these fields", as for URL-encoded forms
    right.assert_called_once()


async def test_match_form_on_httpx_multipart_text_fields() -> None:
    async with aiointercept() as m, httpx_client() as client:
        wrong = m.post("/upload", status=409, match_form={"title": "Other"})
        right = m.post("/upload", status=201, match_form={"title": "Report"})
        response = await client.post(
            f"{m.server_url}/upload",
            data={"title": "Report"},
            files={"doc": ("r.txt", REPORT, "text/plain")},
        )
    assert response.status_code == 201
    wrong.assert_not_called()
    right.assert_called_once()


@pytest.mark.parametrize("coding", CODINGS)
async def test_assertions_compare_the_decoded_body(coding: str) -> None:
    async with aiointercept() as m, httpx_client() as client:
        route = m.post("/orders", repeat=True)
        await client.post(
            f"{m.server_url}/orders",
            content=CODINGS[coding](DOCUMENT_BYTES),
            headers={"Content-Encoding": coding, "Content-Type": "application/json"},
        )
        route.assert_called_once_with(json=DOCUMENT)
        m.assert_called_with("/orders", method="POST", data=DOCUMENT_BYTES)
        await client.post(
            f"{m.server_url}/orders",
            content=CODINGS[coding](b"tag=a&tag=b"),
            headers={
                "Content-Encoding": coding,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        m.assert_called_with("/orders", method="POST", data={"tag": ["a", "b"]})
        with pytest.raises(AssertionError):
            m.assert_called_with("/orders", method="POST", data={"tag": "a"})


@asyncio_only
async def test_assertions_see_multipart_text_fields() -> None:
    form = aiohttp.FormData()
    form.add_field("title", "Report")
    form.add_field("doc", REPORT, filename="r.txt", content_type="text/plain")
    async with aiointercept() as m, aiohttp_session() as session:
        route = m.post("/upload")
        async with session.post(f"{m.server_url}/upload", data=form) as resp:
            assert resp.status == 200
    route.assert_called_once_with(data={"title": "Report"})
    with pytest.raises(AssertionError):
        route.assert_called_once_with(data={"title": "Other"})


# == callbacks ======================================================================


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("coding", CODINGS)
async def test_callback_gets_sent_data_and_decoded_json(kind: str, coding: str) -> None:
    compressed = CODINGS[coding](DOCUMENT_BYTES)
    seen: list[tuple[bytes, Any, bytes]] = []

    def answer(
        url: URL, *, data: bytes, json: Any, request: RecordedRequest, **kwargs: Any
    ) -> CallbackResult:
        seen.append((data, json, request.decoded_body))
        return CallbackResult(status=201, payload={"qty": json["order"]["qty"]})

    async def async_answer(url: URL, **kwargs: Any) -> CallbackResult:
        return answer(url, **kwargs)

    async with aiointercept() as m, httpx_client() as client:
        m.post("/orders", callback=answer if kind == "sync" else async_answer)
        response = await client.post(
            f"{m.server_url}/orders",
            content=compressed,
            headers={"Content-Encoding": coding, "Content-Type": "application/json"},
        )
    assert response.status_code == 201
    assert response.json() == {"qty": 3}
    assert seen == [(compressed, DOCUMENT, DOCUMENT_BYTES)]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_callback_gets_a_streamed_upload_whole(kind: str) -> None:
    chunks = [b'{"parts": ', b"[1, 2, ", b"3]}"]
    seen: list[tuple[bytes, Any]] = []

    def answer(url: URL, *, data: bytes, json: Any, **kwargs: Any) -> CallbackResult:
        seen.append((data, json))
        return CallbackResult(body=data, content_type="application/json")

    async def async_answer(url: URL, **kwargs: Any) -> CallbackResult:
        return answer(url, **kwargs)

    async with aiointercept() as m, httpx_client() as client:
        m.post("/echo", callback=answer if kind == "sync" else async_answer)
        response = await client.post(
            f"{m.server_url}/echo",
            content=stream(chunks),
            headers={"Content-Type": "application/json"},
        )
    assert response.json() == {"parts": [1, 2, 3]}
    assert seen == [(b"".join(chunks), {"parts": [1, 2, 3]})]


async def test_callback_reads_form_and_files_from_the_request() -> None:
    def answer(url: URL, *, request: RecordedRequest, **kwargs: Any) -> CallbackResult:
        assert request.form is not None
        return CallbackResult(
            payload={
                "title": request.form["title"],
                "files": {
                    name: [[f.filename, f.content_type, len(f.data)] for f in files]
                    for name, files in request.files.items()
                },
            }
        )

    async with aiointercept() as m, httpx_client() as client:
        m.post("/upload", callback=answer)
        response = await client.post(
            f"{m.server_url}/upload",
            data={"title": "Report"},
            files=[
                ("images", ("a.png", PNG_A, "image/png")),
                ("images", ("b.png", PNG_B, "image/png")),
            ],
        )
    assert response.json() == {
        "title": ["Report"],
        "files": {
            "images": [
                ["a.png", "image/png", len(PNG_A)],
                ["b.png", "image/png", len(PNG_B)],
            ]
        },
    }


# -- bodies that do not decode, and edge cases of the decoded views --------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("coding", "body", "decoded"),
    [
        ("gzip", b"not gzip at all", b"not gzip at all"),
        ("zstd", b"\x28\xb5\x2f\xfd unknown here", b"\x28\xb5\x2f\xfd unknown here"),
        ("deflate", zlib.compress(b"zlib-wrapped")[2:-4], b"zlib-wrapped"),
        ("identity, gzip", gzip.compress(b"stacked"), b"stacked"),
    ],
    ids=["broken-gzip", "unknown-coding", "raw-deflate", "identity-then-gzip"],
)
async def test_content_codings_that_do_or_do_not_decode(
    coding: str, body: bytes, decoded: bytes
) -> None:
    async with aiointercept() as m, httpx_client() as client:
        m.post("/coded")
        response = await client.post(
            f"{m.server_url}/coded",
            content=body,
            headers={"Content-Encoding": coding, "Content-Type": "text/plain"},
        )
        assert response.status_code == 200  # the route answers either way
    request = only(m, "POST", f"{m.server_url}/coded")
    assert request.captured_body == body  # as sent
    assert request.decoded_body == decoded  # as sent, when it does not decode


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"\xff\xfe"),
        ("application/x-www-form-urlencoded", b"a=1&&&=&"),
        ("multipart/form-data; boundary=XYZ", b"no parts here"),
        ("text/plain", b"a=1"),
    ],
    ids=["not-utf8", "malformed-pairs", "multipart-without-parts", "not-a-form"],
)
async def test_bodies_that_are_not_forms_have_no_form(
    content_type: str, body: bytes
) -> None:
    async with aiointercept() as m, httpx_client() as client:
        m.post("/form")
        await client.post(
            f"{m.server_url}/form", content=body, headers={"Content-Type": content_type}
        )
    request = only(m, "POST", f"{m.server_url}/form")
    assert request.form is None
    assert request.files == {}


@pytest.mark.anyio
async def test_multipart_parts_without_a_field_name_are_skipped() -> None:
    body = (
        b"--XYZ\r\n"
        b'Content-Disposition: form-data; name="kept"\r\n\r\n'
        b"yes\r\n"
        b"--XYZ\r\n"
        b"Content-Disposition: form-data\r\n\r\n"
        b"nameless\r\n"
        b"--XYZ--\r\n"
    )
    async with aiointercept() as m, httpx_client() as client:
        m.post("/form")
        await client.post(
            f"{m.server_url}/form",
            content=body,
            headers={"Content-Type": "multipart/form-data; boundary=XYZ"},
        )
    request = only(m, "POST", f"{m.server_url}/form")
    assert request.form == {"kept": ["yes"]}
    assert request.files == {}
