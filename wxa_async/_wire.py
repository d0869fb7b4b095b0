"""The one call path: every endpoint call, JSON or binary, from any handle or provider.

:meth:`Wire.call` runs the attempt loop (token lookup, the concurrency gate, retries by
the :class:`~wxa_async.RetryPolicy`), one attempt under its :class:`Deadline`, the read
of the answer and the errcode -> error mapping. The client and the component-token
provider each hold a :class:`Wire`; what varies per call (time limits, retries) comes
in a :class:`CallOptions`.
"""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import AsyncIterator, Awaitable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from . import telemetry
from ._converter import decode_response
from ._deadline import Deadline, Limits
from ._limit import AdaptiveGate, AdaptiveLimit, FixedGate, Gate
from ._retry import RetryPolicy
from ._sinks import Sink
from .endpoints import EndpointSpec
from .errors import (
    WxaDecodeError,
    WxaResponseTooLargeError,
    WxaSystemBusyError,
    WxaTokenError,
    WxaTransportError,
    WxaValidationError,
    raise_for_errcode,
)
from .transports._base import HttpRequest, HttpResponse, Timeout, Transport, declared_length
from .transports._multipart import MultipartBody

if TYPE_CHECKING:
    from .tokens._protocol import TokenProvider

__all__ = [
    "MAX_BINARY_BYTES", "MAX_FILE_BYTES", "MAX_JSON_BYTES", "AuthorizerCredential",
    "CallOptions", "ComponentCredential", "Credential", "Wire",
]


# Only encodings the transports inflate a bounded chunk at a time.
_ACCEPT = "gzip, deflate"
_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8", "Accept-Encoding": _ACCEPT}
_NO_HEADERS = {"Accept-Encoding": _ACCEPT}
#: A JSON body, an upload's multipart body (streamed by the transport), or none.
Body = bytes | MultipartBody | None


def _body_headers(content: Body) -> Mapping[str, str]:
    if type(content) is bytes:
        return _JSON_HEADERS
    if isinstance(content, MultipartBody):
        return {**content.headers, "Accept-Encoding": _ACCEPT}  # its boundary and length
    return _NO_HEADERS


class Credential(Protocol):
    """Where a call's token comes from, and how a rejected one is dropped
    (compare-and-clear, as :class:`~wxa_async.TokenProvider` does)."""

    def get(self) -> Awaitable[str]: ...

    async def invalidate(self, token: str) -> None: ...


# The credentials hand on the provider's awaitable rather than awaiting it in a
# coroutine of their own: one frame less on every call.
class AuthorizerCredential:
    """The authorizer access token of ``appid`` from a token provider."""

    __slots__ = ("appid", "provider")

    def __init__(self, provider: TokenProvider, appid: str) -> None:
        self.provider = provider
        self.appid = appid

    def get(self) -> Awaitable[str]:
        return self.provider.get_token(self.appid)

    async def invalidate(self, token: str) -> None:
        await self.provider.invalidate(self.appid, token)


class ComponentCredential:
    """The component access token from a token provider."""

    __slots__ = ("provider",)

    def __init__(self, provider: TokenProvider) -> None:
        self.provider = provider

    def get(self) -> Awaitable[str]:
        return self.provider.get_component_token()

    async def invalidate(self, token: str) -> None:
        await self.provider.invalidate_component_token(token)


#: Default size limits, in decoded bytes: real answers are kilobytes, a QR code tens of
#: kilobytes.
MAX_JSON_BYTES = 4 << 20
MAX_BINARY_BYTES = 16 << 20
MAX_FILE_BYTES = 64 << 20


def _size_limit(name: str, value: int | None) -> int | None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or value < 1
    ):
        raise WxaValidationError(f"{name}: must be a positive number of bytes, or None "
                                 f"for no limit; got {value!r}")
    return value


class CallOptions:
    """What one client (or ``with_options`` view) applies to each call: time limits,
    the retry policy and the size limits of answers."""

    __slots__ = ("limits", "max_binary_bytes", "max_file_bytes", "max_json_bytes", "retry",
                 "timeout")

    def __init__(
        self, timeout: Timeout, retry: RetryPolicy, *,
        max_json_bytes: int | None = MAX_JSON_BYTES,
        max_binary_bytes: int | None = MAX_BINARY_BYTES,
        max_file_bytes: int | None = MAX_FILE_BYTES,
    ) -> None:
        self.timeout = timeout
        self.limits = Limits(timeout)
        self.retry = retry
        self.max_json_bytes = _size_limit("max_json_bytes", max_json_bytes)
        self.max_binary_bytes = _size_limit("max_binary_bytes", max_binary_bytes)
        self.max_file_bytes = _size_limit("max_file_bytes", max_file_bytes)

    def replace(self, **changes: Any) -> CallOptions:
        """These options with some replaced (names as in ``__init__``)."""
        fields = {name: getattr(self, name) for name in (
            "timeout", "retry", "max_json_bytes", "max_binary_bytes", "max_file_bytes")}
        fields.update(changes)
        timeout, retry = fields.pop("timeout"), fields.pop("retry")
        return CallOptions(timeout, retry, **fields)


class Wire:
    """A transport, a base URL and the gate every attempt passes."""

    __slots__ = ("base_url", "concurrency", "gate", "retry_counts", "transport", "urls")

    def __init__(
        self, transport: Transport, base_url: str, concurrency: int | AdaptiveLimit
    ) -> None:
        self.transport = transport
        self.base_url = base_url.rstrip("/")
        self.gate: Gate = (AdaptiveGate(concurrency) if isinstance(concurrency, AdaptiveLimit)
                           else FixedGate(concurrency))
        self.concurrency = self.gate.max
        self.urls: dict[str, str] = {}
        self.retry_counts: collections.Counter[str] = collections.Counter()

    def call(
        self, options: CallOptions, endpoint: EndpointSpec, params: dict[str, str],
        content: Body, credential: Credential | None, sink: Sink | None,
        who: str = "",
    ) -> Coroutine[Any, Any, Any]:
        """One endpoint call, to await: the response model, or for a binary endpoint
        the number of bytes written to ``sink``. ``who`` (an appid) labels logs, spans
        and metrics."""
        observed = telemetry.probe(endpoint.name, who)
        if observed is None:  # the common case: no coroutine frame of its own
            return self._call(options, endpoint, params, content, credential, sink, None)
        return self._observed(observed, options, endpoint, params, content, credential, sink)

    async def _observed(
        self, observed: telemetry.CallProbe, options: CallOptions, endpoint: EndpointSpec,
        params: dict[str, str], content: Body, credential: Credential | None,
        sink: Sink | None,
    ) -> Any:
        with observed:
            return await self._call(options, endpoint, params, content, credential, sink,
                                    observed)

    async def _call(
        self, options: CallOptions, endpoint: EndpointSpec, params: dict[str, str],
        content: Body, credential: Credential | None, sink: Sink | None,
        observed: telemetry.CallProbe | None,
    ) -> Any:
        loop = asyncio.get_running_loop()
        retry = options.retry
        started: float | None = None  # when the first attempt left the gate
        attempt = 0
        token_retried = False
        token: str | None = None
        while True:
            if credential is not None and token is None:
                token = await credential.get()
            try:
                async with self.gate.slot():
                    if started is None:
                        started = loop.time()
                    return await self._attempt(options, endpoint, token, params, content, sink)
            except WxaTokenError as exc:
                # The service rejected the token before doing anything: safe to retry
                # any endpoint once with a fresh token. A provider that cannot refresh
                # hands back the same token: then there is nothing to retry with.
                if credential is None or token is None or token_retried:
                    raise
                token_retried = True
                await credential.invalidate(token)
                fresh = await credential.get()
                if fresh == token:
                    raise
                token = fresh
                self.retry_counts["token"] += 1
                if observed is not None:
                    observed.retry(exc, 0.0)
            except (WxaSystemBusyError, WxaTransportError) as exc:
                elapsed = 0.0 if started is None else loop.time() - started
                delay = retry.delay(endpoint, exc, attempt, elapsed)
                if delay is None or (sink is not None and not sink.reset()):
                    raise
                attempt += 1
                self.retry_counts[endpoint.name] += 1
                if observed is not None:
                    observed.retry(exc, delay)
                await retry.sleep(delay)
                token = None  # asked for again: it may have been refreshed meanwhile

    async def _attempt(
        self, options: CallOptions, endpoint: EndpointSpec, token: str | None,
        params: dict[str, str], content: Body, sink: Sink | None,
    ) -> Any:
        url = self.urls.get(endpoint.path)
        if url is None:
            url = self.urls[endpoint.path] = f"{self.base_url}/{endpoint.path}"
        if token is not None:
            params = {**params, endpoint.auth_param: token}
        request = HttpRequest(
            endpoint.method, url, params, content, _body_headers(content), options.limits.wire,
        )
        deadline = Deadline(options.limits)
        try:
            async with deadline:
                response = await self.transport.send(request)
                try:
                    if sink is None:
                        deadline.answered()
                        return await _read_json(endpoint, response, options)
                    deadline.answered(streaming=True)
                    return await _read_binary(endpoint, response, sink, deadline, options)
                finally:
                    await response.aclose()
        except TimeoutError:
            if not deadline.expired:
                raise
            timed_out = deadline.error(endpoint.name)
        except WxaTransportError as exc:
            if exc.endpoint is None:
                exc.endpoint = endpoint.name
            raise
        # Raised here, outside the except block, so no CancelledError rides along as
        # __context__.
        raise timed_out


def _check_status(endpoint: EndpointSpec, response: HttpResponse) -> None:
    status = response.status_code
    if status >= 300:
        # Redirects are never followed: a 3xx is no answer, whatever its body says.
        what = "redirect not followed" if status < 400 else "error"
        raise WxaTransportError(
            f"{endpoint.name}: HTTP {status} ({what})", endpoint=endpoint.name,
            status_code=status,
        )


def _too_large(endpoint: EndpointSpec, limit: str, max_bytes: int) -> WxaResponseTooLargeError:
    return WxaResponseTooLargeError(
        f"{endpoint.name}: answer larger than {limit}={max_bytes} bytes",
        endpoint=endpoint.name, limit=limit, max_bytes=max_bytes,
    )


class _Constant(ValueError):
    """NaN or Infinity in an answer: not JSON the service sends."""


def _refuse_constant(name: str) -> Any:
    raise _Constant(name)


# One decoder for every answer: json.loads with any keyword builds a new one per call.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def parse(endpoint: EndpointSpec, body: bytes) -> Any:
    """The JSON of an answer, with a non-zero errcode raised as its error."""
    problem = ""
    transient = False
    try:
        # Decoding first spares json.loads its encoding detection; the service
        # answers UTF-8.
        payload = _DECODER.decode(body.decode())
    except _Constant as exc:
        problem = f"answer holds {exc}"
    except RecursionError:
        problem = "answer is nested too deeply"
    except (json.JSONDecodeError, UnicodeDecodeError):
        # Not JSON, or cut off: a gateway's page or a broken connection may pass.
        problem, transient = f"answer is not JSON ({len(body)} bytes)", True
    except ValueError:  # an integer of thousands of digits
        problem = "answer holds a number out of range"
    if problem:
        # Raised outside the except block: the JSON error quotes the body (which may
        # hold a token) and must not ride along as __context__.
        raise WxaDecodeError(f"{endpoint.name}: {problem}", endpoint=endpoint.name,
                             is_json=False, transient=transient)
    raise_for_errcode(payload, endpoint.name)
    return payload


async def _read_capped(
    endpoint: EndpointSpec, chunks: AsyncIterator[bytes], first: bytes, limit: str,
    max_bytes: int | None,
) -> bytes:
    """The rest of a body after ``first``, refused as soon as it passes ``max_bytes``."""
    body = [first]
    size = len(first)
    async for chunk in chunks:
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise _too_large(endpoint, limit, max_bytes)
        body.append(chunk)
    return b"".join(body)


async def _read_json(endpoint: EndpointSpec, response: HttpResponse, options: CallOptions) -> Any:
    _check_status(endpoint, response)
    max_bytes = options.max_json_bytes
    length = declared_length(response.headers)
    if length is None:  # chunked, compressed or unlabelled: counted as it arrives
        body = await _read_capped(
            endpoint, aiter(response.iter_bytes()), b"", "max_json_bytes", max_bytes
        )
    elif max_bytes is not None and length > max_bytes:
        raise _too_large(endpoint, "max_json_bytes", max_bytes)  # refused before reading
    else:
        body = await response.read()  # framed by its length: bounded, and one read
    payload = parse(endpoint, body)
    return decode_response(
        payload, endpoint.response, endpoint.name, may_hold_nulls=b"null" in body
    )


async def _read_binary(
    endpoint: EndpointSpec, response: HttpResponse, sink: Sink, deadline: Deadline,
    options: CallOptions,
) -> int:
    _check_status(endpoint, response)
    content_type = response.headers.get("content-type", "").lower()
    chunks = aiter(response.iter_bytes())
    first = b""
    async for first in chunks:  # the first bytes (a transport may hand on b"")
        if first:
            break
    if not first:
        raise WxaDecodeError(
            f"{endpoint.name}: empty answer (HTTP {response.status_code})",
            endpoint=endpoint.name, is_json=False,
        )
    # The service answers errors to a binary endpoint as JSON, not always labelled
    # as such; no image format starts with "{", so sniff the first bytes too.
    looks_json = content_type.startswith(("application/json", "text/"))
    if looks_json or first.lstrip()[:1] == b"{":
        max_json = options.max_json_bytes
        if max_json is not None and len(first) > max_json:
            raise _too_large(endpoint, "max_json_bytes", max_json)
        parse(endpoint, await _read_capped(endpoint, chunks, first, "max_json_bytes", max_json))
        raise WxaDecodeError(
            f"{endpoint.name}: expected binary content, got {content_type[:60]} without "
            "errcode", endpoint=endpoint.name,
        )
    limit, max_bytes = (
        ("max_binary_bytes", options.max_binary_bytes) if sink.in_memory
        else ("max_file_bytes", options.max_file_bytes)
    )
    # The read limit is a gap between chunks: each one moves the attempt's deadline.
    written = len(first)
    if max_bytes is not None and written > max_bytes:
        raise _too_large(endpoint, limit, max_bytes)
    sink.write(first)
    deadline.progress()
    async for chunk in chunks:
        written += len(chunk)
        if max_bytes is not None and written > max_bytes:
            raise _too_large(endpoint, limit, max_bytes)
        sink.write(chunk)
        deadline.progress()
    return written
