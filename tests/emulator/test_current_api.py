"""The emulator's model of the current API: the privacy scan and guide, audit media,
version history and rollback, gray-release flags, delayed audits, per-field errcodes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.emulator import APPID, ITEM, PAGES, client_for, errcode, make_emulator, raw
from wxa_async import WxaApiError, WxaPrivacyScanPendingError
from wxa_async.push import AuditDelayEvent, AuditFailEvent, AuditSuccessEvent, parse_event
from wxa_async.testing import AuditPolicy, AuditStatus, Emulator, Push

OWNER = {"contact_email": "dev@example.com", "notice_method": "弹窗"}


async def api_error(coro: Any) -> WxaApiError:
    with pytest.raises(WxaApiError) as info:
        await coro
    return info.value


async def commit(app: Any, version: str = "v1", template_id: int = 1) -> None:
    await app.commit(template_id=template_id, ext_json={}, user_version=version,
                     user_desc=f"desc {version}")


# -- the privacy scan and guide -----------------------------------------------------------


async def test_the_privacy_scan_blocks_audits_for_its_virtual_time() -> None:
    emu, _, token = make_emulator()
    emu.limits.privacy_scan_seconds = 60
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        await commit(app)
        with pytest.raises(WxaPrivacyScanPendingError):
            await app.get_code_privacy_info()
        with pytest.raises(WxaPrivacyScanPendingError):
            await app.submit_audit([ITEM])
        assert emu.applied[(APPID, "submit_audit")] == 0
        emu.clock.advance(59)
        assert (await api_error(app.submit_audit([ITEM]))).errcode == 61039
        emu.clock.advance(1)
        assert (await app.get_code_privacy_info()).without_conf_list == []
        assert (await app.submit_audit([ITEM])).auditid > 0
        await commit(app, "v2")  # every commit is scanned again
        assert (await api_error(app.get_code_privacy_info())).errcode == 61039


async def test_privacy_keys_of_the_template_must_be_declared_before_an_audit() -> None:
    emu, _, token = make_emulator()
    emu.add_template(2, PAGES, privacy_keys=["Location", "PhoneNumber"])
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        await commit(app, template_id=2)
        info = await app.get_code_privacy_info()
        assert info.without_conf_list == ["Location", "PhoneNumber"]
        setting = await app.get_privacy_setting()
        assert setting.code_exist == 1 and setting.privacy_list == ["Location", "PhoneNumber"]
        assert (await api_error(app.submit_audit([ITEM]))).errcode == 61040
        await app.set_privacy_setting(OWNER, setting_list=[
            {"privacy_key": "Location", "privacy_text": "附近门店"}])
        assert (await app.get_code_privacy_info()).without_conf_list == ["PhoneNumber"]
        assert (await api_error(app.submit_audit([ITEM]))).errcode == 61040
        await app.set_privacy_setting(OWNER, setting_list=[
            {"privacy_key": "Location", "privacy_text": "附近门店"},
            {"privacy_key": "PhoneNumber", "privacy_text": "登录"}])
        assert (await app.submit_audit([ITEM])).auditid > 0
        read = await app.get_privacy_setting()
        assert [(s.privacy_key, s.privacy_label) for s in read.setting_list] == [
            ("Location", "位置信息"), ("PhoneNumber", "手机号码")]
        assert read.owner_setting.contact_email == "dev@example.com"
        assert any(d.privacy_key == "Location" for d in read.privacy_desc.privacy_desc_list)


async def test_privacy_api_not_use_declares_the_undeclared_keys_unused() -> None:
    emu, _, token = make_emulator()
    emu.add_template(2, PAGES, privacy_keys=["Location"])
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        await commit(app, template_id=2)
        assert (await app.submit_audit([ITEM], privacy_api_not_use=True)).auditid > 0


async def test_the_development_guide_goes_live_with_the_release() -> None:
    emu, _, token = make_emulator()
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        # No live version yet: privacy_ver=1 answers 86074.
        error = await api_error(app.set_privacy_setting(OWNER, privacy_ver=1))
        assert error.errcode == 86074
        await app.set_privacy_setting(OWNER, setting_list=[
            {"privacy_key": "Album", "privacy_text": "上传头像"}])
        assert (await app.get_privacy_setting(privacy_ver=1)).setting_list == []
        await commit(app)
        await app.submit_audit([ITEM])
        emu.finish_audit(APPID)
        await app.release()
        live = await app.get_privacy_setting(privacy_ver=1)
        assert [s.privacy_key for s in live.setting_list] == ["Album"]
        await app.set_privacy_setting({"contact_qq": "10001", "notice_method": "站内信"},
                                      privacy_ver=1)
        live = await app.get_privacy_setting(privacy_ver=1)
        assert (live.owner_setting.contact_qq, live.owner_setting.notice_method) == (
            "10001", "站内信")
        assert [s.privacy_key for s in live.setting_list] == ["Album"]


async def test_raw_privacy_requests_answer_the_documented_errcodes() -> None:
    emu, _, token = make_emulator()
    unknown = {"owner_setting": OWNER,
               "setting_list": [{"privacy_key": "Telepathy", "privacy_text": "x"}]}
    assert errcode(await raw(emu, "set_privacy_setting", unknown, token=token)) == 86071
    no_contact = {"owner_setting": {"notice_method": "弹窗"}}
    assert errcode(await raw(emu, "set_privacy_setting", no_contact, token=token)) == 86069
    assert errcode(await raw(emu, "set_privacy_setting", {}, token=token)) == 86069
    bad = {"api_name": "wx.readMinds", "content": "x"}
    assert errcode(await raw(emu, "apply_privacy_interface", bad, token=token)) == 85058


async def test_privacy_interface_applications() -> None:
    emu, _, token = make_emulator()
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        before = {i.api_name: i for i in (await app.get_privacy_interface()).interface_list}
        assert before["wx.getLocation"].status == 1 and before["wx.getLocation"].audit_id == 0
        applied = await app.apply_privacy_interface("wx.getLocation", "展示附近门店",
                                                    pic_list=["p"])
        after = {i.api_name: i for i in (await app.get_privacy_interface()).interface_list}
        assert after["wx.getLocation"].status == 3
        assert after["wx.getLocation"].audit_id == applied.audit_id > 0
        assert after["wx.chooseAddress"].status == 1


# -- audit media --------------------------------------------------------------------------


async def test_preview_info_naming_an_unknown_media_id_answers_85092() -> None:
    emu, _, token = make_emulator()
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        await commit(app)
        error = await api_error(app.submit_audit([ITEM], preview_info={"pic_id_list": ["nope"]}))
        assert error.errcode == 85092
        assert emu.app(APPID).latest_audit is None


# -- history and rollback -------------------------------------------------------------------


async def release_versions(emu: Emulator, app: Any, count: int) -> None:
    for n in range(1, count + 1):
        await commit(app, f"v{n}")
        await app.submit_audit([ITEM])
        emu.finish_audit(APPID)
        await app.release()


async def test_history_offers_five_versions_and_rolls_back_to_a_chosen_one() -> None:
    emu, state, token = make_emulator()
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        assert (await app.get_history_version()).version_list == []
        await release_versions(emu, app, 7)
        history = (await app.get_history_version()).version_list
        assert [v.user_version for v in history] == ["v6", "v5", "v4", "v3", "v2"]
        assert [v.app_version for v in history] == [6, 5, 4, 3, 2]
        assert history[0].user_desc == "desc v6" and history[0].commit_time > 0
        assert (await api_error(app.revert_code_release(app_version=1))).errcode == 87012
        assert (await api_error(app.revert_code_release(app_version=7))).errcode == 87012
        await app.revert_code_release(app_version=3)
        assert state.online is not None and state.online.user_version == "v3"
        assert (await app.get_version_info()).release_info.release_version == "v3"  # type: ignore[union-attr]
        # A rolled-back version cannot be rolled back again.
        assert (await api_error(app.revert_code_release())).errcode == 87012
        assert emu.applied[(APPID, "revert_code_release")] == 1


async def test_rollback_without_a_version_goes_to_the_previous_one() -> None:
    emu, state, token = make_emulator()
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        await release_versions(emu, app, 2)
        await app.revert_code_release()
    assert state.online is not None and state.online.user_version == "v1"


# -- gray release ------------------------------------------------------------------------------


async def test_gray_release_to_members_first_at_zero_percent() -> None:
    emu, _, token = make_emulator()
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        await release_versions(emu, app, 1)
        await commit(app, "v2")
        await app.submit_audit([ITEM])
        emu.finish_audit(APPID)
        await app.gray_release(0, support_debuger_first=True, support_experiencer_first=True)
        plan = (await app.get_gray_release_plan()).gray_release_plan
        assert (plan.status, plan.gray_percentage, plan.support_debuger_first,
                plan.support_experiencer_first) == (1, 0, True, True)
        await app.gray_release(20)
        plan = (await app.get_gray_release_plan()).gray_release_plan
        assert (plan.gray_percentage, plan.support_debuger_first) == (20, False)
        assert (await api_error(app.gray_release(20))).errcode == 85082
    no_flag = await raw(emu, "gray_release", {"gray_percentage": 0}, token=token)
    assert errcode(no_flag) == 85081  # the field's errcode, from its metadata


# -- audits: delayed, screenshots, the latest status -------------------------------------------


async def test_a_delayed_audit_passes_through_status_4_with_a_push() -> None:
    emu, _, token = make_emulator(audit_policy=AuditPolicy(
        delay=600, delayed_rate=1.0, delayed_by=3600))
    pushes: list[Push] = []

    async def receive(push: Push) -> None:
        pushes.append(push)

    emu.on_push(receive)
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        await commit(app)
        auditid = (await app.submit_audit([ITEM])).auditid
        await emu.advance(600)
        assert (await app.get_audit_status(auditid)).status == AuditStatus.DELAYED
        assert (await api_error(app.submit_audit([ITEM]))).errcode == 85009  # still under way
        (delay,) = pushes
        event = parse_event(delay.xml)
        assert isinstance(event, AuditDelayEvent) and delay.event == "weapp_audit_delay"
        assert event.to_user_name == emu.app(APPID).original_id
        await emu.advance(3599)
        assert (await app.get_audit_status(auditid)).status == 4
        await emu.advance(1)
        assert (await app.get_audit_status(auditid)).status == 0
    assert isinstance(parse_event(pushes[-1].xml), AuditSuccessEvent)
    assert [p.event for p in pushes] == ["weapp_audit_delay", "weapp_audit_success"]


async def test_delay_audit_by_hand_then_a_rejection_with_screenshots() -> None:
    emu, _, token = make_emulator()
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        await commit(app, "v9")
        auditid = (await app.submit_audit([ITEM])).auditid
        emu.delay_audit(APPID)
        latest = await app.get_latest_audit_status()
        assert latest.status == 4 and latest.screenshot == ()
        emu.finish_audit(APPID, success=False, reason="页面内容不符", screenshots=["s1", "s2"])
        status = await app.get_audit_status(auditid)
        latest = await app.get_latest_audit_status()
    assert status.status == latest.status == 1
    assert status.screenshot == latest.screenshot == ("s1", "s2")
    assert status.raw["screenshot"] == "s1|s2" and latest.raw["ScreenShot"] == "s1|s2"
    assert (latest.user_version, latest.user_desc) == ("v9", "desc v9")
    assert latest.submit_audit_time == emu.app(APPID).audits[auditid].submitted_at
    events = [parse_event(p.xml) for p in emu.pushes]
    assert isinstance(events[0], AuditDelayEvent) and isinstance(events[1], AuditFailEvent)


async def test_submit_audit_without_items_is_accepted() -> None:
    emu, _, token = make_emulator()
    async with client_for(emu, token) as client:
        app = client.app(APPID)
        await commit(app)
        assert (await app.submit_audit(version_desc="门店列表")).auditid > 0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"item_list": [{**ITEM, "title": "长" * 33}]}, 85011),
        ({"item_list": [{**ITEM, "tag": "x" * 21}]}, 85006),
        ({"item_list": [{**ITEM, "first_id": "one"}]}, 85008),
        ({"item_list": [{**ITEM, "first_id": "1"}]}, 0),  # digit strings are numbers
        ({"item_list": ["index"]}, 85010),
        ({"item_list": []}, 85023),
        ({"preview_info": {"pic_id_list": "x"}}, 85092),
        ({"privacy_api_not_use": "yes"}, 47001),
    ],
)
async def test_raw_submissions_answer_the_fields_errcode(
    body: dict[str, Any], expected: int
) -> None:
    emu, _, token = make_emulator()
    async with client_for(emu, token) as client:
        await commit(client.app(APPID))
    assert errcode(await raw(emu, "submit_audit", body, token=token)) == expected
