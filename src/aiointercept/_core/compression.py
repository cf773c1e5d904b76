"""Content codings: compressing responses, decoding recorded request bodies.

gzip and deflate come from the standard library; br needs the ``brotli``
package (or ``brotlicffi``), which aiohttp also uses to decode it.
"""

from __future__ import annotations

import zlib
from typing import Any, Final, Protocol

__all__ = ["Encoder", "check_compress", "decode_content", "negotiate"]

CODINGS: Final = ("gzip", "deflate", "br")


def _brotli() -> Any:
    try:
        import brotli
    except ImportError:
        try:
            import brotlicffi as brotli
        except ImportError:
            return None
    return brotli


def check_compress(compress: object) -> bool | str | None:
    """``None``/``False`` (no compression), ``True`` (negotiate from the
    request's Accept-Encoding) or a coding name."""
    if compress is None or compress is False:
        return None
    if compress is True:
        return True
    if isinstance(compress, str) and compress.lower() in CODINGS:
        coding = compress.lower()
        if coding == "br" and _brotli() is None:
            raise ValueError(
                "compress='br' needs the brotli package (pip install brotli)"
            )
        return coding
    raise ValueError(
        "compress must be True, None or one of 'gzip', 'deflate', 'br', "
        f"got {compress!r}"
    )


def negotiate(compress: bool | str, accept_encoding: str) -> str | None:
    """The coding to use: the forced one, or the best the client accepts."""
    if isinstance(compress, str):
        return compress
    accepted: dict[str, float] = {}
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if name:
            accepted[name.strip().lower()] = quality
    available = [c for c in CODINGS if c != "br" or _brotli() is not None]
    preference = ["br", "gzip", "deflate"]
    best: str | None = None
    best_quality = 0.0
    for coding in preference:
        if coding not in available:
            continue
        quality = accepted.get(coding, accepted.get("*", 0.0))
        if quality > best_quality:
            best, best_quality = coding, quality
    return best


class _Compressor(Protocol):
    def compress(self, data: bytes, /) -> bytes: ...
    def flush(self, mode: int = ..., /) -> bytes: ...


class Encoder:
    """Encodes a body, whole or chunk by chunk (each chunk flushed, so that
    the client can decode it as soon as it arrives)."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._brotli: Any = None
        self._zlib: _Compressor | None = None
        if coding == "br":
            self._brotli = _brotli().Compressor()
        else:
            wbits = 31 if coding == "gzip" else 15
            self._zlib = zlib.compressobj(wbits=wbits)

    def chunk(self, data: bytes) -> bytes:
        if self._brotli is not None:
            out: bytes = self._brotli.process(data) + self._brotli.flush()
            return out
        assert self._zlib is not None
        return self._zlib.compress(data) + self._zlib.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        if self._brotli is not None:
            out: bytes = self._brotli.finish()
            return out
        assert self._zlib is not None
        return self._zlib.flush()

    def whole(self, data: bytes) -> bytes:
        if self._brotli is not None:
            out: bytes = self._brotli.process(data) + self._brotli.finish()
            return out
        assert self._zlib is not None
        return self._zlib.compress(data) + self._zlib.flush()


def decode_content(body: bytes, content_encoding: str) -> bytes:
    """Undo the content codings of a request body, last applied first.

    Raises :exc:`ValueError` for a coding it does not know or data that does
    not decode.
    """
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    for coding in reversed(codings):
        if coding == "identity":
            continue
        try:
            if coding in ("gzip", "x-gzip"):
                body = zlib.decompress(body, wbits=47)
            elif coding == "deflate":
                try:
                    body = zlib.decompress(body)
                except zlib.error:  # raw deflate, as some clients send it
                    body = zlib.decompress(body, wbits=-15)
            elif coding == "br" and _brotli() is not None:
                body = _brotli().decompress(body)
            else:
                raise ValueError(f"unsupported content coding {coding!r}")
        except zlib.error as exc:
            raise ValueError(f"the body does not decode as {coding}: {exc}") from exc
    return body
