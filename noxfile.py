"""Development tasks: ``nox -s tests``, ``nox -s demo``, ``nox -s lint`` ..."""

from __future__ import annotations

import os
from pathlib import Path

import nox

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml("pyproject.toml")

nox.options.sessions = ["tests", "lint", "typing", "docs", "demo"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_external_run = True


def _group(name: str) -> list[str]:
    return list(nox.project.dependency_groups(PYPROJECT, name))


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite on asyncio and trio, with branch coverage (>= 95%).

    It runs two pytest-xdist workers a core unless the arguments say
    otherwise: ``nox -s tests -- -n 0`` runs it in one process.
    """
    session.install("-e", ".[trio]", *_group("test"))
    args = session.posargs
    if not any(arg.startswith(("-n", "--numprocesses")) for arg in args):
        # two workers a core: many tests wait (on sockets, timers, the pytest
        # subprocesses of the plugin tests), and another worker runs then;
        # work stealing evens out the long tests at the end
        workers = 2 * (os.cpu_count() or 1)
        args = ["-n", str(workers), "--dist", "worksteal", *args]
    # coverage starts before pytest loads the plugin (entry point) and follows
    # the subprocesses: xdist's workers, and the pytest runs of the plugin tests
    session.run("coverage", "erase")
    session.run("coverage", "run", "-m", "pytest", *args)
    session.run("coverage", "combine", "--quiet")
    session.run("coverage", "report", "--fail-under=95")


@nox.session
def soak(session: nox.Session) -> None:
    """The reliability suite at full size, printing the figures it measures.

    ``AIOINTERCEPT_SOAK=1`` makes tests/reliability run 1000 enter/exit cycles,
    200 clients x 50 requests and many more fuzzing examples.
    """
    session.install("-e", ".[trio]", *_group("test"))
    session.run(
        "pytest",
        "tests/reliability",
        "-s",
        *session.posargs,
        env={"AIOINTERCEPT_SOAK": "1"},
    )


@nox.session(python=os.environ.get("AIOINTERCEPT_LOWEST_PYTHON", "3.10"))
def lowest(session: nox.Session) -> None:
    """The test suite against the lowest dependency versions we declare."""
    session.install(
        "-c", "tests/constraints-lowest.txt", "-e", ".[trio]", *_group("test")
    )
    session.run("pip", "list")
    session.run("pytest", *session.posargs)


#: The interception tests (each module for one or more clients), and the
#: WebSocket routes, which the tests reach with aiohttp's client.
INTERCEPTION_TESTS = [
    "tests/interception",
    "tests/core/test_websocket.py",
]

#: What ``client_compat`` installs over the test dependencies, per run: the
#: latest release of every client, then the oldest release that
#: ``mock_external_urls=True`` supports of each one. httpcore 0.16.0 is the
#: oldest httpcore that installs beside anyio 4 (0.15 wants anyio 3), and
#: httpx 0.23.1 the oldest httpx that takes it; httpx2 2.0.0 (on httpcore2
#: 2.0.0) is its first release.
CLIENT_PINS = {
    "latest": [
        "aiohttp",
        "httpx",
        "httpcore",
        "httpx2",
        "httpcore2",
        "requests",
        "urllib3",
    ],
    "aiohttp-3.10.0": ["aiohttp==3.10.0"],
    "httpx-0.23.1": ["httpx==0.23.1", "httpcore==0.16.0"],
    "httpx2-2.0.0": ["httpx2==2.0.0", "httpcore2==2.0.0"],
    "urllib3-1.26": ["requests", "urllib3<2"],
}

_PRINT_VERSIONS = """\
from importlib.metadata import version
for name in ("aiohttp", "httpx", "httpcore", "httpx2", "httpcore2", "requests",
             "urllib3"):
    print(name, version(name))
"""


@nox.session
@nox.parametrize("clients", list(CLIENT_PINS.values()), ids=list(CLIENT_PINS))
def client_compat(session: nox.Session, clients: list[str]) -> None:
    """The interception tests on the oldest supported and latest clients.

    One run has the latest aiohttp, httpx, httpx2 and requests (urllib3 2.x);
    each other puts one client back: aiohttp 3.10.0, httpx 0.23.1 on httpcore
    0.16.0, httpx2 2.0.0, or the latest requests on urllib3 1.26.x.
    ``nox -s client_compat`` runs them all, ``nox -s
    "client_compat(httpx-0.23.1)"`` one of them; niquests has a session of
    its own (``client_compat_niquests``).
    """
    session.install("-e", ".[trio]", *_group("test"))
    session.install("--upgrade", *clients)
    session.run("python", "-c", _PRINT_VERSIONS)
    session.run("pytest", *INTERCEPTION_TESTS, *session.posargs)


_PRINT_NIQUESTS_VERSIONS = """\
from importlib.metadata import version
import urllib3
for name in ("niquests", "urllib3-future"):
    print(name, version(name))
print("urllib3 imported from", urllib3.__file__)
"""


@nox.session
def client_compat_niquests(session: nox.Session) -> None:
    """niquests (sync and async) against intercepted URLs, apart from the
    other runs: it installs urllib3-future, which takes the place of urllib3,
    so requests and urllib3 would no longer be tested on the real urllib3."""
    session.install("-e", ".[trio]", *_group("test"))
    session.install("--upgrade", "niquests")
    session.run("python", "-c", _PRINT_NIQUESTS_VERSIONS)
    session.run("pytest", "tests/compat/test_niquests.py", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and format check; import-linter: the package layering
    (``[tool.importlinter]`` in pyproject.toml)."""
    session.install("ruff", "import-linter")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports", env={"PYTHONPATH": str(ROOT / "src")})


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict on the package, tests, examples and this file."""
    session.install("-e", ".[trio]", *_group("test"), *_group("typing"))
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the Sphinx docs; warnings are errors."""
    session.install("-e", ".", *_group("docs"))
    session.run(
        "sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html"
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against plain aiohttp and httpx floors (and a TLS floor for
    aiohttp, httpx and httpx2), aiointercept 1.0.0, aioresponses-ng, respx,
    vcrpy and cassetter, each installed in its own virtualenv (kept in
    .nox/bench-venvs/, with the requirements that ``ENVIRONMENTS`` in
    benchmarks/run.py lists; cassetter is left out where it does not install).
    ``nox -s bench -- --quick`` for a smoke run, ``-- --write-docs`` to
    regenerate docs/performance.rst, ``-- --help``.
    """
    session.install("matplotlib")
    session.run("python", "-m", "benchmarks.run", *session.posargs)


#: The scripts of examples/ that show failures on purpose, and what the
#: ``aiointercept`` logger says for them then: these lines are expected.
EXPECTED_LOGS = {
    "assertions.py": "WARNINGs for the requests the failing assertions show",
    "async_callback.py": "the ERROR of a callback that raises KeyError on purpose",
    "external_urls.py": "a WARNING for a host that has no route",
    "external_urls_httpx_trio.py": "a WARNING for a host that has no route",
    "httpx_trio.py": "WARNINGs for requests that match no route",
    "record_replay.py": "WARNINGs for a request the cassette has not recorded",
    "sync_requests.py": "the ERROR of an async callback kept waiting by a blocked loop",
    "websocket.py": "the ERROR of a WebSocket handler that raises KeyError on purpose",
}


@nox.session
def demo(session: nox.Session) -> None:
    """Run every script in examples/; each one checks what it shows.

    Lines that aiointercept logs are labelled "expected" for the scripts that
    show failures on purpose (``EXPECTED_LOGS``); any other script that logs
    fails the session.
    """
    session.install("-e", ".[trio,record,tls]", "httpx", "httpx2", "requests")
    runner = ROOT / "examples" / "_labelled_logs.py"
    for script in sorted((ROOT / "examples").glob("[!_]*.py")):
        expected = EXPECTED_LOGS.get(script.name)
        if expected is None:
            session.log(f"running {script.name}")
            label = "unexpected log: "
        else:
            session.log(f"running {script.name}; expected in its output: {expected}")
            label = "(expected) "
        output = session.run("python", str(runner), label, str(script), silent=True)
        print(output, end="")
        if expected is None and "unexpected log: " in str(output):
            session.error(f"{script.name} logged through aiointercept's logger")
        if expected is not None and "(expected) " not in str(output):
            session.error(f"{script.name} is in EXPECTED_LOGS but logged nothing")
