"""Binary answers: bytes, streaming to a path or a file object, failures mid-stream."""

from __future__ import annotations

import asyncio
import hashlib
import io
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.core import (
    APPID,
    JPEG,
    FakeService,
    SleepRecorder,
    failing_chunks,
    lazy_chunks,
    make_client,
)
from wxa_async import WxaApiError, WxaDecodeError, WxaSystemBusyError, WxaTransportError
from wxa_async.testing import BytesResponse, HttpRequest

MiB = 1 << 20


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> SleepRecorder:
    return SleepRecorder().install(monkeypatch)


def streamed(body: bytes, chunk: int = 1000) -> BytesResponse:
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)]
    return BytesResponse(200, {"Content-Type": "image/jpeg"}, chunks=iter(pieces))


def broken(good: bytes) -> BytesResponse:
    # Part of the image arrives, then the connection drops.
    error = WxaTransportError("connection failed (RemoteProtocolError)")
    return BytesResponse(
        200, {"Content-Type": "image/jpeg"}, chunks=failing_chunks([good], error)
    )


async def test_awaiting_get_qrcode_returns_the_bytes() -> None:
    service = FakeService().reply(streamed(JPEG))
    async with make_client(service) as client:
        body = await client.app(APPID).get_qrcode(path="page/index?action=1")
    assert body == JPEG and isinstance(body, bytes)


async def test_to_file_at_a_path_returns_the_bytes_written(tmp_path: Path) -> None:
    service = FakeService().reply(streamed(JPEG))
    dest = tmp_path / "qr.jpg"
    async with make_client(service) as client:
        written = await client.app(APPID).get_qrcode.to_file(dest, path="page/index")
    assert written == len(JPEG)
    assert dest.read_bytes() == JPEG
    assert [p.name for p in tmp_path.iterdir()] == ["qr.jpg"]  # no temp file left
    assert service.requests[0].params["path"] == "page/index"


async def test_to_file_at_a_str_path_replaces_an_old_file(tmp_path: Path) -> None:
    dest = tmp_path / "qr.jpg"
    dest.write_bytes(b"old content that is longer than nothing")
    service = FakeService().reply(b"\xff\xd8new")
    async with make_client(service) as client:
        written = await client.app(APPID).get_qrcode.to_file(str(dest))
    assert (written, dest.read_bytes()) == (5, b"\xff\xd8new")


async def test_to_file_object_writes_after_what_is_already_there() -> None:
    out = io.BytesIO()
    out.write(b"HEADER")
    service = FakeService().reply(streamed(JPEG, chunk=7))
    async with make_client(service) as client:
        written = await client.app(APPID).get_qrcode.to_file(out)
    assert written == len(JPEG)
    assert out.getvalue() == b"HEADER" + JPEG
    assert not out.closed  # the caller's file stays the caller's


async def test_a_48_mib_body_streams_in_little_memory(tmp_path: Path) -> None:
    total = 48 * MiB
    expected = hashlib.sha256()
    for chunk in lazy_chunks(total):
        expected.update(chunk)

    service = FakeService().reply(
        BytesResponse(200, {"Content-Type": "image/jpeg"}, chunks=lazy_chunks(total))
    )
    dest = tmp_path / "big.jpg"
    async with make_client(service) as client:
        tracemalloc.start()
        try:
            written = await client.app(APPID).get_qrcode.to_file(dest)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert written == total == dest.stat().st_size
    actual = hashlib.sha256()
    with dest.open("rb") as f:
        while block := f.read(MiB):
            actual.update(block)
    assert actual.digest() == expected.digest()
    assert peak < 2 * MiB, f"peak Python memory {peak / MiB:.2f} MiB"


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json; encoding=utf-8"},
        {"Content-Type": "text/plain"},
        {"Content-Type": "image/jpeg"},  # mislabelled: the body itself is JSON
        {},
    ],
    ids=["json", "text", "mislabelled", "unlabelled"],
)
async def test_a_json_error_instead_of_an_image_raises_api_error(
    headers: dict[str, str], tmp_path: Path
) -> None:
    error = b'{"errcode": 85012, "errmsg": "invalid audit id"}'
    service = FakeService().reply(*[BytesResponse(200, headers, error) for _ in range(3)])
    dest = tmp_path / "qr.jpg"
    out = io.BytesIO()
    async with make_client(service) as client:
        app = client.app(APPID)
        for attempt in (app.get_qrcode(), app.get_qrcode.to_file(dest),
                        app.get_qrcode.to_file(out)):
            with pytest.raises(WxaApiError) as caught:
                await attempt
            assert caught.value.errcode == 85012 and caught.value.endpoint == "get_qrcode"
    assert list(tmp_path.iterdir()) == []
    assert out.getvalue() == b""


async def test_json_without_errcode_instead_of_an_image_is_a_decode_error() -> None:
    service = FakeService().reply(
        BytesResponse(200, {"Content-Type": "application/json"}, b'{"errcode": 0}')
    )
    async with make_client(service) as client:
        with pytest.raises(WxaDecodeError):
            await client.app(APPID).get_qrcode()


async def test_an_endless_json_error_body_is_not_buffered_forever() -> None:
    def endless() -> AsyncIterator[bytes]:
        async def gen() -> AsyncIterator[bytes]:
            yield b'{"errcode": -1, "errmsg": "'
            while True:
                yield b"x" * 65536

        return gen()

    service = FakeService().reply(
        BytesResponse(200, {"Content-Type": "application/json"}, chunks=endless())
    )
    async with make_client(service, max_retries=0) as client:
        with pytest.raises(WxaDecodeError, match="larger"):
            await client.app(APPID).get_qrcode()


async def test_system_busy_json_on_get_qrcode_is_retried(sleeps: SleepRecorder) -> None:
    busy = {"errcode": -1, "errmsg": "system error"}
    service = FakeService().reply(busy, busy, JPEG)
    async with make_client(service) as client:
        assert await client.app(APPID).get_qrcode() == JPEG
    assert len(service.requests) == 3


async def test_a_failure_mid_stream_leaves_no_file_at_a_path(
    tmp_path: Path, sleeps: SleepRecorder
) -> None:
    dest = tmp_path / "qr.jpg"
    service = FakeService().reply(*[broken(JPEG[:100]) for _ in range(4)])
    async with make_client(service) as client:
        with pytest.raises(WxaTransportError):
            await client.app(APPID).get_qrcode.to_file(dest)
    assert len(service.requests) == 4
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary one


async def test_a_failure_keeps_an_existing_file_intact(
    tmp_path: Path, sleeps: SleepRecorder
) -> None:
    dest = tmp_path / "qr.jpg"
    dest.write_bytes(b"previous image")
    service = FakeService().reply(broken(JPEG[:100]))
    async with make_client(service, max_retries=0) as client:
        with pytest.raises(WxaTransportError):
            await client.app(APPID).get_qrcode.to_file(dest)
    assert dest.read_bytes() == b"previous image"
    assert [p.name for p in tmp_path.iterdir()] == ["qr.jpg"]


async def test_http_error_leaves_no_file(tmp_path: Path) -> None:
    service = FakeService().reply(BytesResponse(500, {}, b"oops"))
    async with make_client(service, max_retries=0) as client:
        with pytest.raises(WxaTransportError) as caught:
            await client.app(APPID).get_qrcode.to_file(tmp_path / "qr.jpg")
    assert caught.value.status_code == 500
    assert list(tmp_path.iterdir()) == []


async def test_a_retry_after_a_failure_restarts_the_file_cleanly(
    tmp_path: Path, sleeps: SleepRecorder
) -> None:
    first = b"\xff\xd8" + b"A" * 5000  # longer than the good answer: truncation matters
    good = b"\xff\xd8" + b"B" * 300
    service = FakeService().reply(broken(first), streamed(good, chunk=64))
    dest = tmp_path / "qr.jpg"
    async with make_client(service) as client:
        written = await client.app(APPID).get_qrcode.to_file(dest)
    assert (written, dest.read_bytes()) == (len(good), good)
    assert len(service.requests) == 2


async def test_a_retry_restarts_a_seekable_file_object_at_its_start(
    sleeps: SleepRecorder,
) -> None:
    first = b"\xff\xd8" + b"A" * 5000
    good = b"\xff\xd8" + b"B" * 300
    service = FakeService().reply(broken(first), good)
    out = io.BytesIO(b"KEEP")
    out.seek(4)
    async with make_client(service) as client:
        written = await client.app(APPID).get_qrcode.to_file(out)
    assert written == len(good)
    assert out.getvalue() == b"KEEP" + good


class Unseekable(io.RawIOBase):
    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.data += b
        return len(b)


async def test_an_unseekable_file_object_is_not_retried_after_bytes_were_written(
    sleeps: SleepRecorder,
) -> None:
    service = FakeService().reply(broken(b"\xff\xd8partial"), JPEG)
    out = Unseekable()
    async with make_client(service) as client:
        with pytest.raises(WxaTransportError):
            await client.app(APPID).get_qrcode.to_file(out)  # type: ignore[arg-type]
    assert len(service.requests) == 1  # a retry would append to what was written


async def test_an_unseekable_file_object_is_retried_when_nothing_was_written(
    sleeps: SleepRecorder,
) -> None:
    busy = {"errcode": -1, "errmsg": "system error"}
    service = FakeService().reply(busy, JPEG)
    out = Unseekable()
    async with make_client(service) as client:
        written = await client.app(APPID).get_qrcode.to_file(out)  # type: ignore[arg-type]
    assert (written, bytes(out.data)) == (len(JPEG), JPEG)


async def test_cancelled_download_leaves_no_file(tmp_path: Path) -> None:
    started = asyncio.Event()

    async def slow_chunks() -> AsyncIterator[bytes]:
        yield b"\xff\xd8" + b"x" * 1000
        started.set()
        await asyncio.Event().wait()
        yield b""

    async def answer(_: HttpRequest) -> BytesResponse:
        return BytesResponse(200, {"Content-Type": "image/jpeg"}, chunks=slow_chunks())

    service = FakeService().reply(answer, JPEG)
    dest = tmp_path / "qr.jpg"
    async with make_client(service, max_concurrency=1) as client:
        task = asyncio.create_task(client.app(APPID).get_qrcode.to_file(dest))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert list(tmp_path.iterdir()) == []
        # The client is still usable afterwards.
        assert await client.app(APPID).get_qrcode.to_file(dest) == len(JPEG)
    assert dest.read_bytes() == JPEG


async def test_mid_stream_failure_of_get_qrcode_bytes_is_retried(
    sleeps: SleepRecorder,
) -> None:
    service = FakeService().reply(broken(b"\xff\xd8AAAA"), JPEG)
    async with make_client(service) as client:
        assert await client.app(APPID).get_qrcode() == JPEG


async def test_busy_on_get_qrcode_exhausts_retries() -> None:
    busy = {"errcode": -1, "errmsg": "system error"}
    service = FakeService().reply(*[busy] * 5)
    async with make_client(service, max_retries=1) as client:
        with pytest.raises(WxaSystemBusyError):
            await client.app(APPID).get_qrcode()
    assert len(service.requests) == 2



async def test_to_file_gets_the_umask_mode_not_the_temp_files(tmp_path: Path) -> None:
    import os
    import stat

    service = FakeService().reply(streamed(JPEG))
    dest = tmp_path / "qr.jpg"
    async with make_client(service) as client:
        await client.app(APPID).get_qrcode.to_file(dest)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o666 & ~umask


async def test_to_file_into_a_missing_folder_is_a_wxa_error(tmp_path: Path) -> None:
    from wxa_async import WxaError

    service = FakeService().reply(streamed(JPEG))
    async with make_client(service) as client:
        with pytest.raises(WxaError, match="cannot write"):
            await client.app(APPID).get_qrcode.to_file(tmp_path / "nope" / "qr.jpg")
    assert service.requests == []  # failed before anything was sent
