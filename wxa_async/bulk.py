"""One operation on many mini programs: every result kept, failures isolated, cancellable.

A fixed pool of workers pulls appids from one iterator, so ``concurrency`` bounds the
operations in flight and 10,000 appids never become 10,000 pending tasks. Each HTTP
call the operations make still passes the client's own concurrency gate.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from .errors import WxaValidationError

if TYPE_CHECKING:
    from ._handle import MiniProgram
    from .client import WxaClient

__all__ = ["BulkResult", "Outcome", "ProgressCallback", "bulk"]

T = TypeVar("T")


@attrs.frozen
class Outcome(Generic[T]):
    """What one appid's operation ended with: a ``value`` or an ``error``."""

    appid: str
    value: T | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> T:
        """The value, or raise the error."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


#: ``on_progress(done, total, appid, outcome)``, called as each operation ends; it may
#: be a coroutine function.
ProgressCallback = Callable[[int, int, str, Outcome[Any]], object]


class BulkResult(Mapping[str, Outcome[T]]):
    """appid -> :class:`Outcome`, in the order the appids were given."""

    __slots__ = ("_outcomes",)

    def __init__(self, outcomes: Mapping[str, Outcome[T]]) -> None:
        self._outcomes = dict(outcomes)

    def __getitem__(self, appid: str) -> Outcome[T]:
        return self._outcomes[appid]

    def __iter__(self) -> Iterator[str]:
        return iter(self._outcomes)

    def __len__(self) -> int:
        return len(self._outcomes)

    @property
    def ok(self) -> bool:
        """True when every operation succeeded."""
        return all(outcome.ok for outcome in self._outcomes.values())

    @property
    def succeeded(self) -> dict[str, T]:
        """appid -> value of the operations that succeeded."""
        return {a: o.value for a, o in self._outcomes.items() if o.error is None}  # type: ignore[misc]

    @property
    def failed(self) -> dict[str, Exception]:
        """appid -> error of the operations that failed."""
        return {a: o.error for a, o in self._outcomes.items() if o.error is not None}

    def __repr__(self) -> str:
        return f"BulkResult(succeeded={len(self) - len(self.failed)}, failed={len(self.failed)})"


async def _run_one(
    client: WxaClient, appid: str, operation: Callable[[MiniProgram], Awaitable[T]]
) -> Outcome[T]:
    try:
        value = await operation(client.app(appid))
    except Exception as exc:
        # Any Exception, not only WxaError: a bug hit on one app (a KeyError in the
        # caller's lambda) must not lose the results of the releases already made.
        # CancelledError, KeyboardInterrupt and SystemExit are BaseExceptions: they
        # pass through and stop the whole bulk.
        return Outcome(appid, error=exc)
    return Outcome(appid, value=value)


def _default_concurrency(client: WxaClient) -> int:
    size = getattr(client, "max_concurrency", None)
    if isinstance(size, int) and size > 0:
        return size
    default = client.transport.default_concurrency
    return default if isinstance(default, int) else default.max


async def bulk(
    client: WxaClient,
    appids: Iterable[str],
    operation: Callable[[MiniProgram], Awaitable[T]],
    *,
    concurrency: int | None = None,
    on_progress: ProgressCallback | None = None,
) -> BulkResult[T]:
    """Run ``operation(client.app(appid))`` for every appid; return each one's outcome.

    At most ``concurrency`` operations run at once (default: the client's concurrency).
    A failing operation is recorded in its :class:`Outcome` and the others carry on;
    repeated appids run once. ``on_progress(done, total, appid, outcome)`` is called as
    each operation ends (awaited if it returns an awaitable); an exception it raises
    stops the bulk and propagates. Cancelling the task running ``bulk`` cancels every
    operation in flight and returns only when they have all ended.
    """
    if concurrency is not None and concurrency < 1:
        raise WxaValidationError("concurrency: must be >= 1")
    order = list(dict.fromkeys(appids))
    total = len(order)
    limit = min(concurrency or _default_concurrency(client), total)
    pending = iter(order)
    outcomes: dict[str, Outcome[T]] = {}

    async def worker() -> None:
        # The workers share one iterator: each pulls the next appid when it is free.
        for appid in pending:
            outcome = await _run_one(client, appid, operation)
            outcomes[appid] = outcome
            if on_progress is not None:
                reported = on_progress(len(outcomes), total, appid, outcome)
                if inspect.isawaitable(reported):
                    await reported

    try:
        # A TaskGroup cancels and awaits every worker when the caller is cancelled or a
        # progress callback fails, so nothing is left pending.
        async with asyncio.TaskGroup() as group:
            for _ in range(limit):
                group.create_task(worker())
    except BaseExceptionGroup as group_error:
        # Only a progress callback can fail a worker: re-raise its error as itself.
        raise group_error.exceptions[0] from None
    return BulkResult({appid: outcomes[appid] for appid in order})
