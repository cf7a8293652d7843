"""Tiny valid images built in the tests themselves (no image library, no files on disk)."""

from __future__ import annotations

import struct
import zlib

__all__ = ["png"]


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
