"""Serving the platform's callback URL: a framework-agnostic handler and a plain ASGI app.

WeChat POSTs an encrypted envelope with ``msg_signature``, ``timestamp`` and ``nonce``
in the query string and expects the literal body ``success`` within five seconds;
anything else makes it retry. Verify tickets and audit results arrive on the same URL.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from .._asgi import lifespan, read_body
from ..errors import WxaBodyTooLargeError, WxaSignatureError
from ._crypto import MessageCrypto
from ._events import Event, parse_event

__all__ = ["CallbackHandler", "EventCallback", "callback_asgi_app"]

logger = logging.getLogger("wxa_async.callback")

EventCallback = Callable[[Event], Awaitable[None]]

_Scope = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
_Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class CallbackHandler:
    """Turns a raw callback request (body bytes + query parameters) into an event.

    ``handle`` is synchronous and framework-free; ``dispatch`` also awaits the optional
    ``on_event`` coroutine. Both raise :class:`~wxa_async.WxaSignatureError` (or its
    subclasses :class:`~wxa_async.WxaXmlError`, :class:`~wxa_async.WxaBodyTooLargeError`)
    for anything that is not a genuine push.
    """

    def __init__(self, crypto: MessageCrypto, *, on_event: EventCallback | None = None) -> None:
        self.crypto = crypto
        self.on_event = on_event

    def __repr__(self) -> str:
        return f"CallbackHandler({self.crypto!r})"

    def handle(self, body: bytes | str, query: Mapping[str, str]) -> Event:
        params = {}
        for name in ("msg_signature", "timestamp", "nonce"):
            value = query.get(name)
            if not isinstance(value, str) or not value:
                raise WxaSignatureError(f"the callback query lacks {name}")
            params[name] = value
        xml = self.crypto.decrypt_message(body, **params)
        return parse_event(xml, max_bytes=self.crypto.max_body_bytes)

    async def dispatch(self, body: bytes | str, query: Mapping[str, str]) -> Event:
        event = self.handle(body, query)
        if self.on_event is not None:
            await self.on_event(event)
        return event


async def _respond(send: _Send, status: int, text: str, extra: list[tuple[bytes, bytes]]) -> None:
    body = text.encode("utf-8")
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode("ascii")),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def callback_asgi_app(
    crypto: MessageCrypto, on_event: EventCallback | None = None
) -> Callable[[_Scope, _Receive, _Send], Awaitable[None]]:
    """A plain ASGI 3 app for the callback URL (mount it at any path).

    POST with a genuine push: ``on_event`` is awaited, then ``200 success``. Bad
    signature, hostile or malformed body: ``400``. Body over ``crypto.max_body_bytes``:
    ``413`` (reading stops at the limit). Other methods: ``405``. If ``on_event``
    raises, the app answers ``500`` so WeChat retries the push.
    """
    handler = CallbackHandler(crypto, on_event=on_event)
    limit = crypto.max_body_bytes

    async def app(scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # websockets are not served; closing the scope refuses them
        if scope.get("method") != "POST":
            await _respond(send, 405, "method not allowed", [(b"allow", b"POST")])
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _respond(send, 413, "payload too large", [])
            return
        body = await read_body(receive, limit)
        if body is None:
            await _respond(send, 413, "payload too large", [])
            return
        raw_query = scope.get("query_string", b"").decode("latin-1")
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        try:
            event = handler.handle(body, query)
        except WxaBodyTooLargeError:
            await _respond(send, 413, "payload too large", [])
            return
        except WxaSignatureError as exc:
            # The messages name the problem and never carry secrets or plaintext.
            logger.warning("rejected callback: %s", exc)
            await _respond(send, 400, "invalid callback", [])
            return
        if on_event is not None:
            try:
                await on_event(event)
            except Exception:
                logger.exception("on_event failed for %s", type(event).__name__)
                await _respond(send, 500, "handler failed", [])
                return
        await _respond(send, 200, "success", [])

    return app
