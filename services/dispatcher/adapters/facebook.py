"""Facebook adapter: one `POST /{version}/{page-id}/feed` per variant, with a Page access token.

Follows developers.facebook.com: Pages API › "Posts" (`message`, `link`, `access_token`; answer
`{"id": "{page-id}_{post-id}"}`; photos attached as `attached_media[i]={"media_fbid": …}`) and Graph
API › Reference › Page › "Photos" (`POST /{page-id}/photos` with the file as multipart `source`,
`published=false` and `alt_text_custom` → `{"id": photo-id}`); errors and usage headers are the
Graph API's (`graph.py`).

Images are uploaded first, unpublished: an upload publishes nothing, so one that times out is
a transient failure, never an unknown outcome; only the feed post can leave its creation in doubt.
With photos the post carries no `link` preview (the photos take its place; the text keeps the link
where the variant wrote it).

A video goes alone, by Video API › "Publishing" with the resumable upload protocol on
`POST /{page-id}/videos`: `upload_phase=start` (`file_size` → `video_id`, `upload_session_id` and
the first offsets), `transfer` (each `video_file_chunk` at the `start_offset` asked, until start and
end offsets meet), then `finish` with the text as `description`, which publishes the video post.
Start and transfer publish nothing (a failure there is safe to retry from the start); only finish
can leave the post in doubt. The adapter then reads the video's `status.video_status` from the
page's videos edge until it is `ready`; `error` (processing failed) fails the delivery with
Facebook's reason. A video still processing when the polls run out is published all the same: it
is returned, never sent again.

Answers to people (issue #15) follow Graph API › Reference › Comment › "Comments" (Publishing:
`POST /{comment-id}/comments` with `message` → `{"id"}`; Reading: `GET /{comment-id}/comments`,
each reply with `from` and `created_time`; a reply cannot be replied to, so a reply is answered under
its `parent`, read from the Comment node) and, for a private message, Messenger Platform › "Send
API" (`POST /{page-id}/messages` with `recipient.id` = the PSID, the conversation's root,
`messaging_type: RESPONSE` and `message.text` → `{"recipient_id", "message_id"}`) within the
"Messaging window": 24 hours after the person's last message, after which Meta answers error 10,
subcode 2018278, a permanent refusal (`graph_error` words it). A comment reply is found again among
the comment's replies written by the page (`find_reply`). A sent message is not: the Send API's
`message_id` is its only handle, so an interrupted send stays an unknown outcome that a person checks
in the page's inbox (`find_reply` raises `NotImplementedError`, as `find` does where a network has
no read-back, and the dispatcher must not send again on its own).

Hiding a comment that shows a citizen's identifiers (#15 item 5) follows Graph API › Reference ›
Comment › "Updating": `POST /{comment-id}` with `is_hidden=true` → `{"success": true}`; the comment
stays, seen by its author and the page only. Hiding it again answers success again (idempotent), so
an interrupted call is simply made again; a comment deleted meanwhile is error 100/33, permanent.

A post's figures (`read_engagement`, issue #15): the Post node with its edges' summaries (`GET
/{page-post-id}?fields=reactions.summary(total_count),comments.summary(total_count),shares`; Graph API ›
Reference › Post: likes are all reactions, replies the comments' `total_count`, shares `shares.count`,
which Facebook leaves out while nobody shared the post (U: observed), so a node read without it has 0
shares), and views from Page Insights (`GET /{page-post-id}/insights?metric=post_media_view`: the
`post_impressions` metric was deprecated on every version on November 15, 2025, replaced by the views
metrics). A video is read as the Post `{page-id}_{video-id}` (U: the id Facebook gives a page's video
post). Both reads are on the page token.

The token travels in the form body (or a bearer header for reads), never in the URL, so no proxy
or access log records it. Reconciliation reads `GET /{page-id}/feed` (`message`, `created_time`,
`since`) and recognises the delivery by its message.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, ClassVar

from shared.networks.facts import Capability

from .attachments import MediaRules, check_media, upload_failure
from .base import DeliveryError, Media, PageAccount, Publication, UnknownOutcome
from .conversations import Engagement, ReplyTarget
from .figures import count
from .graph import GraphAdapter
from .readback import CLOCK_SLACK, Seen, match_reply, parse_time
from .skeleton import Outgoing
from .transport import multipart_body

__all__ = ["FacebookAdapter"]

# No documented cap on attached photos; more than Instagram's carousel would be a mistake upstream.
_MEDIA_RULES = MediaRules("Facebook", 10, video_alone=True)
_POLLS = 60  # status reads after finishing, `poll_interval` apart
_COUNTS = "reactions.summary(total_count),comments.summary(total_count),shares"
_VIEWS = "post_media_view"


class FacebookAdapter(GraphAdapter):
    network = "facebook"
    label = "Facebook"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {"publish", "images", "video", "read_back", "reply", "hide_comments", "read_engagement"}
    )
    token_noun = "page token"
    single_part = "part"
    default_poll_interval = 2.0  # videos take a while

    async def _publish(self, account: PageAccount, variant: Outgoing) -> Publication:
        """Publish the single part; `link` becomes the post's link (Facebook builds its preview)."""
        token = self._token(account)
        if variant.done:
            return Publication(variant.done[0], _post_url(variant.done[0]), (variant.done[0],))
        media = variant.media
        check_media(_MEDIA_RULES, media)
        if media and media[0].kind == "video":  # alone: `check_media` refused it with anything else
            return await self._publish_video(account, token, variant.parts[0], media[0])
        form: dict[str, str] = {"message": variant.parts[0], "access_token": token}
        for index, item in enumerate(media):
            photo_id = await self._upload_photo(account, token, item, index + 1, len(media))
            form[f"attached_media[{index}]"] = json.dumps({"media_fbid": photo_id})
        if variant.link and not media:
            form["link"] = variant.link
        reply = await self._request(
            account, "POST", self._graph_url(account, f"{account.handle}/feed"), secrets=[token], form=form
        )
        post_id = reply.json_object().get("id")
        if not isinstance(post_id, str) or not post_id:
            raise UnknownOutcome("Facebook accepted the post but did not say its id: check the page")
        return Publication(post_id, _post_url(post_id), (post_id,))

    async def _upload_photo(
        self, account: PageAccount, token: str, item: Media, position: int, total: int
    ) -> str:
        """Upload one photo unpublished; its id, for `attached_media`."""
        fields = {"published": "false", "access_token": token}
        if item.alt:
            fields["alt_text_custom"] = item.alt
        body = await multipart_body(fields, [("source", item, item.data or b"")])
        try:
            reply = await self._request(
                account,
                "POST",
                self._graph_url(account, f"{account.handle}/photos"),
                secrets=[token],
                read_only=True,  # an unpublished photo publishes nothing: safe to send again
                multipart=body,
            )
        except DeliveryError as error:
            raise upload_failure(error, item, position, total) from None
        photo_id = reply.json_object().get("id")
        if not isinstance(photo_id, str | int) or isinstance(photo_id, bool) or not str(photo_id):
            raise DeliveryError(
                f"Facebook took photo {position} of {total} but did not say its id; nothing was posted",
                network_code=None,
                kind="transient",
            )
        return str(photo_id)

    async def _publish_video(self, account: PageAccount, token: str, text: str, item: Media) -> Publication:
        """Upload the video in the chunks Facebook asks for, finish (publishes), wait for processing."""
        data = item.data or b""
        try:
            started = await self._video_phase(
                account, token, {"upload_phase": "start", "file_size": str(len(data))}
            )
            video_id, session_id = (
                str(started.get("video_id") or ""),
                str(started.get("upload_session_id") or ""),
            )
            if not video_id or not session_id:
                raise DeliveryError(
                    "Facebook did not open the upload session", network_code=None, kind="transient"
                )
            offsets = started
            while (start := _offset(offsets, "start_offset")) < _offset(offsets, "end_offset"):
                chunk = data[start : _offset(offsets, "end_offset")]
                fields = {
                    "upload_phase": "transfer",
                    "upload_session_id": session_id,
                    "start_offset": str(start),
                }
                offsets = await self._video_phase(account, token, fields, ("video_file_chunk", item, chunk))
        except DeliveryError as error:
            raise upload_failure(error, item, 1, 1) from None
        finish = {"upload_phase": "finish", "upload_session_id": session_id, "description": text}
        reply = await self._request(
            account,
            "POST",
            self._graph_url(account, f"{account.handle}/videos"),
            secrets=[token],
            form={**finish, "access_token": token},
        )
        if reply.json_object().get("success") is not True:
            raise UnknownOutcome("Facebook answered the video's finish without success: check the page")
        url = await self._wait_processed(account, token, video_id)
        return Publication(video_id, url, (video_id,))

    async def _video_phase(
        self,
        account: PageAccount,
        token: str,
        fields: dict[str, str],
        chunk: tuple[str, Media, bytes] | None = None,
    ) -> dict[str, Any]:
        """Start or transfer: they publish nothing, so a lost answer is only a failed upload."""
        body = await multipart_body({**fields, "access_token": token}, [chunk] if chunk else [])
        reply = await self._request(
            account,
            "POST",
            self._graph_url(account, f"{account.handle}/videos"),
            secrets=[token],
            read_only=True,
            multipart=body,
        )
        return reply.json_object()

    async def _wait_processed(self, account: PageAccount, token: str, video_id: str) -> str:
        """The video's address once Facebook has processed it; its reason if processing failed."""
        fields = {"fields": "id,status,permalink_url", "limit": "25"}
        url = f"https://www.facebook.com/{account.handle}/videos/{video_id}/"
        for _poll in range(_POLLS):
            try:
                listed = await self._call(account, token, "GET", account.handle, fields, edge="videos")
            except DeliveryError:
                listed = {}  # published already: a failed status read is only read again
            videos = [_object(v) for v in listed.get("data") or []]
            status = _object(next((v.get("status") for v in videos if v.get("id") == video_id), None))
            if status.get("video_status") == "ready":
                return url
            if status.get("video_status") == "error":
                errors = _object(status.get("processing_phase")).get("errors") or []
                said = [str(_object(e).get("message")) for e in errors if _object(e).get("message")]
                why = "; ".join(said) or "no reason given"
                raise DeliveryError(
                    f"Facebook could not process the video ({why}): check the file and post it again",
                    network_code="video_status:error",
                    kind="permanent",
                )
            await asyncio.sleep(self._poll_interval)
        return url

    async def _seen(self, account: PageAccount, token: str, since: float) -> list[Seen]:
        """The feed's posts, and the page's videos: a video post may reach the feed only once
        processed, and a finish whose answer was lost must be found before then (a video that
        failed processing is not published)."""
        fields = {"fields": "id,message,created_time", "since": str(int(since - CLOCK_SLACK)), "limit": "100"}
        body = await self._call(account, token, "GET", account.handle, fields, edge="feed")
        seen = [
            Seen(item["id"], str(item.get("message") or ""), parse_time(item.get("created_time")))
            for item in body.get("data") or []
            if isinstance(item, dict) and isinstance(item.get("id"), str)
        ]
        fields = {"fields": "id,description,created_time,status", "limit": "100"}
        videos = await self._call(account, token, "GET", account.handle, fields, edge="videos")
        return seen + [
            Seen(
                video["id"],
                str(video.get("description") or ""),
                parse_time(video.get("created_time")),
                url=f"https://www.facebook.com/{account.handle}/videos/{video['id']}/",
            )
            for video in map(_object, videos.get("data") or [])
            if isinstance(video.get("id"), str)
            and _object(video.get("status")).get("video_status") != "error"
        ]

    def _url(self, account: PageAccount, seen: Seen) -> str:
        return seen.url or _post_url(seen.id)

    async def reply(
        self, account: PageAccount, text: str, target: ReplyTarget, *, idempotency_key: str
    ) -> Publication:
        """Answer a comment under it, or a private message through Messenger (see the module)."""
        token = self._token(account)
        if target.kind == "message":
            fields = {
                "recipient": json.dumps({"id": target.root_id}),
                "messaging_type": "RESPONSE",
                "message": json.dumps({"text": text}, ensure_ascii=False),
            }
            sent = await self._call(account, token, "POST", account.handle, fields, edge="messages")
            message_id = sent.get("message_id")
            if not isinstance(message_id, str) or not message_id:
                raise UnknownOutcome("Messenger accepted the message but did not say its id: check the inbox")
            url = f"https://www.facebook.com/{account.handle}/inbox/"
            return Publication(message_id, url, (message_id,))
        comment = await self._thread_comment(account, token, target)
        answer = await self._call(account, token, "POST", comment, {"message": text}, edge="comments")
        comment_id = answer.get("id")
        if not isinstance(comment_id, str) or not comment_id:
            raise UnknownOutcome("Facebook accepted the reply but did not say its id: check the comment")
        return Publication(comment_id, _comment_url(target.root_id, comment_id), (comment_id,))

    async def hide_comment(self, account: PageAccount, item_id: str) -> None:
        """Hide the comment from the public (`is_hidden`, see the module)."""
        await self._hide(account, item_id, "is_hidden")

    async def _thread_comment(self, account: PageAccount, token: str, target: ReplyTarget) -> str:
        """The comment whose replies hold the answer: the item itself, or, for a reply (which cannot
        be replied to: comments are two levels deep), its `parent` (Comment node's field)."""
        if target.kind != "reply":
            return target.item_id
        node = await self._call(account, token, "GET", target.item_id, {"fields": "id,parent"})
        parent = _object(node.get("parent")).get("id")
        return parent if isinstance(parent, str) and parent else target.item_id

    async def find_reply(
        self, account: PageAccount, text: str, target: ReplyTarget, *, since: float
    ) -> Publication | None:
        """The page's reply among the comment's replies; a Messenger message cannot be read back."""
        if target.kind == "message":
            raise NotImplementedError(
                "Messenger cannot read back what the page sent: check the conversation before answering again"
            )
        token = self._token(account)
        fields = {"fields": "id,message,from,created_time", "order": "chronological", "limit": "100"}
        comment = await self._thread_comment(account, token, target)
        body = await self._call(account, token, "GET", comment, fields, edge="comments")
        own = [
            Seen(item["id"], str(item.get("message") or ""), parse_time(item.get("created_time")))
            for item in map(_object, body.get("data") or [])
            if isinstance(item.get("id"), str) and _object(item.get("from")).get("id") == account.handle
        ]
        found = match_reply(text, own, since)
        if found is None:
            return None
        return Publication(found.id, _comment_url(target.root_id, found.id), (found.id,))

    async def read_engagement(self, account: PageAccount, remote_id: str) -> Engagement:
        """The post's reactions, comments and shares from its node, its views from Page Insights."""
        token = self._token(account)
        post_id = remote_id if "_" in remote_id else f"{account.handle}_{remote_id}"
        node = await self._read_figures(account, token, post_id, {"fields": _COUNTS})
        views = (await self._insights(account, token, post_id, [_VIEWS])).get(_VIEWS)
        likes = count(_object(_object(node.get("reactions")).get("summary")).get("total_count"))
        replies = count(_object(_object(node.get("comments")).get("summary")).get("total_count"))
        shares = count(_object(node.get("shares")).get("count")) if "shares" in node else 0
        return Engagement(likes=likes, shares=shares, replies=replies, views=views)


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _offset(answer: dict[str, Any], name: str) -> int:
    value = str(answer.get(name, ""))
    if not value.isdigit():
        raise DeliveryError(f"Facebook did not say the upload's {name}", network_code=None, kind="transient")
    return int(value)


def _post_url(post_id: str) -> str:
    page, _, post = post_id.partition("_")
    return f"https://www.facebook.com/{page}/posts/{post}" if post else f"https://www.facebook.com/{post_id}"


def _comment_url(post_id: str, comment_id: str) -> str:
    return f"{_post_url(post_id)}?comment_id={comment_id}"
