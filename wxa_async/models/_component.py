"""Models of the component API (第三方平台 令牌): the platform's own tokens.

Secrets (app secret, verify ticket, refresh token) and the tokens answered are kept out
of every ``repr``.
"""

from __future__ import annotations

import attrs

from ._base import WxaRequest, WxaResponse, _text

__all__ = [
    "AuthorizerTokenRequest",
    "AuthorizerTokenResponse",
    "ComponentTokenRequest",
    "ComponentTokenResponse",
]


@attrs.frozen
class ComponentTokenRequest(WxaRequest):
    """``api_component_token``: the platform's credentials and the newest ticket."""

    component_appid: str = attrs.field(validator=_text(nonempty=True))
    component_appsecret: str = attrs.field(validator=_text(nonempty=True), repr=False)
    component_verify_ticket: str = attrs.field(validator=_text(nonempty=True), repr=False)


@attrs.define
class ComponentTokenResponse(WxaResponse):
    component_access_token: str = attrs.field(default="", repr=False)
    expires_in: float = 0.0


@attrs.frozen
class AuthorizerTokenRequest(WxaRequest):
    """``api_authorizer_token``: an authorizer's token from its refresh token."""

    component_appid: str = attrs.field(validator=_text(nonempty=True))
    authorizer_appid: str = attrs.field(validator=_text(nonempty=True))
    authorizer_refresh_token: str = attrs.field(validator=_text(nonempty=True), repr=False)


@attrs.define
class AuthorizerTokenResponse(WxaResponse):
    authorizer_access_token: str = attrs.field(default="", repr=False)
    expires_in: float = 0.0
    authorizer_refresh_token: str | None = attrs.field(default=None, repr=False)
