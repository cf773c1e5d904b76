"""A default cassette replayed together with extra ones, as pytest-recording's
``@pytest.mark.vcr("extra.yaml", ...)`` does.

A block has one cassette file, so the interactions of the default cassette
and of the extras are written, in that order, to a file of their own in a
private temporary folder, which the block replays (and records to). If the
block writes that file, it is written back to the default cassette, the
extras' interactions included, as pytest-recording does; the extras are
never written. The block's errors name the default cassette.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiointercept._cassette.format import Interaction

__all__ = ["Combined"]


class Combined:
    """The default cassette ``path`` and the ``extras``."""

    def __init__(self, path: Path, extras: Sequence[Path]) -> None:
        self.path = path
        self.extras = tuple(extras)
        self._folder: Path | None = None
        self.file: Path | None = None

    def prepare(self, serializer: str, *, rewrite: bool) -> Path | None:
        """The file that holds the interactions of all the cassettes (of the
        extras alone when the default cassette is ``rewrite``-n), or ``None``
        when the extras hold none (the block then uses the default cassette
        itself)."""
        from aiointercept._cassette import format as _format
        from aiointercept._cassette.websocket_format import KEY

        def contents(path: Path) -> tuple[list[Interaction], list[Any]]:
            """The interactions of the file at ``path``, and its WebSocket
            conversations as the file holds them."""
            data = _format.read(path, serializer)
            conversations = data.get(KEY) if isinstance(data, Mapping) else None
            return _format.interactions_of(data, path), list(conversations or [])

        extras = [
            contents(path)
            for path in self.extras
            if path != self.path and path.exists()
        ]
        if not any(
            interactions or conversations for interactions, conversations in extras
        ):
            return None
        own, own_conversations = (
            contents(self.path) if self.path.exists() and not rewrite else ([], [])
        )
        self._folder = Path(tempfile.mkdtemp(prefix="aiointercept-cassettes-"))
        self.file = self._folder / self.path.name
        _format.save(
            self.file,
            [*own, *(i for interactions, _ in extras for i in interactions)],
            serializer,
            websockets=[*own_conversations, *(c for _, cs in extras for c in cs)],
        )
        return self.file

    def write_back(self) -> None:
        """Write what the block wrote to the default cassette, as it is."""
        from aiointercept._cassette.files import write

        if self.file is not None and self.file.exists():
            write(self.path, self.file.read_text(encoding="utf-8"))

    def rename(self, error: BaseException) -> None:
        """Name the default cassette where ``error`` names the combined file."""
        if self.file is None:
            return
        shown = f"{self.path} (with {', '.join(map(str, self.extras))})"
        error.args = tuple(
            arg.replace(str(self.file), shown) if isinstance(arg, str) else arg
            for arg in error.args
        )

    def cleanup(self) -> None:
        folder, self._folder = self._folder, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
