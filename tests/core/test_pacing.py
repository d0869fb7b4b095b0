"""The client's concurrency gate: a naive gather of thousands of calls is paced."""

from __future__ import annotations

import asyncio
import json

import pytest

from wxa_async import StaticTokenProvider, WxaClient
from wxa_async.testing import BytesResponse, HttpRequest, MockTransport

APPIDS = [f"wx{i:016d}" for i in range(50)]


class CountingService:
    """Answers get_page with the caller's appid; tracks calls in flight at the transport."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.max_in_flight = 0

    async def handle(self, request: HttpRequest) -> BytesResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            # Two yields: calls overlap as they would on a socket.
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        finally:
            self.in_flight -= 1
        appid = request.params["access_token"].removeprefix("token-")
        body = json.dumps({"errcode": 0, "errmsg": "ok", "page_list": [appid]}).encode()
        return BytesResponse(200, {"Content-Type": "application/json"}, body)


def _tokens() -> StaticTokenProvider:
    return StaticTokenProvider({appid: f"token-{appid}" for appid in APPIDS})


async def _gather(client: WxaClient, n: int) -> list[list[str]]:
    apps = [client.app(APPIDS[i % len(APPIDS)]) for i in range(n)]
    pages = await asyncio.gather(*(app.get_page() for app in apps))
    return [p.page_list for p in pages]


@pytest.mark.parametrize("limit", [1, 7, 64])
async def test_gather_of_2000_calls_never_exceeds_max_concurrency(limit: int) -> None:
    service = CountingService()
    transport = MockTransport(service.handle, default_concurrency=1000)
    async with WxaClient(_tokens(), transport=transport, max_concurrency=limit) as client:
        results = await _gather(client, 2000)
    assert service.max_in_flight == limit  # reached, never passed
    assert results == [[APPIDS[i % len(APPIDS)]] for i in range(2000)]
    assert len(transport.requests) == 2000


async def test_default_limit_is_the_transports() -> None:
    service = CountingService()
    transport = MockTransport(service.handle, default_concurrency=12)
    async with WxaClient(_tokens(), transport=transport) as client:
        results = await _gather(client, 2000)
    assert service.max_in_flight == 12
    assert len(results) == 2000


async def test_views_share_one_gate() -> None:
    service = CountingService()
    transport = MockTransport(service.handle)
    async with WxaClient(_tokens(), transport=transport, max_concurrency=5) as client:
        other = client.with_options(timeout=3.0)
        apps = [c.app(APPIDS[0]) for c in (client, other) for _ in range(300)]
        await asyncio.gather(*(app.get_page() for app in apps))
    assert service.max_in_flight == 5


async def test_max_concurrency_must_be_positive() -> None:
    transport = MockTransport(CountingService().handle)
    with pytest.raises(ValueError):
        WxaClient(_tokens(), transport=transport, max_concurrency=-1)
