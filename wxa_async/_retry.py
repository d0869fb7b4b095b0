"""When a failed attempt is tried again, and how long to wait first.

A :class:`RetryPolicy` is a value the client is given (``WxaClient(retry=...)``), so
tests and callers control backoff and time (its ``sleep``) without patching anything.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs

from .errors import (
    WxaDecodeError,
    WxaError,
    WxaSystemBusyError,
    WxaTransportError,
    WxaValidationError,
)

if TYPE_CHECKING:
    from .endpoints import EndpointSpec

__all__ = ["RetryPolicy", "is_ambiguous"]


def is_ambiguous(exc: BaseException) -> bool:
    """May the failed call that raised ``exc`` have been applied by the service?

    True when the request left this process and no definite answer came back (a
    dropped connection, a timeout, HTTP 5xx) and for errcode -1, which the service also
    sends after a change was made. A mutation that failed this way must be checked with
    a read before it is issued again; any other failure (an errcode, a refused
    connection, bad input) certainly changed nothing."""
    if isinstance(exc, WxaSystemBusyError):
        return True
    return isinstance(exc, WxaTransportError) and exc.request_sent


def _non_negative(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value < 0:
        raise WxaValidationError(f"{attribute.name}: must be >= 0")


def _non_negative_or_none(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        _non_negative(_, attribute, value)


@attrs.frozen
class RetryPolicy:
    """Backoff and bounds of retries; the client holds one, ``with_options`` swaps it.

    Attempt ``n`` (0 for the first retry) waits ``min(base_delay * 2**n, max_delay)``
    seconds; with ``jitter`` ("equal jitter") half of that is fixed and half drawn by
    ``random`` (a function returning ``[0, 1)``). No retry starts later than
    ``deadline`` seconds after the call's first attempt left the client (``None``: no
    such bound). ``sleep`` waits between attempts.

    What is retried is fixed by the contract: idempotent reads after errcode -1, HTTP
    5xx or 429, a body that is not JSON, a timeout or a connection failure; any call,
    mutations included, when the request certainly never left (connection refused);
    never a deterministic answer (an errcode, JSON of the wrong shape, a body over a
    size limit).
    """

    max_retries: int = attrs.field(default=3, validator=_non_negative)
    base_delay: float = attrs.field(default=0.1, validator=_non_negative)
    max_delay: float = attrs.field(default=2.0, validator=_non_negative)
    jitter: bool = True
    deadline: float | None = attrs.field(default=30.0, validator=_non_negative_or_none)
    sleep: Callable[[float], Awaitable[object]] = attrs.field(default=asyncio.sleep, eq=False)
    random: Callable[[], float] = attrs.field(default=random.random, eq=False)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (counted from 0)."""
        ceiling = min(self.base_delay * 2.0**attempt, self.max_delay)
        if not self.jitter:
            return ceiling
        return ceiling / 2 + self.random() * ceiling / 2

    def retryable(self, endpoint: EndpointSpec, exc: WxaError) -> bool:
        """Would a fresh attempt of ``endpoint`` after ``exc`` be safe and useful?"""
        if isinstance(exc, WxaDecodeError) and not exc.transient:
            return False
        if isinstance(exc, WxaTransportError) and not exc.request_sent:
            return True  # never reached the service: safe even for a mutation
        if not endpoint.idempotent:
            return False  # the mutation may have been applied: never repeat it
        if isinstance(exc, WxaTransportError) and exc.status_code is not None:
            return exc.status_code >= 500 or exc.status_code == 429
        return isinstance(exc, WxaSystemBusyError | WxaTransportError)

    def delay(
        self, endpoint: EndpointSpec, exc: WxaError, attempt: int, elapsed: float
    ) -> float | None:
        """Seconds to wait before the next attempt, or None for no retry; ``attempt``
        retries were made so far and ``elapsed`` seconds passed since the first one."""
        if attempt >= self.max_retries or not self.retryable(endpoint, exc):
            return None
        wait = self.backoff(attempt)
        if self.deadline is not None and elapsed + wait > self.deadline:
            return None
        return wait
