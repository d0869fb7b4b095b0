"""A :class:`~wxa_async.TokenStore` on Redis, shared by processes and machines.

Needs the ``redis`` extra (redis-py's asyncio client), imported only when used.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import AsyncIterator, Awaitable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import WxaMissingExtraError, WxaTransportError

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisTokenStore"]

# One script serves delete-if-equal and lock release: both must compare and delete in
# one step, or a value (or lock) written by someone else in between would be erased.
_DELETE_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

# The value and its version are written together, and only over an older version.
_SET_IF_NEWER = """
local known = redis.call('GET', KEYS[2])
if known and tonumber(known) >= tonumber(ARGV[2]) then
    return 0
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
return 1
"""


def _safe_url(url: str) -> str:
    """The URL without user name or password, for repr."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class RedisTokenStore:
    """Stores tokens in Redis.

    ``url_or_client`` is a URL (``"redis://:password@host:6379/0"``; the pool of up to
    ``max_connections`` connections it opens is closed by :meth:`aclose`) or an existing
    ``redis.asyncio.Redis`` client, left open: it is yours. Give such a client a
    ``BlockingConnectionPool``: after a restart, every cold appid reaches the store at
    once. ``prefix`` is put before every key, to share one database.

    Values with a ttl are written with ``SET ... PX``; values without one (refresh
    tokens, the verify ticket) persist. :meth:`add_if_absent` is ``SET ... NX PX``, so
    callback processes sharing the store agree on which pushes they have seen;
    :meth:`set_if_newer` compares and writes in one script. A lock is
    ``SET lock:<key> <random owner> NX PX`` and is released only by its owner, so a
    lock that expired and was taken by another process is never released by the slow
    first holder.
    """

    def __init__(
        self,
        url_or_client: str | Redis,
        /,
        *,
        prefix: str = "",
        max_connections: int = 32,
        lock_poll_interval: float = 0.02,
    ) -> None:
        if isinstance(url_or_client, str):
            try:
                import redis.asyncio as redis_asyncio
            except ImportError:
                raise WxaMissingExtraError("RedisTokenStore", "redis") from None
            # A blocking pool makes a burst of cold refreshes wait for a connection;
            # the default pool fails with "Too many connections" instead.
            pool = redis_asyncio.BlockingConnectionPool.from_url(
                url_or_client, max_connections=max_connections
            )
            self._client: Redis = redis_asyncio.Redis.from_pool(pool)
            self._owns_client = True
            self._where = _safe_url(url_or_client)
        else:
            self._client = url_or_client
            self._owns_client = False
            self._where = "client"
        self._prefix = prefix
        self._poll = lock_poll_interval
        self._delete_if_equal = self._client.register_script(_DELETE_IF_EQUAL)
        self._set_if_newer = self._client.register_script(_SET_IF_NEWER)

    async def _run(self, command: Awaitable[Any]) -> Any:
        """Await a Redis command; an outage reaches callers as a WxaTransportError.

        Only the error's type is kept: redis-py's texts name hosts, and the
        translated error is raised outside the except block so nothing chains."""
        import redis.exceptions

        try:
            return await command
        except redis.exceptions.RedisError as exc:
            error = WxaTransportError(
                f"token store unavailable ({type(exc).__name__})", request_sent=False
            )
        raise error

    async def get(self, key: str) -> str | None:
        value: Any = await self._run(self._client.get(self._prefix + key))
        if isinstance(value, bytes):
            return value.decode()
        return value if isinstance(value, str) else None

    async def set(self, key: str, value: str, ttl: float | None) -> None:
        if ttl is None:
            await self._run(self._client.set(self._prefix + key, value))
        else:
            # PX must be positive; a value already past its lifetime lives 1 ms.
            px = max(1, int(ttl * 1000))
            await self._run(self._client.set(self._prefix + key, value, px=px))

    async def delete_if_equal(self, key: str, value: str) -> bool:
        deleted = await self._run(
            self._delete_if_equal(keys=[self._prefix + key], args=[value])
        )
        return bool(deleted)

    async def add_if_absent(self, key: str, value: str, ttl: float) -> bool:
        """Set ``key`` to ``value`` for ``ttl`` seconds unless it exists; tells whether
        it was set (atomic across every process on this Redis)."""
        px = max(1, int(ttl * 1000))
        done = await self._run(self._client.set(self._prefix + key, value, nx=True, px=px))
        return bool(done)

    async def set_if_newer(self, key: str, value: str, version: float) -> bool:
        """Store ``value`` only over an older ``version`` (kept under ``<key>:version``);
        tells whether it stored it."""
        name = self._prefix + key
        stored = await self._run(
            self._set_if_newer(keys=[name, name + ":version"], args=[value, repr(float(version))])
        )
        return bool(stored)

    def lock(self, key: str, ttl: float) -> AbstractAsyncContextManager[None]:
        return self._lock(f"{self._prefix}lock:{key}", ttl)

    @asynccontextmanager
    async def _lock(self, name: str, ttl: float) -> AsyncIterator[None]:
        owner = secrets.token_hex(16)
        px = max(1, int(ttl * 1000))
        delay = self._poll
        while not await self._run(self._client.set(name, owner, nx=True, px=px)):
            # Jitter keeps waiting processes from polling in lock step.
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.25, ttl)
        try:
            yield
        finally:
            await self._run(self._delete_if_equal(keys=[name], args=[owner]))

    async def aclose(self) -> None:
        """Close the connection pool if this store opened it from a URL."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> RedisTokenStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:  # the URL's user name and password are never shown
        return f"RedisTokenStore({self._where!r}, prefix={self._prefix!r})"
