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
from collections.abc import Sequence
from pathlib import Path

__all__ = ["Combined"]


class Combined:
    """The default cassette ``path`` and the ``extras``."""

    def __init__(self, path: Path, extras: Sequence[Path]) -> None:
        self.path = path
        self.extras = tuple(extras)
        self._folder: Path | None = None
        self.file: Path | None = None
        self.serializer = "yaml"

    def prepare(self, serializer: str, *, rewrite: bool) -> Path | None:
        """The file that holds the interactions of all the cassettes (of the
        extras alone when the default cassette is ``rewrite``-n), or ``None``
        when the extras hold none (the block then uses the default cassette
        itself)."""
        from aiointercept._cassette import format as _format

        extra = [
            interaction
            for path in self.extras
            if path != self.path and path.exists()
            for interaction in _format.load(path, serializer)
        ]
        if not extra:
            return None
        own = (
            _format.load(self.path, serializer)
            if self.path.exists() and not rewrite
            else []
        )
        self._folder = Path(tempfile.mkdtemp(prefix="aiointercept-cassettes-"))
        self.file = self._folder / self.path.name
        self.serializer = serializer
        _format.save(self.file, [*own, *extra], serializer)
        return self.file

    def write_back(self) -> None:
        """Write what the block wrote to the default cassette."""
        from aiointercept._cassette import format as _format

        if self.file is not None and self.file.exists():
            serializer = self.serializer
            _format.save(self.path, _format.load(self.file, serializer), serializer)

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
