"""Upload endpoints: a POST whose body is one file in a ``multipart/form-data`` field.

The request class checks the file (kind, size) and carries it as an ``upload``
(:class:`~wxa_async.models.Upload`); the line of the table names the form field. The
body is streamed from disk by the transport (see ``transports/_multipart``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic

from ..models import WxaRequest
from ..transports._multipart import MultipartBody
from ._spec import Endpoint, P, R

__all__ = ["UploadEndpoint"]


class UploadEndpoint(Endpoint[P, R], Generic[P, R]):
    """``POST path`` with the request's file in form field ``field``; a mutation."""

    body_kind = "multipart"

    def __init__(
        self, path: str, request: Callable[P, WxaRequest], response: type[R], *, field: str
    ) -> None:
        super().__init__("POST", path, request, response, idempotent=False)
        self.field = field

    def _encode(self, request: WxaRequest) -> tuple[dict[str, str], Any]:
        upload = request.upload  # type: ignore[attr-defined]
        body = MultipartBody(self.field, upload.source, filename=upload.filename,
                             content_type=upload.content_type, size=upload.size)
        return {}, body
