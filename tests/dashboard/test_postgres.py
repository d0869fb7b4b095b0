"""The dashboard's reads on PostgreSQL (the server the rollout tests start on loopback)."""

from __future__ import annotations

from wxa_async.rollout import RolloutStore

from ._support import dashboard_client, populate
from .test_api import APPIDS, TARGETS, VALUES


async def test_the_same_answers_on_postgresql(pg_url: str) -> None:
    async with await RolloutStore.open(pg_url) as store:
        await populate(store, APPIDS, TARGETS, VALUES)
        summary = await store.summary("r1")
        assert summary is not None
        async with dashboard_client(store) as client:
            rollout = (await client.get("/api/rollouts/r1")).json()
            chart = (await client.get("/api/rollouts/r1/chart")).json()
            failed = (await client.get("/api/rollouts/r1/apps",
                                       params={"state": "failed", "errcode": "86002"})).json()
            search = (await client.get("/api/rollouts/r1/apps", params={"q": "API001"})).json()
            page = await client.get("/rollouts/r1")
    assert {k: v for k, v in rollout["counts"].items() if v} == summary.counts
    assert [(f["errcode"], f["count"], f["retryable"]) for f in rollout["failures"]] == [
        (86002, 2, 0), (-1, 1, 1)]
    assert rollout["quota"]["used"] == 6
    assert {s: v[-1] for s, v in chart["series"].items() if v[-1]} == summary.counts
    assert [m["label"] for m in chart["marks"]] == ["gray 10%"]
    assert [a["appid"] for a in failed["apps"]] == ["wxapi0005", "wxapi0006"]
    assert search["total"] == 2
    assert page.status_code == 200 and 'data-count="failed">3<' in page.text
