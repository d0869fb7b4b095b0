"""RedisTokenStore against a real redis-server on loopback (started by the fixture)."""

from __future__ import annotations

import asyncio
import builtins
from typing import Any

import pytest
import redis.asyncio as redis_asyncio

from tests.support.tokens import (  # noqa: F401  (the fixtures are used by name)
    SECRET,
    TICKET,
    FakeTransport,
    TokenService,
    redis_server_fixture,
    redis_url_fixture,
    refresh_token_of,
)
from wxa_async.errors import WxaError
from wxa_async.tokens import ComponentTokenProvider, RedisTokenStore, TokenStore


async def test_values_with_and_without_ttl(redis_url: str) -> None:
    async with RedisTokenStore(redis_url, prefix="t:") as store:
        assert isinstance(store, TokenStore)
        await store.set("token", "abc", 60)
        await store.set("refresh", "r", None)
        assert await store.get("token") == "abc"
        assert await store.get("missing") is None
        raw = redis_asyncio.from_url(redis_url)
        try:
            assert 0 < await raw.pttl("t:token") <= 60_000
            assert await raw.ttl("t:refresh") == -1  # persisted
        finally:
            await raw.aclose()
        await store.set("short", "x", 0.001)
        await asyncio.sleep(0.05)
        assert await store.get("short") is None


async def test_delete_if_equal(redis_url: str) -> None:
    async with RedisTokenStore(redis_url) as store:
        await store.set("k", "new", None)
        assert not await store.delete_if_equal("k", "old")
        assert await store.get("k") == "new"
        assert await store.delete_if_equal("k", "new")
        assert await store.get("k") is None
        assert not await store.delete_if_equal("k", "new")


async def test_lock_excludes(redis_url: str) -> None:
    async with RedisTokenStore(redis_url) as a, RedisTokenStore(redis_url) as b:
        inside = 0
        most = 0

        async def hold(store: RedisTokenStore) -> None:
            nonlocal inside, most
            async with store.lock("k", 10):
                inside += 1
                most = max(most, inside)
                await asyncio.sleep(0.002)
                inside -= 1

        await asyncio.gather(*(hold(s) for _ in range(10) for s in (a, b)))
        assert most == 1


async def test_expired_lock_is_not_released_by_its_slow_first_holder(redis_url: str) -> None:
    async with RedisTokenStore(redis_url) as store:
        raw = redis_asyncio.from_url(redis_url)
        try:
            async with store.lock("k", 0.05):
                await asyncio.sleep(0.1)  # our lock expired ...
                assert await raw.set("lock:k", "someone-else", nx=True, px=10_000)
            # ... and leaving our block did not release theirs
            assert await raw.get("lock:k") == b"someone-else"
        finally:
            await raw.aclose()


async def test_dead_holder_blocks_no_longer_than_the_lock_ttl(redis_url: str) -> None:
    service = TokenService()
    async with RedisTokenStore(redis_url) as store:
        raw = redis_asyncio.from_url(redis_url)
        try:
            # A process took the refresh lock and died: nobody will release it.
            key = "lock:wxa:wxcomponent:authorizer_access_token:wxapp"
            assert await raw.set(key, "dead-process", nx=True, px=300)
            assert 0 < await raw.pttl(key) <= 300
        finally:
            await raw.aclose()
        provider = ComponentTokenProvider(
            "wxcomponent", SECRET, TICKET, {"wxapp": refresh_token_of("wxapp")},
            transport=FakeTransport(service), store=store,
        )
        # wait_for only guards against a hang; the lock itself expires after 0.3 s.
        assert await asyncio.wait_for(provider.get_token("wxapp"), 30) == "atoken-wxapp-1"
        assert service.authorizer_calls["wxapp"] == 1


async def test_providers_sharing_redis_refresh_each_app_once(redis_url: str) -> None:
    service = TokenService(delay=0.001)
    apps = [f"wxapp{i:03d}" for i in range(50)]
    async with RedisTokenStore(redis_url) as store:
        providers = [
            ComponentTokenProvider(
                "wxcomponent", SECRET, TICKET, {a: refresh_token_of(a) for a in apps},
                transport=FakeTransport(service), store=store,
            )
            for _ in range(3)
        ]
        tokens = await asyncio.gather(*(p.get_token(a) for a in apps for p in providers))
    assert service.component_calls == 1
    assert set(service.authorizer_calls.values()) == {1}
    assert len(set(tokens)) == 50


async def test_refresh_token_and_ticket_survive_a_restart(redis_url: str) -> None:
    service = TokenService()
    service.rotate = True
    async with RedisTokenStore(redis_url) as store:
        provider = ComponentTokenProvider(
            "wxcomponent", SECRET, None, {"wxapp": refresh_token_of("wxapp")},
            transport=FakeTransport(service), store=store,
        )
        await provider.set_verify_ticket(TICKET)
        await provider.get_token("wxapp")
    # A new process with only what it was started with, and the same Redis.
    async with RedisTokenStore(redis_url) as store:
        provider = ComponentTokenProvider(
            "wxcomponent", SECRET, None, {"wxapp": refresh_token_of("wxapp")},
            transport=FakeTransport(service), store=store,
        )
        assert await provider.get_token("wxapp") == "atoken-wxapp-1"  # from Redis
        await provider.invalidate("wxapp", "atoken-wxapp-1")
        component_key = "wxa:wxcomponent:component_access_token"
        stored = await store.get(component_key)
        assert stored is not None
        await store.delete_if_equal(component_key, stored)  # as if it had expired
        assert await provider.get_token("wxapp") == "atoken-wxapp-2"
    assert service.seen_bodies[-2]["component_verify_ticket"] == TICKET
    assert service.seen_bodies[-1]["authorizer_refresh_token"] == refresh_token_of("wxapp") + "+"


async def test_existing_client_is_not_closed(redis_url: str) -> None:
    client = redis_asyncio.from_url(redis_url)
    try:
        store = RedisTokenStore(client)
        await store.set("k", "v", None)
        await store.aclose()
        assert await client.get("k") == b"v"  # still usable
        assert repr(store) == "RedisTokenStore('client', prefix='')"
    finally:
        await client.aclose()


async def test_decoded_responses_client(redis_url: str) -> None:
    client = redis_asyncio.from_url(redis_url, decode_responses=True)
    try:
        store = RedisTokenStore(client)
        await store.set("k", "v", 5)
        assert await store.get("k") == "v"
        assert await store.delete_if_equal("k", "v")
    finally:
        await client.aclose()


async def test_repr_hides_the_password() -> None:
    store = RedisTokenStore("redis://user:s3cret-pw@127.0.0.1:6390/2")
    try:
        assert "s3cret-pw" not in repr(store)
        assert "user" not in repr(store)
        assert "127.0.0.1:6390/2" in repr(store)
    finally:
        await store.aclose()


def test_missing_redis_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_redis(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "redis" or name.startswith("redis."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_redis)
    with pytest.raises(WxaError, match=r"wxa_async\[redis\]"):
        RedisTokenStore("redis://127.0.0.1:6379/0")
