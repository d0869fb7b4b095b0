"""A hostile HTTP/1.1 server for the SDK's bounds, meant to run in its own process:

    python -m tests.support.hostile        # prints its port, then serves until killed

The first path segment picks the behaviour, the second a size in bytes; the rest (the
endpoint path the client appends to its base URL) is ignored, so a client given the
base URL ``http://127.0.0.1:PORT/json-big/200000000`` gets a 200 MB JSON answer on
every endpoint (the component API's included):

``json-big/N`` ``json-endless`` ``json-gzip/N`` (N bytes inflated from a small gzip
body) ``image-big/N`` ``image-endless`` ``image-gzip/N`` ``image-empty`` ``image-204``
``redirect`` (302 with ``errcode: 0``) ``nan`` ``errmsg/N`` ``hang`` (never answers).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

CHUNK = 64 * 1024
_JSON_HEAD = b'{"errcode":0,"errmsg":"ok","page_list":["'
_JPEG = b"\xff\xd8\xff\xe0"


@functools.cache
def gzip_body(size: int, head: bytes) -> bytes:
    """A valid gzip body of ``head`` then zeros, ``size`` bytes inflated, built fast:
    after a full flush the compressor forgets its history, so every MiB of zeros
    compresses to the same bytes, and the body repeats them."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    start = packer.compress(head) + packer.flush(zlib.Z_FULL_FLUSH)
    zeros = bytes(1 << 20)
    block = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    count = max(0, (size - len(head)) // len(zeros))
    crc = zlib.crc32(head)
    for _ in range(count):
        crc = zlib.crc32(zeros, crc)
    total = len(head) + count * len(zeros)
    # An empty final block, then the gzip trailer: CRC-32 and length mod 2**32.
    trailer = b"\x03\x00" + struct.pack("<II", crc, total & 0xFFFFFFFF)
    return start + block * count + trailer


def _filler(total: int | None, head: bytes, fill: bytes = b"a") -> Iterator[bytes]:
    block = fill * CHUNK
    yield head
    sent = len(head)
    while total is None or sent < total:
        piece = block if total is None else block[: min(CHUNK, total - sent)]
        yield piece
        sent += len(piece)


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} Hostile", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _send(writer: asyncio.StreamWriter, status: int, content_type: str,
                chunks: Iterator[bytes], length: int | None, extra: dict[str, str]) -> None:
    headers = {"Content-Type": content_type, **extra}
    if length is None:
        headers["Transfer-Encoding"] = "chunked"
    else:
        headers["Content-Length"] = str(length)
    writer.write(_head(status, headers))
    for chunk in chunks:
        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if length is None else chunk)
        await writer.drain()
    if length is None:
        writer.write(b"0\r\n\r\n")
    await writer.drain()


async def _answer(writer: asyncio.StreamWriter, path: str) -> None:
    parts = path.strip("/").split("/")
    kind = parts[0]
    size = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    json_type, image_type = "application/json", "image/jpeg"
    if kind == "json-big":
        chunks = itertools.chain(_filler(size - 3, _JSON_HEAD), [b'"]}'])
        await _send(writer, 200, json_type, chunks, size, {})
    elif kind == "json-endless":
        await _send(writer, 200, json_type, _filler(None, _JSON_HEAD), None, {})
    elif kind in ("json-gzip", "image-gzip"):
        body = gzip_body(size, _JSON_HEAD if kind == "json-gzip" else _JPEG)
        chunks = (body[i : i + CHUNK] for i in range(0, len(body), CHUNK))
        content_type = json_type if kind == "json-gzip" else image_type
        await _send(writer, 200, content_type, chunks, len(body), {"Content-Encoding": "gzip"})
    elif kind == "image-big":
        await _send(writer, 200, image_type, _filler(size, _JPEG, b"\x00"), size, {})
    elif kind == "image-endless":
        await _send(writer, 200, image_type, _filler(None, _JPEG, b"\x00"), None, {})
    elif kind == "image-empty":
        await _send(writer, 200, image_type, iter(()), 0, {})
    elif kind == "image-204":
        writer.write(_head(204, {}))
    elif kind == "redirect":
        body = b'{"errcode":0,"errmsg":"ok"}'
        await _send(writer, 302, json_type, iter([body]), len(body),
                    {"Location": "http://127.0.0.1:9/elsewhere"})
    elif kind == "nan":
        body = b'{"errcode":0,"errmsg":"ok","page_list":[NaN, Infinity]}'
        await _send(writer, 200, json_type, iter([body]), len(body), {})
    elif kind == "errmsg":
        body = b'{"errcode":85009,"errmsg":"' + b"x" * size + b'"}'
        await _send(writer, 200, json_type, iter([body]), len(body), {})
    else:  # "hang" and anything unknown: never answer
        await asyncio.Event().wait()
    await writer.drain()


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        while True:
            line = await reader.readline()
            if not line.strip():
                break
            target = line.decode("latin-1").split(" ")[1]
            length = 0
            while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = header.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            await reader.readexactly(length)
            await _answer(writer, target.partition("?")[0])
    writer.close()


async def main() -> None:
    server = await asyncio.start_server(_serve, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


@contextlib.contextmanager
def hostile_server() -> Iterator[str]:
    """This server in a child process; yields its base URL and kills it afterwards."""
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.hostile"], cwd=root,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.communicate()


if __name__ == "__main__":
    asyncio.run(main())
