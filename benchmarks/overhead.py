"""Per-call overhead of WxaClient itself: N calls through the client on a transport that
answers at once from memory (no sockets), so what is timed is the SDK's own work:
validation, encoding, the pacing gate, the token lookup, the deadline, decoding.

    python benchmarks/overhead.py [--calls 20000] [--rounds 5] [--concurrency 1]

Prints the median and the best CPU microseconds per call of each kind over the rounds (on a
shared machine the best round is the steadier figure).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from wxa_async import StaticTokenProvider, WxaClient
from wxa_async.testing import BytesResponse, HttpRequest, MockTransport

APPID = "wxOVERHEAD"
_PAGE = json.dumps({"errcode": 0, "errmsg": "ok", "page_list": ["index", "a/b"]}).encode()
_OK = json.dumps({"errcode": 0, "errmsg": "ok", "auditid": 1}).encode()
_JPEG = b"\xff\xd8\xff" + bytes(4096)
_JSON = {"Content-Type": "application/json"}
_IMAGE = {"Content-Type": "image/jpeg"}


async def _answer(request: HttpRequest) -> BytesResponse:
    if request.url.endswith("get_qrcode"):
        return BytesResponse(200, _IMAGE, _JPEG)
    return BytesResponse(200, _JSON, _PAGE if request.method == "GET" else _OK)


class _Transport(MockTransport):
    async def send(self, request: HttpRequest) -> BytesResponse:  # no request log
        return await _answer(request)


async def _round(kind: str, calls: int, concurrency: int) -> float:
    client = WxaClient(StaticTokenProvider({APPID: "TOKEN"}), transport=_Transport(_answer))
    app = client.app(APPID)
    if kind == "get_page":
        call = app.get_page
    elif kind == "submit_audit":
        def call() -> object:
            return app.submit_audit([{"address": "index", "tag": "a", "title": "t"}])
    else:
        call = app.get_qrcode

    async def worker(n: int) -> None:
        for _ in range(n):
            await call()

    started = time.process_time()  # CPU time: steadier than wall time on a busy machine
    share = calls // concurrency
    await asyncio.gather(*(worker(share) for _ in range(concurrency)))
    elapsed = time.process_time() - started
    await client.aclose()
    return elapsed / (share * concurrency) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    for kind in ("get_page", "submit_audit", "get_qrcode"):
        figures = [
            asyncio.run(_round(kind, args.calls, args.concurrency)) for _ in range(args.rounds)
        ]
        print(f"{kind:<14} median {statistics.median(figures):6.1f} us/call, "
              f"best {min(figures):6.1f} "
              f"(rounds: {', '.join(f'{f:.1f}' for f in figures)})")


if __name__ == "__main__":
    main()
