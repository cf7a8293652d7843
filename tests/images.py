"""Tiny valid images built in the tests themselves (no image library, no files on disk)."""

from __future__ import annotations

import struct
import zlib

__all__ = ["jpeg", "png"]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int = 3, height: int = 2, *, shade: int = 0) -> bytes:
    """A truecolor PNG of `width` × `height` pixels; `shade` makes images with different bytes."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = bytes([0]) + bytes([shade % 256, 80, 160]) * width  # filter byte "None", then RGB pixels
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(row * height))
        + _chunk(b"IEND", b"")
    )


def jpeg(width: int = 3, height: int = 2, *, comment: bytes = b"") -> bytes:
    """A baseline JPEG's structure (JFIF header, frame header with its size, an optional comment):
    what the networks read of a file's type and size. `comment` pads it (≤ 65,533 bytes)."""
    jfif = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    components = b"\x01\x11\x00\x02\x11\x01\x03\x11\x01"
    frame = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + components
    note = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment if comment else b""
    return b"\xff\xd8" + jfif + frame + note + b"\xff\xd9"
