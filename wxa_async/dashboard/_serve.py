"""Serve the dashboard with uvicorn: what ``wxa-async rollout serve`` runs."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path

from .. import WxaValidationError
from ..rollout import RolloutStore, WxaStoreError
from ._app import create_app
from ._auth import needs_token

__all__ = ["describe", "serve"]


def describe(url: str) -> str:
    """The store as safe to print: its backend and, for SQLite, the file; never a password."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return f"sqlite file {parsed.database}"
    return f"{backend} database {parsed.database or ''} on {parsed.host or 'localhost'}"


def _check(url: str, host: str, token: str | None) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if needs_token(host) and not token:
        raise WxaValidationError(
            f"--host {host} makes the dashboard reachable from other machines: give a token "
            "(--token, or better the WXA_DASHBOARD_TOKEN environment variable), which every "
            "request must then carry")
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise WxaStoreError("not a store URL: sqlite:///file.db or postgresql://...") from None
    # Read-only: a dashboard never creates a store where there was none.
    if parsed.get_backend_name() == "sqlite" and not (
            parsed.database and Path(parsed.database).is_file()):
        raise WxaStoreError(f"no rollout store at {parsed.database or '(no path)'}")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    return sock


async def serve(
    store: str, *, host: str = "127.0.0.1", port: int = 8080, token: str | None = None,
    refresh: float = 3.0, on_ready: Callable[[str], object] | None = None,
) -> None:
    """Serve the dashboard over the store at ``store`` until cancelled or interrupted.

    Binds loopback by default. Any other ``host`` requires ``token``
    (:class:`~wxa_async.WxaValidationError` otherwise, before anything listens).
    ``on_ready(url)`` is called once it listens (``port=0`` picks a free port).
    The store is opened first, so a bad URL or a store of another schema version fails
    at once; it is closed when serving ends.
    """
    import uvicorn

    _check(store, host, token)
    opened = await RolloutStore.open(store)
    try:
        app = create_app(opened, token=token, refresh=refresh)
        sock = _bind(host, port)
        try:
            config = uvicorn.Config(app, log_level="warning", access_log=False,
                                    lifespan="off", timeout_graceful_shutdown=2)
            server = uvicorn.Server(config)
            bound = sock.getsockname()[1]
            shown = f"[{host.strip('[]')}]" if ":" in host else host
            url = f"http://{shown}:{bound}/"
            task = asyncio.ensure_future(server.serve(sockets=[sock]))
            try:
                while not server.started and not task.done():  # noqa: ASYNC110
                    await asyncio.sleep(0.01)  # uvicorn has no "started" event to wait on
                if server.started and on_ready is not None:
                    on_ready(url)
                await asyncio.shield(task)
            finally:
                if not task.done():  # cancelled: let uvicorn shut down cleanly
                    server.should_exit = True
                    await asyncio.wait([task])
        finally:
            sock.close()
    finally:
        await opened.aclose()
