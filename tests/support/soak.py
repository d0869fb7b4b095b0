"""A soak run: many calls over many mini programs through the emulator's HTTP mode with
random faults and token expiry mid-run, and the checks that matter for reliability.

``tests/test_soak.py`` asserts its verdicts; the benchmark prints its figures::

    report = await run_soak(transport="aiohttp", calls=10_000, apps=500)
    print(report.summary())
    assert report.ok, report.checks

Each mini program runs a script in three rounds of about ``calls / 3`` calls each:

1. the release pipeline: ``commit``, ``submit_audit`` (the emulator then passes the
   audit), ``release``, with idempotent reads in between;
2. ``set_support_version`` and reads; all tokens expire when ``expire_tokens_at`` of
   the calls are done, so every mini program's next call gets 42001 and the client
   invalidates and refreshes its token (with a :class:`ComponentTokenProvider`, the
   component token is refreshed once as well);
3. ``change_visit_status`` and reads.

Every mutation is issued for one ``(appid, endpoint)`` at most once, except after an
ambiguous failure (errcode -1, or a transport error once the request may have left):
then the script does what the README (Reliability) tells callers to do, an idempotent read
of the state, and issues the mutation again only if that read shows it was not applied.
So the emulator's ``applied`` counter must never exceed 1.

Memory and live objects are measured after each round, when no call is in flight: RSS
may not grow by 32 MiB from the end of round 1 to the end, and live objects may not grow
in round 3 beyond what the emulator keeps on purpose plus a tenth of an object per call.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import logging
import random
import resource
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Literal

import attrs

from wxa_async import ENDPOINTS, MiniProgram, RetryPolicy, is_ambiguous
from wxa_async.client import WxaClient
from wxa_async.errors import (
    WxaApiError,
    WxaError,
    WxaTransportError,
)
from wxa_async.testing.emulator import Emulator, running_server
from wxa_async.tokens import ComponentTokenProvider
from wxa_async.transports import Transport

__all__ = ["SoakReport", "run_soak"]

TransportName = Literal["httpx", "aiohttp"]

_COMPONENT_APPID = "wxsoakcomponent01"
_PAGES = ["pages/index/index", "pages/detail/detail"]
_ITEM = {
    "address": "pages/index/index", "tag": "工具", "first_class": "工具",
    "second_class": "备忘录", "first_id": 1, "second_id": 2, "title": "首页",
}
_VERSION = "v1.0.0"
_SUPPORT_VERSION = "2.20.0"
_MUTATIONS = (
    "commit", "submit_audit", "release", "set_support_version", "change_visit_status"
)
# name -> (weight, needs): "" always answers, "code" after a commit, "audit" after a submit.
_READS: dict[str, tuple[float, str]] = {
    "get_category": (3, ""), "get_version_info": (3, ""), "query_quota": (2, ""),
    "get_support_version": (2, ""), "get_qrcode_jump": (2, ""),
    "get_gray_release_plan": (2, ""), "get_page": (3, "code"),
    "get_code_privacy_info": (1, "code"),
    "get_qrcode": (0.3, "code"),  # the emulator draws a real QR JPEG: keep it rare
    "get_latest_audit_status": (2, "audit"), "get_audit_status": (2, "audit"),
}
# A mutation whose outcome is unknown may be re-issued this many times after a probe
# showed it had not been applied.
_REISSUES = 3


@attrs.frozen
class SoakReport:
    """What a soak run did and found. ``checks`` holds the verdicts; ``ok`` is all of them.

    ``calls`` counts SDK calls (one ``await app.x()`` each, probes included); ``requests``
    the HTTP requests the emulator answered on code-management endpoints (retries
    included); ``retries`` is ``client.retry_counts`` (``token`` for token refreshes).
    Failures are keyed ``errcode N``, ``HTTP N`` or the exception type, and counted per
    failed call (a read that failed and then succeeded on retry is not a failure).
    """

    transport: str
    calls: int
    apps: int
    reads: int
    mutations: int
    requests: int
    token_requests: int
    faults: dict[str, int]
    faults_after_apply: int
    retries: dict[str, int]
    read_failures: dict[str, int]
    mutation_failures: dict[str, int]
    mutations_ok: int
    mutations_failed: int
    found_applied: int  # ambiguous failures that a probe showed had been applied
    reissued: int  # ambiguous failures that a probe showed had not: issued again
    max_applied: int
    untyped_errors: dict[str, int]
    duration: float
    rss_peak: int
    rss: tuple[int, ...]
    objects: tuple[int, ...]
    open_connections: int
    pending_tasks: int
    resource_warnings: int
    checks: dict[str, bool]

    @property
    def ok(self) -> bool:
        return all(self.checks.values())

    def as_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "ok": self.ok}

    def summary(self) -> str:
        mib = 1 << 20
        failed = [name for name, passed in self.checks.items() if not passed]
        lines = [
            f"soak on {self.transport}: {self.calls} calls ({self.reads} reads, "
            f"{self.mutations} mutations) over {self.apps} mini programs in "
            f"{self.duration:.1f} s, {self.requests} requests, "
            f"{self.token_requests} token requests",
            f"  faults injected: {_counts(self.faults)} "
            f"({self.faults_after_apply} after applying)",
            f"  retries: {_counts(self.retries)}",
            f"  read failures (per call, before retries succeeded): "
            f"{_counts(self.read_failures)}",
            f"  mutation failures: {_counts(self.mutation_failures)}; mutations ok "
            f"{self.mutations_ok}, failed {self.mutations_failed}, found applied "
            f"{self.found_applied}, re-issued {self.reissued}, max applied {self.max_applied}",
            f"  RSS after each round: {', '.join(f'{r / mib:.1f}' for r in self.rss)} MiB "
            f"(peak {self.rss_peak / mib:.1f} MiB); live objects: "
            f"{', '.join(map(str, self.objects))}",
            f"  afterwards: {self.open_connections} open connections, {self.pending_tasks} "
            f"pending tasks, {self.resource_warnings} ResourceWarnings",
            "  checks: " + ("all passed" if not failed else "FAILED " + ", ".join(failed)),
        ]
        return "\n".join(lines)


def _counts(counter: dict[str, int]) -> str:
    if not counter:
        return "none"
    return ", ".join(f"{key} {value}" for key, value in sorted(counter.items()))


def _failure_key(exc: BaseException) -> str:
    if isinstance(exc, WxaApiError):
        return f"errcode {exc.errcode}"
    if isinstance(exc, WxaTransportError) and exc.status_code is not None:
        return f"HTTP {exc.status_code}"
    return type(exc).__name__


def make_transport(name: TransportName) -> Transport:
    """A fresh transport of the given kind (the caller closes it)."""
    if name == "httpx":
        from wxa_async.transports import HttpxTransport

        return HttpxTransport()
    if name == "aiohttp":
        from wxa_async.transports import AiohttpTransport

        return AiohttpTransport()
    raise ValueError(f"unknown transport {name!r}: 'httpx' or 'aiohttp'")


class _IssuedTokens:
    """A token provider taking tokens straight from the emulator (no HTTP): refreshes
    after ``invalidate`` like a real provider, compare-and-clear."""

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self._tokens: dict[str, str] = {}

    async def get_token(self, appid: str) -> str:
        token = self._tokens.get(appid)
        if token is None:
            token = self._tokens[appid] = self._emulator.issue_token(appid)
        return token

    async def invalidate(self, appid: str, token: str) -> None:
        if self._tokens.get(appid) == token:
            del self._tokens[appid]


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _connections_to(port: int) -> int:
    """This process's TCP sockets with ``port`` at either end (client and server side)."""
    import psutil

    count = 0
    for conn in psutil.Process().net_connections(kind="tcp"):
        remote = conn.raddr.port if conn.raddr else None
        if remote == port or (conn.laddr.port == port and remote is not None):
            count += 1
    return count


@attrs.define
class _App:
    appid: str
    handle: MiniProgram
    rng: random.Random
    calls: int = 0
    committed: bool = False
    auditid: int | None = None


class _Run:
    """The state of one soak run; one instance per ``run_soak`` call."""

    def __init__(
        self, client: WxaClient, emulator: Emulator, calls: int, expire_at: int
    ) -> None:
        self.client = client
        self.emulator = emulator
        self.calls_wanted = calls
        self.expire_at = expire_at
        self.expired = False
        self.calls = 0
        self.reads = 0
        self.mutations = 0
        self.read_failures: collections.Counter[str] = collections.Counter()
        self.mutation_failures: collections.Counter[str] = collections.Counter()
        self.untyped: collections.Counter[str] = collections.Counter()
        self.read_gave_up = 0
        self.mutations_ok = 0
        self.mutations_failed = 0
        self.found_applied = 0
        self.reissued = 0
        # (appid, name) of every mutation that ended in success.
        self.succeeded: set[tuple[str, str]] = set()

    # -- one call -------------------------------------------------------------------

    async def call(
        self, app: _App, name: str, *, mutation: bool = False,
        answers: frozenset[int] = frozenset(), **kwargs: Any,
    ) -> tuple[bool, Any]:
        """``(True, result)``, or ``(False, error)``. For a read, an errcode in
        ``answers`` is a definite answer of the service, so it counts as success."""
        self.calls += 1
        app.calls += 1
        if mutation:
            self.mutations += 1
        else:
            self.reads += 1
        try:
            return True, await getattr(app.handle, name)(**kwargs)
        except WxaApiError as exc:
            if not mutation and exc.errcode in answers:
                return True, exc
            self._failed(mutation, exc)
            return False, exc
        except WxaError as exc:
            self._failed(mutation, exc)
            return False, exc
        except Exception as exc:  # the bug a soak exists to find: not a WxaError
            self.untyped[f"{name}: {type(exc).__name__}"] += 1
            self._failed(mutation, exc)
            return False, exc
        finally:
            if not self.expired and self.calls >= self.expire_at:
                # Mid-run, with calls in flight: every token (the component's too) dies.
                self.expired = True
                self.emulator.expire_tokens()

    def _failed(self, mutation: bool, exc: BaseException) -> None:
        if mutation:
            self.mutation_failures[_failure_key(exc)] += 1
        else:
            self.read_failures[_failure_key(exc)] += 1
            self.read_gave_up += 1

    async def mutate(
        self, app: _App, name: str, probe: Callable[[], Awaitable[bool | None]] | None,
        **kwargs: Any,
    ) -> tuple[bool, Any]:
        """One mutation, with the recovery the README (Reliability) prescribes after an
        ambiguous failure: read the state, and issue it again only if not applied.
        ``(True, result)`` (``None`` when a probe found it applied) or ``(False, error)``."""
        outcome: Any = None
        for _ in range(_REISSUES + 1):
            ok, outcome = await self.call(app, name, mutation=True, **kwargs)
            if ok:
                break
            if probe is None or not is_ambiguous(outcome):
                break  # a definite answer (an errcode): it was not applied
            applied = await probe()
            if applied is None:  # the probe failed too: the outcome stays unknown
                break
            if applied:
                self.found_applied += 1
                ok, outcome = True, None
                break
            self.reissued += 1
        if not ok:
            self.mutations_failed += 1
            return False, outcome
        self.mutations_ok += 1
        self.succeeded.add((app.appid, name))
        return True, outcome

    # -- probes: idempotent reads that tell whether a mutation took effect -------------

    async def committed(self, app: _App) -> bool | None:
        ok, info = await self.call(app, "get_version_info")
        if not ok:
            return None
        return info.exp_info is not None and info.exp_info.exp_version == _VERSION

    async def submitted(self, app: _App) -> bool | None:
        ok, status = await self.call(app, "get_latest_audit_status", answers=frozenset({85012}))
        if not ok:
            return None
        if isinstance(status, WxaApiError):  # 85012: no audit at all
            return False
        app.auditid = status.auditid
        return True

    async def released(self, app: _App) -> bool | None:
        ok, info = await self.call(app, "get_version_info")
        return None if not ok else info.release_info is not None

    async def support_set(self, app: _App) -> bool | None:
        ok, info = await self.call(app, "get_support_version")
        return None if not ok else info.now_version == _SUPPORT_VERSION

    # -- the scripts ------------------------------------------------------------------

    async def reads_for(self, app: _App, count: int) -> None:
        names = [
            name for name, (_, needs) in _READS.items()
            if needs == "" or (needs == "code" and app.committed)
            or (needs == "audit" and app.auditid is not None)
        ]
        weights = [_READS[name][0] for name in names]
        for _ in range(count):
            name = app.rng.choices(names, weights)[0]
            kwargs: dict[str, Any] = {}
            if name == "get_audit_status":
                kwargs["auditid"] = app.auditid
            await self.call(app, name, **kwargs)

    async def pipeline(self, app: _App, budget: int) -> None:
        spent = app.calls
        app.committed, _ = await self.mutate(
            app, "commit", lambda: self.committed(app), template_id=1,
            ext_json={"extAppid": app.appid}, user_version=_VERSION, user_desc="soak",
        )
        await self.reads_for(app, max(budget - 3 - (app.calls - spent), 0) // 2)
        if app.committed:
            submitted, result = await self.mutate(
                app, "submit_audit", lambda: self.submitted(app), item_list=[_ITEM]
            )
            if result is not None and submitted:
                app.auditid = result.auditid
            if submitted:
                self.emulator.finish_audit(app.appid, success=True)
                await self.mutate(app, "release", lambda: self.released(app))
        await self.reads_for(app, max(budget - (app.calls - spent), 0))

    async def support(self, app: _App, budget: int) -> None:
        spent = app.calls
        await self.reads_for(app, max(budget - 1, 0) // 2)
        await self.mutate(app, "set_support_version", lambda: self.support_set(app),
                          version=_SUPPORT_VERSION)
        await self.reads_for(app, max(budget - (app.calls - spent), 0))

    async def visit(self, app: _App, budget: int) -> None:
        spent = app.calls
        # No read shows the visit status: a one-shot mutation, never re-issued.
        await self.mutate(app, "change_visit_status", None, action="close")
        await self.reads_for(app, max(budget - (app.calls - spent), 0))


def _budgets(total: int, apps: int) -> Iterator[int]:
    base, extra = divmod(total, apps)
    for index in range(apps):
        yield base + (1 if index < extra else 0)


async def run_soak(
    *,
    transport: TransportName = "httpx",
    calls: int = 10_000,
    apps: int = 500,
    fault_rate: float = 0.05,
    after_apply_rate: float = 0.3,
    latency: float = 0.2,
    seed: int = 20240607,
    expire_tokens_at: float = 0.5,
    tokens: Literal["component", "issued"] = "component",
    max_retries: int = 6,
    retry: RetryPolicy | None = None,
    workers: int = 64,
    time_limit: float = 300.0,
    quiet: bool = True,
) -> SoakReport:
    """Run the soak and return its figures and verdicts (see the module docstring).

    ``fault_rate``: share of requests that get a random fault (busy -1, HTTP 502,
    non-JSON body, dropped connection, latency spike of ``latency`` seconds), of which
    ``after_apply_rate`` are injected after the request was applied. ``max_retries``:
    the client's retries of an idempotent read (``retry``: the client's policy, if
    not the default); with 4 of the 5 fault kinds failing an attempt, a read fails
    only if ``max_retries + 1`` attempts in a row fail, with
    probability ``(0.8 * fault_rate) ** (max_retries + 1)``: at 5 % and 6 retries,
    1.6e-10 per read. ``workers`` mini programs run their scripts at once; the client's
    own concurrency gate is the transport's default. ``quiet`` silences uvicorn's
    error log for the connections the emulator drops on purpose.
    """
    if calls < apps or apps < 1:
        raise ValueError("need at least one call per mini program")
    started_tasks = set(asyncio.all_tasks())
    emu = Emulator(seed=seed)
    emu.limits.audit_submissions_per_month = apps * (_REISSUES + 2)
    emu.add_template(1, _PAGES)
    states = [emu.add_app(f"wxsoak{index:010d}") for index in range(apps)]
    secret, ticket = f"soak-secret-{seed}", f"ticket@@@soak-{seed}"
    emu.set_component(_COMPONENT_APPID, secret, ticket)
    uvicorn_log = logging.getLogger("uvicorn.error")
    old_level = uvicorn_log.level
    rss: list[int] = []
    objects: list[int] = []
    fault_log: list[int] = []
    began = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            async with running_server(emu) as base_url:
                if quiet:  # after the server's start: uvicorn sets its log level then
                    uvicorn_log.setLevel(logging.CRITICAL)
                port = int(base_url.rsplit(":", 1)[1])
                run = await _drive(
                    emu, base_url, transport, states, calls, fault_rate, after_apply_rate,
                    latency, seed, expire_tokens_at, tokens, max_retries, workers,
                    time_limit, secret, ticket, rss, objects, fault_log, retry,
                )
                open_connections = await _settle(port)
            gc.collect()
            await asyncio.sleep(0)
        resource_warnings = sum(issubclass(w.category, ResourceWarning) for w in caught)
    finally:
        uvicorn_log.setLevel(old_level)
        emu.faults.clear()
    duration = time.perf_counter() - began
    current = asyncio.current_task()
    pending = [t for t in asyncio.all_tasks() if t not in started_tasks and t is not current]
    return _report(
        run, emu, transport, apps, duration, rss, objects, fault_log, open_connections,
        len(pending), resource_warnings,
    )


async def _drive(
    emu: Emulator, base_url: str, transport: TransportName, states: list[Any], calls: int,
    fault_rate: float, after_apply_rate: float, latency: float, seed: int,
    expire_tokens_at: float, tokens: str, max_retries: int, workers: int,
    time_limit: float, secret: str, ticket: str, rss: list[int], objects: list[int],
    fault_log: list[int], retry: RetryPolicy | None,
) -> _Run:
    client_transport = make_transport(transport)
    token_transport = make_transport(transport)
    provider: ComponentTokenProvider | _IssuedTokens
    if tokens == "component":
        provider = ComponentTokenProvider(
            _COMPONENT_APPID, secret, ticket,
            {state.appid: state.refresh_token for state in states},
            base_url=base_url, transport=token_transport,
        )
    else:
        provider = _IssuedTokens(emu)
    client = WxaClient(provider, base_url, client_transport, max_retries=max_retries,
                       retry=retry or RetryPolicy())
    run = _Run(client, emu, calls, max(int(calls * expire_tokens_at), 1))
    apps = [
        _App(state.appid, client.app(state.appid), random.Random(f"{seed}:{state.appid}"))
        for state in states
    ]
    for app in apps:  # each handle caches its bound methods: make them all before measuring
        for endpoint in ENDPOINTS:
            getattr(app.handle, endpoint.name)
    # The emulator draws QR codes with Pillow, imported on first use: import it now, or
    # a late first get_qrcode would count as memory growth.
    from wxa_async.testing.emulator._qr import qr_jpeg

    qr_jpeg("warm-up")
    emu.faults.set_rate(fault_rate, seed=seed, after_apply_rate=after_apply_rate,
                        latency=latency)
    rounds = (run.pipeline, run.support, run.visit)
    try:
        async with asyncio.timeout(time_limit):
            for number, script in enumerate(rounds):
                total = calls // 3 if number < 2 else calls - 2 * (calls // 3)
                jobs = iter(list(zip(apps, _budgets(total, len(apps)), strict=True)))

                async def worker(
                    script: Callable[[_App, int], Awaitable[None]] = script,
                    jobs: Iterator[tuple[_App, int]] = jobs,
                ) -> None:
                    for app, budget in jobs:
                        await script(app, budget)

                await asyncio.gather(*(worker() for _ in range(min(workers, len(apps)))))
                gc.collect()
                rss.append(_rss())
                objects.append(len(gc.get_objects()))
                fault_log.append(len(emu.faults.log))
    finally:
        emu.faults.clear()
        await client.aclose()
        if isinstance(provider, ComponentTokenProvider):
            await provider.aclose()
        await client_transport.aclose()
        await token_transport.aclose()
    return run


async def _settle(port: int, limit: float = 3.0) -> int:
    """Open connections to the server once both ends have let go (waits up to ``limit``:
    the server closes its side when it reads the client's FIN)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(limit):
            while _connections_to(port):
                await asyncio.sleep(0.02)
    return _connections_to(port)


def _report(
    run: _Run, emu: Emulator, transport: str, apps: int, duration: float, rss: list[int],
    objects: list[int], fault_log: list[int], open_connections: int, pending: int,
    resource_warnings: int,
) -> SoakReport:
    applied = {key: n for key, n in emu.applied.items() if key[1] in _MUTATIONS}
    max_applied = max(applied.values(), default=0)
    measured = len(rss) == 3
    # Measured when no call was in flight, after each round. RSS: after round 1 (warm:
    # pools, caches, every token fetched) against the end, 2/3 of the calls later.
    rss_growth = rss[2] - rss[0] if measured else 0
    # Live objects: after round 2 against after round 3 (round 2 holds the token expiry,
    # which legitimately adds a token record per app, and lazy first uses: converter
    # hooks, server-side connection state). What the emulator keeps on purpose, one
    # fault-log entry per fault, is allowed; beyond that 1000 objects and a tenth of an
    # object per call: a leak of one object per call is 10x the per-call part.
    last_round = run.calls_wanted - 2 * (run.calls_wanted // 3)
    allowance = 1000 + last_round // 10 + (fault_log[2] - fault_log[1] if measured else 0)
    object_growth = objects[2] - objects[1] if measured else 0
    checks = {
        "every_read_succeeded": run.read_gave_up == 0,
        "no_untyped_errors": not run.untyped,
        "no_mutation_applied_twice": max_applied <= 1,
        "every_success_applied_once": all(applied.get(key) == 1 for key in run.succeeded),
        "tokens_expired_mid_run": run.expired,
        "no_pending_tasks": pending == 0,
        "no_open_connections": open_connections == 0,
        "no_resource_warnings": resource_warnings == 0,
        "memory_flat": measured and rss_growth < 32 << 20 and object_growth < allowance,
    }
    return SoakReport(
        transport=transport,
        calls=run.calls,
        apps=apps,
        reads=run.reads,
        mutations=run.mutations,
        requests=sum(n for name, n in emu.calls.items() if not name.startswith("api_")),
        token_requests=sum(n for name, n in emu.calls.items() if name.startswith("api_")),
        faults=dict(emu.faults.injected),
        faults_after_apply=sum(1 for fault in emu.faults.log if fault.after_apply),
        retries=dict(run.client.retry_counts),
        read_failures=dict(run.read_failures),
        mutation_failures=dict(run.mutation_failures),
        mutations_ok=run.mutations_ok,
        mutations_failed=run.mutations_failed,
        found_applied=run.found_applied,
        reissued=run.reissued,
        max_applied=max_applied,
        untyped_errors=dict(run.untyped),
        duration=duration,
        rss_peak=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        rss=tuple(rss),
        objects=tuple(objects),
        open_connections=open_connections,
        pending_tasks=pending,
        resource_warnings=resource_warnings,
        checks=checks,
    )

