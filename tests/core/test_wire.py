"""What goes on the wire for every endpoint: method, path, token, body."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.core import (
    APPID,
    BASE_URL,
    SEED_QRCODE_JUMP_FILE,
    TOKEN,
    VALID_ARGS,
    FakeService,
    call,
    make_client,
)
from wxa_async import ENDPOINTS, StaticTokenProvider, WxaClient
from wxa_async.models import AuditItem

# WeChat's documented wire, written out independently of the SDK's own table:
# name -> (HTTP method, path, JSON body for VALID_ARGS or None for no body).
EXPECTED: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "commit": (
        "POST",
        "wxa/commit",
        {
            "template_id": 0,
            "ext_json": '{"extAppid":"","ext":{"attr1":"value1"}}',
            "user_version": "V1.0",
            "user_desc": "test",
        },
    ),
    "get_qrcode": ("GET", "wxa/get_qrcode", None),
    "get_category": ("GET", "wxa/get_category", None),
    "get_page": ("GET", "wxa/get_page", None),
    "submit_audit": (
        "POST",
        "wxa/submit_audit",
        {"item_list": [{"address": "index", "tag": "学习 生活", "title": "首页"}]},
    ),
    "get_audit_status": ("POST", "wxa/get_auditstatus", {"auditid": 1234567}),
    "get_latest_audit_status": ("GET", "wxa/get_latest_auditstatus", None),
    "release": ("POST", "wxa/release", {}),
    "change_visit_status": ("POST", "wxa/change_visitstatus", {"action": "close"}),
    "revert_code_release": ("GET", "wxa/revertcoderelease", None),
    "get_support_version": ("POST", "cgi-bin/wxopen/getweappsupportversion", {}),
    "set_support_version": (
        "POST", "cgi-bin/wxopen/setweappsupportversion", {"version": "1.0.0"}
    ),
    "add_qrcode_jump": (
        "POST",
        "cgi-bin/wxopen/qrcodejumpadd",
        # WeChat's docs send permit_sub_rule and open_version as strings, is_edit as a number.
        {
            "prefix": "https://weixin.qq.com/qrcodejump",
            "permit_sub_rule": "1",
            "path": "pages/index/index",
            "open_version": "1",
            "is_edit": 0,
        },
    ),
    "get_qrcode_jump": ("POST", "cgi-bin/wxopen/qrcodejumpget", {}),
    "download_qrcode_jump_file": ("POST", "cgi-bin/wxopen/qrcodejumpdownload", {}),
    "delete_qrcode_jump": (
        "POST", "cgi-bin/wxopen/qrcodejumpdelete", {"prefix": "https://weixin.qq.com/qrcodejump"}
    ),
    "publish_qrcode_jump": (
        "POST", "cgi-bin/wxopen/qrcodejumppublish", {"prefix": "https://weixin.qq.com/qrcodejump"}
    ),
    "undo_code_audit": ("GET", "wxa/undocodeaudit", None),
    "gray_release": ("POST", "wxa/grayrelease", {"gray_percentage": 1}),
    "revert_gray_release": ("GET", "wxa/revertgrayrelease", None),
    "get_gray_release_plan": ("GET", "wxa/getgrayreleaseplan", None),
    "speedup_audit": ("POST", "wxa/speedupaudit", {"auditid": 1234567}),
    "query_quota": ("GET", "wxa/queryquota", None),
    "get_code_privacy_info": ("GET", "wxa/security/get_code_privacy_info", None),
    "get_version_info": ("POST", "wxa/getversioninfo", {}),
    # GET with a fixed query field: checked in tests/api/test_code_endpoints.py.
    "get_history_version": ("GET", "wxa/revertcoderelease", None),
    "set_privacy_setting": (
        "POST", "cgi-bin/component/setprivacysetting",
        {"owner_setting": {"contact_email": "dev@example.com", "notice_method": "弹窗"},
         "setting_list": [{"privacy_key": "Location", "privacy_text": "展示附近门店"}]},
    ),
    "get_privacy_setting": ("POST", "cgi-bin/component/getprivacysetting", {}),
    "get_privacy_interface": ("GET", "wxa/security/get_privacy_interface", None),
    "apply_privacy_interface": (
        "POST", "wxa/security/apply_privacy_interface",
        {"api_name": "wx.getLocation", "content": "展示附近门店"},
    ),
}
# Uploads send a multipart body: checked byte for byte in tests/api/test_uploads.py.
EXPECTED["upload_media"] = ("POST", "wxa/uploadmedia", "multipart")  # type: ignore[assignment]
EXPECTED["upload_privacy_ext_file"] = (  # type: ignore[assignment]
    "POST", "cgi-bin/component/uploadprivacyextfile", "multipart")
# Fixed query fields an endpoint always sends besides the token.
FIXED_QUERY = {"get_history_version": {"action": "get_history_version"}}


def test_the_table_has_exactly_the_issues_endpoints() -> None:
    assert sorted(e.name for e in ENDPOINTS) == sorted(EXPECTED)
    assert sorted(VALID_ARGS) == sorted(EXPECTED)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
async def test_every_table_entry_has_the_issues_wire_shape(endpoint: Any) -> None:
    method, path, body = EXPECTED[endpoint.name]  # KeyError: an entry nobody checks
    service = FakeService()
    if endpoint.binary:
        service.reply(b"\xff\xd8image")
    async with make_client(service) as client:
        await call(client, endpoint.name)

    assert endpoint.method == method and endpoint.path == path
    (request,) = service.requests
    assert request.method == method
    assert request.url == f"{BASE_URL}/{path}"  # no query string in the URL itself
    assert request.params["access_token"] == TOKEN
    fixed = FIXED_QUERY.get(endpoint.name, {})
    if body == "multipart":
        assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
        assert dict(request.params) == {"access_token": TOKEN}
    elif body is None:
        assert request.content is None
        assert dict(request.params) == {**fixed, "access_token": TOKEN}
        assert "Content-Type" not in request.headers
    else:
        assert request.content is not None
        assert json.loads(request.content) == body
        assert request.headers["Content-Type"].startswith("application/json")
        assert dict(request.params) == {"access_token": TOKEN}


@pytest.mark.parametrize(
    "name",
    ["release", "get_support_version", "get_qrcode_jump", "download_qrcode_jump_file",
     "get_version_info"],
)
async def test_argumentless_posts_send_an_empty_object(name: str) -> None:
    service = FakeService()
    async with make_client(service) as client:
        await call(client, name)
    assert service.requests[0].method == "POST"
    assert service.requests[0].content == b"{}"


async def test_ext_json_dict_is_serialised_as_utf8_text() -> None:
    service = FakeService()
    ext = {"extAppid": "wx1", "ext": {"名称": "小程序"}, "pages": ["index"]}
    async with make_client(service) as client:
        await client.app(APPID).commit(
            template_id=7, ext_json=ext, user_version="V1.0", user_desc="测试版本"
        )
    content = service.requests[0].content
    assert content is not None
    assert b"\\u" not in content  # no \u escapes anywhere, the nested string included
    assert "测试版本".encode() in content
    body = json.loads(content)
    assert isinstance(body["ext_json"], str)
    assert json.loads(body["ext_json"]) == ext
    assert "小程序" in body["ext_json"]
    assert body["user_desc"] == "测试版本" and body["template_id"] == 7


async def test_ext_json_string_is_passed_through_unchanged() -> None:
    service = FakeService()
    ext = '{ "extAppid" : "wx1",\n  "ext": {"k": "值"} }'  # odd spacing kept as is
    async with make_client(service) as client:
        await client.app(APPID).commit(
            template_id=1, ext_json=ext, user_version="V1", user_desc="d"
        )
    assert service.body_of()["ext_json"] == ext


SEED_ITEMS: list[dict[str, Any]] = [
    {
        "address": "index",
        "tag": "学习 生活",
        "first_class": "文娱",
        "second_class": "资讯",
        "first_id": 1,
        "second_id": 2,
        "title": "首页",
    },
    {
        "address": "page/logs/logs",
        "tag": "学习 工作",
        "first_class": "教育",
        "second_class": "学历教育",
        "third_class": "高等",
        "first_id": 3,
        "second_id": 4,
        "third_id": 5,
        "title": "日志",
    },
]


async def test_submit_audit_items_as_dicts_or_models_send_the_seed_body() -> None:
    service = FakeService()
    async with make_client(service) as client:
        app = client.app(APPID)
        await app.submit_audit(item_list=SEED_ITEMS)
        await app.submit_audit(item_list=[AuditItem(**item) for item in SEED_ITEMS])
        await app.submit_audit(item_list=[SEED_ITEMS[0], AuditItem(**SEED_ITEMS[1])])
    expected = {"item_list": SEED_ITEMS}
    assert [service.body_of(i) for i in range(3)] == [expected] * 3
    # Absent fields are omitted, never null: the first item has no third_class/third_id.
    content = service.requests[0].content
    assert content is not None and b"null" not in content
    assert "third_class" not in service.body_of(0)["item_list"][0]
    assert "学习 生活".encode() in content


async def test_add_qrcode_jump_sends_the_seed_example() -> None:
    service = FakeService()
    async with make_client(service) as client:
        await client.app(APPID).add_qrcode_jump(
            prefix="https://weixin.qq.com/qrcodejump",
            permit_sub_rule=1,
            path="pages/index/index",
            open_version=1,
            debug_url=["https://weixin.qq.com/qrcodejump?a=1",
                       "https://weixin.qq.com/qrcodejump?a=2"],
            is_edit=0,
        )
    assert service.body_of() == {
        "prefix": "https://weixin.qq.com/qrcodejump",
        "permit_sub_rule": "1",
        "path": "pages/index/index",
        "open_version": "1",
        "debug_url": ["https://weixin.qq.com/qrcodejump?a=1",
                      "https://weixin.qq.com/qrcodejump?a=2"],
        "is_edit": 0,
    }


async def test_add_qrcode_jump_without_debug_url_omits_it() -> None:
    service = FakeService()
    async with make_client(service) as client:
        await call(client, "add_qrcode_jump", is_edit=1, permit_sub_rule=2, open_version=3)
    body = service.body_of()
    assert "debug_url" not in body
    assert (body["is_edit"], body["permit_sub_rule"], body["open_version"]) == (1, "2", "3")


async def test_get_qrcode_path_is_a_raw_query_parameter_for_the_transport_to_encode() -> None:
    service = FakeService().reply(b"\xff\xd8a", b"\xff\xd8b")
    async with make_client(service) as client:
        app = client.app(APPID)
        await app.get_qrcode(path="page/index?action=1")
        await app.get_qrcode()
    with_path, without_path = service.requests
    # Not pre-encoded here: the transport encodes params exactly once (checked over a
    # real socket in test_httpx_transport).
    assert dict(with_path.params) == {"path": "page/index?action=1", "access_token": TOKEN}
    assert dict(without_path.params) == {"access_token": TOKEN}
    assert "?" not in with_path.url and with_path.content is None


async def test_base_url_of_an_emulator_is_joined_without_double_slashes() -> None:
    service = FakeService()
    client = WxaClient(
        token_provider=StaticTokenProvider({APPID: TOKEN}),
        base_url="http://127.0.0.1:8765/prefix/",
        transport=service.transport,
    )
    async with client:
        await client.app(APPID).get_page()
    assert service.requests[0].url == "http://127.0.0.1:8765/prefix/wxa/get_page"


async def test_each_app_handle_uses_its_own_token() -> None:
    service = FakeService()
    provider = StaticTokenProvider({"wxA": "token-of-a", "wxB": "token-of-b"})
    async with WxaClient(token_provider=provider, transport=service.transport) as client:
        await client.app("wxA").get_page()
        await client.app("wxB").get_page()
        assert client.app("wxA") is client.app("wxA")
    assert [r.params["access_token"] for r in service.requests] == ["token-of-a", "token-of-b"]


async def test_download_qrcode_jump_file_answer_is_parsed_from_a_post() -> None:
    service = FakeService().reply(SEED_QRCODE_JUMP_FILE)
    async with make_client(service) as client:
        result = await client.app(APPID).download_qrcode_jump_file()
    assert result.file_name == "xCw1ZEPnO0.txt"
    assert service.requests[0].method == "POST"
