"""Total-time limits for many concurrent calls at the cost of two dict operations each.

``asyncio.timeout`` arms and cancels one loop timer per call (about 4 µs, a quarter of
the client's own per-call cost). A total limit of tens of seconds does not need
microsecond precision, so calls register their deadline here instead and one sweep
timer, re-armed only while calls are registered, cancels the tasks that overran. A
limit fires at most ``granularity`` late: a twentieth of the limit, at most 0.5 s.

Cancellation bookkeeping follows ``asyncio.timeout``: the sweep counts as one
``cancel()`` of the task; the caller undoes it with ``uncancel()`` and turns it into a
timeout only when nobody else cancelled the task meanwhile.
"""

from __future__ import annotations

import asyncio
from math import inf

__all__ = ["Deadline", "Deadlines"]


class Deadline:
    """When one attempt must be over: ``at``, which the sweep reads. With a ``gap``
    (a streamed body's read limit), each :meth:`progress` moves ``at`` to ``gap`` from
    now, never past ``cap`` (the attempt's total)."""

    __slots__ = ("at", "cancelling", "cap", "expired", "extended", "gap", "task")

    def __init__(
        self, task: asyncio.Task[object], at: float, cap: float, gap: float | None
    ) -> None:
        self.task = task
        self.at = at
        self.cap = cap
        self.gap = gap
        self.cancelling = task.cancelling()
        self.expired = False
        self.extended = False

    def progress(self) -> None:
        """A chunk of the body arrived: one clock read, no timer."""
        if self.gap is not None:
            self.at = min(self.cap, self.task.get_loop().time() + self.gap)
            self.extended = True

    def stalled(self) -> bool:
        """Did the gap between chunks, rather than the cap, run out?"""
        return self.extended and self.at < self.cap

    def timed_out(self) -> bool:
        """After a CancelledError: was it ours alone? Then it is a timeout."""
        return self.expired and self.task.uncancel() <= self.cancelling


class Deadlines:
    def __init__(self) -> None:
        self._active: dict[Deadline, None] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._granularity = 0.5

    def start(
        self, seconds: float, *, cap: float | None = None, gap: float | None = None
    ) -> Deadline:
        """A deadline ``seconds`` from now; ``cap`` and ``gap`` as in :class:`Deadline`
        (``cap`` in seconds from now too)."""
        task = asyncio.current_task()
        assert task is not None  # only called from coroutines of the client
        loop = task.get_loop()
        now = loop.time()
        deadline = Deadline(task, now + seconds, now + (cap or inf), gap)
        self._active[deadline] = None
        granularity = min(0.5, seconds / 20)
        # Re-arm for a finer limit, and when the timer belongs to a loop that has ended
        # (a client used from a second asyncio.run()).
        if self._timer is None or granularity < self._granularity or self._timer_loop is not loop:
            if self._timer is not None:
                self._timer.cancel()
            self._granularity = granularity
            self._timer = loop.call_later(granularity, self._sweep, loop)
            self._timer_loop = loop
        return deadline

    def stop(self, deadline: Deadline) -> None:
        self._active.pop(deadline, None)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for deadline in list(self._active):
            if deadline.at <= now:
                del self._active[deadline]
                if not deadline.task.done():
                    deadline.expired = True
                    deadline.task.cancel()
        if self._active:
            self._timer = loop.call_later(self._granularity, self._sweep, loop)
        else:
            self._timer = None
            self._granularity = 0.5

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
