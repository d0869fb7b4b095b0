"""The media table: files uploaded for an audit (提审素材); MiniProgram inherits it."""

from __future__ import annotations

from ..models import UploadMediaRequest, UploadMediaResponse
from ._upload import UploadEndpoint

__all__ = ["MediaEndpoints"]


class MediaEndpoints:
    """Audit media: screenshots and recordings for ``submit_audit``'s ``preview_info``."""

    # Each call stores a new file and answers a new media id: a mutation.
    upload_media = UploadEndpoint(
        "wxa/uploadmedia", UploadMediaRequest, UploadMediaResponse, field="media"
    )
