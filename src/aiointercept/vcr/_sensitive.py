"""``filter_sensitive_data``: real values written as placeholders, and put
back when the cassette is read.

``filter_sensitive_data={"<TOKEN>": os.environ["TOKEN"]}`` (or a list of
``(placeholder, value)`` pairs) works as in Ruby's VCR and vcrpy:

- a request is compared and recorded with each value replaced by its
  placeholder (in its URL, its headers and its body), so the file never holds
  the value, and a live request, whose value is hidden the same way, matches
  the recorded one;
- a response is recorded with each value replaced by its placeholder, and is
  replayed with each placeholder replaced by its value, so the code under
  test sees what the real host sent.

aiointercept runs ``before_record_request`` and ``before_record_response``
both on what it records and on what it reads from the file, when the block
starts (see "Keeping secrets out" in the docs). :class:`SensitiveData` gives
those hooks; its :attr:`~SensitiveData.reading` flag, set while the block
starts, tells a response read from the file (put the values back) from one
being recorded (hide them). A block that records new interactions writes the
ones it read too, values and all: :meth:`SensitiveData.hide_in_file` hides
them again once the block has written the file.

A value that is ``None`` or empty is skipped (``os.environ.get("TOKEN")`` on
a machine without the variable); any other value is compared as text
(``str(value)``). vcrpy's callable values are refused: a hook sees the request
or the response, not both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiointercept._cassette.format import CassetteRequest

__all__ = ["SensitiveData", "check_sensitive_data"]


def _pairs(value: object) -> list[tuple[object, object]]:
    if isinstance(value, Mapping):
        return list(value.items())
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise TypeError(
            "filter_sensitive_data must be a dict or a list of (placeholder, "
            f"value) pairs, got {value!r}"
        )
    pairs = []
    for entry in value:
        if not (isinstance(entry, tuple | list) and len(entry) == 2):
            raise TypeError(
                "filter_sensitive_data entries must be (placeholder, value) "
                f"pairs, got {entry!r}"
            )
        pairs.append((entry[0], entry[1]))
    return pairs


def check_sensitive_data(name: str, value: object) -> None:
    """Raise for a ``filter_sensitive_data`` that :class:`SensitiveData`
    cannot use."""
    for placeholder, real in _pairs(value):
        if callable(real):
            from ._options import unsupported

            raise unsupported(
                f"a callable value in {name} (for {placeholder!r})",
                "give the value itself (hooks see a request or a response, "
                "never the two together)",
            )
        if not isinstance(placeholder, str) or not placeholder:
            raise TypeError(
                f"{name} placeholders must be non-empty strings, got {placeholder!r}"
            )


class SensitiveData:
    """The hooks of one cassette's ``filter_sensitive_data``."""

    def __init__(self, value: object) -> None:
        #: ``(placeholder, value)``, the values as text, those that hide
        #: nothing left out.
        self.pairs = [
            (placeholder, str(real))
            for placeholder, real in _pairs(value)
            if real is not None and str(real)
        ]
        #: Set while the block starts, when it reads the cassette.
        self.reading = False

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def request(self, request: CassetteRequest) -> CassetteRequest:
        """``request`` with its values hidden: in its URI, header names and
        values, and body."""
        for placeholder, real in self.pairs:
            request.uri = request.uri.replace(real, placeholder)
            if request.body:
                request.body = request.body.replace(real.encode(), placeholder.encode())
            headers = list(request.headers.items())
            if any(real in name or real in text for name, text in headers):
                request.headers.clear()
                for name, text in headers:
                    request.headers.add(
                        name.replace(real, placeholder), text.replace(real, placeholder)
                    )
        return request

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        """A response being recorded, its values hidden; or read from the
        file (:attr:`reading`), its placeholders replaced by the values."""
        for placeholder, real in self.pairs:
            old, new = (placeholder, real) if self.reading else (real, placeholder)
            response = _replaced(response, old, new)
        return response

    def hide_in_file(self, path: Path, serializer: str) -> None:
        """Hide the values again in the cassette at ``path``, which the block
        wrote with the responses it read, their values put back."""
        from aiointercept._cassette import format as _format
        from aiointercept._cassette.format import CassetteResponse, Interaction

        reading, self.reading = self.reading, False
        try:
            interactions = [
                Interaction(
                    self.request(interaction.request),
                    CassetteResponse.from_dict(
                        self.response(interaction.response.as_dict()),
                        interaction.origin,
                    ),
                    interaction.origin,
                )
                for interaction in _format.load(path)
            ]
        finally:
            self.reading = reading
        _format.save(path, interactions)


def _replaced(value: Any, old: str, new: str) -> Any:
    """``value`` with ``old`` replaced by ``new`` in every string and bytes it
    holds, in dicts (keys too) and lists at any depth."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, bytes | bytearray):
        return bytes(value).replace(old.encode(), new.encode())
    if isinstance(value, dict):
        return {_replaced(k, old, new): _replaced(v, old, new) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_replaced(item, old, new) for item in value)
    return value
