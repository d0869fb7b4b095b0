"""The component API table (第三方平台 令牌): the platform's own token endpoints.

``api_component_token`` takes no token; ``api_authorizer_token`` takes the component
access token (as ``component_access_token``). :class:`~wxa_async.ComponentTokenProvider`
calls them through the same wire path as every other endpoint; the emulator serves the
same paths.
"""

from __future__ import annotations

from ..models import (
    AuthorizerTokenRequest,
    AuthorizerTokenResponse,
    ComponentTokenRequest,
    ComponentTokenResponse,
)
from ._spec import Endpoint

__all__ = ["ComponentApi"]


class ComponentApi:
    """The third-party platform's tokens."""

    # A new component token is as good as the lost answer's: safe to fetch again.
    api_component_token = Endpoint(
        "POST", "cgi-bin/component/api_component_token", ComponentTokenRequest,
        ComponentTokenResponse, idempotent=True, auth=None,
    )
    # Should the service have rotated the refresh token in a lost answer, asking again
    # fails (61023) as the lost answer already did; otherwise it succeeds: never worse.
    api_authorizer_token = Endpoint(
        "POST", "cgi-bin/component/api_authorizer_token", AuthorizerTokenRequest,
        AuthorizerTokenResponse, idempotent=True, auth="component",
        auth_param="component_access_token",
    )
