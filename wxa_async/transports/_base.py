"""The transport seam: moving bytes and nothing else.

A transport sends one :class:`HttpRequest` and hands back an :class:`HttpResponse`
whose headers have arrived and whose body can be read whole or iterated in chunks.
Retries, tokens, JSON, errors and pacing live above it, once, for every transport.

Contract for implementations:

* every failure (connect, timeout, protocol) is raised as
  :class:`~wxa_async.WxaTransportError` (or :class:`~wxa_async.WxaTimeoutError`), with
  ``request_sent=False`` only when the request certainly never left the process;
* the message never contains the URL's query string (it carries the access token);
* ``HttpResponse.aclose()`` must always be safe to call, also after a full read.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from typing import Protocol, runtime_checkable

import attrs

__all__ = ["BytesResponse", "HttpRequest", "HttpResponse", "Timeout", "Transport"]


@attrs.frozen
class Timeout:
    """Time limits in seconds for one attempt of one call.

    ``connect``: establishing a connection; ``read``: the longest wait for the next
    bytes (the first ones of the answer, then each chunk of a streamed binary body);
    ``total``: the whole attempt, body included. ``None`` disables a limit.

    :class:`WxaClient` enforces ``read`` and ``total`` itself, for every transport, with
    one coarse sweep timer (at most 0.5 s late), and hands transports ``read=None``:
    the loop timer an HTTP library re-arms on every socket read costs more than the
    limit is worth. A JSON answer (a few hundred bytes) must be complete within
    ``connect + read`` of the attempt's start (or ``total``, if smaller). A transport
    given a ``read`` limit directly must still honour it.
    """

    connect: float | None = 5.0
    read: float | None = 15.0
    total: float | None = 60.0

    @classmethod
    def coerce(cls, value: Timeout | float | None) -> Timeout:
        """A number sets all three limits to it; ``None`` disables them all."""
        if isinstance(value, Timeout):
            return value
        if value is None:
            return cls(None, None, None)
        seconds = float(value)
        return cls(seconds, seconds, seconds)


_SECRET_PARAMS = frozenset({"access_token", "component_access_token"})
_DEFAULT_TIMEOUT = Timeout()


class HttpRequest:
    """One HTTP request as the client hands it to a transport.

    ``url`` has no query string; ``params`` holds the query (the access token included),
    so transports encode it once and nothing else ever formats it into text.
    ``content`` is bytes, or for an upload an async iterable of chunks whose length
    ``headers`` give (``Content-Length``): transports stream it as it comes. One is
    built per attempt.
    """

    __slots__ = ("content", "headers", "method", "params", "timeout", "url")

    def __init__(
        self,
        method: str,
        url: str,
        params: Mapping[str, str],
        content: bytes | AsyncIterable[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: Timeout = _DEFAULT_TIMEOUT,
    ) -> None:
        self.method = method
        self.url = url
        self.params = params
        self.content = content
        self.headers: Mapping[str, str] = {} if headers is None else headers
        self.timeout = timeout

    def __repr__(self) -> str:  # never show credentials
        shown = {k: ("***" if k in _SECRET_PARAMS else v) for k, v in self.params.items()}
        return f"HttpRequest({self.method} {self.url} params={shown})"


@runtime_checkable
class HttpResponse(Protocol):
    """An answer whose status and headers have arrived; the body is still to be read."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]:
        """Case-insensitive, or with lower-case keys."""
        ...

    async def read(self) -> bytes: ...

    def iter_bytes(self, chunk_size: int = 65536) -> AsyncIterator[bytes]:
        """The body in chunks of at most ``chunk_size`` bytes, each handed on as soon
        as it arrives: the client's read limit watches the gaps between them."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Transport(Protocol):
    """What :class:`~wxa_async.WxaClient` needs from an HTTP library."""

    #: how many calls the client lets through at once when the caller sets no limit
    default_concurrency: int

    async def send(self, request: HttpRequest) -> HttpResponse: ...

    async def aclose(self) -> None: ...


class BytesResponse:
    """An :class:`HttpResponse` over bytes in memory or an iterable of chunks.

    Fakes and the emulator answer with it; ``chunks`` lets a test produce a large body
    lazily without holding it in memory.
    """

    __slots__ = ("_chunks", "_content", "headers", "status_code")

    def __init__(
        self,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        content: bytes = b"",
        chunks: Iterable[bytes] | AsyncIterator[bytes] | None = None,
    ) -> None:
        self.status_code = status_code
        self.headers: Mapping[str, str] = {k.lower(): v for k, v in (headers or {}).items()}
        self._content = content
        self._chunks = chunks

    async def read(self) -> bytes:
        if self._chunks is None:
            return self._content
        return b"".join([chunk async for chunk in self.iter_bytes()])

    async def iter_bytes(self, chunk_size: int = 65536) -> AsyncIterator[bytes]:
        if self._chunks is None:
            for start in range(0, len(self._content), chunk_size):
                yield self._content[start : start + chunk_size]
            return
        chunks, self._chunks = self._chunks, ()
        if isinstance(chunks, AsyncIterator):
            async for chunk in chunks:
                yield chunk
        else:
            for chunk in chunks:
                yield chunk

    async def aclose(self) -> None:
        closer = getattr(self._chunks, "aclose", None)
        self._chunks = () if self._chunks is not None else None
        if closer is not None:
            await closer()
