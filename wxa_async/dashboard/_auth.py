"""Who may read the dashboard, and the headers every answer carries.

The rule: on loopback no token is needed; on any other address one is required
(:func:`needs_token`), and then every request must carry it, as a bearer token
(``Authorization: Bearer TOKEN``, for tools) or as the password of HTTP basic auth
(any user name; browsers ask for it). Only GET and HEAD are served: the dashboard
is read-only.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .. import WxaValidationError
from .._asgi import Receive, Scope, Send

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

__all__ = ["SECURITY_HEADERS", "ASGIApp", "Guard", "authorized", "is_loopback", "needs_token"]

#: The pages load nothing from elsewhere: the policy says so to the browser too.
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy",
     b"default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
     b"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is reachable only from this machine."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def needs_token(host: str) -> bool:
    return not is_loopback(host)


def authorized(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header value carries ``token`` (compared in
    constant time)."""
    if not header:
        return False
    scheme, _, value = header.strip().partition(" ")
    expected = token.encode("utf-8")
    if scheme.lower() == "bearer":
        return hmac.compare_digest(value.strip().encode("utf-8"), expected)
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return False
        _, colon, password = decoded.partition(":")
        return bool(colon) and hmac.compare_digest(password.encode("utf-8"), expected)
    return False


class Guard:
    """ASGI middleware: the token check, read-only methods, and the security headers."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        if token is not None and not token.strip():
            raise WxaValidationError("the dashboard token must not be empty")
        self.app = app
        self._token = token

    def __repr__(self) -> str:  # never the token
        return f"Guard(token={'set' if self._token else 'none'})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if self._token is not None:
            raw = headers.get(b"authorization")
            if not authorized(None if raw is None else raw.decode("latin-1"), self._token):
                await _refuse(scope, send, 401, "a token is required (Bearer, or the "
                              "password of basic auth)")
                return
        if scope.get("method", "GET") not in ("GET", "HEAD"):
            await _refuse(scope, send, 405, "the dashboard is read-only")
            return

        async def with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                given = list(message.get("headers", []))
                present = {bytes(k).lower() for k, _ in given}
                message["headers"] = given + [h for h in SECURITY_HEADERS if h[0] not in present]
            await send(message)

        await self.app(scope, receive, with_headers)


async def _refuse(scope: Scope, send: Send, status: int, message: str) -> None:
    api = "/api/" in str(scope.get("path", ""))
    body = (json.dumps({"error": message}).encode() if api
            else f"{status}: {message}\n".encode())
    headers = [(b"content-type", b"application/json" if api else b"text/plain; charset=utf-8"),
               (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS]
    if status == 401:
        headers += [(b"www-authenticate", b'Basic realm="wxa-async dashboard", charset="UTF-8"'),
                    (b"www-authenticate", b'Bearer realm="wxa-async dashboard"')]
    if status == 405:
        headers.append((b"allow", b"GET, HEAD"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD"
                else body})
