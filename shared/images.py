"""What an image file says about itself in its first bytes: its type and its size in pixels.

Networks check both (Bluesky's `aspectRatio`, LinkedIn's pixel limit); reading the headers is
enough, so no image library is needed.
"""

from __future__ import annotations

__all__ = ["image_dimensions"]

# Start-of-frame markers (SOF0–SOF15) but DHT, JPG and DAC, which share the range.
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def image_dimensions(data: bytes) -> tuple[str, int, int] | None:
    """(content type, width, height) of a PNG, GIF or JPEG; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        found = "image/png", int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    elif data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        found = "image/gif", int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    elif data.startswith(b"\xff\xd8"):
        found = "image/jpeg", *_jpeg_size(data)
    else:
        return None
    return found if found[1] > 0 and found[2] > 0 else None


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """Walk the segments to the first frame header, which holds height then width."""
    position = 2
    while position + 9 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker in _JPEG_FRAMES:
            height = int.from_bytes(data[position + 5 : position + 7], "big")
            return int.from_bytes(data[position + 7 : position + 9], "big"), height
        position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
    return 0, 0
