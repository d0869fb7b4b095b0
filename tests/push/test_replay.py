"""Pushes are delivered once, and only fresh ones: the replay window, the seen-push
memory (in process and shared through Redis) and verify-ticket ordering."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.push.support import (
    COMPONENT,
    Recorder,
    audit_xml,
    call,
    crypto,
    signed,
    ticket_xml,
)
from tests.support.tokens import (  # noqa: F401  (the fixtures are used by name)
    FakeClock,
    redis_server_fixture,
    redis_url_fixture,
)
from wxa_async import (
    ComponentTokenProvider,
    MemoryTokenStore,
    RedisTokenStore,
    WxaSignatureError,
    WxaStalePushError,
    WxaValidationError,
)
from wxa_async.push import (
    AuditSuccessEvent,
    CallbackHandler,
    ComponentVerifyTicketEvent,
    Event,
    callback_asgi_app,
)
from wxa_async.testing import Emulator, FakeTransport

Y2001 = 978_307_200
Y2100 = 4_102_444_800

# --- the window ----------------------------------------------------------------------------


@pytest.mark.parametrize("stamp", [Y2001, Y2100], ids=["2001", "2100"])
async def test_a_push_from_2001_or_2100_is_refused_without_on_event(stamp: int) -> None:
    c = crypto()
    seen = Recorder()
    body, query = signed(c, audit_xml(), timestamp=stamp)
    reply = await call(callback_asgi_app(c, seen), query=query, chunks=[body])
    assert reply.status == 400
    assert seen.events == []
    with pytest.raises(WxaStalePushError, match="300 s window"):
        CallbackHandler(c).handle(body, query)


async def test_the_window_is_settable_and_both_edges_count() -> None:
    c = crypto()
    now = FakeClock(1_800_000_000)
    handler = CallbackHandler(c, replay_window=60, clock=now)
    for offset in (-60, 60):
        body, query = signed(c, audit_xml(), timestamp=int(now()) + offset)
        assert isinstance(handler.handle(body, query), AuditSuccessEvent)
    for offset in (-61, 61):
        body, query = signed(c, audit_xml(), timestamp=int(now()) + offset)
        with pytest.raises(WxaStalePushError, match="60 s window"):
            handler.handle(body, query)


@pytest.mark.parametrize("stamp", ["", "-5", "1e9", "１７００", "9" * 13, "17000000000.5"])
def test_a_timestamp_that_is_not_a_unix_time_is_refused(stamp: str) -> None:
    c = crypto()
    body, query = signed(c, audit_xml())
    query["timestamp"] = stamp
    with pytest.raises(WxaSignatureError):
        CallbackHandler(c).handle(body, query)


@pytest.mark.parametrize("window", [0, -1, float("nan"), True])
def test_a_window_that_is_not_positive_is_refused(window: float) -> None:
    with pytest.raises(WxaValidationError, match="replay_window"):
        CallbackHandler(crypto(), replay_window=window)


def test_a_seen_store_without_add_if_absent_is_refused() -> None:
    with pytest.raises(WxaValidationError, match="add_if_absent"):
        CallbackHandler(crypto(), seen=object())  # type: ignore[arg-type]


# --- delivered once ------------------------------------------------------------------------


async def test_the_same_push_thrice_is_delivered_once_and_answered_success_each_time() -> None:
    c = crypto()
    seen = Recorder()
    app = callback_asgi_app(c, seen)
    body, query = signed(c, audit_xml())
    replies = [await call(app, query=query, chunks=[body]) for _ in range(3)]
    assert [(r.status, r.text) for r in replies] == [(200, "success")] * 3
    assert len(seen.events) == 1 and isinstance(seen.events[0], AuditSuccessEvent)


async def test_concurrent_copies_are_delivered_once() -> None:
    c = crypto()
    seen = Recorder()
    app = callback_asgi_app(c, seen)
    body, query = signed(c, audit_xml())
    replies = await asyncio.gather(*(call(app, query=query, chunks=[body]) for _ in range(8)))
    assert {r.status for r in replies} == {200}
    assert len(seen.events) == 1


async def test_distinct_pushes_are_each_delivered() -> None:
    c = crypto()
    seen = Recorder()
    app = callback_asgi_app(c, seen)
    body, query = signed(c, audit_xml(), nonce="first")
    await call(app, query=query, chunks=[body])
    body, query = signed(c, audit_xml(), nonce="second")  # WeChat's next push: new nonce
    await call(app, query=query, chunks=[body])
    assert len(seen.events) == 2


async def test_dispatch_returns_none_for_a_repeat() -> None:
    c = crypto()
    seen = Recorder()
    handler = CallbackHandler(c, on_event=seen)
    body, query = signed(c, audit_xml())
    first = await handler.dispatch(body, query)
    assert isinstance(first, AuditSuccessEvent)
    assert await handler.dispatch(body, query) is None
    assert seen.events == [first]


async def test_a_push_whose_on_event_failed_is_delivered_when_wechat_sends_it_again() -> None:
    c = crypto()
    delivered: list[Event] = []
    failures = [RuntimeError("database down")]

    async def on_event(event: Event) -> None:
        if failures:
            raise failures.pop()
        delivered.append(event)

    app = callback_asgi_app(c, on_event)
    body, query = signed(c, audit_xml())
    assert (await call(app, query=query, chunks=[body])).status == 500
    assert (await call(app, query=query, chunks=[body])).status == 200
    assert (await call(app, query=query, chunks=[body])).status == 200
    assert len(delivered) == 1


class SlowOnEvent:
    """An ``on_event`` that takes ``delay`` seconds and fails the first ``failures`` times."""

    def __init__(self, delay: float, failures: int = 0) -> None:
        self.delay = delay
        self.failures = failures
        self.calls = 0
        self.delivered: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.failures:
            self.failures -= 1
            raise RuntimeError("database down")
        self.delivered.append(event)


async def _first_then_repeat(first_app: object, repeat_app: object) -> tuple[int, int]:
    c = crypto()
    body, query = signed(c, audit_xml())
    first = asyncio.ensure_future(call(first_app, query=query, chunks=[body]))
    await asyncio.sleep(0.05)  # the repeat arrives while the first is being delivered
    repeat = await call(repeat_app, query=query, chunks=[body])
    return (await first).status, repeat.status


async def test_a_repeat_during_a_slow_delivery_waits_for_it_and_is_not_delivered() -> None:
    slow = SlowOnEvent(0.3)
    app = callback_asgi_app(crypto(), slow)
    assert await _first_then_repeat(app, app) == (200, 200)
    assert slow.calls == 1 and len(slow.delivered) == 1


async def test_a_repeat_delivers_the_push_when_the_first_delivery_fails() -> None:
    slow = SlowOnEvent(0.3, failures=1)
    app = callback_asgi_app(crypto(), slow)
    assert await _first_then_repeat(app, app) == (500, 200)
    assert slow.calls == 2 and len(slow.delivered) == 1


async def test_across_two_apps_on_redis_a_repeat_takes_over_a_failed_delivery(
    redis_url: str,
) -> None:
    slow = SlowOnEvent(0.3, failures=1)
    async with RedisTokenStore(redis_url) as one, RedisTokenStore(redis_url) as two:
        first_app = callback_asgi_app(crypto(), slow, seen=one)
        repeat_app = callback_asgi_app(crypto(), slow, seen=two)
        assert await _first_then_repeat(first_app, repeat_app) == (500, 200)
    assert slow.calls == 2 and len(slow.delivered) == 1


async def test_a_repeat_that_waits_too_long_is_answered_503_so_wechat_sends_it_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import wxa_async.push._callback as callback_module

    monkeypatch.setattr(callback_module, "_PENDING_WAIT", 0.1)
    slow = SlowOnEvent(0.5)
    app = callback_asgi_app(crypto(), slow)
    assert await _first_then_repeat(app, app) == (200, 503)
    assert slow.calls == 1


async def test_a_push_is_remembered_only_while_its_window_is_open() -> None:
    c = crypto()
    now = FakeClock(1_800_000_000)
    store = MemoryTokenStore(clock=now)
    seen = Recorder()
    handler = CallbackHandler(c, on_event=seen, seen=store, replay_window=300, clock=now)
    body, query = signed(c, audit_xml(), timestamp=int(now()))
    await handler.dispatch(body, query)
    now.now += 300
    assert await handler.dispatch(body, query) is None  # still inside: a repeat
    assert "keys=1" in repr(store)
    now.now += 2
    with pytest.raises(WxaStalePushError):  # outside: refused by the window instead
        await handler.dispatch(body, query)
    # The next push sweeps the expired memory away.
    body2, query2 = signed(c, audit_xml(), timestamp=int(now()), nonce="later")
    await handler.dispatch(body2, query2)
    assert "keys=1" in repr(store)
    assert len(seen.events) == 2


async def test_the_in_process_memory_is_bounded() -> None:
    store = MemoryTokenStore(max_added=3)
    for n in range(5):
        assert await store.add_if_absent(f"k{n}", "v", 60)
    assert "keys=3" in repr(store)
    assert not await store.add_if_absent("k4", "v", 60)  # the newest are kept
    assert await store.add_if_absent("k0", "v", 60)  # the oldest were dropped
    with pytest.raises(WxaValidationError):
        MemoryTokenStore(max_added=0)


async def test_the_memory_cap_never_drops_tokens() -> None:
    store = MemoryTokenStore(max_added=2)
    await store.set("token", "t", 60)
    for n in range(5):
        await store.add_if_absent(f"push{n}", "v", 60)
    assert await store.get("token") == "t"


async def test_a_value_written_again_with_a_later_expiry_outlives_its_first_ttl() -> None:
    now = FakeClock(1000.0)
    store = MemoryTokenStore(clock=now)
    assert await store.add_if_absent("k", "claim", 10)
    await store.set("k", "delivered", 100)
    now.now += 50
    assert await store.add_if_absent("other", "v", 10)  # sweeps past k's first expiry
    assert await store.get("k") == "delivered"
    now.now += 60
    assert await store.add_if_absent("third", "v", 10)
    assert "keys=1" in repr(store)  # k and "other" are gone: swept, not merely hidden


async def test_two_callback_apps_sharing_redis_agree_on_duplicates(redis_url: str) -> None:
    c = crypto()
    seen = Recorder()
    async with RedisTokenStore(redis_url) as one, RedisTokenStore(redis_url) as two:
        apps = [callback_asgi_app(c, seen, seen=one), callback_asgi_app(c, seen, seen=two)]
        body, query = signed(c, audit_xml())
        replies = await asyncio.gather(
            *(call(apps[n % 2], query=query, chunks=[body]) for n in range(10))
        )
        assert {r.status for r in replies} == {200}
        assert len(seen.events) == 1
        # The memory expires with the window: a TTL, not a permanent key.
        import redis.asyncio as redis_asyncio

        raw = redis_asyncio.from_url(redis_url)
        try:
            keys = await raw.keys(f"wxa:{COMPONENT}:push:*")
            assert len(keys) == 1
            assert 0 < await raw.pttl(keys[0]) <= 301_000
        finally:
            await raw.aclose()


async def test_redis_add_if_absent_and_set_if_newer(redis_url: str) -> None:
    async with RedisTokenStore(redis_url, prefix="p:") as store:
        assert await store.add_if_absent("k", "a", 5)
        assert not await store.add_if_absent("k", "b", 5)
        assert await store.get("k") == "a"
        assert await store.delete_if_equal("k", "a")
        assert await store.add_if_absent("k", "c", 5)
        assert await store.set_if_newer("t", "new", 2000)
        assert not await store.set_if_newer("t", "old", 1000)
        assert not await store.set_if_newer("t", "same-time", 2000)
        assert await store.get("t") == "new"
        assert await store.set_if_newer("t", "newer", 2001)
        assert await store.get("t") == "newer"


# --- verify tickets in order ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_an_old_ticket_push_never_replaces_the_newest(
    kind: str, request: pytest.FixtureRequest
) -> None:
    store: MemoryTokenStore | RedisTokenStore
    store = MemoryTokenStore() if kind == "memory" else RedisTokenStore(
        request.getfixturevalue("redis_url")
    )
    c = crypto()
    emu = Emulator()
    app_state = emu.add_app("wxapp0000000001")
    emu.set_component(COMPONENT, "secret", "ticket@@@newest")
    provider = ComponentTokenProvider(
        COMPONENT, "secret", refresh_tokens={"wxapp0000000001": app_state.refresh_token},
        base_url="http://emulator.invalid", transport=FakeTransport(emu), store=store,
    )
    stored: list[bool] = []

    async def on_event(event: Event) -> None:
        if isinstance(event, ComponentVerifyTicketEvent):
            stored.append(await provider.set_verify_ticket(
                event.component_verify_ticket, create_time=event.create_time
            ))

    app = callback_asgi_app(c, on_event)
    now = int(time.time())
    newest = signed(c, ticket_xml("ticket@@@newest", now - 60), nonce="a")
    older = signed(c, ticket_xml("ticket@@@older", now - 660), nonce="b")  # delivered late
    try:
        async with provider:
            for body, query in (newest, older):
                assert (await call(app, query=query, chunks=[body])).status == 200
            assert stored == [True, False]
            # The next component-token fetch uses the newest ticket and is accepted.
            assert await provider.get_token("wxapp0000000001")
            assert emu.calls["api_component_token"] == 1
    finally:
        if isinstance(store, RedisTokenStore):
            await store.aclose()


async def test_a_two_day_old_ticket_replay_is_refused_by_the_window() -> None:
    c = crypto()
    seen = Recorder()
    old = int(time.time()) - 2 * 86400
    body, query = signed(c, ticket_xml("ticket@@@stale", old), timestamp=old)
    reply = await call(callback_asgi_app(c, seen), query=query, chunks=[body])
    assert reply.status == 400 and seen.events == []


class PlainStore(MemoryTokenStore):
    """A TokenStore of someone else's, without the atomic set_if_newer."""

    set_if_newer = None  # type: ignore[assignment]


@pytest.mark.parametrize("store_kind", [MemoryTokenStore, PlainStore])
async def test_tickets_stored_with_their_time_replace_only_older_ones(
    store_kind: type[MemoryTokenStore],
) -> None:
    store = store_kind()
    key = f"wxa:{COMPONENT}:component_verify_ticket"
    async with ComponentTokenProvider(COMPONENT, "secret", verify_ticket=store) as provider:
        assert await provider.set_verify_ticket("ticket@@@b", create_time=2000)
        assert not await provider.set_verify_ticket("ticket@@@a", create_time=1000)
        assert not await provider.set_verify_ticket("ticket@@@same", create_time=2000)
        assert await store.get(key) == "ticket@@@b"
        assert await provider.set_verify_ticket("ticket@@@c", create_time=3000)
        assert await store.get(key) == "ticket@@@c"
        # Without a time a ticket always replaces the stored one.
        assert await provider.set_verify_ticket("ticket@@@manual")
        assert await store.get(key) == "ticket@@@manual"
