"""Handles: the endpoint tables bound to a client and to whose token they send.

A handle class is its tables: ``class MiniProgram(Handle, CodeEndpoints, ...)``. Adding
an area of the API is a table class (see :mod:`wxa_async.endpoints`) and one more base
on the handle that sends its kind of token; every line's ``auth`` must match the
handle's ``auth``, checked when the class is made.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, ClassVar

from ._wire import AuthorizerCredential, ComponentCredential
from .endpoints import (
    Auth,
    CodeEndpoints,
    EndpointSpec,
    MediaEndpoints,
    PrivacyEndpoints,
    TemplateEndpoints,
)

if TYPE_CHECKING:
    from ._sinks import Sink
    from ._wire import Credential
    from .client import WxaClient
    from .models import WxaRequest

__all__ = [
    "COMPONENT_ENDPOINTS", "ENDPOINTS", "ComponentHandle", "Handle", "MiniProgram",
]


def _table(handle: type) -> tuple[EndpointSpec, ...]:
    # In the order of the handle's bases (its tables), each name as the MRO resolves it.
    seen: dict[str, EndpointSpec] = {}
    for cls in handle.__mro__:
        for value in vars(cls).values():
            if isinstance(value, EndpointSpec):
                seen.setdefault(value.name, value)
    return tuple(seen.values())


class Handle:
    """What a table's bound calls need: the client, and whose token to send."""

    __slots__ = ("__dict__", "_credential", "client")
    #: the kind of token every line of this handle's tables sends
    auth: ClassVar[Auth]

    def __init__(self, client: WxaClient, credential: Credential) -> None:
        self.client = client
        self._credential = credential

    def _call(
        self, endpoint: EndpointSpec, request: WxaRequest, sink: Sink | None
    ) -> Coroutine[Any, Any, Any]:
        # Hands on the client's coroutine (awaited by the bound call): no frame of its own.
        return self.client._execute(self._credential, endpoint, request, sink, self._who)

    @property
    def _who(self) -> str:
        return ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = getattr(cls, "auth", None)
        wrong = [spec.name for spec in _table(cls) if spec.auth != kind]
        if kind is not None and wrong:
            raise TypeError(f"{cls.__name__} sends the {kind} token; {wrong} do not")


class MiniProgram(Handle, CodeEndpoints, PrivacyEndpoints, MediaEndpoints):
    """A handle bound to one authorized mini program: ``client.app(appid)``.

    Its methods are the lines of the endpoint tables it inherits; they send the
    authorizer access token of ``appid``."""

    auth = "authorizer"

    def __init__(self, client: WxaClient, appid: str) -> None:
        super().__init__(client, AuthorizerCredential(client.token_provider, appid))
        self.appid = appid

    @property
    def _who(self) -> str:
        return self.appid

    def __repr__(self) -> str:
        return f"MiniProgram(appid={self.appid!r})"


class ComponentHandle(Handle, TemplateEndpoints):
    """The third-party platform's own endpoints: ``client.component()``.

    Its methods are the lines of the component tables it inherits; they send the
    component access token (``TokenProvider.get_component_token``) as the
    ``access_token`` query parameter."""

    auth = "component"

    def __init__(self, client: WxaClient) -> None:
        super().__init__(client, ComponentCredential(client.token_provider))

    def __repr__(self) -> str:
        return "ComponentHandle()"


#: Every endpoint of an authorized mini program, in table order.
ENDPOINTS: tuple[EndpointSpec, ...] = _table(MiniProgram)
#: Every endpoint of the platform's component handle, in table order.
COMPONENT_ENDPOINTS: tuple[EndpointSpec, ...] = _table(ComponentHandle)
