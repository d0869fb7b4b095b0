"""Handlers of the privacy table (隐私设置) and the privacy scan of committed code."""

from __future__ import annotations

from typing import Any

import attrs

from ...models import (
    ApplyPrivacyInterfaceResponse,
    CodePrivacyInfoResponse,
    OwnerSettingInfo,
    PrivacyDesc,
    PrivacyDescItem,
    PrivacyInterface,
    PrivacyInterfaceListResponse,
    PrivacySettingEntry,
    PrivacySettingResponse,
    SdkPrivacyInfoEntry,
    WxaResponse,
)
from ._answers import _Reply
from ._core import EmulatorCore
from ._state import AppState, PrivacyConfig

#: privacy_key -> what it means (privacy_desc), after WeChat's list of user data types
PRIVACY_KEYS: dict[str, str] = {
    "UserInfo": "用户信息（微信昵称、头像）",
    "Location": "位置信息",
    "Address": "地址",
    "Invoice": "发票信息",
    "RunData": "微信运动数据",
    "Record": "麦克风",
    "Album": "选中的照片或视频信息",
    "Camera": "摄像头",
    "PhoneNumber": "手机号码",
    "Contact": "通讯录（仅写入）权限",
    "DeviceInfo": "设备信息",
    "EXIDNumber": "身份证号码",
    "EXOrderInfo": "订单信息",
    "AlbumWriteOnly": "相册（仅写入）权限",
    "BlueTooth": "蓝牙",
    "CalendarWriteOnly": "日历（仅写入）权限",
    "Clipboard": "剪切板",
    "MessageFile": "选中的文件",
    "ChooseLocation": "选择的位置信息",
}

#: the privacy interfaces that need an application before use: name -> Chinese name
INTERFACES: dict[str, str] = {
    "wx.getLocation": "获取当前的地理位置、速度",
    "wx.onLocationChange": "监听实时地理位置变化事件",
    "wx.startLocationUpdate": "接收位置消息（前台）",
    "wx.startLocationUpdateBackground": "接收位置消息（前后台）",
    "wx.chooseAddress": "获取用户收货地址",
    "wx.choosePoi": "打开POI列表选择位置",
    "wx.chooseLocation": "打开地图选择位置",
}
_APPLYING = 3  # 申请中; 1 is 待申请开通 (not applied for yet)


class PrivacyHandlers(EmulatorCore):
    """Privacy (隐私设置): guides per version, the scan, interface applications."""

    def _undeclared_privacy(self, app: AppState) -> list[str]:
        """Privacy keys the committed code uses that the guide an audit would see
        (the development version, else the live one) does not declare."""
        if app.trial is None:
            return []
        guide = app.privacy_dev or app.privacy_live
        declared = guide.settings if guide is not None else {}
        return [key for key in app.trial.privacy_keys if key not in declared]

    def _op_get_code_privacy_info(self, app: AppState, req: Any) -> WxaResponse:
        if app.trial is None:
            raise _Reply(86001)
        if self.clock.now() < app.privacy_scan_until:
            raise _Reply(61039)
        return CodePrivacyInfoResponse(without_conf_list=self._undeclared_privacy(app))

    def _op_set_privacy_setting(self, app: AppState, req: Any) -> WxaResponse:
        owner = {k: v for k, v in attrs.asdict(req.owner_setting).items() if v is not None}
        media_id = owner.get("ext_file_media_id")
        if media_id is not None and media_id not in self.media:
            raise _Reply(47001, "ext_file_media_id is unknown")
        now = self.clock.time()
        if req.privacy_ver == 1:
            live = app.privacy_live
            if live is None:
                raise _Reply(86074)
            # Only owner_setting changes on the live version, its ext file excepted.
            owner.pop("ext_file_media_id", None)
            kept = live.owner_setting.get("ext_file_media_id")
            live.owner_setting = owner | ({"ext_file_media_id": kept} if kept else {})
            live.update_time = now
            return WxaResponse()
        settings: dict[str, str] = {}
        for item in req.setting_list or ():
            if item.privacy_key not in PRIVACY_KEYS:
                raise _Reply(86071)
            settings[item.privacy_key] = item.privacy_text
        sdks = [attrs.asdict(sdk) for sdk in req.sdk_privacy_info_list or ()]
        for sdk in req.sdk_privacy_info_list or ():
            if any(entry.privacy_key not in PRIVACY_KEYS for entry in sdk.sdk_list):
                raise _Reply(86071)
        app.privacy_dev = PrivacyConfig(owner, settings, sdks, now)
        return WxaResponse()

    def _op_get_privacy_setting(self, app: AppState, req: Any) -> WxaResponse:
        guide = app.privacy_live if req.privacy_ver == 1 else (
            app.privacy_dev or app.privacy_live)
        trial = app.trial
        settings = guide.settings if guide else {}
        return PrivacySettingResponse(
            code_exist=int(trial is not None),
            privacy_list=list(trial.privacy_keys) if trial else [],
            setting_list=[PrivacySettingEntry(key, text, PRIVACY_KEYS.get(key))
                          for key, text in settings.items()],
            update_time=guide.update_time if guide else 0,
            owner_setting=OwnerSettingInfo(**guide.owner_setting) if guide else
            OwnerSettingInfo(),
            privacy_desc=PrivacyDesc([PrivacyDescItem(key, desc)
                                      for key, desc in PRIVACY_KEYS.items()]),
            sdk_privacy_info_list=[
                SdkPrivacyInfoEntry(str(sdk["sdk_name"]), str(sdk["sdk_biz_name"]), [
                    PrivacySettingEntry(e["privacy_key"], e["privacy_text"])
                    for e in sdk["sdk_list"]  # type: ignore[attr-defined]
                ]) for sdk in (guide.sdk_privacy_info_list if guide else [])
            ],
        )

    def _op_get_privacy_interface(self, app: AppState, req: Any) -> WxaResponse:
        interfaces = []
        for name, chinese in INTERFACES.items():
            status, audit_id = app.interfaces.get(name, (1, 0))
            interfaces.append(PrivacyInterface(
                api_name=name, api_ch_name=chinese, api_desc=chinese,
                apply_time=0 if not audit_id else self.clock.time(), status=status,
                audit_id=audit_id, group_name="地理位置",
                api_link=f"https://developers.weixin.qq.com/miniprogram/dev/api/{name}.html",
            ))
        return PrivacyInterfaceListResponse(interface_list=interfaces)

    def _op_apply_privacy_interface(self, app: AppState, req: Any) -> WxaResponse:
        if req.api_name not in INTERFACES:
            raise _Reply(85058)
        audit_id = self._next_auditid
        self._next_auditid += 1
        app.interfaces[req.api_name] = (_APPLYING, audit_id)
        return ApplyPrivacyInterfaceResponse(audit_id=audit_id)
