"""Rollout: a durable run of a :class:`RolloutPlan` over its apps.

The store is the only truth. A worker (:meth:`Rollout.run`) leases due apps, works
each until it has to wait (an audit, quota, a stage's wait) and writes every step;
any number of workers may run the same rollout (on PostgreSQL, from many machines).
Operator actions (:meth:`pause`, :meth:`cancel`, ...) are writes to the store as well:
they take effect in every worker, and survive every restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from ..errors import WxaError, WxaValidationError
from ..push import AuditDelayEvent, AuditFailEvent, AuditSuccessEvent, UnauthorizedEvent
from ._options import Clock, RolloutOptions, SystemClock
from ._plan import RolloutPlan
from ._rows import AppRow, Change, RolloutRecord, RolloutSummary
from ._states import ACTIVE, AUDIT_OPEN, AppStatus, RolloutState
from ._steps import AppWorker
from ._store import RolloutStore

if TYPE_CHECKING:
    from .. import WxaClient

__all__ = ["Rollout"]

_log = logging.getLogger("wxa_async.rollout")
S = AppStatus
_FINAL = {RolloutState.ACTIVE: RolloutState.FINISHED,
          RolloutState.CANCELLING: RolloutState.CANCELLED,
          RolloutState.ROLLING_BACK: RolloutState.ROLLED_BACK}

#: ``on_progress(summary)`` after each batch of work, for progress displays.
ProgressHook = Callable[[RolloutSummary], object]


class _Writer:
    """Group commit: the writes of every app task waiting at one moment (state changes
    and quota takes) go to the store in one transaction, so a worker holds the write
    lock once per batch. Each task still waits for its own write to be durable before
    it makes the call the write announces."""

    def __init__(self, store: RolloutStore, rid: int, clock: Clock) -> None:
        self._store = store
        self._rid = rid
        self._clock = clock
        self._changes: list[tuple[Change, asyncio.Future[bool]]] = []
        self._takes: list[tuple[tuple[int, float], asyncio.Future[str]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        self._wake.set()

    async def apply(self, change: Change) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._changes.append((change, future))
        self._start()
        return await future

    async def take_quota(self, reserve: int, now: float, max_age: float) -> str:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._takes.append(((reserve, max_age), future))
        self._start()
        return await future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            changes, self._changes = self._changes, []
            takes, self._takes = self._takes, []
            if not changes and not takes:
                continue
            futures: list[asyncio.Future[Any]] = [f for _, f in changes] + [f for _, f in takes]
            try:
                applied, taken = await self._store.write(
                    self._rid, [c for c, _ in changes], [t for t, _ in takes],
                    self._clock.now())
            except BaseException as exc:
                for future in futures:
                    if not future.done():
                        future.set_exception(exc if isinstance(exc, Exception)
                                             else WxaError("the store write was cancelled"))
                if not isinstance(exc, Exception):
                    raise
                continue
            for future, value in zip(futures, [*applied, *taken], strict=True):
                if not future.done():
                    future.set_result(value)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class Rollout:
    """A durable run of a plan, opened from a store (URL or :class:`RolloutStore`)::

        async with await Rollout.open("sqlite:///rollouts.db", client, plan) as rollout:
            summary = await rollout.run()

    ``open`` with a ``plan`` creates the rollout, or resumes it when the store has one
    of that name (its plan must be the same); with ``name`` only, it opens an existing
    rollout (for status and operator actions ``client`` may be None). A store given as
    a URL is closed with the rollout; a :class:`RolloutStore` is left open.
    """

    def __init__(
        self, store: RolloutStore, record: RolloutRecord, plan: RolloutPlan,
        client: WxaClient | None, options: RolloutOptions, clock: Clock, owns_store: bool,
    ) -> None:
        self.store = store
        self.plan = plan
        self.client = client
        self.options = options
        self.clock = clock
        self._record = record
        self._owns_store = owns_store
        self.worker_id = options.worker_id or f"w-{uuid.uuid4().hex[:12]}"

    @property
    def name(self) -> str:
        return self._record.name

    @classmethod
    async def open(
        cls, store: str | RolloutStore, client: WxaClient | None = None,
        plan: RolloutPlan | None = None, *, name: str | None = None,
        options: RolloutOptions | None = None, clock: Clock | None = None,
    ) -> Rollout:
        if (plan is None) == (name is None):
            raise WxaValidationError("give a plan (create or resume) or a name (open)")
        owns = isinstance(store, str)
        opened = await RolloutStore.open(store) if isinstance(store, str) else store
        try:
            clock = clock or SystemClock()
            if plan is not None:
                # Resolved before anything is written: a bad ext_json fails the whole plan.
                record = await opened.get_rollout(plan.name)
                if record is None:
                    ext = {appid: plan.ext_json_for(appid) for appid in plan.appids}
                    record, _ = await opened.create_rollout(plan.to_data(), ext, clock.now())
                if not plan.same_as(RolloutPlan.from_data(record.plan)):
                    raise WxaValidationError(
                        f"rollout {plan.name!r} exists with a different plan: give it a new "
                        "name, or run the stored one by name")
                chosen = plan
            else:
                assert name is not None
                found = await opened.get_rollout(name)
                if found is None:
                    raise WxaError(f"no rollout named {name!r} in this store")
                record, chosen = found, RolloutPlan.from_data(found.plan)
        except BaseException:
            if owns:
                await opened.aclose()
            raise
        return cls(opened, record, chosen, client, options or RolloutOptions(),
                   clock, owns)

    async def aclose(self) -> None:
        if self._owns_store:
            await self.store.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"Rollout(name={self.name!r}, worker={self.worker_id!r})"

    # -- reading ----------------------------------------------------------------------

    async def status(self) -> RolloutSummary:
        """Counts by state (every app's row: :meth:`report` or ``store.apps``)."""
        summary = await self.store.summary(self.name)
        assert summary is not None
        return summary

    async def report(self) -> list[AppRow]:
        """Every app's row, by appid."""
        return list((await self.store.apps(self.name, limit=None)).rows)

    async def _refresh(self) -> RolloutRecord:
        record = await self.store.get_rollout(self.name)
        assert record is not None
        self._record = record
        return record

    # -- working ----------------------------------------------------------------------

    async def run(self, *, on_progress: ProgressHook | None = None) -> RolloutSummary:
        """Work the rollout until every app is in a terminal state, it is paused, or
        nothing is left to do without an operator (apps held for approval).

        Safe to run in several processes at once, and to kill at any instant: run it
        again and it carries on. Returns the final counts."""
        if self.client is None:
            raise WxaError("Rollout.run needs a client: open the rollout with one")
        record = await self._refresh()
        writer = _Writer(self.store, record.id, self.clock)
        worker = AppWorker(
            client=self.client, plan=self.plan, rid=record.id, apply=writer.apply,
            take_quota=writer.take_quota,
            store=self.store, clock=self.clock, options=self.options, owner=self.worker_id,
            health_check=self.plan.release.resolve_health_check(),
        )
        inflight: dict[str, asyncio.Task[None]] = {}
        # On every start, every open audit is polled at once: a result that came while
        # no worker ran (its push lost with the worker) is not left for the next poll.
        await self.store.wake(record.id, sorted(AUDIT_OPEN), self.clock.now())
        try:
            return await self._loop(record, worker, inflight, on_progress)
        finally:
            for task in inflight.values():
                task.cancel()
            if inflight:
                await asyncio.gather(*inflight.values(), return_exceptions=True)
            await writer.aclose()

    async def _loop(
        self, record: RolloutRecord, worker: AppWorker, inflight: dict[str, asyncio.Task[None]],
        on_progress: ProgressHook | None,
    ) -> RolloutSummary:
        options, clock, rid = self.options, self.clock, record.id
        renewed = clock.now()
        refreshed = 0.0
        while True:
            # The rollout's own row (pause, cancel, approval) is read at most 4 times a
            # second of real time: often enough for an operator, cheap for the store.
            if time.monotonic() - refreshed >= 0.25 or not inflight:
                record = await self._refresh()
                refreshed = time.monotonic()
            worker.rollout_state = record.state
            worker.approved = record.approved
            worker.rollback_version = record.rollback_version
            if record.state in (RolloutState.PAUSED, *_FINAL.values()) and not inflight:
                return await self.status()
            free = options.concurrency - len(inflight)
            claimed: list[AppRow] = []
            if record.state not in (RolloutState.PAUSED, *_FINAL.values()) and \
                    free >= max(1, options.concurrency // 4):
                claimed = await self.store.claim(rid, self.worker_id, clock.now(),
                                                 options.lease_ttl, free, exclude=list(inflight))
            for row in claimed:
                inflight[row.appid] = asyncio.create_task(self._work(worker, row, inflight))
            if clock.now() - renewed > options.lease_ttl / 3 and inflight:
                renewed = clock.now()
                try:
                    await self.store.renew(rid, self.worker_id, list(inflight),
                                           renewed + options.lease_ttl)
                except Exception as exc:  # the next renewal tries again, well in time
                    _log.warning("renewing leases failed: %s", type(exc).__name__)
            if claimed:
                await asyncio.sleep(0)  # let the new tasks start before claiming more
                continue
            if inflight:
                await asyncio.wait(list(inflight.values()), timeout=options.idle_sleep,
                                   return_when=asyncio.FIRST_COMPLETED)
                if on_progress is not None:
                    on_progress(await self.status())
                continue
            if on_progress is not None:
                on_progress(await self.status())
            nxt = await self.store.next_due(rid)
            if nxt is None:
                summary = await self.status()
                if summary.finished or record.state != RolloutState.ACTIVE:
                    final = _FINAL.get(record.state)
                    if final is not None and summary.finished:
                        await self.store.set_rollout_state(rid, final, clock.now(),
                                                           expect=[record.state])
                        return await self.status()
                return summary  # only an operator can move the rest (approval)
            wait = nxt - clock.now()
            if wait > 0:
                wait += options.coalesce
                await clock.sleep(min(wait, options.idle_sleep))

    async def _work(
        self, worker: AppWorker, row: AppRow, inflight: dict[str, asyncio.Task[None]]
    ) -> None:
        try:
            await worker.work(row)
        except WxaError as exc:  # the store or a bug: the lease runs out, another try later
            _log.error("working %s failed: %s", row.appid, exc)
        except Exception:
            _log.exception("working %s failed", row.appid)
        finally:
            inflight.pop(row.appid, None)

    # -- pushes -----------------------------------------------------------------------

    async def handle_event(self, event: object, appid: str | None = None) -> bool:
        """Take a push event for this rollout's app ``appid`` (default: the event's
        ``authorizer_appid``, which the callback takes from the URL). True when it
        changed something.

        Audit results wake the app for one ``get_audit_status`` read of its own
        auditid (a push names no auditid): a stale, duplicated or out-of-order push
        cannot move an app anywhere the service does not confirm. A delay event marks
        the app delayed; an unauthorized event fails the app (61003)."""
        appid = appid or getattr(event, "authorizer_appid", None)
        if not appid:
            raise WxaValidationError("handle_event: the event's authorizer appid is needed")
        row = await self.store.app(self._record.id, appid)
        if row is None:
            return False
        now = self.clock.now()
        change: Change | None = None
        if isinstance(event, AuditSuccessEvent | AuditFailEvent) and row.state in AUDIT_OPEN:
            if row.hint == "push":
                return False  # a duplicate: the read is already due
            change = Change(appid, row.state, values={"next_at": now, "hint": "push"})
        elif isinstance(event, AuditDelayEvent) and row.state == S.UNDER_AUDIT:
            change = Change(appid, row.state, S.DELAYED, detail="audit delayed (push)")
        elif isinstance(event, UnauthorizedEvent) and row.state in ACTIVE:
            change = Change(appid, row.state, S.FAILED, detail="authorization revoked (push)",
                            values={"errcode": 61003, "errmsg": "unauthorized by the merchant",
                                    "retryable": False, "next_at": None, "intent": None})
        if change is None:
            return False
        return (await self.store.apply(self._record.id, [change], now))[0]

    async def on_event(self, event: object) -> None:
        """:meth:`handle_event` as a callback's ``on_event`` (the appid from the URL)."""
        if getattr(event, "authorizer_appid", None):
            await self.handle_event(event)

    # -- operator actions -------------------------------------------------------------

    async def pause(self) -> bool:
        """Stop taking new work (calls in flight finish); True if it was running."""
        return await self.store.set_rollout_state(
            self._record.id, RolloutState.PAUSED, self.clock.now(),
            expect=[RolloutState.ACTIVE])

    async def resume(self) -> bool:
        """Undo :meth:`pause`."""
        return await self.store.set_rollout_state(
            self._record.id, RolloutState.ACTIVE, self.clock.now(),
            expect=[RolloutState.PAUSED])

    async def approve(self) -> bool:
        """Release the apps a ``"approval"`` policy holds (and later ones at once)."""
        record = await self._refresh()
        return await self.store.set_rollout_state(
            record.id, record.state, self.clock.now(), expect=[record.state],
            approved=True, wake=[S.PASSED])

    async def cancel(self) -> bool:
        """Stop the rollout: apps not yet submitted are cancelled, audits under way
        are withdrawn (``undo_code_audit``, once per app per day; an app whose undo
        is refused for the day tries again the next), passed apps are not released,
        gray releases are reverted. Released apps stay released (see :meth:`rollback`)."""
        return await self.store.set_rollout_state(
            self._record.id, RolloutState.CANCELLING, self.clock.now(),
            expect=[RolloutState.ACTIVE, RolloutState.PAUSED, RolloutState.FINISHED],
            wake=sorted(ACTIVE))

    async def rollback(self, app_version: int | None = None) -> bool:
        """Revert every released app to its previous version (``revert_code_release``;
        or to ``app_version`` from the version history), revert gray releases, and
        cancel the rest as :meth:`cancel` does."""
        if app_version is not None and not _takes_app_version():
            raise WxaValidationError(
                "rollback(app_version=...) needs revert_code_release(app_version), which "
                "this wxa_async does not have yet: roll back to the previous version")
        return await self.store.set_rollout_state(
            self._record.id, RolloutState.ROLLING_BACK, self.clock.now(),
            expect=[RolloutState.ACTIVE, RolloutState.PAUSED, RolloutState.FINISHED,
                    RolloutState.CANCELLING, RolloutState.CANCELLED],
            rollback_version=app_version, wake=sorted({*ACTIVE, S.RELEASED}))

    async def retry_failed(self, appids: list[str] | None = None) -> int:
        """Start failed apps an operator may retry (``retryable``) over from pending."""
        rows = (await self.store.apps(self.name, states=[S.FAILED], limit=None)).rows
        changes = [Change(r.appid, S.FAILED, S.PENDING, detail="retry",
                          values={"next_at": self.clock.now(), "attempts": 0, "errcode": None,
                                  "errmsg": None, "retryable": None, "intent": None})
                   for r in rows if r.retryable and (appids is None or r.appid in appids)]
        if not changes:
            return 0
        done = await self.store.apply(self._record.id, changes, self.clock.now())
        record = await self._refresh()
        if record.state == RolloutState.FINISHED:
            await self.store.set_rollout_state(record.id, RolloutState.ACTIVE,
                                               self.clock.now(), expect=[record.state])
        return sum(done)


def _takes_app_version() -> bool:
    """Whether this SDK's ``revert_code_release`` takes an ``app_version``."""
    import inspect

    from .. import MiniProgram

    request = MiniProgram.revert_code_release.request
    return "app_version" in inspect.signature(request).parameters
