"""No access token in any exception (its text, args, repr, attributes, cause/context chain,
formatted traceback), in any log record, or in any repr."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.core import (
    APPID,
    SEED_PAGE,
    TOKEN,
    FakeService,
    LoopbackServer,
    RefreshingTokenProvider,
    SleepRecorder,
    call,
    failing_chunks,
    free_port,
    hang,
    make_client,
    never,
    serve_bytes,
    serve_json,
)
from wxa_async import (
    HttpxTransport,
    StaticTokenProvider,
    Timeout,
    WxaClient,
    WxaError,
    WxaTransportError,
)
from wxa_async.testing import BytesResponse, MockTransport
from wxa_async.transports import HttpRequest

SECRETS = (TOKEN, f"{TOKEN}-1", f"{TOKEN}-2")


def texts_of(error: BaseException) -> list[str]:
    """Everything about an exception and its chain that could end up in a log or a UI."""
    out = ["".join(traceback.format_exception(error))]
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        exc = pending.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        out += [str(exc), repr(exc), repr(exc.args)]
        out += [repr(value) for value in vars(exc).values()]
        pending += [exc.__cause__, exc.__context__]
    return out


def assert_clean(texts: list[str]) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"credential leaked into: {text[:200]!r}"


def log_texts(records: list[logging.LogRecord]) -> list[str]:
    out = []
    for record in records:
        out += [record.getMessage(), repr(record.args), str(record.msg)]
        if record.exc_info and record.exc_info[1] is not None:
            out += texts_of(record.exc_info[1])
    return out


BUSY = {"errcode": -1, "errmsg": "system error"}
TOKEN_ERROR = {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}

# name -> (answers of the fake service, endpoint, client options)
FAKE_PATHS: dict[str, tuple[list[Any], str, dict[str, Any]]] = {
    "token": ([TOKEN_ERROR] * 2, "get_page", {}),
    "quota": ([{"errcode": 45009, "errmsg": "reach max api daily quota limit"}], "commit", {}),
    "busy-exhausted": ([BUSY] * 4, "get_page", {}),
    "busy-mutation": ([BUSY], "release", {}),
    "api": ([{"errcode": 85009, "errmsg": "already"}], "submit_audit", {}),
    "http-502": ([BytesResponse(502, {}, b"bad gateway")], "get_page", {"max_retries": 0}),
    "not-json": ([BytesResponse(200, {}, b"<html>")], "get_page", {"max_retries": 0}),
    "wrong-shape": ([{"page_list": "index"}], "get_page", {}),
    "timeout": ([never], "get_page", {"timeout": 0.02, "max_retries": 0}),
    "transport": ([WxaTransportError("connection failed (ReadError)")], "commit", {}),
    "refused": ([WxaTransportError("refused", request_sent=False)] * 4, "commit", {}),
    "qrcode-json": ([{"errcode": 85012, "errmsg": "bad"}], "get_qrcode", {}),
    "qrcode-mid-stream": (
        [BytesResponse(200, {"Content-Type": "image/jpeg"}, chunks=failing_chunks(
            [b"\xff\xd8"], WxaTransportError("connection failed (RemoteProtocolError)")))],
        "get_qrcode", {"max_retries": 0},
    ),
    "validation": ([], "gray_release", {}),
}


@pytest.mark.parametrize("case", FAKE_PATHS, ids=list(FAKE_PATHS))
async def test_no_token_in_errors_or_logs_through_the_fake(
    case: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    SleepRecorder().install(monkeypatch)
    answers, name, options = FAKE_PATHS[case]
    service = FakeService().reply(*answers)
    caplog.set_level(logging.DEBUG)
    arguments = {"gray_percentage": 0} if case == "validation" else {}
    async with make_client(service, **options) as client:
        with pytest.raises(WxaError) as caught:
            await call(client, name, **arguments)
    assert_clean(texts_of(caught.value))
    assert_clean(log_texts(caplog.records))
    if case != "validation":
        assert service.requests[0].params["access_token"] == TOKEN  # it was there to leak


async def test_no_token_when_a_refreshed_token_is_rejected_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = FakeService().reply(TOKEN_ERROR, TOKEN_ERROR)
    caplog.set_level(logging.DEBUG)
    async with make_client(service, token_provider=RefreshingTokenProvider()) as client:
        with pytest.raises(WxaError) as caught:
            await call(client, "get_page")
    assert_clean(texts_of(caught.value) + log_texts(caplog.records))


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    srv = await LoopbackServer().start()
    srv.routes["/wxa/get_page"] = serve_json(SEED_PAGE)
    srv.routes["/wxa/get_category"] = serve_bytes(b"oops", "text/plain", status=502)
    srv.routes["/wxa/get_latest_auditstatus"] = serve_bytes(b"<html>", "text/html")
    srv.routes["/wxa/getgrayreleaseplan"] = hang
    srv.routes["/wxa/commit"] = serve_json(TOKEN_ERROR)
    yield srv
    await srv.stop()


HTTPX_CALLS: dict[str, str] = {
    "http-502": "get_category",
    "not-json": "get_latest_audit_status",
    "timeout": "get_gray_release_plan",
    "token": "commit",
}


@pytest.mark.parametrize("case", HTTPX_CALLS, ids=list(HTTPX_CALLS))
async def test_no_token_in_errors_or_logs_over_httpx(
    case: str, server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with WxaClient(
        token_provider=StaticTokenProvider({APPID: TOKEN}), base_url=server.url,
        timeout=Timeout(1.0, 0.2, 0.3), max_retries=0,
    ) as client:
        await client.app(APPID).get_page()  # a success logs too (httpx logs every URL)
        with pytest.raises(WxaError) as caught:
            await call(client, HTTPX_CALLS[case])
    assert_clean(texts_of(caught.value))
    assert_clean(log_texts(caplog.records))
    assert any(r.name == "httpx" for r in caplog.records)  # httpx did log the requests
    assert any(TOKEN in r.target for r in server.requests)  # and the token did go out


async def test_no_token_when_the_connection_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with WxaClient(
        token_provider=StaticTokenProvider({APPID: TOKEN}),
        base_url=f"http://127.0.0.1:{free_port()}", max_retries=1,
    ) as client:
        with pytest.raises(WxaTransportError) as caught:
            await call(client, "get_page")
    assert_clean(texts_of(caught.value) + log_texts(caplog.records))


def test_http_request_repr_hides_tokens() -> None:
    request = HttpRequest(
        "GET", "https://api.weixin.qq.com/wxa/get_page",
        {"access_token": TOKEN, "component_access_token": TOKEN, "path": "page/index"},
    )
    shown = repr(request)
    assert TOKEN not in shown and TOKEN not in str(request)
    assert "***" in shown and "page/index" in shown and "wxa/get_page" in shown


def test_static_token_provider_repr_shows_appids_only() -> None:
    provider = StaticTokenProvider({APPID: TOKEN, "wxB": f"{TOKEN}-2"})
    assert TOKEN not in repr(provider) and TOKEN not in str(provider)
    assert APPID in repr(provider) and "wxB" in repr(provider)


async def test_client_and_handle_reprs_hide_tokens() -> None:
    service = FakeService()
    async with make_client(service) as client:
        app = client.app(APPID)
        await app.get_page()
        shown = [repr(client), repr(app), repr(app.get_page), repr(app.get_qrcode),
                 repr(client.with_options(max_retries=0)), repr(service.transport),
                 repr(client.token_provider)]
    assert_clean(shown)
    assert "api.weixin.qq.com" in shown[0] and APPID in shown[1]


async def test_httpx_transport_repr_and_errors_of_a_token_in_a_bad_url() -> None:
    transport = HttpxTransport()
    try:
        assert_clean([repr(transport)])
        request = HttpRequest("GET", f"http://127.0.0.1:{free_port()}/wxa/get_page",
                              {"access_token": TOKEN}, timeout=Timeout(0.5, 0.5, 0.5))
        with pytest.raises(WxaTransportError) as caught:
            await transport.send(request)
        assert_clean(texts_of(caught.value))
    finally:
        await transport.aclose()


async def test_cancellation_carries_no_token() -> None:
    service = FakeService().reply(never)
    async with make_client(service) as client:
        task = asyncio.create_task(call(client, "get_page"))
        while not service.requests:
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as caught:
            await task
    assert_clean(texts_of(caught.value))


async def test_an_exception_raised_by_a_custom_transport_handler_is_not_rewrapped() -> None:
    # A fake's own bug surfaces as itself (the client does not disguise it), and the
    # client adds nothing secret on the way.
    async def buggy(_: HttpRequest) -> BytesResponse:
        raise RuntimeError("fake transport bug")

    async with WxaClient(token_provider=StaticTokenProvider({APPID: TOKEN}),
                         transport=MockTransport(buggy)) as client:
        with pytest.raises(RuntimeError) as caught:
            await client.app(APPID).get_page()
    assert_clean(texts_of(caught.value))
