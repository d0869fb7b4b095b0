"""A rollout worker for the dashboard's browser test, run as its own process:
``python -m tests.dashboard._worker --emulator URL --store URL --name NAME ...``.

It drives a real :class:`~wxa_async.rollout.Rollout` against the emulator's HTTP mode.
The emulator's time is virtual: the worker's clock advances it (through the admin
API) whenever the rollout waits, and sleeps ``--pace`` real seconds each time, so a
person (or the browser test) sees the rollout move.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import httpx

from wxa_async import WxaClient
from wxa_async.rollout import ReleasePolicy, Rollout, RolloutOptions, RolloutPlan, SubmitOptions

ITEM = {"address": "pages/index/index", "tag": "工具 效率", "first_class": "工具",
        "second_class": "备忘录", "first_id": 1, "second_id": 2, "title": "首页"}


class AdminTokens:
    """Authorizer tokens from the emulator's admin API, fetched again when refused."""

    def __init__(self, admin: httpx.AsyncClient) -> None:
        self._admin = admin
        self._tokens: dict[str, str] = {}

    async def get_token(self, appid: str) -> str:
        if appid not in self._tokens:
            answer = await self._admin.post("/_emulator/tokens", json={"appid": appid})
            self._tokens[appid] = answer.json()["access_token"]
        return self._tokens[appid]

    async def invalidate(self, appid: str, token: str) -> None:
        if self._tokens.get(appid) == token:
            del self._tokens[appid]


class AdminClock:
    """The emulator's virtual time; sleeping advances it and waits ``pace`` real seconds."""

    def __init__(self, admin: httpx.AsyncClient, now: float, pace: float) -> None:
        self._admin = admin
        self._now = now
        self._pace = pace

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        seconds = max(seconds, 0.0)
        await self._admin.post("/_emulator/advance", json={"seconds": seconds})
        self._now += seconds
        await asyncio.sleep(self._pace)


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--version", default="1.0.0")
    parser.add_argument("--appids", required=True, help="comma-separated")
    parser.add_argument("--staged", action="store_true")
    parser.add_argument("--pace", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    release = (ReleasePolicy(mode="staged", stages=(10, 50, 100), stage_wait=1800.0)
               if args.staged else ReleasePolicy())
    plan = RolloutPlan(
        name=args.name, template_id=1, user_version=args.version,
        user_desc=f"版本 {args.version}", appids=args.appids.split(","),
        ext_json='{"extAppid": "{appid}"}', submit=SubmitOptions(item_list=[ITEM]),
        release=release)
    options = RolloutOptions(concurrency=args.concurrency, poll_interval=600.0,
                             poll_jitter=0.1, idle_sleep=300.0, retry_base=1.0, seed=1,
                             quota_max_age=1e9)
    async with httpx.AsyncClient(base_url=args.emulator) as admin:
        now = (await admin.post("/_emulator/advance", json={"seconds": 0})).json()["now"]
        clock = AdminClock(admin, float(now), args.pace)
        async with WxaClient(AdminTokens(admin), base_url=args.emulator, max_retries=3,
                             retry_deadline=5.0) as client, \
                await Rollout.open(args.store, client, plan, options=options,
                                   clock=clock) as rollout:
            summary = await rollout.run()
    print(f"{summary.name}: {summary.counts}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
