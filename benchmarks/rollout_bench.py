"""What a rollout's orchestration and store cost, against a bare ``client.bulk`` pipeline.

    python benchmarks/rollout_bench.py                  # 10,000 apps, SQLite + PostgreSQL
    python benchmarks/rollout_bench.py --apps 2000 --no-postgresql
    python benchmarks/rollout_bench.py --apps 2000 --no-postgresql --latency 0.05

1. **SQLite against bulk**: 10,000 apps from pending to released against the emulator in
   process with instant audits, once as a rollout on SQLite, once as a bare
   ``client.bulk`` pipeline making the same API calls (commit, get_code_privacy_info,
   query_quota once, get_latest_audit_status, submit_audit, get_audit_status,
   get_version_info, release). Ratio = rollout wall time / bulk wall time.
2. **PostgreSQL, 4 workers against 1**: the same rollout with the emulator over HTTP in
   its own process and 1 or 4 worker processes on one PostgreSQL (started here, as an
   unprivileged user, when ``--pg`` is not given). Ratio = 1-worker time / 4-worker time.
3. **Peak RSS** of the SQLite rollout's worker process (``ru_maxrss``).

Every measurement runs in a fresh process. It prints the figures and ratios; nothing
here is asserted (timings belong to the machine, not to the test suite).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ITEM = {"address": "pages/index/index", "tag": "工具", "first_class": "工具",
        "second_class": "备忘录", "first_id": 1, "second_id": 2, "title": "首页"}
CONCURRENCY = 32


LATENCY = float(os.environ.get("WXA_BENCH_LATENCY", "0"))


def _emulator(apps: int) -> tuple[Any, dict[str, str]]:
    from wxa_async.testing import AuditPolicy, Emulator

    emu = Emulator(seed=1)
    if LATENCY:  # every answer waits this long, as WeChat's do
        emu.faults.add("latency", latency=LATENCY, times=None)
    emu.limits.audit_submissions_per_month = 10 ** 9  # the quota is not what is measured
    emu.audit_policy = AuditPolicy(delay=0.0, fail_rate=0.0, seed=1)  # instant audits
    emu.add_template(1, ["pages/index/index"])
    tokens = {}
    for i in range(apps):
        appid = f"wxbench{i:08d}"
        emu.add_app(appid)
        tokens[appid] = emu.issue_token(appid, lifetime=10 ** 8)
    return emu, tokens


def _plan(appids: list[str]) -> Any:
    from wxa_async.rollout import RolloutPlan, SubmitOptions

    return RolloutPlan(name="bench", template_id=1, user_version="1.0.0", user_desc="bench",
                       appids=appids, ext_json='{"extAppid": "{appid}"}',
                       submit=SubmitOptions(item_list=[ITEM]))


def _options(**kwargs: Any) -> Any:
    from wxa_async.rollout import RolloutOptions

    # Audits are instant: poll right away, as a bulk pipeline reads the status at once.
    return RolloutOptions(concurrency=CONCURRENCY, poll_interval=1e-6, poll_jitter=0.0,
                          idle_sleep=0.01, coalesce=0.0, **kwargs)


async def bulk_mode(apps: int) -> dict[str, Any]:
    from wxa_async import StaticTokenProvider, WxaApiError, WxaClient
    from wxa_async.testing import FakeTransport

    emu, tokens = _emulator(apps)
    client = WxaClient(StaticTokenProvider(tokens), transport=FakeTransport(emu),
                       max_concurrency=CONCURRENCY)

    async def pipeline(app: Any) -> None:
        await app.commit(1, f'{{"extAppid": "{app.appid}"}}', "1.0.0", "bench")
        await app.get_code_privacy_info()
        with contextlib.suppress(WxaApiError):  # 85012: no audit yet, as the rollout reads
            await app.get_latest_audit_status()
        answer = await app.submit_audit(item_list=[ITEM])
        await app.get_audit_status(answer.auditid)
        await app.get_version_info()
        await app.release()

    started = time.perf_counter()
    async with client:
        await client.app(next(iter(tokens))).query_quota()
        result = await client.bulk(list(tokens), pipeline, concurrency=CONCURRENCY)
    wall = time.perf_counter() - started
    assert result.ok, list(result.failed.items())[:3]
    return {"wall": wall, "calls": sum(emu.calls.values())}


async def sqlite_mode(apps: int) -> dict[str, Any]:
    from wxa_async import StaticTokenProvider, WxaClient
    from wxa_async.rollout import Rollout
    from wxa_async.testing import FakeTransport

    emu, tokens = _emulator(apps)
    client = WxaClient(StaticTokenProvider(tokens), transport=FakeTransport(emu),
                       max_concurrency=CONCURRENCY)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        async with client, await Rollout.open(f"sqlite:///{tmp}/bench.db", client,
                                              _plan(list(tokens)), options=_options()) as r:
            summary = await r.run()
        wall = time.perf_counter() - started
    assert summary.counts == {"released": apps}, summary.counts
    return {"wall": wall, "calls": sum(emu.calls.values())}


async def serve_mode(apps: int) -> None:
    from wxa_async.testing import running_server

    emu, tokens = _emulator(apps)
    async with running_server(emu) as url:
        print(json.dumps({"url": url, "tokens": tokens}), flush=True)
        await asyncio.Event().wait()


async def pg_worker_mode(url: str, base: str, tokens_file: str, worker: str) -> dict[str, Any]:
    from wxa_async import HttpxTransport, StaticTokenProvider, WxaClient
    from wxa_async.rollout import Rollout

    tokens = json.loads(Path(tokens_file).read_text())
    client = WxaClient(StaticTokenProvider(tokens), base, HttpxTransport(),
                       max_concurrency=CONCURRENCY)
    async with client, await Rollout.open(url, client, _plan(sorted(tokens)),
                                          options=_options(worker_id=worker)) as r:
        summary = await r.run()
    return {"counts": summary.counts}


def child(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", *args], cwd=ROOT,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _postgres() -> tuple[str, Any]:
    from tests.rollout.conftest import pg_server

    server = pg_server.__wrapped__()  # type: ignore[attr-defined]  (the fixture's generator)
    return next(server), server


def pg_run(url: str, apps: int, workers: int) -> float:
    import asyncpg

    name = f"bench_{workers}_{int(time.time())}"

    async def create() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    db = url.rsplit("/", 1)[0] + "/" + name
    server = subprocess.Popen([sys.executable, __file__, "--child", "serve", str(apps)],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        info = json.loads(server.stdout.readline())
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(info["tokens"], f)
        started = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, __file__, "--child", "pg-worker", db,
                                   info["url"], f.name, f"w{n}"], cwd=ROOT,
                                  stdout=subprocess.PIPE, text=True)
                 for n in range(workers)]
        for proc in procs:
            proc.communicate()
        wall = time.perf_counter() - started
        os.unlink(f.name)
    finally:
        server.terminate()
        server.communicate()
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--apps", type=int, default=10_000)
    parser.add_argument("--pg", help="a PostgreSQL URL (default: start one here)")
    parser.add_argument("--no-postgresql", action="store_true")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="seconds every emulator answer waits (WeChat-like: 0.05)")
    parser.add_argument("--child", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.latency:
        os.environ["WXA_BENCH_LATENCY"] = str(args.latency)  # the children read it
    if args.child:
        mode, *rest = args.child
        if mode == "serve":
            asyncio.run(serve_mode(int(rest[0])))
            return
        if mode == "pg-worker":
            result = asyncio.run(pg_worker_mode(*rest))
        else:
            run = {"bulk": bulk_mode, "sqlite": sqlite_mode}[mode]
            result = asyncio.run(run(int(rest[0])))
        result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result), flush=True)
        return

    apps = args.apps
    print(f"rollout benchmark: {apps} apps, concurrency {CONCURRENCY}, {os.cpu_count()} cores, "
          f"answer latency {args.latency * 1000:.0f} ms")
    bulk = child("bulk", str(apps))
    sqlite = child("sqlite", str(apps))
    print(f"bulk pipeline       {bulk['wall']:8.2f} s  {bulk['calls']} calls  "
          f"peak RSS {bulk['rss_mb']:.0f} MB")
    print(f"rollout on SQLite   {sqlite['wall']:8.2f} s  {sqlite['calls']} calls  "
          f"peak RSS {sqlite['rss_mb']:.0f} MB")
    print(f"ratio rollout/bulk  {sqlite['wall'] / bulk['wall']:8.2f}  (target <= 1.25)")
    print(f"worker peak RSS     {sqlite['rss_mb']:8.0f} MB  (target < 150 MB)")
    if args.no_postgresql:
        return
    server = None
    url = args.pg
    if url is None:
        url, server = _postgres()
    try:
        one = pg_run(url, apps, 1)
        four = pg_run(url, apps, 4)
    finally:
        if server is not None:
            server.close()
    print(f"PostgreSQL 1 worker {one:8.2f} s")
    print(f"PostgreSQL 4 workers{four:8.2f} s")
    print(f"ratio 1/4 workers   {one / four:8.2f}")


if __name__ == "__main__":
    main()
