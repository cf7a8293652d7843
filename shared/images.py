"""What an image file says about itself in its headers: its type and the size it is shown at.

Networks check both (Bluesky's `aspectRatio`, LinkedIn's pixel limit). The size comes from
`imagesize` (≥ 2.0), a maintained, pure-Python reader of headers that never decodes pixels (little
to go wrong on an untrusted upload). It applies a JPEG's EXIF orientation:
a phone photo stored 640×480 with orientation 6 or 8 is shown, and so measured, 480×640. WebP keeps
its EXIF after the image data, where browsers do not read an orientation, so none is applied there.
"""

from __future__ import annotations

import io

import imagesize

__all__ = ["image_dimensions", "image_type"]

# Signatures of the image types Relais accepts, as in each format's specification.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\xff\xd8\xff", "image/jpeg"),  # start of image, then the first segment's marker
)


def image_type(data: bytes) -> str | None:
    """The media type of a PNG, GIF, JPEG or WebP file from its first bytes; None for anything else."""
    for signature, content_type in _SIGNATURES:
        if data.startswith(signature):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_dimensions(data: bytes) -> tuple[str, int, int] | None:
    """(content type, width, height as displayed) of a PNG, GIF, JPEG or WebP; None for anything else,
    or when its headers hold no positive size."""
    content_type = image_type(data)
    if content_type is None:
        return None
    # A file object, never the bytes themselves: imagesize reads `bytes` as a path to open.
    width, height = imagesize.get(io.BytesIO(data))
    if not (isinstance(width, int) and isinstance(height, int)) or width <= 0 or height <= 0:
        return None
    return content_type, width, height
