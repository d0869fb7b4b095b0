"""Stores for the dashboard tests: a rollout created through the rollout store's API,
its apps moved along the state machine to chosen states with the columns a worker
writes (errcodes, reasons, screenshots, submissions) and the transition log."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx
from sqlalchemy import bindparam, insert, update

from wxa_async.dashboard import create_app
from wxa_async.rollout import AppStatus, RolloutPlan, RolloutStore
from wxa_async.rollout._schema import apps, transitions

S = AppStatus
T0 = 1_700_000_000.0
SECRET_EXT = '{"extAppid": "%s", "merchantKey": "ext-secret-must-not-show"}'

#: The moves that bring a pending app into each state.
PATHS: dict[str, tuple[AppStatus, ...]] = {
    "pending": (),
    "committed": (S.COMMITTED,),
    "waiting_for_quota": (S.COMMITTED, S.PRIVACY_CHECKED, S.WAITING_FOR_QUOTA),
    "under_audit": (S.COMMITTED, S.PRIVACY_CHECKED, S.UNDER_AUDIT),
    "rejected": (S.COMMITTED, S.PRIVACY_CHECKED, S.UNDER_AUDIT, S.REJECTED),
    "gray": (S.COMMITTED, S.PRIVACY_CHECKED, S.UNDER_AUDIT, S.PASSED, S.GRAY),
    "released": (S.COMMITTED, S.PRIVACY_CHECKED, S.UNDER_AUDIT, S.PASSED, S.RELEASING,
                 S.RELEASED),
    "failed": (S.COMMITTED, S.FAILED),
}


def plan(appids: Sequence[str], name: str = "r1") -> RolloutPlan:
    return RolloutPlan(name=name, template_id=7, user_version="2.0.0", user_desc="春季版本",
                       appids=list(appids))


async def populate(
    store: RolloutStore, appids: Sequence[str], targets: Mapping[str, str],
    values: Mapping[str, Mapping[str, Any]] | None = None, name: str = "r1",
) -> int:
    """Create rollout ``name`` over ``appids`` and move each app of ``targets`` to its
    state along the state machine (one step a second, each step logged as a worker's
    would be), the last step also setting ``values[appid]``. Returns the rollout's id.

    The rows are written in bulk over the store's tables (a store of 10,000 apps takes
    a second, not a worker's many small transactions)."""
    record, _ = await store.create_rollout(
        plan(appids, name).to_data(), {a: SECRET_EXT % a for a in appids}, T0)
    values = values or {}
    index = {a: i for i, a in enumerate(appids)}
    rows: list[dict[str, Any]] = []
    log: list[dict[str, Any]] = []
    for appid, state in targets.items():
        path = PATHS[state]
        row: dict[str, Any] = {"b_appid": appid, "state": str(S.PENDING), "updated_at": T0,
                               "auditid": None, "submits": 0, "submitted_at": None,
                               "gray_percentage": 0, "errcode": None, "errmsg": None,
                               "retryable": None, "reason": None, "screenshots": None}
        previous = S.PENDING
        for step, to in enumerate(path, 1):
            at = T0 + step
            detail = None
            if to == S.UNDER_AUDIT:
                row.update(auditid=4000 + index[appid], submits=1, submitted_at=at)
            if to == S.GRAY:
                row["gray_percentage"] = 10
                detail = "gray 10%"
            log.append({"rollout_id": record.id, "appid": appid, "at": at,
                        "from_state": str(previous), "to_state": str(to), "detail": detail})
            row.update(state=str(to), updated_at=at)
            previous = to
        extra = dict(values.get(appid, {}))
        if isinstance(extra.get("screenshots"), tuple):
            extra["screenshots"] = "|".join(extra["screenshots"])
        row.update(extra)
        rows.append(row)
    columns = [k for k in rows[0] if k != "b_appid"] if rows else []
    async with store._engine.begin() as conn:
        if rows:
            await conn.execute(
                update(apps).where(apps.c.rollout_id == record.id,
                                   apps.c.appid == bindparam("b_appid"))
                .values({c: bindparam(c) for c in columns}), rows)
        if log:
            await conn.execute(insert(transitions), log)
    return record.id


async def docs_store(path: str) -> None:
    """The store the dashboard guide's examples read: rollout ``spring-1.1.0`` with one
    app released, one failed with 86002 and one with 85013."""
    async with await RolloutStore.open(f"sqlite:///{path}") as store:
        await populate(store, ["wxdoc01", "wxdoc02", "wxdoc03"],
                       {"wxdoc01": "failed", "wxdoc02": "failed", "wxdoc03": "released"},
                       {"wxdoc01": {"errcode": 86002, "errmsg": "not init nickname"},
                        "wxdoc02": {"errcode": 85013, "errmsg": "invalid ext"}},
                       name="spring-1.1.0")


@contextlib.asynccontextmanager
async def dashboard_client(store: RolloutStore | str, **options: Any
                           ) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the dashboard's ASGI app (no socket)."""
    app = create_app(store, **options)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dash") as client:
            yield client
    finally:
        await app.aclose()
