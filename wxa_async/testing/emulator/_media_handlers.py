"""Handlers of the uploads: audit media (ids valid 3 days) and privacy ext files."""

from __future__ import annotations

import math
from typing import Any

from ...models import UploadMediaResponse, UploadPrivacyExtFileResponse, WxaResponse
from ._core import EmulatorCore
from ._state import AppState, Media


class MediaHandlers(EmulatorCore):
    """Uploads: the multipart form was parsed and the file checked by the request
    class, as the SDK checks it; what is stored here is what later calls refer to."""

    def _store(self, req: Any, kind: str, lifetime: float) -> Media:
        upload = req.upload
        media_id = f"{kind}_{self._rng.getrandbits(96):024x}"
        media = Media(media_id, kind, upload.filename, upload.content_type, upload.size,
                      self.clock.now() + lifetime)
        self.media[media_id] = media
        return media

    def _op_upload_media(self, app: AppState, req: Any) -> WxaResponse:
        media = self._store(req, req.upload.kind, self.limits.media_lifetime)
        return UploadMediaResponse(type=media.type, mediaid=media.media_id)

    def _op_upload_privacy_ext_file(self, app: AppState, req: Any) -> WxaResponse:
        media = self._store(req, "privacy_ext_file", math.inf)
        return UploadPrivacyExtFileResponse(ext_file_media_id=media.media_id)
