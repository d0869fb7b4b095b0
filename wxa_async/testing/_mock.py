"""A transport that hands every request to a function: the seam for fakes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..transports._base import HttpRequest, HttpResponse

__all__ = ["Handler", "MockTransport"]

Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


class MockTransport:
    """Answers each request with ``await handler(request)``; no sockets.

    ``requests`` records every request sent, for assertions on the wire shape.
    """

    def __init__(self, handler: Handler, *, default_concurrency: int = 64) -> None:
        self._handler = handler
        self.default_concurrency = default_concurrency
        self.requests: list[HttpRequest] = []
        self.closed = False

    async def send(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        return await self._handler(request)

    async def aclose(self) -> None:
        self.closed = True

    def __repr__(self) -> str:
        return f"MockTransport(sent={len(self.requests)})"
