"""A transport on aiohttp (the ``aiohttp`` extra): the fastest for bulk work.

Imported only when :class:`AiohttpTransport` is first used, so ``import wxa_async``
never needs aiohttp.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

import aiohttp
import yarl

from .._limit import AdaptiveLimit
from ..errors import WxaTimeoutError, WxaTransportError
from ._base import DEFAULT_CONNECTIONS, HttpRequest, Timeout, decoded_chunks, identity

__all__ = ["AiohttpTransport"]

_URL_CACHE_SIZE = 256


# aiohttp errors can carry the request (its URL holds the token) and their text may show
# it, so only the type name is kept, and the translated error is raised outside the
# `except` block: nothing of the aiohttp error stays reachable through __context__.
def _translate(exc: BaseException, host: str) -> WxaTransportError:
    name = type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        # Raised while waiting for a pooled connection or connecting: nothing was sent.
        return WxaTimeoutError(f"{host}: timed out (connect limit, {name})", request_sent=False)
    if isinstance(exc, TimeoutError):
        return WxaTimeoutError(f"{host}: timed out (read limit, {name})", request_sent=True)
    # ClientConnectorError covers refused, unreachable and DNS failures: the connection
    # never opened, so the request never left.
    never_sent = isinstance(exc, aiohttp.ClientConnectorError)
    return WxaTransportError(
        f"connection to {host} failed ({name})", request_sent=not never_sent
    )


class _AiohttpResponse:
    __slots__ = ("_host", "_response")

    def __init__(self, response: aiohttp.ClientResponse, host: str) -> None:
        self._response = response
        self._host = host

    @property
    def status_code(self) -> int:
        return self._response.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers  # case-insensitive (CIMultiDictProxy)

    async def read(self) -> bytes:
        response = self._response
        if not identity(response.headers.get("Content-Encoding", "")):
            return b"".join([chunk async for chunk in self.iter_bytes()])
        try:
            return await response.read()  # framed by the answer's length, nothing inflated
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = _translate(exc, self._host)
        raise error

    async def iter_bytes(self, chunk_size: int = 65536) -> AsyncIterator[bytes]:
        # Requests go out with auto_decompress=False: the body is inflated here, a
        # bounded chunk at a time, where aiohttp inflates each network read whole.
        raw = self._response.content.iter_chunked(chunk_size)
        encoding = self._response.headers.get("Content-Encoding", "")
        try:
            async for chunk in decoded_chunks(raw, encoding, chunk_size):
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = _translate(exc, self._host)
        else:
            return
        raise error

    async def aclose(self) -> None:
        # Back to the pool when the body was read whole; a half-read connection is closed.
        self._response.release()

    def __repr__(self) -> str:  # never the URL: its query holds the token
        return f"<HTTP {self._response.status} from {self._host}>"


class _QuietResponse(aiohttp.ClientResponse):
    """aiohttp's response, whose repr (and request info) would show the URL with the
    access token."""

    def __repr__(self) -> str:
        return f"<ClientResponse({self.url.host}) [{self.status}]>"

    @property
    def request_info(self) -> aiohttp.RequestInfo:
        info = super().request_info
        return aiohttp.RequestInfo(
            info.url.with_query(None), info.method, info.headers,
            info.real_url.with_query(None),
        )


class _QuietRequest(aiohttp.ClientRequest):
    def __repr__(self) -> str:
        return f"<ClientRequest({self.method} {self.url.host})>"


class AiohttpTransport:
    """Sends requests with an :class:`aiohttp.ClientSession`.

    Give ``session`` to reuse your own (it is then yours to close; its connector's limit
    becomes the default concurrency). Otherwise a session with a pool of
    ``max_connections`` is created on first use, inside the running event loop, and
    closed by :meth:`aclose`.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        max_connections: int = DEFAULT_CONNECTIONS,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be >= 1")
        self._session = session
        self._owns_session = session is None
        self._max_connections = max_connections
        limit = session.connector.limit if session is not None and session.connector else 0
        # A limit of 0 means "unlimited" in aiohttp: fall back to our default then.
        self.default_concurrency = AdaptiveLimit.for_pool(limit or max_connections)
        self._timeouts: dict[Timeout, aiohttp.ClientTimeout] = {}
        self._urls: dict[tuple[object, ...], yarl.URL] = {}
        self._closed = False

    def _get_session(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None:
            if self._closed:
                raise WxaTransportError("the transport is closed", request_sent=False)
            # Created here, not in __init__: aiohttp binds a session to the running loop.
            session = self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._max_connections, limit_per_host=self._max_connections
                ),
                trust_env=False, response_class=_QuietResponse, request_class=_QuietRequest,
            )
        return session

    def _timeout(self, timeout: Timeout) -> aiohttp.ClientTimeout:
        # Built once per distinct Timeout, not per call. The total is the client's job.
        # The connect limit is armed only when a connection is opened (sock_connect),
        # not on every request's pool checkout (connect): the client's gate keeps
        # requests within the pool, and its own deadline bounds any wait there.
        cached = self._timeouts.get(timeout)
        if cached is None:
            cached = self._timeouts[timeout] = aiohttp.ClientTimeout(
                total=None, connect=None, sock_connect=timeout.connect,
                sock_read=timeout.read,
            )
        return cached

    def _url(self, request: HttpRequest) -> yarl.URL:
        # Handing aiohttp a finished URL object spares it parsing the string, merging
        # the query and recomputing the URL's parts (yarl caches them on the object).
        # A URL holds one app's token, so this pays off when an app calls the same
        # endpoint again (polling an audit, a retry); calls spread over many apps miss.
        # Bounded: the oldest entry goes first.
        key = (request.url, *request.params.items())
        url = self._urls.get(key)
        if url is None:
            if len(self._urls) >= _URL_CACHE_SIZE:
                del self._urls[next(iter(self._urls))]
            url = self._urls[key] = yarl.URL(request.url).with_query(request.params)
        return url

    async def send(self, request: HttpRequest) -> _AiohttpResponse:
        session = self._get_session()
        url = self._url(request)
        try:
            response = await session.request(
                request.method, url, data=request.content,
                headers=request.headers, timeout=self._timeout(request.timeout),
                allow_redirects=False, raise_for_status=False, auto_decompress=False,
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = _translate(exc, url.host or "")
        else:
            return _AiohttpResponse(response, url.host or "")
        raise error

    async def aclose(self) -> None:
        self._closed = True
        session = self._session
        if self._owns_session and session is not None:
            self._session = None
            await session.close()
            # Let the transports' connection_lost callbacks run before the loop may close.
            await asyncio.sleep(0)

    def __repr__(self) -> str:
        return f"AiohttpTransport(max_connections={self.default_concurrency.max})"
