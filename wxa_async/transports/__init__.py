"""The transport seam and its adapters: a transport moves bytes, nothing more.

:class:`AiohttpTransport` needs the ``aiohttp`` extra and is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._base import BytesResponse, HttpRequest, HttpResponse, Timeout, Transport, decoded_chunks
from ._httpx import HttpxTransport

if TYPE_CHECKING:
    from ._aiohttp import AiohttpTransport

__all__ = [
    "AiohttpTransport",
    "BytesResponse",
    "HttpRequest",
    "HttpResponse",
    "HttpxTransport",
    "Timeout",
    "Transport",
    "decoded_chunks",
]


def __getattr__(name: str) -> Any:
    if name == "AiohttpTransport":
        try:
            from ._aiohttp import AiohttpTransport
        except ModuleNotFoundError as exc:
            if exc.name not in ("aiohttp", "yarl", "multidict"):
                raise
            from .._extras import missing_extra_class

            return missing_extra_class("AiohttpTransport", "aiohttp")
        return AiohttpTransport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
