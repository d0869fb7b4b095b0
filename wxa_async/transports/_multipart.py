"""A ``multipart/form-data`` body of one file field, streamed in chunks.

WeChat's upload endpoints (``wxa/uploadmedia``, ``cgi-bin/component/uploadprivacyextfile``)
take one file in one form field. :class:`MultipartBody` is an async iterable of byte
chunks with a known ``Content-Length``, so httpx and aiohttp send it as it is read from
disk, never whole in memory, and never with chunked transfer encoding (which the
service does not need and some proxies refuse). Iterating it again starts over from
the beginning of the file: a retried request sends the same bytes.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from typing import IO

from ..errors import WxaTransportError

__all__ = ["CHUNK_SIZE", "MultipartBody"]

CHUNK_SIZE = 256 * 1024

FileSource = str | os.PathLike[str] | bytes | IO[bytes]


def _quote(value: str) -> str:
    # As browsers do (WHATWG's multipart/form-data encoding): ", CR and LF
    # percent-encoded, other text sent as UTF-8.
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


class MultipartBody:
    """One file in form field ``field`` as a multipart body.

    ``source`` is a path (opened on each iteration), ``bytes``, or a seekable binary
    file object (read from its position at construction; the caller keeps it open).
    ``size`` is the number of bytes of the file, as checked before sending."""

    __slots__ = ("_head", "_size", "_source", "_start", "_tail", "boundary")

    def __init__(
        self, field: str, source: FileSource, *, filename: str, content_type: str, size: int,
        boundary: str | None = None,
    ) -> None:
        self.boundary = boundary or f"wxa-async-{secrets.token_hex(16)}"
        self._source = source
        self._size = size
        self._start = 0 if isinstance(source, bytes | str | os.PathLike) else source.tell()
        self._head = (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="{_quote(field)}"; '
            f'filename="{_quote(filename)}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def content_length(self) -> int:
        return len(self._head) + self._size + len(self._tail)

    @property
    def headers(self) -> dict[str, str]:
        """What the request must carry for this body."""
        return {"Content-Type": self.content_type, "Content-Length": str(self.content_length)}

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        yield self._head
        source = self._source
        if isinstance(source, bytes):
            for start in range(0, len(source), CHUNK_SIZE):
                yield source[start : start + CHUNK_SIZE]
        elif isinstance(source, str | os.PathLike):
            # Opened here, and closed whatever happens to the request.
            with open(source, "rb") as file:  # noqa: ASYNC230 (reads go to a thread)
                async for chunk in self._read(file):
                    yield chunk
        else:
            source.seek(self._start)
            async for chunk in self._read(source):
                yield chunk
        yield self._tail

    async def _read(self, file: IO[bytes]) -> AsyncIterator[bytes]:
        # Exactly the size promised in Content-Length: a file that grew meanwhile is cut,
        # one that shrank is an error rather than a request that never ends.
        left = self._size
        while left > 0:
            chunk = await asyncio.to_thread(file.read, min(CHUNK_SIZE, left))
            if not chunk:
                raise WxaTransportError(
                    f"the upload ended {left} bytes short of the size it had when checked",
                    request_sent=True,
                )
            left -= len(chunk)
            yield chunk

    def __repr__(self) -> str:
        return f"<MultipartBody {self.content_length} bytes>"
