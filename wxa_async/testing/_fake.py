"""FakeTransport: the emulator in process, behind the Transport protocol. No sockets."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..errors import WxaTransportError
from ..transports._base import BytesResponse, HttpRequest
from .emulator import Emulator

__all__ = ["FakeTransport"]


class FakeTransport:
    """Hands every request to an :class:`Emulator`::

        client = WxaClient(StaticTokenProvider(...), transport=FakeTransport(emulator))

    The base URL's host is ignored; its path is the endpoint path. An injected dropped
    connection raises ``WxaTransportError(request_sent=True)``, as a real transport
    does when the connection breaks after the request went out.
    """

    def __init__(self, emulator: Emulator, *, default_concurrency: int = 64) -> None:
        self.emulator = emulator
        self.default_concurrency = default_concurrency
        self.sent = 0
        self.closed = False

    async def send(self, request: HttpRequest) -> BytesResponse:
        self.sent += 1
        content = request.content
        if content is not None and not isinstance(content, bytes):
            content = b"".join([chunk async for chunk in content])  # a streamed upload
        answer = await self.emulator.handle(
            request.method, urlsplit(request.url).path, request.params, content or b"",
            request.headers,
        )
        if answer.drop:
            raise WxaTransportError(
                "connection closed before the answer arrived (emulator fault)", request_sent=True
            )
        return BytesResponse(answer.status, answer.headers, answer.body)

    async def aclose(self) -> None:
        self.closed = True

    def __repr__(self) -> str:
        return f"FakeTransport({self.emulator!r}, sent={self.sent})"
