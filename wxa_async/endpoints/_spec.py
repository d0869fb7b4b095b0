"""What a line of an endpoint table is: the descriptors and the calls they bind.

An endpoint table is a class body of :class:`Endpoint` and :class:`BinaryEndpoint`
lines giving HTTP method, path, request class, response class and whether the call is
idempotent. On a handle (``client.app(appid)``) each line becomes an async method; its
request class's ``__init__`` is captured with ``ParamSpec``, so ``app.submit_audit``
shows mypy and IDEs the real keyword signature.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, ClassVar, Generic, Literal, ParamSpec, TypeVar, overload

from .._converter import dumps, encode_request
from ..models import NoArguments, WxaRequest, WxaResponse

if TYPE_CHECKING:
    from .._handle import Handle

__all__ = [
    "Auth",
    "BinaryEndpoint",
    "BoundBinaryCall",
    "BoundCall",
    "Endpoint",
    "EndpointSpec",
]

P = ParamSpec("P")
R = TypeVar("R", bound=WxaResponse)

Dest = str | os.PathLike[str] | IO[bytes]
#: Which access token a line sends: an authorizer's (``client.app(appid)``), the
#: platform's component token (``client.component()``), or none.
Auth = Literal["authorizer", "component"] | None


class EndpointSpec:
    """What every endpoint declares; shared by JSON and binary endpoints."""

    binary: ClassVar[bool] = False
    name: str

    def __init__(
        self,
        method: Literal["GET", "POST"],
        path: str,
        request: Callable[..., WxaRequest],
        response: type[WxaResponse],
        *,
        idempotent: bool,
        auth: Auth = "authorizer",
        auth_param: str = "access_token",
    ) -> None:
        self.method = method
        self.path = path
        self.request = request
        self.response = response
        self.idempotent = idempotent
        self.auth = auth
        self.auth_param = auth_param
        self._no_arguments: tuple[dict[str, str], bytes | None] | None = None

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def encode(self, request: WxaRequest) -> tuple[dict[str, str], bytes | None]:
        """Query parameters (the token excluded) and JSON body of one call.

        GET endpoints carry their fields in the query; POST endpoints always send a
        JSON object, ``{}`` when there are no fields (the service requires it)."""
        if type(request) is NoArguments:
            # Most endpoints take no arguments: encode that once per endpoint.
            cached = self._no_arguments
            if cached is None:
                cached = self._no_arguments = self._encode(request)
            return cached
        return self._encode(request)

    def _encode(self, request: WxaRequest) -> tuple[dict[str, str], bytes | None]:
        fields = encode_request(request)
        if self.method == "GET":
            return {key: str(value) for key, value in fields.items()}, None
        return {}, dumps(fields)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}: {self.method} {self.path}>"


class Endpoint(EndpointSpec, Generic[P, R]):
    """A JSON endpoint; on a handle it becomes ``async (**request fields) -> R``."""

    def __init__(
        self,
        method: Literal["GET", "POST"],
        path: str,
        request: Callable[P, WxaRequest],
        response: type[R],
        *,
        idempotent: bool,
        auth: Auth = "authorizer",
        auth_param: str = "access_token",
    ) -> None:
        super().__init__(
            method, path, request, response, idempotent=idempotent, auth=auth,
            auth_param=auth_param,
        )

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Endpoint[P, R]: ...
    @overload
    def __get__(self, obj: Handle, owner: type | None = None) -> BoundCall[P, R]: ...
    def __get__(self, obj: Handle | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        bound = BoundCall(obj, self)
        obj.__dict__[self.name] = bound  # cached: later lookups skip this descriptor
        return bound


class BinaryEndpoint(EndpointSpec, Generic[P]):
    """An endpoint answering bytes (an image); JSON only on error."""

    binary = True

    def __init__(
        self, method: Literal["GET", "POST"], path: str, request: Callable[P, WxaRequest],
        *, auth: Auth = "authorizer",
    ) -> None:
        super().__init__(method, path, request, WxaResponse, idempotent=True, auth=auth)

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> BinaryEndpoint[P]: ...
    @overload
    def __get__(self, obj: Handle, owner: type | None = None) -> BoundBinaryCall[P]: ...
    def __get__(self, obj: Handle | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        bound = BoundBinaryCall(obj, self)
        obj.__dict__[self.name] = bound
        return bound


class BoundCall(Generic[P, R]):
    """``app.<endpoint>``: call it with the request's fields."""

    __slots__ = ("_app", "_endpoint")

    def __init__(self, app: Handle, endpoint: Endpoint[P, R]) -> None:
        self._app = app
        self._endpoint = endpoint

    async def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        request = self._endpoint.request(*args, **kwargs)
        result = await self._app._call(self._endpoint, request, None)
        return result  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"<{self._endpoint.name} of {self._app!r}>"


class BoundBinaryCall(Generic[P]):
    """``app.get_qrcode``: ``await`` it for bytes, or ``.to_file(dest, ...)`` to stream."""

    __slots__ = ("_app", "_endpoint")

    def __init__(self, app: Handle, endpoint: BinaryEndpoint[P]) -> None:
        self._app = app
        self._endpoint = endpoint

    async def __call__(self, *args: P.args, **kwargs: P.kwargs) -> bytes:
        from .._sinks import BytesSink

        request = self._endpoint.request(*args, **kwargs)
        sink = BytesSink()
        await self._app._call(self._endpoint, request, sink)
        return sink.value()

    async def to_file(self, dest: Dest, /, *args: P.args, **kwargs: P.kwargs) -> int:
        """Stream the body into ``dest`` (a path or a writable binary file object) in
        chunks and return the number of bytes written. At a path, the file appears
        only when the download is complete: a failure leaves no partial file."""
        from .._sinks import open_sink

        request = self._endpoint.request(*args, **kwargs)
        sink = open_sink(dest)
        try:
            written: int = await self._app._call(self._endpoint, request, sink)
        except BaseException:
            sink.abort()
            raise
        sink.commit()
        return written

    def __repr__(self) -> str:
        return f"<{self._endpoint.name} of {self._app!r}>"


