"""The time limits of one attempt: first bytes, a streamed body's gaps, and the total.

One :class:`Deadline` per attempt wraps one ``asyncio.timeout``, moved with
``reschedule()`` as the answer arrives, so asyncio does the cancellation bookkeeping
(a cancellation from anyone else is never mistaken for a timeout). :class:`Limits`
turns a :class:`~wxa_async.Timeout` into what the client enforces and what the
transport is handed, once per client (or ``with_options`` view), not once per call.

What is enforced, for every transport:

* the answer's headers, and a whole JSON answer, within ``connect + read`` of the
  attempt's start (or ``total``, if smaller);
* a streamed (binary) body: each chunk within ``read`` of the one before, all of it
  within ``total``;
* with ``connect=None`` the client cannot tell connecting from waiting for an answer,
  so the transport is handed the ``read`` limit to enforce on every socket read.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

import attrs

from .errors import WxaTimeoutError
from .transports._base import Timeout

__all__ = ["Deadline", "Limits"]


class Limits:
    """The per-attempt limits of one :class:`Timeout`."""

    __slots__ = ("first", "first_name", "gap", "timeout", "total", "wire")

    def __init__(self, timeout: Timeout) -> None:
        self.timeout = timeout
        connect, read, total = timeout.connect, timeout.read, timeout.total
        first = None if connect is None or read is None else connect + read
        self.first_name = "connect + read"
        if total is not None and (first is None or total <= first):
            first, self.first_name = total, "total"
        self.first = first
        self.total = total
        self.gap = read
        # The client keeps the read limit itself (a loop timer an HTTP library re-arms
        # on every socket read costs more than the limit is worth), unless it cannot.
        self.wire = timeout if connect is None else attrs.evolve(timeout, read=None)


class Deadline:
    """``async with Deadline(limits):`` around one attempt.

    Inside, :meth:`answered` marks the headers' arrival (for a streamed body it also
    switches from the first-bytes limit to the gap limit) and :meth:`progress` (once
    per chunk) moves the gap on. On expiry the block raises ``TimeoutError`` and
    :attr:`expired` is true; :meth:`error` then names the limit that fired.
    """

    __slots__ = ("_answered", "_cap", "_fired", "_gap", "_limits", "_loop", "_scope")

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._scope: asyncio.Timeout | None = None
        self._fired = limits.first_name
        self._answered = False
        self._gap: float | None = None
        self._cap: float | None = None

    async def __aenter__(self) -> Deadline:
        limits = self._limits
        if limits.first is None and limits.gap is None:
            return self
        loop = self._loop = asyncio.get_running_loop()
        now = loop.time()
        if limits.total is not None:
            self._cap = now + limits.total
        # `first` is None only when `total` is too; the gap may still apply later.
        self._scope = asyncio.timeout_at(None if limits.first is None else now + limits.first)
        await self._scope.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        scope = self._scope
        if scope is None:
            return None
        await scope.__aexit__(exc_type, exc, tb)
        return None

    def answered(self, *, streaming: bool = False) -> None:
        """The headers arrived; a ``streaming`` body is then held to the gap limit."""
        self._answered = True
        if streaming and self._limits.gap is not None:
            self._gap = self._limits.gap
            self.progress()

    def progress(self) -> None:
        """A chunk of the body arrived: one clock read and a moved timer."""
        gap = self._gap
        if gap is None:
            return
        when = self._loop.time() + gap
        cap = self._cap
        if cap is not None and when >= cap:
            when, self._fired = cap, "total"
        else:
            self._fired = "read"
        assert self._scope is not None
        self._scope.reschedule(when)

    @property
    def expired(self) -> bool:
        """Did this deadline (not someone else's cancellation) end the attempt?"""
        return self._scope is not None and self._scope.expired()

    def error(self, endpoint: str) -> WxaTimeoutError:
        """The timeout error of an expired attempt, naming the limit that fired."""
        limits = self._limits
        fired = self._fired
        if fired == "read":
            text = f"no data for {limits.gap} s (read limit)"
        else:
            seconds = limits.total if fired == "total" else limits.first
            what = "no complete answer" if self._answered else "no answer"
            text = f"{what} within {seconds} s ({fired} limit)"
        return WxaTimeoutError(f"{endpoint}: {text}", endpoint=endpoint)
