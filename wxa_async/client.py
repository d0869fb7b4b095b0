"""WxaClient: the handles' entry point; pacing, tokens, retries and deadlines, once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import attrs

from ._handle import ComponentHandle, MiniProgram
from ._limit import AdaptiveLimit
from ._retry import RetryPolicy
from ._sinks import Sink
from ._wire import MAX_BINARY_BYTES, MAX_FILE_BYTES, MAX_JSON_BYTES, CallOptions, Credential, Wire
from .bulk import BulkResult, ProgressCallback, bulk
from .endpoints import EndpointSpec
from .errors import WxaError, WxaValidationError
from .models import WxaRequest
from .tokens._protocol import TokenProvider
from .transports._base import Timeout, Transport

if TYPE_CHECKING:
    import collections

__all__ = ["DEFAULT_BASE_URL", "WxaClient"]

DEFAULT_BASE_URL = "https://api.weixin.qq.com"

T = TypeVar("T")

_UNSET: Any = object()
_DEFAULT_TIMEOUT = Timeout()
_DEFAULT_RETRY = RetryPolicy()


class _Shared:
    """State every ``with_options`` view of one client shares."""

    __slots__ = ("close_provider", "close_transport", "closed", "provider", "wire")

    def __init__(
        self, wire: Wire, close_transport: bool, provider: TokenProvider, close_provider: bool
    ) -> None:
        self.wire = wire
        self.close_transport = close_transport
        self.provider = provider
        self.close_provider = close_provider
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
        ``None`` makes an :class:`HttpxTransport`. The client closes its transport
        when it closes, also one it is given, unless ``close_transport=False`` (a
        transport shared between clients).
    timeout:
        A :class:`Timeout` or a number of seconds for connect, read and total.
    max_retries:
        Retries of an idempotent read after errcode -1, HTTP 5xx or 429, a body that is
        not JSON, a timeout or a connection failure (default 3). Mutations are retried
        only when the request certainly never left (connection refused).
    max_concurrency:
        How many calls are in flight at once; more wait in the client, not in the HTTP
        library's pool. An :class:`AdaptiveLimit` moves the limit with the service's
        latency and its 45011 / -1 answers, within its bounds. ``None`` takes the
        transport's ``default_concurrency``: for :class:`AiohttpTransport` and
        :class:`HttpxTransport`, ``AdaptiveLimit.for_pool(max_connections)`` (32 in
        flight at first, 8 to 256 with the default pool).
    retry_deadline:
        No retry starts later than this many seconds after the call's first attempt
        left the concurrency gate (time spent waiting at the gate does not count).
    retry:
        A :class:`RetryPolicy`: backoff, jitter, the sleep function. ``max_retries``
        and ``retry_deadline``, when given, override its fields.
    max_json_bytes, max_binary_bytes, max_file_bytes:
        The largest answer accepted, counted in decompressed bytes as it arrives: a
        JSON answer (default 4 MiB), a binary body returned as bytes (16 MiB) and one
        streamed to a file by ``to_file`` (64 MiB). Passing one raises
        :class:`~wxa_async.errors.WxaResponseTooLargeError` at once (no partial file
        is left). ``None``: no limit.
    close_transport:
        Close the transport when the client closes (default True).
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
        max_retries: int = _UNSET,
        max_concurrency: int | AdaptiveLimit | None = None,
        retry_deadline: float | None = _UNSET,
        retry: RetryPolicy = _DEFAULT_RETRY,
        max_json_bytes: int | None = MAX_JSON_BYTES,
        max_binary_bytes: int | None = MAX_BINARY_BYTES,
        max_file_bytes: int | None = MAX_FILE_BYTES,
        close_transport: bool = True,
        close_token_provider: bool = False,
    ) -> None:
        options = _options(
            CallOptions(Timeout.coerce(timeout), retry, max_json_bytes=max_json_bytes,
                        max_binary_bytes=max_binary_bytes, max_file_bytes=max_file_bytes),
            max_retries=max_retries, retry_deadline=retry_deadline,
        )
        if transport is None:
            from .transports._httpx import HttpxTransport

            transport, close_transport = HttpxTransport(), True
        # `is None`, not `or`: max_concurrency=0 is a mistake to report, not "default".
        concurrency = (
            transport.default_concurrency if max_concurrency is None else max_concurrency
        )
        if isinstance(concurrency, int) and concurrency < 1:
            raise WxaValidationError("max_concurrency must be >= 1")
        wire = Wire(transport, base_url, concurrency)
        self._setup(_Shared(wire, close_transport, token_provider, close_token_provider), options)

    def _setup(self, shared: _Shared, options: CallOptions) -> None:
        # The one place a client's fields are set: by __init__ and for every view.
        self._shared = shared
        self._wire = shared.wire
        self._options = options
        self._apps: dict[str, MiniProgram] = {}
        self._component: ComponentHandle | None = None

    @classmethod
    def _view(cls, shared: _Shared, options: CallOptions) -> WxaClient:
        view = cls.__new__(cls)
        view._setup(shared, options)
        return view

    # -- public surface -------------------------------------------------------------

    def app(self, appid: str) -> MiniProgram:
        """The handle of one mini program; its methods are the endpoint table's."""
        handle = self._apps.get(appid)
        if handle is None:
            if not isinstance(appid, str) or not appid:
                raise WxaValidationError("appid: must be a non-empty string")
            handle = self._apps[appid] = MiniProgram(self, appid)
        return handle

    def component(self) -> ComponentHandle:
        """The handle of the platform's own endpoints, which send the component
        access token; needs a provider that has one (``get_component_token``)."""
        handle = self._component
        if handle is None:
            provider = self._shared.provider
            missing = getattr(provider, "component_token_missing", None)
            reason = (
                f"{type(provider).__name__} has no get_component_token()"
                if not callable(getattr(provider, "get_component_token", None))
                else missing() if callable(missing) else None
            )
            if reason:
                raise WxaError(f"client.component() needs a component access token: {reason}")
            handle = self._component = ComponentHandle(self)
        return handle

    def with_options(
        self,
        *,
        timeout: Timeout | float | None = _UNSET,
        max_retries: int = _UNSET,
        retry_deadline: float | None = _UNSET,
        retry: RetryPolicy = _UNSET,
        max_json_bytes: int | None = _UNSET,
        max_binary_bytes: int | None = _UNSET,
        max_file_bytes: int | None = _UNSET,
    ) -> WxaClient:
        """A view of this client with other per-call options; it shares the transport,
        the token provider and the concurrency gate, and needs no closing.

        ``client.with_options(max_file_bytes=1 << 20).app(appid).get_qrcode.to_file(...)``
        sets one call's limit."""
        return self._view(self._shared, _options(
            self._options, timeout=timeout, retry=retry, max_retries=max_retries,
            retry_deadline=retry_deadline, max_json_bytes=max_json_bytes,
            max_binary_bytes=max_binary_bytes, max_file_bytes=max_file_bytes,
        ))

    @property
    def transport(self) -> Transport:
        return self._wire.transport

    @property
    def token_provider(self) -> TokenProvider:
        return self._shared.provider

    @property
    def timeout(self) -> Timeout:
        return self._options.timeout

    @property
    def retry(self) -> RetryPolicy:
        return self._options.retry

    @property
    def max_json_bytes(self) -> int | None:
        return self._options.max_json_bytes

    @property
    def max_retries(self) -> int:
        return self._options.retry.max_retries

    @property
    def max_concurrency(self) -> int:
        """How many calls this client lets through at once at most (shared by its
        views); under an :class:`AdaptiveLimit`, its upper bound."""
        return self._wire.concurrency

    @property
    def concurrency(self) -> int:
        """How many calls this client lets through at once now: ``max_concurrency``,
        or the current value of an :class:`AdaptiveLimit`."""
        return self._wire.gate.limit

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
        return self._wire.retry_counts

    async def aclose(self) -> None:
        """Close the transport (unless ``close_transport=False``) and, when asked,
        the token provider; closing again does nothing."""
        shared = self._shared
        if shared.closed:
            return
        shared.closed = True
        if shared.close_transport:
            await shared.wire.transport.aclose()
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
        return f"WxaClient(base_url={self._wire.base_url!r}, transport={self._wire.transport!r})"

    # -- the one call path ------------------------------------------------------------

    def _execute(
        self, credential: Credential, endpoint: EndpointSpec, request: WxaRequest,
        sink: Sink | None, who: str = "",
    ) -> Coroutine[Any, Any, Any]:
        """One endpoint call of a handle, to await (see :meth:`Wire.call`). Called from
        the bound call's coroutine, so its errors still arrive on ``await``."""
        if self._shared.closed:
            raise WxaError("the client is closed")
        params, content = endpoint.encode(request)
        return self._wire.call(
            self._options, endpoint, params, content, credential, sink, who
        )


def _options(options: CallOptions, **given: Any) -> CallOptions:
    """``options`` with the fields given (not ``_UNSET``) replaced."""
    changes = {name: value for name, value in given.items() if value is not _UNSET}
    if not changes:
        return options
    retry = changes.pop("retry", options.retry)
    fields: dict[str, Any] = {}
    if "max_retries" in changes:
        max_retries = changes.pop("max_retries")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise WxaValidationError("max_retries must be an integer >= 0")
        fields["max_retries"] = max_retries
    if "retry_deadline" in changes:
        fields["deadline"] = changes.pop("retry_deadline")
    if fields:
        retry = attrs.evolve(retry, **fields)
    if "timeout" in changes:
        changes["timeout"] = Timeout.coerce(changes["timeout"])
    return options.replace(retry=retry, **changes)
