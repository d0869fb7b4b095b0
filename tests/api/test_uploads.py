"""Uploads (``upload_media``, ``upload_privacy_ext_file``): what is checked before sending,
the multipart body byte for byte on both transports over real loopback HTTP, and a
10 MB video streamed from disk with flat memory."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import os
import re
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.common import refused
from tests.support.core import APPID, TOKEN, FakeService, LoopbackServer, make_client, serve_json
from wxa_async import StaticTokenProvider, WxaClient, WxaTransportError
from wxa_async.transports import AiohttpTransport, HttpxTransport, Transport

MB = 1024 * 1024
MEDIA_ANSWER = {"errcode": 0, "errmsg": "ok", "type": "image", "mediaid": "MEDIA_ID"}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


def transport(kind: str) -> Transport:
    return HttpxTransport() if kind == "httpx" else AiohttpTransport()


@contextlib.asynccontextmanager
async def loopback(kind: str, answer: Any = MEDIA_ANSWER) -> AsyncIterator[
    tuple[LoopbackServer, WxaClient]
]:
    server = await LoopbackServer().start()
    for path in ("/wxa/uploadmedia", "/cgi-bin/component/uploadprivacyextfile"):
        server.routes[path] = serve_json(answer)
    wire = transport(kind)
    try:
        async with WxaClient(StaticTokenProvider({APPID: TOKEN}), base_url=server.url,
                             transport=wire) as client:
            yield server, client
    finally:
        await wire.aclose()
        await server.stop()


def expected_body(boundary: str, field: str, filename: str, content_type: str,
                  data: bytes) -> bytes:
    # RFC 7578, written out here independently of the SDK.
    return (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()


def boundary_of(headers: dict[str, str]) -> str:
    match = re.fullmatch(r"multipart/form-data; boundary=([\w-]{1,70})", headers["content-type"])
    assert match, headers["content-type"]
    return match.group(1)


# -- byte for byte on both transports ----------------------------------------------------


@pytest.mark.parametrize("kind", ["httpx", "aiohttp"])
@pytest.mark.parametrize("given", ["path", "bytes", "file"])
async def test_upload_media_body_byte_for_byte(kind: str, given: str, tmp_path: Path) -> None:
    path = tmp_path / "shot.png"
    path.write_bytes(PNG)
    async with loopback(kind) as (server, client):
        app = client.app(APPID)
        if given == "path":
            result = await app.upload_media(path)
        elif given == "bytes":
            result = await app.upload_media(PNG, filename="shot.png")
        else:
            with path.open("rb") as file:
                result = await app.upload_media(file)
                assert not file.closed  # the caller's file stays the caller's
    assert (result.type, result.mediaid) == ("image", "MEDIA_ID")
    (request,) = server.requests
    assert request.method == "POST" and request.path == "/wxa/uploadmedia"
    assert request.query == {"access_token": [TOKEN]}
    boundary = boundary_of(request.headers)
    assert request.body == expected_body(boundary, "media", "shot.png", "image/png", PNG)
    assert request.headers["content-length"] == str(len(request.body))
    assert "transfer-encoding" not in request.headers  # a known length, never chunked


@pytest.mark.parametrize("kind", ["httpx", "aiohttp"])
async def test_privacy_ext_file_body_byte_for_byte(kind: str) -> None:
    text = "用户隐私保护补充说明\n".encode() * 10
    answer = {"errcode": 0, "errmsg": "ok", "ext_file_media_id": "EXT_ID"}
    async with loopback(kind, answer) as (server, client):
        result = await client.app(APPID).upload_privacy_ext_file(
            io.BytesIO(text), filename='补充 "说明".txt')
    assert result.ext_file_media_id == "EXT_ID"
    (request,) = server.requests
    assert request.path == "/cgi-bin/component/uploadprivacyextfile"
    boundary = boundary_of(request.headers)
    # Quotes percent-encoded as browsers do; other text as UTF-8.
    assert request.body == expected_body(boundary, "file", '补充 %22说明%22.txt',
                                         "text/plain", text)


async def test_a_file_object_is_sent_from_its_position() -> None:
    service = FakeService().reply(MEDIA_ANSWER)
    file = io.BytesIO(b"HEADER" + PNG)
    file.seek(6)
    async with make_client(service) as client:
        await client.app(APPID).upload_media(file, filename="a.png")
    content = service.requests[0].content
    body = b"".join([chunk async for chunk in content])  # type: ignore[union-attr]
    assert PNG in body and b"HEADER" not in body


# -- checked before sending -----------------------------------------------------------------


def sparse(tmp_path: Path, name: str, size: int) -> Path:
    path = tmp_path / name
    with path.open("wb") as file:
        file.truncate(size)  # no 10 MB written: a sparse file
    return path


@pytest.mark.parametrize(
    ("name", "size"),
    [("a.png", 2 * MB), ("b.JPG", 2 * MB), ("c.jpeg", 1), ("d.gif", 2 * MB),
     ("e.mp4", 10 * MB)],
)
async def test_largest_accepted_media(name: str, size: int, tmp_path: Path) -> None:
    service = FakeService().reply(MEDIA_ANSWER)
    async with make_client(service) as client:
        await client.app(APPID).upload_media(sparse(tmp_path, name, size))
    headers = service.requests[0].headers
    assert int(headers["Content-Length"]) > size


@pytest.mark.parametrize(
    ("name", "size", "errcode"),
    [("a.png", 2 * MB + 1, 40006), ("d.gif", 2 * MB + 1, 40006), ("e.mp4", 10 * MB + 1, 40006),
     ("f.bmp", 10, 40005), ("g.mov", 10, 40005), ("noext", 10, 40005), ("h.png", 0, 40006)],
)
async def test_media_over_its_limit_or_of_another_kind_is_refused(
    name: str, size: int, errcode: int, tmp_path: Path
) -> None:
    error = await refused("upload_media", sparse(tmp_path, name, size))
    assert error.errcode == errcode and error.field == "media"


async def test_the_filename_decides_the_kind_of_bytes_and_file_objects() -> None:
    assert "filename" in str(await refused("upload_media", PNG))
    assert "filename" in str(await refused("upload_media", io.BytesIO(PNG)))
    assert (await refused("upload_media", PNG, filename="x.exe")).errcode == 40005
    await refused("upload_media", PNG, filename="")


async def test_what_is_not_a_readable_binary_file_is_refused(tmp_path: Path) -> None:
    await refused("upload_media", tmp_path / "missing.png")
    await refused("upload_media", tmp_path)  # a directory
    await refused("upload_media", "just text", filename="a.png")
    await refused("upload_media", 42, filename="a.png")
    text_file = tmp_path / "t.png"
    text_file.write_text("not binary")
    with text_file.open("r") as opened:
        assert "binary" in str(await refused("upload_media", opened))
    closed = io.BytesIO(PNG)
    closed.close()
    await refused("upload_media", closed, filename="a.png")
    read, write = os.pipe()
    with os.fdopen(read, "rb") as pipe, os.fdopen(write, "wb"):
        assert "seekable" in str(await refused("upload_media", pipe, filename="a.png"))


async def test_privacy_ext_file_is_text_of_at_most_100_kb(tmp_path: Path) -> None:
    service = FakeService().reply({"errcode": 0, "errmsg": "ok", "ext_file_media_id": "x"})
    async with make_client(service) as client:
        await client.app(APPID).upload_privacy_ext_file(sparse(tmp_path, "ok.txt", 100 * 1024))
    too_big = await refused("upload_privacy_ext_file",
                                   sparse(tmp_path, "big.txt", 100 * 1024 + 1))
    assert too_big.errcode == 87072 and too_big.field == "file"
    assert (await refused("upload_privacy_ext_file", b"x", filename="a.pdf")).errcode \
        == 87072


async def test_a_file_that_shrinks_after_the_check_is_a_transport_error(tmp_path: Path) -> None:
    path = tmp_path / "shot.png"
    path.write_bytes(PNG)

    async def shrink_then_send(request: Any) -> Any:
        path.write_bytes(PNG[:10])  # truncated between the check and the send
        return [chunk async for chunk in request.content]

    service = FakeService().reply(shrink_then_send)
    async with make_client(service) as client:
        with pytest.raises(WxaTransportError) as caught:
            await client.app(APPID).upload_media(path)
    assert "short" in str(caught.value) and caught.value.request_sent


async def test_uploads_are_never_retried_once_sent() -> None:
    busy = {"errcode": -1, "errmsg": "system error"}
    service = FakeService().reply(busy, MEDIA_ANSWER)
    async with make_client(service, max_retries=5) as client:
        with pytest.raises(Exception) as caught:
            await client.app(APPID).upload_media(PNG, filename="a.png")
    assert type(caught.value).__name__ == "WxaSystemBusyError"
    assert len(service.requests) == 1


# -- a 10 MB video with flat memory -----------------------------------------------------------


class DiscardServer:
    """Reads one request's body in chunks, keeping only its hash, length and ends."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.length = 0
        self.head = b""
        self.tail = b""
        self.headers: dict[str, str] = {}

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            self.headers[name.strip().lower()] = value.strip()
        left = int(self.headers["content-length"])
        while left:
            chunk = await reader.read(min(left, 65536))
            if not chunk:
                break
            if len(self.head) < 300:
                self.head += chunk[: 300 - len(self.head)]
            self.tail = (self.tail + chunk)[-200:]
            self.digest.update(chunk)
            self.length += len(chunk)
            left -= len(chunk)
        body = json.dumps({"errcode": 0, "errmsg": "ok", "type": "video",
                           "mediaid": "VIDEO"}).encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()


@pytest.mark.parametrize("kind", ["httpx", "aiohttp"])
async def test_a_10_mb_video_streams_from_disk_with_flat_memory(kind: str, tmp_path: Path) -> None:
    video = tmp_path / "demo.mp4"
    block = os.urandom(MB)
    with video.open("wb") as file:
        for _ in range(10):
            file.write(block)
    file_digest = hashlib.sha256(block * 10).digest()
    discard = DiscardServer()
    server = await asyncio.start_server(discard.serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    wire = transport(kind)
    try:
        async with WxaClient(StaticTokenProvider({APPID: TOKEN}), base_url=url,
                             transport=wire) as client:
            app = client.app(APPID)
            tracemalloc.start()
            try:
                result = await app.upload_media(video)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    finally:
        await wire.aclose()
        server.close()
        await server.wait_closed()
    assert result.mediaid == "VIDEO"
    # Generous: a few chunks of 256 KiB in flight, never the 10 MB file.
    assert peak < 4 * MB, f"peak {peak / MB:.1f} MiB while uploading 10 MiB"
    boundary = boundary_of(discard.headers)
    head = expected_body(boundary, "media", "demo.mp4", "video/mp4", b"")
    head, tail = head[: head.index(b"\r\n\r\n") + 4], f"\r\n--{boundary}--\r\n".encode()
    assert discard.length == len(head) + 10 * MB + len(tail)
    assert discard.head.startswith(head) and discard.tail.endswith(tail)
    assert int(discard.headers["content-length"]) == discard.length
    # The payload in between is the file, every byte: hash it the same way.
    expected = hashlib.sha256(head + block * 10 + tail).digest()
    assert discard.digest.digest() == expected and file_digest
