"""Sessions: tests, tests_uvloop, lint (ruff), typecheck (mypy --strict), docs, bench, demo.

`nox` with no arguments runs tests, lint, typecheck and docs: the README's test command.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "docs"]
nox.options.reuse_existing_virtualenvs = True

PYPROJECT = nox.project.load_toml("pyproject.toml")
EXTRAS = ".[aiohttp,redis,crypto,emulator,cli,otel,rollout,postgresql,dashboard]"


def _group(name: str) -> list[str]:
    """A PEP 735 dependency group of pyproject.toml (development tools are no extra)."""
    return list(nox.project.dependency_groups(PYPROJECT, name))


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", EXTRAS, *_group("test"))
    session.run("pytest", "-q", "-p", "no:cacheprovider", *session.posargs)


@nox.session
def tests_uvloop(session: nox.Session) -> None:
    """The suite on uvloop's event loop."""
    session.install("-e", EXTRAS.replace("]", ",uvloop]"), *_group("test"))
    # Left to the main run: tests that spend their time in child processes or in a build
    # (the browser, the crash test, the CLI's entry points, the wheel), which keeps
    # .ci/run well inside its time.
    session.run("pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.support.uvloop_plugin",
                "--ignore", "tests/dashboard/test_browser.py",
                "--ignore", "tests/rollout/test_rollout_crash.py",
                "--ignore", "tests/cli", "--ignore", "tests/packaging", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install(*_group("lint"))
    session.run("ruff", "check", "wxa_async", "tests", "benchmarks", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", EXTRAS, *_group("typecheck"))
    session.run("mypy", "--strict")


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site, built strictly (offline: no fonts or scripts fetched)."""
    session.install("-e", EXTRAS, *_group("docs"))
    session.run("mkdocs", "build", "--strict", *session.posargs, env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session
def bench(session: nox.Session) -> None:
    """Throughput of wxa_async against raw aiohttp, raw httpx and wechatpy, in one run
    (``nox -s bench -- --only latency,uvloop`` for some groups)."""
    session.install("-e", EXTRAS.replace("]", ",uvloop]"), *_group("test"), "matplotlib",
                    "wechatpy")
    session.run("python", "benchmarks/bench.py", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    session.install("-e", EXTRAS)
    session.run("python", "-m", "wxa_async", "demo", *session.posargs)
