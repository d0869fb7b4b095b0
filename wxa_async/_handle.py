"""Handles: the endpoint tables bound to a client and an appid."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .endpoints import CodeEndpoints, EndpointSpec

if TYPE_CHECKING:
    from .client import WxaClient

__all__ = ["ENDPOINTS", "Handle", "MiniProgram"]


class Handle:
    """What a table's bound calls need: the client, and whose token to send."""

    __slots__ = ("__dict__", "appid", "client")

    def __init__(self, client: WxaClient, appid: str) -> None:
        self.client = client
        self.appid = appid


class MiniProgram(Handle, CodeEndpoints):
    """A handle bound to one authorized mini program: ``client.app(appid)``.

    Its methods are the lines of the endpoint tables it inherits."""

    def __repr__(self) -> str:
        return f"MiniProgram(appid={self.appid!r})"


def _table(handle: type) -> tuple[EndpointSpec, ...]:
    seen: dict[str, EndpointSpec] = {}
    for cls in reversed(handle.__mro__):
        for value in vars(cls).values():
            if isinstance(value, EndpointSpec):
                seen[value.name] = value
    return tuple(seen.values())


#: Every endpoint of an authorized mini program, in table order.
ENDPOINTS: tuple[EndpointSpec, ...] = _table(MiniProgram)
