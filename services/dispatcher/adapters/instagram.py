"""Instagram adapter: a media container, then `media_publish` (the Content Publishing API).

Follows developers.facebook.com, Instagram Platform: "Content Publishing" (media must be on a
public server: Instagram fetches `image_url` / `video_url` itself), "IG User Media"
(`POST /{ig-user-id}/media` with `image_url` or `media_type=REELS` and `video_url`, `caption`,
`alt_text` → `{"id": container}`; `GET /{ig-user-id}/media` lists published media with `caption`
and `timestamp`), "IG Container" (`status_code`: IN_PROGRESS, FINISHED, ERROR, EXPIRED,
PUBLISHED), "IG User Media Publish" (`creation_id` → `{"id": media}`; 50 API-published posts per
24-hour moving period) and Graph API "Handling Errors" (shared with Facebook: `graph_error`).

Answers to people's comments (issue #15) follow "IG Comment" › Replies: `POST
/{ig-comment-id}/replies` with `message` → `{"id"}` (a reply to a reply joins its top-level
comment, named by a reply's `parent_id`), read back with `GET /{ig-comment-id}/replies` (`id`,
`text`, `timestamp`, `from`); `find_reply` matches the text among the replies the account wrote.

Hiding a comment that shows a citizen's identifiers (#15 item 5) follows "IG Comment" › Updating:
`POST /{ig-comment-id}` with `hide=true` → `{"success": true}`; hiding it again answers success again,
so an interrupted call is made again; a comment deleted meanwhile is error 100/33, permanent.

A media's figures (`read_engagement`, issue #15): "IG Media" `like_count` (left out when the owner
hid its counts: None) and `comments_count`, and "Instagram Media Insights" `views` (the metric that
replaced `impressions` and `plays` from v22.0) and `shares`; a metric the insights leave out (data not
available yet, or a media type without it) is None.

Creating a container publishes nothing, so repeating that step is harmless; only
`media_publish` can leave the outcome unknown, and reconciliation then looks for the caption
among the account's media.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from shared.networks.facts import Capability

from .base import DeliveryError, PageAccount, Publication, UnknownOutcome
from .conversations import Engagement, ReplyTarget
from .figures import count
from .graph import GraphAdapter
from .readback import Seen, match_reply, parse_time
from .skeleton import Outgoing

__all__ = ["InstagramAdapter"]

_POLLS = 30  # container checks, one a second: images are ready at once, videos take a while


class InstagramAdapter(GraphAdapter):
    network = "instagram"
    label = "Instagram"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {"publish", "images", "video", "read_back", "reply", "hide_comments", "read_engagement"}
    )
    single_part = "caption"

    async def _publish(self, account: PageAccount, variant: Outgoing) -> Publication:
        """Publish one image or video with the single part as its caption."""
        token = self._token(account)
        if variant.done:
            return await self._publication(account, token, variant.done[0])
        item = next((m for m in variant.media if m.url), None)
        if item is None:
            raise DeliveryError(
                "Instagram needs an image or a video at a public address: this variant has none",
                network_code=None,
                kind="permanent",
            )
        fields = {"caption": variant.parts[0]}
        if item.kind == "video":
            fields |= {"media_type": "REELS", "video_url": str(item.url)}
        else:
            fields["image_url"] = str(item.url)
            if item.alt:
                fields["alt_text"] = item.alt
        container = await self._call(account, token, "POST", account.handle, fields, edge="media")
        creation_id = str(container.get("id") or "")
        if not creation_id:
            raise DeliveryError(
                "Instagram did not create the media container", network_code=None, kind="transient"
            )
        await self._wait_ready(account, token, creation_id)
        published = await self._call(
            account, token, "POST", account.handle, {"creation_id": creation_id}, edge="media_publish"
        )
        media_id = published.get("id")
        if not isinstance(media_id, str) or not media_id:
            raise UnknownOutcome("Instagram accepted the post but did not say its id: check the page")
        return await self._publication(account, token, media_id)

    async def _wait_ready(self, account: PageAccount, token: str, creation_id: str) -> None:
        for _poll in range(_POLLS):
            status = (await self._call(account, token, "GET", creation_id, {"fields": "status_code"})).get(
                "status_code"
            )
            if status in ("FINISHED", None):
                return
            if status in ("ERROR", "EXPIRED"):
                raise DeliveryError(
                    f"Instagram could not process the media (container {status}): check the file",
                    network_code=str(status),
                    kind="permanent",
                )
            await asyncio.sleep(self._poll_interval)
        raise DeliveryError(
            "Instagram is still processing the media; retry later",
            network_code="IN_PROGRESS",
            kind="transient",
        )

    async def _publication(self, account: PageAccount, token: str, media_id: str) -> Publication:
        try:
            view = await self._call(account, token, "GET", media_id, {"fields": "id,permalink"})
            url = str(view.get("permalink") or "")
        except DeliveryError:
            url = ""  # the post exists: a missing permalink must not fail the delivery
        return Publication(media_id, url or f"https://www.instagram.com/{account.handle}/", (media_id,))

    async def _seen(self, account: PageAccount, token: str, since: float) -> list[Seen]:
        fields = {"fields": "id,caption,timestamp,permalink", "limit": "50"}
        body = await self._call(account, token, "GET", account.handle, fields, edge="media")
        return [
            Seen(
                item["id"],
                str(item.get("caption") or ""),
                parse_time(item.get("timestamp")),
                url=str(item.get("permalink") or ""),
            )
            for item in body.get("data") or []
            if isinstance(item, dict) and isinstance(item.get("id"), str)
        ]

    def _url(self, account: PageAccount, seen: Seen) -> str:
        return seen.url or f"https://www.instagram.com/{account.handle}/"

    async def reply(
        self, account: PageAccount, text: str, target: ReplyTarget, *, idempotency_key: str
    ) -> Publication:
        """Answer a comment on the account's media (Instagram takes no idempotency key: the
        dispatcher's `find_reply` makes a retry safe)."""
        token = self._token(account)
        answer = await self._call(account, token, "POST", target.item_id, {"message": text}, edge="replies")
        reply_id = answer.get("id")
        if not isinstance(reply_id, str) or not reply_id:
            raise UnknownOutcome("Instagram accepted the reply but did not say its id: check the comment")
        return Publication(reply_id, self._reply_url(account), (reply_id,))

    async def find_reply(
        self, account: PageAccount, text: str, target: ReplyTarget, *, since: float
    ) -> Publication | None:
        token = self._token(account)
        comment = target.item_id
        if target.kind == "reply":  # its answers joined its top-level comment, the IG Comment's `parent_id`
            node = await self._call(account, token, "GET", target.item_id, {"fields": "id,parent_id"})
            comment = str(node.get("parent_id") or target.item_id)
        fields = {"fields": "id,text,timestamp,from"}
        body = await self._call(account, token, "GET", comment, fields, edge="replies")
        own = [
            Seen(item["id"], str(item.get("text") or ""), parse_time(item.get("timestamp")))
            for item in body.get("data") or []
            if isinstance(item, dict)
            and isinstance(item.get("id"), str)
            and isinstance(item.get("from"), dict)
            and item["from"].get("id") == account.handle
        ]
        found = match_reply(text, own, since)
        return None if found is None else Publication(found.id, self._reply_url(account), (found.id,))

    async def hide_comment(self, account: PageAccount, item_id: str) -> None:
        """Hide the comment from the public (`hide`, see the module)."""
        await self._hide(account, item_id, "hide")

    async def read_engagement(self, account: PageAccount, remote_id: str) -> Engagement:
        """The media's likes and comments from its node, its views and shares from its insights."""
        token = self._token(account)
        node = await self._read_figures(account, token, remote_id, {"fields": "like_count,comments_count"})
        metrics = await self._insights(account, token, remote_id, ["views", "shares"])
        return Engagement(
            likes=count(node.get("like_count")),
            shares=metrics.get("shares"),
            replies=count(node.get("comments_count")),
            views=metrics.get("views"),
        )

    @staticmethod
    def _reply_url(account: PageAccount) -> str:
        # A comment has no permalink of its own in the Graph API: the account's page stands in.
        return f"https://www.instagram.com/{account.handle}/"
