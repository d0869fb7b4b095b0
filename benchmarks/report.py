"""Ratios against the targets, Markdown tables and the plots, from the medians.

A ratio of two fixed contenders is the median of each round's own ratio (A and B of one
round ran minutes apart at most, so a slow spell of the machine hits both); "best c"
ratios compare the medians of each side's best level. A row whose measurements were not
run (``--only``) is left out.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

LATENCY = 0.030  # the canned server's mean delay in the latency rows, seconds
Results = dict[str, dict[str, Any]]


def _tp(results: Results, key: str) -> float:
    return float(results[key]["throughput"])


def _paired(results: Results, a: str, b: str) -> float | None:
    ra: list[float] = results[a]["extra"]["rounds"]
    rb: list[float] = results[b]["extra"]["rounds"]
    if not all(rb):
        return None
    return round(statistics.median(x / y for x, y in zip(ra, rb, strict=True)), 2)


def _best(results: Results, name: str, suffix: str = "") -> float:
    values = [m["throughput"] for k, m in results.items()
              if k.startswith(f"{name}@") and not k.startswith(f"{name}@naive")
              and k.endswith(suffix) and (suffix or "/" not in k)]
    if not values:
        raise KeyError(name)
    return float(max(values))


def ratios(results: Results, plan: dict[str, Any]) -> list[tuple[str, float | None, str]]:
    """The targets, as (label, ratio, target); None where the denominator did not finish."""
    rows: list[tuple[str, Callable[[], float | None], str]] = []

    def ratio(a: float, b: float) -> float | None:
        return round(a / b, 2) if b else None

    def add(label: str, value: Callable[[], float | None], target: str) -> None:
        rows.append((label, value, target))

    r = results
    naive = plan.get("naive_sizes") or [10000]
    small, big_n = min(naive), max(naive)
    big = f"{max(plan.get('file_sizes') or [0]) / 1e6:g}MB"
    # -- loopback: per-call CPU
    for t in ("aiohttp", "httpx"):
        add(f"wxa-{t} naive gather {big_n} / raw-{t} expert (best c)",
            lambda t=t: ratio(_tp(r, f"wxa-{t}-naive@naive{big_n}"), _best(r, f"raw-{t}")),
            ">= 0.9")
    for t in ("aiohttp", "httpx"):
        add(f"wxa-{t} naive gather {big_n}, defaults / the old fixed 32",
            lambda t=t: _paired(r, f"wxa-{t}-naive@naive{big_n}",
                                f"wxa-{t}-naive-fixed32@naive{big_n}"), ">= 0.95")
    add(f"wxa-httpx naive gather {big_n} / raw-httpx expert c=32 (our default)",
        lambda: _paired(r, f"wxa-httpx-naive@naive{big_n}", "raw-httpx@32"), "(same c)")
    for n in sorted({small, big_n}):
        add(f"wxa-httpx naive gather {n} / raw-httpx naive gather {n}",
            lambda n=n: _paired(r, f"wxa-httpx-naive@naive{n}", f"raw-httpx-naive@naive{n}"),
            ">= 1.5")
    for c in (32, 64):
        add(f"wxa-aiohttp / raw-aiohttp, c={c}",
            lambda c=c: _paired(r, f"wxa-aiohttp@{c}", f"raw-aiohttp@{c}"), ">= 0.9")
    add("wxa-aiohttp / raw-aiohttp, best c of each",
        lambda: ratio(_best(r, "wxa-aiohttp"), _best(r, "raw-aiohttp")), ">= 0.9")
    add(f"wxa-aiohttp naive gather {big_n} (its defaults) / wechatpy with 64 threads",
        lambda: _paired(r, f"wxa-aiohttp-naive@naive{big_n}", "wechatpy-threads@64"), ">= 8")
    add("wxa-aiohttp c=64 / wechatpy with 64 threads",
        lambda: _paired(r, "wxa-aiohttp@64", "wechatpy-threads@64"), ">= 8")
    add("wxa-aiohttp best c / wechatpy best thread count",
        lambda: ratio(_best(r, "wxa-aiohttp"), _best(r, "wechatpy-threads")), ">= 8")
    for t in ("aiohttp", "httpx"):
        add(f"to_file MB/s, wxa-{t} / raw {t} ({big})",
            lambda t=t: _paired(r, f"file-wxa-{t}@1/{big}", f"file-raw-{t}@1/{big}"), ">= 0.9")
    # -- 30 ms latency
    for c in plan.get("latency_levels") or []:
        for t in ("aiohttp", "httpx"):
            add(f"30 ms: wxa-{t} / raw-{t}, c={c}",
                lambda c=c, t=t: _paired(r, f"wxa-{t}@{c}/30ms", f"raw-{t}@{c}/30ms"), ">= 1.0")
    lat_n = plan.get("latency_naive", 10000)
    add(f"30 ms: wxa-httpx naive gather {lat_n} (defaults) / best raw-aiohttp fixed c",
        lambda: ratio(_tp(r, f"wxa-httpx-naive@naive{lat_n}/30ms"),
                      _best(r, "raw-aiohttp", "/30ms")), "(across)")
    for t in ("aiohttp", "httpx"):
        add(f"30 ms: wxa-{t} naive gather {lat_n} (defaults) / best raw-{t} fixed c",
            lambda t=t: ratio(_tp(r, f"wxa-{t}-naive@naive{lat_n}/30ms"),
                              _best(r, f"raw-{t}", "/30ms")), ">= 0.9")
        add(f"30 ms: wxa-{t} naive gather {lat_n}, defaults / the old fixed 32",
            lambda t=t: _paired(r, f"wxa-{t}-naive@naive{lat_n}/30ms",
                                f"wxa-{t}-naive-fixed32@naive{lat_n}/30ms"), "(gain)")
    # -- uvloop
    for level in plan.get("uvloop_levels") or []:
        c, _, where = level.partition("/")
        sfx = f"/{where}" if where else ""
        add(f"uvloop, {where or 'loopback'} c={c}: wxa-aiohttp / raw-aiohttp",
            lambda c=c, s=sfx: _paired(
                r, f"wxa-aiohttp+uvloop@{c}{s}", f"raw-aiohttp+uvloop@{c}{s}"),
            ">= 0.95")
        for name in ("raw-aiohttp", "wxa-aiohttp"):
            add(f"uvloop over the default loop, {where or 'loopback'} c={c}: {name}",
                lambda c=c, s=sfx, n=name: _paired(r, f"{n}+uvloop@{c}{s}", f"{n}@{c}{s}"),
                "(gain)")
    # -- the emulator's speed
    add("emulator HTTP mode / canned server, raw aiohttp c=32 (requests/s)",
        lambda: _paired(r, "raw-aiohttp@32/emulator", "raw-aiohttp@32/canned"), "(speed)")
    add("emulator HTTP mode / canned server, server CPU per request",
        lambda: ratio(r["raw-aiohttp@32/emulator"]["extra"]["server_us_per_call"],
                      r["raw-aiohttp@32/canned"]["extra"]["server_us_per_call"]), "(cost)")
    out = []
    for label, value, target in rows:
        try:
            out.append((label, value(), target))
        except KeyError:
            continue
    return out


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _ideal(key: str, m: dict[str, Any]) -> str:
    if not key.endswith("/30ms") or m["concurrency"] is None:
        return "-"
    return f"{m['throughput'] / (m['concurrency'] / LATENCY):.2f}"


def markdown(report: dict[str, Any]) -> str:
    results: Results = report["results"]
    lines = ["| ratio | measured | target |", "|---|---|---|"]
    lines += [
        f"| {label} | {'raw did not finish' if value is None else f'{value:.2f}x'} | {target} |"
        for label, value, target in report["ratios"]
    ]
    lines += ["", "| contender @ concurrency | calls/s (MB/s) | share of ideal | p50 ms | "
              "p99 ms | peak RSS MB | 45011 | notes |", "|---|---|---|---|---|---|---|---|"]
    for k, m in results.items():
        flag = " (DNF)" if m["dnf"] else ""
        refused = m["extra"].get("refused")
        share = f"{refused:,} ({refused / max(m['calls'], 1):.0%})" if refused else "-"
        notes = []
        if m["extra"].get("final_limit"):
            notes.append(f"limit {m['extra']['final_limit']} at the end")
        if m["extra"].get("server_us_per_call"):
            notes.append(f"server {m['extra']['server_us_per_call']:.0f} µs CPU/call")
        lines.append(
            f"| {k} | {m['throughput']:,.0f}{flag} | {_ideal(k, m)} | {_ms(m['p50_ms'])} | "
            f"{_ms(m['p99_ms'])} | {m['peak_rss_mb']:.0f} | {share} | {'; '.join(notes)} |")
    pipelines = [m for m in results.values() if m["contender"].startswith("pipeline-")]
    if pipelines:
        lines += ["", "Release pipeline (commit, get_page, submit_audit, get_audit_status, "
                  "release) against the emulator's HTTP mode in a subprocess, all apps gathered "
                  "at once: " + ", ".join(
                      f"{m['contender'].removeprefix('pipeline-')} {m['throughput']:,.0f} "
                      f"releases/s ({m['calls']} apps)" for m in pipelines) + "."]
    cold = report.get("token_cold_start")
    if cold:
        lines += ["", f"Token cold start, {cold['apps']} apps through ComponentTokenProvider: "
                  f"{cold['cold_s']:.2f} s cold, {cold['warm_s']:.2f} s warm; refresh calls "
                  f"{cold['refresh_calls']}."]
    return "\n".join(lines)


def plot(report: dict[str, Any], folder: Path) -> list[Path]:
    """throughput.png (loopback), latency.png (30 ms, share of the ideal) and
    adaptive.png (the adaptive limit over time), for what was run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results: Results = report["results"]
    written: list[Path] = []
    curves: dict[str, dict[str, list[tuple[int, float]]]] = {"": {}, "30ms": {}}
    for k, m in results.items():
        scenario = m.get("scenario", "")
        if scenario not in curves or m["contender"].startswith(("file-", "pipeline-", "token")):
            continue
        x = m["concurrency"] or m["extra"]["gathered"]
        name = k.split("@", 1)[0]
        y = m["throughput"]
        if scenario == "30ms":
            if m["concurrency"] is None:
                continue
            y = y / (m["concurrency"] / LATENCY)
        curves[scenario].setdefault(name, []).append((x, y))
    titles = {"": ("throughput.png", "calls/s", "get_page on a loopback canned server"),
              "30ms": ("latency.png", "throughput / (concurrency / 30 ms)",
                       "get_page, canned server answering after 30 ms ± 10 ms")}
    for scenario, lines in curves.items():
        if not lines:
            continue
        filename, ylabel, title = titles[scenario]
        fig, ax = plt.subplots(figsize=(9, 5.5))
        for name, points in sorted(lines.items()):
            xs, ys = zip(*sorted(points), strict=True)
            ax.plot(xs, ys, marker="o", linestyle="--" if "naive" in name else "-", label=name)
        ax.set_xscale("log")
        ax.set_xlabel("calls in flight (semaphore c), or gathered at once (naive)")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(folder / filename, dpi=110)
        plt.close(fig)
        written.append(folder / filename)
    adaptive = {k: m for k, m in results.items() if m["extra"].get("limits")}
    if adaptive:
        fig, ax = plt.subplots(figsize=(9, 5))
        for k, m in sorted(adaptive.items()):
            limits = m["extra"]["limits"]
            ax.plot([i * 0.1 for i in range(len(limits))], limits, label=k)
        ax.set_xlabel("seconds since the first call")
        ax.set_ylabel("AdaptiveLimit: calls allowed in flight")
        ax.set_yscale("log")
        ax.set_title("The adaptive limit finding the service's knee")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(folder / "adaptive.png", dpi=110)
        plt.close(fig)
        written.append(folder / "adaptive.png")
    return written
