"""Hostile bodies are refused cheaply: limits enforced while parsing, bounded CPU, and a
body that stops arriving is answered 408."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from tests.push.support import Recorder, audit_xml, call, crypto, signed
from tests.support.emulator import serve_asgi
from wxa_async import WxaXmlError
from wxa_async.push import callback_asgi_app, parse_xml
from wxa_async.push._xml import DEFAULT_MAX_BODY_BYTES, MAX_ELEMENTS

MiB = 1 << 20


def nested(size: int = DEFAULT_MAX_BODY_BYTES) -> bytes:
    """``size`` bytes of ever deeper tags: what an attacker sends unauthenticated."""
    body = b"<xml>" + b"<a>" * ((size - 5) // 3)
    return body + b" " * (size - len(body))


def flat(size: int = DEFAULT_MAX_BODY_BYTES) -> bytes:
    """``size`` bytes of sibling elements: shallow, but a tree of a quarter million."""
    body = b"<xml>" + b"<a/>" * ((size - 11) // 4)
    return body + b" " * (size - 6 - len(body)) + b"</xml>"


@pytest.mark.parametrize("make", [nested, flat], ids=["nested", "flat"])
async def test_a_1_mib_hostile_body_is_refused_in_well_under_0_1_s_of_cpu(
    make: Callable[[], bytes],
) -> None:
    body = make()
    assert len(body) == MiB
    c = crypto()
    _, query = signed(c, audit_xml())
    app = callback_asgi_app(c)
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    started = time.process_time()
    reply = await call(app, query=query, chunks=chunks)
    spent = time.process_time() - started
    assert reply.status == 400
    assert spent < 0.1, f"{spent:.3f} s of CPU for one hostile body"


def test_the_parse_stops_at_the_first_element_past_a_limit() -> None:
    with pytest.raises(WxaXmlError, match="deeper than 32"):
        parse_xml(nested())
    with pytest.raises(WxaXmlError, match=f"more than {MAX_ELEMENTS} elements"):
        parse_xml(flat())
    # Just inside both limits still parses.
    inside = "<xml>" + "<a>" * 31 + "x" + "</a>" * 31 + "<b/>" * (MAX_ELEMENTS - 33) + "</xml>"
    fields = parse_xml(inside)
    assert len(fields["b"]) == MAX_ELEMENTS - 33


async def test_16_hostile_bodies_at_once_do_not_hold_up_a_genuine_push() -> None:
    c = crypto()
    seen = Recorder()
    app = callback_asgi_app(c, seen)
    hostile = nested()
    chunks = [hostile[i : i + 65536] for i in range(0, len(hostile), 65536)]
    body, query = signed(c, audit_xml())

    async def genuine() -> float:
        await asyncio.sleep(0)  # queued behind the hostile ones
        started = time.perf_counter()
        reply = await call(app, query=query, chunks=[body])
        assert (reply.status, reply.text) == (200, "success")
        return time.perf_counter() - started

    cpu = time.process_time()
    attacks = [asyncio.ensure_future(call(app, query=query, chunks=chunks)) for _ in range(16)]
    waited = await genuine()
    replies = await asyncio.gather(*attacks)
    cpu = time.process_time() - cpu
    assert all(reply.status == 400 for reply in replies)
    assert len(seen.events) == 1
    # WeChat gives up at 5 s; before the streaming parser, 16 of these cost ~6 s of CPU.
    assert cpu < 1.0, f"{cpu:.3f} s of CPU for 16 hostile bodies and one genuine push"
    assert waited < 2.5


async def test_a_body_that_stops_arriving_is_answered_408() -> None:
    c = crypto()
    body, query = signed(c, audit_xml())
    app = callback_asgi_app(c, body_timeout=0.2)
    started = time.monotonic()
    reply = await call(app, query=query, chunks=[body[:20]], stall=True)
    assert reply.status == 408
    assert reply.headers["connection"] == "close"
    assert time.monotonic() - started < 5


async def test_a_trickled_body_over_a_real_socket_is_answered_408() -> None:
    c = crypto()
    seen = Recorder()
    body, _ = signed(c, audit_xml())
    async with serve_asgi(callback_asgi_app(c, seen, body_timeout=0.3)) as url:
        port = int(url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            head = (
                f"POST /callback HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Length: {len(body)}\r\nContent-Type: text/xml\r\n\r\n"
            ).encode()
            writer.write(head + body[:10])
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(4096), 10)
        finally:
            writer.close()
            await writer.wait_closed()
    assert answer.startswith(b"HTTP/1.1 408")
    assert seen.events == []


def test_body_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="body_timeout"):
        callback_asgi_app(crypto(), body_timeout=0)
