"""``python -m wxa_async demo``: a bulk release pipeline against the built-in emulator.

Every piece of the SDK takes part: authorizer tokens through the component API, the
paced client and the bulk helper, audit results arriving as encrypted push events that
are decrypted and parsed, and the recovery a careful caller does after an ambiguous
mutation failure (look at the state, then act again only if the first try was lost).
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TextIO

import attrs

from .._handle import MiniProgram
from .._retry import is_ambiguous
from ..bulk import Outcome, bulk
from ..client import WxaClient
from ..errors import WxaApiError, WxaError, WxaTransportError
from ..push._callback import CallbackHandler
from ..push._crypto import MessageCrypto
from ..push._events import AuditFailEvent, AuditSuccessEvent, Event
from ..tokens._component import ComponentTokenProvider
from ..transports._base import Transport
from ._fake import FakeTransport
from .emulator import AuditPolicy, Emulator, Push

__all__ = ["DemoReport", "StepStats", "run_demo"]

COMPONENT_APPID = "wxdemocomponent0"
TEMPLATE_ID = 1
PAGES = ["pages/index/index", "pages/detail/detail"]
ITEM = {
    "address": "pages/index/index", "tag": "工具 效率", "first_class": "工具",
    "second_class": "备忘录", "first_id": 1, "second_id": 2, "title": "首页",
}
VERSION = "1.0.0"


@attrs.define
class StepStats:
    name: str
    attempted: int = 0
    ok: int = 0
    recovered: int = 0
    failed: Counter[str] = attrs.field(factory=Counter)
    retries: int = 0
    latencies: list[float] = attrs.field(factory=list)
    untyped: int = 0  # failures that were not a WxaError: an SDK bug if ever non-zero

    def percentile(self, q: float) -> float | None:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else None
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(q) - 1]


@attrs.define
class DemoReport:
    steps: list[StepStats]
    apps: int
    released_full: int
    faults: dict[str, int]
    duration: float

    @property
    def ok(self) -> bool:
        """Most apps went all the way: injected faults and the 5 % of audits that fail
        on purpose stop a few, and every stopped app ended in a typed error."""
        untyped = sum(step.untyped for step in self.steps)
        return untyped == 0 and self.released_full >= 0.8 * self.apps


def _error_key(exc: BaseException) -> str:
    if isinstance(exc, WxaApiError):
        return str(exc.errcode)
    if isinstance(exc, WxaTransportError) and exc.status_code is not None:
        return f"HTTP {exc.status_code}"
    return type(exc).__name__


Operation = Callable[[MiniProgram], Awaitable[Any]]
Check = Callable[[MiniProgram], Awaitable[bool]]


class _Runner:
    def __init__(self, client: WxaClient, out: TextIO) -> None:
        self.client = client
        self.out = out
        self.steps: list[StepStats] = []

    async def step(
        self, name: str, appids: list[str], operation: Operation, applied: Check | None = None
    ) -> list[str]:
        """Run ``operation`` on every app; return the appids where it took effect.

        After an ambiguous failure of a mutation, ``applied`` looks at the service's
        state: if the first try took effect it counts as recovered, otherwise the
        operation is tried once more. Never blindly: a release applied twice would
        be the worst thing this SDK could do."""
        stats = StepStats(name, attempted=len(appids))
        self.steps.append(stats)
        endpoint_retries_before = sum(self.client.retry_counts.values())

        async def timed(app: MiniProgram) -> str:
            started = time.perf_counter()
            try:
                await operation(app)
                return "ok"
            except WxaError as exc:
                if applied is None or not is_ambiguous(exc):
                    raise
                if await applied(app):
                    return "recovered"
                await operation(app)
                return "recovered"
            finally:
                stats.latencies.append((time.perf_counter() - started) * 1000)

        def progress(done: int, total: int, appid: str, outcome: Outcome[Any]) -> None:
            if self.out.isatty():
                print(f"\r  {name:<18} {done:>5}/{total}", end="", file=self.out, flush=True)

        results = await bulk(self.client, appids, timed, on_progress=progress)
        done: list[str] = []
        for appid, outcome in results.items():
            if outcome.error is not None:
                stats.failed[_error_key(outcome.error)] += 1
                stats.untyped += not isinstance(outcome.error, WxaError)
            else:
                done.append(appid)
                if outcome.value == "recovered":
                    stats.recovered += 1
                else:
                    stats.ok += 1
        stats.retries = sum(self.client.retry_counts.values()) - endpoint_retries_before
        self._line(stats)
        return done

    def _line(self, stats: StepStats) -> None:
        failed = sum(stats.failed.values())
        end = "\r" if self.out.isatty() else ""
        print(
            f"{end}  {stats.name:<18} {stats.attempted:>5} apps  ok {stats.ok:>5}  "
            f"recovered {stats.recovered:>3}  failed {failed:>3}  retries {stats.retries:>3}",
            file=self.out, flush=True,
        )


def _summary(report: DemoReport) -> str:
    rows = [("step", "apps", "ok", "recovered", "failed", "retries", "errcodes", "p50 ms",
             "p99 ms")]
    for s in report.steps:
        p50, p99 = s.percentile(50), s.percentile(99)
        rows.append((
            s.name, str(s.attempted), str(s.ok), str(s.recovered), str(sum(s.failed.values())),
            str(s.retries),
            ", ".join(f"{code}x{n}" for code, n in sorted(s.failed.items())) or "-",
            "-" if p50 is None else f"{p50:.1f}", "-" if p99 is None else f"{p99:.1f}",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@contextlib.asynccontextmanager
async def _transport(emu: Emulator, kind: str) -> AsyncIterator[tuple[str, Transport]]:
    """Where the client talks to the emulator: in process, or over loopback HTTP."""
    if kind == "fake":
        yield "http://emulator.invalid", FakeTransport(emu)
        return
    from .emulator._http import running_server

    async with running_server(emu, host="127.0.0.1", port=0) as base_url:
        transport: Transport
        if kind == "aiohttp":
            from ..transports._aiohttp import AiohttpTransport

            transport = AiohttpTransport()
        else:
            from ..transports._httpx import HttpxTransport

            transport = HttpxTransport()
        try:
            yield base_url, transport
        finally:
            await transport.aclose()


async def run_demo(
    *, apps: int = 200, fault_rate: float = 0.03, seed: int = 7, transport: str = "fake",
    out: TextIO | None = None, emulator: Emulator | None = None,
) -> DemoReport:
    """Commit, audit (results as push events), release, gray 10 %, then full, for
    ``apps`` mini programs at once, with ``fault_rate`` of the calls hit by faults.
    Give ``emulator`` to inspect its state afterwards."""
    out = out or sys.stdout
    started = time.perf_counter()
    emu = emulator or Emulator(seed=seed)
    emu.audit_policy = AuditPolicy(delay=3600, fail_rate=0.05, seed=seed)
    emu.add_template(TEMPLATE_ID, pages=PAGES)
    appids = [f"wxdemo{i:010d}" for i in range(apps)]
    refresh_tokens = {appid: emu.add_app(appid).refresh_token for appid in appids}
    # Credentials are made up per run: the demo needs none of yours.
    secret, ticket = f"secret-{seed}", f"ticket@@@demo-{seed}"
    emu.set_component(COMPONENT_APPID, secret, ticket)
    crypto = MessageCrypto(token=f"cb-{seed}", encoding_aes_key="A" * 43, appid=COMPONENT_APPID)
    emu.set_push_crypto(crypto)
    callback = CallbackHandler(crypto)
    events: dict[str, Event] = {}

    async def on_push(push: Push) -> None:
        # What a platform's callback URL does: verify, decrypt and parse the push.
        events[push.appid] = callback.handle(push.body, push.query)

    emu.on_push(on_push)
    emu.faults.set_rate(fault_rate, seed=seed, after_apply_rate=0.3)

    print(f"wxa_async demo: {apps} mini programs, fault rate {fault_rate:.0%}, seed {seed}, "
          f"transport {transport}", file=out)
    async with _transport(emu, transport) as (base_url, wire):
        provider = ComponentTokenProvider(
            component_appid=COMPONENT_APPID, component_appsecret=secret, verify_ticket=ticket,
            refresh_tokens=refresh_tokens, base_url=base_url, transport=wire,
        )
        async with provider, WxaClient(provider, base_url, wire, max_retries=5) as client:
            run = _Runner(client, out)

            async def committed(app: MiniProgram) -> bool:
                info = await app.get_version_info()  # the trial version is the commit's
                return info.exp_info is not None and info.exp_info.exp_version == VERSION

            async def submitted(app: MiniProgram) -> bool:
                try:
                    latest = await app.get_latest_audit_status()
                except WxaApiError as exc:
                    if exc.errcode in (85012, 86001):  # no audit at all: it was lost
                        return False
                    raise
                return latest.status == 2  # under audit: the first submit went through

            async def released(app: MiniProgram) -> bool:
                info = await app.get_version_info()
                release = info.release_info
                return release is not None and release.release_version == VERSION

            def gray_at(percentage: int) -> Check:
                async def check(app: MiniProgram) -> bool:
                    plan = await app.get_gray_release_plan()
                    return plan.gray_release_plan.gray_percentage >= percentage or (
                        percentage == 100 and plan.gray_release_plan.status == 3
                    )
                return check

            ok = await run.step("commit", appids, lambda app: app.commit(
                TEMPLATE_ID, {"extAppid": app.appid, "ext": {"shop": app.appid}}, VERSION,
                "bulk release demo"), committed)
            ok = await run.step("submit_audit", ok,
                                lambda app: app.submit_audit(item_list=[ITEM]), submitted)
            # The audits resolve an hour later in virtual time; results arrive as pushes.
            await emu.advance(3600)
            await emu.flush_pushes()
            audit = StepStats("audit result (push)", attempted=len(ok))
            run.steps.append(audit)
            passed = []
            for appid in ok:
                event = events.get(appid)
                if isinstance(event, AuditSuccessEvent):
                    audit.ok += 1
                    passed.append(appid)
                elif isinstance(event, AuditFailEvent):
                    audit.failed["weapp_audit_fail"] += 1
                else:
                    audit.failed["no push"] += 1
            run._line(audit)
            ok = await run.step("release", passed, lambda app: app.release(), released)
            # Then the staged rollout (分阶段发布): 10 % of users first, then everyone.
            ok = await run.step("gray_release 10%", ok,
                                lambda app: app.gray_release(10), gray_at(10))
            ok = await run.step("gray_release 100%", ok,
                                lambda app: app.gray_release(100), gray_at(100))
    report = DemoReport(
        steps=run.steps, apps=apps, released_full=len(ok),
        faults=dict(emu.faults.injected), duration=time.perf_counter() - started,
    )
    print("\n" + _summary(report), file=out)
    injected = ", ".join(f"{kind} {n}" for kind, n in sorted(report.faults.items())) or "none"
    print(f"\n{report.released_full}/{apps} mini programs fully released in "
          f"{report.duration:.2f} s; faults injected: {injected}", file=out)
    return report
