"""pytest plugin: the ``aiointercept_mock``, ``aiointercept_server`` and
``aiointercept_proxy_env`` fixtures and the ``aiointercept`` marker.

Registered through the ``pytest11`` entry point. One server serves the whole
session (one per xdist worker); each test that uses ``aiointercept_mock`` gets
it with no routes and no records, configured by its marker, and is failed at
teardown by what its own requests caused. The fixtures are synchronous, so they
work in sync tests and under every async harness (the anyio plugin on asyncio
and trio, pytest-asyncio) without depending on any of them; async callbacks
run on the loop of the test that registers them.

When neither pytest-recording nor pytest-vcr is loaded, it also registers
:mod:`._recording`, which serves pytest-recording's markers, fixtures and
hook, and adds pytest-recording's command-line options (``--record-mode``
is read by aiointercept's marker too).

Every pytest run of a project that has aiointercept installed loads this
plugin, so it imports only the standard library and pytest until a test uses
a fixture or the marker: the server, aiohttp and the rest come then.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ._settings import RECORD_MODES, strictness

if TYPE_CHECKING:
    from . import aiointercept
    from ._options import Options

__all__ = ["aiointercept_mock", "aiointercept_server"]

_MARKER = "aiointercept"
_STRICT = "aiointercept_strict"
_UNUSED = "aiointercept_unused"
_UNUSED_CHOICES = ("report", "fail")
#: Where an xdist worker leaves what its cassettes played, for the controller.
_WORKER_USAGE = "aiointercept_cassette_usage"
#: Set on a test whose call failed.
_CALL_FAILED = pytest.StashKey[bool]()
#: pytest-recording's package, and its plugin module, which adds
#: ``--record-mode`` too.
_PYTEST_RECORDING_PACKAGE = "pytest_recording"
_PYTEST_RECORDING = "pytest_recording.plugin"
#: pytest-vcr's plugin, whose names pytest-recording's are.
_PYTEST_VCR = "vcr"
#: The name of :mod:`._recording`, which serves pytest-recording's names
#: when neither plugin is loaded.
_RECORDING = "aiointercept.recording"


def pytest_addoption(parser: pytest.Parser) -> None:
    help_text = (
        "turn on assert_all_called and assert_all_matched for every aiointercept "
        "fixture, marker, decorator and block of every test (a test opts out "
        "with @pytest.mark.aiointercept(assert_all_called=False, "
        "assert_all_matched=False)), and make a route that no request can "
        "reach (UnreachableRouteWarning) an error"
    )
    group = parser.getgroup("aiointercept")
    group.addoption(
        "--aiointercept-strict", action="store_true", dest=_STRICT, help=help_text
    )
    parser.addini(_STRICT, help_text, type="bool", default=False)
    unused_help = (
        "at the end of the session, list per cassette file the recorded "
        "interactions that no test played (report), and fail the session if "
        "there are any (fail); only the cassettes that a test replayed count"
    )
    group.addoption(
        "--aiointercept-unused",
        dest=_UNUSED,
        choices=_UNUSED_CHOICES,
        default=None,
        help=unused_help,
    )
    parser.addini(_UNUSED, f"{unused_help}: report or fail", default="")
    if not _pytest_recording_installed():
        _add_recording_options(parser)


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser
) -> Generator[None, object, object]:
    """``--record-mode`` (and pytest-recording's other options), when
    pytest-recording is installed but not loaded; when it is loaded, both
    plugins read its ``--record-mode``, which takes the same modes.

    Only one plugin can add the options, and which one pytest loads first is
    not known in ``pytest_addoption``; here, the plugins of the command line,
    of the environment, of the installed packages and of the initial
    conftests are loaded, and the command line is not parsed yet."""
    try:
        return (yield)
    finally:
        if _pytest_recording_installed() and not _pytest_recording_loaded(early_config):
            _add_recording_options(parser)


def _pytest_recording_installed() -> bool:
    return importlib.util.find_spec(_PYTEST_RECORDING_PACKAGE) is not None


def _pytest_recording_loaded(config: pytest.Config) -> bool:
    return any(
        getattr(plugin, "__name__", None) == _PYTEST_RECORDING
        for plugin in config.pluginmanager.get_plugins()
    )


def _add_recording_options(parser: pytest.Parser) -> None:
    """``--record-mode``, and the options of pytest-recording's names that
    :mod:`._recording` serves."""
    group = parser.getgroup("aiointercept")
    group.addoption(
        "--record-mode",
        dest="record_mode",
        choices=RECORD_MODES,
        default=None,
        help="record mode of every aiointercept cassette whose marker does not "
        "set one (default: once), and of @pytest.mark.vcr (default: none)",
    )
    group.addoption(
        "--block-network",
        action="store_true",
        dest="block_network",
        help="refuse connections outside this machine in every test that does "
        "not record (as pytest-recording does)",
    )
    group.addoption(
        "--allowed-hosts",
        dest="allowed_hosts",
        default=None,
        help="hosts, separated by commas, that a blocked network lets through",
    )
    group.addoption(
        "--allow-private-ips",
        action="store_true",
        dest="allow_private_ips",
        help="pytest-recording's option, not supported: list the hosts in "
        "--allowed-hosts",
    )
    group.addoption(
        "--disable-recording",
        action="store_true",
        dest="disable_recording",
        help="run the tests marked vcr without their cassettes",
    )


def _unused_mode(config: pytest.Config) -> str | None:
    """``--aiointercept-unused``, else the ini's ``aiointercept_unused``."""
    mode = config.getoption(_UNUSED, None)
    if mode is not None:
        return str(mode)
    value = str(config.getini(_UNUSED) or "").strip()
    if value and value not in _UNUSED_CHOICES:
        raise pytest.UsageError(
            f"{_UNUSED} must be one of {', '.join(_UNUSED_CHOICES)}, got {value!r}"
        )
    return value or None


def pytest_configure(config: pytest.Config) -> None:
    if not _pytest_recording_loaded(config) and not config.pluginmanager.has_plugin(
        _PYTEST_VCR
    ):
        from . import _recording

        config.pluginmanager.register(_recording, _RECORDING)
    if _unused_mode(config) is not None:
        from ._cassette.usage import usage

        usage.enabled = True
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(**options): configure the aiointercept_mock fixture for this "
        "test with aiointercept's constructor options (mock_external_urls, "
        "passthrough, passthrough_unmatched, callback_start_timeout, "
        "assert_all_called, assert_all_matched, cassette, record_mode, ...); "
        "cassette=True records to cassettes/<module>/<test>.yaml",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test marked ``@pytest.mark.aiointercept(...)`` gets ``aiointercept_mock``
    even when it does not request it: the marker configures that fixture, and
    without it the marker would do nothing."""
    for item in items:
        fixturenames = getattr(item, "fixturenames", None)
        if (
            isinstance(fixturenames, list)
            and item.get_closest_marker(_MARKER) is not None
            and "aiointercept_mock" not in fixturenames
        ):
            fixturenames.append("aiointercept_mock")


@pytest.fixture(scope="session")
def aiointercept_server() -> Iterator[aiointercept]:
    """One mock server for the whole session, cleared after each test."""
    from ._session import SharedSession

    session = SharedSession()
    try:
        yield session.open()
    finally:
        session.close()


@pytest.fixture
def aiointercept_mock(
    request: pytest.FixtureRequest, aiointercept_server: aiointercept
) -> Iterator[aiointercept]:
    """The session's mock server, ready for this test: no routes, no records,
    configured by the test's ``@pytest.mark.aiointercept(...)`` marker."""
    __tracebackhide__ = True
    from ._session import SharedSession, finish_test

    server = aiointercept_server
    session = SharedSession.of(server)
    if session is None:
        # a conftest's own aiointercept_server (as aiointercept 1.0.0
        # documented): it keeps its configuration; each test starts clean
        if request.node.get_closest_marker(_MARKER) is not None:
            raise TypeError(
                f"@pytest.mark.{_MARKER} configures the plugin's own server, but "
                "this test's aiointercept_server fixture is overridden: configure "
                "that instance where it is made, or drop the override"
            )
        server.clear()
        yield server
        finish_test(server)
        return
    session.begin_test(_options(request.node))
    yield server
    session.end_test(failed=request.node.stash.get(_CALL_FAILED, False))


@pytest.fixture
def aiointercept_proxy_env(
    aiointercept_mock: aiointercept, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Send the requests of the test's child processes through
    ``aiointercept_mock``'s proxy: the variables of its ``proxy_env()`` are
    set in ``os.environ`` for the test, and restored after it. Returns them."""
    variables = aiointercept_mock.proxy_env(base={})
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return variables


def _options(node: pytest.Item | Any) -> Options:
    """The configuration that the test's marker gives ``aiointercept_mock``."""
    from . import aiointercept
    from ._session import default_options

    marker = node.get_closest_marker(_MARKER)
    if marker is None:
        return default_options()
    if marker.args:
        raise TypeError(
            f"@pytest.mark.{_MARKER} takes keyword arguments only, got {marker.args!r}"
        )
    if "param" in marker.kwargs:
        raise TypeError(
            f"@pytest.mark.{_MARKER} does not take param=: it configures the "
            "aiointercept_mock fixture, which is requested by name"
        )
    kwargs = dict(marker.kwargs)
    cassette = kwargs.get("cassette")
    if cassette is True:
        kwargs["cassette"] = default_cassette(node)
    elif cassette is False:
        del kwargs["cassette"]
    elif isinstance(cassette, str | os.PathLike) and not Path(cassette).is_absolute():
        kwargs["cassette"] = Path(node.path).parent / cassette
    if kwargs.get("cassette") is not None and "record_mode" not in kwargs:
        mode = node.config.getoption("record_mode", None)
        if mode is not None:
            kwargs["record_mode"] = mode
    return aiointercept(**kwargs)._options


def default_cassette(node: pytest.Item | Any) -> Path:
    """``cassettes/<module>/<test>.yaml`` beside the test's file."""
    path = Path(node.path)
    cls = getattr(node, "cls", None)
    name = node.name if cls is None else f"{cls.__name__}.{node.name}"
    return path.parent / "cassettes" / path.stem / f"{_safe(name)}.yaml"


def _safe(name: str) -> str:
    return re.sub(r'[\\/:*?"<>|\s]+', "-", name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """For the whole test (setup, call, teardown), the strict options left
    unset anywhere follow ``--aiointercept-strict``/``aiointercept_strict``,
    unless the test's marker sets them to ``False``; with the switch on, a
    route that no request can reach is an error rather than a warning."""
    strict = bool(item.config.getoption(_STRICT) or item.config.getini(_STRICT))
    marker = item.get_closest_marker(_MARKER)
    given = marker.kwargs if marker is not None else {}
    # the marker configures the fixture; for the test's blocks it can only opt
    # out of the suite's strictness
    called, matched = (
        strict and value is not False
        for value in (given.get("assert_all_called"), given.get("assert_all_matched"))
    )
    previous = (
        strictness.assert_all_called,
        strictness.assert_all_matched,
        strictness.unreachable_route_error,
    )
    strictness.assert_all_called, strictness.assert_all_matched = called, matched
    strictness.unreachable_route_error = strict
    try:
        return (yield)
    finally:
        (
            strictness.assert_all_called,
            strictness.assert_all_matched,
            strictness.unreachable_route_error,
        ) = previous


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember that a test's call failed, for its cassette
    (``record_on_exception=False`` writes nothing then)."""
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_CALL_FAILED] = True
    return report


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """A test that used ``aiointercept_server`` directly leaves nothing behind,
    and is failed by what its own requests caused."""
    __tracebackhide__ = True
    fixtures = getattr(item, "funcargs", {})
    if "aiointercept_server" not in fixtures or "aiointercept_mock" in fixtures:
        return
    from ._session import SharedSession

    server = fixtures["aiointercept_server"]
    session = SharedSession.of(server)
    if session is not None:
        server.assert_all_called, server.assert_all_matched = strictness.resolve(
            None, None
        )
        session.end_test(failed=item.stash.get(_CALL_FAILED, False))


# -- the interactions no test played (--aiointercept-unused) -------------------------


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist's controller: add what a worker's cassettes played."""
    exported = getattr(node, "workeroutput", {}).get(_WORKER_USAGE)
    if exported:
        from ._cassette.usage import usage

        usage.merge(exported)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A worker hands what its cassettes played to the controller; elsewhere,
    ``--aiointercept-unused=fail`` fails a session that left interactions
    unplayed."""
    config = session.config
    mode = _unused_mode(config)
    if mode is None:
        return
    from ._cassette.usage import usage

    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[_WORKER_USAGE] = usage.export()
        return
    if (
        mode == "fail"
        and usage.unused()
        and session.exitstatus
        in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
    ):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(
    terminalreporter: Any, exitstatus: int, config: pytest.Config
) -> None:
    """List, per cassette file, the interactions no test played."""
    mode = _unused_mode(config)
    if mode is None or hasattr(config, "workeroutput"):
        return
    from ._cassette.usage import usage

    unused = usage.unused()
    title = "aiointercept: cassette interactions that no test played"
    if not unused:
        terminalreporter.write_sep("=", title + ": none", green=True)
        return
    terminalreporter.write_sep("=", title, red=mode == "fail", yellow=mode == "report")
    root = Path(config.rootpath)
    for path, interactions in unused.items():
        shown = Path(path)
        if shown.is_relative_to(root):
            shown = shown.relative_to(root)
        terminalreporter.write_line(f"{shown}: {len(interactions)} unused")
        for number, what in interactions:
            terminalreporter.write_line(f"  interaction {number}: {what}")
    total = sum(len(interactions) for interactions in unused.values())
    terminalreporter.write_line(
        f"{total} recorded interactions in {len(unused)} cassettes were never "
        "played: delete them, or record the cassettes again "
        "(--record-mode=rewrite)"
        + (" (--aiointercept-unused=fail fails the session)" if mode == "fail" else "")
    )
