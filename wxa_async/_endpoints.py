"""THE endpoint table.

The body of :class:`MiniProgram` is the table: one line per endpoint giving HTTP method,
path, request class, response class and whether the call is idempotent (binary endpoints
use :class:`BinaryEndpoint`). The handle's methods, the emulator's routes, the CLI and
the README's endpoint table are all derived from it (see :data:`ENDPOINTS`).

Each entry is a descriptor. Its request class's ``__init__`` is captured with
``ParamSpec``, so ``app.submit_audit`` shows mypy and IDEs the real keyword signature.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, ClassVar, Generic, Literal, ParamSpec, TypeVar, overload

from ._converter import dumps, encode_request
from ._models import (
    AddQrcodeJumpRequest,
    AuditIdRequest,
    CategoryListResponse,
    ChangeVisitStatusRequest,
    CodePrivacyInfoResponse,
    CommitRequest,
    GetQrcodeRequest,
    GrayReleasePlanResponse,
    GrayReleaseRequest,
    LatestAuditStatusResponse,
    NoArguments,
    PageListResponse,
    QrcodeJumpFileResponse,
    QrcodeJumpPrefixRequest,
    QrcodeJumpRulesResponse,
    QuotaResponse,
    SetSupportVersionRequest,
    SubmitAuditRequest,
    SubmitAuditResponse,
    SupportVersionResponse,
    VersionInfoResponse,
    WxaRequest,
    WxaResponse,
)
from ._models import AuditStatusResponse as _AuditStatus

if TYPE_CHECKING:
    from ._client import WxaClient

__all__ = ["ENDPOINTS", "BinaryEndpoint", "Endpoint", "EndpointSpec", "MiniProgram"]

P = ParamSpec("P")
R = TypeVar("R", bound=WxaResponse)

Dest = str | os.PathLike[str] | IO[bytes]


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
    ) -> None:
        self.method = method
        self.path = path
        self.request = request
        self.response = response
        self.idempotent = idempotent
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
    ) -> None:
        super().__init__(method, path, request, response, idempotent=idempotent)

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Endpoint[P, R]: ...
    @overload
    def __get__(self, obj: MiniProgram, owner: type | None = None) -> BoundCall[P, R]: ...
    def __get__(self, obj: MiniProgram | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        bound = BoundCall(obj, self)
        obj.__dict__[self.name] = bound  # cached: later lookups skip this descriptor
        return bound


class BinaryEndpoint(EndpointSpec, Generic[P]):
    """An endpoint answering bytes (an image); JSON only on error."""

    binary = True

    def __init__(
        self, method: Literal["GET", "POST"], path: str, request: Callable[P, WxaRequest]
    ) -> None:
        super().__init__(method, path, request, WxaResponse, idempotent=True)

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> BinaryEndpoint[P]: ...
    @overload
    def __get__(self, obj: MiniProgram, owner: type | None = None) -> BoundBinaryCall[P]: ...
    def __get__(self, obj: MiniProgram | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        bound = BoundBinaryCall(obj, self)
        obj.__dict__[self.name] = bound
        return bound


class BoundCall(Generic[P, R]):
    """``app.<endpoint>``: call it with the request's fields."""

    __slots__ = ("_app", "_endpoint")

    def __init__(self, app: MiniProgram, endpoint: Endpoint[P, R]) -> None:
        self._app = app
        self._endpoint = endpoint

    async def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        request = self._endpoint.request(*args, **kwargs)
        result = await self._app.client._execute(self._app.appid, self._endpoint, request, None)
        return result  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"<{self._endpoint.name} of {self._app!r}>"


class BoundBinaryCall(Generic[P]):
    """``app.get_qrcode``: ``await`` it for bytes, or ``.to_file(dest, ...)`` to stream."""

    __slots__ = ("_app", "_endpoint")

    def __init__(self, app: MiniProgram, endpoint: BinaryEndpoint[P]) -> None:
        self._app = app
        self._endpoint = endpoint

    async def __call__(self, *args: P.args, **kwargs: P.kwargs) -> bytes:
        from ._sinks import BytesSink

        request = self._endpoint.request(*args, **kwargs)
        sink = BytesSink()
        await self._app.client._execute(self._app.appid, self._endpoint, request, sink)
        return sink.value()

    async def to_file(self, dest: Dest, /, *args: P.args, **kwargs: P.kwargs) -> int:
        """Stream the body into ``dest`` (a path or a writable binary file object) in
        chunks and return the number of bytes written. At a path, the file appears
        only when the download is complete: a failure leaves no partial file."""
        from ._sinks import open_sink

        request = self._endpoint.request(*args, **kwargs)
        sink = open_sink(dest)
        try:
            written: int = await self._app.client._execute(
                self._app.appid, self._endpoint, request, sink
            )
        except BaseException:
            sink.abort()
            raise
        sink.commit()
        return written

    def __repr__(self) -> str:
        return f"<{self._endpoint.name} of {self._app!r}>"


class MiniProgram:
    """A handle bound to one authorized mini program: ``client.app(appid)``.

    The class body below is the endpoint table of the whole SDK.
    """

    # -- seed: 代码管理 ---------------------------------------------------------------
    commit = Endpoint("POST", "wxa/commit", CommitRequest, WxaResponse, idempotent=False)
    get_qrcode = BinaryEndpoint("GET", "wxa/get_qrcode", GetQrcodeRequest)
    get_category = Endpoint(
        "GET", "wxa/get_category", NoArguments, CategoryListResponse, idempotent=True
    )
    get_page = Endpoint("GET", "wxa/get_page", NoArguments, PageListResponse, idempotent=True)
    submit_audit = Endpoint(
        "POST", "wxa/submit_audit", SubmitAuditRequest, SubmitAuditResponse, idempotent=False
    )
    get_audit_status = Endpoint(
        "POST", "wxa/get_auditstatus", AuditIdRequest, _AuditStatus, idempotent=True
    )
    get_latest_audit_status = Endpoint(
        "GET", "wxa/get_latest_auditstatus", NoArguments, LatestAuditStatusResponse,
        idempotent=True,
    )
    release = Endpoint("POST", "wxa/release", NoArguments, WxaResponse, idempotent=False)
    change_visit_status = Endpoint(
        "POST", "wxa/change_visitstatus", ChangeVisitStatusRequest, WxaResponse,
        idempotent=False,
    )
    # A GET that changes state: retrying it blindly could revert twice. Not idempotent.
    revert_code_release = Endpoint(
        "GET", "wxa/revertcoderelease", NoArguments, WxaResponse, idempotent=False
    )
    get_support_version = Endpoint(
        "POST", "cgi-bin/wxopen/getweappsupportversion", NoArguments, SupportVersionResponse,
        idempotent=True,
    )
    set_support_version = Endpoint(
        "POST", "cgi-bin/wxopen/setweappsupportversion", SetSupportVersionRequest, WxaResponse,
        idempotent=False,
    )
    add_qrcode_jump = Endpoint(
        "POST", "cgi-bin/wxopen/qrcodejumpadd", AddQrcodeJumpRequest, WxaResponse,
        idempotent=False,
    )
    get_qrcode_jump = Endpoint(
        "POST", "cgi-bin/wxopen/qrcodejumpget", NoArguments, QrcodeJumpRulesResponse,
        idempotent=True,
    )
    # Each call makes the service issue a new random verification file: not a pure read.
    download_qrcode_jump_file = Endpoint(
        "POST", "cgi-bin/wxopen/qrcodejumpdownload", NoArguments, QrcodeJumpFileResponse,
        idempotent=False,
    )
    delete_qrcode_jump = Endpoint(
        "POST", "cgi-bin/wxopen/qrcodejumpdelete", QrcodeJumpPrefixRequest, WxaResponse,
        idempotent=False,
    )
    publish_qrcode_jump = Endpoint(
        "POST", "cgi-bin/wxopen/qrcodejumppublish", QrcodeJumpPrefixRequest, WxaResponse,
        idempotent=False,
    )
    # GET, but it spends the once-a-day undo quota (87013): never retried.
    undo_code_audit = Endpoint(
        "GET", "wxa/undocodeaudit", NoArguments, WxaResponse, idempotent=False
    )
    gray_release = Endpoint(
        "POST", "wxa/grayrelease", GrayReleaseRequest, WxaResponse, idempotent=False
    )
    revert_gray_release = Endpoint(
        "GET", "wxa/revertgrayrelease", NoArguments, WxaResponse, idempotent=False
    )
    get_gray_release_plan = Endpoint(
        "GET", "wxa/getgrayreleaseplan", NoArguments, GrayReleasePlanResponse, idempotent=True
    )
    # -- newer endpoints from WeChat's current docs ----------------------------------
    speedup_audit = Endpoint(
        "POST", "wxa/speedupaudit", AuditIdRequest, WxaResponse, idempotent=False
    )
    query_quota = Endpoint("GET", "wxa/queryquota", NoArguments, QuotaResponse, idempotent=True)
    get_code_privacy_info = Endpoint(
        "GET", "wxa/security/get_code_privacy_info", NoArguments, CodePrivacyInfoResponse,
        idempotent=True,
    )
    get_version_info = Endpoint(
        "POST", "wxa/getversioninfo", NoArguments, VersionInfoResponse, idempotent=True
    )

    def __init__(self, client: WxaClient, appid: str) -> None:
        self.client = client
        self.appid = appid

    def __repr__(self) -> str:
        return f"MiniProgram(appid={self.appid!r})"


#: Every endpoint, in table order.
ENDPOINTS: tuple[EndpointSpec, ...] = tuple(
    value for value in vars(MiniProgram).values() if isinstance(value, EndpointSpec)
)
