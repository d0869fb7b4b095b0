"""Shared set-up for the rollout tests: an emulated fleet, a client on it, a clock that
runs on the emulator's virtual time, and a few plans."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from wxa_async import StaticTokenProvider, WxaClient
from wxa_async.rollout import ReleasePolicy, RolloutOptions, RolloutPlan, SubmitOptions
from wxa_async.testing import AuditPolicy, Emulator, FakeTransport

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


def fleet(
    n: int, *, delay: float = 3600.0, fail_rate: float = 0.0, seed: int = 0,
    prefix: str = "wxroll", **emu_kwargs: Any,
) -> tuple[Emulator, WxaClient, list[str]]:
    """An emulator with template 1 and ``n`` authorized apps; a client on it."""
    emu = Emulator(seed=seed, **emu_kwargs)
    emu.audit_policy = AuditPolicy(delay=delay, fail_rate=fail_rate, seed=seed)
    emu.add_template(1, PAGES)
    ids = appids(n, prefix)
    tokens = {}
    for appid in ids:
        emu.add_app(appid)
        tokens[appid] = emu.issue_token(appid, lifetime=YEAR)
    client = WxaClient(StaticTokenProvider(tokens), "https://api.weixin.qq.com",
                       FakeTransport(emu), max_retries=3, retry_deadline=5.0)
    return emu, client, ids


def plan(ids: list[str], name: str = "r1", **kwargs: Any) -> RolloutPlan:
    kwargs.setdefault("submit", SubmitOptions(item_list=[ITEM]))
    kwargs.setdefault("release", ReleasePolicy())
    return RolloutPlan(name=name, template_id=1, user_version="1.0.0", user_desc="rollout",
                       appids=ids, ext_json='{"extAppid": "{appid}"}', **kwargs)


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
