"""The privacy endpoints (WeChat's 隐私设置 docs): wire shape, the docs' sample answers,
and every validation rule, against the fake transport."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.common import refused
from tests.support.core import APPID, TOKEN, FakeService, make_client
from wxa_async.models import OwnerSetting, PrivacySetting, PrivacySettingResponse

OWNER = {"contact_email": "dev@example.com", "notice_method": "通过弹窗提醒用户"}


async def sent(name: str, *args: Any, answer: Any = None, **kwargs: Any) -> tuple[Any, Any]:
    service = FakeService()
    if answer is not None:
        service.reply(answer)
    async with make_client(service) as client:
        result = await getattr(client.app(APPID), name)(*args, **kwargs)
    (request,) = service.requests
    return request, result


async def test_set_privacy_setting_sends_the_docs_body() -> None:
    request, _ = await sent(
        "set_privacy_setting",
        {**OWNER, "ext_file_media_id": "mid", "store_expire_timestamp": "用户注销后"},
        setting_list=[{"privacy_key": "Location", "privacy_text": "展示附近门店"},
                      PrivacySetting("PhoneNumber", "登录")],
        privacy_ver=2,
        sdk_privacy_info_list=[{"sdk_name": "地图 SDK", "sdk_biz_name": "某公司",
                                "sdk_list": [{"privacy_key": "Location",
                                              "privacy_text": "定位"}]}],
    )
    assert request.method == "POST"
    assert request.url.endswith("/cgi-bin/component/setprivacysetting")
    assert dict(request.params) == {"access_token": TOKEN}
    assert json.loads(request.content) == {
        "owner_setting": {"contact_email": "dev@example.com", "ext_file_media_id": "mid",
                          "notice_method": "通过弹窗提醒用户",
                          "store_expire_timestamp": "用户注销后"},
        "setting_list": [{"privacy_key": "Location", "privacy_text": "展示附近门店"},
                         {"privacy_key": "PhoneNumber", "privacy_text": "登录"}],
        "privacy_ver": 2,
        "sdk_privacy_info_list": [{"sdk_name": "地图 SDK", "sdk_biz_name": "某公司",
                                   "sdk_list": [{"privacy_key": "Location",
                                                 "privacy_text": "定位"}]}],
    }
    assert "null" not in request.content.decode()


async def test_the_live_version_takes_owner_setting_alone() -> None:
    request, _ = await sent("set_privacy_setting", OwnerSetting(**OWNER), privacy_ver=1)
    assert json.loads(request.content) == {"owner_setting": OWNER, "privacy_ver": 1}


@pytest.mark.parametrize(
    ("args", "kwargs", "errcode"),
    [
        (({"contact_email": "a@b.c"},), {}, 86069),  # notice_method missing
        (({"notice_method": "弹窗"},), {}, 86069),  # no contact at all
        (({"notice_method": "弹窗", "contact_qq": ""},), {}, 86069),  # an empty one
        (({**OWNER, "contact_wechat": "x"},), {}, 86069),  # unknown field
        (({**OWNER, "notice_method": ""},), {}, 86069),
        (("not an object",), {}, 86069),
        ((OWNER,), {"privacy_ver": 3}, None),
        ((OWNER,), {"privacy_ver": True}, None),
        ((OWNER,), {"privacy_ver": 1, "setting_list": []}, None),
        ((OWNER,), {"setting_list": [{"privacy_key": "Location"}]}, None),
        ((OWNER,), {"setting_list": [{"privacy_key": "", "privacy_text": "t"}]}, None),
        ((OWNER,), {"setting_list": {"privacy_key": "Location", "privacy_text": "t"}}, None),
        ((OWNER,), {"sdk_privacy_info_list": [{"sdk_name": "x"}]}, None),
    ],
)
async def test_set_privacy_setting_validation(
    args: tuple[Any, ...], kwargs: dict[str, Any], errcode: int | None
) -> None:
    error = await refused("set_privacy_setting", *args, **kwargs)
    assert error.errcode == errcode


GET_SAMPLE = {  # the example answer of WeChat's getprivacysetting docs, shortened
    "errcode": 0, "errmsg": "ok", "code_exist": 1,
    "privacy_list": ["Album", "AlbumWriteOnly", "Camera", "Location", "PhoneNumber"],
    "setting_list": [{"privacy_key": "Camera", "privacy_text": "扫描二维码",
                      "privacy_label": "摄像头"}],
    "update_time": 1645115770,
    "owner_setting": {"contact_phone": "", "contact_email": "", "contact_qq": "",
                      "contact_weixin": "weixinhao", "store_expire_timestamp": "",
                      "ext_file_media_id": "", "notice_method": "通过弹窗"},
    "privacy_desc": {"privacy_desc_list": [
        {"privacy_key": "UserInfo", "privacy_desc": "用户信息（微信昵称、头像）"}]},
    "sdk_privacy_info_list": [{"sdk_name": "x", "sdk_biz_name": "y", "sdk_list": [
        {"privacy_key": "Location", "privacy_text": "定位"}]}],
}


async def test_get_privacy_setting_wire_and_answer() -> None:
    request, result = await sent("get_privacy_setting", answer=GET_SAMPLE)
    assert request.method == "POST" and request.content == b"{}"
    assert request.url.endswith("/cgi-bin/component/getprivacysetting")
    assert isinstance(result, PrivacySettingResponse)
    assert result.code_exist == 1 and result.privacy_list[3] == "Location"
    assert result.setting_list[0].privacy_label == "摄像头"
    assert result.owner_setting.contact_weixin == "weixinhao"
    assert result.privacy_desc.privacy_desc_list[0].privacy_key == "UserInfo"
    assert result.sdk_privacy_info_list[0].sdk_list[0].privacy_text == "定位"
    request, _ = await sent("get_privacy_setting", privacy_ver=1)
    assert request.content == b'{"privacy_ver":1}'
    await refused("get_privacy_setting", privacy_ver=0)


async def test_what_was_read_back_can_be_sent_again() -> None:
    sample = {**GET_SAMPLE, "owner_setting": {"contact_weixin": "w", "notice_method": "弹窗"}}
    _, result = await sent("get_privacy_setting", answer=sample)
    request, _ = await sent("set_privacy_setting", result.owner_setting, privacy_ver=1)
    assert json.loads(request.content)["owner_setting"] == {"contact_weixin": "w",
                                                            "notice_method": "弹窗"}


INTERFACE_SAMPLE = {
    "errcode": 0, "errmsg": "ok",
    "interface_list": [{
        "api_name": "wx.chooseAddress", "api_ch_name": "获取用户收货地址",
        "api_desc": "调起用户编辑收货地址原生界面", "apply_time": 0, "status": 1,
        "audit_id": 0, "fail_reason": "",
        "api_link": "https://developers.weixin.qq.com/miniprogram/dev/api/open-api/address/wx.chooseAddress.html",
        "group_name": "地理位置",
    }, {"api_name": "wx.getLocation", "status": 3, "audit_id": "428871"}],
}


async def test_get_privacy_interface_wire_and_answer() -> None:
    request, result = await sent("get_privacy_interface", answer=INTERFACE_SAMPLE)
    assert request.method == "GET" and request.content is None
    assert request.url.endswith("/wxa/security/get_privacy_interface")
    first, second = result.interface_list
    assert (first.api_name, first.status, first.group_name) == ("wx.chooseAddress", 1, "地理位置")
    assert (second.status, second.audit_id, second.api_ch_name) == (3, 428871, "")


async def test_apply_privacy_interface_wire_and_answer() -> None:
    request, result = await sent(
        "apply_privacy_interface", "wx.getLocation", "展示附近门店",
        url_list=["https://example.com/store"], pic_list=["pic1"], video_list=["vid1"],
        answer={"errcode": 0, "errmsg": "ok", "audit_id": 428871},
    )
    assert json.loads(request.content) == {
        "api_name": "wx.getLocation", "content": "展示附近门店",
        "url_list": ["https://example.com/store"], "pic_list": ["pic1"], "video_list": ["vid1"],
    }
    assert result.audit_id == 428871
    request, _ = await sent("apply_privacy_interface", "wx.getLocation", "c")
    assert json.loads(request.content) == {"api_name": "wx.getLocation", "content": "c"}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"api_name": "", "content": "c"},
        {"api_name": "wx.getLocation", "content": " "},
        {"api_name": "wx.getLocation", "content": "c", "pic_list": "pic1"},
        {"api_name": "wx.getLocation", "content": "c", "url_list": [3]},
        {"api_name": "wx.getLocation", "content": "c", "video_list": [""]},
    ],
)
async def test_apply_privacy_interface_validation(kwargs: dict[str, Any]) -> None:
    await refused("apply_privacy_interface", **kwargs)
