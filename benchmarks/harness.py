"""The shared timing harness: jobs, measurements, one worker process per measurement.

Every measurement runs in a fresh worker process (``bench.py --worker JOB``), so peak
RSS is that contender's own and no warm state carries over; the parent aggregates the
rounds into medians.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from server import cpu_seconds

HERE = Path(__file__).resolve().parent
APPID = "wxbench0000000001"
TOKEN = "bench-access-token"
NAIVE_POOL = 64  # the pool a naive user leaves the raw clients with
DNF_AFTER = 20.0  # seconds; a run slower than this is cut off and marked DNF


@dataclass
class Job:
    contender: str
    base_url: str
    calls: int
    concurrency: int | None  # None: gather every call at once
    size: int = 0  # bytes per download, for the to_file contenders
    offset: int = 0  # pipeline jobs: the emulator's apps this job starts after
    loop: str = "asyncio"  # or "uvloop"
    scenario: str = ""  # "" loopback; "30ms" the canned server with latency; ...
    path: str = "wxa/get_page"  # what the JSON contenders call
    token: str = TOKEN
    appid: str = APPID
    adaptive: bool = False  # wxa contenders: max_concurrency=AdaptiveLimit(...)
    fixed: int | None = None  # wxa naive contenders: max_concurrency=fixed (the old default)
    server_pid: int = 0  # when set: the server's CPU time per measured call is recorded


@dataclass
class Measurement:
    contender: str
    concurrency: int | None
    calls: int
    seconds: float
    throughput: float  # calls/s, or MB/s for downloads
    p50_ms: float | None  # None when no call completed
    p99_ms: float | None
    peak_rss_mb: float
    dnf: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    loop: str = "asyncio"
    scenario: str = ""
    adaptive: bool = False
    fixed: int | None = None


def key(m: Measurement | Job) -> str:
    """``contender[+uvloop]@level[/size][/scenario]``: one row of the report."""
    gathered = m.calls if isinstance(m, Job) else m.extra.get("gathered")
    level = f"naive{gathered}" if m.concurrency is None else str(m.concurrency)
    name = m.contender + ("-adaptive" if m.adaptive else "") + (
        f"-fixed{m.fixed}" if m.fixed else "")
    name += "+uvloop" if m.loop == "uvloop" else ""
    size = m.size / 1e6 if isinstance(m, Job) else m.extra.get("size_mb")
    return f"{name}@{level}" + (f"/{size:g}MB" if size else "") + (
        f"/{m.scenario}" if m.scenario else "")


class Harness:
    """Runs ``call`` ``job.calls`` times, paced or gathered, and records each latency."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.latencies: list[float] = []
        self.seconds = 0.0
        self.started = 0.0
        self.dnf = False
        self.extra: dict[str, Any] = {}
        self.recording = False  # True once the warm-up is over

    async def drive(self, call: Callable[[], Awaitable[object]], warmup: int | None = None) -> None:
        if warmup is None:
            warmup = min(self.job.concurrency or NAIVE_POOL, self.job.calls)
        await self._run(call, warmup, record=False)  # open the pool's connections
        server_cpu = cpu_seconds(self.job.server_pid) if self.job.server_pid else None
        self.started = time.perf_counter()
        self.recording = True
        # A thread, not an asyncio timeout: a client in its bad regime can keep the event
        # loop busy inside one callback for minutes, and then no loop timer fires.
        watchdog = threading.Timer(DNF_AFTER, self._abandon)
        watchdog.daemon = True
        watchdog.start()
        try:
            await self._run(call, self.job.calls, record=True)
        finally:
            watchdog.cancel()
        self.seconds = time.perf_counter() - self.started
        if server_cpu is not None:
            spent = cpu_seconds(self.job.server_pid)
            if spent is not None:
                # Per-call CPU of the server: steadier on a busy machine than its rate.
                self.extra["server_us_per_call"] = round((spent - server_cpu) / self.job.calls
                                                         * 1e6, 1)

    def _abandon(self) -> None:
        """Report what completed in DNF_AFTER seconds and end the worker at once."""
        self.seconds = time.perf_counter() - self.started
        self.dnf = True
        print(json.dumps(asdict(self.measurement())), flush=True)
        os._exit(0)

    async def _run(self, call: Callable[[], Awaitable[object]], n: int, record: bool) -> None:
        gate = asyncio.Semaphore(self.job.concurrency) if self.job.concurrency else None
        latencies = self.latencies if record else []

        async def timed() -> None:
            start = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - start)

        async def one() -> None:
            if gate is None:
                await timed()
            else:
                async with gate:
                    await timed()

        await asyncio.gather(*(one() for _ in range(n)))

    def drive_threads(self, call: Callable[[], object]) -> None:
        threads = self.job.concurrency or NAIVE_POOL

        def timed(_: int) -> None:
            start = time.perf_counter()
            call()
            self.latencies.append(time.perf_counter() - start)  # list.append is atomic

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda _: call(), range(threads * 2)))  # warm up every thread
            started = time.perf_counter()
            list(pool.map(timed, range(self.job.calls)))
            self.seconds = time.perf_counter() - started

    def measurement(self, units: float | None = None) -> Measurement:
        done = len(self.latencies)
        lat = sorted(self.latencies[:done])
        job = self.job
        return Measurement(
            contender=job.contender,
            concurrency=job.concurrency,
            calls=done,
            seconds=round(self.seconds, 4),
            throughput=round((units if units is not None else done) / self.seconds, 2),
            p50_ms=round(lat[len(lat) // 2] * 1000, 3) if lat else None,
            p99_ms=round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 3) if lat else None,
            peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            dnf=self.dnf,
            extra={"gathered": job.calls if job.concurrency is None else None} | self.extra,
            loop=job.loop, scenario=job.scenario, adaptive=job.adaptive, fixed=job.fixed,
        )


# -- the worker and the parent's side of it --------------------------------------------------


def work(job: Job) -> Measurement:
    """One measurement, in this (worker) process."""
    from contenders import CONTENDERS

    harness = Harness(job)
    outcome = CONTENDERS[job.contender.removesuffix("-naive")](job, harness)
    extra = None
    if asyncio.iscoroutine(outcome):
        factory = None
        if job.loop == "uvloop":
            import uvloop

            factory = uvloop.new_event_loop
        with asyncio.Runner(loop_factory=factory) as runner:
            extra = runner.run(outcome)
    units = len(harness.latencies) * job.size / 1e6 if job.size else None
    result = harness.measurement(units)
    result.extra.update(extra or {})
    if job.size:
        result.extra["size_mb"] = job.size / 1e6
    return result


def run_job(job: Job) -> Measurement:
    out = subprocess.run(
        [sys.executable, str(HERE / "bench.py"), "--worker", json.dumps(asdict(job))],
        capture_output=True, text=True, timeout=DNF_AFTER * 3 + 60, check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{key(job)} failed:\n{out.stderr[-3000:]}")
    return Measurement(**json.loads(out.stdout.strip().splitlines()[-1]))


def _median_or_none(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def median_of(runs: list[Measurement]) -> Measurement:
    first = runs[0]
    pick = sorted(runs, key=lambda m: m.throughput)[len(runs) // 2]
    return Measurement(
        first.contender, first.concurrency, first.calls,
        statistics.median(m.seconds for m in runs),
        statistics.median(m.throughput for m in runs),
        _median_or_none([m.p50_ms for m in runs]),
        _median_or_none([m.p99_ms for m in runs]),
        max(m.peak_rss_mb for m in runs), any(m.dnf for m in runs),
        pick.extra | {"rounds": [m.throughput for m in runs]},
        first.loop, first.scenario, first.adaptive, first.fixed,
    )
