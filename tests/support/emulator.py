"""Fixtures for the emulator tests: a set-up emulator, SDK clients on it (in process or
over a real loopback socket), raw requests that bypass the SDK's own validation, and a
loopback server for any ASGI app (push receivers)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Mapping
from typing import Any

import uvicorn

from wxa_async import ENDPOINTS, StaticTokenProvider, WxaClient
from wxa_async._handle import COMPONENT_ENDPOINTS
from wxa_async.testing import AppState, Emulator, FakeTransport
from wxa_async.testing.emulator import Answer

APPID = "wxapp0000000001"
PAGES = ["pages/index/index", "pages/detail/detail", "pages/about/about"]
ITEM: dict[str, Any] = {
    "address": "pages/index/index",
    "tag": "学习 生活",
    "first_class": "工具",
    "second_class": "备忘录",
    "first_id": 1,
    "second_id": 2,
    "title": "首页",
}
BY_NAME = {endpoint.name: endpoint for endpoint in (*ENDPOINTS, *COMPONENT_ENDPOINTS)}


def make_emulator(**kwargs: Any) -> tuple[Emulator, AppState, str]:
    """An emulator with template 1 (``PAGES``) and one authorized app; its token, which
    lives a year of virtual time so tests can advance the clock by days."""
    emu = Emulator(**kwargs)
    emu.add_template(1, pages=PAGES)
    state = emu.add_app(APPID)
    return emu, state, emu.issue_token(APPID, lifetime=366 * 86400)


def client_for(emu: Emulator, token: str, appid: str = APPID, **options: Any) -> WxaClient:
    return WxaClient(
        StaticTokenProvider({appid: token}), base_url="https://api.weixin.qq.com",
        transport=FakeTransport(emu), **options,
    )


async def committed(emu: Emulator, token: str) -> None:
    async with client_for(emu, token) as client:
        await client.app(APPID).commit(
            template_id=1, ext_json={"extAppid": APPID}, user_version="v1", user_desc="first"
        )


async def raw(
    emu: Emulator, name: str, body: Any = None, *, token: str | None = None,
    params: Mapping[str, str] | None = None, content: bytes | None = None,
) -> Answer:
    """One request to endpoint ``name`` as raw bytes, skipping the SDK's validation."""
    endpoint = BY_NAME[name]
    query = dict(params or {})
    if token is not None:
        query["access_token"] = token
    if content is None:
        content = b"" if body is None else json.dumps(body).encode()
    return await emu.handle(endpoint.method, "/" + endpoint.path, query, content)


def errcode(answer: Answer) -> int:
    payload = json.loads(answer.body)
    return int(payload.get("errcode", 0))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serve_asgi(app: Any, *, lifespan: str = "off") -> AsyncIterator[str]:
    """Any ASGI app on 127.0.0.1 with a free port while the block runs; its base URL.
    ``lifespan="on"`` runs the app's startup and shutdown as a server does."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(1000):
            if server.started or task.done():
                break
            await asyncio.sleep(0.005)
        assert server.started
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()
