"""SlideShare API v2 emulator: `upload_slideshow`, `get_slideshow`, `get_slideshows_by_user`.

Follows slideshare.net/developers/documentation (API v2):
- "API Validation": every call carries `api_key`, `ts` (Unix time) and `hash`, the SHA-1 of the
  shared secret followed by `ts`; "Authentication": `username` and `password` for calls acting for
  a user (an upload always).
- "Upload Slideshow" (`POST /api/2/upload_slideshow`, multipart): `slideshow_title` required,
  `slideshow_srcfile` the file, `slideshow_description`, `slideshow_tags` (comma-separated) →
  `<SlideShowUploaded><SlideShowID>…</SlideShowID></SlideShowUploaded>`.
- "Get Slideshow" (`GET /api/2/get_slideshow?slideshow_id=…`) → `<Slideshow>` with `ID`, `Title`,
  `Description`, `Status` (0 queued for conversion, 1 converting, 2 converted, 3 conversion
  failed), `Username`, `URL`, `Created`, `Format`; "Get Slideshows By User"
  (`username_for`, `limit`) → `<User><Name/><Count/><Slideshow>…</Slideshow>…</User>`, newest first.
  With `detailed=1`, "Get Slideshow" adds `NumDownloads`, `NumViews`, `NumComments`,
  `NumFavorites`: the slideshow's figures set by `/_sandbox/engagement` (SlideShare has no shares);
  faults armed `on: read_engagement` for the slideshow's owner apply to those reads alone.
- "Error Codes": `<SlideShareServiceError><Message ID="n">text</Message></SlideShareServiceError>`
  (0 No API Key Provided, 1 Failed API validation, 2 Failed User authentication, 3 Missing title,
  4 Missing file for upload, 5 Blank title, 7 Invalid extension, 8 File size too big, 9 SlideShow
  Not Found, 99 Account Exceeded Daily Limit, 100 Your API key is not authorized for this call).
  Client libraries of the time read the error from the body whatever the status; the emulator
  answers it with 200, as they saw it, and 503 with a plain body when it is unavailable.

Conversion takes time: a slideshow is queued for `QUEUED_FOR` seconds, then converting until
`CONVERTED_AFTER`, then converted, or failed when the file cannot be converted (a PDF without its
`%%EOF` trailer, a PPTX or ODP that is not a readable zip with its presentation inside): the
file is checked when uploaded, the status tells it once "converted". Times are read from the
stored post, so a restarted sandbox keeps its slideshows.

Sandbox keys: an API key `sbx-slideshare-<app>` is valid with the shared secret `sbx-secret-<app>`;
the user `<account>` signs in with the password `sbx-slideshare-<account>` (`sbx-expired-…` plays a
changed password).
"""

from __future__ import annotations

import hashlib
import io
import secrets
import time
import zipfile
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from aiohttp import BodyPartReader, web

from .common import RateState, check_token
from .engagement import figures_of
from .faults import read_fault
from .posting import Posting
from .routes import add_api, route
from .store import STORE, Post

__all__ = ["CONVERTED_AFTER", "QUEUED_FOR", "SlideShareApi", "add_routes"]

_NETWORK = "slideshare"
_API = "/api/2"
_DAILY_UPLOADS = (20, 3600)
_MAX_FILE = 100 * 1000 * 1000
_CLOCK_SKEW = 3600  # how far `ts` may be from the server's clock (U: not documented)
QUEUED_FOR = 0.3
CONVERTED_AFTER = 1.0
_FORMATS = {
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "application/vnd.oasis.opendocument.presentation": "odp",
}
_ZIP_INSIDE = {"pptx": "ppt/presentation.xml", "odp": "content.xml"}


def _xml(body: str, status: int = 200) -> web.Response:
    return web.Response(
        status=status, text=f'<?xml version="1.0" encoding="UTF-8"?>\n{body}', content_type="text/xml"
    )


def _failure(code: int, message: str) -> web.Response:
    return _xml(
        f'<SlideShareServiceError><Message ID="{code}">{escape(message)}</Message></SlideShareServiceError>'
    )


def _convertible(data: bytes, file_format: str) -> bool:
    """Whether SlideShare's conversion would succeed on these bytes."""
    if file_format == "pdf":
        return data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return _ZIP_INSIDE[file_format] in archive.namelist()
    except zipfile.BadZipFile:
        return False


def _created(post: Post) -> str:
    moment = datetime.strptime(post.received_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return moment.strftime("%a %b %d %H:%M:%S %z %Y")


class SlideShareApi:
    """The SlideShare emulator's handlers; also its fault dialect."""

    rate_limit = _DAILY_UPLOADS

    # Dialect: how API v2 answers each fault mode.
    def server_error(self) -> web.Response:
        return web.Response(status=503, text="Service Unavailable")

    def rate_limited(self, state: RateState) -> web.Response:
        return _failure(99, "Account Exceeded Daily Limit")

    def expired_token(self) -> web.Response:
        return _failure(2, "Failed User authentication")

    def blocked(self) -> web.Response:
        return _failure(100, "Your API key is not authorized to upload")

    def invalid_content(self) -> web.Response:
        return _failure(7, "Invalid extension")

    @staticmethod
    def _validated(params: dict[str, str]) -> web.Response | None:
        """Error 0 or 1 unless `api_key`, `ts` and `hash` are a valid signature of now."""
        api_key = params.get("api_key", "")
        if not api_key:
            return _failure(0, "No API Key Provided")
        app = check_token(api_key, _NETWORK).account
        ts = params.get("ts", "")
        if app is None or not ts.isdigit() or abs(int(ts) - time.time()) > _CLOCK_SKEW:
            return _failure(1, "Failed API validation")
        expected = hashlib.sha1(f"sbx-secret-{app}{ts}".encode()).hexdigest()
        if not secrets.compare_digest(expected, params.get("hash", "").lower()):
            return _failure(1, "Failed API validation")
        return None

    def _user(self, params: dict[str, str]) -> str | web.Response:
        """The signed-in account, or the error that refuses the call."""
        if (refused := self._validated(params)) is not None:
            return refused
        account = check_token(params.get("password"), _NETWORK).account
        if account is None or account != params.get("username"):
            return _failure(2, "Failed User authentication")
        return account

    @route("POST", f"{_API}/upload_slideshow")
    async def upload(self, request: web.Request) -> web.Response:
        fields, upload = await _multipart(request)
        account = self._user(fields)
        if isinstance(account, web.Response):
            return account
        posting = await Posting.start(request, self, _NETWORK, account)
        if isinstance(posting, web.Response):
            return posting
        _state, throttled = posting.window(account, _DAILY_UPLOADS)
        if throttled is not None:
            return throttled
        if "slideshow_title" not in fields:
            return _failure(3, "Missing title")
        title = fields["slideshow_title"].strip()
        if not title:
            return _failure(5, "Blank title")
        if upload is None:
            return _failure(4, "Missing file for upload")
        data, content_type = upload
        file_format = _FORMATS.get(content_type)
        if file_format is None:
            return _failure(7, "Invalid extension")
        if len(data) > _MAX_FILE:
            return _failure(8, "File size too big")
        slideshow_id = str(10**9 + secrets.randbelow(9 * 10**9))
        stored = posting.add_media(
            media_id=f"sbx-slideshare-{slideshow_id}", data=data, content_type=content_type
        )
        tags = [tag.strip() for tag in fields.get("slideshow_tags", "").split(",") if tag.strip()]
        posting.add(
            remote_id=slideshow_id,
            text=fields.get("slideshow_description", ""),
            body={name: value for name, value in fields.items() if name not in ("password", "hash")},
            meta={
                "title": title,
                "tags": tags,
                "format": file_format,
                "convertible": _convertible(data, file_format),
                "media": [stored.public()],
            },
        )
        await posting.created()
        return _xml(f"<SlideShowUploaded><SlideShowID>{slideshow_id}</SlideShowID></SlideShowUploaded>")

    @staticmethod
    def _status(post: Post) -> int:
        moment = datetime.strptime(post.received_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        age = time.time() - moment.timestamp()
        if age < QUEUED_FOR:
            return 0
        if age < CONVERTED_AFTER:
            return 1
        return 2 if post.meta.get("convertible") else 3

    def _slideshow(self, post: Post, *, detailed: bool = False) -> str:
        status = self._status(post)
        figures = figures_of(post)
        details = (
            f"<NumDownloads>0</NumDownloads><NumViews>{figures['views']}</NumViews>"
            f"<NumComments>{figures['replies']}</NumComments><NumFavorites>{figures['likes']}</NumFavorites>"
            if detailed
            else ""
        )
        tags = "".join(f"<Tag>{escape(tag)}</Tag>" for tag in post.meta.get("tags", []))
        return (
            f"<Slideshow><ID>{post.remote_id}</ID><Title>{escape(str(post.meta.get('title', '')))}</Title>"
            f"<Description>{escape(post.text)}</Description><Status>{status}</Status>"
            + ("<StatusDescription>Conversion failed</StatusDescription>" if status == 3 else "")
            + f"<Username>{escape(post.account)}</Username>"
            f"<URL>https://www.slideshare.net/{escape(post.account)}/{post.remote_id}</URL>"
            f"<Created>{_created(post)}</Created><Format>{post.meta.get('format', '')}</Format>"
            f"<Tags>{tags}</Tags>{details}</Slideshow>"
        )

    @route("GET", f"{_API}/get_slideshow")
    async def get_slideshow(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        if (refused := self._validated(params)) is not None:
            return refused
        post = request.app[STORE].by_remote_id(_NETWORK, params.get("slideshow_id", ""))
        if post is None:
            return _failure(9, "SlideShow Not Found")
        detailed = params.get("detailed") == "1"
        if detailed:  # the figures' reads: their own faults, by the slideshow's owner
            replaced = await read_fault(request, self, _NETWORK, post.account, on="read_engagement")
            if replaced is not None:
                return replaced
        return _xml(self._slideshow(post, detailed=detailed))

    @route("GET", f"{_API}/get_slideshows_by_user")
    async def get_slideshows_by_user(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        if (refused := self._validated(params)) is not None:
            return refused
        account = params.get("username_for", "")
        posts = list(reversed(request.app[STORE].posts(network=_NETWORK, account=account)))
        limit = int(params["limit"]) if params.get("limit", "").isdigit() else 10
        listed = "".join(self._slideshow(post) for post in posts[:limit])
        return _xml(f"<User><Name>{escape(account)}</Name><Count>{len(posts)}</Count>{listed}</User>")


async def _multipart(request: web.Request) -> tuple[dict[str, str], tuple[bytes, str] | None]:
    """Text fields and the `slideshow_srcfile` part (bytes, content type) of a multipart body."""
    fields: dict[str, str] = {}
    upload = None
    if not request.content_type.startswith("multipart/"):
        return {key: value for key, value in (await request.post()).items() if isinstance(value, str)}, None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or not part.name:
            continue
        if part.filename is None:
            fields[part.name] = await part.text()
        elif part.name == "slideshow_srcfile":
            data = bytearray()
            while (chunk := await part.read_chunk()) and len(data) <= _MAX_FILE:
                data += chunk
            upload = (bytes(data), part.headers.get("Content-Type", "application/octet-stream"))
        else:
            await part.release()
    return fields, upload


def add_routes(app: web.Application) -> None:
    add_api(app, SlideShareApi())
