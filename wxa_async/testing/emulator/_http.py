"""The emulator over real HTTP: a plain ASGI 3 app (no framework) and a uvicorn runner.

Besides the service's own paths, ``/_emulator/...`` is a small admin API so a program
in any language (or curl) can set the emulator up: see the README section "Testing
against the emulator".
uvicorn is imported only by the runners (the ``emulator`` extra).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import attrs

from ..._asgi import lifespan, read_body
from ._answers import Answer
from ._handlers import Emulator
from ._state import AuditPolicy

__all__ = ["create_asgi_app", "running_server", "serve"]

_log = logging.getLogger("wxa_async.emulator")

_Scope = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
_Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[_Scope, _Receive, _Send], Awaitable[None]]

# JSON bodies are a few KiB; an upload's multipart body carries up to a 10 MB video.
DEFAULT_MAX_BODY_BYTES = 11 << 20

# uvicorn reports an answer cut short as a server error; for an injected drop it is the
# point. The flag lives in the request's task, where uvicorn logs after the app returns.
_dropping: contextvars.ContextVar[bool] = contextvars.ContextVar("_dropping", default=False)
_UNFINISHED = "ASGI callable returned without completing response."


class _QuietInjectedDrops(logging.Filter):
    """Drops uvicorn's error line for answers the emulator cut short on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_dropping.get() and record.msg == _UNFINISHED)


_QUIET = _QuietInjectedDrops()


def create_asgi_app(
    emulator: Emulator, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, admin: bool = True
) -> ASGIApp:
    """An ASGI app answering as the service would. Garbage never reaches a traceback:
    bad JSON answers 47001, an unknown path 404 JSON, a body over ``max_body_bytes``
    413 JSON (reading stops at the limit), an internal error -1 with HTTP 500."""

    async def app(scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # websockets are refused by closing the scope
        answer = await _answer(emulator, scope, receive, max_body_bytes, admin)
        headers = {k.lower(): v for k, v in answer.headers.items()}
        headers.setdefault("content-length", str(len(answer.body)))
        await send({
            "type": "http.response.start",
            "status": answer.status,
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        })
        if answer.drop:
            # Headers promised a body that never comes: the server closes the
            # connection and the client sees it break mid-answer.
            _dropping.set(True)  # the fault is logged (INFO) where it was chosen
            return
        await send({"type": "http.response.body", "body": answer.body})

    return app


async def _answer(
    emulator: Emulator, scope: _Scope, receive: _Receive, limit: int, admin: bool
) -> Answer:
    declared = dict(scope.get("headers") or []).get(b"content-length", b"")
    body = None if declared.isdigit() and int(declared) > limit else (
        await read_body(receive, limit))
    if body is None:
        return Answer.json({"errcode": 47001, "errmsg": "request body too large"}, 413)
    query = dict(parse_qsl(scope.get("query_string", b"").decode("utf-8", "replace"),
                           keep_blank_values=True))
    path: str = scope.get("path", "/")
    try:
        if admin and path.startswith("/_emulator/"):
            return await _admin(emulator, scope.get("method", "GET"), path, query, body)
        headers = {k.decode("latin-1"): v.decode("latin-1")
                   for k, v in scope.get("headers") or []}
        return await emulator.handle(scope.get("method", "GET"), path, query, body, headers)
    except Exception:
        _log.exception("emulator failed on %s", path[:100])
        return Answer.json({"errcode": -1, "errmsg": "system error"}, 500)


# -- the admin API: setup over HTTP for programs in other languages --------------------


async def _admin(
    emu: Emulator, method: str, path: str, query: Mapping[str, str], body: bytes
) -> Answer:
    action = path.removeprefix("/_emulator/")
    try:
        data: dict[str, Any] = json.loads(body) if body.strip() else {}
        if not isinstance(data, dict):
            raise TypeError("the body must be a JSON object")
        result = await _ADMIN[action](emu, {**query, **data})
    except KeyError as exc:
        if action not in _ADMIN:
            return Answer.json({"errcode": 404, "errmsg": f"no admin action {action[:50]!r}"}, 404)
        return Answer.json({"errcode": 47001, "errmsg": f"unknown or missing {exc}"}, 400)
    except (TypeError, ValueError) as exc:
        return Answer.json({"errcode": 47001, "errmsg": str(exc)[:200]}, 400)
    return Answer(200, {"Content-Type": "application/json; charset=utf-8"},
                  json.dumps({"errcode": 0, "errmsg": "ok", **result}, ensure_ascii=False,
                             default=str).encode())


async def _add_app(emu: Emulator, d: dict[str, Any]) -> dict[str, Any]:
    state = emu.add_app(d["appid"], categories=d.get("categories"),
                        nickname_set=bool(d.get("nickname_set", True)),
                        original_id=d.get("original_id"), refresh_token=d.get("refresh_token"))
    return {"appid": state.appid, "original_id": state.original_id,
            "refresh_token": state.refresh_token, "access_token": emu.issue_token(state.appid),
            "expires_in": emu.limits.token_lifetime}


async def _add_template(emu: Emulator, d: dict[str, Any]) -> dict[str, Any]:
    emu.add_template(int(d["template_id"]), [str(p) for p in d["pages"]])
    return {}


async def _token(emu: Emulator, d: dict[str, Any]) -> dict[str, Any]:
    return {"access_token": emu.issue_token(d["appid"]), "expires_in": emu.limits.token_lifetime}


async def _component(emu: Emulator, d: dict[str, Any]) -> dict[str, Any]:
    emu.set_component(d["component_appid"], d["component_appsecret"],
                      d["component_verify_ticket"])
    return {}


async def _advance(emu: Emulator, d: dict[str, Any]) -> dict[str, Any]:
    await emu.advance(float(d["seconds"]))
    return {"now": emu.clock.time()}


async def _finish_audit(emu: Emulator, d: dict[str, Any]) -> dict[str, Any]:
    audit = emu.finish_audit(d["appid"], success=bool(d.get("success", True)),
                             reason=d.get("reason"))
    await emu.flush_pushes()
    return {"auditid": audit.auditid, "status": int(audit.status)}


async def _audit_policy(emu: Emulator, d: dict[str, Any]) -> dict[str, Any]:
    emu.audit_policy = AuditPolicy(**d) if d else None
    return {}


async def _push_url(emu: Emulator, d: dict[str, Any]) -> dict[str, Any]:
    emu.on_push(str(d["url"]))
    return {}


async def _faults(emu: Emulator, d: dict[str, Any]) -> dict[str, Any]:
    if d.get("clear"):
        emu.faults.clear()
    elif "rate" in d:
        emu.faults.set_rate(float(d.pop("rate")), **d)
    else:
        emu.faults.add(d.pop("kind"), **d)
    return {}


async def _stats(emu: Emulator, d: dict[str, Any]) -> dict[str, Any]:
    return emu.stats()


async def _state(emu: Emulator, d: dict[str, Any]) -> dict[str, Any]:
    state = emu.app(d["appid"])
    return attrs.asdict(state, filter=lambda a, _: a.name != "refresh_token")


_ADMIN: dict[str, Callable[[Emulator, dict[str, Any]], Awaitable[dict[str, Any]]]] = {
    "apps": _add_app,
    "templates": _add_template,
    "tokens": _token,
    "component": _component,
    "advance": _advance,
    "finish_audit": _finish_audit,
    "audit_policy": _audit_policy,
    "push_url": _push_url,
    "faults": _faults,
    "stats": _stats,
    "state": _state,
}


# -- running it -------------------------------------------------------------------------


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto given explicitly: asyncio sets TCP_NODELAY only on sockets whose proto is
    # IPPROTO_TCP, and accepted sockets inherit 0 otherwise. Without it every answer
    # (headers and body are two writes) waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _server(emulator: Emulator, **app_options: Any) -> Any:
    try:
        import uvicorn
    except ImportError:
        raise RuntimeError(
            "serving the emulator over HTTP needs uvicorn: pip install 'wxa_async[emulator]'"
        ) from None
    error_log = logging.getLogger("uvicorn.error")
    if _QUIET not in error_log.filters:
        error_log.addFilter(_QUIET)
    config = uvicorn.Config(
        create_asgi_app(emulator, **app_options), log_level="warning", access_log=False,
        lifespan="off", timeout_graceful_shutdown=2,
    )
    return uvicorn.Server(config)


async def _started(server: Any, task: asyncio.Task[None]) -> bool:
    # uvicorn has no startup event to await: poll its flag (for at most 10 s).
    for _ in range(2000):
        if server.started or task.done():
            break
        await asyncio.sleep(0.005)
    return bool(server.started)


def _url(host: str, sock: socket.socket) -> str:
    port = sock.getsockname()[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextlib.asynccontextmanager
async def running_server(
    emulator: Emulator, host: str = "127.0.0.1", port: int = 0, **app_options: Any
) -> AsyncIterator[str]:
    """Serve ``emulator`` with uvicorn in this event loop while the block runs; yields
    the base URL (``port=0`` picks a free port)::

        async with running_server(emu) as base_url:
            client = WxaClient(provider, base_url=base_url)
    """
    sock = _bind(host, port)
    server = _server(emulator, **app_options)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        if not await _started(server, task):
            if task.done():
                task.result()  # startup failed: raise its error
            raise RuntimeError("the emulator server did not start")
        yield _url(host, sock)
    finally:
        server.should_exit = True
        await task
        sock.close()


async def serve(
    emulator: Emulator,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    on_ready: Callable[[str], None] | None = None,
    **app_options: Any,
) -> None:
    """Serve until SIGINT / SIGTERM; ``on_ready`` gets the base URL once listening."""
    sock = _bind(host, port)
    server = _server(emulator, **app_options)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        if on_ready is not None and await _started(server, task):
            on_ready(_url(host, sock))
        await task
    finally:
        sock.close()
