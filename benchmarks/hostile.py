"""Peak memory and time of the SDK against hostile answers (tests/support/hostile.py).

    python benchmarks/hostile.py [--checkout PATH] [--cap 10]

Each case runs in a fresh child process whose working directory is ``--checkout`` (so
``import wxa_async`` is that tree's: compare two checkouts), with its address space
capped at 4 GiB, files at 2 GiB and wall time at ``--cap`` seconds. Prints one line per
case: outcome, seconds, peak RSS of the child.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GiB = 1 << 30
# name -> (server path, call)
CASES = {
    "json 200 MB": ("json-big/200000000", "get_page"),
    "json endless": ("json-endless", "get_page"),
    "json gzip -> 1 GiB": (f"json-gzip/{GiB}", "get_page"),
    "component token gzip -> 1 GiB": (f"json-gzip/{GiB}", "component"),
    "qrcode bytes 1 GiB": (f"image-big/{GiB}", "get_qrcode"),
    "qrcode to_file endless": ("image-endless", "to_file"),
    "qrcode to_file gzip -> 1 GiB": (f"image-gzip/{GiB}", "to_file"),
    "qrcode empty": ("image-empty", "get_qrcode"),
    "qrcode 204": ("image-204", "get_qrcode"),
    "read limit alone, no answer": ("hang", "read_only"),
    "302 with errcode 0": ("redirect", "release"),
    "NaN in an answer": ("nan", "get_page"),
    "50 MB errmsg": ("errmsg/50000000", "get_page"),
}

_CHILD = r'''
import asyncio, json, sys, time
case, base, kind, out = sys.argv[1:5]
from wxa_async import StaticTokenProvider, Timeout, WxaClient, ComponentTokenProvider
if kind == "httpx":
    from wxa_async.transports import HttpxTransport as T
else:
    from wxa_async.transports import AiohttpTransport as T

async def main():
    timeout = (Timeout(connect=None, read=2, total=None) if case == "read_only"
               else Timeout(5, 15, 60))
    if case == "component":
        async with ComponentTokenProvider("wxc", "s", "t", {"wxa": "r"}, base_url=base,
                                          transport=T()) as provider:
            return await provider.get_token("wxa")
    async with WxaClient(StaticTokenProvider({"wxa": "TOKEN"}), base, T(),
                         timeout=timeout, max_retries=0) as client:
        app = client.app("wxa")
        if case == "to_file":
            return await app.get_qrcode.to_file(out)
        if case == "read_only":
            return await app.get_page()
        return await getattr(app, case)()

started = time.perf_counter()
try:
    result = asyncio.run(main())
    outcome = f"returned {type(result).__name__}" + (
        f" of {len(result)} bytes" if isinstance(result, bytes) else "")
except BaseException as exc:
    text = str(exc)
    outcome = f"{type(exc).__name__}: {text[:90]}" + (
        f"... ({len(text)} chars)" if len(text) > 90 else "")
print(json.dumps({"outcome": outcome, "seconds": time.perf_counter() - started}))
'''


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (4 * GiB, 4 * GiB))
    resource.setrlimit(resource.RLIMIT_FSIZE, (2 * GiB, 2 * GiB))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def run_case(checkout: Path, base: str, name: str, kind: str, cap: float) -> str:
    path, call = CASES[name]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "qr.jpg")
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, call, f"{base}/{path}", kind, out],
            cwd=checkout, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            preexec_fn=_limits, env={**os.environ, "PYTHONPATH": str(checkout)},
        )
        killed = False
        size = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > cap:
                size = sum(os.path.getsize(os.path.join(tmp, p)) for p in os.listdir(tmp))
                proc.kill()
                killed = True
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        peak = usage.ru_maxrss / 1024
        stdout = proc.stdout.read() if proc.stdout else ""
        if killed:
            outcome = f"still running at {cap:.0f} s (killed); {size / 2**20:.0f} MiB on disk"
        else:
            try:
                report = json.loads(stdout.strip().splitlines()[-1])
                outcome, seconds = report["outcome"], report["seconds"]
            except (ValueError, IndexError):
                outcome = f"died (exit {proc.returncode})"
        left = os.listdir(tmp)
    return f"{name:<32} {kind:<8} {seconds:6.1f} s {peak:8.0f} MiB  {outcome}" + (
        f"  [left on disk: {left}]" if left and not killed else "")


def main() -> None:
    from tests.support.hostile import hostile_server

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, default=ROOT)
    parser.add_argument("--cap", type=float, default=10.0)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    with hostile_server() as base:
        for name in CASES:
            if args.only and args.only not in name:
                continue
            for kind in ("httpx", "aiohttp"):
                print(run_case(args.checkout, base, name, kind, args.cap), flush=True)


if __name__ == "__main__":
    main()
