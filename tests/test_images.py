"""Image types and sizes read from file headers (`shared.images`)."""

from __future__ import annotations

import struct

from shared.images import image_dimensions
from tests.images import jpeg, png


def test_png_gif_and_jpeg_say_their_size() -> None:
    gif = b"GIF89a" + struct.pack("<HH", 320, 200) + bytes(8)

    assert image_dimensions(png(40, 30)) == ("image/png", 40, 30)
    assert image_dimensions(gif) == ("image/gif", 320, 200)
    assert image_dimensions(jpeg(640, 480, comment=b"before the frame? no: after")) == (
        "image/jpeg",
        640,
        480,
    )


def test_a_jpeg_frame_after_other_segments_is_found() -> None:
    tables = b"\xff\xc4\x00\x04ab"  # a Huffman table (0xC4) is not a frame despite its marker
    header = b"\xff\xc0\x00\x11\x08" + struct.pack(">HH", 9, 16) + b"\x03" + bytes(9)

    assert image_dimensions(b"\xff\xd8\xff\xe0\x00\x04ab" + tables + header) == ("image/jpeg", 16, 9)


def test_other_files_and_empty_frames_have_no_size() -> None:
    assert image_dimensions(b"%PDF-1.7 and more bytes") is None
    assert image_dimensions(b"\xff\xd8\xff\xd9") is None
    assert image_dimensions(png(0, 0)) is None
