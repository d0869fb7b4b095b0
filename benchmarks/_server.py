"""The canned server the benchmark runs against: a bare asyncio HTTP/1.1 protocol.

It answers from constants without parsing more than the request line and the headers,
so one core of it outruns any client under test (aiohttp.web is ~3x slower per request
and would be the bottleneck). Keep-alive only; no chunked request bodies.

Routes (any prefix before them is ignored, so ``/anything/wxa/get_page`` works too):

* ``/wxa/get_page``: a canned JSON answer;
* ``/wxa/get_qrcode?size=N``: N bytes of ``image/jpeg``, written in 256 KiB chunks with
  flow control, so the server's memory stays flat;
* ``/cgi-bin/component/api_component_token`` and ``.../api_authorizer_token``: token
  answers for the component token provider's cold start.

Run: ``python benchmarks/_server.py PORT``; it prints ``ready`` once listening.
"""

from __future__ import annotations

import asyncio
import itertools
import sys

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
    def __init__(self) -> None:
        self.buffer = b""
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

    def answer(self, target: bytes) -> None:
        assert self.transport is not None
        path, _, query = target.partition(b"?")
        if path.endswith(b"/wxa/get_page"):
            self.transport.write(PAGE_RESPONSE)
        elif path.endswith(b"/wxa/get_qrcode"):
            self.streaming = asyncio.get_running_loop().create_task(
                self.stream(_size(path, query))
            )
        elif path.endswith(b"/api_component_token"):
            self.transport.write(COMPONENT_RESPONSE)
        elif path.endswith(b"/api_authorizer_token"):
            body = b'{"authorizer_access_token":"bench-token-%d","expires_in":7200}' % next(
                ISSUED
            )
            self.transport.write(_response(body))
        else:
            self.transport.write(NOT_FOUND)

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


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
