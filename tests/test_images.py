"""Image types and displayed sizes read from real files' headers (`shared.images`).

Every file here is encoded by Pillow (a real encoder, dev only), so the bytes are what cameras,
phones and image editors write, not a hand-made header; the expected sizes are what a viewer
shows, written down by hand.
"""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from shared.images import image_dimensions, image_type
from tests.images import animation, encoded, exif, jpeg, oriented_jpeg, png


@pytest.mark.parametrize(
    ("orientation", "shown"),
    [(1, (640, 480)), (3, (640, 480)), (5, (480, 640)), (6, (480, 640)), (7, (480, 640)), (8, (480, 640))],
)
def test_a_jpeg_is_measured_as_shown_after_its_exif_orientation(
    orientation: int, shown: tuple[int, int]
) -> None:
    for data in (
        oriented_jpeg(orientation),
        oriented_jpeg(orientation, progressive=True),
        oriented_jpeg(orientation, endian=">"),
    ):
        assert Image.open(io.BytesIO(data)).size == (640, 480)  # stored sideways…
        assert image_dimensions(data) == ("image/jpeg", *shown)  # …measured as displayed


def test_a_jpeg_without_exif_is_measured_as_stored() -> None:
    assert image_dimensions(encoded("JPEG", (641, 479))) == ("image/jpeg", 641, 479)


WEBPS = {
    "lossy": (b"VP8 ", lambda: encoded("WEBP", (641, 479), quality=80)),
    "lossless": (b"VP8L", lambda: encoded("WEBP", (641, 479), lossless=True)),
    "extended-alpha": (b"VP8X", lambda: encoded("WEBP", (641, 479), mode="RGBA")),
    "extended-animated": (b"VP8X", lambda: animation("WEBP", (641, 479))),
    # WebP's EXIF follows the image data, where browsers read no orientation: shown as stored.
    "extended-exif-orientation-6": (b"VP8X", lambda: encoded("WEBP", (641, 479), exif=exif(6))),
}


@pytest.mark.parametrize("kind", WEBPS)
def test_every_kind_of_webp_says_its_size(kind: str) -> None:
    chunk, make = WEBPS[kind]
    data = make()
    assert data[12:16] == chunk  # the encoder really wrote this kind of file
    assert image_dimensions(data) == ("image/webp", 641, 479)


def test_an_animated_gif_is_measured_by_its_screen() -> None:
    data = animation("GIF", (300, 201))
    assert Image.open(io.BytesIO(data)).n_frames == 3
    assert image_dimensions(data) == ("image/gif", 300, 201)


def test_png_and_gif_say_their_size() -> None:
    assert image_dimensions(encoded("PNG", (40, 30))) == ("image/png", 40, 30)
    assert image_dimensions(encoded("PNG", (40, 30), mode="RGBA")) == ("image/png", 40, 30)
    assert image_dimensions(encoded("GIF", (320, 200))) == ("image/gif", 320, 200)
    assert image_dimensions(png(40, 30)) == ("image/png", 40, 30)


def test_a_jpeg_frame_after_other_segments_is_found() -> None:
    tables = b"\xff\xc4\x00\x04ab"  # a Huffman table (0xC4) is not a frame despite its marker
    header = b"\xff\xc0\x00\x11\x08" + struct.pack(">HH", 9, 16) + b"\x03" + bytes(9)

    assert image_dimensions(b"\xff\xd8\xff\xe0\x00\x04ab" + tables + header) == ("image/jpeg", 16, 9)
    assert image_dimensions(jpeg(640, 480, comment=b"after the frame")) == ("image/jpeg", 640, 480)


def test_other_files_and_empty_frames_have_no_size() -> None:
    assert image_dimensions(b"%PDF-1.7 and more bytes") is None
    assert image_dimensions(b"\xff\xd8\xff\xd9") is None
    assert image_dimensions(png(0, 0)) is None
    assert image_dimensions(b"RIFF\x00\x00\x00\x00WEBPVP8 ") is None  # a truncated WebP
    assert image_dimensions(b"") is None


def test_bytes_are_never_taken_for_a_path() -> None:
    # imagesize opens `bytes` as a file name; what looks like a path is never read as one.
    assert image_dimensions(b"/etc/hostname") is None
    assert image_dimensions(b"\xff\xd8/etc/hostname") is None


def test_types_come_from_signatures() -> None:
    assert image_type(encoded("WEBP", (2, 2))) == "image/webp"
    assert image_type(encoded("JPEG", (2, 2))) == "image/jpeg"
    assert image_type(b"GIF87a" + bytes(10)) == "image/gif"
    assert image_type(b"\x00\x00\x00\x18ftypmp42") is None
