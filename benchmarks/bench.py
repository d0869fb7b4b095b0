"""wxa_async against raw aiohttp, raw httpx and wechatpy, side by side in one run.

    python benchmarks/bench.py            # full run, a few minutes on 2 cores
    python benchmarks/bench.py --quick    # a short run, under a minute

A canned-JSON server (benchmarks/_server.py) runs in a subprocess on 127.0.0.1. Every
measurement runs in a fresh worker process (so peak RSS is that contender's own), and
the contenders alternate A B C ... C B A over the rounds, so drift on the machine and
the position in the run hit all of them alike; each figure is the median over the rounds.

Contenders, each one small function below sharing one timing harness:

* ``raw-aiohttp``, ``raw-httpx``: an expert using the library directly, a semaphore of
  ``c`` and a pool of ``c`` connections;
* ``raw-*-naive``: the same library, all calls gathered at once, a pool of 64;
* ``wxa-aiohttp``, ``wxa-httpx``: wxa_async with a semaphore of ``c`` and
  ``max_concurrency=c``;
* ``wxa-*-naive``: wxa_async with its defaults, all calls gathered at once;
* ``wechatpy-threads``: wechatpy (requests) on ``c`` threads, one client per thread.

Latency is per call from when it may start: inside the semaphore for the paced
contenders, from the gather for the naive ones (it then includes the wait in the queue).

Writes benchmarks/results/results.json and throughput.png and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
APPID = "wxbench0000000001"
TOKEN = "bench-access-token"
NAIVE_POOL = 64  # the pool a naive user leaves the raw clients with
DNF_AFTER = 20.0  # seconds; a naive run slower than this is cut off and marked DNF

sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing


# -- the shared timing harness ------------------------------------------------------------


@dataclass
class Job:
    contender: str
    base_url: str
    calls: int
    concurrency: int | None  # None: gather every call at once
    size: int = 0  # bytes per download, for the to_file contenders
    offset: int = 0  # pipeline jobs: the emulator's apps this job starts after


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


class Harness:
    """Runs ``call`` ``job.calls`` times, paced or gathered, and records each latency."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.latencies: list[float] = []
        self.seconds = 0.0
        self.started = 0.0
        self.dnf = False

    async def drive(self, call: Callable[[], Awaitable[object]]) -> None:
        warmup = min(self.job.concurrency or NAIVE_POOL, self.job.calls)
        await self._run(call, warmup, record=False)  # open the pool's connections
        self.started = time.perf_counter()
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
        return Measurement(
            contender=self.job.contender,
            concurrency=self.job.concurrency,
            calls=done,
            seconds=round(self.seconds, 4),
            throughput=round((units if units is not None else done) / self.seconds, 2),
            p50_ms=round(lat[len(lat) // 2] * 1000, 3) if lat else None,
            p99_ms=round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 3) if lat else None,
            peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            dnf=self.dnf,
            extra={"gathered": self.job.calls if self.job.concurrency is None else None},
        )


# -- JSON contenders: one function each ------------------------------------------------


def _check(payload: dict[str, Any]) -> None:
    if payload.get("errcode"):  # what any careful caller checks
        raise RuntimeError(payload.get("errmsg"))


async def raw_aiohttp(job: Job, harness: Harness) -> None:
    import aiohttp

    pool = job.concurrency or NAIVE_POOL
    connector = aiohttp.TCPConnector(limit=pool, limit_per_host=pool)
    async with aiohttp.ClientSession(connector=connector) as session:
        url, params = f"{job.base_url}/wxa/get_page", {"access_token": TOKEN}

        async def call() -> None:
            async with session.get(url, params=params) as response:
                response.raise_for_status()
                _check(json.loads(await response.read()))

        await harness.drive(call)


async def raw_httpx(job: Job, harness: Harness) -> None:
    import httpx

    pool = job.concurrency or NAIVE_POOL
    limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
    async with httpx.AsyncClient(limits=limits, timeout=60.0) as client:
        url, params = f"{job.base_url}/wxa/get_page", {"access_token": TOKEN}

        async def call() -> None:
            response = await client.get(url, params=params)
            response.raise_for_status()
            _check(response.json())

        await harness.drive(call)


@contextlib.asynccontextmanager
async def _wxa(
    job: Job, transport_name: str, tokens: dict[str, str] | None = None
) -> AsyncIterator[Any]:
    """A WxaClient on one transport: defaults when naive, else ``c`` everywhere."""
    from wxa_async import AiohttpTransport, HttpxTransport, StaticTokenProvider, WxaClient

    kind = AiohttpTransport if transport_name == "aiohttp" else HttpxTransport
    transport = kind() if job.concurrency is None else kind(max_connections=job.concurrency)
    try:
        async with WxaClient(
            StaticTokenProvider(tokens or {APPID: TOKEN}), job.base_url, transport=transport,
            max_concurrency=job.concurrency,
        ) as client:
            yield client
    finally:
        await transport.aclose()


async def wxa_json(job: Job, harness: Harness, transport_name: str) -> None:
    async with _wxa(job, transport_name) as client:
        await harness.drive(client.app(APPID).get_page)


def wechatpy_threads(job: Job, harness: Harness) -> None:
    from wechatpy import WeChatClient

    local = threading.local()

    def call() -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = WeChatClient(APPID, "secret", access_token=TOKEN)
            client.wxa.API_BASE_URL = f"{job.base_url}/"
        client.wxa.get_page()

    harness.drive_threads(call)


# -- get_qrcode.to_file against the raw clients streaming to a file ------------------------


async def _download_loop(
    job: Job, harness: Harness, download: Callable[[str], Awaitable[int]]
) -> None:
    # On tmpfs when there is one: this measures the clients, not the disk's writeback.
    scratch = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        dest = os.path.join(tmp, "qr.jpg")

        async def call() -> None:
            if await download(dest) != job.size:
                raise RuntimeError("short download")
            os.unlink(dest)  # every download writes a fresh file, as to_file does

        await harness.drive(call)


async def raw_aiohttp_file(job: Job, harness: Harness) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        url = f"{job.base_url}/wxa/get_qrcode"
        params = {"access_token": TOKEN, "size": str(job.size)}

        async def download(dest: str) -> int:
            written = 0
            async with session.get(url, params=params) as response:
                response.raise_for_status()
                with open(dest, "wb") as file:
                    async for chunk in response.content.iter_chunked(65536):
                        written += file.write(chunk)
            return written

        await _download_loop(job, harness, download)


async def raw_httpx_file(job: Job, harness: Harness) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=60.0) as client:
        url = f"{job.base_url}/wxa/get_qrcode"
        params = {"access_token": TOKEN, "size": str(job.size)}

        async def download(dest: str) -> int:
            written = 0
            async with client.stream("GET", url, params=params) as response:
                response.raise_for_status()
                with open(dest, "wb") as file:
                    async for chunk in response.aiter_bytes(65536):
                        written += file.write(chunk)
            return written

        await _download_loop(job, harness, download)


async def wxa_file(job: Job, harness: Harness, transport_name: str) -> None:
    # The canned server reads the size from the query; the SDK passes ``path`` only, so
    # the size rides on the base URL's path prefix instead.
    sized = Job(job.contender, f"{job.base_url}/size{job.size}", job.calls, job.concurrency)
    async with _wxa(sized, transport_name) as client:
        app = client.app(APPID)
        await _download_loop(job, harness, lambda dest: app.get_qrcode.to_file(dest))


# -- a release pipeline against the emulator's HTTP mode, in its own process ---------------


async def wxa_pipeline(job: Job, harness: Harness, transport_name: str) -> None:
    """One "call" is a whole release of one mini program: commit, get_page, submit_audit,
    get_audit_status (audits pass at once: ``--audit-delay 0``) and release. Every call
    takes a fresh app, so no app's audit quota or state carries over between calls."""
    import httpx

    from wxa_async import AuditItem

    warmup = min(job.concurrency or NAIVE_POOL, job.calls)
    appids = [f"wxemu{job.offset + n:010d}" for n in range(1, warmup + job.calls + 1)]
    async with httpx.AsyncClient(base_url=job.base_url, trust_env=False) as admin:
        # A new week on the emulator's clock: the platform may submit 1,000 audits in 7
        # days (errcode 85085), and every job submits a few hundred.
        await admin.post("/_emulator/advance", json={"seconds": 7 * 86400})
        answers = await asyncio.gather(*(
            admin.post("/_emulator/tokens", json={"appid": appid}) for appid in appids))
    tokens = {a: r.json()["access_token"] for a, r in zip(appids, answers, strict=True)}
    queue = iter(appids)

    async with _wxa(job, transport_name, tokens) as client:

        async def release_one() -> None:
            app = client.app(next(queue))
            await app.commit(template_id=1, ext_json={}, user_version="v1", user_desc="bench")
            page = (await app.get_page()).page_list[0]
            item = AuditItem(address=page, tag="工具", first_class="工具",
                             second_class="备忘录", first_id=1, second_id=2, title="首页")
            auditid = (await app.submit_audit(item_list=[item])).auditid
            if (await app.get_audit_status(auditid=auditid)).status != 0:
                raise RuntimeError("the audit did not pass")
            await app.release()

        await harness.drive(release_one)


# -- token cold start through the component token provider ---------------------------------


async def token_cold_start(job: Job, harness: Harness) -> dict[str, Any]:
    """500 apps, no token cached: every first call refreshes; then the warm pass."""
    from wxa_async import AiohttpTransport, WxaClient
    from wxa_async.tokens import ComponentTokenProvider

    appids = [f"wxcold{i:011d}" for i in range(job.calls)]
    refreshes: dict[str, int] = {"api_component_token": 0, "api_authorizer_token": 0}
    token_transport = AiohttpTransport()
    original_send = token_transport.send

    async def counting_send(request: Any) -> Any:
        refreshes[request.url.rsplit("/", 1)[1]] += 1
        return await original_send(request)

    token_transport.send = counting_send  # type: ignore[method-assign]
    provider = ComponentTokenProvider(
        "wxcomponent000001", "component-secret", verify_ticket="ticket",
        refresh_tokens={appid: f"refresh-{appid}" for appid in appids},
        base_url=job.base_url, transport=token_transport,
    )
    transport = AiohttpTransport()
    try:
        async with WxaClient(provider, job.base_url, transport=transport) as client:
            apps = [client.app(appid) for appid in appids]
            timings = {}
            for phase in ("cold", "warm"):
                started = time.perf_counter()
                await asyncio.gather(*(app.get_page() for app in apps))
                timings[phase] = round(time.perf_counter() - started, 4)
    finally:
        await transport.aclose()
        await token_transport.aclose()
    harness.seconds = timings["cold"]
    harness.latencies = [timings["cold"]]
    return {"cold_s": timings["cold"], "warm_s": timings["warm"], "refresh_calls": refreshes}


# -- the worker: one measurement in this process ---------------------------------------------

CONTENDERS: dict[str, Callable[[Job, Harness], Any]] = {
    "raw-aiohttp": raw_aiohttp,
    "raw-httpx": raw_httpx,
    "wxa-aiohttp": lambda job, h: wxa_json(job, h, "aiohttp"),
    "wxa-httpx": lambda job, h: wxa_json(job, h, "httpx"),
    "wechatpy-threads": wechatpy_threads,
    "file-raw-aiohttp": raw_aiohttp_file,
    "file-raw-httpx": raw_httpx_file,
    "file-wxa-aiohttp": lambda job, h: wxa_file(job, h, "aiohttp"),
    "file-wxa-httpx": lambda job, h: wxa_file(job, h, "httpx"),
    "token-cold-start": token_cold_start,
    "pipeline-wxa-aiohttp": lambda job, h: wxa_pipeline(job, h, "aiohttp"),
    "pipeline-wxa-httpx": lambda job, h: wxa_pipeline(job, h, "httpx"),
}


def work(job: Job) -> Measurement:
    name = job.contender.removesuffix("-naive")
    harness = Harness(job)
    outcome = CONTENDERS[name](job, harness)
    extra = asyncio.run(outcome) if asyncio.iscoroutine(outcome) else None
    units = len(harness.latencies) * job.size / 1e6 if job.size else None
    result = harness.measurement(units)
    result.extra.update(extra or {})
    if job.size:
        result.extra["size_mb"] = job.size / 1e6
    return result


# -- the parent: server, schedule, aggregation, output -----------------------------------------


@contextlib.contextmanager
def canned_server() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "_server.py"), str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def emulator_server(apps: int) -> Iterator[str]:
    """The emulator's HTTP mode (uvicorn) in a subprocess, with ``apps`` mini programs
    authorized and audits passing at once."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "wxa_async.testing.emulator", "--port", "0", "--apps", str(apps),
         "--audit-delay", "0", "--seed", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"the emulator did not start: {line!r}")
        yield line.split("listening on", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(10)


def run_job(job: Job) -> Measurement:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(asdict(job))],
        capture_output=True, text=True, timeout=DNF_AFTER * 3 + 60, check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{job.contender} failed:\n{out.stderr[-3000:]}")
    return Measurement(**json.loads(out.stdout.strip().splitlines()[-1]))


@dataclass
class Plan:
    levels: list[int]
    calls: int  # per measurement on aiohttp; httpx and wechatpy are slower: calls / 4
    naive_sizes: list[int]
    rounds: int
    file_sizes: list[int]
    downloads: int
    pipeline_apps: int  # releases per pipeline measurement
    cold_apps: int = 500


FULL = Plan([4, 16, 32, 64, 256], 8000, [1000, 10000], 5, [16_000_000, 128_000_000], 8, 400)
QUICK = Plan([4, 16, 32, 64], 2000, [1000], 1, [8_000_000, 32_000_000], 4, 100)


def schedule(plan: Plan, base_url: str, emulator_url: str) -> list[Job]:
    """One round: every contender once per level. Rounds repeat it, so A B ... A B."""
    jobs: list[Job] = []
    slow = plan.calls // 4
    for c in plan.levels:
        for name, calls in (("raw-aiohttp", plan.calls), ("wxa-aiohttp", plan.calls),
                            ("raw-httpx", slow), ("wxa-httpx", slow),
                            ("wechatpy-threads", slow)):
            jobs.append(Job(name, base_url, calls, c))
    for n in plan.naive_sizes:
        for name in ("raw-aiohttp-naive", "wxa-aiohttp-naive", "raw-httpx-naive",
                     "wxa-httpx-naive"):
            jobs.append(Job(name, base_url, n, None))
    for size in plan.file_sizes:
        for name in ("file-raw-aiohttp", "file-wxa-aiohttp", "file-raw-httpx", "file-wxa-httpx"):
            jobs.append(Job(name, base_url, plan.downloads, 1, size))
    for name in ("pipeline-wxa-aiohttp", "pipeline-wxa-httpx"):
        jobs.append(Job(name, emulator_url, plan.pipeline_apps, None))
    return jobs


def _median_or_none(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


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
    )


def _key(m: Measurement) -> str:
    level = f"naive{m.extra['gathered']}" if m.concurrency is None else str(m.concurrency)
    size = m.extra.get("size_mb")
    return f"{m.contender}@{level}" + (f"/{size:g}MB" if size else "")


def run_all(plan: Plan) -> dict[str, Any]:
    runs: dict[str, list[Measurement]] = {}
    # Every pipeline job releases apps of its own: warm-up and measured ones, each round.
    per_job = NAIVE_POOL + plan.pipeline_apps
    with canned_server() as base_url, emulator_server(per_job * 2 * plan.rounds) as emu_url:
        jobs = schedule(plan, base_url, emu_url)
        used = itertools.count(0, per_job)
        total = len(jobs) * plan.rounds
        for r in range(plan.rounds):
            # A B C ... C B A: no contender always runs first or last in a round, so
            # a drift over the run (or a warming server) cannot favour one of them.
            for i, job in enumerate(jobs if r % 2 == 0 else jobs[::-1], 1):
                if job.contender.startswith("pipeline-"):
                    job = replace(job, offset=next(used))
                m = run_job(job)
                runs.setdefault(_key(m), []).append(m)
                print(
                    f"[{r * len(jobs) + i}/{total}] {_key(m):36} {m.throughput:10.1f}"
                    f"{' DNF' if m.dnf else ''}", file=sys.stderr, flush=True,
                )
        cold = run_job(Job("token-cold-start", base_url, plan.cold_apps, None))
    return {
        "results": {key: asdict(median_of(ms)) for key, ms in runs.items()},
        "token_cold_start": cold.extra | {"apps": plan.cold_apps,
                                          "peak_rss_mb": cold.peak_rss_mb},
    }


def ratios(
    results: dict[str, dict[str, Any]], plan: Plan
) -> list[tuple[str, float | None, str]]:
    """The issue's targets; None where the denominator completed no call (DNF).

    Ratios of two fixed contenders are paired by round; "best c" ratios compare the
    medians of each side's best level."""

    def tp(key: str) -> float:
        return float(results[key]["throughput"])

    def best(name: str) -> float:
        return max(tp(f"{name}@{c}") for c in plan.levels)

    def ratio(a: float, b: float) -> float | None:
        return round(a / b, 2) if b else None

    def paired(a: str, b: str) -> float | None:
        # The median of the rounds' own ratios: A and B of one round ran minutes apart
        # at most, so a slow spell of the machine hits both sides of each ratio.
        ra: list[float] = results[a]["extra"]["rounds"]
        rb: list[float] = results[b]["extra"]["rounds"]
        if not all(rb):
            return None
        return round(statistics.median(x / y for x, y in zip(ra, rb, strict=True)), 2)

    small, big_n = min(plan.naive_sizes), max(plan.naive_sizes)
    big = f"{max(plan.file_sizes) / 1e6:g}MB"
    rows = [
        (f"wxa-aiohttp naive gather {big_n} / raw-aiohttp expert (best c)",
         ratio(tp(f"wxa-aiohttp-naive@naive{big_n}"), best("raw-aiohttp")), ">= 0.9"),
        (f"wxa-httpx naive gather {big_n} / raw-httpx expert (best c)",
         ratio(tp(f"wxa-httpx-naive@naive{big_n}"), best("raw-httpx")), ">= 0.9"),
        (f"wxa-httpx naive gather {big_n} / raw-httpx expert c=32 (our default)",
         paired(f"wxa-httpx-naive@naive{big_n}", "raw-httpx@32"), "(same c)"),
    ]
    rows += [
        (f"wxa-httpx naive gather {n} / raw-httpx naive gather {n}",
         paired(f"wxa-httpx-naive@naive{n}", f"raw-httpx-naive@naive{n}"), ">= 1.5")
        for n in sorted({small, big_n})
    ]
    rows += [
        ("wxa-aiohttp / raw-aiohttp, c=32 (our default)",
         paired("wxa-aiohttp@32", "raw-aiohttp@32"), ">= 0.9"),
        ("wxa-aiohttp / raw-aiohttp, c=64",
         paired("wxa-aiohttp@64", "raw-aiohttp@64"), ">= 0.9"),
        ("wxa-aiohttp / raw-aiohttp, best c of each",
         ratio(best("wxa-aiohttp"), best("raw-aiohttp")), ">= 0.9"),
        (f"wxa-aiohttp naive gather {big_n} (its defaults) / wechatpy with 64 threads",
         paired(f"wxa-aiohttp-naive@naive{big_n}", "wechatpy-threads@64"), ">= 8"),
        ("wxa-aiohttp c=64 / wechatpy with 64 threads",
         paired("wxa-aiohttp@64", "wechatpy-threads@64"), ">= 8"),
        ("wxa-aiohttp best c / wechatpy best thread count",
         ratio(best("wxa-aiohttp"), best("wechatpy-threads")), ">= 8"),
        (f"to_file MB/s, wxa-aiohttp / raw aiohttp ({big})",
         paired(f"file-wxa-aiohttp@1/{big}", f"file-raw-aiohttp@1/{big}"), ">= 0.9"),
        (f"to_file MB/s, wxa-httpx / raw httpx ({big})",
         paired(f"file-wxa-httpx@1/{big}", f"file-raw-httpx@1/{big}"), ">= 0.9"),
    ]
    return rows


def markdown(report: dict[str, Any]) -> str:
    lines = ["| ratio | measured | target |", "|---|---|---|"]
    lines += [
        f"| {label} | {'raw did not finish' if value is None else f'{value:.2f}x'} | {target} |"
        for label, value, target in report["ratios"]
    ]
    lines += ["", "| contender @ concurrency | calls/s (MB/s) | p50 ms | p99 ms | peak RSS MB |",
              "|---|---|---|---|---|"]
    for key, m in report["results"].items():
        flag = " (DNF)" if m["dnf"] else ""
        lines.append(f"| {key} | {m['throughput']:,.0f}{flag} | {_ms(m['p50_ms'])} | "
                     f"{_ms(m['p99_ms'])} | {m['peak_rss_mb']:.0f} |")
    lines += ["", "Release pipeline (commit, get_page, submit_audit, get_audit_status, release) "
              "against the emulator's HTTP mode in a subprocess, all apps gathered at once: "
              + ", ".join(f"{m['contender'].removeprefix('pipeline-')} "
                          f"{m['throughput']:,.0f} releases/s ({m['calls']} apps)"
                          for m in report["results"].values()
                          if m["contender"].startswith("pipeline-")) + "."]
    cold = report["token_cold_start"]
    lines += ["", f"Token cold start, {cold['apps']} apps through ComponentTokenProvider: "
              f"{cold['cold_s']:.2f} s cold, {cold['warm_s']:.2f} s warm; refresh calls "
              f"{cold['refresh_calls']}."]
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines: dict[str, list[tuple[int, float]]] = {}
    for m in report["results"].values():
        if m["contender"].startswith(("file-", "pipeline-")):
            continue
        x = m["concurrency"] or m["extra"]["gathered"]
        lines.setdefault(m["contender"], []).append((x, m["throughput"]))
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for name, points in sorted(lines.items()):
        xs, ys = zip(*sorted(points), strict=True)
        ax.plot(xs, ys, marker="o", linestyle="--" if name.endswith("naive") else "-", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("calls in flight (semaphore c), or gathered at once (naive)")
    ax.set_ylabel("calls/s")
    ax.set_title("get_page on a loopback canned server")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    parser.add_argument("--report", action="store_true",
                        help="no run: recompute ratios, tables and plot from results.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(asdict(work(Job(**json.loads(args.worker))))))
        return
    if args.report:
        if not (RESULTS / "results.json").exists():
            parser.error(f"no {RESULTS / 'results.json'} yet: run the benchmark first")
        report = json.loads((RESULTS / "results.json").read_text())
        report["ratios"] = ratios(report["results"], Plan(**report["meta"]["plan"]))
        (RESULTS / "results.json").write_text(json.dumps(report, indent=2))
        plot(report, RESULTS / "throughput.png")
        print(markdown(report))
        return
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    report = run_all(plan)
    report["ratios"] = ratios(report["results"], plan)
    report["meta"] = {
        "quick": args.quick, "python": sys.version.split()[0], "cpus": os.cpu_count(),
        "seconds": round(time.perf_counter() - started, 1), "plan": asdict(plan),
    }
    report["soak"] = soak(plan)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "results.json").write_text(json.dumps(report, indent=2))
    plot(report, RESULTS / "throughput.png")
    print(markdown(report))
    for name, figures in report["soak"].items():
        print(f"\nSoak on {name}:\n{figures['summary']}")


def soak(plan: Plan) -> dict[str, Any]:
    """The reliability soak's figures (the emulator's HTTP mode with ~5 % faults and
    token expiry mid-run), run in this process after the throughput runs."""
    from tests.support.soak import run_soak

    calls = 2_000 if plan is QUICK else 10_000
    out: dict[str, Any] = {}
    for transport in ("aiohttp", "httpx"):
        print(f"soak on {transport}: {calls} calls ...", file=sys.stderr, flush=True)
        report = asyncio.run(run_soak(transport=transport, calls=calls))
        out[transport] = report.as_dict() | {"summary": report.summary()}
    return out


if __name__ == "__main__":
    main()
