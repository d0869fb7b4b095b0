"""Sessions: tests, lint (ruff), typecheck (mypy --strict), bench, demo.

`nox` with no arguments runs tests, lint and typecheck: the README's test command.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

EXTRAS = ".[aiohttp,redis,crypto,emulator,dev]"


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", EXTRAS)
    session.run("pytest", "-q", "-p", "no:cacheprovider", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.5")
    session.run("ruff", "check", "wxa_async", "tests", "benchmarks", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", EXTRAS)
    session.run("mypy", "--strict")


@nox.session
def bench(session: nox.Session) -> None:
    """Throughput of wxa_async against raw aiohttp, raw httpx and wechatpy, in one run."""
    session.install("-e", EXTRAS, "matplotlib", "wechatpy", "psutil")
    session.run("python", "benchmarks/bench.py", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    session.install("-e", EXTRAS)
    session.run("python", "-m", "wxa_async", "demo", *session.posargs)
