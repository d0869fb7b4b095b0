"""wxa_async against raw aiohttp, raw httpx and wechatpy, side by side in one run.

    python benchmarks/bench.py                        # everything, about 25 minutes on 2 cores
    python benchmarks/bench.py --quick                # one short round of everything
    python benchmarks/bench.py --only latency,uvloop  # some groups (a few minutes)
    python benchmarks/bench.py --report               # recompute from results.json

Groups: ``loopback`` (the canned server at full speed: per-call CPU), ``files``
(``get_qrcode.to_file``), ``pipeline`` (releases against the emulator's HTTP mode),
``cold`` (token cold start), ``latency`` (the canned server answering after 30 ms ±
10 ms, concurrency 8 to 512, naive gathers of 10,000), ``uvloop`` (raw aiohttp and
wxa_async on uvloop beside the default loop), ``adaptive`` (the emulator with a rate
limit, and with a capacity, against fixed limits), ``emulator`` (the emulator's HTTP
mode against the canned server) and ``soak``.

Servers run in subprocesses (benchmarks/server.py); every measurement runs in a fresh
worker process; contenders alternate A B C ... C B A over the rounds, so drift on the
machine hits all of them alike; each figure is the median over the rounds. Writes
benchmarks/results/results.json, the plots, and Markdown tables on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

from harness import NAIVE_POOL, Job, Measurement, key, median_of, run_job, work  # noqa: E402
from report import markdown, plot, ratios  # noqa: E402
from server import PIDS, canned_server, emulator_server  # noqa: E402

RESULTS = HERE / "results"
GROUPS = ("loopback", "files", "pipeline", "cold", "latency", "uvloop", "adaptive", "emulator",
          "soak")
EMULATED_APP = "wxemu0000000001"
# The emulated services of the adaptive rows. A rate limit of 200 calls/s at 100 ms
# is a knee of 20 in flight; a capacity of 32 at 30 ms one of 32 (about 1,070 calls/s).
RATE_LIMIT = 12_000  # calls a minute
RATE_LATENCY = ("--latency", "0.1", "--jitter", "0.03")
CAPACITY = 32  # calls the emulated service holds at once at its base latency
CAPACITY_LATENCY = ("--latency", "0.03", "--jitter", "0.01")


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
    latency_levels: list[int] = field(default_factory=lambda: [8, 32, 128, 512])
    latency_naive: int = 10_000
    uvloop_levels: list[str] = field(default_factory=lambda: ["32", "128/30ms", "512/30ms"])
    adaptive_calls: int = 2400
    groups: list[str] = field(default_factory=lambda: list(GROUPS))


FULL = Plan([4, 16, 32, 64, 256], 8000, [1000, 10000], 5, [16_000_000, 128_000_000], 8, 400)
QUICK = Plan([4, 16, 32, 64], 2000, [1000], 1, [8_000_000, 32_000_000], 4, 100,
             latency_levels=[8, 64, 512], latency_naive=5000, uvloop_levels=["32", "512/30ms"],
             adaptive_calls=1600)


def _latency_calls(c: int) -> int:
    # About 120 round trips at a level, so the last round trip's stragglers (when fewer
    # than c are in flight) cost under 1 % of the share of the ideal.
    return max(1000, min(16000, c * 120))


def schedule(plan: Plan, urls: dict[str, str], tokens: dict[str, str]) -> list[Job]:
    """One round: every contender once per level. Rounds repeat it, so A B ... A B."""
    groups = set(plan.groups)
    jobs: list[Job] = []
    base = urls.get("canned", "")
    slow = plan.calls // 4
    if "loopback" in groups:
        for c in plan.levels:
            for name, calls in (("raw-aiohttp", plan.calls), ("wxa-aiohttp", plan.calls),
                                ("raw-httpx", slow), ("wxa-httpx", slow),
                                ("wechatpy-threads", slow)):
                jobs.append(Job(name, base, calls, c))
        for n in plan.naive_sizes:
            for name in ("raw-aiohttp-naive", "wxa-aiohttp-naive", "raw-httpx-naive",
                         "wxa-httpx-naive"):
                jobs.append(Job(name, base, n, None))
        for name in ("wxa-aiohttp-naive", "wxa-httpx-naive"):  # against the old defaults
            jobs.append(Job(name, base, max(plan.naive_sizes), None, fixed=32))
    if "files" in groups:
        for size in plan.file_sizes:
            for name in ("file-raw-aiohttp", "file-wxa-aiohttp", "file-raw-httpx",
                         "file-wxa-httpx"):
                jobs.append(Job(name, base, plan.downloads, 1, size))
    if "pipeline" in groups:
        for name in ("pipeline-wxa-aiohttp", "pipeline-wxa-httpx"):
            jobs.append(Job(name, urls["pipeline"], plan.pipeline_apps, None))
    late = urls.get("30ms", "")
    if "latency" in groups:
        for c in plan.latency_levels:
            for name in ("raw-aiohttp", "wxa-aiohttp", "raw-httpx", "wxa-httpx"):
                jobs.append(Job(name, late, _latency_calls(c), c, scenario="30ms"))
        for name in ("wxa-aiohttp-naive", "wxa-httpx-naive"):
            for fixed in (None, 32):
                jobs.append(Job(name, late, plan.latency_naive, None, scenario="30ms",
                                fixed=fixed))
    if "uvloop" in groups:
        for level in plan.uvloop_levels:
            c, _, where = level.partition("/")
            url, calls = (late, _latency_calls(int(c))) if where else (base, plan.calls)
            for name in ("raw-aiohttp", "wxa-aiohttp"):
                for loop in ("asyncio", "uvloop"):
                    jobs.append(Job(name, url, calls, int(c), loop=loop, scenario=where))
    if "adaptive" in groups:
        for scenario in ("ratelimit", "capacity"):
            url = urls[scenario]
            common = {"path": "wxa/get_category", "token": tokens[scenario],
                      "appid": EMULATED_APP, "scenario": scenario}
            # The capacity service answers five times faster: more calls for as long a run.
            high, calls = (128, plan.adaptive_calls) if scenario == "ratelimit" else (
                512, plan.adaptive_calls * 3)
            # Too low a limit is slow: fewer calls keep its run short.
            jobs.append(Job("wxa-aiohttp", url, calls // 4, 8, **common))
            jobs.append(Job("wxa-aiohttp", url, calls, high, **common))
            jobs.append(Job("wxa-aiohttp-naive", url, calls, None, adaptive=True, **common))
    if "emulator" in groups:
        jobs.append(Job("raw-aiohttp", base, plan.calls // 2, 32, scenario="canned",
                        server_pid=PIDS[base]))
        jobs.append(Job("raw-aiohttp", urls["emulator"], plan.calls // 2, 32,
                        path="wxa/get_category", token=tokens["emulator"], scenario="emulator",
                        server_pid=PIDS[urls["emulator"]]))
    unique: dict[str, Job] = {}
    for job in jobs:
        unique.setdefault(key(job), job)
    return list(unique.values())


def _token(url: str) -> str:
    import httpx

    answer = httpx.post(f"{url}/_emulator/tokens", json={"appid": EMULATED_APP}, trust_env=False)
    return str(answer.json()["access_token"])


def run_all(plan: Plan) -> dict[str, Any]:
    groups = set(plan.groups)
    runs: dict[str, list[Measurement]] = {}
    # Every pipeline job releases apps of its own: warm-up and measured ones, each round.
    per_job = NAIVE_POOL + plan.pipeline_apps
    with contextlib.ExitStack() as stack:
        urls: dict[str, str] = {"canned": stack.enter_context(canned_server())}
        if groups & {"latency", "uvloop"}:
            urls["30ms"] = stack.enter_context(canned_server(0.030, 0.010))
        if "pipeline" in groups:
            urls["pipeline"] = stack.enter_context(emulator_server(per_job * 2 * plan.rounds))
        if "adaptive" in groups:
            urls["ratelimit"] = stack.enter_context(
                emulator_server(1, *RATE_LATENCY, "--rate-limit", str(RATE_LIMIT)))
            urls["capacity"] = stack.enter_context(
                emulator_server(1, *CAPACITY_LATENCY, "--capacity", str(CAPACITY)))
        if "emulator" in groups:
            urls["emulator"] = stack.enter_context(emulator_server(1))
        tokens = {name: _token(url) for name, url in urls.items()
                  if name in ("ratelimit", "capacity", "emulator")}
        jobs = schedule(plan, urls, tokens)
        used = itertools.count(0, per_job)
        total = len(jobs) * plan.rounds
        for r in range(plan.rounds):
            # A B C ... C B A: no contender always runs first or last in a round, so
            # a drift over the run (or a warming server) cannot favour one of them.
            for i, job in enumerate(jobs if r % 2 == 0 else jobs[::-1], 1):
                if job.contender.startswith("pipeline-"):
                    job = replace(job, offset=next(used))
                m = run_job(job)
                runs.setdefault(key(m), []).append(m)
                print(f"[{r * len(jobs) + i}/{total}] {key(m):44} {m.throughput:10.1f}"
                      f"{' DNF' if m.dnf else ''}", file=sys.stderr, flush=True)
        report: dict[str, Any] = {
            "results": {k: asdict(median_of(ms)) for k, ms in runs.items()}}
        if "cold" in groups:
            cold = run_job(Job("token-cold-start", urls["canned"], plan.cold_apps, None))
            report["token_cold_start"] = cold.extra | {"apps": plan.cold_apps,
                                                       "peak_rss_mb": cold.peak_rss_mb}
    return report


def soak(plan: Plan) -> dict[str, Any]:
    """The reliability soak's figures (the emulator's HTTP mode with ~5 % faults and
    token expiry mid-run), run in this process after the throughput runs."""
    from tests.support.soak import run_soak

    calls = 2_000 if plan.rounds == 1 else 10_000
    out: dict[str, Any] = {}
    for transport in ("aiohttp", "httpx"):
        print(f"soak on {transport}: {calls} calls ...", file=sys.stderr, flush=True)
        figures = asyncio.run(run_soak(transport=transport, calls=calls))
        out[transport] = figures.as_dict() | {"summary": figures.summary()}
    return out


def _write(report: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "results.json").write_text(json.dumps(report, indent=2))
    plot(report, RESULTS)
    print(markdown(report))
    for name, figures in report.get("soak", {}).items():
        print(f"\nSoak on {name}:\n{figures['summary']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short round")
    parser.add_argument("--only", default=None, metavar="GROUPS",
                        help=f"comma-separated groups to run, of: {', '.join(GROUPS)}")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 5, quick 1)")
    parser.add_argument("--report", action="store_true",
                        help="no run: recompute ratios, tables and plots from results.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(asdict(work(Job(**json.loads(args.worker))))))
        return
    if args.report:
        if not (RESULTS / "results.json").exists():
            parser.error(f"no {RESULTS / 'results.json'} yet: run the benchmark first")
        report = json.loads((RESULTS / "results.json").read_text())
        report["ratios"] = ratios(report["results"], report["meta"]["plan"])
        _write(report)
        return
    plan = QUICK if args.quick else FULL
    if args.only:
        chosen = [g.strip() for g in args.only.split(",") if g.strip()]
        unknown = set(chosen) - set(GROUPS)
        if unknown:
            parser.error(f"unknown groups {sorted(unknown)}; choose from {', '.join(GROUPS)}")
        plan = replace(plan, groups=chosen)
    if args.rounds:
        plan = replace(plan, rounds=args.rounds)
    started = time.perf_counter()
    report = run_all(plan)
    report["ratios"] = ratios(report["results"], asdict(plan))
    report["meta"] = {
        "quick": args.quick, "python": sys.version.split()[0], "cpus": os.cpu_count(),
        "seconds": round(time.perf_counter() - started, 1), "plan": asdict(plan),
        "command": " ".join(["python", "benchmarks/bench.py", *sys.argv[1:]]),
    }
    if "soak" in plan.groups:
        report["soak"] = soak(plan)
    _write(report)


if __name__ == "__main__":
    main()
