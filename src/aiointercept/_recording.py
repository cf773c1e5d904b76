"""pytest-recording's names, served by aiointercept: ``@pytest.mark.vcr``,
``@pytest.mark.block_network``, ``@pytest.mark.default_cassette``, the
``vcr``, ``vcr_config``, ``vcr_cassette_dir``, ``default_cassette_name`` and
``record_mode`` fixtures, and the ``pytest_recording_configure`` hook.

The plugin (:mod:`aiointercept.pytest_plugin`) registers this module when
neither pytest-recording nor pytest-vcr is loaded, so that a suite written
for pytest-recording runs on aiointercept as it is; it adds the command-line
options (``--record-mode``, ``--block-network``, ``--allowed-hosts``,
``--allow-private-ips``, ``--disable-recording``) itself, as only one plugin
can. A test marked ``vcr`` runs in a block of :mod:`aiointercept.vcr`
(``aiointercept(mock_external_urls=True, cassette=...)``), entered by the
synchronous ``vcr`` fixture, so it works in sync tests and under every async
harness.

Like the plugin, this module imports only the standard library and pytest
until a test is marked.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .vcr import VCR

__all__ = [
    "block_network",
    "default_cassette_name",
    "record_mode",
    "vcr",
    "vcr_cassette_dir",
    "vcr_config",
]

#: The markers, as pytest-recording declares them.
MARKERS = {
    "vcr": "vcr(*extra_cassettes, **options): record and replay this test's "
    "HTTP requests with a cassette (aiointercept's, with vcrpy's options)",
    "block_network": "block_network(allowed_hosts=None): refuse connections "
    "outside this machine in this test",
    "default_cassette": "default_cassette(name): the name of this test's cassette",
    "allowed_hosts": "allowed_hosts: hosts that block_network lets through",
}

#: Keys of ``vcr_config`` that configure the network blocking, not a cassette.
_NETWORK_KEYS = ("allowed_hosts", "allow_private_ips")

#: Characters a cassette's name cannot hold, as pytest-recording replaces them.
_FORBIDDEN = re.compile(r"[<>?%*:|\"'/\\]")

#: The error of a test whose call failed.
_CALL_ERROR = pytest.StashKey[BaseException]()

try:
    _NAME_MAX = os.pathconf(".", "PC_NAME_MAX")
except (AttributeError, ValueError, OSError):  # pragma: no cover - Windows
    _NAME_MAX = 255


class _Hooks:
    @pytest.hookspec
    def pytest_recording_configure(self, config: pytest.Config, vcr: VCR) -> None:
        """Called with the :class:`aiointercept.vcr.VCR` of each test marked
        ``vcr``, before its cassette starts: to register matchers."""


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(_Hooks)


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS.values():
        config.addinivalue_line("markers", marker)
    if config.getoption("allow_private_ips", False):
        raise pytest.UsageError(_PRIVATE_IPS)


_PRIVATE_IPS = (
    "allow_private_ips (--allow-private-ips) is not supported by aiointercept: "
    "connections to this machine are always allowed; list the other hosts in "
    "allowed_hosts (--allowed-hosts)"
)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep the error of a test whose call failed, for its cassette's exit."""
    report = yield
    if report.when == "call" and report.failed and call.excinfo is not None:
        item.stash[_CALL_ERROR] = call.excinfo.value
    return report


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Give ``block_network`` to the tests that ask for a blocked network (its
    marker, or ``--block-network``), and ``vcr`` to the tests marked ``vcr``:
    pytest-recording makes both autouse, which every test of a suite would
    pay for (a few hundred microseconds for each) whether it uses them or
    not."""
    block_all = bool(config.getoption("block_network", False))
    for item in items:
        if block_all or item.get_closest_marker("block_network") is not None:
            _request_fixture(item, "block_network")
        if item.get_closest_marker("vcr") is not None:
            _request_fixture(item, "vcr")


def _request_fixture(item: pytest.Item, name: str) -> None:
    """Have ``item`` set up the fixture ``name`` where pytest sets up an
    autouse fixture of the function scope: after the fixtures of broader
    scopes, before the test's own."""
    names = getattr(item, "fixturenames", None)
    if not isinstance(names, list) or name in names:
        return
    info = getattr(item, "_fixtureinfo", None)
    definitions = getattr(info, "name2fixturedefs", {})
    for index, other in enumerate(names):
        defined = definitions.get(other)
        if defined and getattr(defined[-1], "scope", None) == "function":
            names.insert(index, name)
            return
    names.append(name)


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def record_mode(request: pytest.FixtureRequest) -> str:
    """The record mode of ``--record-mode``, or ``none``."""
    mode: str | None = request.config.getoption("record_mode", None)
    return mode or "none"


@pytest.fixture(scope="session")
def disable_recording(request: pytest.FixtureRequest) -> bool:
    """``--disable-recording``: no cassette at all."""
    return bool(request.config.getoption("disable_recording", False))


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    """The options of every cassette (vcrpy's), which the markers' override."""
    return {}


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """``cassettes/<module>`` beside the test's file."""
    path = Path(request.node.path)
    return str(path.parent / "cassettes" / path.stem)


@pytest.fixture
def default_cassette_name(request: pytest.FixtureRequest) -> str:
    """The test's name (``<Class>.<test>`` for a method, parameters
    included), or the name of its ``@pytest.mark.default_cassette``."""
    marker = request.node.get_closest_marker("default_cassette")
    if marker is not None:
        if not marker.args or not isinstance(marker.args[0], str):
            raise TypeError(
                "@pytest.mark.default_cassette takes the cassette's name: "
                f"@pytest.mark.default_cassette('name.yaml'), got {marker.args!r}"
            )
        return marker.args[0]
    cls = request.cls
    name = request.node.name if cls is None else f"{cls.__name__}.{request.node.name}"
    return _FORBIDDEN.sub("-", name)


@pytest.fixture
def vcr_markers(request: pytest.FixtureRequest) -> list[pytest.Mark]:
    """The test's ``vcr`` markers, the closest first."""
    return list(request.node.iter_markers(name="vcr"))


@pytest.fixture
def allowed_hosts(request: pytest.FixtureRequest) -> list[str] | None:
    """The hosts ``block_network`` lets through: those of the marker, else of
    ``--allowed-hosts``, else of ``vcr_config``."""
    marker = request.node.get_closest_marker("block_network")
    given = (
        (marker.kwargs.get("allowed_hosts") if marker is not None else None)
        or request.config.getoption("allowed_hosts", None)
        or request.getfixturevalue("vcr_config").get("allowed_hosts")
    )
    if isinstance(given, str):
        given = given.split(",")
    return None if given is None else list(given)


@pytest.fixture
def block_network(
    request: pytest.FixtureRequest,
    record_mode: str,
    vcr_markers: list[pytest.Mark],
    disable_recording: bool,
) -> Iterator[None]:
    """With ``@pytest.mark.block_network`` or ``--block-network``, refuse the
    connections of a test that has no cassette (or that only replays) to any
    address outside this machine, but the allowed hosts'. A test marked
    ``vcr`` gets the same from its cassette's block.

    pytest-recording makes it autouse; here the tests that need it get it at
    collection (see :func:`pytest_collection_modifyitems`), so that the
    others pay nothing for it."""
    if not _blocks(request, vcr_markers, record_mode) or (
        vcr_markers and not disable_recording
    ):
        yield
        return
    from . import aiointercept

    allowed = _allowed(request)
    with aiointercept(mock_external_urls=True, passthrough=allowed or None):
        yield


@pytest.fixture
def vcr(
    request: pytest.FixtureRequest,
    vcr_markers: list[pytest.Mark],
    vcr_cassette_dir: str,
    record_mode: str,
    disable_recording: bool,
) -> Iterator[Any]:
    """The cassette of a test marked ``vcr``, or ``None``.

    pytest-recording makes it autouse; here the tests marked ``vcr`` get it
    at collection (see :func:`pytest_collection_modifyitems`)."""
    if disable_recording or not vcr_markers:
        yield None
        return
    from .vcr import VCR

    options = _merged(request.getfixturevalue("vcr_config"), vcr_markers)
    for key in _NETWORK_KEYS:
        options.pop(key, None)
    mode = options.pop("record_mode", record_mode)
    folder = Path(vcr_cassette_dir)
    name = _fitted(
        request.getfixturevalue("default_cassette_name"),
        str(options.get("serializer", ".yaml")),
    )
    suffix = f".{options['serializer']}" if "serializer" in options else ".yaml"
    transform = VCR.ensure_suffix(suffix)
    if mode == "rewrite":
        # pytest-recording starts a rewritten cassette from no file at all
        Path(transform(folder / name)).unlink(missing_ok=True)
    extras = tuple(
        path if path.is_absolute() else folder / path
        for marker in vcr_markers
        for path in map(Path, marker.args)
    )
    configuration = VCR(
        path_transformer=transform,
        cassette_library_dir=str(folder),
        record_mode=mode,
    )
    request.config.hook.pytest_recording_configure(
        config=request.config, vcr=configuration
    )
    blocks = _blocks(request, vcr_markers, record_mode)
    allowed = _allowed(request) if blocks else []
    context = configuration._context(
        Path(name), extras, allowed=allowed, block_network=blocks, **options
    )
    cassette = context.__enter__()
    try:
        yield cassette
    finally:
        # the block exits as a decorator's would around the test: with the
        # test's error, if it failed (record_on_exception=False then writes
        # nothing)
        error = request.node.stash.get(_CALL_ERROR, None)
        context.__exit__(
            None if error is None else type(error),
            error,
            None if error is None else error.__traceback__,
        )


# -- helpers ---------------------------------------------------------------------------


def _merged(config: dict[str, Any], markers: list[pytest.Mark]) -> dict[str, Any]:
    """``vcr_config``, then the markers' options, the closest last."""
    merged = copy.deepcopy(config)
    for marker in reversed(markers):
        merged.update(marker.kwargs)
    return merged


def _blocks(
    request: pytest.FixtureRequest, markers: list[pytest.Mark], record_mode: str
) -> bool:
    """Whether the test's connections outside this machine are refused: asked
    for, by the marker or the option, and the test does not record."""
    marker = request.node.get_closest_marker("block_network")
    if marker is not None and (
        marker.args or not set(marker.kwargs) <= {*_NETWORK_KEYS}
    ):
        raise TypeError(
            "@pytest.mark.block_network takes allowed_hosts= only, got "
            f"{marker.args!r} {marker.kwargs!r}"
        )
    if marker is None and not request.config.getoption("block_network", False):
        return False
    if not markers:
        return True
    mode = request.config.getoption("record_mode", None)
    if mode is None:
        config = _merged(request.getfixturevalue("vcr_config"), markers)
        mode = config.get("record_mode", "none")
    return bool(mode == "none")


def _allowed(request: pytest.FixtureRequest) -> list[str]:
    """The allowed hosts that are not this machine's (which are always
    allowed), as passthrough entries."""
    marker = request.node.get_closest_marker("block_network")
    config = request.getfixturevalue("vcr_config")
    if (marker is not None and marker.kwargs.get("allow_private_ips")) or config.get(
        "allow_private_ips"
    ):
        raise TypeError(_PRIVATE_IPS)
    hosts = request.getfixturevalue("allowed_hosts") or []
    entries = []
    for host in hosts:
        plain = host.replace("\\.", ".")
        if not re.fullmatch(r"[\w.:\[\]-]+", plain):
            raise ValueError(
                f"allowed host {host!r} is a pattern: aiointercept lets hosts "
                "through by name or address, list each one"
            )
        if plain.strip("[]") in ("localhost", "::1") or plain.startswith("127."):
            continue
        entries.append(f"[{plain}]" if ":" in plain and "[" not in plain else plain)
    return entries


def _fitted(name: str, suffix: str) -> str:
    """``name`` shortened as pytest-recording shortens a name too long for a
    file: cut, then ``...`` and the MD5 of the whole name."""
    if len(name) + len(suffix) <= _NAME_MAX:
        return name
    digest = hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()
    return f"{name[: _NAME_MAX - len(suffix) - len(digest) - 3]}...{digest}"
