"""``wxa-async demo``: a rollout of a new version to a fleet, on the built-in emulator.

Everything a real rollout meets happens, in virtual time: audits that take days, some
rejected; faults on the calls (some answers lost after the service applied them);
an audit quota smaller than the fleet, so some apps wait for the next month's; audit results
arriving as encrypted pushes, some lost so polling must find them; the worker killed
mid-run (its task cut off with leases and intents outstanding) and started again; and
a staged release (10 %, 50 %, then everyone, a day apart). It ends with the summary,
the emulator's proof that no app was submitted or released twice, and a report file.
No network, no credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TextIO

import attrs

from ..client import WxaClient
from ..push import CallbackHandler, MessageCrypto
from ..rollout import (
    ReleasePolicy,
    Rollout,
    RolloutOptions,
    RolloutPlan,
    RolloutSummary,
    SubmitOptions,
    report_text,
)
from ..tokens import StaticTokenProvider
from ..transports import Transport
from ._fake import FakeTransport
from .emulator import AuditPolicy, CodeVersion, Emulator, Push

__all__ = ["DemoReport", "run_demo"]

COMPONENT_APPID = "wxdemocomponent0"
TEMPLATE_ID = 1
PAGES = ["pages/index/index", "pages/detail/detail"]
ITEM = {
    "address": "pages/index/index", "tag": "工具 效率", "first_class": "工具",
    "second_class": "备忘录", "first_id": 1, "second_id": 2, "title": "首页",
}
VERSION = "1.1.0"
DAY = 86400.0


@attrs.define
class DemoReport:
    """What the demo did and what the emulator says happened."""

    apps: int
    counts: dict[str, int]
    submitted_twice: list[str]  # apps whose version the service audited twice: none
    released_twice: list[str]  # apps whose version went online twice: none
    waited_for_quota: int
    pushes_lost: int
    restarts: int
    faults: dict[str, int]
    virtual_days: float
    duration: float
    report_path: Path

    @property
    def released_full(self) -> int:
        return self.counts.get("released", 0)

    @property
    def ok(self) -> bool:
        """Every app is done, none twice, and most went all the way (audits rejected on
        purpose and faults that outlast the retries stop a few)."""
        done = {"released", "rejected", "failed"}
        return (set(self.counts) <= done and sum(self.counts.values()) == self.apps
                and not self.submitted_twice and not self.released_twice
                and self.released_full >= 0.7 * self.apps)


class _VirtualTime:
    """The rollout's clock on the emulator's: days of audits take no wall time."""

    def __init__(self, emu: Emulator) -> None:
        self._emu = emu

    def now(self) -> float:
        return self._emu.clock.now()

    async def sleep(self, seconds: float) -> None:
        await self._emu.advance(max(seconds, 0.0))
        await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def _wire(emu: Emulator, kind: str) -> AsyncIterator[tuple[str, Transport]]:
    """Where the client talks to the emulator: over loopback HTTP, or in process."""
    if kind == "fake":
        yield "http://emulator.invalid", FakeTransport(emu)
        return
    from .emulator import running_server

    async with running_server(emu, host="127.0.0.1", port=0) as base_url:
        transport: Transport
        if kind == "aiohttp":
            from ..transports import AiohttpTransport

            transport = AiohttpTransport()
        else:
            from ..transports import HttpxTransport

            transport = HttpxTransport()
        try:
            yield base_url, transport
        finally:
            await transport.aclose()


class _Progress:
    """One line per change of the counts, at most one per virtual half day."""

    def __init__(self, out: TextIO, emu: Emulator, total: int) -> None:
        self.out = out
        self.emu = emu
        self.total = total
        self.start = emu.clock.now()
        self.last = ""
        self.last_at = -DAY

    def __call__(self, summary: RolloutSummary) -> None:
        now = self.emu.clock.now()
        line = "  ".join(f"{k} {v}" for k, v in sorted(summary.counts.items()))
        if line == self.last or (now - self.last_at < DAY / 2 and summary.done < self.total):
            return
        self.last, self.last_at = line, now
        day = (now - self.start) / DAY
        bar_width = 30
        filled = round(bar_width * summary.done / max(self.total, 1))
        bar = "#" * filled + "." * (bar_width - filled)
        print(f"  day {day:5.1f} [{bar}] {summary.done:>4}/{self.total}  {line}",
              file=self.out, flush=True)


async def run_demo(
    *, apps: int = 200, fault_rate: float = 0.03, seed: int = 7, transport: str = "httpx",
    out: TextIO | None = None, emulator: Emulator | None = None,
    report_path: str | Path | None = None, store: str | None = None,
) -> DemoReport:
    """Roll version 1.1.0 out to ``apps`` mini programs that run 1.0.0, with
    ``fault_rate`` of the calls hit by faults. ``transport``: ``httpx`` or ``aiohttp``
    (the emulator over loopback HTTP) or ``fake`` (in process). Give ``emulator`` to
    inspect its state afterwards, ``store`` for a store URL of your own (default: a
    SQLite file in a temporary directory, next to the report)."""
    out = out or sys.stdout
    started = time.perf_counter()
    rng = random.Random(seed)
    emu = emulator or Emulator(seed=seed)
    emu.audit_policy = AuditPolicy(delay=2 * DAY, fail_rate=0.08, seed=seed)
    # The platform's audit quota is smaller than the fleet: a quarter waits for it.
    emu.limits.audit_submissions_per_month = max(1, apps * 3 // 4)
    emu.add_template(TEMPLATE_ID, pages=PAGES)
    appids = [f"wxdemo{i:010d}" for i in range(apps)]
    tokens: dict[str, str] = {}
    for appid in appids:
        state = emu.add_app(appid)
        # Every app already runs 1.0.0, so the new version can go out in stages.
        state.releases.append(CodeVersion(TEMPLATE_ID, "1.0.0", "last month", PAGES, "{}",
                                          emu.clock.time()))
        state.released_at = emu.clock.time()
        # Made-up credentials, valid for the demo's virtual weeks: none of yours.
        tokens[appid] = emu.issue_token(appid, lifetime=60 * DAY)
    crypto = MessageCrypto(token=f"cb-{seed}", encoding_aes_key="A" * 43, appid=COMPONENT_APPID)
    emu.set_push_crypto(crypto)
    callback = CallbackHandler(crypto)
    emu.faults.set_rate(fault_rate, seed=seed, after_apply_rate=0.3)

    workdir = Path(tempfile.mkdtemp(prefix="wxa-demo-"))
    report_file = Path(report_path) if report_path is not None else workdir / "report.csv"
    store_url = store or f"sqlite:///{workdir / 'rollouts.db'}"
    plan = RolloutPlan(
        name="demo-1.1.0", template_id=TEMPLATE_ID, user_version=VERSION,
        user_desc="spring sale", appids=appids,
        ext_json='{"extAppid": "{appid}", "ext": {"shop": "{appid}"}}',
        submit=SubmitOptions(item_list=[ITEM]),
        release=ReleasePolicy(mode="staged", stages=(10, 50), stage_wait=DAY),
    )
    options = RolloutOptions(worker_id="demo-worker", poll_interval=DAY / 2,
                             idle_sleep=3600.0, coalesce=600.0, quota_recheck=DAY,
                             retry_base=60.0, retry_cap=3600.0, max_attempts=12, seed=seed)
    clock = _VirtualTime(emu)
    lost = 0
    restarts = 0
    progress = _Progress(out, emu, apps)
    print(f"wxa_async demo: rolling {VERSION} out to {apps} mini programs on the emulator "
          f"({transport}), faults {fault_rate:.0%}, seed {seed}", file=out)
    print("  audits take 2 virtual days, the quota covers 3/4 of the fleet, 30 % of pushes "
          "are lost, the worker is killed once; release 10 % -> 50 % -> 100 %, a day apart",
          file=out)
    async with _wire(emu, transport) as (base_url, wire):
        client = WxaClient(StaticTokenProvider(tokens), base_url, wire, max_retries=5)
        async with client:
            current: list[Rollout] = []

            async def on_push(push: Push) -> None:
                nonlocal lost
                # What a platform's callback does: verify, decrypt, parse, hand it over.
                event = callback.handle(push.body, push.query)
                if rng.random() < 0.3:
                    lost += 1  # lost on the way: polling finds the result
                    return
                if current:
                    await current[-1].handle_event(event, appid=push.appid)

            emu.on_push(on_push)
            # The first worker is killed once a third of the fleet is under audit.
            first = await Rollout.open(store_url, client, plan, options=options, clock=clock)
            current.append(first)
            crash = asyncio.Event()

            def watch(summary: RolloutSummary) -> None:
                progress(summary)
                if summary.counts.get("under_audit", 0) >= max(1, apps // 3):
                    crash.set()

            async with first:
                task = asyncio.create_task(first.run(on_progress=watch))
                crashed = asyncio.create_task(crash.wait())
                await asyncio.wait([task, crashed], return_when=asyncio.FIRST_COMPLETED)
                if not task.done():
                    task.cancel()  # killed mid-call: leases held, intents without outcome
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    restarts += 1
                    print("  -- the worker is killed; a new one starts and reconciles --",
                          file=out, flush=True)
                crashed.cancel()
            current.clear()
            async with await Rollout.open(store_url, client, plan, options=options,
                                          clock=clock) as second:
                current.append(second)
                summary = await second.run(on_progress=progress)
                log = await second.store.transitions(plan.name, limit=10 ** 7)
                text = report_text(await second.report(), "csv")
                await asyncio.to_thread(report_file.write_text, text, encoding="utf-8")
            await emu.flush_pushes()
    submitted_twice = [a for a in appids if max(Counter(
        audit.version.user_version for audit in emu.app(a).audits.values()).values(),
        default=0) > 1]
    released_twice = [a for a in appids if Counter(
        v.user_version for v in emu.app(a).releases)[VERSION] > 1]
    report = DemoReport(
        apps=apps, counts=dict(sorted(summary.counts.items())),
        submitted_twice=submitted_twice, released_twice=released_twice,
        waited_for_quota=len({t.appid for t in log if t.to_state == "waiting_for_quota"}),
        pushes_lost=lost, restarts=restarts, faults=dict(emu.faults.injected),
        virtual_days=(emu.clock.now() - progress.start) / DAY,
        duration=time.perf_counter() - started, report_path=report_file,
    )
    _summary(report, out)
    return report


def _summary(report: DemoReport, out: TextIO) -> None:
    counts = ", ".join(f"{k} {v}" for k, v in report.counts.items())
    faults = ", ".join(f"{k} {n}" for k, n in sorted(report.faults.items())) or "none"
    print(f"\n{report.released_full}/{report.apps} mini programs fully released "
          f"({counts}) in {report.virtual_days:.1f} virtual days, {report.duration:.1f} s",
          file=out)
    print(f"  waited for quota: {report.waited_for_quota} apps; pushes lost: "
          f"{report.pushes_lost} (found by polling); worker restarts: {report.restarts}; "
          f"faults injected: {faults}", file=out)
    print(f"  submitted for audit twice: {len(report.submitted_twice)}; released twice: "
          f"{len(report.released_twice)} (the emulator's own record)", file=out)
    print(f"  report: {report.report_path}", file=out, flush=True)
