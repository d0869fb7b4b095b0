"""The current code-management endpoints (WeChat's 代码管理 docs): wire shape, parsing of
the docs' sample answers, and every validation rule, against the fake transport."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.common import refused
from tests.support.core import APPID, TOKEN, FakeService, make_client
from wxa_async import WxaPrivacyScanPendingError, WxaSystemBusyError
from wxa_async.models import (
    AuditItem,
    AuditStatusResponse,
    LatestAuditStatusResponse,
    PreviewInfo,
    UgcDeclare,
)

BUSY = {"errcode": -1, "errmsg": "system error"}
ITEM: dict[str, Any] = {
    "address": "index", "tag": "学习 生活", "first_class": "文娱", "second_class": "资讯",
    "first_id": 1, "second_id": 2, "title": "首页",
}


async def sent_body(name: str, *args: Any, **kwargs: Any) -> Any:
    service = FakeService()
    async with make_client(service) as client:
        await getattr(client.app(APPID), name)(*args, **kwargs)
    (request,) = service.requests
    return service.body_of() if request.content is not None else None


# -- submit_audit ------------------------------------------------------------------------


async def test_submit_audit_sends_every_field_of_the_current_docs() -> None:
    body = await sent_body(
        "submit_audit", [ITEM],
        feedback_info="请审核人员注意登录流程", feedback_stuff=["mid1", "mid2"],
        version_desc="新增门店列表",
        preview_info={"video_id_list": ["vid1"], "pic_id_list": ["pic1", "pic2"]},
        ugc_declare={"scene": [1, 2], "other_scene_desc": "其他", "method": [1],
                     "has_audit_team": 1, "audit_desc": "人工审核"},
        privacy_api_not_use=True, order_path="pages/order/index",
    )
    assert body == {
        "item_list": [ITEM],
        "feedback_info": "请审核人员注意登录流程",
        "feedback_stuff": "mid1|mid2",  # one "|"-joined string on the wire
        "version_desc": "新增门店列表",
        "preview_info": {"video_id_list": ["vid1"], "pic_id_list": ["pic1", "pic2"]},
        "ugc_declare": {"scene": [1, 2], "other_scene_desc": "其他", "method": [1],
                        "has_audit_team": 1, "audit_desc": "人工审核"},
        "privacy_api_not_use": True,  # a JSON boolean
        "order_path": "pages/order/index",
    }


async def test_submit_audit_without_items_sends_an_empty_object() -> None:
    assert await sent_body("submit_audit") == {}
    assert await sent_body("submit_audit", privacy_api_not_use=False) == {
        "privacy_api_not_use": False
    }


async def test_models_and_dicts_send_the_same_nested_objects() -> None:
    as_models = await sent_body(
        "submit_audit", [AuditItem(**ITEM)],
        preview_info=PreviewInfo(pic_id_list=("p",)),
        ugc_declare=UgcDeclare(scene=(0,), has_audit_team=0),
    )
    as_dicts = await sent_body(
        "submit_audit", [ITEM], preview_info={"pic_id_list": ["p"]},
        ugc_declare={"scene": [0], "has_audit_team": 0},
    )
    assert as_models == as_dicts
    assert as_dicts["ugc_declare"] == {"scene": [0], "method": [], "has_audit_team": 0}


async def test_feedback_stuff_string_is_passed_through() -> None:
    body = await sent_body("submit_audit", feedback_stuff="a|b|c")
    assert body == {"feedback_stuff": "a|b|c"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"feedback_stuff": ["1", "2", "3", "4", "5", "6"]}, "feedback_stuff"),
        ({"feedback_stuff": ["a|b"]}, "feedback_stuff"),
        ({"feedback_stuff": ["a", ""]}, "feedback_stuff"),
        ({"feedback_stuff": [1]}, "feedback_stuff"),
        ({"feedback_info": "字" * 201}, "feedback_info"),
        ({"preview_info": {"pic_id_list": ["p"], "pics": []}}, "preview_info"),
        ({"preview_info": {"pic_id_list": "p"}}, "preview_info"),
        ({"preview_info": ["p"]}, "preview_info"),
        ({"ugc_declare": {"scene": ["1"]}}, "ugc_declare"),
        ({"ugc_declare": {"has_audit_team": True}}, "ugc_declare"),
        ({"privacy_api_not_use": 1}, "privacy_api_not_use"),
        ({"privacy_api_not_use": "true"}, "privacy_api_not_use"),
        ({"item_list": []}, "item_list"),
        ({"item_list": [ITEM] * 6}, "item_list"),
        ({"version_desc": 3}, "version_desc"),
        ({"order_path": 3}, "order_path"),
    ],
)
async def test_submit_audit_validation(kwargs: dict[str, Any], field: str) -> None:
    error = await refused("submit_audit", **kwargs)
    assert error.field == field and str(error).startswith(field)


async def test_submit_audit_limits_are_inclusive() -> None:
    body = await sent_body("submit_audit", feedback_info="字" * 200,
                           feedback_stuff=["1", "2", "3", "4", "5"])
    assert body["feedback_stuff"] == "1|2|3|4|5"


async def test_validation_errors_carry_the_services_errcode_from_field_metadata() -> None:
    assert (await refused("submit_audit", [{**ITEM, "title": "长" * 33}])).errcode == 85011
    assert (await refused("submit_audit", [{**ITEM, "tag": "x" * 21}])).errcode == 85006
    assert (await refused("submit_audit", [{"adress": "index"}])).errcode == 85010
    assert (await refused("submit_audit", [ITEM] * 6)).errcode == 85023
    assert (await refused("submit_audit", preview_info={"pic_id_list": [""]})).errcode == 85092
    assert (await refused("gray_release", 101)).errcode == 85081
    # No documented errcode for it: the emulator answers 47001.
    assert (await refused("submit_audit", feedback_info="x" * 201)).errcode is None


async def test_submit_audit_is_still_never_retried() -> None:
    service = FakeService().reply(BUSY, {"errcode": 0, "errmsg": "ok", "auditid": 1})
    async with make_client(service) as client:
        with pytest.raises(WxaSystemBusyError):
            await client.app(APPID).submit_audit(privacy_api_not_use=True)
    assert len(service.requests) == 1


async def test_a_privacy_scan_still_running_is_its_own_error_and_never_retried() -> None:
    pending = {"errcode": 61039, "errmsg": "privacy check not finished"}
    service = FakeService().reply(pending, pending, {"errcode": 0, "errmsg": "ok"})
    async with make_client(service, max_retries=5) as client:
        app = client.app(APPID)
        with pytest.raises(WxaPrivacyScanPendingError) as caught:
            await app.submit_audit([ITEM])
        with pytest.raises(WxaPrivacyScanPendingError):
            await app.get_code_privacy_info()
        assert client.retry_counts == {}
    assert len(service.requests) == 2
    assert caught.value.errcode == 61039 and "privacy scan" in caught.value.description


# -- version history and rollback ----------------------------------------------------------

HISTORY_SAMPLE = {  # shaped like the example answer of WeChat's docs
    "errcode": 0, "errmsg": "ok",
    "version_list": [
        {"app_version": 2, "user_version": "1.1.0", "user_desc": "门店列表",
         "commit_time": 1652841285},
        {"app_version": 1, "user_version": "1.0.0", "user_desc": "首发", "commit_time": 1652243463},
    ],
}


async def test_get_history_version_is_a_get_with_its_action_in_the_query() -> None:
    service = FakeService().reply(HISTORY_SAMPLE)
    async with make_client(service) as client:
        history = await client.app(APPID).get_history_version()
    (request,) = service.requests
    assert request.method == "GET" and request.url.endswith("/wxa/revertcoderelease")
    assert dict(request.params) == {"action": "get_history_version", "access_token": TOKEN}
    assert request.content is None
    assert [(v.app_version, v.user_version, v.commit_time) for v in history.version_list] == [
        (2, "1.1.0", 1652841285), (1, "1.0.0", 1652243463)]


async def test_get_history_version_is_a_retried_read() -> None:
    service = FakeService().reply(BUSY, HISTORY_SAMPLE)
    async with make_client(service) as client:
        history = await client.app(APPID).get_history_version()
    assert len(history.version_list) == 2 and len(service.requests) == 2


async def test_revert_code_release_to_a_chosen_version() -> None:
    service = FakeService()
    async with make_client(service) as client:
        app = client.app(APPID)
        await app.revert_code_release(app_version=3)
        await app.revert_code_release()
    chosen, previous = service.requests
    assert dict(chosen.params) == {"app_version": "3", "access_token": TOKEN}
    assert dict(previous.params) == {"access_token": TOKEN}
    assert chosen.method == previous.method == "GET" and chosen.content is None


@pytest.mark.parametrize("app_version", [0, -1, "3", 1.5, True])
async def test_revert_code_release_validation(app_version: Any) -> None:
    error = await refused("revert_code_release", app_version=app_version)
    assert error.field == "app_version"


async def test_revert_code_release_is_never_retried() -> None:
    service = FakeService().reply(BUSY, {"errcode": 0, "errmsg": "ok"})
    async with make_client(service, max_retries=5) as client:
        with pytest.raises(WxaSystemBusyError):
            await client.app(APPID).revert_code_release(app_version=2)
    assert len(service.requests) == 1


# -- gray release -------------------------------------------------------------------------


async def test_gray_release_flags_and_zero_percent() -> None:
    assert await sent_body("gray_release", 0, support_debuger_first=True) == {
        "gray_percentage": 0, "support_debuger_first": True}
    assert await sent_body("gray_release", 0, support_experiencer_first=True,
                           support_debuger_first=False) == {
        "gray_percentage": 0, "support_debuger_first": False,
        "support_experiencer_first": True}
    assert await sent_body("gray_release", 100) == {"gray_percentage": 100}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"gray_percentage": 0},
        {"gray_percentage": 0, "support_debuger_first": False},
        {"gray_percentage": -1, "support_debuger_first": True},
        {"gray_percentage": 101},
        {"gray_percentage": 10, "support_debuger_first": 1},
        {"gray_percentage": 10, "support_experiencer_first": "true"},
    ],
)
async def test_gray_release_validation(kwargs: dict[str, Any]) -> None:
    await refused("gray_release", **kwargs)


async def test_gray_release_plan_answer_has_the_two_flags() -> None:
    sample = {"errcode": 0, "errmsg": "ok", "gray_release_plan": {
        "status": 1, "create_timestamp": 1517553721, "gray_percentage": 8,
        "support_experiencer_first": True, "support_debuger_first": False}}
    service = FakeService().reply(sample, {"errcode": 0, "errmsg": "ok", "gray_release_plan": {
        "status": 0, "create_timestamp": 0, "gray_percentage": 0}})
    async with make_client(service) as client:
        plan = (await client.app(APPID).get_gray_release_plan()).gray_release_plan
        older = (await client.app(APPID).get_gray_release_plan()).gray_release_plan
    assert (plan.gray_percentage, plan.support_experiencer_first,
            plan.support_debuger_first) == (8, True, False)
    assert (older.support_experiencer_first, older.support_debuger_first) == (False, False)


# -- audit statuses -----------------------------------------------------------------------


async def test_audit_status_screenshot_in_either_spelling_becomes_a_tuple() -> None:
    service = FakeService().reply(
        {"errcode": 0, "errmsg": "ok", "status": 1, "reason": "帐号信息不合规范",
         "screenshot": "xxx|yyy|zzz"},
        {"errcode": 0, "errmsg": "ok", "auditid": "1234567", "status": 1,
         "reason": "帐号信息不合规范", "ScreenShot": "xxx|yyy|zzz", "user_version": "V1.5",
         "user_desc": "xxx", "submit_audit_time": 1234567},
        {"errcode": 0, "errmsg": "ok", "status": 4},
    )
    async with make_client(service) as client:
        app = client.app(APPID)
        status = await app.get_audit_status(auditid=1234567)
        latest = await app.get_latest_audit_status()
        delayed = await app.get_audit_status(auditid=1234567)
    assert isinstance(status, AuditStatusResponse)
    assert status.screenshot == latest.screenshot == ("xxx", "yyy", "zzz")
    assert isinstance(latest, LatestAuditStatusResponse)
    assert (latest.auditid, latest.user_version, latest.user_desc,
            latest.submit_audit_time) == (1234567, "V1.5", "xxx", 1234567)
    assert delayed.status == 4 and delayed.screenshot == ()
    assert latest.raw["ScreenShot"] == "xxx|yyy|zzz"  # the wire value stays reachable


@pytest.mark.parametrize("wire", ["", "a", "a||b|", None])
async def test_screenshot_edge_values(wire: Any) -> None:
    service = FakeService().reply({"errcode": 0, "errmsg": "ok", "status": 1, "screenshot": wire})
    async with make_client(service) as client:
        status = await client.app(APPID).get_audit_status(auditid=1)
    expected = {"": (), "a": ("a",), "a||b|": ("a", "b"), None: ()}[wire]
    assert status.screenshot == expected
