"""The client's concurrency gate: a fixed limit, or one that follows the service.

:class:`AdaptiveLimit` works like TCP congestion control. Completed calls are grouped
into windows of about one limit's worth (one round trip at full use). A window that
used the whole limit and whose median latency stayed near the floor (the lowest smoothed
window median of the last 10 to 20 seconds; medians, so a few slow answers from a busy
machine do not read as congestion) grows the limit: doubling at first ("slow start"),
then by one per window (by a tenth while the smoothed median stays within 1.25 times
the floor, far from any queue), and by a quarter near the limit the last cut started
from (CUBIC's caution around the point where trouble began).

The limit holds, neither growing nor cut for latency, while this process's own CPU is
the bottleneck: a slot handed to a waiting call that then waits for the event loop
longer than a tenth of the floor. Latency measured from the slot does not show that
queue (the calls wait for the loop outside it), and what does climb is this process's
latency, which a lower limit would not cure.

A call answered with errcode 45011 (minute frequency limit) or -1 (system busy), HTTP
429 or 503, or a timeout cuts the limit at once: by ``backoff``, and further down to
the calls the service answered well per floor latency over the last four (Little's
law: the rate it accepts times the latency is the concurrency it takes). A window whose
median latency, smoothed over windows, passed ``tolerance`` times the floor cuts it in
proportion, to ``limit * tolerance * floor / median`` (at most by half): a service queueing calls
answers later in proportion to how far the load is past its knee, so the limit settles
where latency is ``tolerance`` times the floor, and a slow spell of the machine that
barely crosses the line costs little.

Calls that started before a cut are not counted again: they were sent under the old
limit, so the answers they bring say nothing about the new one (TCP's "one cut per
round trip"). Time is the event loop's clock, so a virtual-time loop drives it too.
"""

from __future__ import annotations

import asyncio
import collections
import math
from types import TracebackType

import attrs

from .errors import WxaApiError, WxaTimeoutError, WxaTransportError, WxaValidationError

__all__ = ["AdaptiveGate", "AdaptiveLimit", "FixedGate", "Gate"]

# Answers that mean "slower, please": the minute frequency limit and system busy.
_OVERLOAD_ERRCODES = frozenset({45011, -1})
_OVERLOAD_STATUSES = frozenset({429, 503})
_FLOOR_MEMORY = 10.0  # seconds a floor is remembered: one to two of these
_ACCEPTED_SPAN = 4  # floors of good answers the accepted rate is counted over
_SMOOTHING = 0.25  # weight of a new window median in the smoothed one
_AT_FLOOR = 1.25  # smoothed medians within this factor of the floor: no queue anywhere
_BUSY_LOOP = 0.1  # a handed-over slot waiting this share of the floor: the CPU is full


def _at_least_one(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise WxaValidationError(f"{attribute.name} must be >= 1")


@attrs.frozen
class AdaptiveLimit:
    """How many calls may be in flight, adjusted to the service within bounds.

    ``WxaClient(provider, max_concurrency=AdaptiveLimit(min=4, max=256))``

    The limit starts at ``initial`` and moves between ``min`` and ``max``: it grows
    while the latency stays near its floor and the service answers neither errcode
    45011 nor -1; it shrinks by ``backoff`` when they arrive, and in proportion when
    a window's median latency passes ``tolerance`` times the floor. ``window`` is the
    fewest completed calls a decision is made on. Give the transport at least ``max``
    connections, or the pool's own queue becomes the knee the limit finds.
    """

    min: int = attrs.field(default=4, validator=_at_least_one)
    max: int = attrs.field(default=256, validator=_at_least_one)
    initial: int | None = None  # None: ``min * 4`` within the bounds
    backoff: float = 0.75
    tolerance: float = 2.0
    window: int = attrs.field(default=16, validator=_at_least_one)

    def __attrs_post_init__(self) -> None:
        if self.min > self.max:
            raise WxaValidationError("min must be <= max")
        if self.initial is not None and not self.min <= self.initial <= self.max:
            raise WxaValidationError("initial must be between min and max")
        if not 0.0 < self.backoff < 1.0:
            raise WxaValidationError("backoff must be between 0 and 1")
        if self.tolerance <= 1.0:
            raise WxaValidationError("tolerance must be > 1")

    @classmethod
    def for_pool(cls, connections: int) -> AdaptiveLimit:
        """The network transports' default: up to ``connections`` in flight, starting
        at 32 (or fewer, for a smaller pool) and never below 8."""
        return cls(min=min(8, connections), max=connections, initial=min(32, connections))

    @property
    def start(self) -> int:
        if self.initial is not None:
            return self.initial
        return max(self.min, min(self.max, self.min * 4))


class FixedGate:
    """At most ``limit`` calls at once: a semaphore, and nothing else on the hot path."""

    __slots__ = ("_semaphore", "limit", "max")

    def __init__(self, limit: int) -> None:
        self.limit = self.max = limit
        self._semaphore = asyncio.Semaphore(limit)

    def slot(self) -> asyncio.Semaphore:
        """An async context manager around one attempt."""
        return self._semaphore


class _Slot:
    """One attempt's passage through an :class:`AdaptiveGate`."""

    __slots__ = ("_epoch", "_gate", "_started")

    def __init__(self, gate: AdaptiveGate) -> None:
        self._gate = gate
        self._started = 0.0
        self._epoch = 0

    async def __aenter__(self) -> None:
        gate = self._gate
        await gate._acquire()
        self._epoch = gate._epoch
        self._started = gate._loop_time()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        gate = self._gate
        try:
            if exc is None or isinstance(exc, WxaApiError):
                overloaded = exc is not None and exc.errcode in _OVERLOAD_ERRCODES
                gate._sample(self._epoch, gate._loop_time() - self._started, overloaded)
            elif isinstance(exc, WxaTimeoutError) or (
                isinstance(exc, WxaTransportError) and exc.status_code in _OVERLOAD_STATUSES
            ):
                gate._sample(self._epoch, gate._loop_time() - self._started, True)
            # Anything else (a cancellation, a broken connection) says nothing about load.
        finally:
            gate._release()


class AdaptiveGate:
    """The running state of one :class:`AdaptiveLimit`, shared by a client's views."""

    def __init__(self, config: AdaptiveLimit) -> None:
        self.config = config
        self.max = config.max
        self._limit = float(config.start)
        self._in_flight = 0
        self._waiters: collections.deque[asyncio.Future[float]] = collections.deque()
        self._slow_start = True
        self._epoch = 0  # cuts so far; samples from an older epoch are stale
        self._floor_now = math.inf  # the lowest window median since _floor_since
        self._floor_before = math.inf  # ... and in the period before
        self._floor_since: float | None = None
        self._cut_at = 0.0  # the limit the last cut started from
        self._answered: collections.deque[float] = collections.deque()  # good answers' times
        self._latencies: list[float] = []  # this window's
        self._recent: float | None = None  # window medians, smoothed
        self._saturated = False
        self._lag = 0.0  # the longest a handed-over slot waited for the loop, this window
        self._resumed = 0  # ... and how many such waits it measured
        #: Cuts by cause (``overload`` answers, ``latency`` climbing), growths, and
        #: windows held because this process's CPU was the bottleneck (``cpu``).
        self.events: collections.Counter[str] = collections.Counter()

    @property
    def limit(self) -> int:
        """Calls allowed in flight now."""
        return int(self._limit)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def floor(self) -> float | None:
        """The latency floor in seconds (the lowest recent window median), once known."""
        floor = min(self._floor_now, self._floor_before)
        return None if floor == math.inf else floor

    def slot(self) -> _Slot:
        """An async context manager around one attempt; it measures the attempt."""
        return _Slot(self)

    def __repr__(self) -> str:
        return (f"AdaptiveGate(limit={self.limit}, in_flight={self._in_flight}, "
                f"bounds=[{self.config.min}, {self.config.max}])")

    # -- admission: a semaphore whose size moves ------------------------------------------

    @staticmethod
    def _loop_time() -> float:
        return asyncio.get_running_loop().time()

    async def _acquire(self) -> None:
        if self._in_flight < int(self._limit) and not self._waiters:
            self._in_flight += 1
            if self._in_flight >= int(self._limit):
                self._saturated = True
            return
        self._saturated = True
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[float] = loop.create_future()
        self._waiters.append(waiter)
        try:
            handed = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # a slot was handed over as we were cancelled: pass it on
            else:
                self._waiters.remove(waiter)
            raise
        # How long the slot, once free, waited for this task to run: the event loop's
        # own queue, which grows once this process's CPU is the bottleneck.
        lag = loop.time() - handed
        self._resumed += 1
        if lag > self._lag:
            self._lag = lag

    def _release(self) -> None:
        self._in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self._in_flight < int(self._limit):
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._in_flight += 1  # handed over: counted from now
                waiter.set_result(self._loop_time())

    # -- control -----------------------------------------------------------------------------

    def _sample(self, epoch: int, latency: float, overloaded: bool) -> None:
        config = self.config
        now = self._loop_time()
        answered = self._answered
        floor = self.floor
        span = _ACCEPTED_SPAN * (latency if floor is None else floor)
        while answered and answered[0] < now - span:
            answered.popleft()
        if not overloaded:
            answered.append(now)
        if epoch != self._epoch:
            return  # sent under a limit since cut: says nothing about this one
        if overloaded:
            accepted = len(answered) / _ACCEPTED_SPAN  # good answers per floor latency
            self._cut(min(self._limit * config.backoff, accepted), "overload")
            return
        latencies = self._latencies
        latencies.append(latency)
        if len(latencies) < max(config.window, int(self._limit)):
            return
        latencies.sort()
        median = latencies[len(latencies) // 2]
        if floor is None:
            # The first window holds the cold start (connections, first uses, a burst
            # of new calls): it seeds the floor and judges nothing.
            self._remember(median, now)
            self._new_window()
            return
        # Judged on the medians smoothed: one slow window is more often this process
        # pausing (a collection, a burst of new calls) than the service queueing. The
        # floor follows them too (the lowest of many noisy medians would sink below the
        # typical one), but takes raw medians in slow start, whose few windows double
        # the limit each: a smoothed floor would lag the falling medians of the warm-up.
        recent = median if self._recent is None else (
            self._recent + (median - self._recent) * _SMOOTHING)
        self._recent = recent
        self._remember(median if self._slow_start else recent, now)
        floor = min(self._floor_now, self._floor_before)  # with this window's median
        # While this process's CPU is what holds calls back (a freed slot waits for the
        # event loop), the limit holds: more in flight would only wait longer for the
        # CPU, and the latency that climbs is this process's, not the service's.
        if self._lag > floor * _BUSY_LOOP:
            self.events["cpu"] += 1
        elif recent > floor * config.tolerance:
            self._cut(self._limit * max(0.5, floor * config.tolerance / recent), "latency")
            return
        elif self._saturated and self._resumed:
            # (Only once calls queued at the gate, and the loop's pace was measured on
            # them: without, a higher limit would admit no one, and is unjudged.)
            if self._slow_start:
                grown = self._limit * 2
            elif self._cut_at * 0.85 <= self._limit <= self._cut_at * 1.15:
                grown = self._limit + 0.25
            elif recent <= floor * _AT_FLOOR:
                grown = self._limit * 1.1 + 1  # nowhere near a queue: regrow quickly
            else:
                grown = self._limit + 1
            if grown > config.max:
                grown = float(config.max)
            if grown > self._limit:
                self._limit = grown
                self.events["grow"] += 1
                self._wake()
        self._new_window()

    def _remember(self, median: float, now: float) -> None:
        # Two periods of lowest medians: a service that became slower for good is
        # relearned within two periods rather than read as congestion forever.
        if self._floor_since is None:
            self._floor_since = now
        elif now - self._floor_since >= _FLOOR_MEMORY:
            self._floor_before, self._floor_now = self._floor_now, math.inf
            self._floor_since = now
        self._floor_now = min(self._floor_now, median)

    def _cut(self, to: float, cause: str) -> None:
        self._cut_at = self._limit
        self._limit = max(float(self.config.min), to)
        self._slow_start = False
        self._epoch += 1
        self.events[cause] += 1
        self._new_window()

    def _new_window(self) -> None:
        self._latencies = []
        self._lag = 0.0
        self._resumed = 0
        self._saturated = self._in_flight >= int(self._limit)


Gate = FixedGate | AdaptiveGate
