"""Bluesky adapter: raw XRPC over aiohttp (session, `uploadBlob`, `createRecord`, `getRecord`).

Follows docs.bsky.app's HTTP reference for `com.atproto.server.createSession`,
`com.atproto.server.refreshSession`, `com.atproto.repo.uploadBlob` (the raw bytes as the body,
with the image's Content-Type → `{"blob": {"$type": "blob", "ref": {"$link"}, "mimeType",
"size"}}`), `com.atproto.repo.createRecord` and `getRecord`; the lexicons `app.bsky.feed.post`
(`text`, `createdAt`, `facets`, `reply` with `root` and `parent` strong refs, `embed`) and
`app.bsky.embed.images` (at most 4 images, each a blob of `image/*` up to 2,000,000 bytes with a
required `alt`, optional `aspectRatio`); atproto.com's "Images and Video" guide; atproto's Record
Key and TID specifications; XRPC errors `{"error", "message"}` (a bad token is 400
`InvalidToken`, an expired one 400 `ExpiredToken`, a body over the PDS's upload limit 413
`PayloadTooLarge`, a record naming a blob the account never uploaded 400 `BlobNotFound`); the
`ratelimit-reset` header (Unix time).

- One login per account: sessions are cached on the adapter and renewed with the refresh token
  when the access token expires (a PDS allows 30 logins per 5 minutes and 300 a day per account).
- Idempotent: each part's record key is derived from the delivery's idempotency key, so the
  same part can never be created twice. When an answer leaves the outcome in doubt (timeout,
  5xx, "already exists"), the adapter reads the record back before deciding.
- Never sends `validate: false`: the PDS must check every record against the lexicon.
- Images go on the thread's first post. An upload creates nothing visible (an unreferenced blob
  is deleted by the PDS), so a lost upload answer is a plain retry, never an unknown outcome; a
  resumed thread whose first post exists uploads nothing.
- What people send the page (`read_comments`): `app.bsky.notification.listNotifications` with
  `reasons` `mention` and `reply`, newest first. Its `cursor` pages back in time and nothing asks
  for "newer than", so the page's cursor is Relais's own: the `indexedAt` of the newest notification
  read. A read goes down from the top, page by page (at most `_NOTIFICATION_PAGES`), until it meets
  notifications indexed before that cursor, and returns the newer ones (the one at the cursor's
  very instant again: the reader's key drops it) oldest first. A first read (no cursor) takes the
  newest page. The items: `record.reply.root` and `.parent` give the thread and the post answered
  (`remote_post_id`: the parent a `reply` answers, one of the page's posts); a mention outside any
  thread is its own root. Nothing of Bluesky's cursor is kept, so there is no expired cursor here.
  Reads have their own limit at the AppView, not the posting points: their headers are no hints.
- A video goes alone, by docs.bsky.app › "Uploading video": a service token from the PDS
  (`com.atproto.server.getServiceAuth`, `aud` the PDS's `did:web`, `lxm`
  `com.atproto.repo.uploadBlob`), the MP4 to the video service (`app.bsky.video.uploadVideo`),
  `app.bsky.video.getJobStatus` until `JOB_STATE_COMPLETED` gives the blob, then the post with
  `app.bsky.embed.video` (its `alt`, and `captions` uploaded as `text/vtt` blobs where given).
  `JOB_STATE_FAILED` fails the delivery with the service's reason; a job still running when the
  polls run out is a transient failure. None of it publishes: the post's fixed record key alone
  decides whether it exists. The video service is video.bsky.app for a PDS reached over https
  (or the page's `video_service` credential); a PDS reached over plain http is a test double (the
  sandbox) that serves the video service itself.
- Answering people (`reply`): the answered post's thread (`app.bsky.feed.getPostThread`, depth 0)
  gives its cid and its `reply.root` (itself when it starts the thread), and the answer is a post
  with `reply: {root, parent}` strong refs, under a record key derived from the delivery's key (so it
  is created once, as posts are). An interrupted reply is found again (`find_reply`) among the
  answered post's replies in its thread (depth 1): the page's own (its DID), by normalised text,
  created since the first attempt. An answered post that no longer exists is a permanent failure.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeGuard
from urllib.parse import urlsplit

import aiohttp
from multidict import MultiDict

from shared.images import image_dimensions
from shared.networks.facts import Capability

from .attachments import MediaRules, check_media, upload_failure
from .base import (
    Caption,
    DeliveryError,
    Media,
    PageAccount,
    Publication,
    RateHint,
    RateObserver,
    UnknownOutcome,
)
from .conversations import Engagement, InboxBatch, Incoming, ReplyTarget
from .figures import count, total
from .readback import Seen, match_reply, parse_time
from .skeleton import SOCIAL_WITH_ADVOCATES, Adapter, Outgoing
from .transport import (
    DEFAULT_TIMEOUT,
    Reply,
    fallback_kind,
    header_float,
    redact,
    seconds_until,
    thread_failure,
)

__all__ = ["BlueskyAdapter", "record_key"]

_COLLECTION = "app.bsky.feed.post"
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken", "AuthenticationRequired"})
_TOO_LARGE = frozenset({"PayloadTooLarge", "BlobTooLarge"})
_IMAGES = "app.bsky.embed.images"
_VIDEO = "app.bsky.embed.video"
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 2_000_000  # app.bsky.embed.images#image: maxSize
MAX_VIDEO_BYTES = 300_000_000  # app.bsky.embed.video#video: maxSize
_MEDIA_RULES = MediaRules(
    "Bluesky", MAX_IMAGES, video_alone=True, max_image_bytes=MAX_IMAGE_BYTES, max_video_bytes=MAX_VIDEO_BYTES
)
_VIDEO_SERVICE = "https://video.bsky.app"
_SERVICE_TOKEN_SECONDS = 30 * 60  # long enough for a large upload
_POLLS = 150  # job status reads, `poll_interval` apart
_NOTIFICATION_PAGES, _NOTIFICATIONS_PAGE = 20, "100"  # a read goes this far back at most
_REASONS = {"mention": "mention", "reply": "reply"}  # Bluesky's reason → the inbox's kind


def record_key(idempotency_key: str, index: int) -> str:
    """A TID-shaped record key derived from the delivery's key and the part's position.

    The post lexicon declares TID keys. The hash fills the TID's 63 bits except the top four, so
    its timestamp lies before 2006: deterministic, valid, and never "in the future".
    """
    digest = hashlib.sha256(f"{idempotency_key}\n{index}".encode()).digest()
    value = int.from_bytes(digest[:8], "big") & ((1 << 60) - 1)
    chars = []
    for _ in range(13):
        chars.append(_TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


@dataclass(frozen=True)
class _Session:
    did: str
    handle: str
    access: str
    refresh: str


def _ref(uri: str, cid: str) -> dict[str, str]:
    return {"uri": uri, "cid": cid}


def _hints(reply: Reply) -> list[RateHint]:
    remaining = header_float(reply.headers, "ratelimit-remaining")
    if remaining is None:
        return []
    limit = header_float(reply.headers, "ratelimit-limit")
    reset = header_float(reply.headers, "ratelimit-reset")
    return [RateHint("page", int(limit) if limit is not None else None, int(remaining), reset)]


class BlueskyAdapter(Adapter):
    network = "bluesky"
    label = "Bluesky"
    capabilities: ClassVar[frozenset[Capability]] = SOCIAL_WITH_ADVOCATES

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        observer: RateObserver | None = None,
        poll_interval: float = 2.0,
    ) -> None:
        super().__init__(session, timeout=timeout, observer=observer)
        self._poll_interval = poll_interval
        self._sessions: dict[tuple[str, str], _Session] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def _hints(self, reply: Reply) -> list[RateHint]:
        return _hints(reply)

    async def _publish(self, account: PageAccount, variant: Outgoing) -> Publication:
        """Publish `parts` as a thread; `facets[i]` (UTF-8 byte ranges) annotate part i.

        `link` must already be in the text, with a link facet if it should be clickable. `media`
        (images) go on the first post. Parts in `done` are read back by their fixed record keys
        for the reply refs, never created or uploaded again (one missing from the page is created).
        """
        identifier, password = self._credentials(account)
        parts, media, done = variant.parts, variant.media, variant.done
        if not done:
            check_media(_MEDIA_RULES, media)  # before anything is sent: a refusal publishes nothing
        refs: list[tuple[str, str]] = []
        created_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        for index, text in enumerate(parts):
            rkey = record_key(variant.idempotency_key, index)
            try:
                if index < len(done) and (
                    found := await self._published(account, identifier, password, rkey)
                ):
                    refs.append(found)  # already on the page: read back for the reply refs
                    continue
                record: dict[str, Any] = {"$type": _COLLECTION, "text": text, "createdAt": created_at}
                part_facets = variant.facets_of(index)
                if part_facets:
                    record["facets"] = list(part_facets)
                if refs:
                    record["reply"] = {"root": _ref(*refs[0]), "parent": _ref(*refs[-1])}
                if index == 0 and media:
                    check_media(_MEDIA_RULES, media)
                    record["embed"] = await self._embed(account, identifier, password, media)
                refs.append(await self._create(account, identifier, password, record, rkey))
            except (DeliveryError, UnknownOutcome) as error:
                raise thread_failure(error, tuple(uri for uri, _ in refs), len(parts)) from None
        session = await self._login(account, identifier, password)
        first = refs[0][0]
        return Publication(first, self._post_url(session, first), tuple(uri for uri, _ in refs))

    async def _published(
        self, account: PageAccount, identifier: str, password: str, rkey: str
    ) -> tuple[str, str] | None:
        """A part the dispatcher says is published, as the PDS has it (None: create it again)."""
        session = await self._login(account, identifier, password)
        return await self._existing(account, session, rkey, strict=True)

    async def _embed(
        self, account: PageAccount, identifier: str, password: str, media: Sequence[Media]
    ) -> dict[str, Any]:
        if media[0].kind == "video":  # alone: `check_media` refused it with anything else
            return await self._video_embed(account, identifier, password, media[0])
        images: list[dict[str, Any]] = []
        for number, item in enumerate(media, start=1):
            image: dict[str, Any] = {
                "alt": item.alt or "",
                "image": await self._upload(
                    account, identifier, password, item.data, item.mime_type, f"upload image {number}"
                ),
            }
            if (found := image_dimensions(item.data or b"")) is not None:
                image["aspectRatio"] = {"width": found[1], "height": found[2]}
            images.append(image)
        return {"$type": _IMAGES, "images": images}

    async def _video_embed(
        self, account: PageAccount, identifier: str, password: str, item: Media
    ) -> dict[str, Any]:
        """Upload the video to the video service, wait for its job, upload its captions: the embed."""
        try:
            blob = await self._processed_video(account, identifier, password, item)
            embed: dict[str, Any] = {"$type": _VIDEO, "video": blob}
            if item.alt:
                embed["alt"] = item.alt
            if item.captions:
                embed["captions"] = [
                    {
                        "lang": caption.lang,
                        "file": await self._caption(account, identifier, password, caption),
                    }
                    for caption in item.captions
                ]
        except DeliveryError as error:
            raise upload_failure(error, item, 1, 1) from None
        return embed

    async def _caption(self, account: PageAccount, identifier: str, password: str, caption: Caption) -> Any:
        action = f"upload the {caption.lang} captions"
        return await self._upload(account, identifier, password, caption.data, "text/vtt", action)

    async def _processed_video(
        self, account: PageAccount, identifier: str, password: str, item: Media
    ) -> dict[str, Any]:
        session = await self._login(account, identifier, password)
        token = await self._service_token(account, identifier, password)
        service = self._video_service(account)
        reply = await self._request(
            account,
            "POST",
            f"{service}/xrpc/app.bsky.video.uploadVideo",
            secrets=[password, token, session.access, session.refresh],
            check=False,
            hints=False,
            read_only=True,  # processing a video publishes nothing
            headers={"Authorization": f"Bearer {token}", "Content-Type": "video/mp4"},
            params={"did": session.did, "name": f"{item.id or 'video'}.mp4"},
            raw=item.data,
        )
        body = reply.json_object()
        nested = body.get("jobStatus")
        job: dict[str, Any] = nested if isinstance(nested, dict) else body
        job_id = job.get("jobId")
        if not isinstance(job_id, str) or not job_id:  # 409 already_exists names the job too
            raise _error(reply, [password, token], action="upload the video")
        for _poll in range(_POLLS):
            state = job.get("state")
            if state == "JOB_STATE_COMPLETED" and _is_blob(job.get("blob")):
                return dict(job["blob"])
            if state == "JOB_STATE_FAILED":
                why = str(job.get("message") or job.get("error") or "no reason given")
                raise DeliveryError(
                    f"Bluesky could not process the video ({why}): check the file",
                    network_code=str(job.get("error") or "JOB_STATE_FAILED"),
                    kind="permanent",
                )
            await asyncio.sleep(self._poll_interval)
            answer = await self._request(
                account,
                "GET",
                f"{service}/xrpc/app.bsky.video.getJobStatus",
                secrets=[password],
                hints=False,
                read_only=True,
                params={"jobId": job_id},
            )
            found = answer.json_object().get("jobStatus")
            job = found if isinstance(found, dict) else {}
        raise DeliveryError(
            "Bluesky is still processing the video; retry later",
            network_code="JOB_STATE_ENCODING",
            kind="transient",
        )

    async def _service_token(self, account: PageAccount, identifier: str, password: str) -> str:
        """A token the PDS signs for the video service to upload a blob on the account's behalf."""
        pds = urlsplit(account.base_url).hostname or ""
        params = {
            "aud": f"did:web:{pds}",
            "lxm": "com.atproto.repo.uploadBlob",
            "exp": str(int(datetime.now(UTC).timestamp()) + _SERVICE_TOKEN_SECONDS),
        }
        reply, secrets = await self._get(
            account, identifier, password, "com.atproto.server.getServiceAuth", params
        )
        answer = reply.json_object()
        if reply.ok and isinstance(answer.get("token"), str):
            return str(answer["token"])
        raise _error(reply, secrets, action="authorise the video upload")

    @staticmethod
    def _video_service(account: PageAccount) -> str:
        given = account.credentials.get("video_service")
        if given:
            return given.rstrip("/")
        if urlsplit(account.base_url).scheme == "http":
            return account.base_url.rstrip("/")
        return _VIDEO_SERVICE

    async def _upload(
        self,
        account: PageAccount,
        identifier: str,
        password: str,
        data: bytes | None,
        mime_type: str,
        action: str,
    ) -> dict[str, Any]:
        """The blob ref of one uploaded file. Read-only for delivery: it publishes nothing."""

        async def upload(session: _Session, secrets: list[str]) -> Reply:
            return await self._request(
                account,
                "POST",
                self._xrpc(account, "com.atproto.repo.uploadBlob"),
                secrets=secrets,
                check=False,
                read_only=True,
                headers={"Authorization": f"Bearer {session.access}", "Content-Type": mime_type},
                raw=data,
            )

        reply, secrets = await self._with_session(account, identifier, password, upload)
        blob = reply.json_object().get("blob")
        if reply.ok and _is_blob(blob):
            return dict(blob)
        raise _error(reply, secrets, action=action)

    @staticmethod
    def _credentials(account: PageAccount) -> tuple[str, str]:
        identifier = account.credentials.get("identifier") or account.handle
        password = account.credentials.get("password")
        if not password:
            raise DeliveryError(
                "no Bluesky app password is stored for this page: connect it", network_code=None, kind="auth"
            )
        return identifier, password

    async def find(
        self, account: PageAccount, parts: Sequence[str], *, idempotency_key: str, since: float
    ) -> Publication | None:
        """Each part's record key is derived from the delivery's key: read them back in order."""
        identifier, password = self._credentials(account)
        session = await self._login(account, identifier, password)
        uris: list[str] = []
        for index in range(len(parts)):
            found = await self._existing(account, session, record_key(idempotency_key, index), strict=True)
            if found is None:
                break
            uris.append(found[0])
        if not uris:
            return None
        return Publication(uris[0], self._post_url(session, uris[0]), tuple(uris))

    async def reply(
        self, account: PageAccount, text: str, target: ReplyTarget, *, idempotency_key: str
    ) -> Publication:
        """Answer `target` (an at:// URI) with one post under it, its reply refs read from its thread."""
        identifier, password = self._credentials(account)
        thread = await self._thread(account, identifier, password, target.item_id, depth=0)
        if thread is None:
            raise DeliveryError(
                "Bluesky no longer has the post this reply answers (deleted?)",
                network_code="NotFound",
                kind="permanent",
            )
        post = thread["post"]
        parent = _ref(str(post["uri"]), str(post["cid"]))
        reply_refs = post["record"].get("reply") if isinstance(post.get("record"), dict) else None
        root = reply_refs.get("root") if isinstance(reply_refs, dict) else None
        if not (
            isinstance(root, dict) and isinstance(root.get("uri"), str) and isinstance(root.get("cid"), str)
        ):
            root = parent  # the answered post starts its thread
        created_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        record: dict[str, Any] = {
            "$type": _COLLECTION,
            "text": text,
            "createdAt": created_at,
            "reply": {"root": _ref(root["uri"], root["cid"]), "parent": parent},
        }
        uri, _cid = await self._create(account, identifier, password, record, record_key(idempotency_key, 0))
        session = await self._login(account, identifier, password)
        return Publication(uri, self._post_url(session, uri), (uri,))

    async def find_reply(
        self, account: PageAccount, text: str, target: ReplyTarget, *, since: float
    ) -> Publication | None:
        """The page's own answer to `target` with this text, among its replies in the thread."""
        identifier, password = self._credentials(account)
        thread = await self._thread(account, identifier, password, target.item_id, depth=1)
        if thread is None:
            return None  # the answered post is gone, and its answers with it
        session = await self._login(account, identifier, password)
        replies = thread.get("replies")
        answers = [
            Seen(str(view["uri"]), str(view["record"].get("text") or ""), _created(view), target.item_id)
            for node in (replies if isinstance(replies, list) else [])
            if isinstance(node, dict)
            and isinstance(view := node.get("post"), dict)
            and isinstance(view.get("uri"), str)
            and isinstance(view.get("record"), dict)
            and isinstance(view.get("author"), dict)
            and view["author"].get("did") == session.did
        ]
        found = match_reply(text, answers, since)
        if found is None:
            return None
        return Publication(found.id, self._post_url(session, found.id), (found.id,))

    async def _thread(
        self, account: PageAccount, identifier: str, password: str, uri: str, *, depth: int
    ) -> dict[str, Any] | None:
        """`getPostThread`'s thread view of `uri` (None: the network has no such post)."""
        params = {"uri": uri, "depth": str(depth), "parentHeight": "0"}
        reply, secrets = await self._get(account, identifier, password, "app.bsky.feed.getPostThread", params)
        body = reply.json_object()
        thread = body.get("thread")
        if reply.ok and isinstance(thread, dict) and isinstance(thread.get("post"), dict):
            post = thread["post"]
            if isinstance(post.get("uri"), str) and isinstance(post.get("cid"), str):
                return thread
        if body.get("error") == "NotFound" or (reply.ok and isinstance(thread, dict)):
            return None  # unknown, or a `notFoundPost` / `blockedPost` view
        raise _error(reply, secrets, action="read the thread")

    async def read_comments(self, account: PageAccount, cursor: str | None) -> InboxBatch:
        """Mentions and replies indexed since `cursor` (an `indexedAt`), oldest first."""
        identifier, password = self._credentials(account)
        stale: _Session | None = None
        for _attempt in range(2):
            session = await self._login(account, identifier, password, stale=stale)
            secrets = [password, session.access, session.refresh]
            found, refused = await self._notifications_since(account, session, cursor, secrets)
            if refused is None:
                found.sort(key=lambda n: str(n["indexedAt"]))
                items = tuple(item for n in found if (item := _incoming(n)) is not None)
                return InboxBatch(items, found[-1]["indexedAt"] if found else cursor)
            if refused.json_object().get("error") in _TOKEN_ERRORS and stale is None:
                stale = session  # renew once, then read again
                continue
            raise _error(refused, secrets, action="read the notifications")
        raise _sessions_refused()

    async def read_engagement(self, account: PageAccount, remote_id: str) -> Engagement:
        """The post's likes, reposts and quotes (shares) and replies (`app.bsky.feed.getPosts`);
        Bluesky counts no views. A post the AppView no longer has is left out of `posts`: a
        permanent error (deleted)."""
        identifier, password = self._credentials(account)
        params = {"uris": remote_id}
        reply, secrets = await self._get(account, identifier, password, "app.bsky.feed.getPosts", params)
        if not reply.ok:
            raise _error(reply, secrets, action="read the post's figures")
        listed = reply.json_object().get("posts")
        views = [p for p in listed if isinstance(p, dict)] if isinstance(listed, list) else []
        view = next((p for p in views if p.get("uri") == remote_id), None)
        if view is None:
            raise DeliveryError(
                "Bluesky no longer has this post (deleted?)", network_code="NotFound", kind="permanent"
            )
        return Engagement(
            likes=count(view.get("likeCount")),
            shares=total(view.get("repostCount"), view.get("quoteCount")),
            replies=count(view.get("replyCount")),
        )

    async def _notifications_since(
        self, account: PageAccount, session: _Session, cursor: str | None, secrets: Sequence[str]
    ) -> tuple[list[dict[str, Any]], Reply | None]:
        """The notifications indexed at or after `cursor` (the newest page without one), newest
        first, or the answer that refused them."""
        found: list[dict[str, Any]] = []
        page: str | None = None
        for _page in range(_NOTIFICATION_PAGES):
            params = [("reasons", reason) for reason in _REASONS] + [("limit", _NOTIFICATIONS_PAGE)]
            reply = await self._request(
                account,
                "GET",
                self._xrpc(account, "app.bsky.notification.listNotifications"),
                secrets=secrets,
                check=False,
                hints=False,
                read_only=True,
                headers={"Authorization": f"Bearer {session.access}"},
                params=MultiDict([*params, *([("cursor", page)] if page else [])]),
            )
            if not reply.ok:
                return found, reply
            body = reply.json_object()
            listed = body.get("notifications")
            notes = [n for n in listed if _is_notification(n)] if isinstance(listed, list) else []
            found += [n for n in notes if cursor is None or n["indexedAt"] >= cursor]
            page = body["cursor"] if isinstance(body.get("cursor"), str) else None
            if cursor is None or page is None or any(n["indexedAt"] < cursor for n in notes):
                break
        return found, None

    @staticmethod
    def _post_url(session: _Session, uri: str) -> str:
        return f"https://bsky.app/profile/{session.handle}/post/{uri.rsplit('/', 1)[-1]}"

    def _xrpc(self, account: PageAccount, method: str) -> str:
        return f"{account.base_url.rstrip('/')}/xrpc/{method}"

    def _lock(self, key: tuple[str, str]) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    async def _with_session(
        self,
        account: PageAccount,
        identifier: str,
        password: str,
        call: Callable[[_Session, list[str]], Awaitable[Reply]],
    ) -> tuple[Reply, list[str]]:
        """`call` made with the account's session, and once more with a renewed one if the PDS
        refused its token (expired, revoked): the last answer, and the secrets that no error may
        show."""
        stale: _Session | None = None
        while True:
            session = await self._login(account, identifier, password, stale=stale)
            secrets = [password, session.access, session.refresh]
            reply = await call(session, secrets)
            if reply.ok or stale is not None or reply.json_object().get("error") not in _TOKEN_ERRORS:
                return reply, secrets
            stale = session

    async def _get(
        self, account: PageAccount, identifier: str, password: str, method: str, params: dict[str, str]
    ) -> tuple[Reply, list[str]]:
        """A read of the XRPC `method` with the account's session (`_with_session`)."""

        async def read(session: _Session, secrets: list[str]) -> Reply:
            return await self._request(
                account,
                "GET",
                self._xrpc(account, method),
                secrets=secrets,
                check=False,
                hints=False,
                read_only=True,
                headers={"Authorization": f"Bearer {session.access}"},
                params=params,
            )

        return await self._with_session(account, identifier, password, read)

    async def _login(
        self, account: PageAccount, identifier: str, password: str, *, stale: _Session | None = None
    ) -> _Session:
        """The cached session, or a new one; `stale` is a session the PDS just refused."""
        key = (account.base_url, identifier)
        async with self._lock(key):
            cached = self._sessions.get(key)
            if cached is not None and cached != stale:
                return cached
            session = None
            if stale is not None:
                session = await self._refresh(account, stale)
            if session is None:
                session = await self._create_session(account, identifier, password)
            self._sessions[key] = session
            return session

    @staticmethod
    def _session_from(reply: Reply) -> _Session | None:
        body = reply.json_object()
        fields = [body.get(name) for name in ("did", "handle", "accessJwt", "refreshJwt")]
        if reply.ok and all(isinstance(value, str) and value for value in fields):
            return _Session(*(str(value) for value in fields))
        return None

    async def _refresh(self, account: PageAccount, stale: _Session) -> _Session | None:
        try:
            reply = await self._request(
                account,
                "POST",
                self._xrpc(account, "com.atproto.server.refreshSession"),
                secrets=[stale.refresh],
                check=False,
                hints=False,
                read_only=True,
                headers={"Authorization": f"Bearer {stale.refresh}"},
            )
        except DeliveryError:
            return None
        return self._session_from(reply)

    async def check_login(self, account: PageAccount) -> None:
        """Log in once with the account's identifier and app password (`createSession`), as the
        dispatcher does before it takes an advocate's app password (#16): raises `DeliveryError`
        with Bluesky's words when the PDS refuses them. The session is kept for the first post."""
        identifier, password = self._credentials(account)
        await self._login(account, identifier, password)

    async def _create_session(self, account: PageAccount, identifier: str, password: str) -> _Session:
        # Logins and reads count against their own limits, not the posting points: no hints.
        reply = await self._request(
            account,
            "POST",
            self._xrpc(account, "com.atproto.server.createSession"),
            secrets=[password],
            check=False,
            hints=False,
            read_only=True,  # a login creates nothing: repeating it is safe
            json_body={"identifier": identifier, "password": password},
        )
        session = self._session_from(reply)
        if session is not None:
            return session
        body = reply.json_object()
        if reply.status == 401 and body.get("error") in (None, "AuthenticationRequired"):
            raise DeliveryError(
                "Bluesky refused the page's app password (revoked or changed): reconnect the page",
                network_code=str(body.get("error") or reply.status),
                kind="auth",
            )
        raise _error(reply, [password], action="log in")

    async def _existing(
        self, account: PageAccount, session: _Session, rkey: str, *, strict: bool = False
    ) -> tuple[str, str] | None:
        """The record already stored under `rkey`, if the PDS has one.

        `strict`: a PDS that cannot answer raises instead of meaning "not there".
        """
        try:
            reply = await self._request(
                account,
                "GET",
                self._xrpc(account, "com.atproto.repo.getRecord"),
                secrets=[session.access, session.refresh],
                check=False,
                hints=False,
                read_only=True,
                params={"repo": session.did, "collection": _COLLECTION, "rkey": rkey},
            )
        except DeliveryError:
            if strict:
                raise
            return None
        body = reply.json_object()
        uri, cid = body.get("uri"), body.get("cid")
        if reply.ok and isinstance(uri, str) and isinstance(cid, str):
            return uri, cid
        if strict and body.get("error") != "RecordNotFound":
            raise _error(reply, [session.access, session.refresh], action="read the page")
        return None

    async def _create(
        self, account: PageAccount, identifier: str, password: str, record: dict[str, Any], rkey: str
    ) -> tuple[str, str]:
        stale: _Session | None = None
        for _attempt in range(2):
            session = await self._login(account, identifier, password, stale=stale)
            secrets = [password, session.access, session.refresh]
            body = {"repo": session.did, "collection": _COLLECTION, "rkey": rkey, "record": record}
            try:
                reply = await self._request(
                    account,
                    "POST",
                    self._xrpc(account, "com.atproto.repo.createRecord"),
                    secrets=secrets,
                    check=False,
                    headers={"Authorization": f"Bearer {session.access}"},
                    json_body=body,
                )
            except UnknownOutcome:
                if (found := await self._existing(account, session, rkey)) is not None:
                    return found
                raise
            answer = reply.json_object()
            if reply.ok and isinstance(answer.get("uri"), str) and isinstance(answer.get("cid"), str):
                return answer["uri"], answer["cid"]
            if answer.get("error") in _TOKEN_ERRORS and stale is None:
                stale = session  # renew once, then try the same record key again
                continue
            if reply.status != 429 and (found := await self._existing(account, session, rkey)) is not None:
                return found
            raise _error(reply, secrets, action="post")
        raise _sessions_refused()


def _created(view: dict[str, Any]) -> float | None:
    """When a post view's post was made: its record's `createdAt`, else when it was indexed."""
    return parse_time(view["record"].get("createdAt")) or parse_time(view.get("indexedAt"))


def _is_notification(value: object) -> TypeGuard[dict[str, Any]]:
    return (
        isinstance(value, dict)
        and isinstance(value.get("uri"), str)
        and isinstance(value.get("indexedAt"), str)
        and value.get("reason") in _REASONS
    )


def _strong_ref_uri(reply: object, name: str) -> str | None:
    ref = reply.get(name) if isinstance(reply, dict) else None
    uri = ref.get("uri") if isinstance(ref, dict) else None
    return uri if isinstance(uri, str) and uri else None


def _incoming(notification: dict[str, Any]) -> Incoming | None:
    record = notification.get("record")
    if not isinstance(record, dict):
        return None
    author: dict[str, Any] = notification["author"] if isinstance(notification.get("author"), dict) else {}
    uri = notification["uri"]
    parent = _strong_ref_uri(record.get("reply"), "parent")
    root = _strong_ref_uri(record.get("reply"), "root") or parent or uri
    kind = _REASONS[notification["reason"]]
    handle = str(author.get("handle") or "")
    return Incoming(
        item_id=uri,
        kind=kind,
        text=str(record.get("text") or ""),
        root_id=root,
        parent_id=parent,
        author_name=str(author.get("displayName") or handle),
        author_id=str(author.get("did") or ""),
        created_at=parse_time(record.get("createdAt")) or parse_time(notification.get("indexedAt")),
        remote_post_id=parent if kind == "reply" else None,
        url=f"https://bsky.app/profile/{handle}/post/{uri.rsplit('/', 1)[-1]}" if handle else None,
    )


def _sessions_refused() -> DeliveryError:
    """A renewed session refused again: only a person reconnecting the page can help."""
    return DeliveryError(
        "Bluesky keeps refusing fresh sessions for this page: reconnect it", network_code=None, kind="auth"
    )


def _is_blob(value: object) -> TypeGuard[dict[str, Any]]:
    if not isinstance(value, dict) or value.get("$type") != "blob":
        return False
    ref = value.get("ref")
    return isinstance(ref, dict) and isinstance(ref.get("$link"), str) and isinstance(value.get("size"), int)


def _error(reply: Reply, secrets: Sequence[str], *, action: str) -> DeliveryError:
    body = reply.json_object()
    name = str(body.get("error") or "") or None
    said = redact(str(body.get("message") or name or f"HTTP {reply.status}"), secrets)
    code = name or str(reply.status)
    if name in _TOKEN_ERRORS:
        return DeliveryError(
            f"Bluesky refused the page's session ({said}): reconnect the page", network_code=code, kind="auth"
        )
    if reply.status == 413 or name in _TOO_LARGE:
        return DeliveryError(
            f"Bluesky refused to {action}: it is larger than the PDS accepts ({said}); use a smaller image",
            network_code=code,
            kind="permanent",
        )
    if name == "BlobNotFound":
        return DeliveryError(
            f"Bluesky no longer has an uploaded image ({said}); retrying uploads it again",
            network_code=code,
            kind="transient",
        )
    if name == "AccountTakedown":
        return DeliveryError(
            "Bluesky has taken this account down: contact Bluesky moderation",
            network_code=code,
            kind="permanent",
        )
    if reply.status == 429:
        try:
            retry_after: float | None = seconds_until(float(reply.headers["ratelimit-reset"]))
        except (KeyError, ValueError):
            retry_after = None
        wait = f"; the PDS allows more in {retry_after:.0f} s" if retry_after is not None else ""
        return DeliveryError(
            f"Bluesky rate limit reached for this account{wait}",
            network_code=code,
            kind="transient",
            retry_after=retry_after,
            throttled=True,
        )
    kind = fallback_kind(reply.status)
    if kind == "transient":
        return DeliveryError(
            f"Bluesky could not {action} ({said}); retry later", network_code=code, kind=kind
        )
    return DeliveryError(f"Bluesky refused to {action}: {said}", network_code=code, kind=kind)
