"""How a worker runs (not what it releases): timings, leases, concurrency, the clock."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol, runtime_checkable

import attrs

__all__ = ["Clock", "RolloutOptions", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Where a rollout reads the time and waits: every schedule, lease and backoff
    goes through it, so tests can run days of audits in virtual time."""

    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The wall clock and ``asyncio.sleep``."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


@attrs.frozen(kw_only=True)
class RolloutOptions:
    """Worker settings; each worker of one rollout may use its own.

    ``concurrency`` apps are worked at once (each call still passes the client's gate).
    A lease lasts ``lease_ttl`` seconds and is renewed while the app is worked: it
    must exceed the client's ``retry_deadline`` plus a call's timeout, so a lease never
    runs out under a call in flight. Open audits are polled every ``poll_interval``
    seconds (± ``poll_jitter`` of it, so thousands of apps do not poll at once).
    ``quota_max_age``: how long a ``query_quota`` answer is trusted;
    ``quota_recheck``: how long an app waits for quota before looking again. A read
    or a call failing transiently is retried after ``retry_base`` · 2ⁿ seconds (at
    most ``retry_cap``); after ``max_attempts`` failures in one step the app fails
    (an operator may retry it). 61039 (privacy scan running) backs off the same way
    but never fails the app. ``undo_retry``: when the day's ``undo_code_audit`` is
    spent (87013), wait this long. ``idle_sleep`` bounds each wait of an idle
    worker, so it notices pauses and pushes written by other processes; an idle worker
    wakes ``coalesce`` seconds after the next app is due, to take the apps due around
    then in one claim. An app due again within ``hold`` seconds keeps its lease and
    waits in its task rather than going back to the store. ``worker_id`` names the
    worker in its leases (default: a random one per process); a worker restarted under
    the same id takes its leases back at once instead of waiting for them to run out.
    """

    concurrency: int = 32
    lease_ttl: float = 120.0
    poll_interval: float = 1800.0
    poll_jitter: float = 0.2
    quota_max_age: float = 60.0
    quota_recheck: float = 3600.0
    retry_base: float = 5.0
    retry_cap: float = 600.0
    max_attempts: int = 8
    undo_retry: float = 86400.0
    idle_sleep: float = 5.0
    coalesce: float = 1.0
    hold: float = 0.5
    worker_id: str | None = None
    seed: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if self.lease_ttl <= 0 or self.poll_interval <= 0:
            raise ValueError("lease_ttl and poll_interval must be > 0")
        if not 0 <= self.poll_jitter < 1:
            raise ValueError("poll_jitter is a share between 0 and 1")
