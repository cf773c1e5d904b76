"""``from aiointercept.vcr.record_mode import RecordMode``, where vcrpy has
``from vcr.record_mode import RecordMode``: aiointercept's record modes."""

from __future__ import annotations

from aiointercept._cassette.options import RecordMode

__all__ = ["RecordMode"]
