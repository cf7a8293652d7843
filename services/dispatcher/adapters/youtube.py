"""YouTube adapter: a resumable `videos.insert`, the post's text as the video's description.

Follows developers.google.com, YouTube Data API v3: "Resumable Uploads" (start a session with
`POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status`, `X-Upload-Content-Length`
and `X-Upload-Content-Type`, the video resource as JSON → 200 and the session URI in `Location`;
upload with `PUT <session URI>`; after an interruption, `PUT` with `Content-Range: bytes */<size>`
asks the status: 200/201 with the video when it is complete, 308 "Resume Incomplete" with
`Range` otherwise, 404 when the session expired), "Videos: insert" (snippet `title` ≤ 100
characters and `description` ≤ 5,000 bytes, no `<` or `>`), "Errors" (`{"error": {"code",
"message", "errors": [{"domain", "reason", "message"}]}}`: `authError`, `quotaExceeded`,
`uploadLimitExceeded`, `invalidTitle`, `invalidDescription`), "Quota" (10,000 units a day per
project, an upload costs 1,600; the day resets at midnight Pacific time), "Channels: list"
(`mine=true`, the uploads playlist) and "PlaylistItems: list" (the read-back).

An upload session creates at most one video, so the adapter resumes its own session after an
interruption before anything else; reconciliation reads the uploads playlist.

Reading what people write (`read_comments`, the inbox): "CommentThreads: list" with
`allThreadsRelatedToChannelId` (the channel's id, from "Channels: list" on the first read, then kept
in the cursor), `part=snippet,replies`, `order=time`, 100 threads a page. The API has no "since":
it lists threads newest first and `pageToken` pages towards older ones, so the cursor is a
`Watermark` (the newest thread's `publishedAt`, to the second, and the thread ids of that second)
and each read pages down until it meets a thread the mark covers (the first read takes the newest
page only). A page token is an offset: threads written while the reader pages shift the listing, so
a thread can come twice within a read and is kept once. Replies: for each thread on the pages read,
the cursor keeps its reply count and a mark of its newest reply; a thread whose count changed has its
replies read (from `replies.comments` when they are all there, else "Comments: list" with
`parentId`), and those past its mark are new. What the channel writes itself (its answers, by
`authorChannelId`) is read past and never returned: the inbox holds what people send. A reply to a
thread older than the pages a read covers is not seen (the API lists threads by their first
comment's time): the newest 100 threads are always covered. 1 quota unit a page. Errors:
`commentsDisabled` is permanent (nothing to read until someone enables comments), a
`channelNotFound` for the remembered channel is `CursorExpired`.

Answering (issue #15): "Comments: insert" (`POST /youtube/v3/comments?part=snippet` with
`snippet.parentId`, the thread's first comment, the conversation's root, and `snippet.textOriginal`;
50 quota units) answers a comment or a reply in its thread. YouTube takes no idempotency key:
`find_reply` lists the thread's replies ("Comments: list" with `parentId`, plain text) and matches
the text among those the channel wrote (its `authorChannelId`) since the first attempt. A parent
deleted meanwhile is `parentCommentNotFound`, a permanent refusal.

Hiding a comment that shows a citizen's identifiers (#15 item 5): "Comments: setModerationStatus"
(`POST /youtube/v3/comments/setModerationStatus?id=…&moderationStatus=heldForReview` → 204): the
comment waits for review, out of the public listings, and can be published again from YouTube Studio
(`rejected` would be for good). 50 quota units from the project's daily 10,000, the uploads' and
reads' quota: the dispatcher's limiter takes them before the call (`limits.py`), and a
`quotaExceeded` waits for midnight Pacific time like any call. Holding a held comment answers 204
again, so an interrupted call is made again; a comment deleted meanwhile is `commentNotFound`,
permanent.

A video's figures (`read_engagement`, issue #15): "Videos: list" with `part=statistics` and the
video's `id` (1 quota unit, from the same daily quota as the uploads and comment reads: the
dispatcher's limiter counts it) → `viewCount`, `likeCount` (left out when the channel hides its
ratings: None) and `commentCount`, unsigned longs sent as strings; YouTube gives no share count
(None). A deleted (or no longer public) video is absent from `items`: a permanent refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import aiohttp

from shared.networks.facts import Capability
from shared.networks.youtube import video_title

from .base import DeliveryError, PageAccount, Publication, RateObserver, UnknownOutcome
from .conversations import CursorExpired, Engagement, InboxBatch, Incoming, ReplyTarget
from .figures import count
from .readback import Seen, match_reply, parse_time
from .skeleton import Adapter, Outgoing
from .transport import DEFAULT_TIMEOUT, Reply, redact, status_error
from .watermark import Watermark, dump_cursor, load_cursor

__all__ = ["YouTubeAdapter"]

_PACIFIC = ZoneInfo("America/Los_Angeles")
_THREADS_PAGE = "100"  # the most commentThreads.list gives at once
_WATCHED_THREADS = 300  # threads whose replies the cursor follows
_MAX_PAGES = 50  # a read stops there even short of its mark: 5,000 new threads between two reads


def _until_pacific_midnight() -> float:
    now = datetime.now(_PACIFIC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()


def _error(reply: Reply, secrets: Sequence[str]) -> DeliveryError:
    error = reply.json_object().get("error")
    error = error if isinstance(error, dict) else {}
    details = error.get("errors")
    first = details[0] if isinstance(details, list) and details and isinstance(details[0], dict) else {}
    reason = str(first.get("reason") or error.get("status") or reply.status)
    said = redact(str(error.get("message") or f"HTTP {reply.status}"), secrets)
    if reply.status == 401 or reason in ("authError", "insufficientPermissions", "forbidden"):
        return DeliveryError(
            f"YouTube refused the channel's token or permissions ({said}): reconnect the page",
            network_code=reason,
            kind="auth",
        )
    if reason == "commentsDisabled":
        return DeliveryError(
            f"YouTube has comments disabled on this channel ({said}): nothing to read or answer until they "
            "are enabled",
            network_code=reason,
            kind="permanent",
        )
    if reason in ("commentNotFound", "parentCommentNotFound"):
        return DeliveryError(
            f"YouTube no longer shows the comment this answers (deleted or hidden): {said}",
            network_code=reason,
            kind="permanent",
        )
    if reason in ("quotaExceeded", "uploadLimitExceeded", "rateLimitExceeded", "userRateLimitExceeded"):
        app = reason == "quotaExceeded"
        wait = _until_pacific_midnight() if reason != "rateLimitExceeded" else None
        return DeliveryError(
            f"YouTube limit reached ({said}); uploads and reads resume after midnight Pacific time",
            network_code=reason,
            kind="transient",
            retry_after=wait,
            throttled=True,
            scope="app" if app else "page",
        )
    return status_error("YouTube", reply.status, said, reason, what="the video")


def _snippet(variant: Outgoing, description: str) -> dict[str, Any]:
    """The video's title and tags as the rules rendered them (a delivery recorded before the post
    carried a title has none: its text's first line, as then), its description and category."""
    snippet: dict[str, Any] = {
        "title": variant.title or video_title(description),
        "description": description,
        "categoryId": "22",
    }
    if variant.tags:
        snippet["tags"] = list(variant.tags)
    return snippet


class YouTubeAdapter(Adapter):
    network = "youtube"
    label = "YouTube"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {"publish", "video", "read_back", "read_comments", "reply", "hide_comments", "read_engagement"}
    )
    single_part = "description"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        observer: RateObserver | None = None,
        privacy: str = "public",
    ) -> None:
        super().__init__(session, timeout=timeout, observer=observer)  # no rate headers: quota errors tell
        self._privacy = privacy

    def _error(self, reply: Reply, secrets: Sequence[str]) -> DeliveryError:
        return _error(reply, secrets)

    async def _publish(self, account: PageAccount, variant: Outgoing) -> Publication:
        """Upload the video (`media`, with its bytes) with the single part as description."""
        token = self._token(account)
        if variant.done:
            return _publication(variant.done[0])
        description = variant.parts[0]
        video = next((m for m in variant.media if m.kind == "video" and m.data), None)
        if video is None or video.data is None:
            raise DeliveryError(
                "YouTube needs a video file: this variant has none", network_code=None, kind="permanent"
            )
        resource = {
            "snippet": _snippet(variant, description),
            "status": {"privacyStatus": self._privacy, "selfDeclaredMadeForKids": False},
        }
        started = await self._request(
            account,
            "POST",
            f"{account.base_url.rstrip('/')}/upload/youtube/v3/videos",
            secrets=[token],
            check=False,
            read_only=True,  # opening an upload session creates no video
            headers={
                "Authorization": f"Bearer {token}",
                "X-Upload-Content-Length": str(len(video.data)),
                "X-Upload-Content-Type": video.mime_type,
            },
            params={"uploadType": "resumable", "part": "snippet,status"},
            json_body=resource,
        )
        location = started.headers.get("Location")
        if not started.ok or not location:
            raise _error(started, [token])
        try:
            reply = await self._put(account, token, location, video.data, video.mime_type)
        except UnknownOutcome:
            reply = await self._resume(account, token, location, video.data, video.mime_type)
        return self._finished(reply, token)

    async def _put(
        self, account: PageAccount, token: str, location: str, data: bytes, mime: str, offset: int = 0
    ) -> Reply:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": mime}
        if offset:
            headers["Content-Range"] = f"bytes {offset}-{len(data) - 1}/{len(data)}"
        return await self._request(
            account, "PUT", location, secrets=[token], check=False, headers=headers, raw=data[offset:]
        )

    async def _resume(self, account: PageAccount, token: str, location: str, data: bytes, mime: str) -> Reply:
        """Ask the session how far the upload got, and finish it (it can create one video only)."""
        status = await self._request(
            account,
            "PUT",
            location,
            secrets=[token],
            check=False,
            read_only=True,  # a status query uploads nothing
            headers={"Authorization": f"Bearer {token}", "Content-Range": f"bytes */{len(data)}"},
            raw=b"",
        )
        if status.status != 308:
            return status
        received = status.headers.get("Range", "")
        offset = int(received.rsplit("-", 1)[-1]) + 1 if received.startswith("bytes=") else 0
        return await self._put(account, token, location, data, mime, offset)

    def _finished(self, reply: Reply, token: str) -> Publication:
        if reply.status == 404:
            raise UnknownOutcome("the YouTube upload session expired before it said whether it finished")
        if not reply.ok:
            raise _error(reply, [token])
        video_id = reply.json_object().get("id")
        if not isinstance(video_id, str) or not video_id:
            raise UnknownOutcome(
                "YouTube accepted the upload but did not say the video's id: check the channel"
            )
        return _publication(video_id)

    async def _read(
        self, account: PageAccount, token: str, path: str, params: dict[str, str]
    ) -> dict[str, Any]:
        return (await self._bearer_get(account, token, f"/youtube/v3/{path}", params)).json_object()

    async def _seen(self, account: PageAccount, token: str, since: float) -> list[Seen]:
        channels = await self._read(account, token, "channels", {"part": "contentDetails", "mine": "true"})
        items = channels.get("items") or [{}]
        uploads = (((items[0] or {}).get("contentDetails") or {}).get("relatedPlaylists") or {}).get(
            "uploads"
        )
        if not isinstance(uploads, str):
            raise DeliveryError(
                "YouTube did not show the channel's uploads", network_code=None, kind="transient"
            )
        listing = await self._read(
            account, token, "playlistItems", {"part": "snippet", "playlistId": uploads, "maxResults": "50"}
        )
        seen = []
        for item in listing.get("items") or []:
            snippet = item.get("snippet") if isinstance(item, dict) else None
            video = (snippet or {}).get("resourceId") or {}
            if isinstance(snippet, dict) and isinstance(video.get("videoId"), str):
                seen.append(
                    Seen(
                        video["videoId"],
                        str(snippet.get("description") or ""),
                        parse_time(snippet.get("publishedAt")),
                    )
                )
        return seen

    def _url(self, account: PageAccount, seen: Seen) -> str:
        return _publication(seen.id).url

    async def read_comments(self, account: PageAccount, cursor: str | None) -> InboxBatch:
        """The comments and replies written on the channel since `cursor`, oldest first."""
        token = self._token(account)
        fields = load_cursor(cursor) if cursor is not None else {}
        mark = Watermark.load(fields["threads"]) if "threads" in fields else None
        watched = _watched(fields.get("replies", {}))
        channel = fields.get("channel") if isinstance(fields.get("channel"), str) else None
        channel = channel or await self._channel(account, token)
        threads = await self._threads(account, token, channel, mark)
        items: list[Incoming] = []
        # Threads off this read's pages keep their marks, in case they come back.
        replies: dict[str, list[Any]] = {
            tid: [n, reply_mark.dump()] for tid, (n, reply_mark) in watched.items()
        }
        for thread in reversed(threads):  # oldest first: the newest threads are followed longest
            top = _incoming(thread["snippet"]["topLevelComment"], thread["id"])
            if top is not None and (mark is None or mark.is_new(top.created_at or 0.0, top.item_id)):
                items.append(top)
            count = thread["snippet"].get("totalReplyCount")
            count = count if isinstance(count, int) else 0
            seen_count, reply_mark = watched.get(thread["id"], (0, Watermark(0.0)))
            if count != seen_count and count:
                found = await self._replies(account, token, thread, count)
                new = [r for r in found if reply_mark.is_new(r.created_at or 0.0, r.item_id)]
                items.extend(new)
                reply_mark = reply_mark.advanced((r.created_at or 0.0, r.item_id) for r in new)
            replies.pop(thread["id"], None)
            replies[thread["id"]] = [count, reply_mark.dump()]
        replies = dict(list(replies.items())[-_WATCHED_THREADS:])  # the threads read last are kept
        tops = [item for item in items if item.kind == "comment"]
        mark = (mark or Watermark(0.0)).advanced((item.created_at or 0.0, item.item_id) for item in tops)
        # What the channel itself wrote (its answers) is read past, never an item people sent.
        items = [item for item in items if item.author_id != channel]
        items.sort(key=lambda item: (item.created_at or 0.0, item.kind != "comment", item.item_id))
        cursor = dump_cursor({"channel": channel, "threads": mark.dump(), "replies": replies})
        return InboxBatch(tuple(items), cursor)

    async def reply(
        self, account: PageAccount, text: str, target: ReplyTarget, *, idempotency_key: str
    ) -> Publication:
        """Answer the thread of `target` (see the module)."""
        token = self._token(account)
        resource = {"snippet": {"parentId": target.root_id, "textOriginal": text}}
        reply = await self._request(
            account,
            "POST",
            f"{account.base_url.rstrip('/')}/youtube/v3/comments",
            secrets=[token],
            headers={"Authorization": f"Bearer {token}"},
            params={"part": "snippet"},
            json_body=resource,
        )
        comment = reply.json_object()
        if not isinstance(comment.get("id"), str) or not comment["id"]:
            raise UnknownOutcome("YouTube accepted the reply but did not say its id: check the comment")
        return _reply_publication(comment)

    async def find_reply(
        self, account: PageAccount, text: str, target: ReplyTarget, *, since: float
    ) -> Publication | None:
        token = self._token(account)
        channel = await self._channel(account, token)
        params = {
            "part": "snippet",
            "parentId": target.root_id,
            "maxResults": "100",
            "textFormat": "plainText",
        }
        own: dict[str, dict[str, Any]] = {}  # the channel's replies in the thread, by id
        seen: list[Seen] = []
        for _page in range(_MAX_PAGES):
            listing = await self._comments_page(account, token, "comments", params)
            for comment in listing.get("items") or []:
                item = _incoming(comment, target.root_id) if isinstance(comment, dict) else None
                if item is not None and item.author_id == channel:
                    own[item.item_id] = comment
                    seen.append(Seen(item.item_id, item.text, item.created_at))
            next_token = listing.get("nextPageToken")
            if not isinstance(next_token, str) or not next_token:
                break
            params["pageToken"] = next_token
        found = match_reply(text, seen, since)
        return None if found is None else _reply_publication(own[found.id])

    async def hide_comment(self, account: PageAccount, item_id: str) -> None:
        """Hold the comment for review: out of the public's sight (see the module)."""
        token = self._token(account)
        await self._request(
            account,
            "POST",
            f"{account.base_url.rstrip('/')}/youtube/v3/comments/setModerationStatus",
            secrets=[token],
            read_only=True,  # holding a held comment changes nothing: safe to call again
            headers={"Authorization": f"Bearer {token}"},
            params={"id": item_id, "moderationStatus": "heldForReview"},
        )

    async def read_engagement(self, account: PageAccount, remote_id: str) -> Engagement:
        """The video's statistics now (see the module)."""
        token = self._token(account)
        body = await self._read(account, token, "videos", {"part": "statistics", "id": remote_id})
        video = next(
            (v for v in body.get("items") or [] if isinstance(v, dict) and v.get("id") == remote_id), None
        )
        if video is None:
            raise DeliveryError(
                "YouTube no longer shows the video (deleted, or no longer public): its figures cannot be "
                "read",
                network_code="videoNotFound",
                kind="permanent",
            )
        statistics = video.get("statistics")
        statistics = statistics if isinstance(statistics, dict) else {}
        return Engagement(
            likes=count(statistics.get("likeCount")),
            shares=None,
            replies=count(statistics.get("commentCount")),
            views=count(statistics.get("viewCount")),
        )

    async def _channel(self, account: PageAccount, token: str) -> str:
        channels = await self._read(account, token, "channels", {"part": "id", "mine": "true"})
        items = channels.get("items") or [{}]
        channel = (items[0] or {}).get("id") if isinstance(items[0], dict) else None
        if not isinstance(channel, str) or not channel:
            raise DeliveryError("YouTube did not say the channel's id", network_code=None, kind="transient")
        return channel

    async def _threads(
        self, account: PageAccount, token: str, channel: str, mark: Watermark | None
    ) -> list[dict[str, Any]]:
        """The threads from the newest down to the first one `mark` covers (the newest page without
        one), each once."""
        params = {
            "part": "snippet,replies",
            "allThreadsRelatedToChannelId": channel,
            "order": "time",
            "maxResults": _THREADS_PAGE,
            "textFormat": "plainText",
        }
        threads: dict[str, dict[str, Any]] = {}
        for _page in range(_MAX_PAGES):
            listing = await self._comments_page(account, token, "commentThreads", params)
            page = [t for t in listing.get("items") or [] if _is_thread(t)]
            for thread in page:
                threads.setdefault(thread["id"], thread)
            next_token = listing.get("nextPageToken")
            reached = mark is None or any(
                not mark.is_new(
                    parse_time(t["snippet"]["topLevelComment"].get("snippet", {}).get("publishedAt")) or 0.0,
                    t["id"],
                )
                for t in page
            )
            if reached or not isinstance(next_token, str) or not next_token:
                break
            params["pageToken"] = next_token
        return list(threads.values())

    async def _replies(
        self, account: PageAccount, token: str, thread: dict[str, Any], count: int
    ) -> list[Incoming]:
        """Every reply of the thread: those it carries when they are all there, else comments.list."""
        embedded = (thread.get("replies") or {}).get("comments") or []
        if len(embedded) < count:
            embedded = []
            params = {
                "part": "snippet",
                "parentId": thread["id"],
                "maxResults": "100",
                "textFormat": "plainText",
            }
            for _page in range(_MAX_PAGES):
                listing = await self._comments_page(account, token, "comments", params)
                embedded.extend(listing.get("items") or [])
                next_token = listing.get("nextPageToken")
                if not isinstance(next_token, str) or not next_token:
                    break
                params["pageToken"] = next_token
        found = (_incoming(comment, thread["id"]) for comment in embedded if isinstance(comment, dict))
        return [reply for reply in found if reply is not None and reply.kind == "reply"]

    async def _comments_page(
        self, account: PageAccount, token: str, path: str, params: dict[str, str]
    ) -> dict[str, Any]:
        reply = await self._bearer_get(account, token, f"/youtube/v3/{path}", params, check=False)
        if reply.status == 404 and path == "commentThreads":
            raise CursorExpired("YouTube no longer knows the channel the cursor names")
        if not reply.ok:
            raise _error(reply, [token])
        return reply.json_object()


def _is_thread(thread: object) -> bool:
    return (
        isinstance(thread, dict)
        and isinstance(thread.get("id"), str)
        and isinstance(thread.get("snippet"), dict)
        and isinstance(thread["snippet"].get("topLevelComment"), dict)
    )


def _watched(value: object) -> dict[str, tuple[int, Watermark]]:
    """Each thread's reply count and newest-reply mark, as the cursor kept them."""
    if not isinstance(value, dict):
        raise CursorExpired("the cursor's replies are unreadable")
    watched = {}
    for thread_id, entry in value.items():
        if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[0], int):
            raise CursorExpired("the cursor's replies are unreadable")
        watched[thread_id] = (entry[0], Watermark.load(entry[1]))
    return watched


def _incoming(comment: dict[str, Any], thread_id: str) -> Incoming | None:
    """A Comment resource as an inbox item: the thread's first comment, or a reply in it."""
    snippet = comment.get("snippet")
    if not isinstance(snippet, dict) or not isinstance(comment.get("id"), str) or not comment["id"]:
        return None
    video = snippet.get("videoId") if isinstance(snippet.get("videoId"), str) else None
    parent = snippet.get("parentId") if isinstance(snippet.get("parentId"), str) else None
    author = snippet.get("authorChannelId")
    return Incoming(
        item_id=comment["id"],
        kind="reply" if parent else "comment",
        text=str(snippet.get("textOriginal") or snippet.get("textDisplay") or ""),
        root_id=thread_id,
        parent_id=parent,
        author_name=str(snippet.get("authorDisplayName") or ""),
        author_id=str(author.get("value") or "") if isinstance(author, dict) else "",
        created_at=parse_time(snippet.get("publishedAt")),
        remote_post_id=video,
        url=f"https://www.youtube.com/watch?v={video}&lc={comment['id']}" if video else None,
    )


def _publication(video_id: str) -> Publication:
    return Publication(video_id, f"https://www.youtube.com/watch?v={video_id}", (video_id,))


def _reply_publication(comment: dict[str, Any]) -> Publication:
    snippet = comment.get("snippet") if isinstance(comment.get("snippet"), dict) else {}
    video = snippet.get("videoId") if isinstance(snippet, dict) else None
    url = f"https://www.youtube.com/watch?v={video}&lc={comment['id']}" if isinstance(video, str) else ""
    return Publication(comment["id"], url, (comment["id"],))
