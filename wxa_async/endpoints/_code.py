"""The code-management table (代码管理): one line per endpoint of an authorized mini program.

Every line is a descriptor (see :mod:`wxa_async.endpoints._spec`); the handle
:class:`~wxa_async.MiniProgram` inherits them, so this class body is all there is to an
endpoint: its methods, the emulator's routes, the CLI's ``call`` and the docs' endpoint
table are derived from it.
"""

from __future__ import annotations

from ..models import (
    AddQrcodeJumpRequest,
    AuditIdRequest,
    AuditStatusResponse,
    CategoryListResponse,
    ChangeVisitStatusRequest,
    CodePrivacyInfoResponse,
    CommitRequest,
    GetQrcodeRequest,
    GrayReleasePlanResponse,
    GrayReleaseRequest,
    HistoryVersionRequest,
    HistoryVersionResponse,
    LatestAuditStatusResponse,
    NoArguments,
    PageListResponse,
    QrcodeJumpFileResponse,
    QrcodeJumpPrefixRequest,
    QrcodeJumpRulesResponse,
    QuotaResponse,
    RevertCodeReleaseRequest,
    SetSupportVersionRequest,
    SubmitAuditRequest,
    SubmitAuditResponse,
    SupportVersionResponse,
    VersionInfoResponse,
    WxaResponse,
)
from ._spec import BinaryEndpoint, Endpoint

__all__ = ["CodeEndpoints"]

_AuditStatus = AuditStatusResponse


class CodeEndpoints:
    """Code management: commit, audit, release, gray release, QR-code jump rules."""

    # -- 代码管理 ----------------------------------------------------------------------
    commit = Endpoint("POST", "wxa/commit", CommitRequest, WxaResponse, idempotent=False)
    get_qrcode = BinaryEndpoint("GET", "wxa/get_qrcode", GetQrcodeRequest)
    get_category = Endpoint(
        "GET", "wxa/get_category", NoArguments, CategoryListResponse, idempotent=True
    )
    get_page = Endpoint("GET", "wxa/get_page", NoArguments, PageListResponse, idempotent=True)
    submit_audit = Endpoint(
        "POST", "wxa/submit_audit", SubmitAuditRequest, SubmitAuditResponse, idempotent=False
    )
    get_audit_status = Endpoint(
        "POST", "wxa/get_auditstatus", AuditIdRequest, _AuditStatus, idempotent=True
    )
    get_latest_audit_status = Endpoint(
        "GET", "wxa/get_latest_auditstatus", NoArguments, LatestAuditStatusResponse,
        idempotent=True,
    )
    release = Endpoint("POST", "wxa/release", NoArguments, WxaResponse, idempotent=False)
    change_visit_status = Endpoint(
        "POST", "wxa/change_visitstatus", ChangeVisitStatusRequest, WxaResponse,
        idempotent=False,
    )
    # A GET that changes state: retrying it blindly could revert twice. Not idempotent.
    revert_code_release = Endpoint(
        "GET", "wxa/revertcoderelease", RevertCodeReleaseRequest, WxaResponse,
        idempotent=False,
    )
    # The same path with action=get_history_version is a plain read.
    get_history_version = Endpoint(
        "GET", "wxa/revertcoderelease", HistoryVersionRequest, HistoryVersionResponse,
        idempotent=True,
    )
    get_support_version = Endpoint(
        "POST", "cgi-bin/wxopen/getweappsupportversion", NoArguments, SupportVersionResponse,
        idempotent=True,
    )
    set_support_version = Endpoint(
        "POST", "cgi-bin/wxopen/setweappsupportversion", SetSupportVersionRequest, WxaResponse,
        idempotent=False,
    )
    add_qrcode_jump = Endpoint(
        "POST", "cgi-bin/wxopen/qrcodejumpadd", AddQrcodeJumpRequest, WxaResponse,
        idempotent=False,
    )
    get_qrcode_jump = Endpoint(
        "POST", "cgi-bin/wxopen/qrcodejumpget", NoArguments, QrcodeJumpRulesResponse,
        idempotent=True,
    )
    # Each call makes the service issue a new random verification file: not a pure read.
    download_qrcode_jump_file = Endpoint(
        "POST", "cgi-bin/wxopen/qrcodejumpdownload", NoArguments, QrcodeJumpFileResponse,
        idempotent=False,
    )
    delete_qrcode_jump = Endpoint(
        "POST", "cgi-bin/wxopen/qrcodejumpdelete", QrcodeJumpPrefixRequest, WxaResponse,
        idempotent=False,
    )
    publish_qrcode_jump = Endpoint(
        "POST", "cgi-bin/wxopen/qrcodejumppublish", QrcodeJumpPrefixRequest, WxaResponse,
        idempotent=False,
    )
    # GET, but it spends the once-a-day undo quota (87013): never retried.
    undo_code_audit = Endpoint(
        "GET", "wxa/undocodeaudit", NoArguments, WxaResponse, idempotent=False
    )
    gray_release = Endpoint(
        "POST", "wxa/grayrelease", GrayReleaseRequest, WxaResponse, idempotent=False
    )
    revert_gray_release = Endpoint(
        "GET", "wxa/revertgrayrelease", NoArguments, WxaResponse, idempotent=False
    )
    get_gray_release_plan = Endpoint(
        "GET", "wxa/getgrayreleaseplan", NoArguments, GrayReleasePlanResponse, idempotent=True
    )
    # -- newer endpoints from WeChat's current docs ----------------------------------
    speedup_audit = Endpoint(
        "POST", "wxa/speedupaudit", AuditIdRequest, WxaResponse, idempotent=False
    )
    query_quota = Endpoint("GET", "wxa/queryquota", NoArguments, QuotaResponse, idempotent=True)
    get_code_privacy_info = Endpoint(
        "GET", "wxa/security/get_code_privacy_info", NoArguments, CodePrivacyInfoResponse,
        idempotent=True,
    )
    get_version_info = Endpoint(
        "POST", "wxa/getversioninfo", NoArguments, VersionInfoResponse, idempotent=True
    )

