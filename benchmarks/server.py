"""The servers the benchmark runs against, each in a subprocess of its own.

The canned server is a bare asyncio HTTP/1.1 protocol.

It answers from constants without parsing more than the request line and the headers,
so one core of it outruns any client under test (aiohttp.web is ~3x slower per request
and would be the bottleneck). Keep-alive only; no chunked request bodies.

Routes (any prefix before them is ignored, so ``/anything/wxa/get_page`` works too):

* ``/wxa/get_page``: a canned JSON answer;
* ``/wxa/get_qrcode?size=N``: N bytes of ``image/jpeg``, written in 256 KiB chunks with
  flow control, so the server's memory stays flat;
* ``/cgi-bin/component/api_component_token`` and ``.../api_authorizer_token``: token
  answers for the component token provider's cold start.

With ``--latency S --jitter J`` every JSON answer is written ``S`` ± ``J`` seconds
after its request arrived (uniform, drawn per request): WeChat's round trip, on
loopback. Answers on one connection keep their order.

Run: ``python benchmarks/server.py PORT [--latency 0.03 --jitter 0.01]``; it prints
``ready`` once listening. :func:`canned_server` and :func:`emulator_server` start
them from the benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

PAGE = b'{"errcode":0,"errmsg":"ok","page_list":["pages/index/index","pages/detail/detail"]}'
COMPONENT = b'{"component_access_token":"bench-component-token","expires_in":7200}'
CHUNK = bytes(range(256)) * 1024  # 256 KiB of QR "image"


def _response(body: bytes, content_type: bytes = b"application/json") -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type
        + b"\r\nContent-Length: " + str(len(body)).encode()
        + b"\r\nConnection: keep-alive\r\n\r\n" + body
    )


PAGE_RESPONSE = _response(PAGE)
COMPONENT_RESPONSE = _response(COMPONENT)
ISSUED = itertools.count(1)
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


def _size(path: bytes, query: bytes) -> int:
    """The body size: ``?size=N``, or a ``/sizeN/`` path segment (the SDK's prefix)."""
    for part in query.split(b"&"):
        if part.startswith(b"size="):
            return int(part[5:])
    for segment in path.split(b"/"):
        if segment.startswith(b"size") and segment[4:].isdigit():
            return int(segment[4:])
    return 1 << 20


class CannedHttp(asyncio.Protocol):
    latency = 0.0
    jitter = 0.0

    def __init__(self) -> None:
        self.buffer = b""
        self.due = 0.0  # when this connection's last delayed answer is written
        self.transport: asyncio.Transport | None = None
        self.streaming: asyncio.Task[None] | None = None
        self.can_write = asyncio.Event()
        self.can_write.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self.streaming is not None:
            self.streaming.cancel()

    def pause_writing(self) -> None:
        self.can_write.clear()

    def resume_writing(self) -> None:
        self.can_write.set()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.streaming is None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            marker = head.lower().find(b"content-length:")
            if marker >= 0:
                line_end = head.find(b"\r\n", marker)
                length = int(head[marker + 15 : line_end if line_end >= 0 else None])
            if len(self.buffer) < end + 4 + length:
                return  # the body is still coming
            self.buffer = self.buffer[end + 4 + length :]
            self.answer(head[: head.find(b" HTTP/")].split(b" ", 1)[1])

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        if not self.latency:
            self.transport.write(data)
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + self.latency + random.uniform(-self.jitter, self.jitter)
        self.due = max(due, self.due)  # never overtake the answer before
        loop.call_at(self.due, self._write_late, data)

    def _write_late(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def answer(self, target: bytes) -> None:
        assert self.transport is not None
        path, _, query = target.partition(b"?")
        if path.endswith(b"/wxa/get_page"):
            self.write(PAGE_RESPONSE)
        elif path.endswith(b"/wxa/get_qrcode"):
            self.streaming = asyncio.get_running_loop().create_task(
                self.stream(_size(path, query))
            )
        elif path.endswith(b"/api_component_token"):
            self.write(COMPONENT_RESPONSE)
        elif path.endswith(b"/api_authorizer_token"):
            body = b'{"authorizer_access_token":"bench-token-%d","expires_in":7200}' % next(
                ISSUED
            )
            self.write(_response(body))
        else:
            self.write(NOT_FOUND)

    async def stream(self, size: int) -> None:
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: "
            + str(size).encode() + b"\r\nConnection: keep-alive\r\n\r\n"
        )
        view = memoryview(CHUNK)
        while size > 0:
            await self.can_write.wait()
            n = min(size, len(CHUNK))
            self.transport.write(view[:n])
            size -= n
        self.streaming = None
        if self.buffer:  # a pipelined request arrived meanwhile
            self.data_received(b"")


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(CannedHttp, "127.0.0.1", port, backlog=4096)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


# -- started from the benchmark ------------------------------------------------------------


#: base URL -> the pid of the server process behind it (for its CPU time).
PIDS: dict[str, int] = {}


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` so far (Linux), else None."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def canned_server(latency: float = 0.0, jitter: float = 0.0) -> Iterator[str]:
    """The canned server in a subprocess; yields its base URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, str(port), "--latency", str(latency), "--jitter", str(jitter)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        PIDS[url := f"http://127.0.0.1:{port}"] = proc.pid
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def emulator_server(apps: int, *options: str) -> Iterator[str]:
    """The emulator's HTTP mode (uvicorn) in a subprocess, with ``apps`` mini programs
    authorized and audits passing at once; ``options``: more command-line flags."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "wxa_async.testing.emulator", "--port", "0", "--apps", str(apps),
         "--audit-delay", "0", "--seed", "1", *options],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"the emulator did not start: {line!r}")
        PIDS[url := line.split("listening on", 1)[1].strip()] = proc.pid
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--jitter", type=float, default=0.0)
    args = parser.parse_args()
    CannedHttp.latency, CannedHttp.jitter = args.latency, args.jitter
    asyncio.run(serve(args.port))
