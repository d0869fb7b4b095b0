"""Parsing WeChat's sample answers into typed models."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.core import (
    OK,
    SEED_AUDIT_STATUS,
    SEED_CATEGORY,
    SEED_GRAY_RELEASE_PLAN,
    SEED_LATEST_AUDIT_STATUS,
    SEED_PAGE,
    SEED_QRCODE_JUMP,
    SEED_QRCODE_JUMP_FILE,
    SEED_SUBMIT_AUDIT,
    SEED_SUPPORT_VERSION,
    FakeService,
    call,
    json_response,
    make_client,
)
from wxa_async import WxaDecodeError, WxaTransportError
from wxa_async.models import (
    AuditStatusResponse,
    CategoryListResponse,
    ExpInfo,
    LatestAuditStatusResponse,
    QrcodeJumpRule,
    ReleaseInfo,
    WxaResponse,
)
from wxa_async.testing import BytesResponse


async def answer(name: str, payload: Any, **arguments: Any) -> Any:
    service = FakeService().reply(payload)
    async with make_client(service, max_retries=0) as client:
        return await call(client, name, **arguments)


async def test_category_list_of_the_seed() -> None:
    result = await answer("get_category", SEED_CATEGORY)
    assert isinstance(result, CategoryListResponse)
    first, second = result.category_list
    assert second.third_class == "高等"
    assert (second.first_class, second.second_class) == ("教育", "学历教育")
    assert (second.first_id, second.second_id, second.third_id) == (3, 4, 5)
    assert first.third_class is None and first.third_id is None
    assert first.first_class == "工具"
    assert result.errcode == 0 and result.errmsg == "ok"


async def test_page_list_of_the_seed() -> None:
    result = await answer("get_page", SEED_PAGE)
    assert result.page_list == ["index", "page/list", "page/detail"]


async def test_submit_audit_and_audit_status_of_the_seed() -> None:
    submitted = await answer("submit_audit", SEED_SUBMIT_AUDIT)
    assert submitted.auditid == 1234567
    status = await answer("get_audit_status", SEED_AUDIT_STATUS)
    assert isinstance(status, AuditStatusResponse)
    assert (status.status, status.reason) == (1, "帐号信息不合规范")


async def test_latest_audit_status_auditid_string_becomes_an_int() -> None:
    result = await answer("get_latest_audit_status", SEED_LATEST_AUDIT_STATUS)
    assert isinstance(result, LatestAuditStatusResponse)
    assert result.auditid == 1234567 and isinstance(result.auditid, int)
    assert result.status == 1 and result.reason == "帐号信息不合规范"
    # ... and an int is accepted as well, as other endpoints send it.
    again = await answer("get_latest_audit_status", {**SEED_LATEST_AUDIT_STATUS, "auditid": 42})
    assert again.auditid == 42


async def test_support_version_of_the_seed() -> None:
    result = await answer("get_support_version", SEED_SUPPORT_VERSION)
    assert result.now_version == "1.0.0"
    assert result.uv_info.items[0].version == "1.0.0"
    assert [i.version for i in result.uv_info.items] == ["1.0.0", "1.0.1", "1.1.0"]
    assert result.uv_info.items[2].percentage == 0


async def test_gray_release_plan_of_the_seed() -> None:
    result = await answer("get_gray_release_plan", SEED_GRAY_RELEASE_PLAN)
    plan = result.gray_release_plan
    assert (plan.status, plan.create_timestamp, plan.gray_percentage) == (1, 1517553721, 8)


async def test_qrcode_jump_rules_of_the_seed() -> None:
    result = await answer("get_qrcode_jump", SEED_QRCODE_JUMP)
    assert result.rule_list[0].debug_url[0] == "https://weixin.qq.com/qrcodejump?a=1"
    assert len(result.rule_list[0].debug_url) == 4
    assert isinstance(result.rule_list[1], QrcodeJumpRule)
    assert result.rule_list[1].prefix == "https://weixin.qq.com/qrcodejumptest"
    assert (result.list_size, result.qrcodejump_pub_quota, result.qrcodejump_open) == (2, 20, 0)


async def test_qrcode_jump_file_of_the_seed() -> None:
    result = await answer("download_qrcode_jump_file", SEED_QRCODE_JUMP_FILE)
    assert result.file_name == "xCw1ZEPnO0.txt"
    assert result.file_content == SEED_QRCODE_JUMP_FILE["file_content"]


async def test_newer_endpoints_parse() -> None:
    quota = await answer(
        "query_quota", {**OK, "rest": 9, "limit": 10, "speedup_rest": 1, "speedup_limit": 2}
    )
    assert (quota.rest, quota.limit, quota.speedup_rest, quota.speedup_limit) == (9, 10, 1, 2)
    privacy = await answer(
        "get_code_privacy_info",
        {**OK, "without_auth_list": ["wx.getLocation"], "without_conf_list": []},
    )
    assert privacy.without_auth_list == ["wx.getLocation"] and privacy.without_conf_list == []
    info = await answer(
        "get_version_info",
        {**OK, "exp_info": {"exp_time": 1, "exp_version": "1.0", "exp_desc": "试用"},
         "release_info": {"release_time": 2, "release_version": "0.9", "release_desc": "线上"}},
    )
    assert info.exp_info == ExpInfo(exp_time=1, exp_version="1.0", exp_desc="试用")
    assert info.release_info == ReleaseInfo(2, "0.9", "线上")
    empty = await answer("get_version_info", OK)
    assert empty.exp_info is None and empty.release_info is None


async def test_unknown_fields_never_break_parsing_and_stay_in_raw() -> None:
    payload = {
        **SEED_CATEGORY,
        "new_top_level": {"a": [1, 2]},
        "raw": "the service's own field called raw",
        "category_list": [
            {**SEED_CATEGORY["category_list"][1], "audit_status": 3, "extra": None}
        ],
    }
    result = await answer("get_category", payload)
    assert result.category_list[0].third_class == "高等"
    assert result.raw["new_top_level"] == {"a": [1, 2]}
    assert result.raw["raw"] == "the service's own field called raw"
    assert result.raw["category_list"][0]["audit_status"] == 3
    assert result.raw == payload


async def test_plain_ok_answers_are_wxa_responses_with_raw() -> None:
    result = await answer("release", {**OK, "rid": "abc"})
    assert type(result) is WxaResponse
    assert (result.errcode, result.errmsg, result.raw["rid"]) == (0, "ok", "abc")


async def test_answers_without_errcode_are_success() -> None:
    # WeChat's qrcodejumpget sample puts errcode last; some answers omit it entirely.
    result = await answer("get_page", {"page_list": ["index"]})
    assert result.page_list == ["index"] and result.errcode == 0


@pytest.mark.parametrize(
    ("name", "payload", "check"),
    [
        ("get_category", {**OK, "category_list": None}, lambda r: r.category_list == []),
        ("get_category", {**OK, "category_list": [{"first_class": None, "first_id": None}]},
         lambda r: r.category_list[0].first_class is None),
        ("get_gray_release_plan", {**OK, "gray_release_plan": {"status": None}},
         lambda r: r.gray_release_plan.status == 0),
        ("get_gray_release_plan", {**OK, "gray_release_plan": None},
         lambda r: r.gray_release_plan.status == 0),
        ("get_support_version", {**OK, "uv_info": {"items": None}},
         lambda r: r.uv_info.items == []),
        ("get_version_info", {**OK, "exp_info": None, "release_info": {"release_time": None}},
         lambda r: r.exp_info is None and r.release_info.release_time == 0),
        ("get_latest_audit_status", {**OK, "auditid": "1", "reason": None},
         lambda r: r.reason is None and r.auditid == 1),
    ],
    ids=["list", "in-list", "nested", "object", "items", "optional", "reason"],
)
async def test_nested_nulls_mean_absent(name: str, payload: dict[str, Any], check: Any) -> None:
    result = await answer(name, payload)
    assert check(result)
    assert result.raw == payload


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("get_page", {**OK, "page_list": "index"}),  # a string is not a list of pages
        ("get_page", {**OK, "page_list": {"index": 1}}),
        ("get_page", {**OK, "page_list": [1.5, {"a": 1}]}),
        ("get_category", {**OK, "category_list": [None]}),
        ("get_category", {**OK, "category_list": ["工具"]}),
        ("get_support_version", {**OK, "uv_info": "1.0.0"}),
        ("get_support_version", {**OK, "uv_info": []}),
        ("get_gray_release_plan", {**OK, "gray_release_plan": {"status": "running"}}),
        ("get_gray_release_plan", {**OK, "gray_release_plan": {"status": True}}),
        ("get_latest_audit_status", {**OK, "auditid": "12ab"}),
        ("get_version_info", {**OK, "exp_info": 5}),
        ("get_page", ["index"]),  # not an object at all
        ("get_page", "ok"),
        ("get_page", None),
    ],
)
async def test_wrong_shapes_raise_decode_errors(name: str, payload: Any) -> None:
    with pytest.raises(WxaDecodeError) as caught:
        await answer(name, payload)
    assert isinstance(caught.value, WxaTransportError)
    assert caught.value.endpoint == name


@pytest.mark.parametrize(
    "body", [b"<html>502 Bad Gateway</html>", b"", b"\xff\xfe\x00", b"[" * 100_000],
    ids=["html", "empty", "not-utf8", "deep"],
)
async def test_non_json_bodies_raise_decode_errors(body: bytes) -> None:
    response = BytesResponse(200, {"Content-Type": "text/html"}, body)
    with pytest.raises(WxaDecodeError, match="get_page"):
        await answer("get_page", response)


async def test_a_big_json_answer_is_read_completely_from_chunks() -> None:
    pages = [f"page/{i}" for i in range(20_000)]
    body = json_response({**OK, "page_list": pages})
    chunked = BytesResponse(200, body.headers, chunks=iter([await body.read()]))
    result = await answer("get_page", chunked)
    assert result.page_list == pages
