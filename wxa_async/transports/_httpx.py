"""The default transport, on httpx."""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import urllib.parse
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from .._limit import AdaptiveLimit
from ..errors import WxaTimeoutError, WxaTransportError
from ._base import DEFAULT_CONNECTIONS, HttpRequest, Timeout, decoded_chunks, identity

__all__ = ["HttpxTransport"]

# httpcore's pool does work proportional to open connections x waiting requests on
# every event, so a bigger pool gets slower per call. The transport we build spreads
# requests over "lanes", each a pool of ONE connection, and a request takes an idle
# lane: every pool then does constant work, whatever the number in flight.


_TOKEN_IN_QUERY = re.compile(r"(access_token=)[^&#\s\"']+")


class _RedactTokens(logging.Filter):
    """httpx logs every request's full URL at INFO, and the query holds the access token
    (``component_access_token`` too): mask it before any handler sees the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_IN_QUERY.sub(r"\1***", str(arg))
                if isinstance(arg, httpx.URL | str) and "access_token=" in str(arg)
                else arg
                for arg in record.args
            )
        if isinstance(record.msg, str) and "access_token=" in record.msg:
            record.msg = _TOKEN_IN_QUERY.sub(r"\1***", record.msg)
        return True


_REDACT_TOKENS = _RedactTokens()


# httpx errors carry the request (its URL holds the token) and their text may show it, so
# only the type name is kept, and the translated error is raised outside the `except`
# block: nothing of the httpx error stays reachable through __cause__ or __context__.
def _translate(exc: httpx.HTTPError, host: str, *, sent: bool) -> WxaTransportError:
    name = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        never_sent = isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
        limit = "connect limit" if never_sent else "read limit"
        return WxaTimeoutError(
            f"{host}: timed out ({limit}, {name})", request_sent=sent and not never_sent
        )
    never_sent = isinstance(exc, httpx.ConnectError)
    return WxaTransportError(
        f"connection to {host} failed ({name})", request_sent=sent and not never_sent
    )


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).hostname or ""


# httpcore cleans up after a cancelled request with anyio's shielded scopes, which do
# not hold back asyncio's own Task.cancel(): a request cancelled at the wrong moment (in
# the pool's queue, mid-body, while closing) can leave its connection marked busy for
# good (encode/httpcore#1093, #658, #830). In one shared pool that silently loses a
# connection per unlucky cancel until every request fails with PoolTimeout. So a lane
# that saw a cancellation is not trusted again: it is swapped for a fresh one and
# closed once its last request is done. Cancellations are rare (a caller giving up, our
# own total timeout), so the cost is an occasional new connection.
_INTERRUPTED = (asyncio.CancelledError, KeyboardInterrupt, SystemExit)


class _Lane:
    __slots__ = ("in_flight", "pool", "spoiled")

    def __init__(self, context: ssl.SSLContext) -> None:
        self.pool = httpx.AsyncHTTPTransport(
            verify=context, trust_env=False,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )
        self.in_flight = 0
        self.spoiled = False


class _LaneBody(httpx.AsyncByteStream):
    """A lane's response body: hands the lane back once, when the body is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, lanes: _Lanes, lane: _Lane) -> None:
        self._stream = stream
        self._lanes: _Lanes | None = lanes
        self._lane = lane
        self._interrupted = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except _INTERRUPTED:
            self._interrupted = True
            raise

    async def aclose(self) -> None:
        lanes, self._lanes = self._lanes, None
        if lanes is None:
            return
        try:
            await self._stream.aclose()
        except _INTERRUPTED:
            self._interrupted = True
            raise
        finally:
            # The common case stays synchronous: a coroutine only to close a lane.
            if lanes.release(self._lane, spoiled=self._interrupted):
                await lanes.retire(self._lane)


class _Lanes(httpx.AsyncBaseTransport):
    """``count`` single-connection pools ("lanes"); each request takes an idle one.

    Idle lanes are a stack, so a light load keeps reusing the same few warm connections
    and the rest expire. When more requests than lanes are in flight (a caller raised
    ``max_concurrency`` above ``max_connections``), the extra ones queue on the lanes in
    turn: a short queue per pool instead of one long one.
    """

    def __init__(self, count: int) -> None:
        # One SSL context for all lanes: building one reads and parses the CA bundle.
        self._context = httpx.create_ssl_context(trust_env=False)
        self._lanes = [_Lane(self._context) for _ in range(count)]
        self._idle = self._lanes[::-1]
        self._turn = 0
        self._draining: set[_Lane] = set()  # replaced, still serving a request
        self._retiring: set[asyncio.Task[None]] = set()

    def _take(self) -> _Lane:
        if self._idle:
            lane = self._idle.pop()
        else:
            lane = self._lanes[self._turn]
            self._turn = (self._turn + 1) % len(self._lanes)
        lane.in_flight += 1
        return lane

    async def retire(self, lane: _Lane) -> None:
        # Closed in a task of its own, awaited here: should the caller be cancelled
        # again meanwhile, the close still finishes (and aclose waits for it).
        closing = asyncio.ensure_future(lane.pool.aclose())
        self._retiring.add(closing)
        closing.add_done_callback(self._retiring.discard)
        await asyncio.shield(closing)

    def release(self, lane: _Lane, *, spoiled: bool) -> bool:
        """Hand ``lane`` back; True when it is spoiled and done, to be closed."""
        lane.in_flight -= 1
        if spoiled and not lane.spoiled:
            lane.spoiled = True
            fresh = self._lanes[self._lanes.index(lane)] = _Lane(self._context)
            self._idle.append(fresh)
            self._draining.add(lane)
        if lane.in_flight:
            return False
        if not lane.spoiled:
            self._idle.append(lane)
            return False
        self._draining.discard(lane)
        return True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        lane = self._take()
        try:
            response = await lane.pool.handle_async_request(request)
        except BaseException as exc:
            if self.release(lane, spoiled=isinstance(exc, _INTERRUPTED)):
                await self.retire(lane)
            raise
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        response.stream = _LaneBody(stream, self, lane)
        return response

    async def aclose(self) -> None:
        for lane in [*self._lanes, *self._draining]:
            await lane.pool.aclose()
        if self._retiring:
            await asyncio.gather(*self._retiring)


class _QuietRequest(httpx.Request):
    """httpx's request, whose repr would show the URL with the access token."""

    def __repr__(self) -> str:
        return f"<Request({self.method!r}, {self.url.host!r})>"


class _HttpxResponse:
    __slots__ = ("_host", "_response")

    def __init__(self, response: httpx.Response, host: str) -> None:
        self._response = response
        self._host = host

    @property
    def status_code(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    async def read(self) -> bytes:
        response = self._response
        if not identity(response.headers.get("content-encoding", "")):
            return b"".join([chunk async for chunk in self.iter_bytes()])
        try:
            return await response.aread()  # framed by the answer's length, nothing inflated
        except httpx.HTTPError as exc:
            error = _translate(exc, self._host, sent=True)
        raise error

    async def iter_bytes(self, chunk_size: int = 65536) -> AsyncIterator[bytes]:
        # The raw bytes as they arrive, inflated here a bounded chunk at a time: httpx's
        # own decoding inflates each network read whole (a gzip bomb at once), and its
        # aiter_bytes(chunk_size) holds bytes back, which would look like a stall.
        raw = self._response.aiter_raw()
        encoding = self._response.headers.get("content-encoding", "")
        try:
            async for chunk in decoded_chunks(raw, encoding, chunk_size):
                yield chunk
        except httpx.HTTPError as exc:
            error = _translate(exc, self._host, sent=True)
        else:
            return
        raise error

    async def aclose(self) -> None:
        await self._response.aclose()

    def __repr__(self) -> str:  # never the URL: its query holds the token
        return f"<HTTP {self._response.status_code} from {self._host}>"


class HttpxTransport:
    """Sends requests with an :class:`httpx.AsyncClient`.

    Give ``client`` to reuse your own (it is then yours to close, and its pool is used
    as it is). Otherwise one is made that spreads requests over ``max_connections``
    single-connection pools (see ``_Lanes``; with ``http2=True``, one pool, since
    HTTP/2 multiplexes on one connection), and closed by :meth:`aclose`.
    """

    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        *,
        max_connections: int = DEFAULT_CONNECTIONS,
        http2: bool = False,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be >= 1")
        self.default_concurrency = AdaptiveLimit.for_pool(max_connections)
        logging.getLogger("httpx").addFilter(_REDACT_TOKENS)  # no-op when already added
        self._owns_client = client is None
        if client is None:
            limits = httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            )
            client = httpx.AsyncClient(
                limits=limits, http2=http2, trust_env=False,
                transport=None if http2 else _Lanes(max_connections),
            )
        self._client = client
        self._timeouts: dict[Timeout, httpx.Timeout] = {}
        self._closed = False

    def _timeout(self, timeout: Timeout) -> httpx.Timeout:
        # Built once per distinct Timeout, not per call.
        cached = self._timeouts.get(timeout)
        if cached is None:
            cached = httpx.Timeout(
                connect=timeout.connect, read=timeout.read, write=timeout.read,
                pool=timeout.total,
            )
            self._timeouts[timeout] = cached
        return cached

    async def send(self, request: HttpRequest) -> _HttpxResponse:
        if self._closed:
            raise WxaTransportError("the transport is closed", request_sent=False)
        extra: dict[str, Any] = {}
        if request.content is not None:
            extra["content"] = request.content
        try:
            built = self._client.build_request(
                request.method, request.url, params=request.params, headers=request.headers,
                timeout=self._timeout(request.timeout), **extra,
            )
            built.__class__ = _QuietRequest  # reachable as response.request
            response = await self._client.send(built, stream=True, follow_redirects=False)
        except httpx.HTTPError as exc:
            error = _translate(exc, _host(request.url), sent=True)
        else:
            return _HttpxResponse(response, built.url.host)
        raise error

    async def aclose(self) -> None:
        """Close the pool this transport made; one it was given stays open. Closing
        twice is harmless."""
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            await self._client.aclose()

    def __repr__(self) -> str:
        return f"HttpxTransport(max_connections={self.default_concurrency.max})"
