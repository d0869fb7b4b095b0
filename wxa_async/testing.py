"""Test helpers for users of wxa_async: fake transports and the emulator."""

from ._mock import Handler, MockTransport
from ._transport import BytesResponse, HttpRequest

__all__ = ["BytesResponse", "Handler", "HttpRequest", "MockTransport"]
