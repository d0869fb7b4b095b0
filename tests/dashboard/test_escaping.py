"""Everything from outside (appids, reasons, errmsgs, screenshot ids) renders as text."""

from __future__ import annotations

from pathlib import Path

from wxa_async.rollout import RolloutStore

from ._support import dashboard_client, populate

EVIL_APPID = 'wx"><img src=x onerror=alert(1)>'
REASON = '<script>alert("pwned")</script>第一行<br>第二行 & <b>bold</b>'
ERRMSG = "</td><script>document.title='x'</script>"
SHOT = '"onmouseover="alert(2)'


async def test_a_script_in_a_rejection_reason_renders_as_text(tmp_path: Path) -> None:
    async with await RolloutStore.open(f"sqlite:///{tmp_path / 'r.db'}") as store:
        await populate(
            store, ["wxgood01", EVIL_APPID, "wxfail01"],
            {EVIL_APPID: "rejected", "wxfail01": "failed"},
            {EVIL_APPID: {"reason": REASON, "screenshots": (SHOT,)},
             "wxfail01": {"errcode": 85013, "errmsg": ERRMSG}})
        async with dashboard_client(store) as client:
            rollout = (await client.get("/rollouts/r1")).text
            filtered = (await client.get("/rollouts/r1", params={"q": "<img"})).text
            app = (await client.get("/rollouts/r1/apps/" + EVIL_APPID)).text
            listing = (await client.get("/")).text
            data = (await client.get("/api/rollouts/r1")).json()
    for html in (rollout, filtered, app):
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;第一行<br>第二行 &amp; " \
               "&lt;b&gt;bold&lt;/b&gt;" in html
        assert "wx&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
        assert 'onmouseover="alert' not in html
    assert "&lt;/td&gt;&lt;script&gt;document.title=&#39;x&#39;&lt;/script&gt;" in rollout
    # Links to the app carry its appid percent-encoded.
    assert "/rollouts/r1/apps/wx%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E" in rollout
    assert "<script" not in listing.replace('<script src="/static/dashboard.js"', "")
    # JSON carries the text as it is (a tool decides how to show it).
    assert data["rejections"][0]["reason"] == REASON
    assert data["failures"][0]["errmsg"] == ERRMSG


async def test_the_only_script_is_the_packaged_one(tmp_path: Path) -> None:
    async with await RolloutStore.open(f"sqlite:///{tmp_path / 'r.db'}") as store:
        await populate(store, [EVIL_APPID], {EVIL_APPID: "rejected"},
                       {EVIL_APPID: {"reason": REASON}})
        async with dashboard_client(store) as client:
            pages = [(await client.get(p)).text for p in (
                "/", "/rollouts/r1", "/rollouts/r1/apps/" + EVIL_APPID, "/rollouts/none")]
    for html in pages:
        assert html.count("<script") == 1
        assert '<script src="/static/dashboard.js" defer></script>' in html
        assert "http://" not in html and "https://" not in html  # nothing from elsewhere
