"""The Typer application: ``wxa-async [--version] COMMAND ...``.

Typer (on Click, with Rich help) gives coloured help with defaults shown, shell
completion (``--install-completion``) and typed options from annotations; the commands
stay plain functions. Each command maps the SDK's errors to :class:`ExitCode`.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import sys
from typing import Annotated

import typer

from .._extras import missing_extras, require_extra
from .._version import __version__
from ._call import call
from ._entry import PROG, ExitCode
from ._report import reporting
from ._table import endpoint_rows, endpoint_table

__all__ = ["app"]

app = typer.Typer(
    name=PROG,
    help="A typed asyncio SDK for WeChat mini-program code management (代码管理): "
    "call any endpoint, serve the emulator, run the demo. "
    "Exit codes: 0 ok, 1 the work failed (an errcode), 2 bad usage, 3 missing extra "
    "or credentials, 4 no usable answer (network, timeout, HTTP 5xx), 130 interrupted.",
    rich_markup_mode="rich",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    # A traceback must never print local variables: they can hold tokens and secrets.
    pretty_exceptions_show_locals=False,
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"{PROG} {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_show_version, is_eager=True,
                     help="Print the version and exit."),
    ] = False,
) -> None:
    """wxa_async on the command line."""


class DemoTransport(enum.StrEnum):
    fake = "fake"
    httpx = "httpx"
    aiohttp = "aiohttp"


@app.command()
def demo(
    apps: Annotated[int, typer.Option(min=1, help="How many mini programs to release.")] = 200,
    fault_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of calls hit by an injected fault.")
    ] = 0.03,
    seed: Annotated[int, typer.Option(help="Seed of faults and audit outcomes.")] = 7,
    transport: Annotated[
        DemoTransport,
        typer.Option(help="fake: in process; httpx / aiohttp: over HTTP to the emulator "
                     "on loopback."),
    ] = DemoTransport.httpx,
) -> None:
    """Roll a release out to a fleet on the built-in emulator over loopback HTTP: audits
    over virtual days, rejections, faults, a short quota, lost pushes, a worker crash and
    a staged release (no network, no credentials)."""
    with reporting():
        # The audit results arrive as encrypted pushes; the rollout keeps its state in a
        # SQLite store.
        extras = ["crypto", "rollout"]
        if transport is not DemoTransport.fake:
            extras.append("emulator")
        if transport is DemoTransport.aiohttp:
            extras.append("aiohttp")
        require_extra("the demo", *extras)
        from ..testing._demo import run_demo

        report = asyncio.run(run_demo(apps=apps, fault_rate=fault_rate, seed=seed,
                                      transport=transport.value))
        if not report.ok:
            raise typer.Exit(ExitCode.FAILED)


class LogLevel(enum.StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


@app.command()
def endpoints(
    json_: Annotated[
        bool, typer.Option("--json", help="Every endpoint with its fields, as JSON.")
    ] = False,
) -> None:
    """Print the endpoint tables: a Markdown table, or JSON for scripts."""
    if json_:
        typer.echo(json.dumps(endpoint_rows(), ensure_ascii=False, indent=2, default=str))
    else:
        typer.echo(endpoint_table())


@app.command()
def emulator(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port; 0 picks a free one.")] = 8000,
    seed: Annotated[int, typer.Option(help="Seed of every random choice.")] = 0,
    fault_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of requests given a random fault.")
    ] = 0.0,
    apps: Annotated[
        int, typer.Option(min=0, help="Authorize this many mini programs (wxemu0000000001, "
                          "...) and add template 1.")
    ] = 0,
    audit_delay: Annotated[
        float | None, typer.Option(help="Audits resolve after this many virtual seconds.")
    ] = None,
    audit_fail_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="With --audit-delay: share of audits "
                            "that fail.")
    ] = 0.0,
    admin: Annotated[
        bool, typer.Option(help="Serve the /_emulator/ admin API (setup over HTTP).")
    ] = True,
    json_: Annotated[
        bool, typer.Option("--json", help='Announce the URL as {"url": ...} on one line.')
    ] = False,
    log_level: Annotated[
        LogLevel, typer.Option(help="Log level on stderr; injected faults are INFO lines.")
    ] = LogLevel.info,
) -> None:
    """Serve the stateful emulator over HTTP until Ctrl-C or SIGTERM (exit 0).

    It prints its base URL once it listens; point a client (or `wxa-async call
    --base-url`) at it."""
    import argparse
    import signal

    with reporting():
        require_extra("serving the emulator", "emulator")
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("wxa_async").setLevel(log_level.value.upper())
        from ..testing.emulator._cli import build_emulator
        from ..testing.emulator._http import serve

        emu = build_emulator(argparse.Namespace(
            seed=seed, fault_rate=fault_rate, apps=apps, audit_delay=audit_delay,
            audit_fail_rate=audit_fail_rate,
        ))

        def ready(url: str) -> None:
            line = json.dumps({"url": url}) if json_ else f"wxa_async emulator listening on {url}"
            print(line, flush=True)

        def stop(*_: object) -> None:
            # uvicorn shuts down gracefully, then re-raises SIGTERM to this handler:
            # a terminated emulator exits 0 like one stopped by Ctrl-C.
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        try:
            asyncio.run(serve(emu, host, port, on_ready=ready, admin=admin))
        except KeyboardInterrupt:
            pass
        except OSError as exc:
            print(f"error: cannot serve on {host}:{port}: {exc.strerror or exc}",
                  file=sys.stderr)
            raise typer.Exit(ExitCode.SETUP) from None


app.command(name="call")(call)

# -- rollouts -----------------------------------------------------------------------------
# `wxa-async rollout ...` is a Typer sub-app of its own (cli/_rollout.py). It needs the
# `rollout` extra (SQLAlchemy): without it the command is still listed, and says what
# to install.


def _mount_rollout() -> None:
    if not missing_extras("rollout"):
        from ._rollout import app as rollout_app

        app.add_typer(rollout_app, name="rollout")
        return

    @app.command(
        "rollout", add_help_option=False,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )
    def rollout() -> None:
        """Durable rollouts of a template version (needs the 'rollout' extra)."""
        with reporting():
            require_extra("wxa-async rollout", "rollout")


_mount_rollout()
