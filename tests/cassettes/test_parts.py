"""The parts of a cassette on their own: the record modes, and the matchers
with the index that stands in for the cheap ones.

What a cassette does with them, through real clients, is tested in
the other modules of ``tests/cassettes``.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from aiointercept import CassetteRequest, aiointercept
from tests.support.internals import (
    MATCHERS,
    RECORD_MODES,
    CassetteResponse,
    Index,
    Interaction,
    RecordMode,
)

# -- record modes ------------------------------------------------------------------


def test_record_modes_are_the_plugins_choices_named_after_their_values() -> None:
    assert tuple(RecordMode) == RECORD_MODES
    for mode in RecordMode:
        assert mode.name.lower() == mode.value
        assert mode == mode.value
        assert str(mode) == f"{mode}" == mode.value


@pytest.mark.parametrize("mode", list(RecordMode), ids=str)
def test_a_record_mode_may_be_given_as_the_enum(
    tmp_path: Path, mode: RecordMode
) -> None:
    aiointercept(mock_external_urls=True, cassette=tmp_path / "c", record_mode=mode)


# -- matchers ----------------------------------------------------------------------

JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

#: Requests that some matchers tell apart and others do not.
REQUESTS = [
    CassetteRequest("GET", "http://api.example.test/items?a=1&b=2"),
    CassetteRequest("get", "http://API.example.test./items?b=2&a=1"),
    CassetteRequest("GET", "http://api.example.test:80/items?a=1&b=2"),
    CassetteRequest("GET", "http://api.example.test:8080/items?a=1&b=2"),
    CassetteRequest("GET", "https://api.example.test/items?a=1&b=2"),
    CassetteRequest("GET", "http://api.example.test/items%2Fx?a=1&b=2"),
    CassetteRequest("GET", "http://api.example.test/items?a=1&a=2"),
    CassetteRequest("GET", "http://other.example.test/items"),
    CassetteRequest("POST", "http://api.example.test/items", b'{"x": 1, "y": 2}', JSON),
    CassetteRequest("POST", "http://api.example.test/items", b'{"y":2,"x":1}', JSON),
    CassetteRequest("POST", "http://api.example.test/items", b"a=1&b=2", FORM),
    CassetteRequest("POST", "http://api.example.test/items", b"b=2&a=1", FORM),
    CassetteRequest("POST", "http://api.example.test/items", b"a=1&b=2"),
    CassetteRequest("POST", "http://api.example.test/items", b"", {"X-Key": "1"}),
    CassetteRequest("POST", "http://api.example.test/items", None, {"x-key": "1"}),
    CassetteRequest("POST", "http://api.example.test/items", None, {"x-key": "2"}),
]

PAIRS = list(itertools.product(REQUESTS, repeat=2))


@pytest.mark.parametrize("name", MATCHERS)
def test_each_matcher_tells_some_requests_apart_and_not_others(name: str) -> None:
    matcher = MATCHERS[name]
    assert matcher.__name__ == name
    results = {matcher(r1, r2) for r1, r2 in PAIRS if r1 is not r2}
    assert results == {True, False}


@pytest.mark.parametrize("name", MATCHERS)
def test_the_index_finds_what_the_matcher_accepts(name: str) -> None:
    """The index's key for the cheap matchers, and its comparison of the
    others, agree with the matcher."""
    for recorded, incoming in PAIRS:
        index = Index([Interaction(recorded, CassetteResponse(200, "OK"))], [name])
        candidates = index.candidates(incoming)
        found = bool(candidates) and index.matches(0, incoming)
        assert found == MATCHERS[name](recorded, incoming), (recorded, incoming)
