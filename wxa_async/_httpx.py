"""The default transport, on httpx."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from ._errors import WxaTimeoutError, WxaTransportError
from ._transport import HttpRequest, Timeout

__all__ = ["HttpxTransport"]

# httpcore's pool does work proportional to open connections x waiting requests on
# every event, so throughput collapses when many more requests than connections are
# queued in it. The client's concurrency gate keeps the queue empty: at most this many
# calls reach httpx at once, and the pool has a connection for each. Even then its cost
# grows with the number of connections: measured on 2 cores against a loopback server
# (benchmarks/bench.py), calls/s at 1/4/8/16/32/64 in flight were about
# 1500/1370/1040/650/350/240. 16 keeps most of that while still overlapping 16 network
# round trips, which is what real WeChat latency (tens of ms) needs.
_DEFAULT_CONCURRENCY = 16


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
def _translate(exc: httpx.HTTPError, *, sent: bool) -> WxaTransportError:
    name = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        never_sent = isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
        return WxaTimeoutError(f"timed out ({name})", request_sent=sent and not never_sent)
    never_sent = isinstance(exc, httpx.ConnectError)
    return WxaTransportError(f"connection failed ({name})", request_sent=sent and not never_sent)


class _HttpxResponse:
    __slots__ = ("_response",)

    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status_code(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    async def read(self) -> bytes:
        try:
            return await self._response.aread()
        except httpx.HTTPError as exc:
            error = _translate(exc, sent=True)
        raise error

    async def iter_bytes(self, chunk_size: int = 65536) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_bytes(chunk_size):
                yield chunk
        except httpx.HTTPError as exc:
            error = _translate(exc, sent=True)
        else:
            return
        raise error

    async def aclose(self) -> None:
        await self._response.aclose()


class HttpxTransport:
    """Sends requests with an :class:`httpx.AsyncClient`.

    Give ``client`` to reuse your own (it is then yours to close); otherwise one is made
    with a connection pool of ``max_connections`` and closed by :meth:`aclose`.
    """

    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        *,
        max_connections: int = _DEFAULT_CONCURRENCY,
        http2: bool = False,
    ) -> None:
        self.default_concurrency = max_connections
        logging.getLogger("httpx").addFilter(_REDACT_TOKENS)  # no-op when already added
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            http2=http2,
            trust_env=False,
        )
        self._timeouts: dict[Timeout, httpx.Timeout] = {}

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
        extra: dict[str, Any] = {}
        if request.content is not None:
            extra["content"] = request.content
        try:
            built = self._client.build_request(
                request.method, request.url, params=request.params, headers=request.headers,
                timeout=self._timeout(request.timeout), **extra,
            )
            response = await self._client.send(built, stream=True)
        except httpx.HTTPError as exc:
            error = _translate(exc, sent=True)
        else:
            return _HttpxResponse(response)
        raise error

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    def __repr__(self) -> str:
        return f"HttpxTransport(default_concurrency={self.default_concurrency})"
