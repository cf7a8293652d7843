"""Valid images built in the tests themselves, no files on disk: tiny hand-built PNGs and JPEG
headers, and real files encoded by Pillow (dev only) where a viewer's reading matters."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

__all__ = ["animation", "encoded", "exif", "jpeg", "oriented_jpeg", "png"]


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


# EXIF orientation (tag 0x0112): 1 is as stored; 6 and 8 are the phone held upright (stored
# sideways, turned 90° on display); 3 is upside down; 5 and 7 are transposed, also turned 90°.
ORIENTATION = 0x0112


def encoded(fmt: str, size: tuple[int, int], *, mode: str = "RGB", **options: object) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 60, 30, 100)[: len(mode)]).save(out, fmt, **options)
    return out.getvalue()


def exif(orientation: int, endian: str = "<") -> bytes:
    tags = Image.Exif()
    tags[ORIENTATION] = orientation
    tags.endian = endian  # "<": Intel (most phones), ">": Motorola (some cameras)
    return tags.tobytes()


def oriented_jpeg(orientation: int, *, progressive: bool = False, endian: str = "<") -> bytes:
    return encoded("JPEG", (640, 480), exif=exif(orientation, endian), progressive=progressive)


def animation(fmt: str, size: tuple[int, int]) -> bytes:
    frames = [Image.new("RGB", size, (shade, 0, 0)) for shade in (0, 120, 240)]
    out = io.BytesIO()
    frames[0].save(out, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()
