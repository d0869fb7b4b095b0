"""Models of the uploads: media for an audit (``upload_media``), the privacy ext file.

An upload is given as a path, ``bytes`` or a seekable binary file object; it is checked
(kind by file name, size) before anything is sent, and streamed from disk when sent.
"""

from __future__ import annotations

import os
from typing import IO, Any

import attrs

from ..errors import WxaValidationError
from ._base import WxaRequest, WxaResponse, _text

__all__ = [
    "MEDIA_KINDS",
    "PRIVACY_EXT_FILE_KINDS",
    "FileSource",
    "Upload",
    "UploadMediaRequest",
    "UploadMediaResponse",
    "UploadPrivacyExtFileRequest",
    "UploadPrivacyExtFileResponse",
]

FileSource = str | os.PathLike[str] | bytes | IO[bytes]

_MB = 1024 * 1024

#: file name extension -> (content type, largest size in bytes, WeChat's ``type``)
MEDIA_KINDS: dict[str, tuple[str, int, str]] = {
    ".png": ("image/png", 2 * _MB, "image"),
    ".jpeg": ("image/jpeg", 2 * _MB, "image"),
    ".jpg": ("image/jpeg", 2 * _MB, "image"),
    ".gif": ("image/gif", 2 * _MB, "image"),
    ".mp4": ("video/mp4", 10 * _MB, "video"),
}
PRIVACY_EXT_FILE_KINDS: dict[str, tuple[str, int, str]] = {
    ".txt": ("text/plain", 100 * 1024, "file"),
}


@attrs.frozen
class Upload:
    """A checked upload: where its bytes come from, and what the form part says."""

    source: FileSource = attrs.field(repr=False)
    filename: str
    content_type: str
    size: int
    kind: str


def _fail(field: str, problem: str, errcode: int | None = None) -> WxaValidationError:
    return WxaValidationError(f"{field}: {problem}", field=field, errcode=errcode)


def _measure(source: Any, field: str) -> tuple[int, str | None]:
    """Size in bytes and the name it carries (None for bytes and nameless files)."""
    if isinstance(source, bytes):
        return len(source), None
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise _fail(field, "no such file")
        return os.path.getsize(path), os.path.basename(path)
    read, seek, tell = (getattr(source, name, None) for name in ("read", "seek", "tell"))
    if read is None or seek is None or tell is None:
        raise _fail(field, f"must be a path, bytes or a binary file object, got "
                           f"{type(source).__name__}")
    try:
        binary = isinstance(read(0), bytes)
        if binary:
            start = tell()
            end = seek(0, os.SEEK_END)
            seek(start)
    except (OSError, ValueError) as exc:  # closed, or not seekable (a pipe)
        raise _fail(field, f"the file object must be open and seekable "
                           f"({type(exc).__name__})") from None
    if not binary:
        raise _fail(field, "the file object must be opened in binary mode ('rb')")
    name = getattr(source, "name", None)
    return end - start, os.path.basename(name) if isinstance(name, str) else None


def check_upload(
    source: FileSource, filename: str | None, field: str,
    kinds: dict[str, tuple[str, int, str]], *, type_errcode: int, size_errcode: int,
) -> Upload:
    """``source`` measured and checked against ``kinds`` (by the file name's
    extension), without reading it."""
    if isinstance(source, bytearray | memoryview):
        source = bytes(source)
    size, carried = _measure(source, field)
    name = filename or carried
    if not name:
        raise _fail(field, "filename= is required for bytes and nameless file objects")
    extension = os.path.splitext(name)[1].lower()
    if extension not in kinds:
        allowed = ", ".join(sorted(kinds))
        raise _fail(field, f"{name!r} is not one of {allowed}", type_errcode)
    content_type, largest, kind = kinds[extension]
    if size <= 0:
        raise _fail(field, "the file is empty", size_errcode)
    if size > largest:
        raise _fail(field, f"{size} bytes is over the {largest} bytes allowed for "
                           f"{extension}", size_errcode)
    return Upload(source, name, content_type, size, kind)


_filename = _text(nonempty=True, optional=True)


@attrs.frozen
class UploadMediaRequest(WxaRequest):
    """An image (png, jpeg, jpg, gif, at most 2 MB) or a video (mp4, at most 10 MB)
    for ``submit_audit``: a path, ``bytes`` or a seekable binary file object;
    ``filename`` is required for bytes and nameless file objects."""

    media: FileSource = attrs.field(repr=False)
    filename: str | None = attrs.field(default=None, kw_only=True, validator=_filename)
    upload: Upload = attrs.field(init=False, eq=False)

    def __attrs_post_init__(self) -> None:
        upload = check_upload(self.media, self.filename, "media", MEDIA_KINDS,
                              type_errcode=40005, size_errcode=40006)
        object.__setattr__(self, "upload", upload)


@attrs.frozen
class UploadPrivacyExtFileRequest(WxaRequest):
    """The privacy guide's supplementary file: a ``.txt`` file of at most 100 KB."""

    file: FileSource = attrs.field(repr=False)
    filename: str | None = attrs.field(default=None, kw_only=True, validator=_filename)
    upload: Upload = attrs.field(init=False, eq=False)

    def __attrs_post_init__(self) -> None:
        upload = check_upload(self.file, self.filename, "file", PRIVACY_EXT_FILE_KINDS,
                              type_errcode=87072, size_errcode=87072)
        object.__setattr__(self, "upload", upload)


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
