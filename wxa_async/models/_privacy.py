"""Models of the privacy endpoints (隐私设置): the privacy guide, the privacy interfaces.

Since 2022 an audit is refused unless the mini program's privacy guide declares every
privacy interface its code uses; these endpoints set and read that guide.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs

from ..errors import WxaValidationError
from ._base import (
    WxaRequest,
    WxaResponse,
    _build,
    _build_list,
    _one_of,
    _string_list,
    _text,
    _wire_object,
)

__all__ = [
    "ApplyPrivacyInterfaceRequest",
    "ApplyPrivacyInterfaceResponse",
    "GetPrivacySettingRequest",
    "OwnerSetting",
    "OwnerSettingInfo",
    "PrivacyDesc",
    "PrivacyDescItem",
    "PrivacyInterface",
    "PrivacyInterfaceListResponse",
    "PrivacySetting",
    "PrivacySettingEntry",
    "PrivacySettingResponse",
    "SdkPrivacyInfo",
    "SdkPrivacyInfoEntry",
    "SetPrivacySettingRequest",
]

_CONTACTS = ("contact_email", "contact_phone", "contact_qq", "contact_weixin")
_optional_text = _text(optional=True)


@attrs.frozen(kw_only=True)
class OwnerSetting:
    """Who collects the data (收集方): how users are told (``notice_method``) and at
    least one way to reach the developer."""

    contact_email: str | None = attrs.field(default=None, validator=_optional_text)
    contact_phone: str | None = attrs.field(default=None, validator=_optional_text)
    contact_qq: str | None = attrs.field(default=None, validator=_optional_text)
    contact_weixin: str | None = attrs.field(default=None, validator=_optional_text)
    ext_file_media_id: str | None = attrs.field(default=None, validator=_optional_text)
    notice_method: str = attrs.field(validator=_text(nonempty=True))
    store_expire_timestamp: str | None = attrs.field(default=None, validator=_optional_text)

    def __attrs_post_init__(self) -> None:
        if not any(getattr(self, name) for name in _CONTACTS):
            raise WxaValidationError(
                f"owner_setting: needs at least one of {', '.join(_CONTACTS)}",
                field="owner_setting", errcode=86069,
            )


@attrs.frozen
class PrivacySetting:
    """One kind of user data collected (``privacy_key``) and why (``privacy_text``)."""

    privacy_key: str = attrs.field(validator=_text(nonempty=True))
    privacy_text: str = attrs.field(validator=_text(nonempty=True))


def _setting_items(value: Iterable[PrivacySetting | Mapping[str, Any]]) -> tuple[
    PrivacySetting, ...
]:
    return _build_list(PrivacySetting, value, "sdk_list")


@attrs.frozen(kw_only=True)
class SdkPrivacyInfo:
    """A third-party SDK in the code and the user data it collects."""

    sdk_name: str = attrs.field(validator=_text(nonempty=True))
    sdk_biz_name: str = attrs.field(validator=_text(nonempty=True))
    sdk_list: tuple[PrivacySetting, ...] = attrs.field(default=(), converter=_setting_items)


def _owner_setting(value: OwnerSetting | Mapping[str, Any]) -> OwnerSetting:
    return _build(OwnerSetting, value, "owner_setting", 86069)


def _setting_list(
    value: Iterable[PrivacySetting | Mapping[str, Any]] | None,
) -> tuple[PrivacySetting, ...] | None:
    return None if value is None else _build_list(PrivacySetting, value, "setting_list")


def _sdk_list(
    value: Iterable[SdkPrivacyInfo | Mapping[str, Any]] | None,
) -> tuple[SdkPrivacyInfo, ...] | None:
    if value is None:
        return None
    return _build_list(SdkPrivacyInfo, value, "sdk_privacy_info_list")


_OBJECT = {"wire": _wire_object}
_privacy_ver = _one_of(1, 2)


def _optional_ver(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        _privacy_ver(instance, attribute, value)


@attrs.frozen
class SetPrivacySettingRequest(WxaRequest):
    """``privacy_ver`` 2 (the default) sets the development version, which goes live
    with the next release; 1 changes the live version's ``owner_setting`` only, so
    ``setting_list`` is refused with it."""

    owner_setting: OwnerSetting = attrs.field(
        converter=_owner_setting, metadata={**_OBJECT, "errcode": 86069}
    )
    setting_list: tuple[PrivacySetting, ...] | None = attrs.field(
        default=None, converter=_setting_list, metadata=_OBJECT
    )
    privacy_ver: Literal[1, 2] | None = attrs.field(default=None, validator=_optional_ver)
    sdk_privacy_info_list: tuple[SdkPrivacyInfo, ...] | None = attrs.field(
        default=None, converter=_sdk_list, metadata=_OBJECT
    )

    def __attrs_post_init__(self) -> None:
        if self.privacy_ver == 1 and self.setting_list is not None:
            raise WxaValidationError(
                "setting_list: cannot be sent with privacy_ver=1 (the live version's "
                "owner_setting only)", field="setting_list",
            )


@attrs.frozen
class GetPrivacySettingRequest(WxaRequest):
    """``privacy_ver`` 1 reads the live version, 2 (the default) the development one."""

    privacy_ver: Literal[1, 2] | None = attrs.field(default=None, validator=_optional_ver)


def _urls(value: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if value is None else _string_list(value, "url_list", nonempty=True)


def _pics(value: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if value is None else _string_list(value, "pic_list", nonempty=True)


def _videos(value: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if value is None else _string_list(value, "video_list", nonempty=True)


@attrs.frozen
class ApplyPrivacyInterfaceRequest(WxaRequest):
    """Apply for a privacy interface (``api_name``, e.g. ``wx.getLocation``) with the
    reason (``content``) and optional supporting URLs, pictures and videos."""

    api_name: str = attrs.field(validator=_text(nonempty=True), metadata={"errcode": 85058})
    content: str = attrs.field(validator=_text(nonempty=True))
    url_list: tuple[str, ...] | None = attrs.field(default=None, converter=_urls)
    pic_list: tuple[str, ...] | None = attrs.field(default=None, converter=_pics)
    video_list: tuple[str, ...] | None = attrs.field(default=None, converter=_videos)


# -- responses ---------------------------------------------------------------------


@attrs.define
class PrivacySettingEntry:
    privacy_key: str = ""
    privacy_text: str = ""
    privacy_label: str | None = None


@attrs.define
class OwnerSettingInfo:
    """``owner_setting`` as read back; it can be sent again to ``set_privacy_setting``."""

    contact_email: str | None = None
    contact_phone: str | None = None
    contact_qq: str | None = None
    contact_weixin: str | None = None
    ext_file_media_id: str | None = None
    notice_method: str | None = None
    store_expire_timestamp: str | None = None


@attrs.define
class PrivacyDescItem:
    privacy_key: str = ""
    privacy_desc: str = ""


@attrs.define
class PrivacyDesc:
    privacy_desc_list: list[PrivacyDescItem] = attrs.field(factory=list)


@attrs.define
class SdkPrivacyInfoEntry:
    sdk_name: str = ""
    sdk_biz_name: str = ""
    sdk_list: list[PrivacySettingEntry] = attrs.field(factory=list)


@attrs.define
class PrivacySettingResponse(WxaResponse):
    """``code_exist`` 1 when code was committed; ``privacy_list`` the ``privacy_key``
    values the scan of that code found; ``privacy_desc`` what every key means."""

    code_exist: int = 0
    privacy_list: list[str] = attrs.field(factory=list)
    setting_list: list[PrivacySettingEntry] = attrs.field(factory=list)
    update_time: int = 0
    owner_setting: OwnerSettingInfo = attrs.field(factory=OwnerSettingInfo)
    privacy_desc: PrivacyDesc = attrs.field(factory=PrivacyDesc)
    sdk_privacy_info_list: list[SdkPrivacyInfoEntry] = attrs.field(factory=list)


@attrs.define
class PrivacyInterface:
    """One privacy interface and the state of this mini program's application for it
    (``status`` as WeChat's docs number it; ``audit_id`` of the last application)."""

    api_name: str = ""
    api_ch_name: str = ""
    api_desc: str = ""
    apply_time: int = 0
    status: int = 0
    audit_id: int = 0
    fail_reason: str = ""
    api_link: str = ""
    group_name: str = ""


@attrs.define
class PrivacyInterfaceListResponse(WxaResponse):
    interface_list: list[PrivacyInterface] = attrs.field(factory=list)


@attrs.define
class ApplyPrivacyInterfaceResponse(WxaResponse):
    audit_id: int = 0
