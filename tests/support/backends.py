"""Pin a test to one backend of the ``anyio_backend`` fixture of
``tests/conftest.py``, which runs every ``@pytest.mark.anyio`` test on asyncio
and on trio."""

from __future__ import annotations

import pytest

#: For the tests that use the aiohttp client, which runs on asyncio only.
asyncio_only = pytest.mark.parametrize("anyio_backend", ["asyncio"])
trio_only = pytest.mark.parametrize("anyio_backend", ["trio"])
