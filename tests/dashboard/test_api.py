"""The JSON API and the pages, against a store written through the rollout store's API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from wxa_async.dashboard import create_app
from wxa_async.rollout import Rollout, RolloutStore

from ._support import dashboard_client, populate

APPIDS = [f"wxapi{i:04d}" for i in range(12)]
TARGETS = {
    "wxapi0000": "released", "wxapi0001": "released", "wxapi0002": "gray",
    "wxapi0003": "rejected", "wxapi0004": "rejected", "wxapi0005": "failed",
    "wxapi0006": "failed", "wxapi0007": "failed", "wxapi0008": "under_audit",
    "wxapi0009": "waiting_for_quota", "wxapi0010": "committed",
}
VALUES = {
    "wxapi0003": {"reason": "1:账号信息不符合规范:<br>(1):包含色情因素<br>",
                  "screenshots": ("media-a", "media-b")},
    "wxapi0004": {"reason": "页面内容空白"},
    "wxapi0005": {"errcode": 86002, "errmsg": "not init nickname", "retryable": False},
    "wxapi0006": {"errcode": 86002, "errmsg": "not init nickname", "retryable": False},
    "wxapi0007": {"errcode": -1, "errmsg": "system error", "retryable": True},
}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[RolloutStore]:
    async with await RolloutStore.open(f"sqlite:///{tmp_path / 'r.db'}") as opened:
        await populate(opened, APPIDS, TARGETS, VALUES)
        yield opened


async def test_rollouts_list_matches_the_store(store: RolloutStore) -> None:
    async with dashboard_client(store) as client:
        data = (await client.get("/api/rollouts")).json()
    summary = await store.summary("r1")
    assert summary is not None
    [rollout] = data["rollouts"]
    assert rollout["name"] == "r1" and rollout["user_version"] == "2.0.0"
    assert rollout["template_id"] == 7
    assert {k: v for k, v in rollout["counts"].items() if v} == summary.counts
    assert rollout["total"] == 12 and rollout["done"] == summary.done == 7
    assert rollout["done_pct"] == round(100 * 7 / 12, 2)


async def test_one_rollout_failures_rejections_and_quota(store: RolloutStore) -> None:
    await store.set_quota(321, 1_700_000_100.0)
    async with dashboard_client(store) as client:
        data = (await client.get("/api/rollouts/r1")).json()
    assert data["counts"]["failed"] == 3 and data["counts"]["pending"] == 1
    assert data["quota"] == {"used": 6, "left": 321, "read_at": 1_700_000_100.0}
    assert data["failures"] == [
        {"errcode": 86002, "count": 2, "retryable": 0, "errmsg": "not init nickname",
         "description": "小程序还未设置昵称. 头像. 简介。请先设置完后再重新提交 "
                        "(set nickname, avatar and intro first)"},
        {"errcode": -1, "count": 1, "retryable": 1, "errmsg": "system error",
         "description": "系统繁忙 (system busy)"},
    ]
    assert data["rejected"] == 2
    shown = {r["appid"]: r for r in data["rejections"]}
    assert shown["wxapi0003"]["screenshots"] == ["media-a", "media-b"]
    assert shown["wxapi0003"]["reason"].startswith("1:账号信息不符合规范")
    assert shown["wxapi0004"]["auditid"] == 4004


async def test_apps_filter_search_sort_and_pages(store: RolloutStore) -> None:
    async with dashboard_client(store) as client:
        async def get(query: str) -> dict[str, object]:
            answer = await client.get("/api/rollouts/r1/apps?" + query)
            assert answer.status_code == 200
            return dict(answer.json())

        failed = await get("state=failed")
        assert failed["total"] == 3
        assert [a["appid"] for a in failed["apps"]] == ["wxapi0005", "wxapi0006", "wxapi0007"]
        both = await get("state=failed&state=rejected&sort=appid&order=desc")
        assert [a["appid"] for a in both["apps"]][:2] == ["wxapi0007", "wxapi0006"]
        assert both["total"] == 5
        assert (await get("errcode=86002"))["total"] == 2
        assert (await get("errcode=86002&state=released"))["total"] == 0
        assert (await get("q=API001"))["total"] == 2  # wxapi0010, wxapi0011: any case
        assert (await get("q=4004"))["apps"][0]["appid"] == "wxapi0004"  # an auditid
        assert (await get("q=%25"))["total"] == 0  # a literal %, not a wildcard
        assert (await get("q=_"))["total"] == 0
        paged = await get("per_page=5&page=3")
        assert paged["pages"] == 3 and [a["appid"] for a in paged["apps"]] == [
            "wxapi0010", "wxapi0011"]
        newest = await get("sort=updated_at&order=desc&per_page=1")
        assert newest["apps"][0]["appid"] == "wxapi0000"  # released: the longest path
        lenient = await get("page=x&per_page=100000&state=nonsense&errcode=abc&sort=nope")
        assert lenient["per_page"] == 500 and lenient["page"] == 1 and lenient["total"] == 0


async def test_one_app_and_its_timeline(store: RolloutStore) -> None:
    async with dashboard_client(store) as client:
        data = (await client.get("/api/rollouts/r1/apps/wxapi0000")).json()
        missing = await client.get("/api/rollouts/r1/apps/nobody")
        no_rollout = await client.get("/api/rollouts/nope/apps")
    expected = await store.transitions("r1", appid="wxapi0000")
    assert [(t["from"], t["to"]) for t in data["timeline"]] == [
        (t.from_state, t.to_state) for t in expected]
    assert [t["to"] for t in data["timeline"]] == [
        "pending", "committed", "privacy_checked", "under_audit", "passed", "releasing",
        "released"]
    assert data["state"] == "released" and data["submits"] == 1
    assert "ext_json" not in data
    assert missing.status_code == 404 and "nobody" in missing.json()["error"]
    assert no_rollout.status_code == 404


async def test_pages_render_and_never_show_ext_json(store: RolloutStore) -> None:
    async with dashboard_client(store) as client:
        pages = [await client.get(path) for path in (
            "/", "/rollouts/r1", "/rollouts/r1?state=failed", "/rollouts/r1/apps/wxapi0003",
            "/api/rollouts/r1", "/api/rollouts/r1/apps?per_page=500",
            "/api/rollouts/r1/apps/wxapi0003")]
    assert all(p.status_code == 200 for p in pages)
    assert all("ext-secret-must-not-show" not in p.text for p in pages)
    rollout_page = pages[1].text
    assert 'data-count="failed">3<' in rollout_page
    assert "media-a" in rollout_page and "not init nickname" in rollout_page
    assert "gray 10%" in rollout_page  # the stage mark on the chart
    assert pages[1].headers["content-security-policy"].startswith("default-src 'none'")


async def test_read_only_methods(store: RolloutStore) -> None:
    async with dashboard_client(store) as client:
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            answer = await client.request(method, "/api/rollouts/r1")
            assert answer.status_code == 405
            assert answer.headers["allow"] == "GET, HEAD"
        assert (await client.head("/rollouts/r1")).status_code == 200


async def test_live_updates_answer_204_until_something_changes(store: RolloutStore) -> None:
    async with dashboard_client(store) as client:
        first = await client.get("/rollouts/r1")
        version = first.headers["x-dashboard-version"]
        assert f'data-version="{version}"' in first.text
        same = await client.get("/rollouts/r1", params={"since": version})
        assert same.status_code == 204 and not same.content
        # An operator retries the retryable failed app: the next poll gets the new page.
        async with await Rollout.open(store, name="r1") as rollout:
            assert await rollout.retry_failed() == 1
        moved = await client.get("/rollouts/r1", params={"since": version})
        assert moved.status_code == 200
        assert moved.headers["x-dashboard-version"] != version
        assert 'data-count="pending">2<' in moved.text
        assert 'data-count="failed">2<' in moved.text


async def test_mounted_in_another_app_links_stay_under_the_mount(
        store: RolloutStore) -> None:
    dashboard = create_app(store)
    parent = Starlette(routes=[Mount("/ops/rollouts", app=dashboard)])
    transport = httpx.ASGITransport(app=parent)
    async with httpx.AsyncClient(transport=transport, base_url="http://host") as client:
        page = await client.get("/ops/rollouts/rollouts/r1")
        css = await client.get("/ops/rollouts/static/dashboard.css")
        api = await client.get("/ops/rollouts/api/rollouts")
    assert page.status_code == css.status_code == api.status_code == 200
    links = re.findall(r'(?:href|src|action)="([^"#]+)', page.text)
    assert links and all(link.startswith("/ops/rollouts/") for link in links), links
    await dashboard.aclose()


async def test_store_url_opened_on_first_request_and_closed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    async with await RolloutStore.open(url) as store:
        await populate(store, APPIDS, TARGETS, VALUES)
    app = create_app(url)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://dash") as client:
        assert (await client.get("/api/rollouts")).json()["rollouts"][0]["name"] == "r1"
    await app.aclose()
    await app.aclose()  # twice is harmless
    assert "sqlite" not in repr(app)
