"""The token-provider protocol and the simplest provider."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from ..errors import WxaError

__all__ = ["StaticTokenProvider", "TokenProvider"]


@runtime_checkable
class TokenProvider(Protocol):
    """Gives the authorizer access token of a mini program, and the platform's
    component access token (for ``client.component()``).

    ``invalidate`` and ``invalidate_component_token`` are compare-and-clear: they drop
    ``token`` only if it is still the current one, so a caller holding a stale token
    cannot throw away a fresh one that another caller just fetched. A provider that
    cannot refresh hands the same token back after an invalidation; the client then
    raises the service's token error at once instead of sending it again.
    """

    async def get_token(self, appid: str) -> str: ...

    async def invalidate(self, appid: str, token: str) -> None: ...

    async def get_component_token(self) -> str: ...

    async def invalidate_component_token(self, token: str) -> None: ...


class StaticTokenProvider:
    """Fixed tokens, for scripts and tests: authorizer tokens by appid and, optionally,
    a component access token. It cannot refresh: the invalidations are no-ops, so a
    rejected token surfaces as :class:`~wxa_async.WxaTokenError` at once."""

    def __init__(self, tokens: Mapping[str, str], component_token: str | None = None) -> None:
        self._tokens = dict(tokens)
        self._component_token = component_token

    async def get_token(self, appid: str) -> str:
        try:
            return self._tokens[appid]
        except KeyError:
            raise WxaError(f"no access token configured for appid {appid!r}") from None

    async def invalidate(self, appid: str, token: str) -> None:
        return None

    async def get_component_token(self) -> str:
        if self._component_token is None:
            raise WxaError(self.component_token_missing())
        return self._component_token

    async def invalidate_component_token(self, token: str) -> None:
        return None

    def component_token_missing(self) -> str:
        """Why there is no component token ('' when there is one)."""
        if self._component_token is not None:
            return ""
        return "StaticTokenProvider was given no component_token"

    def __repr__(self) -> str:  # the tokens themselves are never shown
        return (
            f"StaticTokenProvider(appids={sorted(self._tokens)!r}, "
            f"component_token={self._component_token is not None})"
        )
