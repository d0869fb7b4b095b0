"""wxa_async: a typed asyncio SDK for WeChat mini-program code management (代码管理)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._bulk import BulkResult, Outcome, ProgressCallback
from ._callback import CallbackHandler, callback_asgi_app
from ._client import DEFAULT_BASE_URL, WxaClient
from ._component import ComponentTokenProvider
from ._crypto import MessageCrypto
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
from ._events import (
    AuditDelayEvent,
    AuditFailEvent,
    AuditSuccessEvent,
    AuthorizedEvent,
    ComponentVerifyTicketEvent,
    Event,
    GenericEvent,
    UnauthorizedEvent,
    UpdateAuthorizedEvent,
    parse_event,
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
from ._redis_store import RedisTokenStore
from ._stores import MemoryTokenStore, TokenStore
from ._tokens import StaticTokenProvider, TokenProvider
from ._transport import HttpRequest, HttpResponse, Timeout, Transport
from ._xml import WxaBodyTooLargeError, WxaXmlError, render_event_xml

if TYPE_CHECKING:
    from ._aiohttp import AiohttpTransport

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_BASE_URL",
    "ENDPOINTS",
    "AiohttpTransport",
    "AuditDelayEvent",
    "AuditFailEvent",
    "AuditItem",
    "AuditStatusResponse",
    "AuditSuccessEvent",
    "AuthorizedEvent",
    "BulkResult",
    "CallbackHandler",
    "Category",
    "CategoryListResponse",
    "CodePrivacyInfoResponse",
    "ComponentTokenProvider",
    "ComponentVerifyTicketEvent",
    "Event",
    "ExpInfo",
    "GenericEvent",
    "GrayReleasePlan",
    "GrayReleasePlanResponse",
    "HttpRequest",
    "HttpResponse",
    "HttpxTransport",
    "LatestAuditStatusResponse",
    "MemoryTokenStore",
    "MessageCrypto",
    "MiniProgram",
    "Outcome",
    "PageListResponse",
    "ProgressCallback",
    "QrcodeJumpFileResponse",
    "QrcodeJumpRule",
    "QrcodeJumpRulesResponse",
    "QuotaResponse",
    "RedisTokenStore",
    "ReleaseInfo",
    "StaticTokenProvider",
    "SubmitAuditResponse",
    "SupportVersionResponse",
    "Timeout",
    "TokenProvider",
    "TokenStore",
    "Transport",
    "UnauthorizedEvent",
    "UpdateAuthorizedEvent",
    "UvInfo",
    "UvItem",
    "VersionInfoResponse",
    "WxaApiError",
    "WxaBodyTooLargeError",
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
    "WxaXmlError",
    "callback_asgi_app",
    "parse_event",
    "render_event_xml",
]


def __getattr__(name: str) -> Any:
    # Optional transports are imported on first use, so `import wxa_async` never needs
    # their extras installed.
    if name == "AiohttpTransport":
        from ._aiohttp import AiohttpTransport

        return AiohttpTransport
    raise AttributeError(f"module 'wxa_async' has no attribute {name!r}")
