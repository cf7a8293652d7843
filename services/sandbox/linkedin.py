"""LinkedIn Posts and Images API emulator: `POST /rest/posts`, `GET /rest/posts/{urn}`, image uploads.

Follows these documentation sections (Microsoft Learn, LinkedIn):
- Marketing › Community Management › Shares › "Posts API": create with `author`, `commentary`,
  `visibility`, `distribution`, `lifecycleState`, `isReshareDisabledByAuthor`; the answer is
  **201 with an empty body and the post URN in the `x-restli-id` header**; read back with
  `GET /rest/posts/{encoded urn}`; "Find Posts by Authors" (`GET /rest/posts?q=author&author=…
  &count=…&sortBy=CREATED|LAST_MODIFIED` → `{"elements": [...], "paging": {...}}`).
- Community Management › Shares › "Images API": `POST /rest/images?action=initializeUpload` with
  `{"initializeUploadRequest": {"owner": <organization or person URN>}}` → `{"value":
  {"uploadUrlExpiresAt", "uploadUrl", "image": "urn:li:image:…"}}`; the bytes are then `PUT` to
  `uploadUrl` with the bearer token (201). Formats JPG, GIF and PNG, at most 36,152,320 pixels.
  LinkedIn checks those while processing (the image's status becomes PROCESSING_FAILED); the
  sandbox refuses such a file at the upload itself (400), which a client handles the same way. The
  owner must be the token's organization or member, as for posts. The upload URL is served here
  (`/dms-uploads/{token}`, valid one hour).
- Posts API › "Image post" (`content.media` with `id` and `altText`) and Community Management ›
  "MultiImage API" (`content.multiImage.images`, 2 to 20 images, each `id` and `altText`): every
  image must have been uploaded by the post's author, otherwise 422 naming the field.
- Marketing › "Versioning": every `/rest` call needs `LinkedIn-Version: YYYYMM`; a missing one is
  400 `VERSION_MISSING`, an inactive one 426 `NONEXISTENT_VERSION`. The sandbox accepts every
  month from the first versioned release (202206) to the current month, so tests do not age.
- Shared › API guide › "Protocol version": `X-Restli-Protocol-Version: 2.0.0`. LinkedIn falls
  back to protocol 1.0 without it; the sandbox refuses the request instead, so a client that
  forgets the header is caught.
- Shared › API guide › "Error handling": `{"status", "serviceErrorCode", "code", "message"}`;
  401 for an empty, invalid or expired token, 403 `ACCESS_DENIED`, 422 for invalid or duplicate
  content ("ERROR :: /field :: …"), 429 when a daily throttle is reached (limits reset at
  midnight UTC; LinkedIn sends no rate-limit headers). Uploads misbehave under the faults that
  precede creation; the `*_after_create` modes are left for the post itself.
- Community Management › Shares › "Videos API": `POST /rest/videos?action=initializeUpload` with
  `{"initializeUploadRequest": {"owner", "fileSizeBytes", "uploadCaptions", "uploadThumbnail"}}` →
  `{"value": {"video": "urn:li:video:…", "uploadInstructions": [{"uploadUrl", "firstByte",
  "lastByte"}…], "uploadToken", "uploadUrlsExpireAt"}}`; each part is `PUT` to its URL and answered
  with an `ETag`; `POST /rest/videos?action=finalizeUpload` with `{"finalizeUploadRequest":
  {"video", "uploadToken", "uploadedPartIds": [the ETags, in order]}}`; `GET /rest/videos/{urn}`
  then says `status` WAITING_UPLOAD, PROCESSING, AVAILABLE or PROCESSING_FAILED (the sandbox adds
  its reason as `processingFailureReason`). LinkedIn cuts parts of 4 MB; the sandbox cuts 512 KiB so
  that tests see several. Processing is `processing.py`'s. A post attaches the video as
  `content.media.id`; one whose video is not AVAILABLE is refused with 422 here.
- Community Management › Shares › "Comments API", "Get Comments on Shares": `GET
  /rest/socialActions/{shareUrn|ugcPostUrn}/comments` with `start` and `count` (default 10, here at
  most 100) → `{"elements": [...], "paging": {"start", "count", "total", "links"}}`, each a Comment
  (`id`, `commentUrn` = `urn:li:comment:(<post URN>,<id>)`, `actor`, `created.time` and
  `lastModified.time` in epoch milliseconds, `message.text`, `object`); a post the organization does
  not have is 404. The documentation names no order: the sandbox lists the newest first (so paging
  during new comments shows one twice, never skips one). Reads count in a daily window of their own;
  faults armed `on: read_comments` apply to them alone. Permissions `r_organization_social`.
  People's comments are made on demand with `POST /_sandbox/linkedin/comments` (sandbox-only, kept in
  memory): `{"account", "texts"? | "count"?, "post"?, "actor"?, "created_ms"?}` writes one comment per
  text (or `count`) on `post` (default: the organization's newest), dated `created_ms` (default now)
  → 201 `{"items": [{"comment_urn", "id", "post", "created_ms"}]}`.
- Comments API › "Create a Comment" / "Create a Nested Comment": `POST
  /rest/socialActions/{post URN | comment URN}/comments` with `actor` (the organization), `object`
  (the post URN), `message.text` and, on a comment, `parentComment` → 201 with the Comment (id in
  `x-restli-id`); nesting is one level deep; an unknown or deleted target is 404, another actor 403.
  `GET /rest/socialActions/{comment URN}/comments` lists a comment's nested comments. `DELETE
  /_sandbox/linkedin/comments/{id}` (sandbox-only): its author deletes a comment; `parent` (a comment
  URN) in `POST /_sandbox/linkedin/comments` makes people's nested comments.
- What people did with a post (issue #15, the figures set with `POST /_sandbox/engagement`):
  Community Management › "Social Actions API" › Retrieve Social Actions (`GET
  /rest/socialActions/{post URN}` → `likesSummary` with `totalLikes`, `aggregatedTotalLikes`,
  `likedByCurrentUser`, and `commentsSummary` with `totalFirstLevelComments`,
  `aggregatedTotalComments`; 404 for a post the organization does not have) and Organizations ›
  "Organization Share Statistics" (`GET /rest/organizationalEntityShareStatistics?q=organizationalEntity
  &organizationalEntity={organization URN}&shares=List({share URN},…)` or `ugcPosts=List(…)` →
  `{"elements": [{"organizationalEntity", "share" | "ugcPost", "totalShareStatistics":
  {"impressionCount", "uniqueImpressionsCount", "shareCount", "likeCount", "commentCount",
  "clickCount", "engagement"}}]}`; lifetime figures without `timeIntervals`; organic only;
  `rw_organization_admin`: another organization is 403 ACCESS_DENIED; a post it no longer has is left
  out). Both count in the daily read window and take the faults armed `on: read_engagement`.
- Community Management › "Little Text Format": reserved characters must be backslash-escaped.
  The sandbox reproduces the reported quirk (n8n#10179, activepieces#3058, pipedream#17353): an
  unescaped `(` outside a mention silently cuts the commentary while the API answers 201.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web

from shared.images import image_dimensions

from .common import MINT, RATES, RateState, bearer_token, check_token, read_params
from .engagement import figures_of
from .faults import read_fault
from .people import Writing, refused
from .posting import BEFORE_CREATE_MODES, Posting
from .processing import VIDEO_JOBS
from .routes import add_api, route
from .store import STORE, MediaItem, Post

__all__ = ["LinkedInApi", "add_routes", "read_little_text"]

_NETWORK = "linkedin"
_FIRST_VERSION = 202206
_VERSION = re.compile(r"(\d{4})(\d{2})(?:\.\d{2})?")
_MAX_COMMENTARY = 3000
_REQUIRED = ("author", "commentary", "visibility", "distribution", "lifecycleState")
_VISIBILITIES = ("PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER_ONLY")
_STATES = ("PUBLISHED", "DRAFT")
_AUTHOR = re.compile(r"urn:li:(organization|person):([A-Za-z0-9_.-]+)")
_MENTION = re.compile(r"@\[([^\]]*)\]\((urn:li:[A-Za-z]+:[^)\s]+)\)")
_HASHTAG = re.compile(r"\{hashtag\|\\#\|([^}]*)\}")
_MAX_PIXELS = 36_152_320
_FORMATS = frozenset({"image/jpeg", "image/gif", "image/png"})  # not WebP, which shared.images reads
_UPLOAD_TTL = 3600
_MAX_ALT = 4086
_IMAGES = (2, 20)
_VIDEO_PART = 512 * 1024
_READS = (100_000, 24 * 3600)  # "Rate limits": daily, per application
_COMMENTS_DEFAULT, _COMMENTS_MAX = 10, 100
_MAX_COMMENT = 1250  # (U) the Comments API names no bound for message.text: a cautious 1,250
_LISTED = re.compile(r"List\((.*)\)")
_STATISTICS_KEYS = {"shares": "share", "ugcPosts": "ugcPost"}  # the finder's parameter → element's key


@dataclass(frozen=True)
class _Comment:
    """A comment a person wrote on one of the organization's posts."""

    id: str
    account: str
    post: str  # the post's URN
    actor: str
    text: str
    created_ms: int
    seq: int  # the order comments were written in, for those of the same millisecond
    parent: str | None = None  # the comment URN a nested comment answers

    @property
    def urn(self) -> str:
        return f"urn:li:comment:({self.post},{self.id})"

    def view(self) -> dict[str, Any]:
        urn = self.urn
        stamp = {"actor": self.actor, "time": self.created_ms}
        nested = {"parentComment": self.parent} if self.parent else {}
        return {
            **nested,
            "id": self.id,
            "commentUrn": urn,
            "$URN": urn,
            "actor": self.actor,
            "object": self.post,
            "created": stamp,
            "lastModified": stamp,
            "message": {"text": self.text, "attributes": []},
        }


@dataclass
class _VideoUpload:
    """A video between initializeUpload and finalizeUpload: its owner, size and parts received."""

    owner: str
    size: int
    expires: float
    parts: dict[int, bytes] = field(default_factory=dict)  # part number → bytes
    etags: dict[int, str] = field(default_factory=dict)
    finalized: bool = False

    def spans(self) -> list[tuple[int, int]]:
        return [
            (first, min(first + _VIDEO_PART, self.size) - 1) for first in range(0, self.size, _VIDEO_PART)
        ]


def read_little_text(commentary: str) -> tuple[str, str]:
    """What LinkedIn keeps of a little-text commentary, and what its readers then see."""
    shown: list[str] = []
    position = 0
    while position < len(commentary):
        char = commentary[position]
        if char == "\\" and position + 1 < len(commentary):
            shown.append(commentary[position + 1])
            position += 2
        elif char == "@" and (mention := _MENTION.match(commentary, position)):
            shown.append(mention.group(1))
            position = mention.end()
        elif char == "{" and (tag := _HASHTAG.match(commentary, position)):
            shown.append("#" + tag.group(1))
            position = tag.end()
        elif char == "(":
            # The documented pitfall: everything from an unescaped "(" on is dropped.
            return commentary[:position], "".join(shown)
        else:
            shown.append(char)
            position += 1
    return commentary, "".join(shown)


def _version_active(version: str) -> bool:
    match = _VERSION.fullmatch(version)
    if not match or not 1 <= int(match.group(2)) <= 12:
        return False
    now = datetime.now(UTC)
    return _FIRST_VERSION <= int(match.group(1) + match.group(2)) <= now.year * 100 + now.month


def _error(
    status: int, message: str, *, code: str | None = None, service_code: int | None = None
) -> web.Response:
    body: dict[str, Any] = {"status": status, "message": message}
    if code is not None:
        body["code"] = code
    if service_code is not None:
        body["serviceErrorCode"] = service_code
    return web.json_response(body, status=status)


def _field_errors(fields: list[str], reason: str) -> web.Response:
    message = "".join(f"ERROR :: /{field} :: {reason}\n" for field in fields)
    return _error(422, message, code="UNPROCESSABLE_ENTITY")


def _attachments(content: Any) -> list[tuple[str, str | None]] | web.Response | None:
    """The `(image URN, alt text)` pairs a post's `content` names; None when it names no image."""
    if not isinstance(content, dict) or not ({"media", "multiImage"} & set(content)):
        return None
    if len(content) != 1:
        return _field_errors(["content"], "only one content type may be given")
    if "media" in content:
        field, entries = "content/media", [content["media"]]
    else:
        images = content["multiImage"].get("images") if isinstance(content["multiImage"], dict) else None
        field, entries = "content/multiImage/images", images if isinstance(images, list) else []
        if not _IMAGES[0] <= len(entries) <= _IMAGES[1]:
            return _field_errors([field], f"a multiImage post has {_IMAGES[0]} to {_IMAGES[1]} images")
    pairs: list[tuple[str, str | None]] = []
    for entry in entries:
        urn = entry.get("id") if isinstance(entry, dict) else None
        alt = entry.get("altText") if isinstance(entry, dict) else None
        video = field == "content/media" and isinstance(urn, str) and urn.startswith("urn:li:video:")
        if not isinstance(urn, str) or not (urn.startswith("urn:li:image:") or video):
            return _field_errors([f"{field}/id"], "expected an image URN (urn:li:image:…) or one video's")
        if alt is not None and (not isinstance(alt, str) or len(alt) > _MAX_ALT):
            return _field_errors([f"{field}/altText"], f"expected a string of at most {_MAX_ALT} characters")
        pairs.append((urn, alt))
    return pairs


class LinkedInApi:
    """The LinkedIn emulator's handlers; also its fault dialect."""

    rate_limit = (0, 24 * 3600)

    def __init__(self) -> None:
        # Initialized uploads waiting for their bytes: upload token → (image URN, owner, expiry).
        self._uploads: dict[str, tuple[str, str, float]] = {}
        self._videos: dict[str, _VideoUpload] = {}  # video URN → its upload
        self._video_parts: dict[str, tuple[str, int]] = {}  # part upload token → (video URN, part)
        self._comments: list[_Comment] = []  # people's comments, in memory, in the order written
        self._comment_seq = itertools.count()

    # Dialect: how LinkedIn answers each fault mode.
    def server_error(self) -> web.Response:
        return _error(503, "Service Unavailable", code="SERVICE_UNAVAILABLE")

    def rate_limited(self, state: RateState) -> web.Response:
        message = "Resource level throttle APPLICATION DAY limit for calls to this resource is reached."
        return _error(429, message, code="TOO_MANY_REQUESTS")

    def expired_token(self) -> web.Response:
        message = "The token used in the request has expired"
        return _error(401, message, code="EXPIRED_ACCESS_TOKEN", service_code=65602)

    def blocked(self) -> web.Response:
        return _error(403, "Organization page is restricted", code="ACCESS_DENIED", service_code=100)

    def invalid_content(self) -> web.Response:
        return _field_errors(["commentary"], f"length of commentary exceeds {_MAX_COMMENTARY} characters")

    def _gate(self, request: web.Request) -> str | web.Response:
        """Check the versioning, protocol and token headers; the caller's account if all pass."""
        version = request.headers.get("LinkedIn-Version")
        if not version:
            message = (
                "A version must be present. Please specify a version by adding the LinkedIn-Version header."
            )
            return _error(400, message, code="VERSION_MISSING")
        if not _version_active(version):
            return _error(426, f"Requested version {version} is not active", code="NONEXISTENT_VERSION")
        if request.headers.get("X-Restli-Protocol-Version") != "2.0.0":
            return _error(400, "X-Restli-Protocol-Version: 2.0.0 is required", code="ILLEGAL_ARGUMENT")
        caller = check_token(bearer_token(request), _NETWORK)
        if caller.account is not None:
            return caller.account
        if caller.problem == "missing":
            return _error(401, "Empty oauth2_access_token", code="EMPTY_ACCESS_TOKEN", service_code=401)
        if caller.problem == "expired":
            return self.expired_token()
        return _error(401, "Invalid access token", code="INVALID_ACCESS_TOKEN", service_code=65600)

    @route("POST", "/rest/posts")
    async def create(self, request: web.Request) -> web.Response:
        account = self._gate(request)
        if isinstance(account, web.Response):
            return account
        posting = await Posting.start(request, self, _NETWORK, account)
        if isinstance(posting, web.Response):
            return posting
        params = await read_params(request)
        if params is None or request.content_type != "application/json":
            return _error(400, "Request body could not be converted to data map", code="ILLEGAL_ARGUMENT")
        if missing := [field for field in _REQUIRED if field not in params]:
            return _field_errors(missing, "field is required but not found and has no default value")
        author, commentary = params["author"], params["commentary"]
        if not isinstance(commentary, str):
            return _field_errors(["commentary"], "expected a string")
        if len(commentary) > _MAX_COMMENTARY:
            return _field_errors(["commentary"], f"length of commentary exceeds {_MAX_COMMENTARY} characters")
        if params["visibility"] not in _VISIBILITIES:
            return _field_errors(["visibility"], f"{params['visibility']!r} is not an enum symbol")
        if params["lifecycleState"] not in _STATES:
            return _field_errors(["lifecycleState"], f"{params['lifecycleState']!r} is not an enum symbol")
        author_match = _AUTHOR.fullmatch(author) if isinstance(author, str) else None
        if author_match is None or author_match.group(2) != account:
            version = request.headers["LinkedIn-Version"]
            message = f"Not enough permissions to access: partnerApiPostsExternal.CREATE.{version}"
            return _error(403, message, code="ACCESS_DENIED", service_code=100)
        media = self._attached(request, account, params.get("content"))
        if isinstance(media, web.Response):
            return media
        kept, shown = read_little_text(commentary)
        for earlier in _organization_posts(request, account):
            if earlier.meta.get("commentary") == kept:
                message = f"Content is a duplicate of {earlier.remote_id}"
                return _error(422, message, code="UNPROCESSABLE_ENTITY")
        urn = f"urn:li:share:{request.app[MINT].next_id('linkedin', shift=22)}"
        meta = {
            "commentary": kept,
            "author": author,
            "created_ms": int(time.time() * 1000),
            "media": [item.public() for item in media],
        }
        posting.add(remote_id=urn, text=shown, body=params, meta=meta)
        await posting.created()
        return web.Response(status=201, headers={"x-restli-id": urn, "x-linkedin-id": urn})

    @staticmethod
    def _attached(request: web.Request, account: str, content: Any) -> list[MediaItem] | web.Response:
        """The uploads a post's content attaches, with the alt text the post gives them."""
        pairs = _attachments(content)
        if pairs is None:
            return []
        if isinstance(pairs, web.Response):
            return pairs
        store = request.app[STORE]
        items = store.attachable(_NETWORK, account, [urn for urn, _alt in pairs])
        videos = [urn for urn, _alt in pairs if urn.startswith("urn:li:video:")]
        if (
            items is not None
            and videos
            and request.app[VIDEO_JOBS].state(f"{_NETWORK}:{videos[0]}") != "ready"
        ):
            return _field_errors(["content/media/id"], "the video is not AVAILABLE yet")
        if items is None:
            field = "content/media/id" if "media" in content else "content/multiImage/images/id"
            return _field_errors([field], "image does not exist or was not uploaded by the post's author")
        attached = []
        for item, (_urn, alt) in zip(items, pairs, strict=True):
            if alt is not None:
                store.set_media_alt(_NETWORK, item.id, alt)
            attached.append(replace(item, alt=alt))
        return attached

    @route("POST", "/rest/images")
    async def initialize_upload(self, request: web.Request) -> web.Response:
        account = self._gate(request)
        if isinstance(account, web.Response):
            return account
        if request.query.get("action") != "initializeUpload":
            return _error(400, "Unsupported action, use action=initializeUpload", code="ILLEGAL_ARGUMENT")
        posting = await Posting.start(request, self, _NETWORK, account, modes=BEFORE_CREATE_MODES)
        if isinstance(posting, web.Response):
            return posting
        params = await read_params(request)
        asked = params.get("initializeUploadRequest") if params is not None else None
        owner = asked.get("owner") if isinstance(asked, dict) else None
        if not isinstance(owner, str):
            return _field_errors(["initializeUploadRequest/owner"], "field is required but not found")
        match = _AUTHOR.fullmatch(owner)
        if match is None or match.group(2) != account:
            version = request.headers["LinkedIn-Version"]
            message = f"Not enough permissions to access: images.ACTION-initializeUpload.{version}"
            return _error(403, message, code="ACCESS_DENIED", service_code=100)
        token = secrets.token_urlsafe(18)
        image = f"urn:li:image:D4E10AQ{secrets.token_hex(8)}"
        expires = time.time() + _UPLOAD_TTL
        self._uploads[token] = (image, account, expires)
        upload_url = f"{request.scheme}://{request.host}/dms-uploads/{token}"
        value = {"uploadUrlExpiresAt": int(expires * 1000), "uploadUrl": upload_url, "image": image}
        return web.json_response({"value": value})

    @route("PUT", "/dms-uploads/{token}")
    async def upload(self, request: web.Request) -> web.Response:
        """`PUT` to an upload URL: the image's bytes, with the owner's bearer token."""
        caller = check_token(bearer_token(request), _NETWORK)
        if caller.account is None:
            return self.expired_token() if caller.problem == "expired" else _error(401, "Unauthorized")
        image, owner, expires = self._uploads.get(request.match_info["token"], ("", "", 0.0))
        if owner != caller.account or time.time() > expires:
            return _error(404, "The upload URL is unknown or has expired", code="NOT_FOUND")
        posting = await Posting.start(request, self, _NETWORK, owner, modes=BEFORE_CREATE_MODES)
        if isinstance(posting, web.Response):
            return posting
        # Read as a stream: an image may be larger than what the sandbox reads into memory at once.
        data = b"".join([chunk async for chunk in request.content.iter_chunked(1 << 16)])
        found = image_dimensions(data)
        if found is None or found[0] not in _FORMATS:
            return _error(400, "The uploaded file is not a JPG, GIF or PNG image", code="ILLEGAL_ARGUMENT")
        content_type, width, height = found
        if width * height > _MAX_PIXELS:
            message = f"The image has {width * height} pixels, more than the {_MAX_PIXELS:,} allowed"
            return _error(400, message, code="ILLEGAL_ARGUMENT")
        del self._uploads[request.match_info["token"]]
        posting.add_media(media_id=image, data=data, content_type=content_type)
        return web.Response(status=201)

    @route("POST", "/rest/videos")
    async def videos(self, request: web.Request) -> web.Response:
        """`POST /rest/videos?action=initializeUpload` or `…=finalizeUpload`."""
        account = self._gate(request)
        if isinstance(account, web.Response):
            return account
        action = request.query.get("action")
        if action not in ("initializeUpload", "finalizeUpload"):
            message = "Unsupported action, use action=initializeUpload or action=finalizeUpload"
            return _error(400, message, code="ILLEGAL_ARGUMENT")
        posting = await Posting.start(request, self, _NETWORK, account, modes=BEFORE_CREATE_MODES)
        if isinstance(posting, web.Response):
            return posting
        params = await read_params(request) or {}
        if action == "initializeUpload":
            return self._initialize_video(request, account, params.get("initializeUploadRequest"))
        return self._finalize_video(request, posting, account, params.get("finalizeUploadRequest"))

    def _initialize_video(self, request: web.Request, account: str, asked: Any) -> web.Response:
        asked = asked if isinstance(asked, dict) else {}
        owner, size = asked.get("owner"), asked.get("fileSizeBytes")
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            return _field_errors(["initializeUploadRequest/fileSizeBytes"], "expected a positive integer")
        match = _AUTHOR.fullmatch(owner) if isinstance(owner, str) else None
        if match is None or match.group(2) != account:
            version = request.headers["LinkedIn-Version"]
            message = f"Not enough permissions to access: videos.ACTION-initializeUpload.{version}"
            return _error(403, message, code="ACCESS_DENIED", service_code=100)
        video = f"urn:li:video:C5F10AQ{secrets.token_hex(8)}"
        upload = _VideoUpload(account, size, time.time() + _UPLOAD_TTL)
        self._videos[video] = upload
        instructions = []
        for number, (first, last) in enumerate(upload.spans()):
            token = secrets.token_urlsafe(18)
            self._video_parts[token] = (video, number)
            url = f"{request.scheme}://{request.host}/dms-uploads/video-parts/{token}"
            instructions.append({"uploadUrl": url, "firstByte": first, "lastByte": last})
        value = {
            "uploadUrlsExpireAt": int(upload.expires * 1000),
            "video": video,
            "uploadInstructions": instructions,
            "uploadToken": "",
        }
        return web.json_response({"value": value})

    @route("PUT", "/dms-uploads/video-parts/{token}")
    async def video_part(self, request: web.Request) -> web.Response:
        """`PUT` of one part of a video to its upload URL; its ETag identifies it at finalizing."""
        caller = check_token(bearer_token(request), _NETWORK)
        if caller.account is None:
            return self.expired_token() if caller.problem == "expired" else _error(401, "Unauthorized")
        video, number = self._video_parts.get(request.match_info["token"], ("", 0))
        upload = self._videos.get(video)
        if upload is None or upload.owner != caller.account or time.time() > upload.expires:
            return _error(404, "The upload URL is unknown or has expired", code="NOT_FOUND")
        posting = await Posting.start(request, self, _NETWORK, upload.owner, modes=BEFORE_CREATE_MODES)
        if isinstance(posting, web.Response):
            return posting
        data = b"".join([chunk async for chunk in request.content.iter_chunked(1 << 16)])
        first, last = upload.spans()[number]
        if len(data) != last - first + 1:
            message = (
                f"Part {number} must be bytes {first} to {last} ({last - first + 1} bytes), not {len(data)}"
            )
            return _error(400, message, code="ILLEGAL_ARGUMENT")
        upload.parts[number] = data
        upload.etags[number] = f"/ambry-video/{secrets.token_hex(12)}"
        return web.Response(status=200, headers={"ETag": upload.etags[number]})

    def _finalize_video(
        self, request: web.Request, posting: Posting, account: str, asked: Any
    ) -> web.Response:
        asked = asked if isinstance(asked, dict) else {}
        video = asked.get("video")
        upload = self._videos.get(video) if isinstance(video, str) else None
        if upload is None or upload.owner != account:
            return _field_errors(["finalizeUploadRequest/video"], "unknown video, or another owner's")
        in_order = [upload.etags.get(number) for number in range(len(upload.spans()))]
        if asked.get("uploadedPartIds") != in_order or None in in_order:
            return _field_errors(
                ["finalizeUploadRequest/uploadedPartIds"], "expected the ETag of every part, in order"
            )
        if not upload.finalized:
            upload.finalized = True
            data = b"".join(upload.parts[number] for number in range(len(in_order)))
            posting.add_media(media_id=str(video), data=data, content_type="video/mp4")
            request.app[VIDEO_JOBS].start(f"{_NETWORK}:{video}", data)
        return web.json_response({})

    @route("GET", "/rest/videos/{urn}")
    async def video(self, request: web.Request) -> web.Response:
        """`GET /rest/videos/{urn}`: the video and its processing status."""
        account = self._gate(request)
        if isinstance(account, web.Response):
            return account
        urn = request.match_info["urn"]
        upload = self._videos.get(urn)
        if upload is None or upload.owner != account:
            return _error(404, "Not Found", code="NOT_FOUND")
        jobs = request.app[VIDEO_JOBS]
        state = jobs.state(f"{_NETWORK}:{urn}")
        status = {None: "WAITING_UPLOAD", "processing": "PROCESSING", "ready": "AVAILABLE"}.get(
            state, "PROCESSING_FAILED"
        )
        view: dict[str, Any] = {"id": urn, "owner": f"urn:li:organization:{account}", "status": status}
        if status == "PROCESSING_FAILED":
            view["processingFailureReason"] = jobs.failure(f"{_NETWORK}:{urn}")
        return web.json_response(view)

    @staticmethod
    def _view(post: Post) -> dict[str, Any]:
        created = post.meta.get("created_ms", 0)
        view = {
            "id": post.remote_id,
            "author": post.meta.get("author"),
            "commentary": post.meta.get("commentary", ""),
            "visibility": post.body.get("visibility"),
            "distribution": post.body.get("distribution"),
            "lifecycleState": post.body.get("lifecycleState"),
            "isReshareDisabledByAuthor": bool(post.body.get("isReshareDisabledByAuthor", False)),
            "createdAt": created,
            "publishedAt": created,
            "lastModifiedAt": created,
            "lifecycleStateInfo": {"isEditedByAuthor": False},
        }
        if "content" in post.body:
            view["content"] = post.body["content"]
        return view

    @route("GET", "/rest/posts")
    async def find(self, request: web.Request) -> web.Response:
        account = self._gate(request)
        if isinstance(account, web.Response):
            return account
        if request.query.get("q") != "author":
            return _error(400, "Unsupported finder, use q=author", code="ILLEGAL_ARGUMENT")
        author = request.query.get("author", "")
        match = _AUTHOR.fullmatch(author)
        if match is None:
            return _error(400, f"Invalid author: {author}", code="ILLEGAL_ARGUMENT")
        try:
            count = min(max(int(request.query.get("count", "10")), 1), 100)
            start = max(int(request.query.get("start", "0")), 0)
        except ValueError:
            return _error(400, "count and start must be integers", code="ILLEGAL_ARGUMENT")
        posts = _organization_posts(request, match.group(2))[::-1]
        elements = [self._view(post) for post in posts[start : start + count]]
        paging = {"start": start, "count": count, "total": len(posts)}
        return web.json_response({"elements": elements, "paging": paging})

    @route("GET", "/rest/posts/{urn}")
    async def read(self, request: web.Request) -> web.Response:
        account = self._gate(request)
        if isinstance(account, web.Response):
            return account
        post = request.app[STORE].by_remote_id(_NETWORK, request.match_info["urn"])
        if post is None or post.meta.get("answers"):
            return _error(404, "Not Found", code="NOT_FOUND")
        return web.json_response(self._view(post))

    @route("GET", "/rest/socialActions/{target}/comments")
    async def comments(self, request: web.Request) -> web.Response:
        """Get Comments on Shares: the comments on one of the organization's posts, newest first."""
        account = self._gate(request)
        if isinstance(account, web.Response):
            return account
        if (replaced := await read_fault(request, self, _NETWORK, account)) is not None:
            return replaced
        state = request.app[RATES].hit(f"{_NETWORK}:{account}:reads", limit=_READS[0], window=_READS[1])
        if state.exceeded:
            return self.rate_limited(state)
        target = request.match_info["target"]
        if self._commented(request, account, target) is None:
            return _error(404, f"Not Found: {target}", code="NOT_FOUND")
        try:
            count = int(request.query.get("count", _COMMENTS_DEFAULT))
            start = int(request.query.get("start", "0"))
        except ValueError:
            return _error(400, "count and start must be integers", code="ILLEGAL_ARGUMENT")
        if not 1 <= count <= _COMMENTS_MAX or start < 0:
            return _error(400, f"count must be 1 to {_COMMENTS_MAX}, start positive", code="ILLEGAL_ARGUMENT")
        # A post lists its comments, a comment its nested comments ("Get Comments on Comments").
        found = sorted(
            (c for c in self._comments if target in (c.parent, None if c.parent else c.post)),
            key=lambda c: (c.created_ms, c.seq),
            reverse=True,
        )
        links = []
        if start + count < len(found):
            href = (
                f"/rest/socialActions/{quote(target, safe='')}/comments?start={start + count}&count={count}"
            )
            links.append({"rel": "next", "type": "application/json", "href": href})
        paging = {"start": start, "count": count, "total": len(found), "links": links}
        return web.json_response(
            {"elements": [c.view() for c in found[start : start + count]], "paging": paging}
        )

    async def _engagement_reader(self, request: web.Request) -> str | web.Response:
        """The organization reading figures, once the headers, the faults armed for these reads and the
        daily read window let it."""
        account = self._gate(request)
        if isinstance(account, web.Response):
            return account
        if (replaced := await read_fault(request, self, _NETWORK, account, on="read_engagement")) is not None:
            return replaced
        state = request.app[RATES].hit(f"{_NETWORK}:{account}:reads", limit=_READS[0], window=_READS[1])
        return self.rate_limited(state) if state.exceeded else account

    @route("GET", "/rest/socialActions/{target}")
    async def social_actions(self, request: web.Request) -> web.Response:
        """Retrieve Social Actions: the post's likes and comments summaries, from its figures."""
        account = await self._engagement_reader(request)
        if isinstance(account, web.Response):
            return account
        target = request.match_info["target"]
        post = request.app[STORE].by_remote_id(_NETWORK, target)
        if post is None or post.account != account or post.meta.get("answers"):
            return _error(404, f"Not Found: {target}", code="NOT_FOUND")
        figures = figures_of(post)
        likes = {
            "selectedLikes": [],
            "totalLikes": figures["likes"],
            "aggregatedTotalLikes": figures["likes"],
        }
        comments = {
            "selectedComments": [],
            "totalFirstLevelComments": figures["replies"],
            "aggregatedTotalComments": figures["replies"],
            "commentsState": "OPEN",
        }
        body = {
            "$URN": f"urn:li:socialActions:{target}",
            "target": target,
            "likesSummary": likes | {"likedByCurrentUser": False},
            "commentsSummary": comments,
        }
        return web.json_response(body)

    @route("GET", "/rest/organizationalEntityShareStatistics")
    async def share_statistics(self, request: web.Request) -> web.Response:
        """Organization Share Statistics of the organization's posts, lifetime (no timeIntervals)."""
        account = await self._engagement_reader(request)
        if isinstance(account, web.Response):
            return account
        query = request.query
        if query.get("q") != "organizationalEntity":
            return _error(400, "Unsupported finder, use q=organizationalEntity", code="ILLEGAL_ARGUMENT")
        match = _AUTHOR.fullmatch(query.get("organizationalEntity", ""))
        if match is None or match.group(1) != "organization":
            return _error(400, "organizationalEntity must be an organization URN", code="ILLEGAL_ARGUMENT")
        if match.group(2) != account:
            message = "Not enough permissions to access: organizationalEntityShareStatistics"
            return _error(403, message, code="ACCESS_DENIED", service_code=100)
        elements = []
        for parameter, key in _STATISTICS_KEYS.items():
            listed = _LISTED.fullmatch(query.get(parameter, ""))
            for urn in (u for u in listed.group(1).split(",") if u) if listed else ():
                post = request.app[STORE].by_remote_id(_NETWORK, urn)
                if post is None or post.account != account or post.meta.get("answers"):
                    continue  # a post the organization no longer has has no statistics
                figures = figures_of(post)
                engaged = figures["likes"] + figures["replies"] + figures["shares"]
                totals = {
                    "impressionCount": figures["views"],
                    "uniqueImpressionsCount": figures["views"],
                    "shareCount": figures["shares"],
                    "likeCount": figures["likes"],
                    "commentCount": figures["replies"],
                    "clickCount": 0,
                    "engagement": engaged / figures["views"] if figures["views"] else 0.0,
                }
                elements.append(
                    {"organizationalEntity": match.group(0), key: urn, "totalShareStatistics": totals}
                )
        paging = {"start": 0, "count": len(elements), "links": []}
        return web.json_response({"elements": elements, "paging": paging})

    @route("POST", "/_sandbox/linkedin/comments")
    async def write_comments(self, request: web.Request) -> web.Response:
        """People comment on one of the organization's posts (sandbox-only; see the module)."""
        writing = await Writing.read(request)
        if isinstance(writing, web.Response):
            return writing
        created = writing.data.get("created_ms", int(time.time() * 1000))
        if not isinstance(created, int) or isinstance(created, bool) or created < 0:
            return refused("created_ms must be epoch milliseconds")
        posts = _organization_posts(request, writing.account)
        post = writing.data.get("post") or (posts[-1].remote_id if posts else None)
        parent = writing.data.get("parent")
        if parent is not None:
            top = self._top_comment(writing.account, parent)
            if top is None:
                return refused("parent must name a comment on one of the organization's posts")
            post = top.post
        if not any(p.remote_id == post for p in posts):
            return refused("post must name one of the organization's posts (it has none yet?)")
        written = []
        for number in range(writing.count):
            comment = _Comment(
                id=str(request.app[MINT].next_id("linkedin-comment", shift=22)),
                account=writing.account,
                post=str(post),
                actor=str(writing.data.get("actor") or f"urn:li:person:citoyen{number + 1}"),
                text=writing.text(number),
                created_ms=created,
                seq=next(self._comment_seq),
                parent=parent,
            )
            self._comments.append(comment)
            urn = comment.urn
            written.append(
                {"comment_urn": urn, "id": comment.id, "post": comment.post, "created_ms": created}
            )
        return web.json_response({"items": written}, status=201)

    def _top_comment(self, account: str, urn: object) -> _Comment | None:
        """The first-level comment `urn` names on one of the account's posts (nested comments are
        one level deep: a comment on a nested comment is refused)."""
        return next(
            (c for c in self._comments if c.urn == urn and c.parent is None and c.account == account), None
        )

    def _commented(self, request: web.Request, account: str, target: str) -> str | None:
        """The post a comment on `target` goes on (`target` itself, or a first-level comment's post)
        when the organization has it; None otherwise."""
        top = self._top_comment(account, target)
        post_urn = top.post if top is not None else target
        post = request.app[STORE].by_remote_id(_NETWORK, post_urn)
        if post is None or post.account != account or post.meta.get("answers"):
            return None
        return post_urn

    @route("POST", "/rest/socialActions/{target}/comments")
    async def comment(self, request: web.Request) -> web.Response:
        """Comments API › "Create a Comment" (on a post) and "Create a Nested Comment" (on a comment,
        with `parentComment`): `actor` (the organization), `object` (the post URN), `message.text`
        → 201, the Comment, its id in `x-restli-id`. Permission `w_organization_social`."""
        account = self._gate(request)
        if isinstance(account, web.Response):
            return account
        posting = await Posting.start(request, self, _NETWORK, account)
        if isinstance(posting, web.Response):
            return posting
        params = await read_params(request)
        if params is None or request.content_type != "application/json":
            return _error(400, "Request body could not be converted to data map", code="ILLEGAL_ARGUMENT")
        target = request.match_info["target"]
        post = self._commented(request, account, target)
        if post is None:
            return _error(404, f"Not Found: {target}", code="NOT_FOUND")
        parent = target if target != post else None
        actor, message = params.get("actor"), params.get("message")
        text = message.get("text") if isinstance(message, dict) else None
        if actor != f"urn:li:organization:{account}":
            version = request.headers["LinkedIn-Version"]
            denied = f"Not enough permissions to access: partnerApiSocialActions.CREATE.{version}"
            return _error(403, denied, code="ACCESS_DENIED", service_code=100)
        if params.get("object") != post or params.get("parentComment") != parent:
            return _field_errors(["object", "parentComment"], "must name the post and the comment answered")
        if not isinstance(text, str) or not text.strip() or len(text) > _MAX_COMMENT:
            return _field_errors(["message/text"], f"must be 1 to {_MAX_COMMENT} characters")
        comment = _Comment(
            id=str(request.app[MINT].next_id("linkedin-comment", shift=22)),
            account=account,
            post=post,
            actor=str(actor),
            text=text,
            created_ms=int(time.time() * 1000),
            seq=next(self._comment_seq),
            parent=parent,
        )
        self._comments.append(comment)
        posting.add(remote_id=comment.urn, text=text, body=params, reply_to=parent, meta={"answers": target})
        await posting.created()
        return web.json_response(comment.view(), status=201, headers={"x-restli-id": comment.id})

    @route("DELETE", "/_sandbox/linkedin/comments/{comment_id}")
    async def delete_comment(self, request: web.Request) -> web.Response:
        """Its author deletes a comment (with its nested comments): sandbox-only."""
        gone = next((c for c in self._comments if c.id == request.match_info["comment_id"]), None)
        if gone is None:
            return web.json_response({"deleted": 0}, status=404)
        kept = [c for c in self._comments if gone.urn not in (c.urn, c.parent)]
        deleted, self._comments = len(self._comments) - len(kept), kept
        return web.json_response({"deleted": deleted})


def _organization_posts(request: web.Request, account: str) -> list[Post]:
    """The organization's posts, oldest first: not its comments, stored alongside."""
    posts = request.app[STORE].posts(network=_NETWORK, account=account)
    return [post for post in posts if not post.meta.get("answers")]


def add_routes(app: web.Application) -> None:
    add_api(app, LinkedInApi())
