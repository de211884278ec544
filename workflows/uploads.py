"""Read an uploaded file as a stream, within the upload size limit. No ORM access.

Every import (recipients, eval datasets, campaign outcomes; admin forms and commands alike)
reads its file through ``Upload``: bytes, a Django ``UploadedFile`` or an open binary file,
pulled in chunks and never past ``MARKETINGAI_MAX_UPLOAD_BYTES``. CSV is parsed line by line
from ``Upload.lines()``; JSON, which the standard library cannot stream, is read whole by
``Upload.read_text()``, so the limit is what bounds its memory.
"""

from __future__ import annotations

import codecs
import io
import os
from collections.abc import Iterator
from typing import IO, Any, Union

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File

CHUNK_BYTES = 64 * 1024
UTF8_BOM = b"\xef\xbb\xbf"
BLANK_BYTES = b" \t\r\n\x0b\x0c"
# What an import reads: bytes, a Django (uploaded) file, or a binary file opened by a command.
UploadSource = Union[bytes, File, IO[bytes]]


class UploadError(ValueError):
    """The file cannot be read as an upload; the message is one plain sentence."""


class UploadTooLarge(UploadError):
    pass


class NotUtf8(UploadError):
    pass


def max_upload_bytes() -> int:
    return settings.MARKETINGAI_MAX_UPLOAD_BYTES


def describe_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.3g} MB"
    if size >= 1024:
        return f"{size / 1024:.3g} KB"
    return f"{size} bytes"


def too_large_message(limit: int) -> str:
    return f"The file is larger than the upload limit of {describe_size(limit)} (MARKETINGAI_MAX_UPLOAD_BYTES)."


def validate_upload_size(upload) -> None:
    """Form field validator: refuse an upload over the limit before anything reads it."""
    limit = max_upload_bytes()
    if upload is not None and getattr(upload, "size", 0) > limit:
        raise ValidationError(too_large_message(limit), code="file_too_large")


FORMATS = ("csv", "json")
# An import form's format field: detect it, or name one.
FORMAT_CHOICES = [("auto", "Detect from the file"), *((f, f.upper()) for f in FORMATS)]


def chosen_format(format: str | None, *, what: str) -> str | None:
    """The format a caller named (csv or json), None to detect it; raise ValueError for another.

    ``what`` names the file in the message: "recipient", "dataset".
    """
    if not format:
        return None
    chosen = format.strip().lower()
    if chosen not in FORMATS:
        raise ValueError(f"Unknown {what} file format {format!r}: use csv or json.")
    return chosen


def scalar_text(value: Any) -> str:
    """Text of a scalar field of an imported row; numbers are written out, structures are refused."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"must be text, got {type(value).__name__}")


def format_from(*, filename: str, first_byte: bytes) -> str:
    """csv or json from the file extension, else from the first non-blank byte."""
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension in FORMATS:
        return extension
    return "json" if first_byte in (b"[", b"{") else "csv"


def _known_size(source: Any) -> int | None:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return len(source)
    if getattr(source, "size", None) is not None:
        return source.size
    try:
        return os.fstat(source.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None


def _source_chunks(source: Any) -> Iterator[bytes]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source)
        for start in range(0, len(view), CHUNK_BYTES):
            yield bytes(view[start : start + CHUNK_BYTES])
    elif hasattr(source, "chunks"):  # django.core.files.File and its uploads
        yield from source.chunks(CHUNK_BYTES)
    else:
        yield from iter(lambda: source.read(CHUNK_BYTES), b"")


class Upload:
    """One file read once, in chunks: peek at its start, then read it as UTF-8 lines or text.

    Raises ``UploadTooLarge`` as soon as more than ``limit`` bytes arrive and ``NotUtf8``
    (naming the byte, its offset and line) at the first byte that is not UTF-8.
    """

    def __init__(self, source: Any, *, limit: int | None = None) -> None:
        self.limit = max_upload_bytes() if limit is None else limit
        known_size = _known_size(source)
        if known_size is not None and known_size > self.limit:
            raise UploadTooLarge(too_large_message(self.limit))
        self._chunks = _source_chunks(source)
        self._peeked: list[bytes] = []
        self._received = 0
        self._started = False

    def _next_chunk(self) -> bytes | None:
        for chunk in self._chunks:
            if not chunk:
                continue
            self._received += len(chunk)
            if self._received > self.limit:
                raise UploadTooLarge(too_large_message(self.limit))
            return chunk
        return None

    def first_byte(self) -> bytes:
        """The first byte that is not blank (after a BOM), or b"" for a blank file; reads no more than it must."""
        while sum(map(len, self._peeked)) < len(UTF8_BOM):
            chunk = self._next_chunk()
            if chunk is None:
                break
            self._peeked.append(chunk)
        if len(self._peeked) > 1:
            self._peeked = [b"".join(self._peeked)]
        index = 0
        while True:
            if index == len(self._peeked):
                chunk = self._next_chunk()
                if chunk is None:
                    return b""
                self._peeked.append(chunk)
            piece = self._peeked[index]
            if index == 0 and piece.startswith(UTF8_BOM):
                piece = piece[len(UTF8_BOM) :]
            stripped = piece.lstrip(BLANK_BYTES)
            if stripped:
                return stripped[:1]
            index += 1

    def chunks(self) -> Iterator[bytes]:
        if self._started:
            raise RuntimeError("An upload is read once.")
        self._started = True
        yield from self._peeked
        self._peeked = []
        while (chunk := self._next_chunk()) is not None:
            yield chunk

    def _utf8_chunks(self) -> Iterator[bytes]:
        """The raw chunks, each checked to be UTF-8 so far."""
        decoder = codecs.getincrementaldecoder("utf-8")()
        offset = 0  # bytes before this chunk
        lines = 0  # newlines before this chunk
        for chunk in self.chunks():
            pending = decoder.getstate()[0]
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise _not_utf8(exc, offset - len(pending), lines) from None
            offset += len(chunk)
            lines += chunk.count(b"\n")
            yield chunk
        pending = decoder.getstate()[0]
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise _not_utf8(exc, offset - len(pending), lines) from None

    def lines(self) -> io.TextIOWrapper:
        """The text, line by line as ``csv.reader`` wants it (newline=""), a leading BOM dropped."""
        raw = _ChunkStream(self._utf8_chunks())
        return io.TextIOWrapper(
            io.BufferedReader(raw, CHUNK_BYTES), encoding="utf-8-sig", newline=""
        )

    def read_text(self) -> str:
        """The whole text (bounded by the limit), a leading BOM dropped."""
        data = b"".join(self._utf8_chunks())
        return data[len(UTF8_BOM) :].decode() if data.startswith(UTF8_BOM) else data.decode()


def _not_utf8(exc: UnicodeDecodeError, base: int, lines_before: int) -> NotUtf8:
    offset = base + exc.start
    line = lines_before + exc.object[: exc.start].count(b"\n") + 1
    return NotUtf8(
        f"The file is not UTF-8 text: byte 0x{exc.object[exc.start]:02x} at byte offset {offset} (line {line}) "
        "is not valid UTF-8. Re-export the file as UTF-8 (in Excel: 'CSV UTF-8')."
    )


class _ChunkStream(io.RawIOBase):
    """A readable raw stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._rest = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._rest:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._rest = chunk
        size = min(len(buffer), len(self._rest))
        buffer[:size] = self._rest[:size]
        self._rest = self._rest[size:]
        return size
