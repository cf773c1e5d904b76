"""``from aiointercept.vcr.errors import CannotOverwriteExistingCassetteException``,
where vcrpy has ``from vcr.errors import ...``.

vcrpy raises ``CannotOverwriteExistingCassetteException`` in the client, for
the request that its cassette does not have. aiointercept closes that
request's connection (the client raises its own transport error) and raises
:exc:`~aiointercept.CassetteError` when the block exits, naming the request
and the closest recorded one: the name is an alias of that error, so that an
``except`` or a ``pytest.raises`` around the whole cassette block keeps
working.
"""

from __future__ import annotations

from aiointercept._errors import CassetteError

__all__ = ["CannotOverwriteExistingCassetteException"]

#: vcrpy's name for a request that the cassette cannot answer, nor record: an
#: alias of :exc:`~aiointercept.CassetteError`.
CannotOverwriteExistingCassetteException = CassetteError
