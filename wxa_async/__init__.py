"""wxa_async: a typed asyncio SDK for WeChat mini-program code management (代码管理)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._client import DEFAULT_BASE_URL, WxaClient
from ._endpoints import ENDPOINTS, MiniProgram
from ._errors import (
    WxaApiError,
    WxaDecodeError,
    WxaError,
    WxaQuotaError,
    WxaSignatureError,
    WxaSystemBusyError,
    WxaTimeoutError,
    WxaTokenError,
    WxaTransportError,
    WxaValidationError,
)
from ._httpx import HttpxTransport
from ._models import (
    AuditItem,
    AuditStatusResponse,
    Category,
    CategoryListResponse,
    CodePrivacyInfoResponse,
    ExpInfo,
    GrayReleasePlan,
    GrayReleasePlanResponse,
    LatestAuditStatusResponse,
    PageListResponse,
    QrcodeJumpFileResponse,
    QrcodeJumpRule,
    QrcodeJumpRulesResponse,
    QuotaResponse,
    ReleaseInfo,
    SubmitAuditResponse,
    SupportVersionResponse,
    UvInfo,
    UvItem,
    VersionInfoResponse,
    WxaResponse,
)
from ._tokens import StaticTokenProvider, TokenProvider
from ._transport import HttpRequest, HttpResponse, Timeout, Transport

if TYPE_CHECKING:
    from ._aiohttp import AiohttpTransport

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_BASE_URL",
    "ENDPOINTS",
    "AiohttpTransport",
    "AuditItem",
    "AuditStatusResponse",
    "Category",
    "CategoryListResponse",
    "CodePrivacyInfoResponse",
    "ExpInfo",
    "GrayReleasePlan",
    "GrayReleasePlanResponse",
    "HttpRequest",
    "HttpResponse",
    "HttpxTransport",
    "LatestAuditStatusResponse",
    "MiniProgram",
    "PageListResponse",
    "QrcodeJumpFileResponse",
    "QrcodeJumpRule",
    "QrcodeJumpRulesResponse",
    "QuotaResponse",
    "ReleaseInfo",
    "StaticTokenProvider",
    "SubmitAuditResponse",
    "SupportVersionResponse",
    "Timeout",
    "TokenProvider",
    "Transport",
    "UvInfo",
    "UvItem",
    "VersionInfoResponse",
    "WxaApiError",
    "WxaClient",
    "WxaDecodeError",
    "WxaError",
    "WxaQuotaError",
    "WxaResponse",
    "WxaSignatureError",
    "WxaSystemBusyError",
    "WxaTimeoutError",
    "WxaTokenError",
    "WxaTransportError",
    "WxaValidationError",
]


def __getattr__(name: str) -> Any:
    # Optional transports are imported on first use, so `import wxa_async` never needs
    # their extras installed.
    if name == "AiohttpTransport":
        from ._aiohttp import AiohttpTransport

        return AiohttpTransport
    raise AttributeError(f"module 'wxa_async' has no attribute {name!r}")
