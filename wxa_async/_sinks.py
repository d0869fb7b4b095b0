"""Where a binary body goes: memory, a path, or a caller's file object.

A sink can be reset so a retried download starts clean, and a path sink writes to a
temporary file beside the destination that is renamed into place only on success, so
a failed download never leaves a partial file. Writes are synchronous: chunks are at
most 64 KiB, and a thread hop per chunk costs more throughput than the write itself.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import IO

__all__ = ["BytesSink", "FileObjectSink", "PathSink", "Sink", "open_sink"]

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once at import: os.umask can only be read by setting it


class Sink:
    #: held in memory (``max_binary_bytes`` applies) rather than written to a file
    #: (``max_file_bytes``)
    in_memory = False

    def write(self, chunk: bytes) -> None:
        raise NotImplementedError

    def reset(self) -> bool:
        """Forget what was written; False when that is impossible (no retry then)."""
        raise NotImplementedError

    def commit(self) -> None:
        """The download is complete."""

    def abort(self) -> None:
        """The download failed."""


class BytesSink(Sink):
    __slots__ = ("_chunks",)
    in_memory = True

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, chunk: bytes) -> None:
        self._chunks.append(chunk)

    def reset(self) -> bool:
        self._chunks.clear()
        return True

    def value(self) -> bytes:
        return b"".join(self._chunks)


class PathSink(Sink):
    def __init__(self, dest: str | os.PathLike[str]) -> None:
        self._dest = os.fspath(dest)
        directory = os.path.dirname(os.path.abspath(self._dest))
        try:
            fd, self._tmp = tempfile.mkstemp(
                prefix=f".{os.path.basename(self._dest)}.", suffix=".part", dir=directory
            )
        except OSError as exc:
            from .errors import WxaError

            raise WxaError(f"cannot write beside {self._dest!r}: {exc.strerror}") from None
        # mkstemp makes the file 0600; the finished file gets the usual umask mode.
        os.chmod(self._tmp, 0o666 & ~_UMASK)
        self._file = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)

    def reset(self) -> bool:
        self._file.seek(0)
        self._file.truncate()
        return True

    def commit(self) -> None:
        self._file.close()
        os.replace(self._tmp, self._dest)

    def abort(self) -> None:
        self._file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._tmp)


class FileObjectSink(Sink):
    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        self._dirty = False
        try:
            self._start: int | None = file.tell() if file.seekable() else None
        except OSError:
            self._start = None

    def write(self, chunk: bytes) -> None:
        self._dirty = True
        self._file.write(chunk)

    def reset(self) -> bool:
        if not self._dirty:
            return True
        if self._start is None:
            return False
        self._file.seek(self._start)
        self._file.truncate()
        return True

    def abort(self) -> None:
        # A failed download leaves a seekable file as it was.
        self.reset()


def open_sink(dest: str | os.PathLike[str] | IO[bytes]) -> Sink:
    if isinstance(dest, str | os.PathLike):
        return PathSink(dest)
    if not callable(getattr(dest, "write", None)):
        from .errors import WxaValidationError

        raise WxaValidationError(
            f"dest: must be a path or a writable binary file, got {type(dest).__name__}"
        )
    return FileObjectSink(dest)
