"""RolloutStore on SQLite and on a real PostgreSQL; several workers on PostgreSQL."""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.rollout.support import client_on, db_url, emulated, plan
from wxa_async.rollout import (
    AppStatus,
    Rollout,
    RolloutOptions,
    RolloutStore,
    WxaStoreError,
)
from wxa_async.rollout._rows import Change
from wxa_async.testing import FakeTransport

S = AppStatus


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: Any, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return db_url(tmp_path)
    url: str = request.getfixturevalue("pg_url")
    return url


async def test_schema_version_is_checked(store_url: str) -> None:
    async with await RolloutStore.open(store_url):
        pass
    engine = create_async_engine(store_url.replace("sqlite://", "sqlite+aiosqlite://", 1)
                                 .replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        async with engine.begin() as conn:
            await conn.execute(text(
                "UPDATE wxa_rollout_meta SET value = '99' WHERE key = 'schema_version'"))
        with pytest.raises(WxaStoreError, match="schema version 99, newer"):
            await RolloutStore.open(store_url)
        async with engine.begin() as conn:
            await conn.execute(text(
                "UPDATE wxa_rollout_meta SET value = '0' WHERE key = 'schema_version'"))
        with pytest.raises(WxaStoreError, match="cannot migrate"):
            await RolloutStore.open(store_url)
    finally:
        await engine.dispose()


async def test_unknown_scheme_and_no_password_in_repr(tmp_path: Any) -> None:
    with pytest.raises(WxaStoreError, match="unsupported store URL"):
        await RolloutStore.open("oracle://u:p@h/db")
    async with await RolloutStore.open(db_url(tmp_path)) as store:
        assert "p@" not in repr(store)


async def test_read_api_for_reports_and_the_dashboard(store_url: str) -> None:
    async with await RolloutStore.open(store_url) as store:
        ids = [f"wxapp{i:03d}" for i in range(12)]
        record, created = await store.create_rollout(
            plan(ids, name="a").to_data(), {a: "{}" for a in ids}, 100.0)
        assert created
        again, created = await store.create_rollout(plan(ids, name="a").to_data(), {}, 101.0)
        assert not created and again.id == record.id
        await store.create_rollout(plan(ids[:2], name="b").to_data(),
                                   {a: "{}" for a in ids[:2]}, 200.0)
        moves = [Change(a, S.PENDING, S.COMMITTED, detail="c") for a in ids[:6]]
        fail = [Change(a, S.COMMITTED, S.FAILED, values={"errcode": 85014, "errmsg": "x"})
                for a in ids[:2]]
        assert await store.apply(record.id, moves, 3700.0) == [True] * 6
        assert await store.apply(record.id, fail, 7300.0) == [True, True]
        # compare-and-set: the same move again changes nothing
        assert await store.apply(record.id, moves[:1], 7400.0) == [False]
        with pytest.raises(ValueError, match="no transition"):
            await store.apply(record.id, [Change(ids[9], S.PENDING, S.RELEASED)], 1.0)

        listed = await store.list_rollouts()
        assert [r.name for r in listed] == ["b", "a"]
        summary = await store.summary("a")
        assert summary is not None and summary.total == 12
        assert summary.counts == {"pending": 6, "committed": 4, "failed": 2}
        assert await store.failures("a") == {85014: 2}
        page = await store.apps("a", states=["pending"], sort="appid", descending=True,
                                offset=1, limit=2)
        assert page.total == 6 and [r.appid for r in page.rows] == ["wxapp010", "wxapp009"]
        found = await store.apps("a", search="p00", limit=None)
        assert found.total == 10
        assert (await store.apps("a", search="%")).total == 0  # LIKE wildcards are literal
        log = await store.transitions("a", limit=5)
        assert [t.to_state for t in log] == ["pending"] * 5
        rest = await store.transitions("a", after_id=log[-1].id, limit=1000)
        assert len(log) + len(rest) == 12 + 6 + 2
        assert [t.detail for t in await store.transitions("a", appid=ids[0])] == [
            "added", "c", None]
        timeline = await store.timeline("a", bucket=3600.0)
        assert (3600.0, "committed", 6) in timeline and (7200.0, "failed", 2) in timeline
        with pytest.raises(WxaStoreError, match="no rollout named"):
            await store.apps("nope")


async def test_leases_exclude_and_expire(store_url: str) -> None:
    async with await RolloutStore.open(store_url) as store:
        ids = [f"wxapp{i:03d}" for i in range(10)]
        record, _ = await store.create_rollout(plan(ids).to_data(), {a: "{}" for a in ids}, 0.0)
        first = await store.claim(record.id, "w1", 10.0, 30.0, 6)
        second = await store.claim(record.id, "w2", 10.0, 30.0, 6)
        assert len(first) == 6 and len(second) == 4
        assert not {r.appid for r in first} & {r.appid for r in second}
        assert await store.claim(record.id, "w3", 20.0, 30.0, 10) == []
        assert await store.next_due(record.id) == 40.0  # when the leases run out
        # w1 dies; after its leases expire w3 takes its apps, and w1 can no longer write
        taken = await store.claim(record.id, "w3", 41.0, 30.0, 10)
        assert {r.appid for r in taken} == {r.appid for r in first} | {
            r.appid for r in second}
        late = Change(first[0].appid, S.PENDING, S.COMMITTED, owner="w1")
        assert await store.apply(record.id, [late], 42.0) == [False]


async def test_quota_budget_is_shared(store_url: str) -> None:
    async with await RolloutStore.open(store_url) as store:
        assert await store.take_quota(1, 0.0, 60.0) == "stale"
        await store.set_quota(3, 0.0, 60.0)
        await store.set_quota(100, 1.0, 60.0)  # still fresh: the first read stands
        assert [await store.take_quota(1, 2.0, 60.0) for _ in range(3)] == [
            "ok", "ok", "empty"]
        assert await store.quota_left() == (1, 0.0)
        assert await store.take_quota(1, 100.0, 60.0) == "stale"


async def test_several_workers_share_a_rollout_and_finish_a_dead_ones_apps(
    pg_url: str,
) -> None:
    emu, tokens = emulated(60, delay=0.0, fail_rate=0.1, seed=2)
    active: collections.Counter[str] = collections.Counter()
    overlaps: list[str] = []
    by_token = {token: appid for appid, token in tokens.items()}
    worked: dict[str, set[str]] = collections.defaultdict(set)

    class Watched(FakeTransport):
        """Notes every request in flight per app, and which worker sent it."""

        def __init__(self, worker: str) -> None:
            super().__init__(emu)
            self.worker = worker

        async def send(self, request: Any) -> Any:
            appid = by_token.get(request.params.get("access_token", ""), "?")
            active[appid] += 1
            worked[appid].add(self.worker)
            if active[appid] > 1:
                overlaps.append(appid)
            try:
                await asyncio.sleep(0.001)  # long enough for overlaps to show
                return await super().send(request)
            finally:
                active[appid] -= 1

    options = dict(poll_interval=0.05, poll_jitter=0.5, lease_ttl=1.5, idle_sleep=0.05,
                   coalesce=0.0, retry_base=0.05, concurrency=8)
    the_plan = plan(list(tokens))
    workers = []
    for number in range(4):
        client = client_on(Watched(f"w{number}"), tokens)
        rollout = await Rollout.open(
            pg_url, client, the_plan,
            options=RolloutOptions(worker_id=f"w{number}", seed=number, **options))
        workers.append((client, rollout))
    tasks = [asyncio.create_task(r.run()) for _, r in workers]
    try:
        # w0 dies holding leases, once it has started on some apps.
        for _ in range(600):
            if sum(1 for ws in worked.values() if "w0" in ws) >= 3:
                break
            await asyncio.sleep(0.05)
        tasks[0].cancel()
        await asyncio.gather(tasks[0], return_exceptions=True)
        results = await asyncio.wait_for(asyncio.gather(*tasks[1:]), 60)
    finally:
        for task in tasks:
            task.cancel()
        for client, rollout in workers:
            await rollout.aclose()
            await client.aclose()
    assert all(r.finished for r in results)
    assert set(results[0].counts) <= {"released", "rejected"}
    assert overlaps == []
    by_worker = collections.Counter(w for ws in worked.values() for w in ws)
    assert len(by_worker) == 4 and all(by_worker[f"w{n}"] > 0 for n in range(1, 4))
    taken_over = [a for a, ws in worked.items() if "w0" in ws and len(ws) > 1]
    assert taken_over, "the dead worker's apps were finished by the others"
    for appid in tokens:
        state = emu.app(appid)
        assert len(state.audits) == 1 and len(state.releases) <= 1


async def test_closing_waits_for_a_transaction_its_cancelled_caller_left(tmp_path: Any) -> None:
    # A worker stopped mid-write leaves its transaction to finish (it is shielded, so it
    # commits or rolls back, never holds SQLite's write lock); closing the store must
    # wait for it, or its connection is never returned and is left open.
    import gc
    import warnings

    store = await RolloutStore.open(db_url(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        writes = [asyncio.create_task(store.wake(1, [S.UNDER_AUDIT], 0.0)) for _ in range(8)]
        await asyncio.sleep(0)  # each transaction has begun
        for write in writes:
            write.cancel()
        await store.aclose()
        await asyncio.sleep(0.3)  # whatever still ran after the close has finished now
        del writes, store
        gc.collect()
    leaked = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaked, [str(w.message) for w in leaked]
