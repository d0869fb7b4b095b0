"""Models of the uploads: media for an audit (``upload_media``), the privacy ext file."""

from __future__ import annotations

import attrs

from ._base import WxaResponse

__all__ = ["UploadMediaResponse", "UploadPrivacyExtFileResponse"]


@attrs.define
class UploadMediaResponse(WxaResponse):
    """``mediaid`` is valid for 3 days (for ``submit_audit``'s ``preview_info`` and
    ``feedback_stuff``); ``type`` is ``image`` or ``video``."""

    type: str = ""
    mediaid: str = ""


@attrs.define
class UploadPrivacyExtFileResponse(WxaResponse):
    """``ext_file_media_id`` goes into ``owner_setting`` of ``set_privacy_setting``."""

    ext_file_media_id: str = ""
