"""What a worker does to one leased app: the per-app state machine in code.

Each step makes at most one mutation. Before a mutation that must not happen twice
(``submit_audit``, ``release``, ``gray_release``, ``undo_code_audit``,
``revert_code_release``) its intent is written together with what the reconciling
reads will compare against; the outcome clears it. An app found with an intent (after
a crash, or after an answer that was lost) is first reconciled through reads, and
the mutation is issued again only if the reads show it never took effect. ``commit``
and ``set_privacy_setting`` replace what they set, so they are simply repeated.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

import attrs

from ..errors import (
    WxaApiError,
    WxaError,
    WxaQuotaError,
    WxaSystemBusyError,
    WxaTokenError,
    WxaTransportError,
)
from ._plan import HealthCheck, RolloutPlan
from ._rows import AppRow, Change
from ._states import AUDIT_OPEN, TERMINAL, AppStatus, RolloutState

if TYPE_CHECKING:
    from .. import MiniProgram, WxaClient
    from ._options import Clock, RolloutOptions
    from ._store import RolloutStore

__all__ = ["REVOKED", "AppWorker", "Lost"]

_log = logging.getLogger("wxa_async.rollout")
S = AppStatus

#: Authorization revoked or refresh token invalid: no retry helps.
REVOKED = frozenset({61003, 61023})
_PRIVACY_RUNNING = 61039
_QUOTA_EMPTY = 85085
_UNDO_LIMIT = 87013
_ALREADY_AUDITING = 85009
_NO_AUDIT = 85012
_AUDIT_STATES = {0: S.PASSED, 1: S.REJECTED, 2: S.UNDER_AUDIT, 3: S.WITHDRAWN, 4: S.DELAYED}

Kind = Literal["revoked", "privacy", "quota", "ambiguous", "transient", "fatal"]
Wait = float | None | Literal[False]  # a time to park until; None: until woken; False: go on
Apply = Callable[[Change], Awaitable[bool]]
_ROW_FIELDS = frozenset(attrs.fields_dict(AppRow))


class Lost(Exception):
    """The row changed under us (a push, an operator, or our lease ran out)."""


def classify(exc: BaseException, *, mutation: bool) -> Kind:
    """How a failed call is handled. For a mutation, an answer that may have been lost
    after the request arrived is ``ambiguous``: reconcile, never blindly repeat."""
    if isinstance(exc, WxaApiError):
        if exc.errcode in REVOKED:
            return "revoked"
        if exc.errcode == _PRIVACY_RUNNING:
            return "privacy"
        if exc.errcode == _QUOTA_EMPTY:
            return "quota"
        if isinstance(exc, WxaSystemBusyError):
            return "ambiguous" if mutation else "transient"
        if isinstance(exc, WxaTokenError | WxaQuotaError):
            return "transient"
        return "fatal"
    if isinstance(exc, WxaTransportError):
        return "ambiguous" if mutation and exc.request_sent else "transient"
    return "fatal"


class AppWorker:
    """Works leased apps of one rollout; shared by every app task of a worker."""

    def __init__(
        self, *, client: WxaClient, plan: RolloutPlan, rid: int, apply: Apply,
        take_quota: Callable[[int, float, float], Awaitable[str]], store: RolloutStore,
        clock: Clock, options: RolloutOptions, owner: str,
        health_check: HealthCheck | None,
    ) -> None:
        self.client = client
        self.plan = plan
        self.rid = rid
        self._apply = apply
        self._take_quota = take_quota
        self.store = store
        self.clock = clock
        self.options = options
        self.owner = owner
        self.health_check = health_check
        self.rng = random.Random(options.seed)
        self.rollout_state = RolloutState.ACTIVE
        self.approved = False
        self.rollback_version: int | None = None

    # -- writing ----------------------------------------------------------------------

    async def save(
        self, row: AppRow, to: AppStatus | None = None, *, wait: Wait = False,
        detail: str | None = None, **values: Any,
    ) -> AppRow:
        """Compare-and-set ``row``'s state to ``to`` with ``values``; park it (release
        the lease, due at ``wait``) unless ``wait`` is False. Raises :class:`Lost`."""
        release = wait is not False or (to is not None and to in TERMINAL)
        if wait is not False:
            values["next_at"] = wait
            if wait is not None and wait - self.clock.now() <= self.options.hold:
                release = False  # due again in a moment: keep the lease and wait here
        elif to is not None and to in TERMINAL:
            values["next_at"] = None
        change = Change(row.appid, row.state, to, values, owner=self.owner,
                        release=release, detail=detail)
        if not await self._apply(change):
            raise Lost(row.appid)
        fields = {k: v for k, v in values.items() if k in _ROW_FIELDS}
        if change.release:
            fields["lease_owner"] = None
        row = attrs.evolve(row, state=to or row.state, **fields)
        if not change.release and wait:
            await self.clock.sleep(max(wait - self.clock.now(), 0.0))
        return row

    def backoff(self, attempts: int) -> float:
        growth: float = 2.0 ** max(attempts - 1, 0)
        delay = min(self.options.retry_base * growth, self.options.retry_cap)
        return self.clock.now() + delay * (0.5 + self.rng.random() / 2)

    def next_poll(self) -> float:
        spread = self.options.poll_jitter * (2 * self.rng.random() - 1)
        return self.clock.now() + self.options.poll_interval * (1 + spread)

    async def fail(self, row: AppRow, exc: BaseException, where: str) -> AppRow:
        errcode = exc.errcode if isinstance(exc, WxaApiError) else None
        errmsg = exc.errmsg if isinstance(exc, WxaApiError) else f"{type(exc).__name__}: {exc}"
        revoked = errcode in REVOKED
        detail = f"{where}: " + ("authorization revoked" if revoked else f"errcode {errcode}"
                                  if errcode is not None else type(exc).__name__)
        return await self.save(row, S.FAILED, detail=detail, errcode=errcode,
                               errmsg=errmsg[:500], retryable=not revoked, intent=None,
                               intent_ref=None)

    async def trouble(self, row: AppRow, exc: BaseException, where: str, kind: Kind) -> AppRow:
        """A failed call: fail the app, or park it to try again later."""
        if kind in ("revoked", "fatal"):
            return await self.fail(row, exc, where)
        if kind == "privacy":  # waited out, never a failure
            return await self.save(row, wait=self.backoff(row.attempts + 1),
                                   attempts=row.attempts + 1)
        attempts = row.attempts + 1
        if attempts >= self.options.max_attempts:
            return await self.fail(row, exc, where)
        return await self.save(row, wait=self.backoff(attempts), attempts=attempts)

    # -- the entry: one leased app -------------------------------------------------------

    async def work(self, row: AppRow) -> None:
        """Advance ``row`` until it has to wait; the last write releases the lease."""
        while True:
            try:
                row = await self._step(row)
            except Lost:
                fresh = await self.store.app(self.rid, row.appid)
                if fresh is None or fresh.lease_owner != self.owner:
                    return  # someone else has it now
                row = fresh
                continue
            if row.lease_owner is None:
                return  # parked: the last write released the lease

    async def _step(self, row: AppRow) -> AppRow:
        if row.state in TERMINAL and self.rollout_state != RolloutState.ROLLING_BACK:
            return await self.save(row, wait=None)
        app = self.client.app(row.appid)
        if row.intent is not None:
            return await self._reconcile(app, row)
        if self.rollout_state == RolloutState.CANCELLING:
            return await self._cancel(app, row)
        if self.rollout_state == RolloutState.ROLLING_BACK:
            return await self._rollback(app, row)
        step = {
            S.PENDING: self._commit, S.COMMITTED: self._privacy,
            S.PRIVACY_CHECKED: self._submit, S.WAITING_FOR_QUOTA: self._submit,
            S.UNDER_AUDIT: self._poll, S.DELAYED: self._poll, S.PASSED: self._passed,
            S.GRAY: self._gray_next, S.RELEASING: self._release,
        }[row.state]
        return await step(app, row)

    # -- forward ----------------------------------------------------------------------

    async def _commit(self, app: MiniProgram, row: AppRow) -> AppRow:
        plan = self.plan
        try:
            await app.commit(plan.template_id, row.ext_json, plan.user_version, plan.user_desc)
        except WxaError as exc:
            # commit replaces the trial version: repeating it after a lost answer is safe.
            kind = classify(exc, mutation=False)
            return await self.trouble(row, exc, "commit", kind)
        return await self.save(row, S.COMMITTED, attempts=0)

    async def _privacy(self, app: MiniProgram, row: AppRow) -> AppRow:
        try:
            await app.get_code_privacy_info()
            if self.plan.privacy_setting is not None:
                setter = getattr(app, "set_privacy_setting", None)
                if setter is None:
                    raise WxaError("this wxa_async has no set_privacy_setting endpoint")
                await setter(**dict(self.plan.privacy_setting))
        except WxaError as exc:
            return await self.trouble(row, exc, "privacy", classify(exc, mutation=False))
        return await self.save(row, S.PRIVACY_CHECKED, attempts=0)

    async def _quota(self, app: MiniProgram) -> bool:
        """Spend one submission of the shared budget (False: none left to spend)."""
        options, reserve = self.options, self.plan.quota_reserve
        taken = await self._take_quota(reserve, self.clock.now(), options.quota_max_age)
        if taken == "stale":
            answer = await app.query_quota()
            await self.store.set_quota(answer.rest, self.clock.now(), options.quota_max_age)
            taken = await self._take_quota(reserve, self.clock.now(), options.quota_max_age)
        return taken == "ok"

    async def _submit(self, app: MiniProgram, row: AppRow) -> AppRow:
        try:
            if not await self._quota(app):
                return await self.save(row, S.WAITING_FOR_QUOTA,
                                       wait=self.clock.now() + self.options.quota_recheck,
                                       detail=None if row.state == S.WAITING_FOR_QUOTA
                                       else "quota exhausted")
            before = await self._latest_auditid(app)
        except WxaError as exc:
            return await self.trouble(row, exc, "quota", classify(exc, mutation=False))
        row = await self.save(row, intent="submit", intent_ref={"before": before},
                              intent_at=self.clock.now())
        try:
            answer = await app.submit_audit(**self.plan.submit.kwargs())
        except WxaError as exc:
            kind = classify(exc, mutation=True)
            if kind == "ambiguous" or (isinstance(exc, WxaApiError)
                                       and exc.errcode == _ALREADY_AUDITING):
                return await self._reconcile(app, row)
            cleared = await self.save(row, intent=None, intent_ref=None)
            if kind == "quota":
                await self.store.set_quota(0, self.clock.now())
                return await self.save(cleared, S.WAITING_FOR_QUOTA,
                                       wait=self.clock.now() + self.options.quota_recheck,
                                       detail="quota exhausted (85085)")
            return await self.trouble(cleared, exc, "submit_audit", kind)
        return await self._submitted(row, answer.auditid, "submitted")

    async def _submitted(self, row: AppRow, auditid: int, detail: str) -> AppRow:
        return await self.save(row, S.UNDER_AUDIT, wait=self.next_poll(), detail=detail,
                               auditid=auditid, submitted_at=self.clock.now(),
                               submits=row.submits + 1, intent=None, intent_ref=None,
                               attempts=0)

    async def _latest_auditid(self, app: MiniProgram) -> int | None:
        try:
            latest = await app.get_latest_audit_status()
        except WxaApiError as exc:
            if exc.errcode in (_NO_AUDIT, 86001):
                return None  # this app never had an audit
            raise
        return int(latest.auditid)

    async def _poll(self, app: MiniProgram, row: AppRow) -> AppRow:
        assert row.auditid is not None
        try:
            answer = await app.get_audit_status(row.auditid)
        except WxaError as exc:
            return await self.trouble(row, exc, "get_audit_status",
                                      classify(exc, mutation=False))
        return await self._audit_result(row, answer.status, answer.reason,
                                        answer.screenshot, "push" if row.hint else "poll")

    async def _audit_result(
        self, row: AppRow, status: int, reason: str | None, screenshot: Any, via: str
    ) -> AppRow:
        new = _AUDIT_STATES.get(status, S.UNDER_AUDIT)
        if new in (S.UNDER_AUDIT, S.DELAYED):
            to = new if row.state != new and new == S.DELAYED else None
            return await self.save(row, to, wait=self.next_poll(), hint=None, attempts=0,
                                   detail=f"audit delayed ({via})" if to else None)
        shots = screenshot if isinstance(screenshot, tuple | list) else tuple(
            s for s in str(screenshot or "").split("|") if s)
        # A passed app goes straight on to its release (under an approval policy
        # _passed parks it); a rejected or withdrawn one is done.
        nxt: Wait = False if new == S.PASSED else None
        return await self.save(row, new, wait=nxt, detail=f"audit {new} ({via})",
                               reason=reason, screenshots=tuple(shots), hint=None,
                               attempts=0)

    async def _passed(self, app: MiniProgram, row: AppRow) -> AppRow:
        release = self.plan.release
        if release.mode == "approval" and not self.approved:
            return await self.save(row, wait=None)  # until Rollout.approve()
        try:
            info = await app.get_version_info()
        except WxaError as exc:
            return await self.trouble(row, exc, "get_version_info",
                                      classify(exc, mutation=False))
        online = info.release_info
        if release.mode == "staged" and online is not None and release.stages[0] < 100:
            return await self._gray(app, row, release.stages[0], S.GRAY)
        ref = {"v": online.release_version if online else None,
               "t": online.release_time if online else None}
        row = await self.save(row, S.RELEASING, intent="release", intent_ref=ref,
                              intent_at=self.clock.now(),
                              detail=None if online or release.mode != "staged"
                              else "no online version: released in full")
        return await self._do_release(app, row)

    async def _release(self, app: MiniProgram, row: AppRow) -> AppRow:
        """RELEASING without an intent: the release is still to be issued."""
        try:
            info = await app.get_version_info()
        except WxaError as exc:
            return await self.trouble(row, exc, "get_version_info",
                                      classify(exc, mutation=False))
        online = info.release_info
        ref = {"v": online.release_version if online else None,
               "t": online.release_time if online else None}
        row = await self.save(row, intent="release", intent_ref=ref, intent_at=self.clock.now())
        return await self._do_release(app, row)

    async def _do_release(self, app: MiniProgram, row: AppRow) -> AppRow:
        try:
            await app.release()
        except WxaError as exc:
            kind = classify(exc, mutation=True)
            if kind == "ambiguous" or (isinstance(exc, WxaApiError) and exc.errcode == 85019):
                return await self._reconcile(app, row)
            cleared = await self.save(row, intent=None, intent_ref=None)
            return await self.trouble(cleared, exc, "release", kind)
        return await self.save(row, S.RELEASED, detail="released", intent=None,
                               intent_ref=None, releases=row.releases + 1,
                               gray_percentage=100, attempts=0)

    async def _gray(self, app: MiniProgram, row: AppRow, target: int, to: AppStatus) -> AppRow:
        row = await self.save(row, to, intent="gray", intent_ref={"target": target},
                              intent_at=self.clock.now(),
                              detail=None if row.state == to else "gray release starts")
        try:
            await app.gray_release(target)
        except WxaError as exc:
            kind = classify(exc, mutation=True)
            if kind == "ambiguous" or (isinstance(exc, WxaApiError) and exc.errcode == 85082):
                return await self._reconcile(app, row)
            cleared = await self.save(row, intent=None, intent_ref=None)
            return await self.trouble(cleared, exc, "gray_release", kind)
        return await self._gray_done(row, target)

    async def _gray_done(self, row: AppRow, target: int) -> AppRow:
        return await self.save(row, S.GRAY, wait=self.clock.now() + self.plan.release.stage_wait,
                               detail=f"gray {target}%", gray_percentage=target, intent=None,
                               intent_ref=None, attempts=0)

    async def _gray_next(self, app: MiniProgram, row: AppRow) -> AppRow:
        stages = self.plan.release.stages
        if row.gray_percentage and self.health_check is not None:
            try:
                healthy = await self.health_check(row.appid, row.gray_percentage)
            except Exception as exc:  # the user's check failing is its answer: unhealthy
                _log.warning("health check of %s raised %s", row.appid, type(exc).__name__)
                healthy = False
            if not healthy:
                try:
                    await app.revert_gray_release()
                except WxaError as exc:
                    return await self.trouble(row, exc, "revert_gray_release",
                                              classify(exc, mutation=False))
                return await self.save(row, S.FAILED, retryable=True,
                                       detail=f"health check failed at {row.gray_percentage}%",
                                       errmsg=f"health check failed at {row.gray_percentage}%")
        target = next(s for s in stages if s > row.gray_percentage)
        if target < 100:
            return await self._gray(app, row, target, S.GRAY)
        return await self._release(app, await self.save(row, S.RELEASING))

    # -- reconciliation ---------------------------------------------------------------

    async def _reconcile(self, app: MiniProgram, row: AppRow) -> AppRow:
        """Decide from reads whether the intent's mutation took effect."""
        ref = row.intent_ref or {}
        try:
            if row.intent == "submit":
                latest = await self._latest_auditid(app)
                if latest is not None and latest != ref.get("before"):
                    return await self._submitted(row, latest, "submitted (reconciled)")
                took = False
            elif row.intent == "release":
                online = (await app.get_version_info()).release_info
                took = (online is not None and online.release_version == self.plan.user_version
                        and (online.release_version, online.release_time)
                        != (ref.get("v"), ref.get("t")))
                if took:
                    return await self.save(row, S.RELEASED, detail="released (reconciled)",
                                           intent=None, intent_ref=None, gray_percentage=100,
                                           releases=row.releases + 1, attempts=0)
            elif row.intent == "gray":
                plan = (await app.get_gray_release_plan()).gray_release_plan
                target = int(ref.get("target", 0))
                if plan.status == 1 and plan.gray_percentage >= target:
                    return await self._gray_done(row, target)
                took = False
            elif row.intent == "undo":
                latest_status = await app.get_latest_audit_status()
                if int(latest_status.status) == 3:
                    return await self.save(row, S.WITHDRAWN, detail="withdrawn (reconciled)",
                                           intent=None, intent_ref=None)
                took = False
            elif row.intent == "revert":
                online = (await app.get_version_info()).release_info
                if online is None or online.release_version != ref.get("v"):
                    return await self.save(row, S.ROLLED_BACK,
                                           detail="rolled back (reconciled)", intent=None,
                                           intent_ref=None)
                took = False
            else:
                took = False
        except WxaError as exc:
            # Cannot tell yet: keep the intent and look again later.
            return await self.trouble(row, exc, f"reconcile {row.intent}",
                                      "transient" if classify(exc, mutation=False) != "revoked"
                                      else "revoked")
        assert not took
        # The mutation never took effect: clear the intent; the next step issues it again.
        return await self.save(row, intent=None, intent_ref=None)

    # -- operator actions ---------------------------------------------------------------

    async def _cancel(self, app: MiniProgram, row: AppRow) -> AppRow:
        if row.state in AUDIT_OPEN:
            assert row.auditid is not None
            try:
                status = (await app.get_audit_status(row.auditid)).status
            except WxaError as exc:
                return await self.trouble(row, exc, "get_audit_status",
                                          classify(exc, mutation=False))
            if status in (0, 1, 3):
                result = _AUDIT_STATES[status]
                if result == S.PASSED:
                    row = await self.save(row, S.PASSED, detail="audit passed (poll)")
                    return await self.save(row, S.CANCELLED, detail="cancelled")
                return await self.save(row, result, detail=f"audit {result} (poll)")
            row = await self.save(row, intent="undo", intent_ref={}, intent_at=self.clock.now())
            try:
                await app.undo_code_audit()
            except WxaError as exc:
                if isinstance(exc, WxaApiError) and exc.errcode == _UNDO_LIMIT:
                    return await self.save(row, intent=None, intent_ref=None,
                                           wait=self.clock.now() + self.options.undo_retry,
                                           errcode=_UNDO_LIMIT, errmsg=exc.errmsg)
                if classify(exc, mutation=True) == "ambiguous":
                    return await self._reconcile(app, row)
                cleared = await self.save(row, intent=None, intent_ref=None)
                return await self.trouble(cleared, exc, "undo_code_audit",
                                          classify(exc, mutation=True))
            return await self.save(row, S.WITHDRAWN, detail="withdrawn (cancel)", intent=None,
                                   intent_ref=None, errcode=None, errmsg=None)
        if row.state == S.GRAY:
            return await self._revert_gray(app, row, S.CANCELLED, "cancelled")
        return await self.save(row, S.CANCELLED, detail="cancelled")

    async def _revert_gray(self, app: MiniProgram, row: AppRow, to: S, detail: str) -> AppRow:
        """Revert the gray release, then record the state the app ends in."""
        try:
            await app.revert_gray_release()
        except WxaError as exc:
            return await self.trouble(row, exc, "revert_gray_release",
                                      classify(exc, mutation=False))
        return await self.save(row, to, detail=detail)

    async def _rollback(self, app: MiniProgram, row: AppRow) -> AppRow:
        if row.state == S.GRAY:
            return await self._revert_gray(app, row, S.ROLLED_BACK, "gray release reverted")
        if row.state != S.RELEASED:
            if row.state in TERMINAL:
                return await self.save(row, wait=None)
            return await self._cancel(app, row)
        row = await self.save(row, intent="revert", intent_ref={"v": self.plan.user_version},
                              intent_at=self.clock.now())
        try:
            if self.rollback_version is not None:
                await app.revert_code_release(app_version=self.rollback_version)
            else:
                await app.revert_code_release()
        except WxaError as exc:
            kind = classify(exc, mutation=True)
            if kind == "ambiguous":
                return await self._reconcile(app, row)
            cleared = await self.save(row, intent=None, intent_ref=None)
            if kind in ("revoked", "fatal"):
                # It stays released: say why it could not be reverted.
                return await self.save(cleared, wait=None, errcode=getattr(exc, "errcode", None),
                                       errmsg=str(getattr(exc, "errmsg", exc))[:500])
            return await self.trouble(cleared, exc, "revert_code_release", kind)
        return await self.save(row, S.ROLLED_BACK, detail="rolled back", intent=None,
                               intent_ref=None)
