"""The per-app table at 10,000 apps: filters, search, sorting and every page boundary.

Timings are printed (``-s``), never asserted."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from wxa_async.rollout import RolloutStore

from ._support import dashboard_client, populate

N = 10_000
APPIDS = [f"wx{i:016x}" for i in range(N)]
ERRCODES = (86002, 85013, -1)


def target(i: int) -> str | None:
    # Short paths through the state machine keep the 10,000-app store quick to build.
    return ("committed", "rejected", "failed", "under_audit", "waiting_for_quota",
            None, "committed", "failed")[i % 8]


@pytest.fixture(scope="module")
def big_store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import asyncio

    path = tmp_path_factory.mktemp("big") / "big.db"

    async def build() -> None:
        targets = {a: t for i, a in enumerate(APPIDS) if (t := target(i)) is not None}
        values = {a: {"errcode": ERRCODES[i % 3], "errmsg": f"msg {ERRCODES[i % 3]}"}
                  for i, a in enumerate(APPIDS) if target(i) == "failed"}
        async with await RolloutStore.open(f"sqlite:///{path}") as store:
            await populate(store, APPIDS, targets, values, name="big")

    started = time.perf_counter()
    asyncio.run(build())
    print(f"\n10,000-app store built in {time.perf_counter() - started:.1f} s")
    return path


@pytest.fixture
async def store(big_store_path: Path) -> AsyncIterator[RolloutStore]:
    async with await RolloutStore.open(f"sqlite:///{big_store_path}") as opened:
        yield opened


async def test_pages_at_10000_apps(store: RolloutStore) -> None:
    timings: dict[str, float] = {}
    async with dashboard_client(store) as client:
        async def get(name: str, path: str) -> dict[str, object]:
            started = time.perf_counter()
            answer = await client.get(path)
            timings[name] = time.perf_counter() - started
            assert answer.status_code == 200, answer.text
            return dict(answer.json()) if path.startswith("/api") else {"html": answer.text}

        first = await get("first page", "/api/rollouts/big/apps?per_page=50")
        assert first["total"] == N and first["pages"] == 200
        assert [a["appid"] for a in first["apps"]] == APPIDS[:50]  # type: ignore[attr-defined]
        last = await get("last page", "/api/rollouts/big/apps?per_page=50&page=200")
        assert [a["appid"] for a in last["apps"]] == APPIDS[-50:]  # type: ignore[attr-defined]
        beyond = await get("past the end", "/api/rollouts/big/apps?per_page=50&page=201")
        assert beyond["apps"] == [] and beyond["total"] == N
        odd = await get("odd size", "/api/rollouts/big/apps?per_page=300&page=34")
        assert [a["appid"] for a in odd["apps"]] == APPIDS[9900:]  # type: ignore[attr-defined]

        failed = await get("state filter", "/api/rollouts/big/apps?state=failed&per_page=500")
        expected = [a for i, a in enumerate(APPIDS) if target(i) == "failed"]
        assert failed["total"] == len(expected) == 2500
        assert [a["appid"] for a in failed["apps"]] == expected[:500]  # type: ignore[attr-defined]
        by_code = await get("errcode filter",
                            "/api/rollouts/big/apps?state=failed&errcode=-1&per_page=500")
        assert by_code["total"] == sum(
            1 for i, _ in enumerate(APPIDS) if target(i) == "failed" and ERRCODES[i % 3] == -1)
        search = await get("search", "/api/rollouts/big/apps?q=000000000000263")
        assert {a["appid"] for a in search["apps"]} == {  # type: ignore[attr-defined]
            a for a in APPIDS if "000000000000263" in a}
        newest = await get("sort by updated, descending",
                           "/api/rollouts/big/apps?sort=updated_at&order=desc&per_page=10")
        # Rejected apps took the longest path: their last step is the latest write.
        assert all(a["state"] == "rejected" for a in newest["apps"])  # type: ignore[attr-defined]

        await get("rollout page, first (compiles)", "/rollouts/big")
        page = await get("rollout page (HTML)", "/rollouts/big?state=rejected&page=7")
        html = str(page["html"])
        assert "1250 apps match; page 7 of 25." in html.replace(
            '<span id="apps-total">', "").replace("</span>", "")
        assert 'rel="next"' in html and 'rel="prev"' in html
        await get("chart", "/api/rollouts/big/chart")
        await get("summary", "/api/rollouts/big")
    for name, seconds in timings.items():
        print(f"{name:>28}: {seconds * 1000:7.1f} ms")
