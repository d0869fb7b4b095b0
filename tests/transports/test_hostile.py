"""Hostile answers from a server in its own process on loopback, on both transports:
every body is bounded (counted decompressed, as it arrives), every limit honoured.

Memory is measured with tracemalloc around each call and bounded generously: the point
is "megabytes, not gigabytes"."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.support.hostile import hostile_server
from tests.support.soak import make_transport
from wxa_async import (
    ComponentTokenProvider,
    StaticTokenProvider,
    Timeout,
    WxaApiError,
    WxaClient,
    WxaDecodeError,
    WxaResponseTooLargeError,
    WxaTimeoutError,
    WxaTransportError,
    WxaValidationError,
)
from wxa_async.transports import HttpRequest

T = TypeVar("T")
APPID = "wxHOSTILE"
TOKEN = "HOSTILE-TOKEN-SECRET-5d1e"
TRANSPORTS = ["httpx", "aiohttp"]
MiB = 1 << 20
GiB = 1 << 30


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    with hostile_server() as url:
        yield url


async def peak_of(call: Awaitable[T]) -> tuple[BaseException | T, float]:
    """What ``call`` raised (or returned) and the peak of traced memory, in MiB."""
    tracemalloc.start()
    try:
        try:
            result: BaseException | T = await call
        except Exception as exc:
            result = exc
        return result, tracemalloc.get_traced_memory()[1] / MiB
    finally:
        tracemalloc.stop()


def client_on(kind: str, base_url: str, **options: Any) -> WxaClient:
    options.setdefault("max_retries", 0)
    options.setdefault("timeout", Timeout(connect=5, read=10, total=30))
    return WxaClient(StaticTokenProvider({APPID: TOKEN}), base_url, make_transport(kind),
                     **options)


@pytest.fixture(params=TRANSPORTS)
async def on(request: pytest.FixtureRequest, hostile: str) -> AsyncIterator[Any]:
    clients: list[WxaClient] = []

    def make(path: str, **options: Any) -> WxaClient:
        clients.append(client_on(request.param, f"{hostile}/{path}", **options))
        return clients[-1]

    yield make
    for client in clients:
        await client.aclose()


JSON_CASES = {
    "200 MB": "json-big/200000000",
    "endless chunked": "json-endless",
    "gzip inflating to 1 GiB": f"json-gzip/{GiB}",
}


@pytest.mark.parametrize("path", JSON_CASES.values(), ids=list(JSON_CASES))
async def test_a_json_answer_is_cut_at_max_json_bytes(on: Any, path: str) -> None:
    client = on(path)
    error, peak = await peak_of(client.app(APPID).get_page())
    assert isinstance(error, WxaResponseTooLargeError), error
    assert error.limit == "max_json_bytes" and error.max_bytes == 4 * MiB
    assert "max_json_bytes" in str(error)
    assert peak < 32, peak


async def test_max_json_bytes_per_client_and_per_call(on: Any) -> None:
    client = on("json-big/300000", max_json_bytes=100_000)
    with pytest.raises(WxaResponseTooLargeError, match="max_json_bytes=100000"):
        await client.app(APPID).get_page()
    page = await client.with_options(max_json_bytes=None).app(APPID).get_page()
    assert len(page.page_list[0]) > 200_000


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_the_component_api_is_bounded_too(kind: str, hostile: str) -> None:
    transport = make_transport(kind)
    provider = ComponentTokenProvider(
        "wxcomponent", "SECRET", "ticket", {APPID: "refresh"},
        base_url=f"{hostile}/json-gzip/{GiB}", transport=transport,
    )
    async with provider:
        error, peak = await peak_of(provider.get_token(APPID))
    assert isinstance(error, WxaResponseTooLargeError), error
    assert error.endpoint == "api_component_token"
    assert peak < 32, peak


IMAGE_CASES = {
    "1 GiB": f"image-big/{GiB}",
    "endless chunked": "image-endless",
    "gzip inflating to 1 GiB": f"image-gzip/{GiB}",
}


@pytest.mark.parametrize("path", IMAGE_CASES.values(), ids=list(IMAGE_CASES))
async def test_a_qr_code_to_bytes_is_cut_at_max_binary_bytes(on: Any, path: str) -> None:
    error, peak = await peak_of(on(path).app(APPID).get_qrcode())
    assert isinstance(error, WxaResponseTooLargeError), error
    assert error.limit == "max_binary_bytes" and error.max_bytes == 16 * MiB
    assert peak < 64, peak


@pytest.mark.parametrize("path", IMAGE_CASES.values(), ids=list(IMAGE_CASES))
async def test_a_qr_code_to_file_is_cut_at_max_file_bytes_and_leaves_nothing(
    on: Any, path: str, tmp_path: Path
) -> None:
    client = on(path, max_file_bytes=8 * MiB)
    error, peak = await peak_of(client.app(APPID).get_qrcode.to_file(tmp_path / "qr.jpg"))
    assert isinstance(error, WxaResponseTooLargeError), error
    assert error.limit == "max_file_bytes" and "max_file_bytes=8388608" in str(error)
    assert list(tmp_path.iterdir()) == []
    assert peak < 16, peak


@pytest.mark.parametrize("path", ["image-empty", "image-204"])
async def test_an_empty_answer_to_a_binary_endpoint_is_an_error(
    on: Any, path: str, tmp_path: Path
) -> None:
    app = on(path).app(APPID)
    with pytest.raises(WxaDecodeError, match="empty answer"):
        await app.get_qrcode()
    with pytest.raises(WxaDecodeError, match="empty answer"):
        await app.get_qrcode.to_file(tmp_path / "qr.jpg")
    assert list(tmp_path.iterdir()) == []


async def test_a_redirect_is_a_transport_error_whatever_its_body(on: Any) -> None:
    client = on("redirect", max_retries=3)
    for call in (client.app(APPID).get_page, client.app(APPID).release):
        with pytest.raises(WxaTransportError) as caught:
            await call()
        assert caught.value.status_code == 302
    assert client.retry_counts == {}  # a 3xx is not transient: never repeated


async def test_nan_and_infinity_are_a_decode_error_not_retried(on: Any) -> None:
    client = on("nan", max_retries=3)
    with pytest.raises(WxaDecodeError, match="NaN") as caught:
        await client.app(APPID).get_page()
    assert caught.value.transient is False
    assert client.retry_counts == {}


async def test_a_huge_errmsg_is_cut_in_the_message_and_kept_whole(on: Any) -> None:
    with pytest.raises(WxaApiError) as caught:
        await on("errmsg/3000000").app(APPID).get_page()
    assert len(caught.value.errmsg) == 3_000_000
    assert len(str(caught.value)) < 1000
    assert "3000000 characters" in str(caught.value)


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_a_read_limit_alone_applies(kind: str, hostile: str) -> None:
    timeout = Timeout(connect=None, read=0.5, total=None)
    async with client_on(kind, f"{hostile}/hang", timeout=timeout) as client:
        async with asyncio.timeout(15):  # a guard: the limit must fire long before
            with pytest.raises(WxaTimeoutError, match="read limit"):
                await client.app(APPID).get_page()


@pytest.mark.parametrize("value", [0, -1, 0.0, True])
def test_zero_and_negative_limits_are_refused(value: Any) -> None:
    with pytest.raises(WxaValidationError):
        Timeout(read=value)
    with pytest.raises(WxaValidationError):
        Timeout.coerce(value)
    with pytest.raises(WxaValidationError):
        WxaClient(StaticTokenProvider({}), max_json_bytes=value)


async def test_no_repr_shows_the_url_with_the_token(hostile: str) -> None:
    for kind in TRANSPORTS:
        transport = make_transport(kind)
        try:
            response = await transport.send(HttpRequest(
                "GET", f"{hostile}/nan/wxa/get_page", {"access_token": TOKEN}
            ))
            shown = [repr(response), *(repr(v) for v in _private_parts(response))]
            await response.aclose()
        finally:
            await transport.aclose()
        assert all(TOKEN not in text for text in shown), (kind, shown)


def _private_parts(obj: object) -> list[object]:
    # What a debugger or a log of locals would show: the library's own objects inside.
    inner = getattr(obj, "_response", None)
    if inner is None:
        return []
    return [inner, getattr(inner, "request_info", None), getattr(inner, "request", None)]
