"""wxa_async: a typed asyncio SDK for WeChat mini-program code management (代码管理).

The facade: the client and its handle, transports, token providers and stores, the error
tree, push events, crypto and the callback endpoint. Models live in
:mod:`wxa_async.models`, events also in :mod:`wxa_async.push`, test helpers (fake
transports, the emulator) in :mod:`wxa_async.testing`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._handle import ENDPOINTS, ComponentHandle, MiniProgram
from ._limit import AdaptiveLimit
from ._retry import RetryPolicy, is_ambiguous
from ._version import __version__
from .bulk import BulkResult, Outcome
from .client import WxaClient
from .errors import (
    WxaApiError,
    WxaBodyTooLargeError,
    WxaDecodeError,
    WxaError,
    WxaPrivacyScanPendingError,
    WxaQuotaError,
    WxaResponseTooLargeError,
    WxaSignatureError,
    WxaStalePushError,
    WxaSystemBusyError,
    WxaTimeoutError,
    WxaTokenError,
    WxaTransportError,
    WxaValidationError,
    WxaXmlError,
)
from .push import CallbackHandler, Event, MessageCrypto, callback_asgi_app, parse_event
from .tokens import (
    ComponentTokenProvider,
    MemoryTokenStore,
    RedisTokenStore,
    StaticTokenProvider,
    TokenProvider,
    TokenStore,
)
from .transports import HttpxTransport, Timeout, Transport

if TYPE_CHECKING:
    from .transports import AiohttpTransport

__all__ = [
    "ENDPOINTS",
    "AdaptiveLimit",
    "AiohttpTransport",
    "BulkResult",
    "CallbackHandler",
    "ComponentHandle",
    "ComponentTokenProvider",
    "Event",
    "HttpxTransport",
    "MemoryTokenStore",
    "MessageCrypto",
    "MiniProgram",
    "Outcome",
    "RedisTokenStore",
    "RetryPolicy",
    "StaticTokenProvider",
    "Timeout",
    "TokenProvider",
    "TokenStore",
    "Transport",
    "WxaApiError",
    "WxaBodyTooLargeError",
    "WxaClient",
    "WxaDecodeError",
    "WxaError",
    "WxaPrivacyScanPendingError",
    "WxaQuotaError",
    "WxaResponseTooLargeError",
    "WxaSignatureError",
    "WxaStalePushError",
    "WxaSystemBusyError",
    "WxaTimeoutError",
    "WxaTokenError",
    "WxaTransportError",
    "WxaValidationError",
    "WxaXmlError",
    "__version__",
    "callback_asgi_app",
    "is_ambiguous",
    "parse_event",
]


def __getattr__(name: str) -> Any:
    # The aiohttp transport is imported on first use, so `import wxa_async` (and
    # `from wxa_async import *`) never needs the extra installed.
    if name == "AiohttpTransport":
        from .transports import AiohttpTransport

        return AiohttpTransport
    raise AttributeError(f"module 'wxa_async' has no attribute {name!r}")
