"""Serving the platform's callback URL: a framework-agnostic handler and a plain ASGI app.

WeChat POSTs an encrypted envelope with ``msg_signature``, ``timestamp`` and ``nonce``
in the query string and expects the literal body ``success`` within five seconds;
anything else makes it send the push again. Verify tickets and audit results arrive
the same way. So a push is accepted only while its timestamp is within a window of
now, and each one is delivered once: a memory of seen pushes (in-process, or a shared
store for several processes) answers a repeat ``success`` without delivering it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qsl

import attrs

from .._asgi import Receive, Scope, Send, lifespan, read_body
from ..errors import (
    WxaBodyTooLargeError,
    WxaError,
    WxaSignatureError,
    WxaStalePushError,
    WxaValidationError,
)
from ..tokens._stores import MemoryTokenStore
from ._crypto import MessageCrypto
from ._events import Event, parse_event

__all__ = [
    "DEFAULT_APPID_PATTERN",
    "CallbackHandler",
    "EventCallback",
    "SeenPushStore",
    "callback_asgi_app",
]

logger = logging.getLogger("wxa_async.callback")

EventCallback = Callable[[Event], Awaitable[None]]

#: The authorizer's appid as the path segment before the last (``/wx1234/callback``),
#: when it looks like an appid (``wx`` and letters or digits).
DEFAULT_APPID_PATTERN = re.compile(r"/(?P<appid>wx[0-9A-Za-z]+)/[^/]*\Z")
DEFAULT_REPLAY_WINDOW = 300.0
DEFAULT_BODY_TIMEOUT = 5.0
_DELIVERED = "delivered"  # a claim is random hex, so never this
# A repeat waits this long (below WeChat's 5 s) for the copy being delivered.
_PENDING_WAIT = 4.0
_PENDING_POLL = 0.05


@runtime_checkable
class SeenPushStore(Protocol):
    """Where a callback remembers the pushes it delivered: both
    :class:`~wxa_async.MemoryTokenStore` and :class:`~wxa_async.RedisTokenStore` are one.

    ``add_if_absent`` sets a key for ``ttl`` seconds unless it exists, atomically, and
    tells whether it did; ``delete_if_equal`` forgets a key still holding ``value``;
    ``get`` and ``set`` are a :class:`~wxa_async.TokenStore`'s.
    """

    async def add_if_absent(self, key: str, value: str, ttl: float) -> bool: ...

    async def delete_if_equal(self, key: str, value: str) -> bool: ...

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str, ttl: float | None) -> None: ...


class _StillPending(WxaError):
    """A repeat gave up waiting for the copy of its push being delivered."""


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise WxaValidationError(f"{name} must be a positive number of seconds")
    return float(value)


class CallbackHandler:
    """Turns a raw callback request (body bytes, query parameters, path) into an event.

    ``handle`` is synchronous and framework-free: it refuses a push whose ``timestamp``
    is more than ``replay_window`` seconds from ``clock()`` (:class:`WxaStalePushError`),
    then verifies, decrypts and parses it. ``dispatch`` also delivers it once: the
    first time a push (same ``msg_signature``, ``timestamp`` and ``nonce``) is seen,
    ``on_event`` is awaited and the event returned; a repeat returns ``None``. If
    ``on_event`` raises, the push is forgotten, so WeChat's next attempt is delivered.

    ``seen`` is the memory of delivered pushes (a :class:`SeenPushStore`; default a
    bounded one in this process). Give the shared token store when several processes
    serve the callback URL, so that they agree. ``appid_pattern`` (a regex with a group
    named ``appid``, or None) finds the authorizer's appid in the path, where WeChat
    puts it in place of ``$APPID$``; events without an appid of their own carry it as
    ``authorizer_appid``. The path is not covered by the signature.

    Everything refused raises :class:`~wxa_async.WxaSignatureError` or a subclass
    (:class:`~wxa_async.WxaStalePushError`, :class:`~wxa_async.WxaXmlError`,
    :class:`~wxa_async.WxaBodyTooLargeError`).
    """

    def __init__(
        self,
        crypto: MessageCrypto,
        *,
        on_event: EventCallback | None = None,
        replay_window: float = DEFAULT_REPLAY_WINDOW,
        seen: SeenPushStore | None = None,
        appid_pattern: str | re.Pattern[str] | None = DEFAULT_APPID_PATTERN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if seen is not None and not isinstance(seen, SeenPushStore):
            raise WxaValidationError(
                "seen must have add_if_absent, delete_if_equal, get and set"
            )
        self.crypto = crypto
        self.on_event = on_event
        self.replay_window = _positive("replay_window", replay_window)
        self.seen: SeenPushStore = seen if seen is not None else MemoryTokenStore()
        self._pattern = re.compile(appid_pattern) if isinstance(appid_pattern, str) else (
            appid_pattern
        )
        if self._pattern is not None and "appid" not in self._pattern.groupindex:
            raise WxaValidationError("appid_pattern needs a group named 'appid'")
        self._clock = clock
        self._ns = f"wxa:{crypto.appid}:push:"

    def __repr__(self) -> str:
        return f"CallbackHandler({self.crypto!r}, replay_window={self.replay_window!r})"

    def authorizer_appid(self, path: str | None) -> str | None:
        """The authorizer's appid in ``path`` by ``appid_pattern``, or None."""
        if path is None or self._pattern is None:
            return None
        match = self._pattern.search(path)
        return match.group("appid") if match else None

    def handle(
        self, body: bytes | str, query: Mapping[str, str], *, path: str | None = None
    ) -> Event:
        """Verify, decrypt and parse one push; ``path`` is the request's URL path."""
        event, _ = self._verify(body, query, path)
        return event

    async def dispatch(
        self, body: bytes | str, query: Mapping[str, str], *, path: str | None = None
    ) -> Event | None:
        """:meth:`handle`, then deliver the event to ``on_event`` unless this push was
        delivered before (then None)."""
        event, stamp = self._verify(body, query, path)
        return event if await self._deliver(event, query, stamp) else None

    # -- the steps, shared with the ASGI app --------------------------------------------

    def _verify(
        self, body: bytes | str, query: Mapping[str, str], path: str | None
    ) -> tuple[Event, int]:
        params = {}
        for name in ("msg_signature", "timestamp", "nonce"):
            value = query.get(name)
            if not isinstance(value, str) or not value:
                raise WxaSignatureError(f"the callback query lacks {name}")
            params[name] = value
        stamp = self._fresh(params["timestamp"])
        xml = self.crypto.decrypt_message(body, **params)
        event = parse_event(xml, max_bytes=self.crypto.max_body_bytes)
        appid = self.authorizer_appid(path)
        if appid is not None and getattr(event, "authorizer_appid", "") is None:
            event = attrs.evolve(event, authorizer_appid=appid)
        return event, stamp

    def _fresh(self, timestamp: str) -> int:
        # Checked before decrypting: a stale push costs no AES and no XML parse.
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            raise WxaSignatureError("the callback timestamp is not a Unix time")
        stamp = int(timestamp)
        if abs(self._clock() - stamp) > self.replay_window:
            raise WxaStalePushError(
                f"the push's timestamp is outside the {self.replay_window:g} s window"
            )
        return stamp

    async def _deliver(self, event: Event, query: Mapping[str, str], stamp: int) -> bool:
        identity = "\n".join((query["msg_signature"].lower(), query["timestamp"], query["nonce"]))
        key = self._ns + hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()
        claim = secrets.token_hex(8)
        waited = 0.0
        while not await self.seen.add_if_absent(key, claim, self._ttl(stamp)):
            # Someone has it: delivered already, or still being delivered (WeChat sends
            # again after 5 s without an answer, so a slow on_event meets its own
            # repeat). Wait for that outcome: if it fails, this copy delivers instead.
            state = await self.seen.get(key)
            if state == _DELIVERED:
                return False
            if state is None:
                continue  # forgotten after a failure: try to take it over
            if waited >= _PENDING_WAIT:
                raise _StillPending("the same push is still being delivered")
            await asyncio.sleep(_PENDING_POLL)
            waited += _PENDING_POLL
        if self.on_event is not None:
            try:
                await self.on_event(event)
            except BaseException:
                await self.seen.delete_if_equal(key, claim)
                raise
        await self.seen.set(key, _DELIVERED, self._ttl(stamp))
        return True

    def _ttl(self, stamp: int) -> float:
        # Remembered while a replay could still pass the window check, and no longer.
        return max(1.0, stamp + self.replay_window - self._clock() + 1.0)


async def _respond(send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]]) -> None:
    body = text.encode("utf-8")
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode("ascii")),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def callback_asgi_app(
    crypto: MessageCrypto,
    on_event: EventCallback | None = None,
    *,
    replay_window: float = DEFAULT_REPLAY_WINDOW,
    seen: SeenPushStore | None = None,
    appid_pattern: str | re.Pattern[str] | None = DEFAULT_APPID_PATTERN,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    clock: Callable[[], float] = time.time,
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """A plain ASGI 3 app for the callback URL (mount it at any path).

    POST with a genuine, fresh push seen for the first time: ``on_event`` is awaited,
    then ``200 success``; the same push again: ``200 success`` without ``on_event``.
    Timestamp outside ``replay_window``, bad signature, hostile or malformed body:
    ``400``. Body over ``crypto.max_body_bytes``: ``413`` (reading stops at the limit).
    Body not complete within ``body_timeout`` seconds: ``408``. Other methods: ``405``.
    If ``on_event`` (or the ``seen`` store) raises, ``500``, so WeChat sends the push
    again; a repeat still waiting for its first copy's outcome after 4 s: ``503``.
    The other options are :class:`CallbackHandler`'s.
    """
    handler = CallbackHandler(
        crypto, on_event=on_event, replay_window=replay_window, seen=seen,
        appid_pattern=appid_pattern, clock=clock,
    )
    limit = crypto.max_body_bytes
    timeout = _positive("body_timeout", body_timeout)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
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
        try:
            async with asyncio.timeout(timeout):
                body = await read_body(receive, limit)
        except TimeoutError:
            await _respond(send, 408, "request timeout", [(b"connection", b"close")])
            return
        if body is None:
            await _respond(send, 413, "payload too large", [])
            return
        raw_query = scope.get("query_string", b"").decode("latin-1")
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        try:
            event, stamp = handler._verify(body, query, scope.get("path"))
        except WxaBodyTooLargeError:
            await _respond(send, 413, "payload too large", [])
            return
        except WxaSignatureError as exc:
            # The messages name the problem and never carry secrets or plaintext.
            logger.warning("rejected callback: %s", exc)
            await _respond(send, 400, "invalid callback", [])
            return
        try:
            delivered = await handler._deliver(event, query, stamp)
        except _StillPending:
            await _respond(send, 503, "push still being delivered", [(b"retry-after", b"1")])
            return
        except Exception:
            logger.exception("delivering %s failed", type(event).__name__)
            await _respond(send, 500, "handler failed", [])
            return
        if not delivered:
            logger.info("repeated push of %s answered without delivery", type(event).__name__)
        await _respond(send, 200, "success", [])

    return app
