"""Timeouts on both transports against real loopback sockets: the defaults, per-call
limits through ``with_options``, a server that never answers, a QR body that trickles,
and a connect that never completes. Each ends in ``WxaTimeoutError`` within the limit.

(tests/test_httpx_transport.py and tests/test_aiohttp_transport.py cover the read
timeout of each transport; these add the total and connect limits on both.)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psutil
import pytest

from tests.support.core import APPID, SEED_PAGE, TOKEN, LoopbackServer, hang, serve_json, trickle
from tests.support.soak import make_transport
from wxa_async import StaticTokenProvider, Timeout, WxaClient, WxaTimeoutError

TRANSPORTS = ["httpx", "aiohttp"]
# A failure that ignores its limit would run into the test's own guard (a plain
# TimeoutError) instead of raising WxaTimeoutError; the slack absorbs a loaded machine.
SLACK = 3.0


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    srv = await LoopbackServer().start()
    yield srv
    await srv.stop()


@contextlib.asynccontextmanager
async def client_on(kind: str, base_url: str, **options: object) -> AsyncIterator[WxaClient]:
    transport = make_transport(kind)  # type: ignore[arg-type]
    try:
        async with WxaClient(
            StaticTokenProvider({APPID: TOKEN}), base_url, transport, **options  # type: ignore[arg-type]
        ) as client:
            yield client
    finally:
        await transport.aclose()


@contextlib.contextmanager
def elapsed() -> Iterator[list[float]]:
    box: list[float] = []
    started = time.monotonic()
    try:
        yield box
    finally:
        box.append(time.monotonic() - started)


def test_the_documented_defaults() -> None:
    # README, Reliability: connect 5 s, read 15 s, total 60 s per attempt.
    assert Timeout() == Timeout(connect=5.0, read=15.0, total=60.0)
    client = WxaClient(StaticTokenProvider({APPID: TOKEN}), transport=make_transport("httpx"))
    assert client.timeout == Timeout(5.0, 15.0, 60.0)
    view = client.with_options(timeout=Timeout(connect=1.0, read=2.0, total=3.0))
    assert view.timeout == Timeout(1.0, 2.0, 3.0)
    assert client.timeout == Timeout(5.0, 15.0, 60.0)


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_total_limit_per_call_on_a_server_that_never_answers(
    kind: str, server: LoopbackServer
) -> None:
    server.routes["/wxa/get_page"] = hang
    server.routes["/wxa/get_category"] = serve_json({"errcode": 0, "errmsg": "ok"})
    # The client's own limits are long; the per-call view's total is what must fire.
    async with client_on(kind, server.url, timeout=Timeout(5.0, 30.0, 60.0)) as client:
        view = client.with_options(timeout=Timeout(connect=5.0, read=30.0, total=0.4),
                                   max_retries=0)
        with elapsed() as took:
            async with asyncio.timeout(0.4 + SLACK):
                with pytest.raises(WxaTimeoutError) as caught:
                    await view.app(APPID).get_page()
        assert took[0] < 0.4 + SLACK
        assert caught.value.endpoint == "get_page" and caught.value.request_sent
        # The timed-out call let go of its gate slot and connection: the client goes on.
        assert (await client.app(APPID).get_category()).errcode == 0
    assert len([r for r in server.requests if r.path == "/wxa/get_page"]) == 1
    # The server's hanging handler never reads again, so count the client's end.
    assert client_sockets_to(server.port) == 0


def client_sockets_to(port: int) -> int:
    return sum(
        1 for conn in psutil.Process().net_connections(kind="tcp")
        if conn.raddr and conn.raddr.port == port
    )


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_a_timed_out_mutation_is_sent_once(kind: str, server: LoopbackServer) -> None:
    server.routes["/wxa/release"] = hang
    async with client_on(kind, server.url, timeout=0.3) as client:  # default: 3 retries
        async with asyncio.timeout(0.3 + SLACK):
            with pytest.raises(WxaTimeoutError):
                await client.app(APPID).release()
        assert client.retry_counts["release"] == 0
    assert len(server.requests) == 1  # it may have been applied: never repeated


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_a_timed_out_read_is_retried_within_its_bounds(
    kind: str, server: LoopbackServer
) -> None:
    server.routes["/wxa/get_page"] = hang
    async with client_on(kind, server.url, timeout=0.2, max_retries=2) as client:
        # 3 attempts of 0.2 s and two backoffs of at most 0.1 and 0.2 s.
        async with asyncio.timeout(0.9 + SLACK):
            with pytest.raises(WxaTimeoutError):
                await client.app(APPID).get_page()
        assert client.retry_counts["get_page"] == 2
    assert len(server.requests) == 3


# A byte a second never trips a 5 s read limit: only the 0.5 s total stops it. Headers
# and one byte, then nothing for 5 s: the 0.3 s read limit (a gap between chunks,
# enforced by the client) fires long before the 30 s total.
SLOW_BODIES = {
    "trickling-hits-total": (1.0, Timeout(connect=1.0, read=5.0, total=0.5),
                             "no complete answer within 0.5 s"),
    "stopped-hits-read": (5.0, Timeout(connect=1.0, read=0.3, total=30.0),
                          "no data for 0.3 s"),
}


@pytest.mark.parametrize("kind", TRANSPORTS)
@pytest.mark.parametrize("to", ["bytes", "file"])
@pytest.mark.parametrize("case", list(SLOW_BODIES))
async def test_a_slow_qr_body_hits_its_limit_and_leaves_no_file(
    kind: str, to: str, case: str, server: LoopbackServer, tmp_path: Path
) -> None:
    every, timeout, message = SLOW_BODIES[case]
    server.routes["/wxa/get_qrcode"] = trickle(1000, every=every)
    limit = min(timeout.read or 0, timeout.total or 0)
    async with client_on(kind, server.url) as client:
        qrcode = client.with_options(timeout=timeout, max_retries=0).app(APPID).get_qrcode
        with elapsed() as took:
            async with asyncio.timeout(limit + SLACK):
                with pytest.raises(WxaTimeoutError) as caught:
                    if to == "bytes":
                        await qrcode()
                    else:
                        await qrcode.to_file(tmp_path / "qr.jpg")
        assert took[0] < limit + SLACK
    assert caught.value.endpoint == "get_qrcode"
    assert message in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # no partial file


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_a_slow_qr_body_that_keeps_arriving_is_not_cut_off(
    kind: str, server: LoopbackServer, tmp_path: Path
) -> None:
    # 8 bytes 0.15 s apart: 1 s in all, more than connect + read (0.7 s), but no gap
    # reaches the 0.5 s read limit, so the download completes.
    server.routes["/wxa/get_qrcode"] = trickle(8, every=0.15)
    async with client_on(kind, server.url) as client:
        qrcode = client.with_options(timeout=Timeout(connect=0.2, read=0.5, total=30.0),
                                     max_retries=0).app(APPID).get_qrcode
        with elapsed() as took:
            written = await qrcode.to_file(tmp_path / "qr.jpg")
        assert took[0] > 0.7
    assert written == 8
    assert (tmp_path / "qr.jpg").read_bytes() == b"\xff" + b"\xd8" * 7


@pytest.fixture
def unaccepting_port() -> Iterator[int]:
    """A port whose accept queue is full: a connect to it never completes (Linux keeps
    backlog + 1 handshakes queued and drops later SYNs)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_a_connect_that_never_completes_hits_the_connect_limit(
    kind: str, unaccepting_port: int
) -> None:
    await asyncio.sleep(0.05)  # let the fillers' handshakes land in the queue
    limit = Timeout(connect=0.3, read=30.0, total=30.0)
    async with client_on(kind, f"http://127.0.0.1:{unaccepting_port}", timeout=limit,
                         max_retries=1) as client:
        with elapsed() as took:
            async with asyncio.timeout(2 * 0.3 + 0.1 + SLACK):
                with pytest.raises(WxaTimeoutError) as caught:
                    await client.app(APPID).release()
        # Never connected, so never sent: safe to retry, even for a mutation.
        assert caught.value.request_sent is False
        assert client.retry_counts["release"] == 1
    assert took[0] < 2 * 0.3 + 0.1 + SLACK


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_timeout_none_waits_for_a_slow_answer(kind: str, server: LoopbackServer) -> None:
    async def slow(writer: asyncio.StreamWriter, request: object) -> bool:
        await asyncio.sleep(0.3)
        return await serve_json(SEED_PAGE)(writer, request)  # type: ignore[arg-type]

    server.routes["/wxa/get_page"] = slow
    async with client_on(kind, server.url, timeout=0.1, max_retries=0) as client:
        result = await client.with_options(timeout=None).app(APPID).get_page()
    assert result.page_list == SEED_PAGE["page_list"]


def test_the_total_limit_still_fires_after_the_client_moves_to_a_new_event_loop() -> None:
    # The total limit is enforced by one sweep timer per client; a timer left armed on
    # a finished loop must not stop the next loop's calls from timing out.
    import json as _json

    from wxa_async.testing import BytesResponse, MockTransport

    hang = asyncio.Event()

    async def handler(request: object) -> BytesResponse:
        if hang.is_set():
            await asyncio.sleep(3600)
        return BytesResponse(200, {"content-type": "application/json"},
                             _json.dumps({"errcode": 0, "page_list": []}).encode())

    client = WxaClient(StaticTokenProvider({"wx1": "t"}), transport=MockTransport(handler),
                       timeout=Timeout(connect=None, read=None, total=0.2), max_retries=0)

    async def quick() -> None:
        await client.app("wx1").get_page()  # arms the sweep timer, then the loop ends

    async def hanging() -> None:
        hang.set()
        with pytest.raises(WxaTimeoutError):
            await asyncio.wait_for(client.app("wx1").get_page(), 30)

    asyncio.run(quick())
    asyncio.run(hanging())
