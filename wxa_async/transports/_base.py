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

import zlib
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

if TYPE_CHECKING:
    from .._limit import AdaptiveLimit

__all__ = [
    "DEFAULT_CONNECTIONS", "BytesResponse", "HttpRequest", "HttpResponse", "Timeout",
    "Transport", "declared_length", "decoded_chunks", "identity",
]


@attrs.frozen
class Timeout:
    """Time limits in seconds for one attempt of one call.

    ``connect``: establishing a connection; ``read``: the longest wait for the next
    bytes (the first ones of the answer, then each chunk of a streamed binary body);
    ``total``: the whole attempt, body included. ``None`` disables a limit; a limit is
    a positive number (0 and negative ones are refused with
    :class:`~wxa_async.WxaValidationError`).

    :class:`WxaClient` enforces ``read`` and ``total`` itself, for every transport, and
    hands transports ``read=None`` (the loop timer an HTTP library re-arms on every
    socket read costs more than the limit is worth), except with ``connect=None``,
    when only the transport can tell connecting from waiting. A JSON answer must be
    complete within ``connect + read`` of the attempt's start (or ``total``, if
    smaller); a binary body must keep arriving with gaps under ``read``. A transport
    given a ``read`` limit must honour it.
    """

    connect: float | None = attrs.field(default=5.0, validator=lambda *a: _limit(*a))
    read: float | None = attrs.field(default=15.0, validator=lambda *a: _limit(*a))
    total: float | None = attrs.field(default=60.0, validator=lambda *a: _limit(*a))

    @classmethod
    def coerce(cls, value: Timeout | float | None) -> Timeout:
        """A number sets all three limits to it; ``None`` disables them all."""
        if isinstance(value, Timeout):
            return value
        if value is None:
            return cls(None, None, None)
        if isinstance(value, bool):
            return cls(value, value, value)  # refused by the validators, by name
        seconds = float(value)
        return cls(seconds, seconds, seconds)


def _limit(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        from ..errors import WxaValidationError

        raise WxaValidationError(
            f"timeout {attribute.name}: must be a positive number of seconds, or None "
            f"for no limit; got {value!r}"
        )


#: The pool of the network transports: it bounds the client's default AdaptiveLimit,
#: which starts at 32 in flight and grows only while the service's latency leaves this
#: process's CPU room; connections are opened as the limit needs them.
DEFAULT_CONNECTIONS = 256


def identity(encoding: str) -> bool:
    """Is a ``Content-Encoding`` value the identity (no compression)?"""
    return not encoding or encoding.strip().lower() == "identity"


def declared_length(headers: Mapping[str, str]) -> int | None:
    """The body's length as the headers declare it, when it is not compressed (then
    it is the length of what the caller will read); else None."""
    length = headers.get("content-length")
    if length is None or not length.isdigit() or not identity(
        headers.get("content-encoding", "")
    ):
        return None
    return int(length)


def decoded_chunks(
    raw: AsyncIterator[bytes], encoding: str, chunk_size: int = 65536
) -> AsyncIterator[bytes]:
    """The body of ``raw`` (its bytes as they arrive) decoded by the answer's
    ``Content-Encoding``, in chunks of at most ``chunk_size``: a compressed body is
    inflated a chunk at a time, so a small body that inflates to gigabytes never
    exists in memory at once, and a size limit counts decoded bytes."""
    name = encoding.strip().lower()
    if name in ("", "identity"):
        return _split(raw, chunk_size)
    if name in ("gzip", "x-gzip"):
        return _inflate(raw, 16 + zlib.MAX_WBITS, chunk_size)
    if name == "deflate":
        return _inflate(raw, None, chunk_size)
    from ..errors import WxaDecodeError

    raise WxaDecodeError(f"unsupported Content-Encoding {name[:40]!r}", transient=False)


async def _split(raw: AsyncIterator[bytes], chunk_size: int) -> AsyncIterator[bytes]:
    async for chunk in raw:
        if len(chunk) <= chunk_size:
            if chunk:
                yield chunk
            continue
        for start in range(0, len(chunk), chunk_size):
            yield chunk[start : start + chunk_size]


async def _inflate(
    raw: AsyncIterator[bytes], wbits: int | None, chunk_size: int
) -> AsyncIterator[bytes]:
    inflater: Any = None
    try:
        async for data in raw:
            if inflater is None:
                # "deflate" is zlib-wrapped by the standard, raw in some servers' hands.
                bits = wbits if wbits is not None else (
                    zlib.MAX_WBITS if data[:1] == b"\x78" else -zlib.MAX_WBITS
                )
                inflater = zlib.decompressobj(bits)
            while True:
                out = inflater.decompress(data, chunk_size)
                if out:
                    yield out
                data = inflater.unconsumed_tail
                if not data and len(out) < chunk_size:
                    break
        if inflater is not None:
            tail = inflater.flush()
            for start in range(0, len(tail), chunk_size):
                yield tail[start : start + chunk_size]
    except zlib.error:
        pass
    else:
        return
    from ..errors import WxaDecodeError

    raise WxaDecodeError("compressed body is corrupt", is_json=False, transient=False)


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

    async def read(self) -> bytes:
        """The whole body, decoded. The client reads a JSON answer this way only when
        its ``Content-Length`` is declared, within the size limit, and it is not
        compressed; then the body must be framed by that length (HTTP's own rule), so
        no more than it can arrive."""
        ...

    def iter_bytes(self, chunk_size: int = 65536) -> AsyncIterator[bytes]:
        """The body, decoded (decompressed), in chunks of at most ``chunk_size`` bytes,
        each handed on as soon as it arrives: the client's read limit watches the gaps
        between them and its size limits count them, so no chunk may be bigger (see
        :func:`decoded_chunks`)."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Transport(Protocol):
    """What :class:`~wxa_async.WxaClient` needs from an HTTP library."""

    @property
    def default_concurrency(self) -> int | AdaptiveLimit:
        """How many calls the client lets through at once when the caller sets no
        limit: a number, or an :class:`~wxa_async.AdaptiveLimit` (the network
        transports' choice)."""
        ...

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
