"""The ``serve`` command of ``wxa-async rollout`` (registered on the rollout CLI's
Typer app: ``app.command("serve")(serve_command)``)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

import typer

from ..dashboard import needs_token
from ..errors import WxaError, WxaValidationError
from ._entry import ExitCode

__all__ = ["serve_command"]


def serve_command(
    store: Annotated[str, typer.Option(
        "--store", help="the rollout store: sqlite:///file.db or postgresql://...")],
    host: Annotated[str, typer.Option(
        help="address to bind; anything but loopback requires a token")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port (0 picks a free one)")] = 8080,
    token: Annotated[str | None, typer.Option(
        envvar="WXA_DASHBOARD_TOKEN", show_default=False,
        help="token every request must carry (Bearer, or the basic-auth password); "
             "prefer the WXA_DASHBOARD_TOKEN environment variable")] = None,
    refresh: Annotated[float, typer.Option(help="seconds between live updates")] = 3.0,
) -> None:
    """Serve a read-only web dashboard of the store's rollouts."""
    try:
        from ..dashboard import describe, serve
    except ImportError as exc:
        typer.echo(f"error: the dashboard needs the 'dashboard' extra ({exc.name} is not "
                   "installed): pip install 'wxa_async[dashboard]'", err=True)
        raise typer.Exit(ExitCode.SETUP) from None

    def ready(url: str) -> None:
        guard = ("; every request needs the token (Bearer, or basic auth with the token "
                 "as password)" if token else "")
        exposure = (" — reachable from other machines" if needs_token(host) else "")
        typer.echo(f"wxa-async dashboard on {url} ({describe(store)}, read-only"
                   f"{exposure}{guard})")

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(store, host=host, port=port, token=token, refresh=refresh,
                              on_ready=ready))
    except WxaValidationError as exc:  # an exposed host without a token
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(ExitCode.USAGE) from None
    except WxaError as exc:  # the store: missing, unreachable, another schema version
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(ExitCode.SETUP) from None
    except OSError as exc:
        typer.echo(f"error: cannot serve on {host}:{port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(ExitCode.SETUP) from None
