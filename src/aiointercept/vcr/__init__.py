"""vcrpy's API over aiointercept's cassettes: ``import vcr`` becomes
``from aiointercept import vcr``, and the tests stay as they are.

::

    from aiointercept import vcr

    my_vcr = vcr.VCR(cassette_library_dir="tests/cassettes", record_mode="once")

    @my_vcr.use_cassette("users.yaml", filter_headers=["authorization"])
    def test_users():
        assert requests.get("https://api.example.com/users").ok

``use_cassette()`` gives a context manager (``with`` and ``async with``) and a
decorator (of sync and async functions); underneath, each entry runs a block
``aiointercept(mock_external_urls=True, cassette=<path>, ...)``, so every
client is covered, with no patch. vcrpy's options are taken as they are, and
those aiointercept does not support raise an error that says why: see
"Switching from vcrpy" in the docs.
"""

from __future__ import annotations

from aiointercept._cassette.format import CassetteRequest as Request
from aiointercept._cassette.options import RecordMode
from aiointercept._cassette.view import Cassette

from . import errors, record_mode
from ._config import VCR
from .errors import CannotOverwriteExistingCassetteException

__all__ = [
    "VCR",
    "CannotOverwriteExistingCassetteException",
    "Cassette",
    "RecordMode",
    "Request",
    "default_vcr",
    "errors",
    "mode",
    "record_mode",
    "use_cassette",
]

#: vcrpy's name for the record modes: ``vcr.mode.ONCE``.
mode = RecordMode

#: The configuration of the module-level :func:`use_cassette`.
default_vcr = VCR()

#: ``use_cassette()`` with vcrpy's defaults (:data:`default_vcr`'s).
use_cassette = default_vcr.use_cassette


def __dir__() -> list[str]:
    """The public API, and nothing of the machinery."""
    return sorted(__all__)
