"""The privacy table (隐私设置): the privacy guide and the privacy interfaces of an
authorized mini program; :class:`~wxa_async.MiniProgram` inherits it."""

from __future__ import annotations

from ..models import (
    ApplyPrivacyInterfaceRequest,
    ApplyPrivacyInterfaceResponse,
    GetPrivacySettingRequest,
    NoArguments,
    PrivacyInterfaceListResponse,
    PrivacySettingResponse,
    SetPrivacySettingRequest,
    UploadPrivacyExtFileRequest,
    UploadPrivacyExtFileResponse,
    WxaResponse,
)
from ._spec import Endpoint
from ._upload import UploadEndpoint

__all__ = ["PrivacyEndpoints"]


class PrivacyEndpoints:
    """Privacy: the privacy guide every audit needs, privacy interface applications."""

    set_privacy_setting = Endpoint(
        "POST", "cgi-bin/component/setprivacysetting", SetPrivacySettingRequest, WxaResponse,
        idempotent=False,
    )
    # A POST, but a pure read: retried like any read.
    get_privacy_setting = Endpoint(
        "POST", "cgi-bin/component/getprivacysetting", GetPrivacySettingRequest,
        PrivacySettingResponse, idempotent=True,
    )
    upload_privacy_ext_file = UploadEndpoint(
        "cgi-bin/component/uploadprivacyextfile", UploadPrivacyExtFileRequest,
        UploadPrivacyExtFileResponse, field="file",
    )
    get_privacy_interface = Endpoint(
        "GET", "wxa/security/get_privacy_interface", NoArguments,
        PrivacyInterfaceListResponse, idempotent=True,
    )
    apply_privacy_interface = Endpoint(
        "POST", "wxa/security/apply_privacy_interface", ApplyPrivacyInterfaceRequest,
        ApplyPrivacyInterfaceResponse, idempotent=False,
    )
