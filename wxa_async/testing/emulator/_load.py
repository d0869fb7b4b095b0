"""How the emulated service behaves under load: a latency model and a rate limit.

``emulator.load = Load(latency=Latency(0.03, 0.01), rate_limit=RateLimit(6000))``
makes every answer take 30 ms ± 10 ms, and answers errcode 45011 ("API called too
frequently") once an API is called faster than 6,000 times a minute. Both use the
event loop's clock: real seconds over HTTP, virtual ones on a virtual-time test loop.
"""

from __future__ import annotations

import asyncio
import collections
import random

import attrs

from ._answers import Answer, _error

__all__ = ["Latency", "Load", "RateLimit"]


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0")


@attrs.frozen
class Latency:
    """Each answer takes ``mean`` ± ``jitter`` seconds (uniform, from a ``seed``-ed RNG).

    With ``capacity``, the service serves that many calls at once at this latency;
    past it each call takes longer in proportion (``latency * in_flight / capacity``),
    as a service queueing work does: throughput stops growing and latency climbs.
    """

    mean: float = attrs.field(default=0.03, validator=_positive)
    jitter: float = attrs.field(default=0.01, validator=_positive)
    capacity: int | None = None
    seed: int = 0

    def __attrs_post_init__(self) -> None:
        if self.jitter > self.mean:
            raise ValueError("jitter must be <= mean")
        if self.capacity is not None and self.capacity < 1:
            raise ValueError("capacity must be >= 1")


@attrs.frozen
class RateLimit:
    """errcode 45011 once an API is called more than ``calls_per_minute`` times a
    minute, per endpoint (``endpoints``: names; ``None``, every endpoint of the table).

    A token bucket per endpoint, refilled at ``calls_per_minute / 60`` a second and
    holding ``burst`` seconds of quota: a client spreading its calls never meets the
    limit, one running above it gets 45011 for the excess (a refused call takes
    nothing from the bucket).
    """

    calls_per_minute: int
    burst: float = attrs.field(default=1.0, validator=_positive)
    endpoints: frozenset[str] | None = attrs.field(
        default=None, converter=attrs.converters.optional(frozenset)
    )

    def __attrs_post_init__(self) -> None:
        if self.calls_per_minute < 1:
            raise ValueError("calls_per_minute must be >= 1")


class Load:
    """The emulator's behaviour under load; set it as ``emulator.load``.

    ``refused`` counts 45011 answers by endpoint; ``peak_in_flight`` is the most calls
    the service held at once.
    """

    def __init__(self, latency: Latency | None = None, rate_limit: RateLimit | None = None):
        self.latency = latency
        self.rate_limit = rate_limit
        self.refused: collections.Counter[str] = collections.Counter()
        self.in_flight = 0
        self.peak_in_flight = 0
        self._rng = random.Random(latency.seed if latency else 0)
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens, at)

    async def admit(self, endpoint: str, table: bool = True) -> Answer | None:
        """Wait as the service would; the 45011 answer if the call is over the limit,
        else None (answer it). ``table``: an endpoint of the table, not a token one."""
        loop = asyncio.get_running_loop()
        refused = not self._take(endpoint, table, loop.time())
        self.in_flight += 1
        if self.in_flight > self.peak_in_flight:
            self.peak_in_flight = self.in_flight
        try:
            latency = self.latency
            if latency is not None:
                delay = latency.mean + self._rng.uniform(-latency.jitter, latency.jitter)
                if latency.capacity is not None and not refused:
                    delay *= max(1.0, self.in_flight / latency.capacity)
                await asyncio.sleep(delay)
        finally:
            self.in_flight -= 1
        if refused:
            self.refused[endpoint] += 1
            return Answer.json(_error(45011, "api minute-quota reach limit"))
        return None

    def _take(self, endpoint: str, table: bool, now: float) -> bool:
        limit = self.rate_limit
        if limit is None or not (
            table if limit.endpoints is None else endpoint in limit.endpoints
        ):
            return True
        rate = limit.calls_per_minute / 60.0
        room = max(1.0, rate * limit.burst)
        tokens, at = self._buckets.get(endpoint, (room, now))
        tokens = min(room, tokens + (now - at) * rate)
        if tokens >= 1.0:
            self._buckets[endpoint] = (tokens - 1.0, now)
            return True
        self._buckets[endpoint] = (tokens, now)
        return False

    def __repr__(self) -> str:
        return f"Load(latency={self.latency!r}, rate_limit={self.rate_limit!r})"
