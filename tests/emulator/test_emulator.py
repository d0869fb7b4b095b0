"""The emulator in process: every rule it models, through the public SDK (WxaClient +
FakeTransport) where the SDK can express the request, raw where it validates first."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import attrs
import pytest
from PIL import Image

from tests.support.emulator import (
    APPID,
    BY_NAME,
    ITEM,
    PAGES,
    client_for,
    committed,
    errcode,
    make_emulator,
    raw,
)
from wxa_async import (
    ENDPOINTS,
    WxaApiError,
    WxaClient,
    WxaDecodeError,
    WxaQuotaError,
    WxaSystemBusyError,
    WxaTokenError,
    WxaTransportError,
)
from wxa_async.push import (
    AuditFailEvent,
    AuditSuccessEvent,
    CallbackHandler,
    MessageCrypto,
    parse_event,
)
from wxa_async.testing import AuditPolicy, AuditStatus, Emulator, FakeTransport, Push

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


async def api_error(coro: Any) -> WxaApiError:
    with pytest.raises(WxaApiError) as info:
        await coro
    return info.value


async def passed_audit(emu: Emulator, token: str, *, release: bool = False) -> int:
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        await app.commit(template_id=1, ext_json="{}", user_version="v1", user_desc="d")
        auditid = (await app.submit_audit(item_list=[ITEM])).auditid
        emu.finish_audit(APPID, success=True)
        if release:
            await app.release()
        return auditid


# -- routing --------------------------------------------------------------------------


async def test_every_endpoint_of_the_table_is_served() -> None:
    emu, _, token = make_emulator()
    await committed(emu, token)
    for endpoint in ENDPOINTS:
        # Fields fixed by the request class (action=get_history_version) tell apart
        # endpoints sharing one path.
        fixed = {f.name: f.default for f in attrs.fields(endpoint.request) if not f.init}
        answer = await emu.handle(
            endpoint.method, "/" + endpoint.path, {"access_token": token, **fixed}, b"{}"
        )
        assert answer.status == 200, endpoint.name
        if not endpoint.binary:
            assert errcode(answer) not in (-1, 404), endpoint.name
    assert set(emu.calls) == {endpoint.name for endpoint in ENDPOINTS}


async def test_unknown_path_is_404_json() -> None:
    emu, _, token = make_emulator()
    answer = await emu.handle("GET", "/wxa/nope", {"access_token": token}, b"")
    assert answer.status == 404
    assert json.loads(answer.body)["errcode"] == 404


# -- commit, pages, qrcode, category ----------------------------------------------------


async def test_commit_takes_pages_from_template_or_ext_json() -> None:
    emu, state, token = make_emulator()
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        assert (await api_error(app.get_page())).errcode == 86001
        await app.commit(template_id=1, ext_json={}, user_version="v1", user_desc="d")
        assert (await app.get_page()).page_list == PAGES
        ext = {"pages": PAGES[:1], "extPages": {PAGES[0]: {}}}
        await app.commit(template_id=1, ext_json=ext, user_version="v2", user_desc="d")
        assert (await app.get_page()).page_list == PAGES[:1]
    assert state.trial is not None and state.trial.user_version == "v2"
    assert emu.applied[(APPID, "commit")] == 2


@pytest.mark.parametrize(
    ("template_id", "ext_json", "code"),
    [
        (1, {"pages": []}, 85047),
        (1, "{not json", 85048),
        (1, "[1, 2]", 85048),
        (99, {}, 85014),
        (1, {"pages": ["pages/missing/missing"]}, 85045),
        (1, {"extPages": {"pages/missing/missing": {}}}, 85045),
        (1, {"tabBar": {"list": [{"text": "no path"}]}}, 85046),
    ],
)
async def test_commit_errors(template_id: int, ext_json: Any, code: int) -> None:
    emu, state, token = make_emulator()
    async with client_for(emu, token) as client:
        error = await api_error(client.app(APPID).commit(
            template_id=template_id, ext_json=ext_json, user_version="v1", user_desc="d"))
    assert error.errcode == code
    assert state.trial is None and emu.applied[(APPID, "commit")] == 0


async def test_template_with_no_pages_and_no_ext_pages_is_85047() -> None:
    emu, _, token = make_emulator()
    emu.add_template(2, pages=[])
    async with client_for(emu, token) as client:
        error = await api_error(client.app(APPID).commit(
            template_id=2, ext_json={}, user_version="v1", user_desc="d"))
    assert error.errcode == 85047


async def test_get_qrcode_is_a_jpeg_of_the_path_and_json_error_without_trial(tmp_path: Any) -> None:
    emu, _, token = make_emulator()
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        assert (await api_error(app.get_qrcode())).errcode == 86001
        await app.commit(template_id=1, ext_json={}, user_version="v1", user_desc="d")
        image = await app.get_qrcode(path="pages/detail/detail?id=1")
        other = await app.get_qrcode(path="pages/about/about")
        written = await app.get_qrcode.to_file(tmp_path / "qr.jpg", path="pages/about/about")
    assert image[:3] == b"\xff\xd8\xff" and image != other
    decoded = Image.open(io.BytesIO(image))
    assert decoded.format == "JPEG" and decoded.size[0] > 50
    assert written == len(other) and (tmp_path / "qr.jpg").read_bytes() == other
    answer = await raw(emu, "get_qrcode", token=token)
    assert answer.headers["Content-Type"] == "image/jpeg"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="QRCode.jpg"'
    assert answer.headers["Cache-Control"] == "no-cache, must-revalidate"


async def test_get_category_answers_the_configured_categories() -> None:
    emu = Emulator()
    emu.add_app("wxcat", categories=[
        {"first_class": "教育", "second_class": "学历教育", "third_class": "高等",
         "first_id": 3, "second_id": 4, "third_id": 5},
    ])
    async with client_for(emu, emu.issue_token("wxcat"), "wxcat") as client:
        answer = await client.app("wxcat").get_category()
    assert [(c.first_class, c.third_id) for c in answer.category_list] == [("教育", 5)]
    wire = await raw(emu, "get_category", token=emu.issue_token("wxcat"))
    first = json.loads(wire.body)["category_list"][0]
    assert first["second_class"] == "学历教育" and "raw" not in json.loads(wire.body)


# -- submit_audit -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "code"),
    [
        ([{**ITEM, "address": "pages/nope/nope"}], 85007),
        ([{**ITEM, "first_class": "金融业", "first_id": 9}], 85008),
        ([{**ITEM, "first_class": None, "first_id": None}], 85008),
        ([{**ITEM, "tag": " ".join(f"t{i}" for i in range(11))}], 85006),
        ([{**ITEM, "tag": "x" * 21}], 85006),
        ([{**ITEM, "title": "标" * 33}], 85011),
        ([{}], 85010),
        (["not an item"], 85010),
        ([], 85023),
        ([ITEM] * 6, 85023),
        ("not a list", 85023),
    ],
)
async def test_submit_audit_item_errors(items: Any, code: int) -> None:
    emu, state, token = make_emulator()
    await committed(emu, token)
    answer = await raw(emu, "submit_audit", {"item_list": items}, token=token)
    assert errcode(answer) == code
    assert state.audits == {} and emu.applied[(APPID, "submit_audit")] == 0


async def test_submit_audit_order_and_state_rules() -> None:
    emu, state, token = make_emulator()
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        assert (await api_error(app.submit_audit(item_list=[ITEM]))).errcode == 85086
        await app.commit(template_id=1, ext_json={}, user_version="v1", user_desc="d")
        by_ids = {k: v for k, v in ITEM.items() if not k.endswith("_class")}
        auditid = (await app.submit_audit(item_list=[by_ids])).auditid
        assert (await api_error(app.submit_audit(item_list=[ITEM]))).errcode == 85009
        status = await app.get_audit_status(auditid=auditid)
        assert status.status == AuditStatus.PENDING
    assert state.latest_audit is not None and state.latest_audit.auditid == auditid


async def test_submit_audit_needs_a_nickname() -> None:
    emu, _, _ = make_emulator()
    emu.add_app("wxnonick", nickname_set=False)
    token = emu.issue_token("wxnonick")
    emu.add_template(1, pages=PAGES)
    async with client_for(emu, token, "wxnonick") as client:
        app = client.app("wxnonick")
        await app.commit(template_id=1, ext_json={}, user_version="v1", user_desc="d")
        assert (await api_error(app.submit_audit(item_list=[ITEM]))).errcode == 86002


async def test_submission_quota_is_monthly_and_shared_by_the_whole_platform() -> None:
    emu, _, token = make_emulator()
    emu.add_app("wxother")
    other = emu.issue_token("wxother", lifetime=366 * 86400)
    emu.limits.audit_submissions_per_month = 2
    # 2023-11-15 in Beijing: a week later is still November, 16 days later December.
    async with client_for(emu, token) as client, client_for(emu, other, "wxother") as second:
        app, neighbour = client.app(APPID), second.app("wxother")
        for handle in (app, neighbour):
            await handle.commit(template_id=1, ext_json={}, user_version="v1", user_desc="d")
        await app.submit_audit(item_list=[ITEM])
        emu.finish_audit(APPID, success=False, reason="no")
        await neighbour.submit_audit(item_list=[ITEM])  # another app draws on it too
        assert (await app.query_quota()).rest == 0
        error = await api_error(app.submit_audit(item_list=[ITEM]))
        assert error.errcode == 85085 and isinstance(error, WxaQuotaError)
        assert "本月" in error.description and "month" in error.description
        emu.clock.advance(7 * 86400)
        assert (await api_error(app.submit_audit(item_list=[ITEM]))).errcode == 85085
        emu.clock.advance(9 * 86400)
        await app.submit_audit(item_list=[ITEM])
        assert (await app.query_quota()).rest == 1


# -- audit results and push events ------------------------------------------------------


async def test_finish_audit_pushes_the_seed_event_and_updates_status() -> None:
    emu, state, token = make_emulator()
    pushes: list[Push] = []

    async def receive(push: Push) -> None:
        pushes.append(push)

    emu.on_push(receive)
    await committed(emu, token)
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        first = (await app.submit_audit(item_list=[ITEM])).auditid
        emu.clock.advance(100)
        emu.finish_audit(APPID, success=False, reason="页面内容不一致")
        second = (await app.submit_audit(item_list=[ITEM])).auditid
        emu.finish_audit(APPID, success=True)
        await emu.flush_pushes()
        rejected = await app.get_audit_status(auditid=first)
        latest = await app.get_latest_audit_status()
    assert (rejected.status, rejected.reason) == (1, "页面内容不一致")
    assert (latest.auditid, latest.status) == (second, 0)
    now = emu.clock.time()
    assert pushes[1].xml == (
        "<xml>\n"
        f"  <ToUserName><![CDATA[{state.original_id}]]></ToUserName>\n"
        "  <FromUserName><![CDATA[od1P50M-fNQI5Gcq-trm4a7apsU8]]></FromUserName>\n"
        f"  <CreateTime>{now}</CreateTime>\n"
        "  <MsgType><![CDATA[event]]></MsgType>\n"
        "  <Event><![CDATA[weapp_audit_success]]></Event>\n"
        f"  <SuccTime>{now}</SuccTime>\n"
        "</xml>"
    )
    fail = parse_event(pushes[0].xml)
    assert isinstance(fail, AuditFailEvent)
    assert (fail.reason, fail.fail_time) == ("页面内容不一致", now)
    assert fail.to_user_name == state.original_id
    assert state.original_id.startswith("gh_") and pushes[0].auditid == first
    assert (pushes[0].body, dict(pushes[0].query)) == (pushes[0].xml, {})


async def test_latest_audit_status_sends_the_auditid_as_a_string() -> None:
    emu, _, token = make_emulator()
    assert errcode(await raw(emu, "get_latest_audit_status", token=token)) == 85012
    auditid = await passed_audit(emu, token)
    payload = json.loads((await raw(emu, "get_latest_audit_status", token=token)).body)
    assert payload["auditid"] == str(auditid) and payload["status"] == 0
    assert "reason" not in payload


async def test_unknown_auditid_is_85012() -> None:
    emu, _, token = make_emulator()
    async with client_for(emu, token) as client:
        assert (await api_error(client.app(APPID).get_audit_status(auditid=42))).errcode == 85012
    assert errcode(await raw(emu, "get_audit_status", {"auditid": "abc"}, token=token)) == 85012
    assert errcode(await raw(emu, "get_audit_status", {}, token=token)) == 85012


async def test_audit_policy_resolves_on_the_virtual_clock() -> None:
    emu, state, token = make_emulator(audit_policy=AuditPolicy(delay=600, fail_rate=1.0))
    received: list[Push] = []

    async def receive(push: Push) -> None:
        received.append(push)

    emu.on_push(receive)
    auditid = 0
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        await app.commit(template_id=1, ext_json={}, user_version="v1", user_desc="d")
        auditid = (await app.submit_audit(item_list=[ITEM])).auditid
        emu.clock.advance(599)
        assert (await app.get_audit_status(auditid=auditid)).status == 2
        await emu.advance(1)
        assert (await app.get_audit_status(auditid=auditid)).status == 1
    assert [p.event for p in received] == ["weapp_audit_fail"]
    assert state.audits[auditid].reason == AuditPolicy().reason


async def test_audit_policy_outcomes_are_reproducible_with_a_seed() -> None:
    async def outcomes(seed: int) -> list[int]:
        result = []
        emu, state, token = make_emulator(
            audit_policy=AuditPolicy(delay=10, fail_rate=0.5, seed=seed))
        async with client_for(emu, token) as client:
            app = client.app(APPID)
            await app.commit(template_id=1, ext_json={}, user_version="v1", user_desc="d")
            for _ in range(12):
                await app.submit_audit(item_list=[ITEM])
                emu.clock.advance(10)
                assert state.latest_audit is not None
                result.append(int(state.latest_audit.status))
        return result

    first = await outcomes(3)
    assert first == await outcomes(3)
    assert set(first) == {0, 1}


async def test_encrypted_push_decrypts_with_the_platforms_callback_handler() -> None:
    crypto = MessageCrypto("push-token", AES_KEY, "wxcomponent0001")
    emu, _, token = make_emulator(push_crypto=crypto)
    events = []

    async def receive(push: Push) -> None:
        events.append(CallbackHandler(crypto).handle(push.body, push.query))

    emu.on_push(receive)
    await passed_audit(emu, token)
    await emu.flush_pushes()
    assert isinstance(events[0], AuditSuccessEvent)
    assert emu.pushes[0].xml not in emu.pushes[0].body  # what is posted is the envelope


async def test_a_failing_push_target_is_recorded_and_others_still_get_it() -> None:
    emu, _, token = make_emulator()
    got: list[Push] = []

    async def broken(push: Push) -> None:
        raise RuntimeError("receiver down")

    async def working(push: Push) -> None:
        got.append(push)

    emu.on_push(broken)
    emu.on_push(working)
    await passed_audit(emu, token)
    await emu.flush_pushes()
    assert len(got) == 1 and len(emu.push_failures) == 1
    with pytest.raises(ValueError):
        emu.on_push("http://example.com/callback")  # pushes only go to loopback


# -- undo, release, visit status, revert ------------------------------------------------


async def test_undo_code_audit_once_a_day_ten_a_month() -> None:
    emu, state, token = make_emulator()
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        await app.commit(template_id=1, ext_json={}, user_version="v1", user_desc="d")
        assert (await api_error(app.undo_code_audit())).errcode == 85012  # nothing to undo
        await app.submit_audit(item_list=[ITEM])
        await app.undo_code_audit()
        assert state.latest_audit is not None
        assert state.latest_audit.status == AuditStatus.WITHDRAWN
        await app.submit_audit(item_list=[ITEM])
        error = await api_error(app.undo_code_audit())
        assert error.errcode == 87013 and isinstance(error, WxaQuotaError)
        emu.limits.undo_per_month = 2
        emu.clock.advance(86400)
        await app.undo_code_audit()
        await app.submit_audit(item_list=[ITEM])
        emu.clock.advance(86400)
        assert (await api_error(app.undo_code_audit())).errcode == 87013
    assert emu.applied[(APPID, "undo_code_audit")] == 2


async def test_release_rules() -> None:
    emu, state, token = make_emulator()
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        assert (await api_error(app.release())).errcode == 85019
        await app.commit(template_id=1, ext_json={}, user_version="v1", user_desc="d")
        await app.submit_audit(item_list=[ITEM])
        assert (await api_error(app.release())).errcode == 85020
        emu.finish_audit(APPID, success=False)
        assert (await api_error(app.release())).errcode == 85020
        await app.submit_audit(item_list=[ITEM])
        emu.finish_audit(APPID, success=True)
        await app.release()
        assert (await api_error(app.release())).errcode == 85019  # already released
        info = await app.get_version_info()
    assert state.online is not None and state.online.user_version == "v1"
    assert info.release_info is not None and info.release_info.release_version == "v1"
    assert emu.applied[(APPID, "release")] == 1


async def test_change_visit_status() -> None:
    emu, state, token = make_emulator()
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        assert (await api_error(app.change_visit_status(action="open"))).errcode == 85021
        await app.change_visit_status(action="close")
    assert state.visit_status == "close"
    bad = await raw(emu, "change_visit_status", {"action": "hide"}, token=token)
    assert errcode(bad) == 85022


async def test_revert_code_release() -> None:
    emu, state, token = make_emulator()
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        await passed_audit(emu, token, release=True)
        assert (await api_error(app.revert_code_release())).errcode == 87012
        await app.commit(template_id=1, ext_json={}, user_version="v2", user_desc="d")
        await app.submit_audit(item_list=[ITEM])
        emu.finish_audit(APPID)
        await app.gray_release(gray_percentage=10)
        assert (await api_error(app.revert_code_release())).errcode == 87011
        await app.release()
        assert state.online is not None and state.online.user_version == "v2"
        await app.revert_code_release()
        assert state.online.user_version == "v1" if state.online else False
        assert (await api_error(app.revert_code_release())).errcode == 87012


async def test_support_version() -> None:
    emu, state, token = make_emulator()
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        await app.set_support_version(version="2.20.0")
        answer = await app.get_support_version()
        assert (await api_error(app.set_support_version(version="2.20"))).errcode == 85015
    assert answer.now_version == "2.20.0" == state.support_version
    assert answer.uv_info.items[0].version == "2.10.0"


# -- QR-code jump rules -------------------------------------------------------------------


async def test_qrcode_jump_rules() -> None:
    emu, state, token = make_emulator()
    prefix = "https://example.com/qr"
    rule: dict[str, Any] = {"prefix": prefix, "permit_sub_rule": 1, "path": PAGES[0],
                            "open_version": 3, "debug_url": [f"{prefix}?a=1"]}
    emu.limits.qrcode_rules = 2
    emu.limits.qrcode_publishes_per_month = 1
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        await app.add_qrcode_jump(**rule)
        assert (await api_error(app.add_qrcode_jump(**rule))).errcode == 85071
        await app.add_qrcode_jump(**{**rule, "path": PAGES[1], "is_edit": 1})
        bad_link = {**rule, "prefix": "ftp:/nowhere"}
        assert (await api_error(app.add_qrcode_jump(**bad_link))).errcode == 85066
        foreign = {**rule, "debug_url": ["https://other.example/x"]}
        assert (await api_error(app.add_qrcode_jump(**foreign))).errcode == 85068
        await app.add_qrcode_jump(**{**rule, "prefix": prefix + "2", "debug_url": []})
        third = {**rule, "prefix": prefix + "3", "debug_url": []}
        assert (await api_error(app.add_qrcode_jump(**third))).errcode == 85073
        assert (await api_error(app.publish_qrcode_jump(prefix=prefix))).errcode == 85074
        await passed_audit(emu, token, release=True)
        await app.publish_qrcode_jump(prefix=prefix)
        rules = await app.get_qrcode_jump()
        assert (rules.list_size, rules.qrcodejump_pub_quota, rules.qrcodejump_open) == (2, 0, 1)
        assert rules.rule_list[0].state == 2 and rules.rule_list[0].path == PAGES[1]
        error = await api_error(app.publish_qrcode_jump(prefix=prefix + "2"))
        assert isinstance(error, WxaQuotaError)
        emu.clock.advance(31 * 86400)  # a new month: the quota is back
        assert (await app.get_qrcode_jump()).qrcodejump_pub_quota == 1
        first = await app.download_qrcode_jump_file()
        second = await app.download_qrcode_jump_file()
        assert first.file_name.endswith(".txt") and first.file_content != second.file_content
        await app.delete_qrcode_jump(prefix=prefix)
        assert (await api_error(app.delete_qrcode_jump(prefix=prefix))).errcode == 85066
    assert list(state.qrcode_rules) == [prefix + "2"]


# -- gray release -----------------------------------------------------------------------


async def test_gray_release_rules_and_plan() -> None:
    emu, state, token = make_emulator()
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        assert (await api_error(app.gray_release(gray_percentage=10))).errcode == 85079
        await passed_audit(emu, token, release=True)
        await app.commit(template_id=1, ext_json={}, user_version="v2", user_desc="d")
        await app.submit_audit(item_list=[ITEM])
        assert (await api_error(app.gray_release(gray_percentage=10))).errcode == 85080
        emu.finish_audit(APPID)
        emu.clock.advance(5)
        await app.gray_release(gray_percentage=10)
        started = emu.clock.time()
        assert (await api_error(app.gray_release(gray_percentage=10))).errcode == 85082
        emu.clock.advance(5)
        await app.gray_release(gray_percentage=50)
        plan = (await app.get_gray_release_plan()).gray_release_plan
        assert (plan.status, plan.create_timestamp, plan.gray_percentage) == (1, started, 50)
        await app.revert_gray_release()
        assert (await app.get_gray_release_plan()).gray_release_plan.status == 4
        await app.gray_release(gray_percentage=20)
        await app.gray_release(gray_percentage=100)
        assert (await app.get_gray_release_plan()).gray_release_plan.status == 3
    assert state.online is not None and state.online.user_version == "v2"
    for bad in (0, 101, "ten"):
        answer = await raw(emu, "gray_release", {"gray_percentage": bad}, token=token)
        assert errcode(answer) == 85081


# -- newer endpoints ----------------------------------------------------------------------


async def test_speedup_quota_privacy_and_version_info() -> None:
    emu, _, token = make_emulator(audit_policy=AuditPolicy(delay=1000))
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        assert (await api_error(app.get_code_privacy_info())).errcode == 86001
        info = await app.get_version_info()
        assert info.exp_info is None and info.release_info is None
        await app.commit(template_id=1, ext_json={}, user_version="v9", user_desc="nine")
        auditid = (await app.submit_audit(item_list=[ITEM])).auditid
        assert (await api_error(app.speedup_audit(auditid=auditid + 1))).errcode == 85012
        await app.speedup_audit(auditid=auditid)
        assert isinstance(await api_error(app.speedup_audit(auditid=auditid)), WxaQuotaError)
        quota = await app.query_quota()
        assert (quota.speedup_rest, quota.speedup_limit, quota.limit - quota.rest) == (0, 1, 1)
        await emu.advance(500)  # speedup halved the wait
        assert (await app.get_audit_status(auditid=auditid)).status == 0
        privacy = await app.get_code_privacy_info()
        assert privacy.without_auth_list == [] and privacy.without_conf_list == []
        info = await app.get_version_info()
        assert info.exp_info is not None and info.exp_info.exp_version == "v9"


# -- tokens ---------------------------------------------------------------------------------


async def test_access_tokens_unknown_expired_and_missing() -> None:
    emu, _, _ = make_emulator()
    token = emu.issue_token(APPID)  # the default lifetime: 7200 s
    async with client_for(emu, "not-a-token") as client:
        error = await api_error(client.app(APPID).get_category())
        assert error.errcode == 40001 and isinstance(error, WxaTokenError)
        assert "not-a-token" not in str(error)
    async with client_for(emu, token) as client:
        await client.app(APPID).get_category()
        emu.clock.advance(7200)
        assert (await api_error(client.app(APPID).get_category())).errcode == 42001
    short = emu.issue_token(APPID, lifetime=10)
    emu.clock.advance(9)
    assert errcode(await raw(emu, "get_category", token=short)) == 0
    emu.expire_tokens(APPID)
    assert errcode(await raw(emu, "get_category", token=short)) == 42001
    assert errcode(await raw(emu, "get_category")) == 41001


async def test_component_token_endpoints_with_the_token_provider() -> None:
    from wxa_async.tokens import ComponentTokenProvider

    emu, state, _ = make_emulator()
    emu.add_app("wxother")
    emu.set_component("wxcomponent0001", "SECRET-app-secret", "ticket@@@SECRET")
    transport = FakeTransport(emu)
    provider = ComponentTokenProvider(
        component_appid="wxcomponent0001", component_appsecret="SECRET-app-secret",
        verify_ticket="ticket@@@SECRET",
        refresh_tokens={APPID: state.refresh_token, "wxother": "refreshtoken@@@wrong"},
        base_url="https://api.weixin.qq.com", transport=transport,
    )
    async with provider, WxaClient(provider, transport=transport) as client:
        pages = await api_error(client.app(APPID).get_page())  # token accepted: 86001
        assert pages.errcode == 86001
        with pytest.raises(WxaApiError) as info:
            await provider.get_token("wxother")
        assert info.value.errcode == 61023
    assert emu.calls["api_component_token"] == 1
    assert emu.applied[(APPID, "api_authorizer_token")] == 1
    assert emu.calls["api_authorizer_token"] == 2


async def test_component_token_errors() -> None:
    emu, state, _ = make_emulator()
    emu.set_component("wxc", "secret-1", "ticket-1")

    async def component(**body: str) -> dict[str, Any]:
        base = {"component_appid": "wxc", "component_appsecret": "secret-1",
                "component_verify_ticket": "ticket-1"}
        answer = await emu.handle("POST", "/cgi-bin/component/api_component_token", {},
                                  json.dumps({**base, **body}).encode())
        result: dict[str, Any] = json.loads(answer.body)
        return result

    async def authorizer(ctoken: str, refresh: str) -> dict[str, Any]:
        body = {"component_appid": "wxc", "authorizer_appid": APPID,
                "authorizer_refresh_token": refresh}
        answer = await emu.handle("POST", "/cgi-bin/component/api_authorizer_token",
                                  {"component_access_token": ctoken}, json.dumps(body).encode())
        result: dict[str, Any] = json.loads(answer.body)
        return result

    assert (await component(component_verify_ticket="stale"))["errcode"] == 61006
    assert (await component(component_appsecret="wrong"))["errcode"] == 40125
    good = await component()
    assert good["expires_in"] == 7200
    ctoken = good["component_access_token"]
    assert (await authorizer("bogus", state.refresh_token))["errcode"] == 40001
    assert (await authorizer(ctoken, "refreshtoken@@@bad"))["errcode"] == 61023
    answer = await authorizer(ctoken, state.refresh_token)
    assert answer["authorizer_refresh_token"] == state.refresh_token
    new_token = answer["authorizer_access_token"]
    assert errcode(await raw(emu, "get_category", token=new_token)) == 0
    emu.rotate_refresh_tokens = True
    rotated = await authorizer(ctoken, state.refresh_token)
    assert rotated["authorizer_refresh_token"] == state.refresh_token != answer[
        "authorizer_refresh_token"]
    emu.clock.advance(7200)
    assert (await authorizer(ctoken, state.refresh_token))["errcode"] == 42001
    emu.clock.advance(12 * 3600)
    assert (await component())["errcode"] == 61005  # the verify ticket expired


# -- faults ---------------------------------------------------------------------------------


async def test_fault_before_apply_changes_nothing_and_is_not_retried_for_mutations() -> None:
    emu, state, token = make_emulator()
    emu.faults.add("busy", endpoint="commit")
    async with client_for(emu, token) as client:
        with pytest.raises(WxaSystemBusyError):
            await client.app(APPID).commit(
                template_id=1, ext_json={}, user_version="v1", user_desc="d")
    assert state.trial is None and emu.applied[(APPID, "commit")] == 0
    assert emu.calls["commit"] == 1 and emu.faults.injected["busy"] == 1


async def test_fault_after_apply_applies_once_and_loses_the_answer() -> None:
    emu, state, token = make_emulator()
    emu.faults.add("drop", endpoint="commit", after_apply=True)
    async with client_for(emu, token) as client:
        with pytest.raises(WxaTransportError) as info:
            await client.app(APPID).commit(
                template_id=1, ext_json={}, user_version="v1", user_desc="d")
    assert info.value.request_sent is True
    assert state.trial is not None and emu.applied[(APPID, "commit")] == 1
    assert emu.faults.log[0].after_apply is True and emu.faults.log[0].endpoint == "commit"


@pytest.mark.parametrize(
    ("kind", "error"),
    [("busy", WxaSystemBusyError), ("http_502", WxaTransportError), ("drop", WxaTransportError)],
)
async def test_faults_on_reads_are_retried_by_the_client(kind: Any, error: type) -> None:
    emu, _, token = make_emulator()
    await committed(emu, token)
    emu.faults.add(kind, endpoint="get_page", times=2)
    async with client_for(emu, token) as client:
        assert (await client.app(APPID).get_page()).page_list == PAGES
        assert client.retry_counts["get_page"] == 2
    emu.faults.add(kind, endpoint="get_page", times=None)
    async with client_for(emu, token, max_retries=1) as client:
        with pytest.raises(error):
            await client.app(APPID).get_page()
    emu.faults.clear()
    assert emu.faults.injected[kind] == 4


async def test_not_json_fault_is_a_decode_error() -> None:
    emu, _, token = make_emulator()
    emu.faults.add("not_json", endpoint="get_category")
    async with client_for(emu, token, max_retries=0) as client:
        with pytest.raises(WxaDecodeError):
            await client.app(APPID).get_category()
        assert (await client.app(APPID).get_category()).category_list
    assert emu.faults.injected == {"not_json": 1}


async def test_http_502_and_latency_faults() -> None:
    emu, _, token = make_emulator()
    emu.faults.add("http_502", endpoint="get_category")
    assert (await raw(emu, "get_category", token=token)).status == 502
    emu.faults.add("latency", latency=0.01)
    answer = await raw(emu, "get_category", token=token)
    assert errcode(answer) == 0 and emu.faults.injected["latency"] == 1


async def test_expire_token_fault_answers_42001() -> None:
    emu, _, token = make_emulator()
    emu.faults.add("expire_token", appid=APPID)
    async with client_for(emu, token) as client:
        with pytest.raises(WxaTokenError) as info:
            await client.app(APPID).get_category()
    assert info.value.errcode == 42001


async def test_random_faults_are_reproducible_with_a_seed() -> None:
    async def run(seed: int) -> list[tuple[int, str, str]]:
        emu, _, token = make_emulator()
        await committed(emu, token)
        emu.faults.set_rate(0.3, seed=seed, kinds=["busy", "http_502", "not_json"])
        for _ in range(60):
            await raw(emu, "get_page", token=token)
        assert sum(emu.faults.injected.values()) == len(emu.faults.log)
        return [(f.seq, f.endpoint, f.kind) for f in emu.faults.log]

    first = await run(7)
    assert first == await run(7)
    assert first != await run(8)
    assert 5 < len(first) < 35


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("commit", b"{not json", 47001),
        ("commit", b"[1, 2]", 47001),
        ("commit", b"\xff\xfe", 47001),
        ("commit", b'{"ext_json": "{}", "user_version": "v", "user_desc": ""}', 85014),
        ("commit", b'{"template_id": "x", "ext_json": "{}", "user_version": "v",'
                   b' "user_desc": ""}', 85014),
        ("commit", b'{"template_id": 1, "ext_json": 5, "user_version": "v",'
                   b' "user_desc": ""}', 85048),
        ("commit", b'{"template_id": 1, "ext_json": "{}", "user_desc": ""}', 47001),
        ("set_support_version", b'{"version": 3}', 85015),
        ("add_qrcode_jump", b'{"prefix": "https://a.b/c", "permit_sub_rule": "9",'
                            b' "path": "p", "open_version": "1"}', 47001),
        ("delete_qrcode_jump", b"{}", 85066),
        ("release", b"{oops", 47001),
    ],
)
async def test_bad_input_answers_errcodes_not_tracebacks(
    name: str, content: bytes, code: int
) -> None:
    emu, state, token = make_emulator()
    answer = await raw(emu, name, token=token, content=content)
    assert answer.status == 200 and errcode(answer) == code
    assert b"Traceback" not in answer.body and state.trial is None


async def test_digit_strings_are_accepted_like_the_service_does() -> None:
    emu, state, token = make_emulator()
    body = {"template_id": "1", "ext_json": "{}", "user_version": "v1", "user_desc": "",
            "unknown_field": True}
    assert errcode(await raw(emu, "commit", body, token=token)) == 0
    assert state.trial is not None and state.trial.template_id == 1
    item = {**ITEM, "first_id": "1", "second_id": "2"}
    assert errcode(await raw(emu, "submit_audit", {"item_list": [item]}, token=token)) == 0


# -- inspection and secrets ---------------------------------------------------------------


async def test_no_secret_in_reprs_or_stats() -> None:
    emu, state, token = make_emulator()
    emu.set_component("wxc", "SECRET-app-secret", "SECRET-ticket")
    transport = FakeTransport(emu)
    text = repr(emu) + repr(state) + repr(transport) + json.dumps(emu.stats())
    for secret in (token, state.refresh_token, "SECRET"):
        assert secret not in text
    assert state.refresh_token.startswith("refreshtoken@@@")


def test_handlers_are_derived_from_the_endpoint_table() -> None:
    emu = Emulator()
    for name, endpoint in BY_NAME.items():
        assert callable(getattr(emu, f"_op_{name}")), endpoint


async def test_pushes_are_delivered_in_the_background() -> None:
    emu, _, token = make_emulator()
    arrived = asyncio.Event()

    async def receive(push: Push) -> None:
        arrived.set()

    emu.on_push(receive)
    await passed_audit(emu, token)
    await asyncio.wait_for(arrived.wait(), timeout=5)  # no flush_pushes() needed


def test_a_push_queued_outside_an_event_loop_is_delivered_by_flush() -> None:
    emu, _, _ = make_emulator()
    got: list[str] = []

    async def receive(push: Push) -> None:
        got.append(push.event)

    emu.on_push(receive)
    emu.audit_policy = AuditPolicy(delay=60)
    asyncio.run(_commit_and_submit(emu))
    emu.clock.advance(60)  # resolves outside any loop: queued, not yet delivered
    assert got == [] and len(emu.pushes) == 1
    asyncio.run(emu.flush_pushes())
    assert got == ["weapp_audit_success"]


async def _commit_and_submit(emu: Emulator) -> None:
    token = emu.issue_token(APPID)
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        await app.commit(template_id=1, ext_json={}, user_version="v1", user_desc="d")
        await app.submit_audit(item_list=[ITEM])
