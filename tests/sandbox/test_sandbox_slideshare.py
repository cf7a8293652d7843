"""The SlideShare emulator speaks API v2 as documented: signed calls, upload fields, error codes.

Expected codes are API v2's "Error Codes", written here by hand (0 No API Key Provided, 1 Failed
API validation, 2 Failed User authentication, 3 Missing title, 4 Missing file for upload, 5 Blank
title, 7 Invalid extension, 9 SlideShow Not Found).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
import xml.etree.ElementTree as ET

import pytest
from aiohttp import FormData
from sandbox_kit import Sandbox

from services.sandbox import slideshare
from tests.documents import pdf

PPTX_TYPE = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def signed(ts: int | None = None, secret: str = "sbx-secret-relais") -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    return {
        "api_key": "sbx-slideshare-relais",
        "ts": stamp,
        "hash": hashlib.sha1((secret + stamp).encode()).hexdigest(),
    }


def upload_form(
    fields: dict[str, str], file: tuple[bytes, str] | None = (pdf(), "application/pdf")
) -> FormData:
    form = FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    if file is not None:
        form.add_field("slideshow_srcfile", io.BytesIO(file[0]), filename="deck", content_type=file[1])
    return form


USER = {"username": "anapec", "password": "sbx-slideshare-anapec"}


async def answer(sandbox: Sandbox, form: FormData) -> ET.Element:
    response = await sandbox.post("/api/2/upload_slideshow", data=form)
    return ET.fromstring(await response.text())


def error_code(root: ET.Element) -> str | None:
    message = root.find("Message")
    return message.get("ID") if root.tag == "SlideShareServiceError" and message is not None else None


@pytest.mark.parametrize(
    ("fields", "file", "code"),
    [
        ({**USER, "slideshow_title": "Forum"}, (pdf(), "application/pdf"), "0"),  # no api_key at all
        ({**signed(secret="guessed"), **USER, "slideshow_title": "Forum"}, (pdf(), "application/pdf"), "1"),
        (
            {**signed(ts=int(time.time()) - 86_400), **USER, "slideshow_title": "Forum"},
            (pdf(), "application/pdf"),
            "1",
        ),
        (
            {**signed(), "username": "anapec", "password": "sbx-slideshare-other", "slideshow_title": "F"},
            None,
            "2",
        ),
        ({**signed(), **USER}, (pdf(), "application/pdf"), "3"),
        ({**signed(), **USER, "slideshow_title": "Forum"}, None, "4"),
        ({**signed(), **USER, "slideshow_title": "   "}, (pdf(), "application/pdf"), "5"),
        ({**signed(), **USER, "slideshow_title": "Forum"}, (b"GIF89a", "image/gif"), "7"),
    ],
    ids=["no-key", "bad-hash", "old-ts", "bad-password", "no-title", "no-file", "blank-title", "gif"],
)
async def test_uploads_are_refused_with_the_documented_codes(
    sandbox: Sandbox, fields: dict[str, str], file: tuple[bytes, str] | None, code: str
) -> None:
    root = await answer(sandbox, upload_form(fields, file))
    assert error_code(root) == code
    listed = await sandbox.get("/_sandbox/posts", params={"network": "slideshare"})
    assert (await listed.json())["posts"] == []


async def test_a_slideshow_goes_from_queued_to_converting_to_converted(sandbox: Sandbox) -> None:
    root = await answer(
        sandbox, upload_form({**signed(), **USER, "slideshow_title": "Forum"}, (pdf(), "application/pdf"))
    )
    assert root.tag == "SlideShowUploaded"
    slideshow_id = root.findtext("SlideShowID")
    seen = []
    deadline = time.monotonic() + slideshare.CONVERTED_AFTER + 2
    while time.monotonic() < deadline and (not seen or seen[-1] != "2"):
        got = await sandbox.get(
            "/api/2/get_slideshow", params={**signed(), "slideshow_id": str(slideshow_id)}
        )
        status = ET.fromstring(await got.text()).findtext("Status")
        if not seen or seen[-1] != status:
            seen.append(str(status))
        await asyncio.sleep(0.05)
    assert seen == ["0", "1", "2"]


async def test_a_file_that_cannot_be_converted_fails_and_an_unknown_id_is_not_found(sandbox: Sandbox) -> None:
    broken = (b"PK\x03\x04 not a presentation", PPTX_TYPE)
    root = await answer(sandbox, upload_form({**signed(), **USER, "slideshow_title": "Forum"}, broken))
    slideshow_id = str(root.findtext("SlideShowID"))
    await asyncio.sleep(slideshare.CONVERTED_AFTER)
    got = await sandbox.get("/api/2/get_slideshow", params={**signed(), "slideshow_id": slideshow_id})
    assert ET.fromstring(await got.text()).findtext("Status") == "3"
    missing = await sandbox.get("/api/2/get_slideshow", params={**signed(), "slideshow_id": "1"})
    assert error_code(ET.fromstring(await missing.text())) == "9"
    unsigned = await sandbox.get("/api/2/get_slideshow", params={"slideshow_id": slideshow_id})
    assert error_code(ET.fromstring(await unsigned.text())) == "0"
