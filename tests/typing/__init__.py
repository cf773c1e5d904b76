"""Files that mypy checks and pytest never runs: each line that a type
checker must reject carries ``# type: ignore[<code>]``, and mypy's
``warn_unused_ignores`` (on under ``strict``) fails when one is not needed
any more. ``mypy`` (``nox -s typing``) checks them with the rest of the tests,
and ``tests/project/test_typing.py`` runs mypy on them."""
