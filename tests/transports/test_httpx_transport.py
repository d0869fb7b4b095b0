"""HttpxTransport against a real HTTP server on 127.0.0.1 (no fakes below the SDK)."""

from __future__ import annotations

import asyncio
import gc
import json
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.core import (
    APPID,
    SEED_PAGE,
    TOKEN,
    LoopbackServer,
    RawRequest,
    SleepRecorder,
    free_port,
    hang,
    serve_bytes,
    serve_json,
    trickle,
)
from wxa_async import (
    AdaptiveLimit,
    HttpxTransport,
    StaticTokenProvider,
    Timeout,
    WxaClient,
    WxaTimeoutError,
    WxaTransportError,
)

IMAGE = b"\xff\xd8" + bytes(range(256)) * 4096 + b"\xff\xd9"  # ~1 MiB


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    srv = await LoopbackServer().start()
    yield srv
    await srv.stop()


def client_for(base_url: str, **options: object) -> WxaClient:
    # transport=None: the client makes (and later closes) its own HttpxTransport.
    return WxaClient(
        token_provider=StaticTokenProvider({APPID: TOKEN}), base_url=base_url, **options  # type: ignore[arg-type]
    )


async def test_json_call_over_a_socket(server: LoopbackServer) -> None:
    server.routes["/wxa/get_page"] = serve_json(SEED_PAGE)
    server.routes["/wxa/commit"] = serve_json({"errcode": 0, "errmsg": "ok"})
    async with client_for(server.url) as client:
        assert isinstance(client.transport, HttpxTransport)
        pages = await client.app(APPID).get_page()
        await client.app(APPID).commit(
            template_id=1, ext_json={"名": "值"}, user_version="V1", user_desc="描述"
        )
    assert pages.page_list == SEED_PAGE["page_list"]
    get, post = server.requests
    assert (get.method, get.path, get.query) == ("GET", "/wxa/get_page", {"access_token": [TOKEN]})
    assert get.body == b""
    assert (post.method, post.path, post.query) == ("POST", "/wxa/commit",
                                                    {"access_token": [TOKEN]})
    assert post.headers["content-type"].startswith("application/json")
    assert "描述".encode() in post.body and b"\\u" not in post.body
    assert json.loads(post.body)["ext_json"] == '{"名":"值"}'
    assert server.connections == 1  # keep-alive: both calls on one connection


async def test_qrcode_path_is_url_encoded_exactly_once(
    server: LoopbackServer, tmp_path: Path
) -> None:
    server.routes["/wxa/get_qrcode"] = serve_bytes(IMAGE, "image/jpeg", chunk=65536)
    async with client_for(server.url) as client:
        app = client.app(APPID)
        body = await app.get_qrcode(path="page/index?action=1")
        written = await app.get_qrcode.to_file(tmp_path / "qr.jpg")
    assert body == IMAGE
    assert written == len(IMAGE) and (tmp_path / "qr.jpg").read_bytes() == IMAGE
    with_path, without_path = server.requests
    query = with_path.target.partition("?")[2]
    assert "path=page%2Findex%3Faction%3D1" in query.split("&")
    assert with_path.query["path"] == ["page/index?action=1"]  # decodes once to the input
    assert "path" not in without_path.query
    assert without_path.query["access_token"] == [TOKEN]


async def test_binary_to_file_object_over_a_socket(server: LoopbackServer) -> None:
    import io

    server.routes["/wxa/get_qrcode"] = serve_bytes(IMAGE, "image/jpeg", chunk=10_000)
    out = io.BytesIO()
    async with client_for(server.url) as client:
        assert await client.app(APPID).get_qrcode.to_file(out) == len(IMAGE)
    assert out.getvalue() == IMAGE


async def test_json_error_instead_of_an_image_over_a_socket(server: LoopbackServer) -> None:
    from wxa_async import WxaApiError

    server.routes["/wxa/get_qrcode"] = serve_json({"errcode": 85012, "errmsg": "bad"})
    async with client_for(server.url) as client:
        with pytest.raises(WxaApiError) as caught:
            await client.app(APPID).get_qrcode()
    assert caught.value.errcode == 85012


async def test_502_is_a_transport_error_and_reads_are_retried(
    server: LoopbackServer,
) -> None:
    sleeps = SleepRecorder()
    server.routes["/wxa/get_category"] = serve_bytes(b"<html>bad gateway</html>", "text/html",
                                                     status=502)
    async with client_for(server.url, retry=sleeps.policy()) as client:
        with pytest.raises(WxaTransportError) as caught:
            await client.app(APPID).get_category()
    assert caught.value.status_code == 502
    assert len(server.requests) == 4  # 1 + the default 3 retries
    assert len(sleeps.delays) == 3


async def test_connection_refused_was_never_sent() -> None:
    async with client_for(f"http://127.0.0.1:{free_port()}", max_retries=0) as client:
        with pytest.raises(WxaTransportError) as caught:
            await client.app(APPID).commit(
                template_id=1, ext_json="{}", user_version="V1", user_desc="d"
            )
    assert caught.value.request_sent is False
    assert not isinstance(caught.value, WxaTimeoutError)
    assert caught.value.endpoint == "commit"


async def test_a_server_that_never_answers_times_out(server: LoopbackServer) -> None:
    server.routes["/wxa/get_page"] = hang
    limit = Timeout(connect=1.0, read=0.3, total=0.5)
    async with client_for(server.url, timeout=limit, max_retries=0) as client:
        # The outer guard only catches an SDK that ignores its limits: it would raise a
        # plain TimeoutError, not the WxaTimeoutError asserted here.
        async with asyncio.timeout(5):
            with pytest.raises(WxaTimeoutError) as caught:
                await client.app(APPID).get_page()
    assert caught.value.endpoint == "get_page"
    assert len(server.requests) == 1


async def test_a_trickling_qr_body_hits_the_total_timeout(
    server: LoopbackServer, tmp_path: Path
) -> None:
    # One byte a second never trips the 5 s read timeout; only the total limit stops it.
    server.routes["/wxa/get_qrcode"] = trickle(1000, every=1.0)
    limit = Timeout(connect=1.0, read=5.0, total=0.4)
    dest = tmp_path / "qr.jpg"
    async with client_for(server.url, timeout=limit, max_retries=0) as client:
        async with asyncio.timeout(5):
            with pytest.raises(WxaTimeoutError):
                await client.app(APPID).get_qrcode.to_file(dest)
    assert list(tmp_path.iterdir()) == []


async def test_no_open_connections_or_resource_warnings_after_aclose(
    server: LoopbackServer,
) -> None:
    server.routes["/wxa/get_page"] = serve_json(SEED_PAGE)
    server.routes["/wxa/get_qrcode"] = serve_bytes(IMAGE, "image/jpeg")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = client_for(server.url, max_concurrency=4)
        app = client.app(APPID)
        await asyncio.gather(*(app.get_page() for _ in range(8)), app.get_qrcode())
        assert server.open_connections >= 1
        await client.aclose()
        assert await server.wait_all_closed() == 0
        del client, app
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert 1 <= server.connections <= 4  # the gate kept the pool at max_concurrency


async def test_a_callers_httpx_client_is_left_open_for_the_caller(
    server: LoopbackServer,
) -> None:
    server.routes["/wxa/get_page"] = serve_json(SEED_PAGE)
    async with httpx.AsyncClient() as own:
        transport = HttpxTransport(own)
        async with WxaClient(
            token_provider=StaticTokenProvider({APPID: TOKEN}), base_url=server.url,
            transport=transport,
        ) as client:
            await client.app(APPID).get_page()
        # The client closed the transport it was given, and the transport left the
        # httpx client it was given open: that one is the caller's.
        assert not own.is_closed
        await transport.aclose()  # closing twice is harmless
        assert not own.is_closed
    assert await server.wait_all_closed() == 0


async def test_lanes_one_connection_each_kept_warm_and_shared_fairly(
    server: LoopbackServer,
) -> None:
    in_flight = peak = 0
    answer = serve_json(SEED_PAGE)

    async def slow(writer: asyncio.StreamWriter, request: RawRequest) -> bool:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.03)
        in_flight -= 1
        return await answer(writer, request)

    server.routes["/wxa/get_page"] = slow
    transport = HttpxTransport(max_connections=4)
    assert transport.default_concurrency == AdaptiveLimit(min=4, max=4, initial=4)
    tokens = StaticTokenProvider({APPID: TOKEN})
    try:
        async with WxaClient(tokens, server.url, transport, close_transport=False) as client:
            app = client.app(APPID)
            for _ in range(5):
                await app.get_page()
            assert server.connections == 1  # one call at a time reuses one warm lane
            for _ in range(3):
                results = await asyncio.gather(*(app.get_page() for _ in range(4)))
                assert all(r.page_list == SEED_PAGE["page_list"] for r in results)
            assert peak == 4 and server.connections == 4  # a connection per lane, kept
        # A caller letting more through than there are lanes: the extra calls queue on
        # the lanes, never on new connections, and all complete.
        async with WxaClient(tokens, server.url, transport, max_concurrency=10) as client:
            app = client.app(APPID)
            async with asyncio.timeout(10):
                results = await asyncio.gather(*(app.get_page() for _ in range(20)))
            assert len(results) == 20
        assert peak == 4 and server.connections == 4
    finally:
        await transport.aclose()
    assert await server.wait_all_closed() == 0
    with pytest.raises(ValueError):
        HttpxTransport(max_connections=0)
