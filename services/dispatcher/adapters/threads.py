"""Threads adapter: per part, a media container then `threads_publish`; later parts are replies.

Follows developers.facebook.com, Threads API: "Posts" (`POST /{threads-user-id}/threads` with
`media_type` TEXT or IMAGE, `text`, `image_url`, `reply_to_id` → `{"id": container}`; then
`POST /{threads-user-id}/threads_publish` with `creation_id` → `{"id": media}`), "Reply
Management" (a reply is a post with `reply_to_id`), "Retrieve Threads" and "Retrieve Replies"
(`GET /{threads-user-id}/threads` and `/replies` with `text`, `timestamp`, `permalink`,
`replied_to`), "Troubleshooting" (Graph error bodies: `graph.py`, shared with Facebook and
Instagram) and "Rate Limiting" (250 API-published posts and 1,000 replies per 24 hours per profile).

A post's figures (`read_engagement`, issue #15): "Insights API" › Media Insights (`GET
/{threads-media-id}/insights?metric=views,likes,replies,reposts,quotes`, `threads_manage_insights`):
shares are reposts and quotes together, as on Bluesky and X (None unless both are given); a metric
left out is None.

The API root is `…/v1.0`. A container publishes nothing by itself; only `threads_publish` can
leave the outcome unknown, and reconciliation then looks for the text among the profile's
posts and replies, each part replying to the previous one.
"""

from __future__ import annotations

from typing import ClassVar

from shared.networks.facts import Capability

from .base import DeliveryError, PageAccount, Publication, UnknownOutcome
from .conversations import Engagement
from .graph import GraphAdapter
from .readback import Seen, parse_time
from .skeleton import Outgoing
from .transport import thread_failure

__all__ = ["THREADS_VERSION", "ThreadsAdapter"]

THREADS_VERSION = "v1.0"
_FIELDS = "id,text,timestamp,permalink,replied_to"
_METRICS = ("views", "likes", "replies", "reposts", "quotes")


class ThreadsAdapter(GraphAdapter):
    network = "threads"
    label = "Threads"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {"publish", "images", "video", "read_back", "read_engagement"}
    )
    threads_read_back = True
    default_version = THREADS_VERSION

    async def _publish(self, account: PageAccount, variant: Outgoing) -> Publication:
        """Publish `parts` as a thread; an image (by URL) goes with the first part."""
        token = self._token(account)
        parts = variant.parts
        image = next((m for m in variant.media if m.url and m.kind == "image"), None)
        ids: list[str] = list(variant.done[: len(parts)])
        for index in range(len(ids), len(parts)):
            fields = {"media_type": "TEXT", "text": parts[index]}
            if index == 0 and image is not None:
                fields |= {"media_type": "IMAGE", "image_url": str(image.url)}
            if ids:
                fields["reply_to_id"] = ids[-1]
            try:
                ids.append(await self._create(account, token, fields))
            except (DeliveryError, UnknownOutcome) as error:
                raise thread_failure(error, tuple(ids), len(parts)) from None
        return Publication(ids[0], await self._permalink(account, token, ids[0]), tuple(ids))

    async def _create(self, account: PageAccount, token: str, fields: dict[str, str]) -> str:
        container = await self._call(account, token, "POST", account.handle, fields, edge="threads")
        creation_id = str(container.get("id") or "")
        if not creation_id:
            raise DeliveryError(
                "Threads did not create the media container", network_code=None, kind="transient"
            )
        published = await self._call(
            account, token, "POST", account.handle, {"creation_id": creation_id}, edge="threads_publish"
        )
        media_id = published.get("id")
        if not isinstance(media_id, str) or not media_id:
            raise UnknownOutcome("Threads accepted the post but did not say its id: check the page")
        return media_id

    async def _permalink(self, account: PageAccount, token: str, media_id: str) -> str:
        try:
            view = await self._call(account, token, "GET", media_id, {"fields": "id,permalink"})
        except DeliveryError:
            view = {}  # the post exists: a missing permalink must not fail the delivery
        return str(view.get("permalink") or f"https://www.threads.net/@{account.handle}/post/{media_id}")

    async def _seen(self, account: PageAccount, token: str, since: float) -> list[Seen]:
        seen: list[Seen] = []
        for edge in ("threads", "replies"):
            body = await self._call(
                account,
                token,
                "GET",
                account.handle,
                {"fields": _FIELDS, "since": str(int(since - 300)), "limit": "100"},
                edge=edge,
            )
            for item in body.get("data") or []:
                if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                    continue
                parent = item.get("replied_to")
                seen.append(
                    Seen(
                        item["id"],
                        str(item.get("text") or ""),
                        parse_time(item.get("timestamp")),
                        str(parent.get("id")) if isinstance(parent, dict) else None,
                        str(item.get("permalink") or ""),
                    )
                )
        return seen

    def _url(self, account: PageAccount, seen: Seen) -> str:
        return seen.url or f"https://www.threads.net/@{account.handle}/post/{seen.id}"

    async def read_engagement(self, account: PageAccount, remote_id: str) -> Engagement:
        """The post's lifetime metrics from its insights."""
        metrics = await self._insights(account, self._token(account), remote_id, _METRICS)
        reposts, quotes = metrics.get("reposts"), metrics.get("quotes")
        return Engagement(
            likes=metrics.get("likes"),
            shares=None if reposts is None or quotes is None else reposts + quotes,
            replies=metrics.get("replies"),
            views=metrics.get("views"),
        )
