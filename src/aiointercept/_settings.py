"""Settings the pytest plugin reads before any test uses aiointercept.

The plugin is loaded by every pytest run of a project that has aiointercept
installed, whether the project uses it or not, so what it needs at start-up
and around each test lives here, with nothing to import: the choices of
``--record-mode``, and the defaults of the strict options.
"""

from __future__ import annotations

__all__ = ["RECORD_MODES", "strictness"]

#: vcrpy's record modes, pytest-recording's ``rewrite``, and ``verify``.
RECORD_MODES = ("none", "once", "new_episodes", "all", "rewrite", "verify")


class _Strictness:
    """What ``assert_all_called`` and ``assert_all_matched`` left at ``None``
    mean: ``False``, unless the pytest plugin's strict option, or the marker
    of the running test, says otherwise; and whether an unreachable route is
    an error (the plugin sets these around each test)."""

    def __init__(self) -> None:
        self.assert_all_called = False
        self.assert_all_matched = False
        #: A route that no request can reach (see ``UnreachableRouteWarning``)
        #: is raised, not warned: the suite-wide strict switch is on. A
        #: test's marker does not change it.
        self.unreachable_route_error = False

    def resolve(
        self, assert_all_called: bool | None, assert_all_matched: bool | None
    ) -> tuple[bool, bool]:
        return (
            self.assert_all_called if assert_all_called is None else assert_all_called,
            self.assert_all_matched
            if assert_all_matched is None
            else assert_all_matched,
        )


#: The defaults of the strict options (see :class:`_Strictness`).
strictness = _Strictness()
