"""Which recorded interactions the blocks of a run played, per cassette file.

The pytest plugin's ``--aiointercept-unused`` turns :data:`usage` on before
the tests run; each block whose cassette replays then reports, when it exits,
every interaction the file holds and which of them it played. At the end of
the session, :meth:`CassetteUsage.unused` lists, for each file that a block
loaded, the interactions that no block played. Under pytest-xdist, each
worker :meth:`~CassetteUsage.export`\\ s what it saw and the controller
:meth:`~CassetteUsage.merge`\\ s it.

This module imports only the standard library: the plugin imports it at
start-up, in projects that may never use a cassette.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["CassetteUsage", "usage"]


class CassetteUsage:
    """Per cassette file (by absolute path): each interaction by its number
    in the file, what it is (``"GET https://..."``) and whether a block played
    it."""

    def __init__(self) -> None:
        #: Whether blocks report what they played.
        self.enabled = False
        self._lock = threading.Lock()
        self._files: dict[str, dict[int, list[Any]]] = {}

    def report(self, path: str, interactions: Iterable[tuple[int, str, bool]]) -> None:
        """What one block did with the cassette at ``path``: for each
        interaction it could replay, ``(number, what, played)``."""
        with self._lock:
            known = self._files.setdefault(path, {})
            for number, what, played in interactions:
                entry = known.setdefault(number, [what, False])
                entry[1] = entry[1] or played

    def unused(self) -> dict[str, list[tuple[int, str]]]:
        """``path -> [(number, what), ...]`` of the interactions no block
        played, for the files that have any, in the order of the paths."""
        with self._lock:
            return {
                path: unplayed
                for path in sorted(self._files)
                if (
                    unplayed := [
                        (number, what)
                        for number, (what, played) in sorted(self._files[path].items())
                        if not played
                    ]
                )
            }

    def export(self) -> dict[str, list[list[Any]]]:
        """What this process saw, in plain lists (for pytest-xdist)."""
        with self._lock:
            return {
                path: [
                    [number, what, played] for number, (what, played) in known.items()
                ]
                for path, known in self._files.items()
            }

    def merge(self, exported: Mapping[str, Iterable[Iterable[Any]]]) -> None:
        """Add what :meth:`export` gave in another process."""
        for path, entries in exported.items():
            self.report(
                path,
                [
                    (int(number), str(what), bool(played))
                    for number, what, played in entries
                ],
            )

    def clear(self) -> None:
        with self._lock:
            self._files.clear()


#: The one record of the process.
usage = CassetteUsage()
