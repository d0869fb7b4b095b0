"""WxaClient: pacing, token lookup, retries and errcode mapping, once for every endpoint."""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, Self, TypeVar

import attrs

from ._converter import decode_response
from ._deadline import Deadline, Deadlines
from ._handle import MiniProgram
from ._sinks import Sink
from .bulk import BulkResult, ProgressCallback, bulk
from .endpoints import EndpointSpec
from .errors import (
    WxaDecodeError,
    WxaError,
    WxaSystemBusyError,
    WxaTimeoutError,
    WxaTokenError,
    WxaTransportError,
    raise_for_errcode,
)
from .models import WxaRequest
from .tokens._protocol import TokenProvider
from .transports._base import HttpRequest, HttpResponse, Timeout, Transport

__all__ = ["DEFAULT_BASE_URL", "WxaClient"]

DEFAULT_BASE_URL = "https://api.weixin.qq.com"

_log = logging.getLogger("wxa_async")
T = TypeVar("T")

_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
_NO_HEADERS: dict[str, str] = {}
# An error answer to a binary endpoint is a small JSON object; never buffer more.
_MAX_ERROR_BODY = 1 << 20
_UNSET: Any = object()
_DEFAULT_TIMEOUT = Timeout()


def _sum(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


class _Shared:
    """State every ``with_options`` view of one client shares."""

    __slots__ = (
        "close_provider", "closed", "concurrency", "deadlines", "gate", "owns_transport",
        "provider", "retry_counts", "transport", "urls",
    )

    def __init__(
        self, transport: Transport, owns_transport: bool, provider: TokenProvider,
        close_provider: bool, max_concurrency: int,
    ) -> None:
        self.transport = transport
        self.owns_transport = owns_transport
        self.provider = provider
        self.close_provider = close_provider
        self.concurrency = max_concurrency
        self.gate = asyncio.Semaphore(max_concurrency)
        self.deadlines = Deadlines()
        self.urls: dict[str, str] = {}
        self.retry_counts: collections.Counter[str] = collections.Counter()
        self.closed = False


class WxaClient:
    """The entry point: ``async with WxaClient(token_provider=...) as client``.

    Parameters
    ----------
    token_provider:
        Gives each mini program's authorizer access token (:class:`TokenProvider`).
    base_url:
        ``https://api.weixin.qq.com``; an emulator or a proxy may be given.
    transport:
        ``None`` makes an :class:`HttpxTransport` that the client closes.
    timeout:
        A :class:`Timeout` or a number of seconds for connect, read and total.
    max_retries:
        Retries of an idempotent read after errcode -1, HTTP 5xx or 429, a body that is
        not JSON, a timeout or a connection failure (default 3). Mutations are retried
        only when the request certainly never left (connection refused).
    max_concurrency:
        How many calls are in flight at once; more wait in the client, not in the HTTP
        library's pool. ``None`` takes the transport's ``default_concurrency``.
    retry_deadline:
        No retry starts later than this many seconds after the first attempt.
    close_token_provider:
        Also close the provider (its ``aclose``) when the client closes.
    """

    def __init__(
        self,
        token_provider: TokenProvider,
        base_url: str = DEFAULT_BASE_URL,
        transport: Transport | None = None,
        *,
        timeout: Timeout | float | None = _DEFAULT_TIMEOUT,
        max_retries: int = 3,
        max_concurrency: int | None = None,
        retry_deadline: float = 30.0,
        close_token_provider: bool = False,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        owns = transport is None
        if transport is None:
            from .transports._httpx import HttpxTransport

            transport = HttpxTransport()
        # `is None`, not `or`: max_concurrency=0 is a mistake to report, not "default".
        concurrency = (
            transport.default_concurrency if max_concurrency is None else max_concurrency
        )
        if concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        self._shared = _Shared(transport, owns, token_provider, close_token_provider, concurrency)
        self._base_url = base_url.rstrip("/")
        self._set_timeout(Timeout.coerce(timeout))
        self._max_retries = max_retries
        self._retry_deadline = retry_deadline
        self._apps: dict[str, MiniProgram] = {}

    # -- public surface -------------------------------------------------------------

    def app(self, appid: str) -> MiniProgram:
        """The handle of one mini program; its methods are the endpoint table's."""
        handle = self._apps.get(appid)
        if handle is None:
            if not isinstance(appid, str) or not appid:
                from .errors import WxaValidationError

                raise WxaValidationError("appid: must be a non-empty string")
            handle = self._apps[appid] = MiniProgram(self, appid)
        return handle

    def with_options(
        self,
        *,
        timeout: Timeout | float | None = _UNSET,
        max_retries: int = _UNSET,
        retry_deadline: float = _UNSET,
    ) -> WxaClient:
        """A view of this client with other per-call options; it shares the transport,
        the token provider and the concurrency gate, and needs no closing."""
        if max_retries is not _UNSET and max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        view = object.__new__(WxaClient)
        view._shared = self._shared
        view._base_url = self._base_url
        view._set_timeout(self._timeout if timeout is _UNSET else Timeout.coerce(timeout))
        view._max_retries = self._max_retries if max_retries is _UNSET else max_retries
        view._retry_deadline = (
            self._retry_deadline if retry_deadline is _UNSET else retry_deadline
        )
        view._apps = {}
        return view

    def _set_timeout(self, timeout: Timeout) -> None:
        self._timeout = timeout
        # The client enforces every time limit but the connect one with its coarse
        # deadlines (one sweep timer for all calls), and transports get no per-read
        # limit: the loop timers an HTTP library re-arms on every read cost 9 % of JSON
        # throughput on aiohttp. An attempt must see its first bytes within
        # connect + read (and total); a JSON answer (a few hundred bytes) must then be
        # complete, and a binary body must keep arriving with gaps under ``read``.
        limits = [t for t in (timeout.total, _sum(timeout.connect, timeout.read)) if t]
        self._first_limit = min(limits) if limits else None
        self._wire_timeout = attrs.evolve(timeout, read=None)

    @property
    def transport(self) -> Transport:
        return self._shared.transport

    @property
    def token_provider(self) -> TokenProvider:
        return self._shared.provider

    @property
    def timeout(self) -> Timeout:
        return self._timeout

    @property
    def max_retries(self) -> int:
        return self._max_retries

    @property
    def max_concurrency(self) -> int:
        """How many calls this client lets through at once (shared by its views)."""
        return self._shared.concurrency

    async def bulk(
        self,
        appids: Iterable[str],
        operation: Callable[[MiniProgram], Awaitable[T]],
        *,
        concurrency: int | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> BulkResult[T]:
        """Run ``operation(client.app(appid))`` for every appid, at most ``concurrency``
        at once (default: :attr:`max_concurrency`); every appid's value or error is
        kept, one failure never cancels the others, cancelling cancels them all.

        ``result = await client.bulk(appids, lambda app: app.release())``"""
        return await bulk(
            self, appids, operation, concurrency=concurrency, on_progress=on_progress
        )

    @property
    def retry_counts(self) -> collections.Counter[str]:
        """Retries made so far, by endpoint name (token refreshes count as ``token``)."""
        return self._shared.retry_counts

    async def aclose(self) -> None:
        shared = self._shared
        if shared.closed:
            return
        shared.closed = True
        shared.deadlines.close()
        if shared.owns_transport:
            await shared.transport.aclose()
        if shared.close_provider:
            closer = getattr(shared.provider, "aclose", None)
            if closer is not None:
                await closer()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"WxaClient(base_url={self._base_url!r}, transport={self._shared.transport!r})"

    # -- the one call path ------------------------------------------------------------

    async def _execute(
        self, appid: str, endpoint: EndpointSpec, request: WxaRequest, sink: Sink | None
    ) -> Any:
        """Run one endpoint call with token lookup, retries and error mapping.

        Returns the response model, or for a binary endpoint the bytes written to
        ``sink``."""
        shared = self._shared
        if shared.closed:
            raise WxaError("the client is closed")
        params, content = endpoint.encode(request)
        loop = asyncio.get_running_loop()
        started = loop.time()
        attempt = 0
        token_retried = False
        while True:
            token = await shared.provider.get_token(appid)
            try:
                return await self._attempt(endpoint, token, params, content, sink)
            except WxaTokenError:
                # The service rejected the token before doing anything: safe to retry
                # any endpoint once with a fresh token. A provider that cannot refresh
                # hands back the same token, and the error surfaces the second time.
                if token_retried:
                    raise
                token_retried = True
                shared.retry_counts["token"] += 1
                await shared.provider.invalidate(appid, token)
            except (WxaSystemBusyError, WxaTransportError) as exc:
                delay = self._retry_delay(endpoint, exc, attempt, loop.time() - started)
                if delay is None or (sink is not None and not sink.reset()):
                    raise
                attempt += 1
                shared.retry_counts[endpoint.name] += 1
                _log.debug(
                    "retrying %s for %s in %.2fs after %s (attempt %d)",
                    endpoint.name, appid, delay, type(exc).__name__, attempt,
                )
                await asyncio.sleep(delay)

    def _retry_delay(
        self, endpoint: EndpointSpec, exc: WxaError, attempt: int, elapsed: float
    ) -> float | None:
        """Seconds to wait before the next attempt, or None for no retry."""
        if attempt >= self._max_retries or (isinstance(exc, WxaDecodeError) and exc.is_json):
            return None
        if isinstance(exc, WxaTransportError) and not exc.request_sent:
            pass  # never reached the service: safe even for a mutation
        elif not endpoint.idempotent:
            return None  # the mutation may have been applied: never repeat it
        elif isinstance(exc, WxaTransportError) and exc.status_code is not None and not (
            exc.status_code >= 500 or exc.status_code == 429
        ):
            return None
        # Exponential backoff with "equal jitter": half fixed, half random, capped.
        ceiling = min(0.1 * 2.0**attempt, 2.0)
        delay = ceiling / 2 + random.uniform(0, ceiling / 2)
        if elapsed + delay > self._retry_deadline:
            return None
        return delay

    async def _attempt(
        self, endpoint: EndpointSpec, token: str, params: dict[str, str],
        content: bytes | None, sink: Sink | None,
    ) -> Any:
        shared = self._shared
        url = shared.urls.get(endpoint.path)
        if url is None:
            url = shared.urls[endpoint.path] = f"{self._base_url}/{endpoint.path}"
        request = HttpRequest(
            endpoint.method, url, {**params, "access_token": token}, content,
            _JSON_HEADERS if content is not None else _NO_HEADERS, self._wire_timeout,
        )
        limit = self._first_limit
        timeout = self._timeout
        async with shared.gate:
            deadline = None if limit is None else shared.deadlines.start(
                limit, cap=timeout.total, gap=None if sink is None else timeout.read
            )
            try:
                response = await shared.transport.send(request)
                try:
                    if sink is None:
                        return await self._read_json(endpoint, response)
                    return await self._read_binary(endpoint, response, sink, deadline)
                finally:
                    await response.aclose()
            except asyncio.CancelledError:
                if deadline is None or not deadline.timed_out():
                    raise
                timed_out = WxaTimeoutError(
                    f"{endpoint.name}: {self._overrun(deadline, limit)}",
                    endpoint=endpoint.name,
                )
            except WxaTransportError as exc:
                if exc.endpoint is None:
                    exc.endpoint = endpoint.name
                raise
            finally:
                if deadline is not None:
                    shared.deadlines.stop(deadline)
        # Raised here, outside the except block, so no CancelledError rides along as
        # __context__.
        raise timed_out

    def _overrun(self, deadline: Deadline, limit: float | None) -> str:
        """Which limit a timed-out attempt ran into, for the error message."""
        if deadline.stalled():
            return f"no data for {deadline.gap} s"
        if limit == self._timeout.total:
            return f"no complete answer within {limit} s"
        return f"no answer within {limit} s (connect + read)"

    @staticmethod
    def _check_status(endpoint: EndpointSpec, response: HttpResponse) -> None:
        status = response.status_code
        if status >= 400:
            raise WxaTransportError(
                f"{endpoint.name}: HTTP {status}", endpoint=endpoint.name, status_code=status
            )

    @staticmethod
    def _parse(endpoint: EndpointSpec, body: bytes) -> Any:
        try:
            # Decoding first spares json.loads its encoding detection; the service
            # answers UTF-8. UnicodeDecodeError is a ValueError.
            payload = json.loads(body.decode())
        except (ValueError, RecursionError):  # RecursionError: absurdly nested JSON
            raise WxaDecodeError(
                f"{endpoint.name}: answer is not JSON ({len(body)} bytes)",
                endpoint=endpoint.name, is_json=False,
            ) from None
        raise_for_errcode(payload, endpoint.name)
        return payload

    async def _read_json(self, endpoint: EndpointSpec, response: HttpResponse) -> Any:
        self._check_status(endpoint, response)
        body = await response.read()
        payload = self._parse(endpoint, body)
        return decode_response(
            payload, endpoint.response, endpoint.name, may_hold_nulls=b"null" in body
        )

    async def _read_binary(
        self, endpoint: EndpointSpec, response: HttpResponse, sink: Sink,
        deadline: Deadline | None,
    ) -> int:
        self._check_status(endpoint, response)
        content_type = response.headers.get("content-type", "").lower()
        chunks = aiter(response.iter_bytes())
        first = await anext(chunks, b"")
        # The service answers errors to a binary endpoint as JSON, not always labelled
        # as such; no image format starts with "{", so sniff the first bytes too.
        looks_json = content_type.startswith(("application/json", "text/"))
        if looks_json or first.lstrip()[:1] == b"{":
            body = bytearray(first)
            async for chunk in chunks:
                body += chunk
                if len(body) > _MAX_ERROR_BODY:
                    raise WxaDecodeError(
                        f"{endpoint.name}: {content_type} answer larger than "
                        f"{_MAX_ERROR_BODY} bytes", endpoint=endpoint.name,
                    )
            self._parse(endpoint, bytes(body))
            raise WxaDecodeError(
                f"{endpoint.name}: expected binary content, got {content_type} without errcode",
                endpoint=endpoint.name,
            )
        # The read limit is a gap between chunks: each one moves the attempt's deadline
        # (one clock read per 64 KiB, where a transport's per-read timer would arm a
        # loop timer per socket read).
        sink.write(first)
        written = len(first)
        if deadline is not None:
            deadline.progress()
        async for chunk in chunks:
            sink.write(chunk)
            written += len(chunk)
            if deadline is not None:
                deadline.progress()
        return written
