"""Cassette options: checked when the block is built, before any file is
touched; without PyYAML, a block with a cassette names the extra to install.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from aiointercept import aiointercept

pytestmark = pytest.mark.anyio


async def test_cassette_requires_mock_external_urls(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mock_external_urls"):
        aiointercept(cassette=tmp_path / "c.yaml")


@pytest.mark.parametrize(
    "options",
    [
        {"record_mode": "none"},
        {"match_on": ("method", "uri")},
        {"filter_headers": ("x-api-key",)},
        {"filter_query_parameters": ("api_key",)},
        {"filter_post_data_parameters": ("password",)},
        {"before_record_request": lambda request: request},
        {"before_record_response": lambda response: response},
        {"scrub_secrets": False},
    ],
    ids=lambda options: next(iter(options)),
)
async def test_cassette_options_require_a_cassette(options: dict[str, Any]) -> None:
    (name,) = options
    with pytest.raises(ValueError, match=name):
        aiointercept(mock_external_urls=True, **options)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"record_mode": "sometimes"}, "sometimes"),
        ({"match_on": ("method", "colour")}, "colour"),
        ({"match_on": "method"}, "method"),
        ({"before_record_request": 42}, "42"),
        ({"before_record_response": "not callable"}, "not callable"),
        ({"filter_headers": (("authorization", "x", "y"),)}, "authorization"),
        ({"filter_query_parameters": 7}, "7"),
        ({"cassette": 12345}, "12345"),
        ({"scrub_secrets": "no"}, "'no'"),
        ({"scrub_secrets": None}, "None"),
        ({"scrub_secrets": 0}, "got 0"),
    ],
    ids=lambda value: str(value) if isinstance(value, str) else next(iter(value)),
)
async def test_bad_cassette_options_are_rejected_at_construction(
    tmp_path: Path, options: dict[str, Any], named: str
) -> None:
    options = {"cassette": tmp_path / "c.yaml", **options}
    with pytest.raises((ValueError, TypeError), match=named):
        aiointercept(mock_external_urls=True, **options)
    assert not (tmp_path / "c.yaml").exists()


@pytest.mark.parametrize(
    "record_mode", ["none", "once", "new_episodes", "all", "rewrite"]
)
async def test_every_record_mode_and_matcher_is_accepted(
    tmp_path: Path, record_mode: str
) -> None:
    matchers = ["method", "scheme", "host", "port", "path", "query"]
    matchers += ["uri", "body", "raw_body", "headers"]
    aiointercept(
        mock_external_urls=True,
        cassette=tmp_path / "c.yaml",
        record_mode=record_mode,
        match_on=tuple(matchers),
    )


MISSING_PYYAML = """
import sys

sys.modules["yaml"] = None  # as if PyYAML were not installed

import anyio

from aiointercept import aiointercept


async def main() -> None:
    async with aiointercept(mock_external_urls=True, cassette=sys.argv[1]):
        pass


try:
    anyio.run(main)
except ImportError as error:
    print(f"ImportError: {error}")
else:
    print("no error")
"""


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_missing_pyyaml_names_the_extra(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(MISSING_PYYAML)
    result = await anyio.run_process(
        [sys.executable, str(script), str(tmp_path / "c.yaml")], check=False
    )
    output = result.stdout.decode() + result.stderr.decode()
    assert result.returncode == 0, output
    assert output.startswith("ImportError:"), output
    assert "aiointercept[record]" in output
