"""Fixtures for the documentation's examples (``<!-- test: fixture NAME -->``).

A fixture is an async generator ``(ns, **needs)``: before its one ``yield`` it puts the
names the example uses into the namespace ``ns`` (and may patch things: each chain runs
in its own process); after the ``yield`` it may check what the example left in ``ns``,
then it cleans up. ``needs`` names pytest fixtures the parent test resolves first (their
values arrive as strings), e.g. ``redis_url``. Add one with ``@fixture`` (or
``@fixture(needs=("redis_url",))``); keep each one small and say what it provides.
"""

from __future__ import annotations

import functools
import inspect
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from wxa_async import ComponentTokenProvider, MessageCrypto, RedisTokenStore, WxaClient
from wxa_async.testing import (
    Emulator,
    FakeTransport,
    HttpRequest,
    render_event_xml,
)

Fixture = Callable[..., AsyncIterator[None]]
FIXTURES: dict[str, Fixture] = {}
NEEDS: dict[str, tuple[str, ...]] = {}


class FixtureSkipped(Exception):
    """Raised before the yield when the fixture cannot run here (the test skips, or
    fails under CI)."""


def fixture(
    fn: Fixture | None = None, *, needs: tuple[str, ...] = ()
) -> Any:
    def register(f: Fixture) -> Fixture:
        name = f.__name__.strip("_")
        FIXTURES[name] = f
        NEEDS[name] = needs
        return f

    return register(fn) if fn is not None else register


# The placeholders the examples write for real credentials, and the emulator's answers
# to them: an example "against WeChat" runs as written, against the emulator.
APPID = "wxAPPID"
COMPONENT = {"component_appid": "wxCOMPONENT", "component_appsecret": "...",
             "verify_ticket": "ticket@@@..."}
REFRESH_TOKEN = "refreshtoken@@@..."
PAGES = ["pages/index/index", "pages/detail/detail"]
ITEM = {"address": "pages/index/index", "tag": "工具 效率", "title": "首页",
        "first_class": "工具", "second_class": "备忘录", "first_id": 1, "second_id": 2}
# A callback URL's settings, as the examples read them from the environment.
CALLBACK_ENV = {
    "WXA_COMPONENT_TOKEN": "docs-message-token",
    "WXA_COMPONENT_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "WXA_COMPONENT_APPID": "wxCOMPONENT",
}


def make_emulator(apps: int = 3) -> Emulator:
    """Template 1 with two pages; ``wxAPPID`` plus ``apps - 1`` more mini programs."""
    emu = Emulator(seed=0)
    emu.add_template(1, pages=PAGES)
    emu.add_app(APPID, refresh_token=REFRESH_TOKEN)
    for n in range(1, apps):
        emu.add_app(f"wxAPP{n:05d}")
    emu.set_component(COMPONENT["component_appid"], COMPONENT["component_appsecret"],
                      COMPONENT["verify_ticket"])
    return emu


class _Placeholders:
    """The emulator behind the Transport protocol, with the placeholder access token
    ``ACCESS_TOKEN`` standing for ``wxAPPID``'s real one."""

    def __init__(self, emu: Emulator) -> None:
        self.inner = FakeTransport(emu)
        self.default_concurrency = self.inner.default_concurrency
        self.token = emu.issue_token(APPID, lifetime=366 * 86400)

    async def send(self, request: HttpRequest) -> Any:
        if request.params.get("access_token") == "ACCESS_TOKEN":
            request.params = {**request.params, "access_token": self.token}
        return await self.inner.send(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _default(cls: type, argument: str, make: Callable[[Any], Any]) -> None:
    """Patch ``cls`` so that ``argument`` left at its default becomes ``make(value)``."""
    original = cls.__init__  # type: ignore[misc]
    signature = inspect.signature(original)

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.arguments[argument] = make(bound.arguments.get(argument))
        original(*bound.args, **bound.kwargs)

    cls.__init__ = __init__  # type: ignore[misc]


def _route_to(emu: Emulator) -> None:
    """Clients and providers built with the default transport talk to ``emu``."""
    for cls in (WxaClient, ComponentTokenProvider):
        _default(cls, "transport", lambda given: _Placeholders(emu) if given is None else given)


@fixture
async def emulator(ns: dict[str, Any]) -> AsyncIterator[None]:
    """``emu`` (an Emulator: template 1, apps ``wxAPPID`` and two more), ``appids``,
    ``tokens`` (a StaticTokenProvider for them), ``client`` (an open WxaClient on a
    FakeTransport), ``app`` (``client.app("wxAPPID")``) and ``ITEM`` (an audit item)."""
    from wxa_async import StaticTokenProvider

    emu = make_emulator()
    appids = sorted(emu.apps)
    tokens = StaticTokenProvider({a: emu.issue_token(a, lifetime=366 * 86400) for a in appids})
    async with WxaClient(tokens, transport=FakeTransport(emu)) as client:
        ns.update(emu=emu, appids=appids, tokens=tokens, client=client,
                  app=client.app(APPID), ITEM=dict(ITEM))
        yield
    await emu.aclose()


@fixture
async def wechat(ns: dict[str, Any]) -> AsyncIterator[None]:
    """For examples written against WeChat with placeholder credentials: every
    WxaClient and ComponentTokenProvider built without a transport reaches an emulator
    that knows the placeholders (``wxCOMPONENT`` / ``...`` / ``ticket@@@...``, the app
    ``wxAPPID`` with refresh token ``refreshtoken@@@...`` and access token
    ``ACCESS_TOKEN``). The callback settings are in the environment (``CALLBACK_ENV``),
    and ``ITEM`` is an audit item."""
    emu = make_emulator()
    _route_to(emu)
    os.environ.update(CALLBACK_ENV)
    ns.update(ITEM=dict(ITEM))
    yield
    await emu.aclose()


@fixture(needs=("redis_url",))
async def wechat_redis(ns: dict[str, Any], redis_url: str) -> AsyncIterator[None]:
    """``wechat``, and ``redis://localhost:6379/...`` means the test's own redis-server."""
    _default(RedisTokenStore, "url_or_client", lambda given: redis_url
             if isinstance(given, str) and given.startswith("redis://localhost:6379")
             else given)
    async for _ in wechat(ns):
        yield


@fixture
async def push(ns: dict[str, Any]) -> AsyncIterator[None]:
    """``wechat``, plus a genuine encrypted audit-result push as a callback URL receives
    it: ``body`` (bytes), ``query`` (a dict), and its ``msg_signature``, ``timestamp``
    and ``nonce``; ``crypto_settings`` holds the MessageCrypto keywords."""
    settings = {"token": CALLBACK_ENV["WXA_COMPONENT_TOKEN"],
                "encoding_aes_key": CALLBACK_ENV["WXA_COMPONENT_AES_KEY"],
                "appid": CALLBACK_ENV["WXA_COMPONENT_APPID"]}
    now = int(time.time())
    xml = render_event_xml({
        "ToUserName": "gh_fb9688c2a4b2", "FromUserName": "od1P50M-fNQI5Gcq-trm4a7apsU8",
        "CreateTime": now, "MsgType": "event", "Event": "weapp_audit_success",
        "SuccTime": now,
    })
    body, query = MessageCrypto(**settings).build_push(
        xml, to_user_name="gh_fb9688c2a4b2", timestamp=now, nonce="docs-nonce")
    ns.update(body=body.encode(), query=query, msg_signature=query["msg_signature"],
              timestamp=query["timestamp"], nonce=query["nonce"], crypto_settings=settings)
    async for _ in wechat(ns):
        yield


@fixture
async def dashboard(ns: dict[str, Any]) -> AsyncIterator[None]:
    """A rollout store ``rollouts.db`` in the working directory (the rollout
    ``spring-1.1.0``: one app failed with 86002, one with 85013, one released) and the
    dashboard serving it on loopback, its address in ``WXA_DASHBOARD_URL``."""
    import asyncio
    import contextlib

    from tests.dashboard._support import docs_store
    from wxa_async.dashboard import serve

    await docs_store("rollouts.db")
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    server = asyncio.ensure_future(serve("sqlite:///rollouts.db", port=0,
                                         on_ready=ready.set_result))
    await asyncio.wait([ready, server], return_when=asyncio.FIRST_COMPLETED)
    os.environ["WXA_DASHBOARD_URL"] = ready.result().rstrip("/")
    yield
    server.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await server
