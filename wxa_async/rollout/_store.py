"""RolloutStore: the one truth of every rollout, in SQLite or PostgreSQL.

Workers, the CLI and the dashboard read and write the same rows. Every write is a
transaction, and every app transition is a compare-and-set on the app's state (and,
for a worker, on its lease), so two writers can never both move one app: the loser
sees ``False`` and re-reads.

The read API at the bottom (:meth:`RolloutStore.list_rollouts`, :meth:`summary`,
:meth:`transitions`, :meth:`timeline`, :meth:`failures`, :meth:`apps`) is what a
dashboard builds on; it returns attrs classes, never SQLAlchemy rows.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

from sqlalchemy import and_, case, event, func, insert, or_, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ..errors import WxaStoreError
from ._rows import (
    AppRow,
    Change,
    Page,
    RolloutRecord,
    RolloutSummary,
    TransitionRow,
    app_row,
    record_of,
    summary_of,
)
from ._schema import SCHEMA_VERSION, apps, meta, metadata, quota, rollouts, transitions
from ._states import TERMINAL, TRANSITIONS, AppStatus, RolloutState

__all__ = [
    "AppRow",
    "Change",
    "Page",
    "RolloutRecord",
    "RolloutStore",
    "RolloutSummary",
    "TransitionRow",
    "WxaStoreError",
]

T = TypeVar("T")


def _async_url(url: str) -> str:
    parsed = make_url(url)
    drivers = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg",
               "postgres": "postgresql+asyncpg", "mysql": "mysql+aiomysql"}
    backend = parsed.drivername.split("+", 1)[0]
    if backend not in drivers:
        raise WxaStoreError(f"unsupported store URL scheme {backend!r}: sqlite:///file.db "
                            "or postgresql://...")
    if "+" in parsed.drivername:
        return url
    return parsed.set(drivername=drivers[backend]).render_as_string(hide_password=False)


class RolloutStore:
    """Rollouts, apps and the transition log behind a store URL.

    ``sqlite:///path/to/file.db`` (one machine: workers in several processes are safe,
    but SQLite serialises their writes) or ``postgresql://user@host/db`` (many workers
    on many machines; leases use ``FOR UPDATE SKIP LOCKED``). Open it with
    ``async with await RolloutStore.open(url) as store``; the schema is created on
    first use, and a store written by another schema version is refused with a
    message saying which.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.backend = engine.dialect.name
        # Transactions that outlive a cancelled caller (see _transaction): closing the
        # store waits for them, or their connection would be left open, never returned.
        self._finishing: set[asyncio.Task[Any]] = set()

    @classmethod
    async def open(cls, url: str) -> RolloutStore:
        """Connect, create the tables if the store is new, and check its version."""
        try:
            engine = create_async_engine(_async_url(url), pool_pre_ping=False)
        except ImportError as exc:
            raise WxaStoreError(
                f"the store's driver is not installed ({exc.name}): "
                "pip install 'wxa_async[rollout]' (SQLite) or 'wxa_async[postgresql]'"
            ) from None
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        store = cls(engine)
        try:
            await store._prepare()
        except BaseException:
            await engine.dispose()
            raise
        return store

    async def aclose(self) -> None:
        if self._finishing:
            await asyncio.gather(*self._finishing, return_exceptions=True)
        await self._engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:  # the URL may carry a password: never shown
        return f"RolloutStore(backend={self.backend!r})"

    async def _prepare(self) -> None:
        async with self._engine.begin() as conn:
            if self.backend == "postgresql":
                # Several workers may open a new store at once: one creates the tables.
                await conn.execute(text("SELECT pg_advisory_xact_lock(727274)"))
            await conn.run_sync(metadata.create_all)
            found = (await conn.execute(
                select(meta.c.value).where(meta.c.key == "schema_version"))).scalar()
            if found is None:
                await conn.execute(insert(meta).values(key="schema_version",
                                                       value=str(SCHEMA_VERSION)))
                return
            version = int(found)
            if version > SCHEMA_VERSION:
                raise WxaStoreError(
                    f"the store has schema version {version}, newer than this wxa_async "
                    f"supports ({SCHEMA_VERSION}): upgrade wxa_async to use it")
            while version < SCHEMA_VERSION:
                step = MIGRATIONS.get(version)
                if step is None:
                    raise WxaStoreError(
                        f"the store has schema version {version}, which this wxa_async "
                        f"cannot migrate to {SCHEMA_VERSION}")
                for statement in step:
                    await conn.execute(text(statement))
                version += 1
                await conn.execute(update(meta).where(meta.c.key == "schema_version")
                                   .values(value=str(version)))

    # -- rollouts ---------------------------------------------------------------------

    async def create_rollout(
        self, plan: Mapping[str, Any], ext_json: Mapping[str, str], now: float
    ) -> tuple[RolloutRecord, bool]:
        """Create the rollout ``plan["name"]`` with one pending row per appid, or return
        the existing one; the bool says whether it was created now."""
        name = str(plan["name"])
        existing = await self.get_rollout(name)
        if existing is not None:
            return existing, False
        try:
            async with self._engine.begin() as conn:
                result = await conn.execute(insert(rollouts).values(
                    name=name, plan=json.dumps(plan, ensure_ascii=False),
                    state=str(RolloutState.ACTIVE), approved=False, created_at=now,
                    updated_at=now).returning(rollouts.c.id))
                rid = int(result.scalar_one())
                rows = [{"rollout_id": rid, "appid": appid, "state": str(AppStatus.PENDING),
                         "ext_json": ext, "gray_percentage": 0, "attempts": 0, "submits": 0,
                         "releases": 0, "next_at": now, "updated_at": now}
                        for appid, ext in ext_json.items()]
                for start in range(0, len(rows), 2000):
                    await conn.execute(insert(apps), rows[start:start + 2000])
                log = [{"rollout_id": rid, "appid": r["appid"], "at": now, "from_state": None,
                        "to_state": str(AppStatus.PENDING), "detail": "added"} for r in rows]
                for start in range(0, len(log), 2000):
                    await conn.execute(insert(transitions), log[start:start + 2000])
        except IntegrityError:
            # Another worker created it first: use theirs.
            found = await self.get_rollout(name)
            if found is None:
                raise
            return found, False
        created = await self.get_rollout(name)
        assert created is not None
        return created, True

    async def get_rollout(self, name: str) -> RolloutRecord | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(rollouts).where(rollouts.c.name == name))).first()
        return None if row is None else record_of(row._mapping)

    async def set_rollout_state(
        self, rid: int, state: RolloutState, now: float, *,
        expect: Sequence[RolloutState] | None = None, approved: bool | None = None,
        rollback_version: int | None = None, wake: Sequence[AppStatus] = (),
    ) -> bool:
        """Set the rollout's state (only from one of ``expect`` when given); apps in a
        ``wake`` state become due now, so a worker picks the action up at once."""
        values: dict[str, Any] = {"state": str(state), "updated_at": now}
        if approved is not None:
            values["approved"] = approved
        if rollback_version is not None:
            values["rollback_version"] = rollback_version
        condition = rollouts.c.id == rid
        if expect is not None:
            condition = and_(condition, rollouts.c.state.in_([str(s) for s in expect]))
        async def set_state(conn: AsyncConnection) -> bool:
            result = await conn.execute(update(rollouts).where(condition).values(**values))
            if result.rowcount != 1:
                return False
            if wake:
                await conn.execute(update(apps).where(
                    apps.c.rollout_id == rid, apps.c.state.in_([str(s) for s in wake])
                ).values(next_at=now))
            return True

        return await self._transaction(set_state)

    async def wake(self, rid: int, states: Sequence[AppStatus], now: float) -> None:
        """Make the apps in ``states`` due now."""
        async def wake(conn: AsyncConnection) -> None:
            await conn.execute(update(apps).where(
                apps.c.rollout_id == rid, apps.c.state.in_([str(s) for s in states]),
                apps.c.next_at > now).values(next_at=now))

        await self._transaction(wake)

    # -- the worker's side ------------------------------------------------------------

    async def claim(
        self, rid: int, owner: str, now: float, ttl: float, limit: int,
        exclude: Sequence[str] = (),
    ) -> list[AppRow]:
        """Lease up to ``limit`` apps that are due (``next_at <= now``) and not leased
        by a live worker, earliest first, leaving out ``exclude`` (the apps this
        worker is working already). Leases already held by ``owner`` count as free:
        a worker restarted under the same id takes its apps back at once. On
        PostgreSQL rows another worker is claiming are skipped (``SKIP LOCKED``)
        rather than waited for."""
        free = or_(apps.c.lease_expires.is_(None), apps.c.lease_expires < now,
                   apps.c.lease_owner == owner)
        due = and_(apps.c.rollout_id == rid, apps.c.next_at.is_not(None),
                   apps.c.next_at <= now, free)
        if exclude:
            due = and_(due, apps.c.appid.not_in(list(exclude)))
        # A CTE, so PostgreSQL picks (and locks) the rows once: a subquery under IN may
        # be re-run by the planner and lease more than ``limit`` rows.
        chosen = (select(apps.c.appid).where(due).order_by(apps.c.next_at).limit(limit)
                  .with_for_update(skip_locked=True).cte("due"))
        statement = (update(apps).where(apps.c.rollout_id == rid,
                                        apps.c.appid.in_(select(chosen.c.appid)), free)
                     .values(lease_owner=owner, lease_expires=now + ttl)
                     .returning(*apps.c))
        async def claim(conn: AsyncConnection) -> list[AppRow]:
            return [app_row(r._mapping) for r in (await conn.execute(statement)).all()]

        return await self._transaction(claim)

    async def renew(self, rid: int, owner: str, appids: Sequence[str], expires: float) -> None:
        """Extend this worker's leases (those it still holds)."""
        if not appids:
            return
        mine = and_(apps.c.rollout_id == rid, apps.c.appid.in_(sorted(appids)),
                    apps.c.lease_owner == owner)

        async def renew(conn: AsyncConnection) -> None:
            # Rows locked in appid order, as apply() locks them: no deadlock between them.
            await conn.execute(select(apps.c.appid).where(mine).order_by(apps.c.appid)
                               .with_for_update())
            await conn.execute(update(apps).where(mine).values(lease_expires=expires))

        await self._transaction(renew)

    async def _transaction(self, body: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``body`` in a transaction, again when the database reports a deadlock
        or a busy lock (the transaction was rolled back: nothing of it was applied)."""
        for attempt in range(5):
            try:
                # Shielded: a caller cancelled mid-transaction (a worker stopped) leaves
                # the transaction to commit or roll back, never a connection holding
                # SQLite's write lock.
                task = asyncio.ensure_future(self._once(body))
                self._finishing.add(task)
                task.add_done_callback(self._finishing.discard)
                return await asyncio.shield(task)
            except DBAPIError as exc:
                text_ = str(exc.orig).lower()
                if attempt == 4 or not ("deadlock" in text_ or "locked" in text_
                                        or "serializ" in text_):
                    raise
                await asyncio.sleep(0.01 * 2 ** attempt)
        raise AssertionError("unreachable")

    async def _once(self, body: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        async with self._engine.begin() as conn:
            return await body(conn)

    async def apply(self, rid: int, changes: Sequence[Change], now: float) -> list[bool]:
        """Apply ``changes`` in one transaction; each one's bool says if it applied."""
        return (await self.write(rid, changes, (), now))[0]

    async def write(
        self, rid: int, changes: Sequence[Change], quota_takes: Sequence[tuple[int, float]],
        now: float,
    ) -> tuple[list[bool], list[Literal["ok", "empty", "stale"]]]:
        """:meth:`apply` and :meth:`take_quota` (``(reserve, max_age)`` each) in one
        transaction: a worker's group commit, one write lock for all of them."""
        # Rows are written in appid order, so two transactions never lock the same two
        # rows in opposite orders; the quota row comes last in every transaction.
        order = sorted(range(len(changes)), key=lambda i: changes[i].appid)

        async def write(conn: AsyncConnection) -> tuple[
                list[bool], list[Literal["ok", "empty", "stale"]]]:
            results = [False] * len(changes)
            log: list[dict[str, Any]] = []
            for i in order:
                results[i] = await self._apply_one(conn, rid, changes[i], now, log)
            if log:
                await conn.execute(insert(transitions), log)
            taken = [await self._take(conn, reserve, now, max_age, "audit")
                     for reserve, max_age in quota_takes]
            return results, taken

        return await self._transaction(write)

    @staticmethod
    async def _apply_one(
        conn: AsyncConnection, rid: int, change: Change, now: float, log: list[dict[str, Any]],
    ) -> bool:
        moving = change.to is not None and change.to != change.expect
        if change.to is not None and (moving or change.to == AppStatus.GRAY) and (
                change.expect, change.to) not in TRANSITIONS:
                raise ValueError(f"no transition {change.expect} -> {change.to}")
        values = dict(change.values)
        if "intent_ref" in values and values["intent_ref"] is not None:
            values["intent_ref"] = json.dumps(values["intent_ref"])
        if "screenshots" in values and not isinstance(values["screenshots"], str | None):
            values["screenshots"] = "|".join(values["screenshots"])
        if change.to is not None:
            values["state"] = str(change.to)
        if change.to in TERMINAL:
            values.setdefault("next_at", None)
        if change.release:
            values["lease_owner"] = None
            values["lease_expires"] = None
        values["updated_at"] = now
        condition = and_(apps.c.rollout_id == rid, apps.c.appid == change.appid,
                         apps.c.state == str(change.expect))
        if change.owner is not None:
            condition = and_(condition, apps.c.lease_owner == change.owner)
        result = await conn.execute(update(apps).where(condition).values(**values))
        if result.rowcount != 1:
            return False
        if change.to is not None and (moving or change.detail):
            log.append({"rollout_id": rid, "appid": change.appid, "at": now,
                        "from_state": str(change.expect), "to_state": str(change.to),
                        "detail": change.detail})
        return True

    async def app(self, rid: int, appid: str) -> AppRow | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(apps).where(
                apps.c.rollout_id == rid, apps.c.appid == appid))).first()
        return None if row is None else app_row(row._mapping)

    async def next_due(self, rid: int) -> float | None:
        """When the next app can be claimed: its ``next_at``, or the end of the
        lease that holds it (None: nothing is scheduled)."""
        ready = case((apps.c.lease_expires > apps.c.next_at, apps.c.lease_expires),
                     else_=apps.c.next_at)
        async with self._engine.connect() as conn:
            value = (await conn.execute(select(func.min(ready)).where(
                apps.c.rollout_id == rid, apps.c.next_at.is_not(None)))).scalar()
        return None if value is None else float(value)

    async def counts(self, rid: int) -> dict[str, int]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(
                select(apps.c.state, func.count()).where(apps.c.rollout_id == rid)
                .group_by(apps.c.state))).all()
        return {str(state): int(n) for state, n in rows}

    # -- the shared audit quota --------------------------------------------------------

    async def take_quota(
        self, reserve: int, now: float, max_age: float, key: str = "audit"
    ) -> Literal["ok", "empty", "stale"]:
        """Spend one audit submission from the shared budget, keeping ``reserve``.

        ``"stale"``: the budget was read longer than ``max_age`` ago (or never): read
        ``query_quota`` and :meth:`set_quota`, then take again. ``"empty"``: no more
        than ``reserve`` is left."""
        async def take(conn: AsyncConnection) -> Literal["ok", "empty", "stale"]:
            return await self._take(conn, reserve, now, max_age, key)

        return await self._transaction(take)

    @staticmethod
    async def _take(
        conn: AsyncConnection, reserve: int, now: float, max_age: float, key: str,
    ) -> Literal["ok", "empty", "stale"]:
        for _ in range(10):
            result = await conn.execute(update(quota).where(
                quota.c.key == key, quota.c.read_at >= now - max_age, quota.c.rest > reserve,
            ).values(rest=quota.c.rest - 1))
            if result.rowcount == 1:
                return "ok"
            row = (await conn.execute(select(quota.c.rest, quota.c.read_at)
                                      .where(quota.c.key == key))).first()
            if row is None or row.read_at < now - max_age:
                return "stale"
            if row.rest <= reserve:
                return "empty"
            # A refresh committed between the two statements (each sees the latest
            # committed rows on PostgreSQL): again.
        return "empty"

    async def set_quota(
        self, rest: int, now: float, max_age: float | None = None, key: str = "audit"
    ) -> None:
        """Record what ``query_quota`` said is left. With ``max_age``, only if the
        budget is still stale: when several apps find it stale at once, the first
        fresh read wins and the spending since is not overwritten by a later one."""
        condition = quota.c.key == key
        if max_age is not None:
            condition = and_(condition, quota.c.read_at < now - max_age)
        async with self._engine.begin() as conn:
            result = await conn.execute(update(quota).where(condition)
                                        .values(rest=rest, read_at=now))
            if result.rowcount == 0:
                exists = (await conn.execute(
                    select(quota.c.key).where(quota.c.key == key))).first()
                if exists is None:
                    try:
                        async with conn.begin_nested():
                            await conn.execute(insert(quota).values(key=key, rest=rest,
                                                                    read_at=now))
                    except IntegrityError:
                        pass  # another worker's first read landed first: keep it

    async def quota_left(self, key: str = "audit") -> tuple[int, float] | None:
        """The budget's last known rest and when it was read (None: never read)."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(quota.c.rest, quota.c.read_at)
                                      .where(quota.c.key == key))).first()
        return None if row is None else (int(row[0]), float(row[1]))

    # -- the read API (CLI, reports, dashboard) ----------------------------------------

    async def list_rollouts(self) -> list[RolloutSummary]:
        """Every rollout, newest first, with its counts by state."""
        async with self._engine.connect() as conn:
            records = [record_of(r._mapping) for r in (await conn.execute(
                select(rollouts).order_by(rollouts.c.created_at.desc(), rollouts.c.id.desc())
            )).all()]
            grouped = (await conn.execute(
                select(apps.c.rollout_id, apps.c.state, func.count())
                .group_by(apps.c.rollout_id, apps.c.state))).all()
        counts: dict[int, dict[str, int]] = {}
        for rid, state, n in grouped:
            counts.setdefault(int(rid), {})[str(state)] = int(n)
        return [summary_of(r, counts.get(r.id, {})) for r in records]

    async def summary(self, name: str) -> RolloutSummary | None:
        """One rollout's counts by state (None if there is no such rollout)."""
        record = await self.get_rollout(name)
        if record is None:
            return None
        return summary_of(record, await self.counts(record.id))

    async def transitions(
        self, name: str, *, appid: str | None = None, after_id: int = 0,
        since: float | None = None, limit: int = 1000,
    ) -> list[TransitionRow]:
        """The transition log in order; page on with ``after_id`` = the last row's id."""
        rid = await self._rid(name)
        condition = and_(transitions.c.rollout_id == rid, transitions.c.id > after_id)
        if appid is not None:
            condition = and_(condition, transitions.c.appid == appid)
        if since is not None:
            condition = and_(condition, transitions.c.at >= since)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(transitions).where(condition)
                                       .order_by(transitions.c.id).limit(limit))).all()
        return [TransitionRow(r.id, r.appid, r.at, r.from_state, r.to_state, r.detail)
                for r in rows]

    async def timeline(self, name: str, bucket: float = 3600.0) -> list[tuple[float, str, int]]:
        """Transitions over time: ``(bucket start, to_state, count)`` for plots."""
        rid = await self._rid(name)
        start = func.floor(transitions.c.at / bucket) * bucket
        async with self._engine.connect() as conn:
            rows = (await conn.execute(
                select(start.label("t"), transitions.c.to_state, func.count())
                .where(transitions.c.rollout_id == rid)
                .group_by(text("1"), transitions.c.to_state).order_by(text("1")))).all()
        return [(float(t), str(state), int(n)) for t, state, n in rows]

    async def failures(self, name: str) -> dict[int | None, int]:
        """Failed apps by errcode (None: a failure without one, e.g. a transport error)."""
        rid = await self._rid(name)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(
                select(apps.c.errcode, func.count()).where(
                    apps.c.rollout_id == rid, apps.c.state == str(AppStatus.FAILED))
                .group_by(apps.c.errcode))).all()
        return {code: int(n) for code, n in rows}

    async def apps(
        self, name: str, *, states: Sequence[str] | None = None, search: str | None = None,
        sort: Literal["appid", "state", "updated_at", "errcode"] = "appid",
        descending: bool = False, offset: int = 0, limit: int | None = 100,
    ) -> Page:
        """App rows filtered by state and an appid substring, sorted, one page."""
        rid = await self._rid(name)
        condition = apps.c.rollout_id == rid
        if states:
            condition = and_(condition, apps.c.state.in_(list(states)))
        if search:
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            condition = and_(condition, apps.c.appid.like(f"%{escaped}%", escape="\\"))
        column = {"appid": apps.c.appid, "state": apps.c.state,
                  "updated_at": apps.c.updated_at, "errcode": apps.c.errcode}[sort]
        order = [column.desc() if descending else column.asc(), apps.c.appid.asc()]
        query = select(apps).where(condition).order_by(*order).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        async with self._engine.connect() as conn:
            total = int((await conn.execute(
                select(func.count()).select_from(apps).where(condition))).scalar_one())
            rows = (await conn.execute(query)).all()
        return Page(tuple(app_row(r._mapping) for r in rows), total)

    async def _rid(self, name: str) -> int:
        record = await self.get_rollout(name)
        if record is None:
            raise WxaStoreError(f"no rollout named {name!r} in this store")
        return record.id


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (status, the dashboard) run beside the worker; NORMAL sync is
    # durable across a process crash (only an OS crash may lose the last commits);
    # busy_timeout makes a second process wait for the write lock instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


#: schema version N -> the statements that make it N + 1.
MIGRATIONS: dict[int, tuple[str, ...]] = {}
