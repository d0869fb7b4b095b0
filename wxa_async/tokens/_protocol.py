"""The token-provider protocol and the simplest provider."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from ..errors import WxaError

__all__ = ["StaticTokenProvider", "TokenProvider"]


@runtime_checkable
class TokenProvider(Protocol):
    """Gives the authorizer access token of a mini program.

    ``invalidate`` is compare-and-clear: it drops ``token`` only if it is still the
    current token of ``appid``, so a caller holding a stale token cannot throw away a
    fresh one that another caller just fetched.
    """

    async def get_token(self, appid: str) -> str: ...

    async def invalidate(self, appid: str, token: str) -> None: ...


class StaticTokenProvider:
    """Fixed tokens, for scripts and tests. It cannot refresh: ``invalidate`` is a no-op,
    so a rejected token surfaces as :class:`~wxa_async.WxaTokenError` after one retry."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._tokens = dict(tokens)

    async def get_token(self, appid: str) -> str:
        try:
            return self._tokens[appid]
        except KeyError:
            raise WxaError(f"no access token configured for appid {appid!r}") from None

    async def invalidate(self, appid: str, token: str) -> None:
        return None

    def __repr__(self) -> str:  # the tokens themselves are never shown
        return f"StaticTokenProvider(appids={sorted(self._tokens)!r})"
