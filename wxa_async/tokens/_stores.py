"""Where tokens live between refreshes: the ``TokenStore`` protocol and the in-memory default.

A store is shared state. :class:`~wxa_async.ComponentTokenProvider` keeps its own
lock-free cache in front of it and only reaches the store when that cache misses, so a
store may be slow (a network hop) without slowing every API call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Protocol, runtime_checkable

from ..errors import WxaValidationError

__all__ = ["MemoryTokenStore", "TokenStore", "set_if_newer"]


@runtime_checkable
class TokenStore(Protocol):
    """Key/value storage with expiry, compare-and-clear and an expiring lock.

    * ``get`` answers ``None`` for a missing or expired key;
    * ``set`` with ``ttl=None`` keeps the value until it is overwritten (refresh tokens,
      the verify ticket); a ``ttl`` in seconds makes it expire;
    * ``delete_if_equal`` deletes only if the key still holds ``value`` (atomically), so a
      caller holding a stale value cannot erase a newer one, and tells whether it did;
    * ``lock`` is a mutual-exclusion lock that the store drops by itself ``ttl`` seconds
      after it was taken, so a holder that died blocks the others no longer than that.
    """

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str, ttl: float | None) -> None: ...

    async def delete_if_equal(self, key: str, value: str) -> bool: ...

    def lock(self, key: str, ttl: float) -> AbstractAsyncContextManager[None]: ...


def _version_key(key: str) -> str:
    return key + ":version"


async def set_if_newer(store: TokenStore, key: str, value: str, version: float) -> bool:
    """Store ``value`` under ``key`` only if ``version`` is greater than the version it
    was last stored with this way (or there is none); tells whether it stored it.

    Uses the store's own atomic ``set_if_newer`` when it has one (both stores here do);
    for any other :class:`TokenStore` the compare and the write are two steps.
    """
    atomic = getattr(store, "set_if_newer", None)
    if atomic is not None:
        return bool(await atomic(key, value, version))
    stored = await store.get(_version_key(key))
    try:
        if stored is not None and float(stored) >= version:
            return False
    except ValueError:
        pass  # an unreadable version is no version
    await store.set(key, value, None)
    await store.set(_version_key(key), repr(float(version)), None)
    return True


class MemoryTokenStore:
    """A :class:`TokenStore` in this process's memory (the default).

    Values are lost when the process ends: give a persistent store (e.g.
    :class:`~wxa_async.RedisTokenStore`) when refresh tokens rotate or several
    processes share the tokens. ``clock`` (seconds, monotonic) is injectable for tests.

    It also serves as a callback's memory of seen pushes (:meth:`add_if_absent`):
    those entries expire with their ttl and at most ``max_added`` of them are kept,
    the oldest dropped first, so the memory stays bounded whatever arrives.
    """

    # Lock holders are polled at most this often (seconds) so that an expired lock is
    # noticed even when nobody releases it.
    _POLL = 0.05

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, max_added: int = 65536
    ) -> None:
        if max_added < 1:
            raise WxaValidationError("max_added must be at least 1")
        self._clock = clock
        self._values: dict[str, tuple[str, float | None]] = {}
        self._versions: dict[str, float] = {}
        # Keys written by add_if_absent, oldest first, with the expiry they were given.
        self._added: dict[str, float] = {}
        self._max_added = max_added
        self._locks: dict[str, tuple[object, float]] = {}
        self._released: asyncio.Event | None = None

    async def get(self, key: str) -> str | None:
        item = self._values.get(key)
        if item is None:
            return None
        value, expires_at = item
        if expires_at is not None and expires_at <= self._clock():
            del self._values[key]
            return None
        return value

    async def set(self, key: str, value: str, ttl: float | None) -> None:
        self._values[key] = (value, None if ttl is None else self._clock() + ttl)

    async def delete_if_equal(self, key: str, value: str) -> bool:
        if await self.get(key) != value:
            return False
        del self._values[key]
        return True

    async def add_if_absent(self, key: str, value: str, ttl: float) -> bool:
        """Set ``key`` to ``value`` for ``ttl`` seconds unless it holds a live value;
        tells whether it was set. Atomic: nothing else runs between check and write."""
        now = self._clock()
        self._sweep(now)
        if await self.get(key) is not None:
            return False
        expires_at = now + ttl
        self._values[key] = (value, expires_at)
        self._added.pop(key, None)  # re-inserted at the end: the newest
        self._added[key] = expires_at
        return True

    def _sweep(self, now: float) -> None:
        # Oldest first: drop what expired, and beyond the cap what is oldest. A value
        # written again since with a later expiry is tracked again (as the newest); one
        # made permanent by set() is no longer this memory's to drop.
        added = self._added
        while added:
            key, tracked = next(iter(added.items()))
            over = len(added) >= self._max_added
            if tracked > now and not over:
                return
            del added[key]
            item = self._values.get(key)
            if item is None or item[1] is None:
                continue
            if item[1] <= now or over:
                del self._values[key]
            else:
                added[key] = item[1]

    async def set_if_newer(self, key: str, value: str, version: float) -> bool:
        """See :func:`set_if_newer`; atomic here."""
        known = self._versions.get(key)
        if known is not None and known >= version:
            return False
        self._values[key] = (value, None)
        self._versions[key] = version
        return True

    def lock(self, key: str, ttl: float) -> AbstractAsyncContextManager[None]:
        return self._lock(key, ttl)

    @asynccontextmanager
    async def _lock(self, key: str, ttl: float) -> AsyncIterator[None]:
        owner = object()
        while True:
            held = self._locks.get(key)
            now = self._clock()
            if held is None or held[1] <= now:
                self._locks[key] = (owner, now + ttl)
                break
            # Woken by any release; the timeout notices an expired (abandoned) lock.
            if self._released is None:
                self._released = asyncio.Event()
            released = self._released
            with suppress(TimeoutError):
                await asyncio.wait_for(released.wait(), min(self._POLL, held[1] - now))
        try:
            yield
        finally:
            # Release only our own lock: after expiry it may belong to someone else.
            held = self._locks.get(key)
            if held is not None and held[0] is owner:
                del self._locks[key]
                if self._released is not None:
                    self._released.set()
                    self._released = None

    def __repr__(self) -> str:  # keys name appids only, values are never shown
        return f"MemoryTokenStore(keys={len(self._values)})"
