"""Facebook adapter: one `POST /{version}/{page-id}/feed` per variant, with a Page access token.

Follows developers.facebook.com: Pages API › "Posts" (`message`, `link`, `access_token`; answer
`{"id": "{page-id}_{post-id}"}`; photos attached as `attached_media[i]={"media_fbid": …}`) and Graph
API › Reference › Page › "Photos" (`POST /{page-id}/photos` with the file as multipart `source`,
`published=false` and `alt_text_custom` → `{"id": photo-id}`); errors and usage headers are the
Graph API's (`graph.py`).

Images are uploaded first, unpublished: an upload publishes nothing, so one that times out is
a transient failure, never an unknown outcome; only the feed post can leave its creation in doubt.
Videos are not supported yet. With photos the post carries no `link` preview (the photos take its
place; the text keeps the link where the variant wrote it).

The token travels in the form body (or a bearer header for reads), never in the URL, so no proxy
or access log records it. Reconciliation reads `GET /{page-id}/feed` (`message`, `created_time`,
`since`) and recognises the delivery by its message.
"""

from __future__ import annotations

import json
from typing import ClassVar

from shared.networks.facts import Capability

from .attachments import MediaRules, check_media, upload_failure
from .base import DeliveryError, Media, PageAccount, Publication, UnknownOutcome
from .graph import GraphAdapter
from .readback import CLOCK_SLACK, Seen, parse_time
from .skeleton import Outgoing
from .transport import multipart_body

__all__ = ["FacebookAdapter"]

# No documented cap on attached photos; more than Instagram's carousel would be a mistake upstream.
_MEDIA_RULES = MediaRules("Facebook", 10, videos=False)


class FacebookAdapter(GraphAdapter):
    network = "facebook"
    label = "Facebook"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({"publish", "images", "read_back"})
    token_noun = "page token"
    single_part = "part"

    async def _publish(self, account: PageAccount, variant: Outgoing) -> Publication:
        """Publish the single part; `link` becomes the post's link (Facebook builds its preview)."""
        token = self._token(account)
        if variant.done:
            return Publication(variant.done[0], _post_url(variant.done[0]), (variant.done[0],))
        media = variant.media
        check_media(_MEDIA_RULES, media)
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

    async def _seen(self, account: PageAccount, token: str, since: float) -> list[Seen]:
        fields = {"fields": "id,message,created_time", "since": str(int(since - CLOCK_SLACK)), "limit": "100"}
        body = await self._call(account, token, "GET", f"{account.handle}/feed", fields)
        return [
            Seen(item["id"], str(item.get("message") or ""), parse_time(item.get("created_time")))
            for item in body.get("data") or []
            if isinstance(item, dict) and isinstance(item.get("id"), str)
        ]

    def _url(self, account: PageAccount, seen: Seen) -> str:
        return _post_url(seen.id)


def _post_url(post_id: str) -> str:
    page, _, post = post_id.partition("_")
    return f"https://www.facebook.com/{page}/posts/{post}" if post else f"https://www.facebook.com/{post_id}"
