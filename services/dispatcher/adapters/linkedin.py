"""LinkedIn adapter: one `POST /rest/posts` per variant, as the organization page.

Follows Microsoft Learn (LinkedIn): Community Management › "Posts API" (the body; 201 with the
post URN in `x-restli-id`), Marketing › "Versioning" (`LinkedIn-Version: YYYYMM` on every call),
API guide › "Protocol version" (`X-Restli-Protocol-Version: 2.0.0`), "Error handling"
(`status`, `serviceErrorCode`, `code`, `message`), "Rate limits" (daily, reset at midnight UTC)
Community Management › "Little Text Format" and Posts API › "Find Posts by Authors"
(`GET /rest/posts?q=author&author=…`, the read-back used by reconciliation), "Images API"
(`POST /rest/images?action=initializeUpload` with the author as `owner`, then `PUT` of the bytes
to `uploadUrl` with the bearer token), Posts API › image post (`content.media` with `id` and
`altText`) and "MultiImage API" (`content.multiImage.images`, 2 to 20 images), and "Videos API"
(`POST /rest/videos?action=initializeUpload` with `owner` and `fileSizeBytes` → the video URN and
one `uploadUrl` per byte range; `PUT` of each part, whose `ETag` names it; `action=finalizeUpload`
with the ETags in order as `uploadedPartIds`; `GET /rest/videos/{urn}` until `status` is AVAILABLE)
and Posts API › video post (`content.media.id` = `urn:li:video:…`).

Images are uploaded before the post: an upload publishes nothing, so one that times out is a
transient failure, never an unknown outcome; only the post can leave its creation in doubt. A post
has one `content`: with images it carries no article preview. A video goes alone; it is uploaded,
finalized and waited for before the post: PROCESSING_FAILED fails the delivery with LinkedIn's
reason and nothing is posted, and a video still processing when the polls run out is a transient
failure (nothing posted yet: the retry uploads it again).

Reading what people write (`read_comments`, the inbox): LinkedIn has no feed of everything written
to a page, only "Get Comments on Shares" (Community Management › Comments API, `GET
/rest/socialActions/{post URN}/comments`, `start`/`count` paging, `r_organization_social`). So a read
takes the page's newest posts from "Find Posts by Authors" (the same finder as reconciliation, so
posts made outside Relais count too) plus the recent deliveries the dispatcher names in
`PageAccount.recent_posts`, and reads each post's comments. The documentation gives no order, so
every page of a post's comments is read (at most `_MAX_PAGES`) and each comment kept once; the cursor
keeps, per post, a `Watermark` of the newest `created.time` read (epoch milliseconds) and the comment
URNs of that millisecond. A post the organization no longer has (404) is skipped and forgotten. A
comment starts its own conversation (`root_id` is its URN) and answers the post (`remote_post_id`);
the organization's own comments (its `actor`) are read past, never returned.
Comments on comments (Get Comments on Comments) are not read yet: one more call per comment.

Answering (issue #15): Comments API › "Create a Nested Comment": `POST
/rest/socialActions/{comment URN}/comments` with the organization as `actor`, the post as `object`,
`message.text` and `parentComment` → 201 with the Comment. Nesting is one level deep, so an answer
goes under the conversation's root (its first-level comment), whichever comment of it is answered.
LinkedIn takes no idempotency key: `find_reply` reads that comment's nested comments ("Get Comments
on Comments") and matches the text among the organization's own. A comment deleted meanwhile is a
404, a permanent refusal.

A post's figures (`read_engagement`, issue #15): Community Management › "Social Actions API"
(`GET /rest/socialActions/{post URN}`: likes `likesSummary.totalLikes`, replies
`commentsSummary.aggregatedTotalComments`, nested comments included; 404 when the organization no
longer has the post, a permanent refusal) and Organizations › "Organization Share Statistics" (`GET
/rest/organizationalEntityShareStatistics?q=organizationalEntity&organizationalEntity={organization}
&shares=List({share URN})`, or `ugcPosts=List(…)` for a UGC post, Rest.li 2.0 encoding; lifetime
without `timeIntervals`: views `impressionCount`, shares `shareCount`, organic only; a post left out
of `elements` has neither: None). The statistics need `rw_organization_admin` (an ADMINISTRATOR of
the page): a 403 there asks for the page to be reconnected.

Parts arrive already written as little text: the formatter's rules (`shared/networks`) escape
the reserved characters, and the previews show exactly what is sent. This adapter sends the
commentary as given; escaping it again would show the backslashes on the page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

import aiohttp

from shared.networks.facts import Capability

from .attachments import MediaRules, check_media, upload_failure
from .base import DeliveryError, Media, PageAccount, Publication, RateObserver, UnknownOutcome
from .conversations import CursorExpired, Engagement, InboxBatch, Incoming, ReplyTarget
from .figures import count
from .readback import Seen, match_reply
from .skeleton import SOCIAL_WITH_ADVOCATES, Adapter, Outgoing
from .transport import DEFAULT_TIMEOUT, Reply, redact, status_error
from .watermark import Watermark, dump_cursor, load_cursor

__all__ = ["DEFAULT_VERSION", "LinkedInAdapter"]

DEFAULT_VERSION = "202610"
_MAX_IMAGES = 20
_MEDIA_RULES = MediaRules("LinkedIn", _MAX_IMAGES, video_alone=True)  # MultiImage API: 2 to 20
_POLLS = 90  # video status reads, `poll_interval` apart
_RECENT_POSTS = 20  # the page's newest posts whose comments each read covers
_NAMED_POSTS = 50  # of the deliveries the caller names (`PageAccount.recent_posts`), the newest
_COMMENTS_PAGE = 100
_MAX_PAGES = 10  # of one post's comments in one read: 1,000 comments
_KEPT_MARKS = 200  # posts whose marks the cursor keeps when a read no longer covers them


def _until_midnight_utc() -> float:
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()


def _error(reply: Reply, secrets: Sequence[str]) -> DeliveryError:
    body = reply.json_object()
    said = redact(str(body.get("message") or f"HTTP {reply.status}"), secrets).strip()
    code = str(body.get("code") or body.get("serviceErrorCode") or reply.status)
    if reply.status == 401:
        return DeliveryError(
            f"LinkedIn refused the page's token ({said}): reconnect the page", network_code=code, kind="auth"
        )
    if reply.status == 403:
        return DeliveryError(
            f"LinkedIn denied the post ({said}): reconnect the page with a member who administers "
            "the organization page and grants w_organization_social",
            network_code=code,
            kind="auth",
        )
    if reply.status == 429:
        if "DAY" in said:
            retry_after: float | None = _until_midnight_utc()
        else:
            try:
                retry_after = float(reply.headers["Retry-After"])
            except (KeyError, ValueError):
                retry_after = None
        return DeliveryError(
            f"LinkedIn throttled the page ({said})",
            network_code=code,
            kind="transient",
            retry_after=retry_after,
            throttled=True,
            scope="app" if "APPLICATION" in said else "page",
        )
    if reply.status == 426 or code == "VERSION_MISSING":
        return DeliveryError(
            f"LinkedIn refused the API version ({said}): configure a current LinkedIn-Version",
            network_code=code,
            kind="permanent",
        )
    if "duplicate" in said.lower():
        return DeliveryError(
            f"LinkedIn refused a duplicate ({said}): this page already has this text",
            network_code=code,
            kind="permanent",
        )
    return status_error("LinkedIn", reply.status, said, code)


def _content(images: Sequence[tuple[str, str | None]]) -> dict[str, Any]:
    """The post's `content`: one image or the video as `media`, several images as `multiImage`."""
    # `altText` describes images (Images API); a video post's media carries only its URN.
    entries = [{"id": urn} | ({"altText": alt} if alt and ":image:" in urn else {}) for urn, alt in images]
    if len(entries) == 1:
        return {"media": entries[0]}
    return {"multiImage": {"images": entries}}


class LinkedInAdapter(Adapter):
    network = "linkedin"
    label = "LinkedIn"
    capabilities: ClassVar[frozenset[Capability]] = SOCIAL_WITH_ADVOCATES
    single_part = "part"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        version: str = DEFAULT_VERSION,
        observer: RateObserver | None = None,
        poll_interval: float = 2.0,
    ) -> None:
        super().__init__(session, timeout=timeout, observer=observer)  # no rate headers: only 429s tell
        self._version = version
        self._poll_interval = poll_interval

    def _error(self, reply: Reply, secrets: Sequence[str]) -> DeliveryError:
        return _error(reply, secrets)

    @staticmethod
    def _author(account: PageAccount) -> str:
        handle = account.handle
        return handle if handle.startswith("urn:li:") else f"urn:li:organization:{handle}"

    def _headers(self, token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "LinkedIn-Version": self._version,
            "X-Restli-Protocol-Version": "2.0.0",
        }

    async def _publish(self, account: PageAccount, variant: Outgoing) -> Publication:
        """Publish the single part, already in little text. `link` must already be in the text."""
        token = self._token(account)
        if variant.done:
            return Publication(variant.done[0], _post_url(variant.done[0]), (variant.done[0],))
        media = variant.media
        check_media(_MEDIA_RULES, media)
        images = [
            (
                await (self._upload_video if item.kind == "video" else self._upload_image)(
                    account, token, item, position, len(media)
                ),
                item.alt,
            )
            for position, item in enumerate(media, 1)
        ]
        body: dict[str, Any] = {
            "author": self._author(account),
            "commentary": variant.parts[0],
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if images:
            body["content"] = _content(images)
        reply = await self._request(
            account,
            "POST",
            f"{account.base_url.rstrip('/')}/rest/posts",
            secrets=[token],
            headers=self._headers(token),
            json_body=body,
        )
        urn = reply.headers.get("x-restli-id") or reply.headers.get("x-linkedin-id")
        if not urn:
            raise UnknownOutcome("LinkedIn accepted the post but did not say its URN: check the page")
        return Publication(urn, _post_url(urn), (urn,))

    async def _upload_image(
        self, account: PageAccount, token: str, item: Media, position: int, total: int
    ) -> str:
        """Initialize an upload owned by the post's author, then put the bytes; the image URN."""
        try:
            reply = await self._request(
                account,
                "POST",
                f"{account.base_url.rstrip('/')}/rest/images",
                secrets=[token],
                read_only=True,  # an upload publishes nothing: safe to send again
                headers=self._headers(token),
                params={"action": "initializeUpload"},
                json_body={"initializeUploadRequest": {"owner": self._author(account)}},
            )
            value = reply.json_object().get("value")
            value = value if isinstance(value, dict) else {}
            upload_url, image = value.get("uploadUrl"), value.get("image")
            if not isinstance(upload_url, str) or not isinstance(image, str) or not image:
                raise DeliveryError(
                    "LinkedIn did not say where to upload the image", network_code=None, kind="transient"
                )
            await self._request(
                account,
                "PUT",
                upload_url,
                secrets=[token, upload_url],
                read_only=True,
                headers={"Authorization": f"Bearer {token}", "Content-Type": item.mime_type},
                raw=item.data,
            )
        except DeliveryError as error:
            raise upload_failure(error, item, position, total) from None
        return image

    async def _upload_video(
        self, account: PageAccount, token: str, item: Media, position: int, total: int
    ) -> str:
        """Initialize, put every part, finalize with their ETags and wait until AVAILABLE; the URN."""
        videos = f"{account.base_url.rstrip('/')}/rest/videos"
        data = item.data or b""
        try:
            reply = await self._request(
                account,
                "POST",
                videos,
                secrets=[token],
                read_only=True,  # an upload publishes nothing: safe to send again
                headers=self._headers(token),
                params={"action": "initializeUpload"},
                json_body={
                    "initializeUploadRequest": {
                        "owner": self._author(account),
                        "fileSizeBytes": len(data),
                        "uploadCaptions": False,
                        "uploadThumbnail": False,
                    }
                },
            )
            value = _object(reply.json_object().get("value"))
            video, parts = value.get("video"), value.get("uploadInstructions")
            if not isinstance(video, str) or not video or not isinstance(parts, list) or not parts:
                raise DeliveryError(
                    "LinkedIn did not say where to upload the video", network_code=None, kind="transient"
                )
            etags = [await self._put_part(account, token, _object(part), data) for part in parts]
            await self._request(
                account,
                "POST",
                videos,
                secrets=[token],
                read_only=True,
                headers=self._headers(token),
                params={"action": "finalizeUpload"},
                json_body={
                    "finalizeUploadRequest": {
                        "video": video,
                        "uploadToken": str(value.get("uploadToken") or ""),
                        "uploadedPartIds": etags,
                    }
                },
            )
            await self._wait_available(account, token, video)
        except DeliveryError as error:
            raise upload_failure(error, item, position, total) from None
        return video

    async def _put_part(self, account: PageAccount, token: str, part: dict[str, Any], data: bytes) -> str:
        url, first, last = part.get("uploadUrl"), part.get("firstByte"), part.get("lastByte")
        if not isinstance(url, str) or not isinstance(first, int) or not isinstance(last, int):
            raise DeliveryError(
                "LinkedIn gave an unreadable upload part", network_code=None, kind="transient"
            )
        reply = await self._request(
            account,
            "PUT",
            url,
            secrets=[token, url],
            read_only=True,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"},
            raw=data[first : last + 1],
        )
        etag = reply.headers.get("ETag")
        if not etag:
            raise DeliveryError("LinkedIn took a part without its ETag", network_code=None, kind="transient")
        return etag

    async def _wait_available(self, account: PageAccount, token: str, video: str) -> None:
        url = f"{account.base_url.rstrip('/')}/rest/videos/{quote(video, safe='')}"
        for _poll in range(_POLLS):
            reply = await self._request(
                account, "GET", url, secrets=[token], read_only=True, headers=self._headers(token)
            )
            found = reply.json_object()
            if found.get("status") == "AVAILABLE":
                return
            if found.get("status") == "PROCESSING_FAILED":
                why = str(found.get("processingFailureReason") or "no reason given")
                raise DeliveryError(
                    f"LinkedIn could not process the video ({why}): check the file",
                    network_code="PROCESSING_FAILED",
                    kind="permanent",
                )
            await asyncio.sleep(self._poll_interval)
        raise DeliveryError(
            "LinkedIn is still processing the video; retry later", network_code="PROCESSING", kind="transient"
        )

    async def _seen(self, account: PageAccount, token: str, since: float) -> list[Seen]:
        reply = await self._request(
            account,
            "GET",
            f"{account.base_url.rstrip('/')}/rest/posts",
            secrets=[token],
            read_only=True,
            headers=self._headers(token),
            params={"q": "author", "author": self._author(account), "count": "100", "sortBy": "CREATED"},
        )
        return [
            Seen(
                item["id"],
                str(item.get("commentary") or ""),
                item["createdAt"] / 1000 if isinstance(item.get("createdAt"), int) else None,
            )
            for item in reply.json_object().get("elements") or []
            if isinstance(item, dict) and isinstance(item.get("id"), str)
        ]

    def _url(self, account: PageAccount, seen: Seen) -> str:
        return _post_url(seen.id)

    async def read_comments(self, account: PageAccount, cursor: str | None) -> InboxBatch:
        """The comments written on the page's recent posts since `cursor`, oldest first."""
        token = self._token(account)
        fields = load_cursor(cursor) if cursor is not None else {}
        posts_field = fields.get("posts", {})
        if not isinstance(posts_field, dict):
            raise CursorExpired("the cursor's posts are unreadable")
        marks = {urn: Watermark.load(mark) for urn, mark in posts_field.items()}
        recent = [post.id for post in await self._seen(account, token, 0.0)][:_RECENT_POSTS]
        items: list[Incoming] = []
        read: dict[str, Watermark] = {}
        for urn in dict.fromkeys([*account.recent_posts[:_NAMED_POSTS], *recent]):
            comments = await self._comments(account, token, urn)
            if comments is None:  # the post is gone: nothing to read, nothing to remember
                marks.pop(urn, None)
                continue
            mark = marks.pop(urn, None)
            new = [c for c in comments if mark is None or mark.is_new(c.created_at or 0.0, c.item_id)]
            # What the organization wrote itself (its answers) is read past, never an item people sent.
            items.extend(c for c in new if c.author_id != self._author(account))
            read[urn] = (mark or Watermark(0.0)).advanced((c.created_at or 0.0, c.item_id) for c in new)
        kept = dict(list(marks.items())[-_KEPT_MARKS:])
        items.sort(key=lambda item: (item.created_at or 0.0, item.item_id))
        cursor = dump_cursor({"posts": {urn: mark.dump() for urn, mark in {**kept, **read}.items()}})
        return InboxBatch(tuple(items), cursor)

    async def _comments(self, account: PageAccount, token: str, post: str) -> list[Incoming] | None:
        """Every comment on `post`, each once (None: LinkedIn no longer has the post)."""
        url = f"{account.base_url.rstrip('/')}/rest/socialActions/{quote(post, safe='')}/comments"
        found: dict[str, Incoming] = {}
        for page in range(_MAX_PAGES):
            reply = await self._request(
                account,
                "GET",
                url,
                secrets=[token],
                read_only=True,
                check=False,
                headers=self._headers(token),
                params={"start": str(page * _COMMENTS_PAGE), "count": str(_COMMENTS_PAGE)},
            )
            if reply.status == 404:
                return None
            if reply.status == 403:
                raise DeliveryError(
                    "LinkedIn denied reading the page's comments: reconnect the page with a member who "
                    "administers the organization page and grants r_organization_social",
                    network_code=str(reply.json_object().get("code") or 403),
                    kind="auth",
                )
            if not reply.ok:
                raise _error(reply, [token])
            body = reply.json_object()
            elements = [e for e in body.get("elements") or [] if isinstance(e, dict)]
            for element in elements:
                if (item := _incoming(element, post)) is not None:
                    found.setdefault(item.item_id, item)
            total = _object(body.get("paging")).get("total")
            if len(elements) < _COMMENTS_PAGE or (
                isinstance(total, int) and (page + 1) * _COMMENTS_PAGE >= total
            ):
                break
        return list(found.values())

    async def reply(
        self, account: PageAccount, text: str, target: ReplyTarget, *, idempotency_key: str
    ) -> Publication:
        """Answer the conversation of `target` with a nested comment (see the module)."""
        token = self._token(account)
        parent, post = target.root_id, _commented_post(target.root_id)
        body = {
            "actor": self._author(account),
            "object": post,
            "message": {"text": text},
            "parentComment": parent,
        }
        reply = await self._request(
            account,
            "POST",
            f"{account.base_url.rstrip('/')}/rest/socialActions/{quote(parent, safe='')}/comments",
            secrets=[token],
            check=False,
            headers=self._headers(token),
            json_body=body,
        )
        if reply.status == 404:
            raise DeliveryError(
                "LinkedIn no longer shows the comment this answers (deleted, or not on the organization's "
                "posts)",
                network_code="NOT_FOUND",
                kind="permanent",
            )
        if not reply.ok:
            raise _error(reply, [token])
        comment = reply.json_object()
        urn = comment.get("commentUrn") or comment.get("$URN")
        if not isinstance(urn, str) or not urn:
            raise UnknownOutcome("LinkedIn accepted the comment but did not say its URN: check the post")
        return _comment_publication(urn, post)

    async def find_reply(
        self, account: PageAccount, text: str, target: ReplyTarget, *, since: float
    ) -> Publication | None:
        token = self._token(account)
        nested = await self._comments(account, token, target.root_id)
        own = [
            Seen(item.item_id, item.text, item.created_at)
            for item in nested or []
            if item.author_id == self._author(account)
        ]
        found = match_reply(text, own, since)
        return None if found is None else _comment_publication(found.id, _commented_post(target.root_id))

    async def read_engagement(self, account: PageAccount, remote_id: str) -> Engagement:
        """The post's likes and comments (social actions) and its impressions and shares (statistics)."""
        token = self._token(account)
        base = account.base_url.rstrip("/")
        urn = quote(remote_id, safe="")
        actions = await self._read_figures(account, token, f"{base}/rest/socialActions/{urn}")
        finder = "ugcPosts" if remote_id.startswith("urn:li:ugcPost:") else "shares"
        organization = quote(self._author(account), safe="")
        query = f"q=organizationalEntity&organizationalEntity={organization}&{finder}=List({urn})"
        statistics = await self._read_figures(
            account, token, f"{base}/rest/organizationalEntityShareStatistics?{query}"
        )
        key = "ugcPost" if finder == "ugcPosts" else "share"
        element = next(
            (_object(e) for e in statistics.get("elements") or [] if _object(e).get(key) == remote_id), {}
        )
        totals = _object(element.get("totalShareStatistics"))
        return Engagement(
            likes=count(_object(actions.get("likesSummary")).get("totalLikes")),
            shares=count(totals.get("shareCount")),
            replies=count(_object(actions.get("commentsSummary")).get("aggregatedTotalComments")),
            views=count(totals.get("impressionCount")),
        )

    async def _read_figures(self, account: PageAccount, token: str, url: str) -> dict[str, Any]:
        """One read of a post's figures: a post gone (404) is permanent, a denial (403) needs the page
        reconnected by an administrator."""
        reply = await self._request(
            account, "GET", url, secrets=[token], read_only=True, check=False, headers=self._headers(token)
        )
        code = str(reply.json_object().get("code") or reply.status)
        if reply.status == 404:
            raise DeliveryError(
                "LinkedIn no longer has the post (deleted, or not the organization's): its figures cannot "
                "be read",
                network_code=code,
                kind="permanent",
            )
        if reply.status == 403:
            raise DeliveryError(
                "LinkedIn denied reading the post's figures: reconnect the page with a member who is an "
                "ADMINISTRATOR of the organization page and grants r_organization_social and "
                "rw_organization_admin",
                network_code=code,
                kind="auth",
            )
        if not reply.ok:
            raise _error(reply, [token])
        return reply.json_object()


def _commented_post(comment_urn: str) -> str:
    """The post a comment URN names: `urn:li:comment:(<post URN>,<id>)`."""
    inner = comment_urn.removeprefix("urn:li:comment:(").removesuffix(")")
    return inner.rpartition(",")[0] or comment_urn


def _comment_publication(urn: str, post: str) -> Publication:
    return Publication(urn, f"{_post_url(post)}?commentUrn={quote(urn, safe='')}", (urn,))


def _incoming(comment: dict[str, Any], post: str) -> Incoming | None:
    """A Comment as an inbox item: it starts a conversation of its own on `post`."""
    urn = comment.get("commentUrn") or comment.get("$URN")
    if not isinstance(urn, str) or not urn:
        return None
    created = _object(comment.get("created")).get("time")
    parent = comment.get("parentComment") if isinstance(comment.get("parentComment"), str) else None
    return Incoming(
        item_id=urn,
        kind="reply" if parent else "comment",
        text=str(_object(comment.get("message")).get("text") or ""),
        root_id=parent or urn,
        parent_id=parent,
        author_id=str(comment.get("actor") or ""),
        created_at=created / 1000 if isinstance(created, int) and not isinstance(created, bool) else None,
        remote_post_id=post,
        url=f"{_post_url(post)}?commentUrn={quote(urn, safe='')}",
    )


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _post_url(urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{quote(urn, safe=':')}/"
