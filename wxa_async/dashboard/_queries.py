"""The dashboard's read-only queries over the rollout store's tables.

What :class:`~wxa_async.rollout.RolloutStore`'s read API already answers (rollouts
with counts, one app's transitions, the quota) is asked of it; the rest (occupancy
over time for the chart, failures with the service's message, rejections, the per-app
table with an errcode filter) is plain ``SELECT`` over the same tables here. Nothing
in this module writes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import attrs
from sqlalchemy import Integer, and_, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from ..errors import describe_errcode
from ..rollout import AppStatus, RolloutStore, TransitionRow
from ..rollout._schema import apps, transitions

__all__ = [
    "STATE_ORDER",
    "AppView",
    "AppsQuery",
    "Chart",
    "FailureGroup",
    "Reader",
    "Rejection",
    "RolloutView",
]

#: Every app state in pipeline order: the chart stacks them, tables list them so.
STATE_ORDER: tuple[str, ...] = tuple(str(s) for s in (
    AppStatus.PENDING, AppStatus.COMMITTED, AppStatus.PRIVACY_CHECKED,
    AppStatus.WAITING_FOR_QUOTA, AppStatus.UNDER_AUDIT, AppStatus.DELAYED,
    AppStatus.PASSED, AppStatus.RELEASING, AppStatus.GRAY, AppStatus.RELEASED,
    AppStatus.REJECTED, AppStatus.FAILED, AppStatus.WITHDRAWN, AppStatus.CANCELLED,
    AppStatus.ROLLED_BACK,
))
_TERMINAL = frozenset(str(s) for s in (
    AppStatus.RELEASED, AppStatus.REJECTED, AppStatus.FAILED, AppStatus.WITHDRAWN,
    AppStatus.CANCELLED, AppStatus.ROLLED_BACK,
))

Sort = Literal["appid", "state", "updated_at", "errcode", "auditid"]
SORTS: tuple[str, ...] = ("appid", "state", "updated_at", "errcode", "auditid")


@attrs.frozen
class RolloutView:
    """A rollout as the dashboard shows it."""

    name: str
    state: str
    template_id: int | None
    user_version: str
    user_desc: str
    release_mode: str
    stages: tuple[int, ...]
    created_at: float
    updated_at: float
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        """Apps in a terminal state."""
        return sum(n for s, n in self.counts.items() if s in _TERMINAL)

    @property
    def done_pct(self) -> float:
        return 100.0 * self.done / self.total if self.total else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "state": self.state, "template_id": self.template_id,
            "user_version": self.user_version, "user_desc": self.user_desc,
            "release": {"mode": self.release_mode, "stages": list(self.stages)},
            "created_at": self.created_at, "updated_at": self.updated_at,
            "total": self.total, "done": self.done, "done_pct": round(self.done_pct, 2),
            "counts": {s: self.counts.get(s, 0) for s in STATE_ORDER},
        }


@attrs.frozen
class FailureGroup:
    """Failed apps sharing one errcode; ``errmsg`` is the service's message of one."""

    errcode: int | None
    count: int
    retryable: int
    errmsg: str | None

    @property
    def description(self) -> str:
        return "" if self.errcode is None else describe_errcode(self.errcode)

    def to_json(self) -> dict[str, Any]:
        return {"errcode": self.errcode, "count": self.count, "retryable": self.retryable,
                "errmsg": self.errmsg, "description": self.description}


@attrs.frozen
class Rejection:
    appid: str
    auditid: int | None
    reason: str | None
    screenshots: tuple[str, ...]
    updated_at: float

    def to_json(self) -> dict[str, Any]:
        return {"appid": self.appid, "auditid": self.auditid, "reason": self.reason,
                "screenshots": list(self.screenshots), "updated_at": self.updated_at}


@attrs.frozen
class AppView:
    """One app's row without what the dashboard never shows (its ext_json may hold a
    merchant's configuration; the intent's reference is internal)."""

    appid: str
    state: str
    auditid: int | None
    submitted_at: float | None
    gray_percentage: int
    errcode: int | None
    errmsg: str | None
    retryable: bool | None
    reason: str | None
    screenshots: tuple[str, ...]
    intent: str | None
    attempts: int
    submits: int
    releases: int
    lease_owner: str | None
    lease_expires: float | None
    next_at: float | None
    updated_at: float

    def to_json(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        data["screenshots"] = list(self.screenshots)
        return data


@attrs.frozen
class AppsQuery:
    """The per-app table's filter, order and page (``page`` counts from 1)."""

    search: str = ""
    states: tuple[str, ...] = ()
    errcodes: tuple[int, ...] = ()
    sort: Sort = "appid"
    descending: bool = False
    page: int = 1
    per_page: int = 50


@attrs.frozen
class AppsPage:
    rows: tuple[AppView, ...]
    total: int
    query: AppsQuery

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.query.per_page))


@attrs.frozen
class Chart:
    """Apps per state over time: ``series[state][i]`` apps were in ``state`` at
    ``times[i]`` (the first time: the apps as added; then the end of each slice of
    the log); ``marks`` are (time, label) of the first app reaching each gray stage."""

    times: tuple[float, ...]
    series: dict[str, tuple[int, ...]]
    marks: tuple[tuple[float, str], ...]

    def to_json(self) -> dict[str, Any]:
        return {"times": list(self.times), "series": {k: list(v) for k, v in self.series.items()},
                "marks": [{"at": t, "label": label} for t, label in self.marks]}


_APP_COLUMNS = (
    apps.c.appid, apps.c.state, apps.c.auditid, apps.c.submitted_at, apps.c.gray_percentage,
    apps.c.errcode, apps.c.errmsg, apps.c.retryable, apps.c.reason, apps.c.screenshots,
    apps.c.intent, apps.c.attempts, apps.c.submits, apps.c.releases, apps.c.lease_owner,
    apps.c.lease_expires, apps.c.next_at, apps.c.updated_at,
)


def _shots(value: str | None) -> tuple[str, ...]:
    return tuple(s for s in (value or "").split("|") if s)


def _app(r: Any) -> AppView:
    return AppView(
        appid=r.appid, state=r.state, auditid=r.auditid, submitted_at=r.submitted_at,
        gray_percentage=r.gray_percentage or 0, errcode=r.errcode, errmsg=r.errmsg,
        retryable=None if r.retryable is None else bool(r.retryable), reason=r.reason,
        screenshots=_shots(r.screenshots), intent=r.intent, attempts=r.attempts or 0,
        submits=r.submits or 0, releases=r.releases or 0, lease_owner=r.lease_owner,
        lease_expires=r.lease_expires, next_at=r.next_at, updated_at=r.updated_at,
    )


def _nice_step(span: float, buckets: int) -> float:
    """A bucket width of 1, 2 or 5 times a power of ten seconds near span / buckets."""
    raw = max(span / buckets, 1.0)
    power = 10.0 ** math.floor(math.log10(raw))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


def stage_label(detail: str | None) -> str | None:
    """``"gray 10%"`` from a gray transition's detail (None when it names no stage)."""
    if not detail:
        return None
    digits = "".join(ch if ch.isdigit() else " " for ch in detail).split()
    return f"gray {digits[0]}%" if digits and "%" in detail else None


class Reader:
    """Every read the dashboard makes, over an open store (which it does not close)."""

    def __init__(self, store: RolloutStore) -> None:
        self.store = store
        # The store's engine: the same connection pool, and the same SQLite settings
        # (WAL, busy timeout) that let readers run beside the workers.
        self._engine: AsyncEngine = store._engine

    # -- rollouts ---------------------------------------------------------------------

    async def rollouts(self) -> list[RolloutView]:
        """Every rollout, newest first."""
        found = []
        for summary in await self.store.list_rollouts():
            view = await self.rollout(summary.name, counts=summary.counts)
            if view is not None:
                found.append(view)
        return found

    async def rollout(
        self, name: str, *, counts: dict[str, int] | None = None
    ) -> RolloutView | None:
        record = await self.store.get_rollout(name)
        if record is None:
            return None
        if counts is None:
            counts = await self.store.counts(record.id)
        plan = record.plan
        release = plan.get("release") or {}
        return RolloutView(
            name=record.name, state=str(record.state),
            template_id=plan.get("template_id"), user_version=str(plan.get("user_version", "")),
            user_desc=str(plan.get("user_desc", "")), release_mode=str(release.get("mode", "")),
            stages=tuple(int(s) for s in release.get("stages") or ()),
            created_at=record.created_at, updated_at=record.updated_at, counts=dict(counts),
        )

    async def rid(self, name: str) -> int | None:
        record = await self.store.get_rollout(name)
        return None if record is None else record.id

    async def version(self, rid: int) -> str:
        """Changes whenever anything the rollout page shows changes (for live updates)."""
        async with self._engine.connect() as conn:
            last = (await conn.execute(select(func.max(transitions.c.id)).where(
                transitions.c.rollout_id == rid))).scalar()
            touched = (await conn.execute(select(func.max(apps.c.updated_at)).where(
                apps.c.rollout_id == rid))).scalar()
        quota = await self.store.quota_left()
        return f"{last}:{touched}:{quota}"

    async def last_change(self, rid: int) -> float | None:
        """When an app of the rollout last changed state."""
        async with self._engine.connect() as conn:
            value = (await conn.execute(select(func.max(transitions.c.at)).where(
                transitions.c.rollout_id == rid))).scalar()
        return None if value is None else float(value)

    # -- quota ------------------------------------------------------------------------

    async def quota(self, rid: int) -> dict[str, Any]:
        """Audit submissions this rollout made, and the platform's quota left."""
        async with self._engine.connect() as conn:
            used = (await conn.execute(select(func.coalesce(func.sum(apps.c.submits), 0))
                                       .where(apps.c.rollout_id == rid))).scalar()
        left = await self.store.quota_left()
        return {"used": int(used or 0), "left": None if left is None else left[0],
                "read_at": None if left is None else left[1]}

    # -- failures and rejections -------------------------------------------------------

    async def failures(self, rid: int) -> list[FailureGroup]:
        """Failed apps by errcode, most first."""
        failed = and_(apps.c.rollout_id == rid, apps.c.state == str(AppStatus.FAILED))
        retryable = func.sum(cast(func.coalesce(apps.c.retryable, False), Integer))
        query = (select(apps.c.errcode, func.count(), retryable, func.max(apps.c.errmsg))
                 .where(failed).group_by(apps.c.errcode))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        groups = [FailureGroup(code, int(n), int(r or 0), msg) for code, n, r, msg in rows]
        return sorted(groups, key=lambda g: (-g.count, g.errcode is None, g.errcode or 0))

    async def rejections(self, rid: int, limit: int = 20) -> tuple[list[Rejection], int]:
        """The latest rejected apps (at most ``limit``) and how many there are."""
        rejected = and_(apps.c.rollout_id == rid, apps.c.state == str(AppStatus.REJECTED))
        async with self._engine.connect() as conn:
            total = int((await conn.execute(
                select(func.count()).select_from(apps).where(rejected))).scalar_one())
            rows = (await conn.execute(
                select(apps.c.appid, apps.c.auditid, apps.c.reason, apps.c.screenshots,
                       apps.c.updated_at).where(rejected)
                .order_by(apps.c.updated_at.desc(), apps.c.appid).limit(limit))).all()
        return [Rejection(r.appid, r.auditid, r.reason, _shots(r.screenshots), r.updated_at)
                for r in rows], total

    # -- apps -------------------------------------------------------------------------

    async def apps(self, rid: int, query: AppsQuery) -> AppsPage:
        condition: ColumnElement[bool] = apps.c.rollout_id == rid
        if query.states:
            condition = and_(condition, apps.c.state.in_(list(query.states)))
        if query.errcodes:
            condition = and_(condition, apps.c.errcode.in_(list(query.errcodes)))
        if query.search:
            text = query.search.strip().lower()
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            match: ColumnElement[bool] = func.lower(apps.c.appid).like(
                f"%{escaped}%", escape="\\")
            if text.isdigit():
                match = or_(match, apps.c.auditid == int(text))
            condition = and_(condition, match)
        column = getattr(apps.c, query.sort if query.sort in SORTS else "appid")
        first = column.desc() if query.descending else column.asc()
        statement = (select(*_APP_COLUMNS).where(condition).order_by(first, apps.c.appid)
                     .offset((max(query.page, 1) - 1) * query.per_page).limit(query.per_page))
        async with self._engine.connect() as conn:
            total = int((await conn.execute(
                select(func.count()).select_from(apps).where(condition))).scalar_one())
            rows = (await conn.execute(statement)).all()
        return AppsPage(tuple(_app(r) for r in rows), total, query)

    async def errcodes(self, rid: int) -> list[int]:
        """The errcodes any app of the rollout holds (the table's filter choices)."""
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(apps.c.errcode).distinct().where(
                apps.c.rollout_id == rid, apps.c.errcode.is_not(None)))).all()
        return sorted(int(r[0]) for r in rows)

    async def app(self, rid: int, appid: str) -> AppView | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(*_APP_COLUMNS).where(
                apps.c.rollout_id == rid, apps.c.appid == appid))).first()
        return None if row is None else _app(row)

    async def timeline(self, name: str, appid: str, limit: int = 1000) -> list[TransitionRow]:
        """One app's transitions in order."""
        return await self.store.transitions(name, appid=appid, limit=limit)

    # -- the chart ----------------------------------------------------------------------

    async def chart(self, rid: int, buckets: int = 120) -> Chart:
        """Occupancy of every state over time, replayed from the transition log.

        The log is grouped in SQL into ``buckets`` time slices by (from, to) pair, so
        the work in Python is the same for 100 apps or 10,000."""
        log = transitions.c
        mine = log.rollout_id == rid
        async with self._engine.connect() as conn:
            first, last = (await conn.execute(
                select(func.min(log.at), func.max(log.at)).where(mine))).one()
            if first is None:
                return Chart((), {}, ())
            step = _nice_step(float(last) - float(first), buckets)
            slot = (log.at - float(first)) / step
            # Truncation is floor here (at >= first); not every SQLite has floor().
            index = cast(slot, Integer) if self._engine.dialect.name == "sqlite" \
                else func.floor(slot)
            grouped = (await conn.execute(
                select(index.label("i"), log.from_state, log.to_state, func.count())
                .where(mine).group_by(index, log.from_state, log.to_state))).all()
            marks = (await conn.execute(
                select(log.detail, func.min(log.at)).where(
                    mine, log.to_state == str(AppStatus.GRAY)).group_by(log.detail))).all()
        count = int(max(int(i) for i, *_ in grouped)) + 1
        delta = {s: [0] * count for s in STATE_ORDER}
        for i, source, target, n in grouped:
            if source in delta:
                delta[source][int(i)] -= int(n)
            if target in delta:
                delta[target][int(i)] += int(n)
        # The chart starts at the first transition with the apps just added (the
        # log's rows without a from state), then shows the end of every slice.
        start = {s: 0 for s in STATE_ORDER}
        for i, source, target, n in grouped:
            if int(i) == 0 and source is None and target in start:
                start[target] += int(n)
        series: dict[str, tuple[int, ...]] = {}
        for state, changes in delta.items():
            running, values = 0, [start[state]]
            for change in changes:
                running += change
                values.append(max(running, 0))
            if any(values):
                series[state] = tuple(values)
        times = (float(first), *(float(first) + step * (i + 1) for i in range(count)))
        labelled: dict[str, float] = {}
        for detail, at in marks:
            label = stage_label(detail)
            if label is not None and (label not in labelled or at < labelled[label]):
                labelled[label] = float(at)
        ordered = tuple(sorted(((t, label) for label, t in labelled.items())))
        return Chart(times, series, ordered)


def parse_states(values: Sequence[str]) -> tuple[str, ...]:
    """The states to filter by; an unknown one stays in (and matches no app), so a
    mistyped filter shows nothing rather than everything."""
    return tuple(dict.fromkeys(v[:32] for v in values if v))
