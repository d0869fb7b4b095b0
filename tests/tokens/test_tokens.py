"""ComponentTokenProvider and MemoryTokenStore, against a fake of the HTTP layer."""

from __future__ import annotations

import asyncio
import json
import traceback
from typing import Any

import pytest

from tests.support.tokens import (
    SECRET,
    TICKET,
    FakeClock,
    FakeTransport,
    TokenService,
    refresh_token_of,
)
from wxa_async.errors import WxaApiError, WxaDecodeError, WxaError, WxaTransportError
from wxa_async.tokens import ComponentTokenProvider, MemoryTokenStore, TokenProvider, TokenStore
from wxa_async.transports import BytesResponse, HttpRequest, HttpxTransport

APPS = [f"wxapp{i:04d}" for i in range(500)]
SECRETS = (SECRET, TICKET, "refreshtoken@@@", "atoken-", "ctoken-")


def make(
    service: TokenService | None = None, **kwargs: Any
) -> tuple[ComponentTokenProvider, TokenService, FakeTransport]:
    service = service or TokenService()
    transport = FakeTransport(service)
    kwargs.setdefault("verify_ticket", TICKET)
    kwargs.setdefault("refresh_tokens", {a: refresh_token_of(a) for a in APPS})
    provider = ComponentTokenProvider("wxcomponent", SECRET, transport=transport, **kwargs)
    return provider, service, transport


def assert_no_secrets(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, text


async def test_implements_the_protocols() -> None:
    provider, _, _ = make()
    assert isinstance(provider, TokenProvider)
    assert isinstance(MemoryTokenStore(), TokenStore)


async def test_10000_concurrent_calls_over_500_cold_apps_make_501_requests() -> None:
    provider, service, transport = make()
    calls = [APPS[i % 500] for i in range(10_000)]
    tokens = await asyncio.gather(*(provider.get_token(a) for a in calls))
    assert service.component_calls == 1
    assert len(service.authorizer_calls) == 500
    assert set(service.authorizer_calls.values()) == {1}
    assert len(transport.requests) == 501
    assert all(t == f"atoken-{a}-1" for a, t in zip(calls, tokens, strict=True))


async def test_wire_format() -> None:
    provider, _, transport = make()
    await provider.get_token("wxapp0001")
    component, authorizer = transport.requests
    assert component.method == authorizer.method == "POST"
    assert component.url == "https://api.weixin.qq.com/cgi-bin/component/api_component_token"
    assert dict(component.params) == {}
    assert component.content == json.dumps(
        {"component_appid": "wxcomponent", "component_appsecret": SECRET,
         "component_verify_ticket": TICKET}, separators=(",", ":")).encode()
    assert authorizer.url == "https://api.weixin.qq.com/cgi-bin/component/api_authorizer_token"
    assert dict(authorizer.params) == {"component_access_token": "ctoken-1"}
    assert json.loads(authorizer.content or b"") == {
        "component_appid": "wxcomponent", "authorizer_appid": "wxapp0001",
        "authorizer_refresh_token": refresh_token_of("wxapp0001")}
    assert_no_secrets(repr(authorizer))


class CountingStore(MemoryTokenStore):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls = 0

    async def get(self, key: str) -> str | None:
        self.calls += 1
        return await super().get(key)


async def test_warm_calls_touch_neither_store_nor_transport() -> None:
    store = CountingStore()
    provider, _, transport = make(store=store)
    await provider.get_token("wxapp0001")
    before = (store.calls, len(transport.requests))
    for _ in range(1000):
        assert await provider.get_token("wxapp0001") == "atoken-wxapp0001-1"
    assert (store.calls, len(transport.requests)) == before


async def test_refreshes_before_expiry_with_a_margin() -> None:
    clock = FakeClock()
    provider, service, _ = make(clock=clock, refresh_margin=300)
    assert await provider.get_token("wxapp0001") == "atoken-wxapp0001-1"
    clock.now += 7200 - 301
    assert await provider.get_token("wxapp0001") == "atoken-wxapp0001-1"
    clock.now += 2  # inside the margin, still valid at the service: refresh now
    assert await provider.get_token("wxapp0001") == "atoken-wxapp0001-2"
    assert service.authorizer_calls["wxapp0001"] == 2
    assert service.component_calls == 2  # the component token was due as well


async def test_short_lifetimes_refresh_at_half_life_at_the_latest() -> None:
    clock = FakeClock()
    provider, service, _ = make(TokenService(expires_in=100), clock=clock, refresh_margin=300)
    await provider.get_token("wxapp0001")
    clock.now += 49
    await provider.get_token("wxapp0001")
    assert service.authorizer_calls["wxapp0001"] == 1
    clock.now += 2
    assert await provider.get_token("wxapp0001") == "atoken-wxapp0001-2"


async def test_invalidate_is_compare_and_clear() -> None:
    store = MemoryTokenStore()
    provider, service, _ = make(store=store)
    first = await provider.get_token("wxapp0001")
    await provider.invalidate("wxapp0001", first)
    second = await provider.get_token("wxapp0001")
    assert second != first
    # A caller still holding the old token must not throw the new one away.
    await provider.invalidate("wxapp0001", first)
    assert await provider.get_token("wxapp0001") == second
    # ... and neither in the shared store: a second provider sees the new token.
    other, _, _ = make(service, store=store)
    assert await other.get_token("wxapp0001") == second
    assert service.authorizer_calls["wxapp0001"] == 2


async def test_invalidate_clears_the_store_for_other_processes() -> None:
    store = MemoryTokenStore()
    service = TokenService()
    a, _, _ = make(service, store=store)
    b, _, _ = make(service, store=store)
    token = await a.get_token("wxapp0001")
    await b.invalidate("wxapp0001", token)  # b was told by the service it is rejected
    assert await b.get_token("wxapp0001") == "atoken-wxapp0001-2"
    # a still holds the old one locally until the service rejects it for a too
    assert await a.get_token("wxapp0001") == token
    await a.invalidate("wxapp0001", token)
    assert await a.get_token("wxapp0001") == "atoken-wxapp0001-2"
    assert service.authorizer_calls["wxapp0001"] == 2


async def test_two_providers_sharing_a_store_refresh_each_app_once() -> None:
    store = MemoryTokenStore()
    service = TokenService()
    providers = [make(service, store=store)[0] for _ in range(4)]
    tokens = await asyncio.gather(*(p.get_token(a) for a in APPS[:50] for p in providers))
    assert set(service.authorizer_calls.values()) == {1}
    assert service.component_calls == 1
    assert len(set(tokens)) == 50


async def test_rejected_component_token_is_fetched_again_once() -> None:
    provider, service, _ = make()
    await provider.get_token("wxapp0001")
    service.reject_component_tokens = 1  # another deployment fetched a new one
    await provider.invalidate("wxapp0001", "atoken-wxapp0001-1")
    assert await provider.get_token("wxapp0001") == "atoken-wxapp0001-3"
    assert service.component_calls == 2
    # twice in a row is not retried forever
    service.reject_component_tokens = 2
    await provider.invalidate("wxapp0001", "atoken-wxapp0001-3")
    with pytest.raises(WxaApiError) as info:
        await provider.get_token("wxapp0001")
    assert info.value.errcode == 40001
    assert service.component_calls == 3


@pytest.mark.parametrize("errcode", [61023, 61004, 61005, 61006])
async def test_failed_refresh_fails_only_that_apps_waiters_and_is_not_cached(
    errcode: int,
) -> None:
    service = TokenService()
    service.errors["wxbad"] = errcode
    refresh = {a: refresh_token_of(a) for a in [*APPS, "wxbad"]}
    provider, _, _ = make(service, refresh_tokens=refresh)
    results = await asyncio.gather(
        *(provider.get_token(a) for a in ["wxbad", "wxapp0001"] * 20), return_exceptions=True
    )
    bad, good = results[0::2], results[1::2]
    assert all(isinstance(r, WxaApiError) and r.errcode == errcode for r in bad)
    assert good == ["atoken-wxapp0001-1"] * 20
    assert service.authorizer_calls == {"wxbad": 1, "wxapp0001": 1}
    assert_no_secrets(str(bad[0]))
    del service.errors["wxbad"]
    assert await provider.get_token("wxbad") == "atoken-wxbad-2"


async def test_cancelled_first_waiter_does_not_poison_the_refresh() -> None:
    service = TokenService()
    service.gate = asyncio.Event()
    provider, _, transport = make(service)
    first = asyncio.create_task(provider.get_token("wxapp0001"))
    await asyncio.sleep(0.01)
    assert len(transport.requests) == 1  # the refresh is under way
    second = asyncio.create_task(provider.get_token("wxapp0001"))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    service.gate.set()
    assert await second == "atoken-wxapp0001-1"
    assert service.authorizer_calls["wxapp0001"] == 1
    # A refresh all of whose waiters left still lands in the cache.
    service.gate = asyncio.Event()
    await provider.invalidate("wxapp0001", "atoken-wxapp0001-1")
    lonely = asyncio.create_task(provider.get_token("wxapp0001"))
    await asyncio.sleep(0.01)
    lonely.cancel()
    service.gate.set()
    await asyncio.sleep(0.01)
    assert await provider.get_token("wxapp0001") == "atoken-wxapp0001-2"
    assert service.authorizer_calls["wxapp0001"] == 2


async def test_rotated_refresh_token_is_stored_and_used() -> None:
    store = MemoryTokenStore()
    service = TokenService()
    service.rotate = True
    provider, _, _ = make(service, store=store)
    token = await provider.get_token("wxapp0001")
    rotated = refresh_token_of("wxapp0001") + "+"
    assert await store.get("wxa:wxcomponent:authorizer_refresh_token:wxapp0001") == rotated
    await provider.invalidate("wxapp0001", token)
    await provider.get_token("wxapp0001")
    assert service.seen_bodies[-1]["authorizer_refresh_token"] == rotated
    # a restarted process given the original mapping still uses the stored one
    again, _, _ = make(service, store=store)
    await again.invalidate("wxapp0001", await again.get_token("wxapp0001"))
    await again.get_token("wxapp0001")
    assert service.seen_bodies[-1]["authorizer_refresh_token"] == rotated + "+"


async def test_refresh_tokens_from_a_callable_and_set_refresh_token() -> None:
    asked: list[str] = []

    async def lookup(appid: str) -> str | None:
        asked.append(appid)
        return refresh_token_of(appid) if appid == "wxapp0001" else None

    provider, _, _ = make(refresh_tokens=lookup)
    assert await provider.get_token("wxapp0001") == "atoken-wxapp0001-1"
    with pytest.raises(WxaError, match="no authorizer refresh token") as info:
        await provider.get_token("wxnew")
    assert_no_secrets(str(info.value))
    await provider.set_refresh_token("wxnew", refresh_token_of("wxnew"))
    assert await provider.get_token("wxnew") == "atoken-wxnew-1"
    assert asked == ["wxapp0001", "wxnew"]


async def test_verify_ticket_comes_from_set_verify_ticket_or_a_callable() -> None:
    provider, service, _ = make(verify_ticket=None)
    with pytest.raises(WxaError, match="set_verify_ticket") as info:
        await provider.get_token("wxapp0001")
    assert service.component_calls == 0
    await provider.set_verify_ticket(TICKET)
    assert await provider.get_token("wxapp0001") == "atoken-wxapp0001-1"
    assert_no_secrets(str(info.value))

    async def newest() -> str:
        return TICKET

    provider, service, _ = make(verify_ticket=newest)
    assert await provider.get_token("wxapp0001") == "atoken-wxapp0001-1"

    provider, service, _ = make(verify_ticket="ticket@@@stale")
    with pytest.raises(WxaApiError) as error:
        await provider.get_token("wxapp0001")
    assert error.value.errcode == 61006
    await provider.set_verify_ticket(TICKET)  # the pushed one beats the constructor's
    assert await provider.get_token("wxapp0001") == "atoken-wxapp0001-1"


class BrokenTransport(FakeTransport):
    def __init__(self, response: BytesResponse) -> None:
        super().__init__(TokenService())
        self.response = response

    async def send(self, request: HttpRequest) -> BytesResponse:
        return self.response


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (BytesResponse(502, content=b"bad gateway"), WxaTransportError),
        (BytesResponse(200, content=b"<html>atoken-x</html>"), WxaDecodeError),
        (BytesResponse(200, content=b'{"component_access_token": "ctoken-x"}'), WxaDecodeError),
    ],
)
async def test_bad_answers_raise_without_secrets(
    response: BytesResponse, error: type[Exception]
) -> None:
    provider = ComponentTokenProvider("wxc", SECRET, TICKET, {"wxapp": "rt"},
                                      transport=BrokenTransport(response))
    with pytest.raises(error) as info:
        await provider.get_token("wxapp")
    # the body never reaches the error, not even through a chained exception
    assert_no_secrets("".join(traceback.format_exception(info.value)))


async def test_repr_shows_no_secrets() -> None:
    provider, _, _ = make(store=MemoryTokenStore())
    await provider.get_token("wxapp0001")
    await provider.set_verify_ticket(TICKET)
    assert "wxcomponent" in repr(provider)
    assert_no_secrets(repr(provider))


async def test_closes_its_transport_unless_told_not_to() -> None:
    provider, _, transport = make()
    async with provider:
        await provider.get_token("wxapp0001")
    assert transport.closed  # given, yet closed: as httpx and aiohttp do
    await provider.aclose()  # closing twice is harmless

    kept, _, shared = make(close_transport=False)
    async with kept:
        await kept.get_token("wxapp0001")
    assert not shared.closed  # a transport shared with others stays open
    with pytest.raises(WxaError, match="closed"):
        await provider.get_token("wxapp0002")

    own = ComponentTokenProvider("wxc", SECRET, TICKET, {"wxapp": "rt"},
                                 base_url="http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(WxaTransportError):
        await own.get_token("wxapp")
    created = own._transport
    assert isinstance(created, HttpxTransport)
    await own.aclose()
    assert created._client.is_closed


async def test_aclose_cancels_pending_refreshes() -> None:
    service = TokenService()
    service.gate = asyncio.Event()
    provider, _, _ = make(service)
    waiter = asyncio.create_task(provider.get_token("wxapp0001"))
    await asyncio.sleep(0.01)
    await provider.aclose()
    with pytest.raises(asyncio.CancelledError):
        await waiter


# -- MemoryTokenStore ---------------------------------------------------------------


async def test_memory_store_expiry_and_compare_and_clear() -> None:
    clock = FakeClock(0.0)
    store = MemoryTokenStore(clock=clock)
    await store.set("a", "1", 10)
    await store.set("b", "2", None)
    clock.now = 9.9
    assert await store.get("a") == "1"
    assert not await store.delete_if_equal("a", "other")
    clock.now = 10
    assert await store.get("a") is None
    clock.now = 1e9
    assert await store.get("b") == "2"
    assert await store.delete_if_equal("b", "2")
    assert await store.get("b") is None
    assert "2" not in repr(store)


async def test_memory_store_lock_excludes_and_expires() -> None:
    store = MemoryTokenStore()
    inside = 0
    most = 0

    async def hold() -> None:
        nonlocal inside, most
        async with store.lock("k", 10):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.001)
            inside -= 1

    await asyncio.gather(*(hold() for _ in range(20)))
    assert most == 1
    # A holder that never releases is ignored once its ttl has passed.
    dead = store.lock("k", 0.05)
    await dead.__aenter__()
    await asyncio.wait_for(hold(), timeout=10)
