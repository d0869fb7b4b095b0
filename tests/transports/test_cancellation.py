"""Cancellation at random moments, on both transports, against the emulator over HTTP:
no connection leaks, the client stays usable, and a cancelled caller never poisons the
token refresh other callers wait on (end to end through WxaClient)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from typing import Any

import psutil
import pytest

from tests.support.emulator import APPID, PAGES, make_emulator
from tests.support.soak import make_transport
from wxa_async import StaticTokenProvider, WxaClient, WxaError
from wxa_async.testing import Emulator, running_server
from wxa_async.tokens import ComponentTokenProvider

TRANSPORTS = ["httpx", "aiohttp"]
COMPONENT = "wxcomponent000001"


def client_sockets_to(port: int) -> int:
    return sum(
        1 for conn in psutil.Process().net_connections(kind="tcp")
        if conn.raddr and conn.raddr.port == port
    )


async def settled(port: int, limit: float = 3.0) -> int:
    """Client sockets to ``port`` left once closing has run its course."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(limit):
            while client_sockets_to(port):
                await asyncio.sleep(0.02)
    return client_sockets_to(port)


def port_of(base_url: str) -> int:
    return int(base_url.rsplit(":", 1)[1])


# Calls a random cancellation may interrupt: reads, and mutations that may be repeated.
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("get_category", {}), ("get_page", {}), ("get_version_info", {}),
    ("get_qrcode", {}), ("query_quota", {}), ("get_support_version", {}),
    ("set_support_version", {"version": "2.20.0"}),
    ("commit", {"template_id": 1, "ext_json": {}, "user_version": "v2", "user_desc": "d"}),
]


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_random_cancellations_leak_nothing_and_leave_the_client_usable(kind: str) -> None:
    rng = random.Random(1234)
    emu, _, token = make_emulator()
    async with running_server(emu) as base_url:
        port = port_of(base_url)
        transport = make_transport(kind)  # type: ignore[arg-type]
        pool = transport.default_concurrency
        pool = pool if isinstance(pool, int) else pool.max
        client = WxaClient(StaticTokenProvider({APPID: token}), base_url, transport)
        app = client.app(APPID)
        await app.commit(template_id=1, ext_json={}, user_version="v1", user_desc="d")
        # Half the requests wait 5-30 ms in the emulator: cancellations land before the
        # request, while it waits, and while its answer is read.
        emu.faults.set_rate(0.5, seed=7, kinds=["latency"], latency=0.02)
        cancelled = finished = 0
        for _ in range(40):
            tasks = [
                asyncio.create_task(getattr(app, name)(**kwargs))
                for name, kwargs in rng.choices(CALLS, k=rng.randint(1, 12))
            ]
            await asyncio.sleep(rng.uniform(0, 0.03))
            for task in tasks:
                if rng.random() < 0.6:
                    task.cancel()
            for outcome in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(outcome, asyncio.CancelledError):
                    cancelled += 1
                else:
                    # Anything else is a result or a typed error, never a bare one.
                    assert not isinstance(outcome, BaseException) or isinstance(
                        outcome, WxaError), repr(outcome)
                    finished += 1
            assert client_sockets_to(port) <= pool
        assert cancelled > 50 and finished > 50  # both paths were really taken
        emu.faults.clear()
        # Every gate slot came back: a full gate's worth of calls goes through at once.
        async with asyncio.timeout(10):
            results = await asyncio.gather(*(app.get_page() for _ in range(pool + 1)))
        assert all(r.page_list == PAGES for r in results)
        await client.aclose()
        await transport.aclose()
        assert await settled(port) == 0
    current = asyncio.current_task()
    assert [t for t in asyncio.all_tasks() if t is not current] == []


@contextlib.asynccontextmanager
async def component_client(
    emu: Emulator, kind: str, base_url: str
) -> AsyncIterator[WxaClient]:
    state = emu.app(APPID)
    emu.set_component(COMPONENT, "component-secret", "ticket@@@x")
    transports = [make_transport(kind), make_transport(kind)]  # type: ignore[arg-type]
    provider = ComponentTokenProvider(
        COMPONENT, "component-secret", "ticket@@@x", {APPID: state.refresh_token},
        base_url=base_url, transport=transports[0],
    )
    try:
        async with WxaClient(provider, base_url, transports[1]) as client:
            yield client
    finally:
        await provider.aclose()
        for transport in transports:
            await transport.aclose()


async def wait_for(condition: Any, limit: float = 5.0) -> None:
    async with asyncio.timeout(limit):
        while not condition():
            await asyncio.sleep(0.002)


@pytest.mark.parametrize("kind", TRANSPORTS)
@pytest.mark.parametrize("moment", ["first-fetch", "after-expiry"])
async def test_a_cancelled_first_caller_does_not_poison_the_shared_refresh(
    kind: str, moment: str
) -> None:
    # tests/test_tokens.py checks this on the provider alone; here it is end to end:
    # WxaClient, ComponentTokenProvider and the emulator's token endpoints over HTTP.
    emu, _, _ = make_emulator()
    async with running_server(emu) as base_url, component_client(emu, kind, base_url) as client:
        app = client.app(APPID)
        if moment == "after-expiry":
            await app.get_category()  # a token is cached...
            # ...and now rejected (42001): invalidate, then refresh. (Only the app's token:
            # the component token stays valid, so one refresh is one request.)
            emu.expire_tokens(APPID)
        refreshes = emu.calls["api_authorizer_token"]
        emu.faults.add("latency", endpoint="api_authorizer_token", latency=0.3)
        first = asyncio.create_task(app.get_category())
        await wait_for(lambda: emu.calls["api_authorizer_token"] == refreshes + 1)
        others = [asyncio.create_task(app.get_category()) for _ in range(5)]
        await asyncio.sleep(0.01)  # they now wait on the same refresh
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        results = await asyncio.gather(*others)
        assert all(r.category_list for r in results)
        # One refresh, shared: the cancelled caller neither cancelled nor repeated it.
        assert emu.calls["api_authorizer_token"] == refreshes + 1
        assert (await app.get_category()).category_list


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_cancellations_never_cost_a_connection(kind: str) -> None:
    # With one connection, a single connection slot lost to an unlucky cancellation
    # would stall every later call: httpcore's pool can lose one that way
    # (encode/httpcore#1093), so the httpx transport replaces any lane that saw one.
    from wxa_async import AiohttpTransport, HttpxTransport

    rng = random.Random(99)
    emu, _, token = make_emulator()
    async with running_server(emu) as base_url:
        factory = HttpxTransport if kind == "httpx" else AiohttpTransport
        transport = factory(max_connections=1)
        async with WxaClient(StaticTokenProvider({APPID: token}), base_url, transport) as client:
            app = client.app(APPID)
            await app.commit(template_id=1, ext_json={}, user_version="v1", user_desc="d")
            emu.faults.set_rate(0.5, seed=3, kinds=["latency"], latency=0.01)
            for _ in range(60):
                tasks = [asyncio.create_task(app.get_page()) for _ in range(3)]
                await asyncio.sleep(rng.uniform(0, 0.015))
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                async with asyncio.timeout(5):  # the one connection is still usable
                    assert (await app.get_page()).page_list == PAGES
            assert client_sockets_to(port_of(base_url)) <= 1
        await transport.aclose()
        assert await settled(port_of(base_url)) == 0
