"""Authorizer access tokens from the Open Platform component API, refreshed once per appid.

How a token is found, cheapest first:

1. this process's cache: a dict lookup, no lock and no I/O (the client asks on every call);
2. the shared store, when another process (or an earlier run) already refreshed it;
3. a refresh, under the store's lock for that appid, so that of all the callers in all
   the processes sharing the store exactly one refreshes; after taking the lock the
   store is read again, because the previous holder has usually just refreshed it.

In one process, concurrent callers for one appid share one task ("single flight"). The
task is shielded from its waiters, so a caller that is cancelled (a timeout) does not
cancel the refresh the others wait on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from functools import partial
from typing import Any

from .._retry import RetryPolicy
from .._wire import CallOptions, ComponentCredential, Credential, Wire
from ..endpoints import ComponentApi, EndpointSpec
from ..errors import WxaDecodeError, WxaError, WxaValidationError
from ..models import (
    AuthorizerTokenRequest,
    AuthorizerTokenResponse,
    ComponentTokenRequest,
    ComponentTokenResponse,
    WxaRequest,
)
from ..transports._base import Timeout, Transport
from ._stores import MemoryTokenStore, TokenStore, set_if_newer

__all__ = ["ComponentTokenProvider"]

TicketSource = str | Callable[[], Awaitable[str | None]] | TokenStore | None
RefreshTokenSource = (
    Mapping[str, str] | Callable[[str], Awaitable[str | None]] | TokenStore | None
)

_TIMEOUT = Timeout(connect=5.0, read=10.0, total=20.0)


class _Cached:
    """A token and the clock time at which it is due for refresh.

    ``stored`` is its form in the store, ``"<refresh_at> <token>"``: the due time travels
    with the token, so a process that reads it knows when to refresh without asking the
    store for a TTL (and a store that ignores TTLs still works).
    """

    __slots__ = ("refresh_at", "stored", "token")

    def __init__(self, token: str, refresh_at: float, stored: str) -> None:
        self.token = token
        self.refresh_at = refresh_at
        self.stored = stored

    @classmethod
    def parse(cls, stored: str) -> _Cached | None:
        due, _, token = stored.partition(" ")
        try:
            refresh_at = float(due)
        except ValueError:
            return None
        return cls(token, refresh_at, stored) if token else None

    def __repr__(self) -> str:  # never the token
        return f"_Cached(refresh_at={self.refresh_at!r})"


class ComponentTokenProvider:
    """A :class:`~wxa_async.TokenProvider` for a third-party platform (component).

    ``verify_ticket`` is the newest ``component_verify_ticket`` WeChat pushed to your
    callback URL: a string, an async callable returning it, or a :class:`TokenStore`
    holding it; :meth:`set_verify_ticket` stores a newly pushed one. ``refresh_tokens``
    gives each authorizer's refresh token (a mapping, an async callable
    ``appid -> token``, or a :class:`TokenStore` holding them) when the store has none;
    a refresh token the service rotates is written to the store. A store given as
    ``verify_ticket`` or ``refresh_tokens`` is where that secret is read and written
    (keys ``wxa:<component appid>:component_verify_ticket`` and
    ``wxa:<component appid>:authorizer_refresh_token:<appid>``); otherwise ``store``
    is.

    ``store`` defaults to a :class:`~wxa_async.MemoryTokenStore` (one process); give a
    shared one (:class:`~wxa_async.RedisTokenStore`) to refresh each token once across
    processes and to keep refresh tokens and the ticket across restarts. The store is
    not closed by the provider; the transport is, also one it is given, unless
    ``close_transport=False``. Calls go through the same wire path as the client's:
    ``timeout`` and ``retry`` (a :class:`~wxa_async.RetryPolicy`) apply to them.

    Tokens are refreshed ``refresh_margin`` seconds before they expire (at most half
    their lifetime early). ``clock`` gives seconds on the wall clock: due times are
    shared through the store, so every process must use the same clock. ``lock_ttl``
    bounds how long a process that died mid-refresh holds the others up.
    """

    def __init__(
        self,
        component_appid: str,
        component_appsecret: str,
        verify_ticket: TicketSource = None,
        refresh_tokens: RefreshTokenSource = None,
        *,
        base_url: str = "https://api.weixin.qq.com",
        transport: Transport | None = None,
        store: TokenStore | None = None,
        refresh_margin: float = 300.0,
        lock_ttl: float = 30.0,
        clock: Callable[[], float] = time.time,
        timeout: Timeout | float | None = _TIMEOUT,
        retry: RetryPolicy | None = None,
        close_transport: bool = True,
    ) -> None:
        if not component_appid or not component_appsecret:
            raise WxaValidationError("component_appid and component_appsecret are required")
        if not (verify_ticket is None or isinstance(verify_ticket, str | TokenStore)
                or callable(verify_ticket)):
            raise WxaValidationError(
                "verify_ticket: must be a string, an async callable or a TokenStore"
            )
        if not (refresh_tokens is None or isinstance(refresh_tokens, Mapping | TokenStore)
                or callable(refresh_tokens)):
            raise WxaValidationError(
                "refresh_tokens: must be a mapping, an async callable or a TokenStore"
            )
        self._appid = component_appid
        self._secret = component_appsecret
        self._ticket = verify_ticket
        self._refresh_tokens = refresh_tokens
        self._base_url = base_url.rstrip("/")
        self._transport = transport
        self._close_transport = close_transport or transport is None
        self._wire: Wire | None = None
        self._options = CallOptions(Timeout.coerce(timeout), retry or RetryPolicy())
        self._store: TokenStore = store if store is not None else MemoryTokenStore(clock=clock)
        # Where the two long-lived secrets live: a store given for them, else `store`.
        self._ticket_store = verify_ticket if isinstance(verify_ticket, TokenStore) else self._store
        self._refresh_store = (
            refresh_tokens if isinstance(refresh_tokens, TokenStore) else self._store
        )
        self._margin = refresh_margin
        self._lock_ttl = lock_ttl
        self._clock = clock
        self._cache: dict[str, _Cached] = {}
        self._component: _Cached | None = None
        # appid -> its refresh task; None is the component token's.
        self._flights: dict[str | None, asyncio.Task[str]] = {}
        self._closed = False
        ns = f"wxa:{component_appid}:"
        self._component_key = ns + "component_access_token"
        self._ticket_key = ns + "component_verify_ticket"
        self._token_ns = ns + "authorizer_access_token:"
        self._refresh_ns = ns + "authorizer_refresh_token:"

    # -- TokenProvider -------------------------------------------------------------

    async def get_token(self, appid: str) -> str:
        """The authorizer access token of ``appid``, refreshed when it is due."""
        cached = self._cache.get(appid)
        if cached is not None and cached.refresh_at > self._clock():
            return cached.token
        return await self._flight(appid, partial(self._load_authorizer, appid))

    async def invalidate(self, appid: str, token: str) -> None:
        """Forget ``token`` if it is still the current token of ``appid`` (here and in the
        store); a newer token fetched meanwhile is kept."""
        # Store first: clearing the cache first would let a concurrent caller read the
        # rejected token back from the store.
        await self._forget(self._token_ns + appid, token)
        cached = self._cache.get(appid)
        if cached is not None and cached.token == token:
            del self._cache[appid]

    async def get_component_token(self) -> str:
        """The platform's component access token, refreshed when it is due."""
        cached = self._component
        if cached is not None and cached.refresh_at > self._clock():
            return cached.token
        return await self._flight(None, self._load_component)

    async def invalidate_component_token(self, token: str) -> None:
        """Forget the component ``token`` if it is still the current one (here and in
        the store); a newer token fetched meanwhile is kept."""
        await self._forget(self._component_key, token)
        cached = self._component
        if cached is not None and cached.token == token:
            self._component = None

    # -- what the platform pushes and what must persist ----------------------------

    async def set_verify_ticket(self, ticket: str, *, create_time: int | None = None) -> bool:
        """Store the newest ``component_verify_ticket`` (pushed every 10 minutes).

        Give the push's ``create_time`` (``event.create_time``): a ticket older than the
        one stored with its time is then ignored, since pushes arrive late and twice.
        Tells whether the ticket was stored."""
        if not isinstance(ticket, str) or not ticket:
            raise WxaValidationError("component_verify_ticket must be a non-empty string")
        if create_time is None:
            await self._ticket_store.set(self._ticket_key, ticket, None)
            return True
        return await set_if_newer(self._ticket_store, self._ticket_key, ticket, create_time)

    async def set_refresh_token(self, appid: str, token: str) -> None:
        """Store the refresh token of a newly authorized (or re-authorized) ``appid``."""
        if not isinstance(token, str) or not token:
            raise WxaValidationError("authorizer_refresh_token must be a non-empty string")
        await self._refresh_store.set(self._refresh_ns + appid, token, None)

    # -- single flight -------------------------------------------------------------

    async def _flight(
        self, key: str | None, load: Callable[[], Coroutine[Any, Any, str]]
    ) -> str:
        if self._closed:
            raise WxaError("ComponentTokenProvider is closed")
        task = self._flights.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(load())
            self._flights[key] = task
            task.add_done_callback(partial(self._landed, key))
        # Cancelling one waiter must not cancel the refresh the others share.
        return await asyncio.shield(task)

    def _landed(self, key: str | None, task: asyncio.Task[str]) -> None:
        # A failure is not cached: the next caller starts a new refresh.
        if self._flights.get(key) is task:
            del self._flights[key]
        if not task.cancelled():
            task.exception()  # retrieved, even if every waiter was cancelled

    # -- loading -------------------------------------------------------------------

    async def _from_store(self, key: str) -> _Cached | None:
        stored = await self._store.get(key)
        cached = _Cached.parse(stored) if stored is not None else None
        if cached is not None and cached.refresh_at > self._clock():
            return cached
        return None

    async def _load(self, key: str, fetch: Callable[[], Awaitable[tuple[str, float]]]) -> _Cached:
        """The store's token for ``key`` if fresh, else a new one from ``fetch``."""
        cached = await self._from_store(key)
        if cached is not None:
            return cached
        self._get_wire()  # set up before the lock: others wait only for the round trip
        async with self._store.lock(key, self._lock_ttl):
            # The previous lock holder has probably just refreshed it.
            cached = await self._from_store(key)
            if cached is not None:
                return cached
            token, expires_in = await fetch()
            now = self._clock()
            refresh_at = now + expires_in - min(self._margin, expires_in / 2)
            cached = _Cached(token, refresh_at, f"{refresh_at!r} {token}")
            # The store keeps it for its remaining lifetime.
            await self._store.set(key, cached.stored, expires_in)
            return cached

    async def _load_authorizer(self, appid: str) -> str:
        cached = await self._load(self._token_ns + appid, partial(self._fetch_authorizer, appid))
        self._cache[appid] = cached
        return cached.token

    async def _load_component(self) -> str:
        cached = await self._load(self._component_key, self._fetch_component)
        self._component = cached
        return cached.token

    async def _forget(self, key: str, token: str) -> None:
        stored = await self._store.get(key)
        if stored is not None:
            cached = _Cached.parse(stored)
            if cached is not None and cached.token == token:
                await self._store.delete_if_equal(key, stored)

    # -- the wire ------------------------------------------------------------------

    async def _fetch_component(self) -> tuple[str, float]:
        request = ComponentTokenRequest(self._appid, self._secret, await self._verify_ticket())
        answer = await self._call(ComponentApi.api_component_token, request, None)
        assert isinstance(answer, ComponentTokenResponse)
        return _token(answer.component_access_token, "component_access_token",
                      answer.expires_in, "api_component_token")

    async def _fetch_authorizer(self, appid: str) -> tuple[str, float]:
        refresh_token = await self._refresh_token(appid)
        request = AuthorizerTokenRequest(self._appid, appid, refresh_token)
        # A component token voided meanwhile (another deployment fetched a new one) is
        # dropped, compare-and-clear, and the call made once more with a fresh one.
        answer = await self._call(
            ComponentApi.api_authorizer_token, request, ComponentCredential(self)
        )
        assert isinstance(answer, AuthorizerTokenResponse)
        token, expires_in = _token(answer.authorizer_access_token, "authorizer_access_token",
                                   answer.expires_in, "api_authorizer_token")
        rotated = answer.authorizer_refresh_token
        if isinstance(rotated, str) and rotated and rotated != refresh_token:
            # Persist before anything else can fail: losing it means re-authorization.
            await self._refresh_store.set(self._refresh_ns + appid, rotated, None)
        return token, expires_in

    async def _verify_ticket(self) -> str:
        source = self._ticket
        ticket = None
        if callable(source) and not isinstance(source, TokenStore):
            ticket = await source()
        if not ticket:
            ticket = await self._ticket_store.get(self._ticket_key)
        if not ticket and isinstance(source, str):
            ticket = source
        if not ticket:
            raise WxaError(
                "no component_verify_ticket yet: WeChat pushes one to the callback URL "
                "every 10 minutes; pass it to set_verify_ticket()"
            )
        return ticket

    async def _refresh_token(self, appid: str) -> str:
        token = await self._refresh_store.get(self._refresh_ns + appid)
        source = self._refresh_tokens
        if not token:
            if isinstance(source, Mapping):
                token = source.get(appid)
            elif source is not None and not isinstance(source, TokenStore):
                token = await source(appid)
        if not token:
            raise WxaError(f"no authorizer refresh token for appid {appid!r}")
        return token

    async def _call(
        self, endpoint: EndpointSpec, request: WxaRequest, credential: Credential | None
    ) -> Any:
        params, content = endpoint.encode(request)
        return await self._get_wire().call(
            self._options, endpoint, params, content, credential, None
        )

    def _get_wire(self) -> Wire:
        wire = self._wire
        if wire is None:
            if self._closed:
                raise WxaError("ComponentTokenProvider is closed")
            transport = self._transport
            if transport is None:
                from ..transports._httpx import HttpxTransport

                transport = self._transport = HttpxTransport()
            wire = self._wire = Wire(transport, self._base_url, transport.default_concurrency)
        return wire

    # -- closing -------------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop pending refreshes and close the transport if the provider created it."""
        self._closed = True
        flights = list(self._flights.values())
        for task in flights:
            task.cancel()
        await asyncio.gather(*flights, return_exceptions=True)
        transport, self._transport, self._wire = self._transport, None, None
        if self._close_transport and transport is not None:
            await transport.aclose()

    async def __aenter__(self) -> ComponentTokenProvider:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:  # no secret, ticket or token
        return (
            f"ComponentTokenProvider(component_appid={self._appid!r}, "
            f"base_url={self._base_url!r}, store={self._store!r}, cached={len(self._cache)})"
        )


def _token(token: str, name: str, expires_in: float, endpoint: str) -> tuple[str, float]:
    if not token:
        raise WxaDecodeError(f"{name} missing from the answer", endpoint=endpoint)
    if not expires_in > 0:
        raise WxaDecodeError("expires_in missing or not a positive number", endpoint=endpoint)
    return token, float(expires_in)
