"""Shared set-up for the rollout tests: an emulated fleet, a client on it, a clock that
runs on the emulator's virtual time, and a few plans."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from wxa_async import StaticTokenProvider, WxaClient
from wxa_async.rollout import ReleasePolicy, RolloutOptions, RolloutPlan, SubmitOptions
from wxa_async.testing import AuditPolicy, BytesResponse, Emulator, FakeTransport

PAGES = ["pages/index/index", "pages/detail/detail"]
ITEM: dict[str, Any] = {
    "address": "pages/index/index", "tag": "工具 效率", "first_class": "工具",
    "second_class": "备忘录", "first_id": 1, "second_id": 2, "title": "首页",
}
YEAR = 366 * 86400


class EmulatorClock:
    """The rollout's clock on the emulator's virtual time: sleeping advances it, so
    audits that take days resolve in milliseconds of wall time."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    def now(self) -> float:
        return self.emu.clock.now()

    async def sleep(self, seconds: float) -> None:
        await self.emu.advance(max(seconds, 0.0))
        await asyncio.sleep(0)


def appids(n: int, prefix: str = "wxroll") -> list[str]:
    return [f"{prefix}{i:010d}" for i in range(n)]


def emulated(
    n: int, *, delay: float = 3600.0, fail_rate: float = 0.0, seed: int = 0,
    prefix: str = "wxroll", **emu_kwargs: Any,
) -> tuple[Emulator, dict[str, str]]:
    """An emulator with template 1 and ``n`` authorized apps, and their tokens."""
    emu = Emulator(seed=seed, **emu_kwargs)
    emu.audit_policy = AuditPolicy(delay=delay, fail_rate=fail_rate, seed=seed)
    emu.add_template(1, PAGES)
    tokens = {}
    for appid in appids(n, prefix):
        emu.add_app(appid)
        tokens[appid] = emu.issue_token(appid, lifetime=YEAR)
    return emu, tokens


def client_on(transport: Any, tokens: dict[str, str]) -> WxaClient:
    return WxaClient(StaticTokenProvider(tokens), "https://api.weixin.qq.com", transport,
                     max_retries=3, retry_deadline=5.0)


def fleet(n: int, **kwargs: Any) -> tuple[Emulator, WxaClient, list[str]]:
    """An emulated fleet of ``n`` apps and a client on it (in process)."""
    emu, tokens = emulated(n, **kwargs)
    return emu, client_on(FakeTransport(emu), tokens), list(tokens)


def plan(ids: list[str], name: str = "r1", **kwargs: Any) -> RolloutPlan:
    kwargs.setdefault("submit", SubmitOptions(item_list=[ITEM]))
    kwargs.setdefault("release", ReleasePolicy())
    kwargs.setdefault("user_version", "1.0.0")
    kwargs.setdefault("ext_json", '{"extAppid": "{appid}"}')
    return RolloutPlan(name=name, template_id=1, user_desc="rollout", appids=ids, **kwargs)


def fast(**kwargs: Any) -> RolloutOptions:
    """Options for virtual time: polls every hour; idle waits as long as they need."""
    kwargs.setdefault("poll_interval", 3600.0)
    kwargs.setdefault("idle_sleep", 86400.0)
    kwargs.setdefault("retry_base", 1.0)
    kwargs.setdefault("seed", 1)
    kwargs.setdefault("coalesce", 300.0)
    return RolloutOptions(**kwargs)


def db_url(tmp_path: Any, name: str = "rollouts.db") -> str:
    return f"sqlite:///{os.fspath(tmp_path / name)}"


class Intercepted:
    """A transport in front of the emulator that answers chosen errcodes instead of it:
    ``script[(path, appid)] = [61039, 61039]`` answers those two first, then lets the
    emulator answer. For what the emulator does not model yet."""

    def __init__(self, emu: Emulator, tokens: dict[str, str]) -> None:
        self.inner = FakeTransport(emu)
        self.by_token = {token: appid for appid, token in tokens.items()}
        self.script: dict[tuple[str, str], list[int]] = {}
        self.answered: list[tuple[str, str, int]] = []
        self.default_concurrency = 64

    async def send(self, request: Any) -> Any:
        path = request.url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
        appid = self.by_token.get(request.params.get("access_token", ""), "")
        queue = self.script.get((path, appid))
        if queue:
            code = queue.pop(0)
            self.answered.append((path, appid, code))
            body = json.dumps({"errcode": code, "errmsg": f"scripted {code}"}).encode()
            return BytesResponse(200, {"Content-Type": "application/json"}, body)
        return await self.inner.send(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def scripted_fleet(n: int, **kwargs: Any) -> tuple[Emulator, WxaClient, list[str], Intercepted]:
    """:func:`fleet`, with an :class:`Intercepted` transport to script errcodes."""
    emu, tokens = emulated(n, **kwargs)
    transport = Intercepted(emu, tokens)
    return emu, client_on(transport, tokens), list(tokens), transport
