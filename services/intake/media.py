"""Attachments uploaded at the agency: `POST /v1/media`, kept durably until a post names them.

The bytes go to `<data_dir>/media/<id>` (written under a temporary name, fsynced, renamed, the
directory fsynced) and a row in the outbox database records type, size and SHA-256: a 201 means
both are on disk, as a 202 does for a post. The type comes from the file's first bytes, never
from its name or declared type. The relay later copies each file to the hub's object store.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import zipfile
from pathlib import Path
from typing import IO

import structlog
from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from services.intake.api_types import MediaStored
from services.intake.handlers import claims_for_agency
from services.intake.keys import DATABASE, SETTINGS
from services.intake.store import insert_media
from shared.api_contract import typed_json
from shared.http_body import next_part, read_multipart
from shared.ids import new_post_id, utc_now
from shared.networks.facts import CAPTION_MAX_BYTES, CAPTION_TYPE
from shared.web import json_error

__all__ = ["sniff_content_type", "upload_media"]

log = structlog.get_logger("relais.intake.media")

CHUNK = 256 * 1024
_UNSUPPORTED = (
    "the file is not JPEG, PNG, GIF, WebP, MP4, PDF, PPTX, ODP or WebVTT captions"
    " (judged by its content, not its name)"
)
_NOT_VTT = "a WebVTT caption file must be UTF-8 text"
# WebVTT (W3C, "WebVTT file structure"): an optional BOM, "WEBVTT", then a space, tab or line end.
_VTT = re.compile(rb"(\xef\xbb\xbf)?WEBVTT([ \t\r\n]|$)")
_MALFORMED = "the multipart/form-data body is malformed; send one part named file"
_HEAD = 96  # enough bytes to tell every accepted type apart (an ODP's `mimetype` entry is at 30–84)
_ZIP = b"PK\x03\x04"
_ODP = b"mimetypeapplication/vnd.oasis.opendocument.presentation"
_PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
_OFFICE_ZIP = "application/zip"  # a zip whose head does not tell: a PPTX only if its parts say so
# ISO base media files whose major brand is an MP4 one (not QuickTime, HEIF/AVIF images or 3GP).
_MP4_BRANDS = frozenset(
    {
        b"isom",
        b"iso2",
        b"iso3",
        b"iso4",
        b"iso5",
        b"iso6",
        b"mp41",
        b"mp42",
        b"avc1",
        b"M4V ",
        b"dash",
        b"mmp4",
    }
)


def sniff_content_type(head: bytes) -> str | None:
    """The media type of a file from its first bytes (magic numbers), or None if not accepted."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in _MP4_BRANDS:
        return "video/mp4"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if _VTT.match(head):
        return CAPTION_TYPE
    if head.startswith(_ZIP):
        # OpenDocument: the first entry is `mimetype`, stored uncompressed (ODF 1.2, part 3, 3.3).
        if head[30 : 30 + len(_ODP)] == _ODP:
            return "application/vnd.oasis.opendocument.presentation"
        return _OFFICE_ZIP
    return None


def _is_text(path: Path) -> bool:
    """Whether the (small: at most `CAPTION_MAX_BYTES`) file at `path` is UTF-8 without NUL."""
    try:
        return "\x00" not in path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return False


def _presentation_in_zip(path: Path) -> str | None:
    """PPTX when the zip at `path` holds a PresentationML main part (ECMA-376 part 2), else None."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return None
    return _PPTX if {"[Content_Types].xml", "ppt/presentation.xml"} <= names else None


class _DurableFile:
    """A file received in chunks: visible under its final name only once it is whole and on disk.

    Its methods block (file I/O, fsync): call them in a worker thread.
    """

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.final = directory / name
        self.partial = directory / f".{name}.part"
        self._file: IO[bytes] | None = None

    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._file = self.partial.open("wb")

    def write(self, chunk: bytes) -> None:
        assert self._file is not None
        self._file.write(chunk)

    def flush(self) -> None:
        assert self._file is not None
        self._file.flush()

    def commit(self) -> None:
        assert self._file is not None
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.partial, self.final)
        # The rename itself must survive a power cut: fsync the directory entry too.
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
        self.partial.unlink(missing_ok=True)


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = "file") -> None:
        super().__init__(message)
        self.code = code
        self.response = json_error(status, code, message, field)


async def upload_media(request: web.Request) -> web.Response:
    """Store one attachment (multipart part `file`) and answer 201 `{"id", "content_type", "size"}`."""
    claims = claims_for_agency(request)
    settings, db = request.app[SETTINGS], request.app[DATABASE]
    media_id = new_post_id(settings.agency)
    target = _DurableFile(settings.media_dir, media_id)
    try:
        reader = await _multipart(request, settings.media_max_bytes)
        part = await next_part(reader)
        if part is None:
            raise _Refused(400, "missing_field", "send the file in a part named file")
        if part.name != "file":
            raise _Refused(400, "unknown_field", f"unknown part {part.name!r}; send one part named file")
        content_type, size, digest = await _receive(part, target, settings.media_max_bytes)
        try:
            if await next_part(reader) is not None:
                raise _Refused(400, "unknown_field", "send only one part, named file", None)
            await asyncio.to_thread(target.commit)
        except BaseException:
            await asyncio.to_thread(target.discard)
            raise
    except _Refused as refused:
        log.info("media.refused", agency=settings.agency, code=refused.code)
        return refused.response
    insert_media(
        db,
        {
            "id": media_id,
            "agency": settings.agency,
            "content_type": content_type,
            "size": size,
            "sha256": digest,
            "uploaded_by": claims.subject,
            "created_at": utc_now(),
        },
    )
    log.info("media.stored", agency=settings.agency, media_id=media_id, content_type=content_type, size=size)
    return typed_json(MediaStored(media_id, content_type, size), MediaStored, 201)


async def _multipart(request: web.Request, max_bytes: int) -> MultipartReader:
    reader = await read_multipart(request)
    # A declared length far over the cap is refused before reading (the form's own bytes aside).
    if request.content_length is not None and request.content_length > max_bytes + CHUNK:
        raise _Refused(413, "media_too_large", f"a medium may be at most {max_bytes} bytes")
    return reader


async def _chunk(part: BodyPartReader) -> bytes:
    try:
        return await part.read_chunk(CHUNK)
    except (HttpProcessingError, ValueError):  # the body ends inside the part
        raise _Refused(400, "invalid_body", _MALFORMED, None) from None


async def _receive(part: BodyPartReader, target: _DurableFile, max_bytes: int) -> tuple[str, int, str]:
    """Stream the part to disk, checking its type first and its size throughout."""
    head = b""
    while len(head) < _HEAD and (chunk := await _chunk(part)):
        head += chunk
    content_type = sniff_content_type(head)
    if content_type is None:
        raise _Refused(415, "unsupported_media_type", _UNSUPPORTED)
    if content_type == CAPTION_TYPE:
        max_bytes = min(max_bytes, CAPTION_MAX_BYTES)
    digest, size = hashlib.sha256(), 0
    await asyncio.to_thread(target.open)
    try:
        while head:
            size += len(head)
            if size > max_bytes:
                what = "a caption file" if content_type == CAPTION_TYPE else "a medium"
                raise _Refused(413, "media_too_large", f"{what} may be at most {max_bytes} bytes")
            digest.update(head)
            await asyncio.to_thread(target.write, head)
            head = await _chunk(part)
        if content_type == _OFFICE_ZIP:
            await asyncio.to_thread(target.flush)
            if (content_type := await asyncio.to_thread(_presentation_in_zip, target.partial)) is None:
                raise _Refused(415, "unsupported_media_type", _UNSUPPORTED)
        if content_type == CAPTION_TYPE:
            await asyncio.to_thread(target.flush)
            if not await asyncio.to_thread(_is_text, target.partial):
                raise _Refused(415, "unsupported_media_type", _NOT_VTT)
    except BaseException:
        await asyncio.to_thread(target.discard)
        raise
    return content_type, size, digest.hexdigest()
