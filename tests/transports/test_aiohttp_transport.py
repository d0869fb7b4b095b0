"""AiohttpTransport against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import socket
import traceback
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from wxa_async import (
    AdaptiveLimit,
    AiohttpTransport,
    StaticTokenProvider,
    Timeout,
    WxaApiError,
    WxaClient,
    WxaTimeoutError,
    WxaTransportError,
)
from wxa_async.testing import HttpRequest

APPID = "wx0123456789abcdef"
TOKEN = "SECRET-TOKEN-8f3a"
QR_SIZE = 5 * 1024 * 1024 + 123
QR_BODY = bytes(range(256)) * (QR_SIZE // 256) + b"\x89" * (QR_SIZE % 256)


class Server:
    def __init__(self) -> None:
        self.release_hang = asyncio.Event()
        self.posts: list[tuple[str, bytes]] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def get_page(self, request: web.Request) -> web.Response:
        if request.query.get("access_token") != TOKEN:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        return web.json_response({"errcode": 0, "errmsg": "ok", "page_list": ["pages/index"]})

    async def release(self, request: web.Request) -> web.Response:
        self.posts.append((request.content_type, await request.read()))
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def qrcode(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        response.content_length = len(QR_BODY)
        await response.prepare(request)
        view = memoryview(QR_BODY)
        for start in range(0, len(QR_BODY), 256 * 1024):
            await response.write(view[start : start + 256 * 1024])
        await response.write_eof()
        return response

    async def bad_gateway(self, request: web.Request) -> web.Response:
        return web.Response(status=502, text="bad gateway")

    async def hang(self, request: web.Request) -> web.Response:
        await self.release_hang.wait()
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/ok/wxa/get_page", self.get_page)
        app.router.add_post("/ok/wxa/release", self.release)
        app.router.add_get("/ok/wxa/get_qrcode", self.qrcode)
        app.router.add_get("/502/wxa/get_page", self.bad_gateway)
        app.router.add_get("/hang/wxa/get_page", self.hang)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        self.release_hang.set()
        assert self.runner is not None
        await self.runner.cleanup()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server()
    await srv.start()
    yield srv
    await srv.stop()


@contextlib.asynccontextmanager
async def _client(
    base_url: str, timeout: Timeout | float = 10.0, token: str = TOKEN
) -> AsyncIterator[WxaClient]:
    # A transport given to the client is the caller's to close.
    transport = AiohttpTransport()
    try:
        async with WxaClient(
            StaticTokenProvider({APPID: token}), base_url, transport=transport,
            timeout=timeout, max_retries=0,
        ) as client:
            yield client
    finally:
        await transport.aclose()


def _assert_no_secret(exc: BaseException) -> None:
    text = "".join(traceback.format_exception(exc)) + repr(exc)
    assert TOKEN not in text
    assert "access_token=" not in text
    assert exc.__cause__ is None and exc.__context__ is None  # nothing holds the URL


async def test_json_calls_through_the_client(server: Server) -> None:
    async with _client(f"{server.url}/ok") as client:
        app = client.app(APPID)
        pages = await asyncio.gather(*(app.get_page() for _ in range(50)))
        await app.release()
    assert {tuple(p.page_list) for p in pages} == {("pages/index",)}
    assert server.posts == [("application/json", b"{}")]


async def test_api_error_is_mapped(server: Server) -> None:
    async with _client(f"{server.url}/ok", token="wrong-token") as client:
        with pytest.raises(WxaApiError) as info:
            await client.app(APPID).get_page()
    assert info.value.errcode == 40001


async def test_get_qrcode_bytes_and_streaming_to_file(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "qr.jpg"
    async with _client(f"{server.url}/ok") as client:
        app = client.app(APPID)
        body = await app.get_qrcode()
        written = await app.get_qrcode.to_file(dest)
        with (tmp_path / "qr2.jpg").open("wb") as file:
            written_to_object = await app.get_qrcode.to_file(file)
    assert body == QR_BODY
    assert written == written_to_object == QR_SIZE
    assert dest.read_bytes() == QR_BODY
    assert (tmp_path / "qr2.jpg").read_bytes() == QR_BODY
    assert sorted(p.name for p in tmp_path.iterdir()) == ["qr.jpg", "qr2.jpg"]  # no .part


async def test_connection_refused_is_a_transport_error_never_sent() -> None:
    with socket.socket() as sock:  # a port nobody listens on once this socket closes
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with _client(f"http://127.0.0.1:{port}") as client:
        with pytest.raises(WxaTransportError) as info:
            await client.app(APPID).get_page()
    assert info.value.request_sent is False
    assert not isinstance(info.value, WxaTimeoutError)
    _assert_no_secret(info.value)


async def test_bad_gateway_is_a_transport_error_with_status(server: Server) -> None:
    async with _client(f"{server.url}/502") as client:
        with pytest.raises(WxaTransportError) as info:
            await client.app(APPID).get_page()
    assert info.value.status_code == 502
    assert info.value.request_sent is True
    _assert_no_secret(info.value)


async def test_a_server_that_never_answers_times_out(server: Server) -> None:
    # A JSON answer must be complete within connect + read (0.5 s) of the attempt's
    # start, well before the 30 s total.
    timeout = Timeout(connect=0.3, read=0.2, total=30.0)
    async with _client(f"{server.url}/hang", timeout=timeout) as client:
        with pytest.raises(WxaTimeoutError) as info:
            async with asyncio.timeout(10):  # a hang fails the test instead of the run
                await client.app(APPID).get_page()
    assert info.value.request_sent is True
    assert "within 0.5 s" in str(info.value)  # not the client's total timeout
    _assert_no_secret(info.value)


async def test_transport_errors_carry_no_url_or_token() -> None:
    transport = AiohttpTransport()
    request = HttpRequest(
        "GET", "http://127.0.0.1:1/wxa/get_page", {"access_token": TOKEN},
        timeout=Timeout(1.0, 1.0, 1.0),
    )
    try:
        with pytest.raises(WxaTransportError) as info:
            await transport.send(request)
    finally:
        await transport.aclose()
    assert "127.0.0.1" in str(info.value)  # the host, never the path or the query
    assert "get_page" not in str(info.value)
    _assert_no_secret(info.value)


async def test_aclose_closes_the_session_without_resource_warnings(server: Server) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with _client(f"{server.url}/ok") as client:
            await client.app(APPID).get_page()
        await asyncio.sleep(0)
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    with pytest.raises(WxaTransportError):  # closed means closed, not reopened lazily
        await client.transport.send(
            HttpRequest("GET", f"{server.url}/ok/wxa/get_page", {"access_token": TOKEN})
        )


async def test_a_given_session_is_left_open_and_sets_the_default(server: Server) -> None:
    connector = aiohttp.TCPConnector(limit=9)
    async with aiohttp.ClientSession(connector=connector) as session:
        transport = AiohttpTransport(session)
        # The session's pool bounds the default adaptive limit.
        assert transport.default_concurrency == AdaptiveLimit(min=8, max=9, initial=9)
        tokens = StaticTokenProvider({APPID: TOKEN})
        async with WxaClient(tokens, f"{server.url}/ok", transport=transport) as client:
            await client.app(APPID).get_page()
        await transport.aclose()
        assert not session.closed
        async with session.get(f"{server.url}/ok/wxa/get_page") as response:
            assert json.loads(await response.read())["errcode"] == 40001


def test_construction_needs_no_running_loop() -> None:
    transport = AiohttpTransport(max_connections=5)
    assert transport.default_concurrency == AdaptiveLimit(min=5, max=5, initial=5)
    assert "SECRET" not in repr(transport)
    with pytest.raises(ValueError):
        AiohttpTransport(max_connections=0)
