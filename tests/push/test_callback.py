"""CallbackHandler and the plain ASGI callback app, called directly and over uvicorn."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn

from wxa_async import WxaSignatureError
from wxa_async.push import (
    AuditSuccessEvent,
    CallbackHandler,
    ComponentVerifyTicketEvent,
    Event,
    GenericEvent,
    MessageCrypto,
    callback_asgi_app,
)
from wxa_async.testing import render_event_xml

TOKEN = "cb-token-SECRET"
KEY = "cAllBackKeycAllBackKeycAllBackKeycAllBackKe"
APPID = "wxcomponentcb"
TICKET = "ticket@@@SECRET-TICKET-cb"

TICKET_XML = render_event_xml(
    {
        "AppId": APPID,
        "CreateTime": 1700000000,
        "InfoType": "component_verify_ticket",
        "ComponentVerifyTicket": TICKET,
    }
)
SUCCESS_XML = render_event_xml(
    {
        "ToUserName": "gh_fb9688c2a4b2",
        "FromUserName": "od1P50M-fNQI5Gcq-trm4a7apsU8",
        "CreateTime": 1488856741,
        "MsgType": "event",
        "Event": "weapp_audit_success",
        "SuccTime": 1488856741,
    }
)


@pytest.fixture
def crypto() -> MessageCrypto:
    return MessageCrypto(TOKEN, KEY, APPID, max_body_bytes=4096)


def push(crypto: MessageCrypto, xml: str) -> tuple[bytes, dict[str, str]]:
    body, query = crypto.build_push(
        xml, to_user_name="gh_x", timestamp=int(time.time()), nonce="abc"
    )
    return body.encode(), query


# --- CallbackHandler --------------------------------------------------------------------


def test_handle_returns_the_event(crypto: MessageCrypto) -> None:
    body, query = push(crypto, SUCCESS_XML)
    event = CallbackHandler(crypto).handle(body, query)
    assert event == AuditSuccessEvent(
        to_user_name="gh_fb9688c2a4b2",
        from_user_name="od1P50M-fNQI5Gcq-trm4a7apsU8",
        create_time=1488856741,
        succ_time=1488856741,
    )


@pytest.mark.parametrize("missing", ["msg_signature", "timestamp", "nonce"])
def test_handle_requires_each_query_parameter(crypto: MessageCrypto, missing: str) -> None:
    body, query = push(crypto, SUCCESS_XML)
    del query[missing]
    with pytest.raises(WxaSignatureError, match=missing):
        CallbackHandler(crypto).handle(body, query)


async def test_dispatch_awaits_on_event(crypto: MessageCrypto) -> None:
    seen: list[Event] = []

    async def on_event(event: Event) -> None:
        seen.append(event)

    body, query = push(crypto, TICKET_XML)
    event = await CallbackHandler(crypto, on_event=on_event).dispatch(body, query)
    assert seen == [event]
    assert isinstance(event, ComponentVerifyTicketEvent)
    assert event.component_verify_ticket == TICKET


class TicketStore:
    """Stands in for ComponentTokenProvider's ticket intake (its real test is the lead's)."""

    def __init__(self) -> None:
        self.tickets: list[str] = []

    async def set_verify_ticket(self, ticket: str) -> None:
        self.tickets.append(ticket)


async def test_ticket_reaches_the_provider_through_on_event(crypto: MessageCrypto) -> None:
    provider = TicketStore()

    async def on_event(event: Event) -> None:
        if isinstance(event, ComponentVerifyTicketEvent):
            await provider.set_verify_ticket(event.component_verify_ticket)

    handler = CallbackHandler(crypto, on_event=on_event)
    await handler.dispatch(*push(crypto, TICKET_XML))
    await handler.dispatch(*push(crypto, TICKET_XML.replace(TICKET, "ticket@@@newer")))
    await handler.dispatch(*push(crypto, SUCCESS_XML))
    assert provider.tickets == [TICKET, "ticket@@@newer"]


# --- the ASGI app, called directly -------------------------------------------------------


class Reply:
    def __init__(self, messages: list[dict[str, Any]], reads: int) -> None:
        start, body = messages
        self.status: int = start["status"]
        self.headers = {k.decode(): v.decode() for k, v in start["headers"]}
        self.text = body["body"].decode()
        self.reads = reads


async def call(
    app: Any,
    *,
    method: str = "POST",
    query: dict[str, str] | None = None,
    chunks: Iterable[bytes] = (b"",),
    headers: list[tuple[bytes, bytes]] | None = None,
) -> Reply:
    pending = list(chunks)
    reads = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        if not pending:
            return {"type": "http.disconnect"}
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": "/wechat/callback",
        "query_string": urlencode(query or {}).encode(),
        "headers": headers or [],
    }
    await app(scope, receive, send)
    return Reply(sent, reads)


async def test_asgi_valid_push_answers_success(crypto: MessageCrypto) -> None:
    seen: list[Event] = []

    async def on_event(event: Event) -> None:
        seen.append(event)

    body, query = push(crypto, TICKET_XML)
    reply = await call(callback_asgi_app(crypto, on_event), query=query, chunks=[body])
    assert (reply.status, reply.text) == (200, "success")
    assert reply.headers["content-type"].startswith("text/plain")
    assert len(seen) == 1 and isinstance(seen[0], ComponentVerifyTicketEvent)


async def test_asgi_reassembles_a_chunked_body(crypto: MessageCrypto) -> None:
    body, query = push(crypto, SUCCESS_XML)
    chunks = [body[i : i + 7] for i in range(0, len(body), 7)]
    reply = await call(callback_asgi_app(crypto), query=query, chunks=chunks)
    assert (reply.status, reply.text) == (200, "success")


async def test_asgi_bad_signature_is_400_and_logged_without_secrets(
    crypto: MessageCrypto, caplog: pytest.LogCaptureFixture
) -> None:
    called = False

    async def on_event(event: Event) -> None:
        nonlocal called
        called = True

    body, query = push(crypto, TICKET_XML)
    query["msg_signature"] = "f" * 40
    with caplog.at_level(logging.WARNING, logger="wxa_async.callback"):
        reply = await call(callback_asgi_app(crypto, on_event), query=query, chunks=[body])
    assert reply.status == 400
    assert not called
    assert "msg_signature" in caplog.text
    for secret in (TOKEN, KEY, TICKET):
        assert secret not in caplog.text and secret not in reply.text


@pytest.mark.parametrize(
    "body",
    [
        b'<!DOCTYPE xml [<!ENTITY a "aaaa">]><xml><Encrypt>&a;</Encrypt></xml>',
        b"<xml><Encrypt>abc",
        b"<xml><ToUserName>gh</ToUserName></xml>",
        b"",
    ],
)
async def test_asgi_hostile_or_malformed_body_is_400(crypto: MessageCrypto, body: bytes) -> None:
    _, query = push(crypto, SUCCESS_XML)
    reply = await call(callback_asgi_app(crypto), query=query, chunks=[body])
    assert reply.status == 400


async def test_asgi_missing_query_is_400(crypto: MessageCrypto) -> None:
    body, _ = push(crypto, SUCCESS_XML)
    reply = await call(callback_asgi_app(crypto), chunks=[body])
    assert reply.status == 400


async def test_asgi_declared_oversize_is_413_without_reading(crypto: MessageCrypto) -> None:
    reply = await call(
        callback_asgi_app(crypto),
        chunks=[b"x" * 10],
        headers=[(b"content-length", b"999999")],
    )
    assert reply.status == 413
    assert reply.reads == 0


async def test_asgi_streamed_oversize_is_413_and_reading_stops(crypto: MessageCrypto) -> None:
    chunks = [b"x" * 1024] * 100  # 100 KiB against a 4 KiB limit
    reply = await call(callback_asgi_app(crypto), chunks=chunks)
    assert reply.status == 413
    assert reply.reads == 5  # the chunk that crossed the limit was the last one read


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD"])
async def test_asgi_other_methods_are_405(crypto: MessageCrypto, method: str) -> None:
    reply = await call(callback_asgi_app(crypto), method=method)
    assert reply.status == 405
    assert reply.headers["allow"] == "POST"


async def test_asgi_failing_on_event_is_500_so_wechat_retries(
    crypto: MessageCrypto, caplog: pytest.LogCaptureFixture
) -> None:
    async def on_event(event: Event) -> None:
        raise RuntimeError("database down")

    body, query = push(crypto, SUCCESS_XML)
    with caplog.at_level(logging.ERROR, logger="wxa_async.callback"):
        reply = await call(callback_asgi_app(crypto, on_event), query=query, chunks=[body])
    assert reply.status == 500
    assert "AuditSuccessEvent" in caplog.text


async def test_asgi_unknown_event_is_still_success(crypto: MessageCrypto) -> None:
    seen: list[Event] = []

    async def on_event(event: Event) -> None:
        seen.append(event)

    xml = render_event_xml({"MsgType": "event", "Event": "wxa_nickname_audit", "X": 1})
    body, query = push(crypto, xml)
    reply = await call(callback_asgi_app(crypto, on_event), query=query, chunks=[body])
    assert reply.status == 200
    assert isinstance(seen[0], GenericEvent)


async def test_asgi_lifespan_is_acknowledged(crypto: MessageCrypto) -> None:
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    app: Any = callback_asgi_app(crypto)
    await app({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]


# --- over a real socket ------------------------------------------------------------------


async def test_over_uvicorn_with_httpx(crypto: MessageCrypto) -> None:
    seen: list[Event] = []

    async def on_event(event: Event) -> None:
        seen.append(event)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        callback_asgi_app(crypto, on_event), log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # surface a failed startup instead of waiting forever
            await asyncio.sleep(0.01)
        url = f"http://127.0.0.1:{port}/wechat/callback"
        async with httpx.AsyncClient() as client:
            body, query = push(crypto, TICKET_XML)
            ok = await client.post(url, params=query, content=body)
            assert (ok.status_code, ok.text) == (200, "success")

            query["nonce"] = "tampered"
            bad = await client.post(url, params=query, content=body)
            assert bad.status_code == 400

            big = await client.post(url, params=query, content=b"x" * 10_000)
            assert big.status_code == 413

            assert (await client.get(url)).status_code == 405
    finally:
        server.should_exit = True
        await task
        sock.close()
    assert [type(e) for e in seen] == [ComponentVerifyTicketEvent]
