"""X adapter: each part is a `POST /2/tweets`, later parts replying to the previous one.

Follows docs.x.com: "Create or Edit Post" (JSON `text`, `reply.in_reply_to_tweet_id`, answer 201
`{"data": {"id", "text"}}`), "Response codes and errors" (problem bodies `title`, `detail`,
`type`), "Rate limits" (`x-rate-limit-*` per user and endpoint, `x-app-limit-24hour-*` for the
app; resets are Unix times), "Users lookup" (`GET /2/users/me`) and "User Posts timeline"
(`GET /2/users/{id}/tweets` with `start_time` and `tweet.fields`).

Media (Media › "Upload media", "Initialize / Append / Finalize Media upload", "Get Media upload
status", "Create Media metadata", "Best practices"): a small image (not a GIF) goes in one
multipart `POST /2/media/upload` (`media_category=tweet_image`); GIFs, videos and larger images go
through initialize, append (segments under 1 MiB), finalize, then `GET
/2/media/upload?command=STATUS` until `processing_info.state` succeeds, waiting `check_after_secs`
between looks. Alt text follows through `POST /2/media/metadata`; the first part of the thread
carries `media.media_ids`. Uploads publish nothing, so they are sent as reads: a timeout there is
a transient error, never an unknown outcome, and a resumed thread (`done`) uploads nothing again.

What people send the page (`read_comments`, Posts › Timelines › "User mention timeline"):
`GET /2/users/{id}/mentions` with `since_id` = the cursor (the newest post read), `max_results`
100, `expansions=referenced_tweets.id,author_id` and `tweet.fields=conversation_id,
in_reply_to_user_id,created_at,author_id,referenced_tweets`, newest first, paged back with
`pagination_token` to the `since_id` (at most `_MENTION_PAGES` pages); a first read (no cursor) takes
the newest page. The items go oldest first and the next cursor is the newest id read. A post that
`replied_to` another is a `reply` to it (its root the `conversation_id`), any other a `mention`. X
moves a `since_id` it no longer serves to the oldest it does ("since_id": no error): no expired
cursor. Reads have their own window: their headers are no hints for the posting buckets.

Answering people (`reply`): a `POST /2/tweets` with `reply.in_reply_to_tweet_id` = the item
answered. X has no idempotency key: an interrupted reply is found again (`find_reply`) in the page's
own timeline since the first attempt (the page's posts, so its answers only), as a post that
`replied_to` the item with this text. X refuses a text the account already posted (403 duplicate):
saved replies stay distinct through their variables, or the reply is refused permanently in words.

X has no idempotency key, so reconciliation reads the page's timeline since the first attempt
and recognises the delivery by its text (links normalised: X shows them as t.co). The dispatcher
always reconciles before trying again after an unknown outcome, so a 403 "duplicate content"
means another post of the account already has this text: a permanent refusal.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import aiohttp

from shared.networks.facts import Capability

from .attachments import MediaRules, check_media, media_name, refused_upload
from .base import (
    DeliveryError,
    Media,
    PageAccount,
    Publication,
    RateHint,
    RateObserver,
    Scope,
    UnknownOutcome,
)
from .conversations import Engagement, InboxBatch, Incoming, ReplyTarget
from .figures import count, total
from .readback import CLOCK_SLACK, Seen, match_reply, parse_time
from .skeleton import SOCIAL_WITH_ADVOCATES, Adapter, Outgoing
from .transport import (
    DEFAULT_TIMEOUT,
    Reply,
    header_float,
    multipart_body,
    redact,
    seconds_until,
    status_error,
    thread_failure,
)

__all__ = ["XAdapter"]

_MEDIA_RULES = MediaRules("X", 4, moving_alone=True)  # up to 4 images, or one GIF or video

# Segments just under 1 MiB with their multipart framing: small requests that a slow agency link
# still finishes; images larger than one segment take the chunked upload too, as X allows.
_SEGMENT = 1024 * 1024 - 16 * 1024
_PROCESSING_BUDGET = 300.0  # seconds to wait for X to process a video before retrying later
_WAITING_STATES = ("pending", "in_progress")
_MENTION_PAGES = 10  # a read goes back at most 1,000 posts
_MENTION_FIELDS = {
    "max_results": "100",
    "expansions": "referenced_tweets.id,author_id",
    "tweet.fields": "conversation_id,in_reply_to_user_id,created_at,author_id,referenced_tweets",
}


def _detail(body: dict[str, Any]) -> str:
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict) and errors[0].get("message"):
        return str(errors[0]["message"])
    return str(body.get("detail") or body.get("title") or "")


def _hints(reply: Reply) -> list[RateHint]:
    hints = []
    prefixes: tuple[tuple[Scope, str], ...] = (("page", "x-rate-limit-"), ("app", "x-app-limit-24hour-"))
    for scope, prefix in prefixes:
        remaining = header_float(reply.headers, prefix + "remaining")
        if remaining is not None:
            limit = header_float(reply.headers, prefix + "limit")
            reset = header_float(reply.headers, prefix + "reset")
            hints.append(RateHint(scope, int(limit) if limit is not None else None, int(remaining), reset))
    return hints


def _error(reply: Reply, secrets: Sequence[str]) -> DeliveryError:
    detail = redact(_detail(reply.json_object()), secrets) or f"HTTP {reply.status}"
    code = str(reply.status)
    if reply.status == 401:
        return DeliveryError(
            "X refused the page's token (expired or revoked): reconnect the page",
            network_code=code,
            kind="auth",
        )
    if reply.status == 429:
        app = header_float(reply.headers, "x-app-limit-24hour-remaining") == 0
        reset = header_float(reply.headers, "x-app-limit-24hour-reset" if app else "x-rate-limit-reset")
        retry_after = seconds_until(reset) if reset is not None else None
        wait = f"; X allows more in {retry_after:.0f} s" if retry_after is not None else ""
        return DeliveryError(
            f"X rate limit reached for {'the app' if app else 'this account'}{wait}",
            network_code=code,
            kind="transient",
            retry_after=retry_after,
            throttled=True,
            scope="app" if app else "page",
        )
    if reply.status == 403 and "duplicate" in detail.lower():
        return DeliveryError(
            "X refused a duplicate: this account already posted exactly this text "
            "(if an earlier attempt timed out, it did publish); change the wording to post again",
            network_code=code,
            kind="permanent",
        )
    return status_error("X", reply.status, detail, code)


def _upload_error(reply: Reply, secrets: Sequence[str], item: Media) -> DeliveryError:
    """What a refused upload means: nothing was posted, so a server error is always safe to retry."""
    if reply.status in (401, 429):
        return _error(reply, secrets)
    detail = redact(_detail(reply.json_object()), secrets) or f"HTTP {reply.status}"
    return refused_upload("X", reply.status, detail, item)


def _chunked(item: Media) -> bool:
    return _category(item) != "tweet_image" or len(item.data or b"") > _SEGMENT


def _category(item: Media) -> str:
    if item.kind == "video":
        return "tweet_video"
    return "tweet_gif" if item.mime_type == "image/gif" else "tweet_image"


def _own_text(post: dict[str, Any]) -> str:
    """The text as it was sent: X appends a t.co link to a post's media, listed in
    `entities.urls` with its `media_key`."""
    text = str(post.get("text", ""))
    urls = (post.get("entities") or {}).get("urls") or []
    for url in urls:
        if isinstance(url, dict) and url.get("media_key") and isinstance(url.get("url"), str):
            text = text.replace(url["url"], "")
    return text.strip()


class XAdapter(Adapter):
    network = "x"
    label = "X"
    capabilities: ClassVar[frozenset[Capability]] = SOCIAL_WITH_ADVOCATES
    threads_read_back = True

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        observer: RateObserver | None = None,
    ) -> None:
        super().__init__(session, timeout=timeout, observer=observer)
        self._user_ids: dict[tuple[str, str], str] = {}

    def _hints(self, reply: Reply) -> list[RateHint]:
        return _hints(reply)

    def _error(self, reply: Reply, secrets: Sequence[str]) -> DeliveryError:
        return _error(reply, secrets)

    async def _publish(self, account: PageAccount, variant: Outgoing) -> Publication:
        """Publish `parts` as a thread. `link` must already be in the text; X has no link field."""
        token = self._token(account)
        parts, media = variant.parts, variant.media
        ids: list[str] = list(variant.done[: len(parts)])
        media_ids: list[str] = []
        if media and not ids:  # a resumed thread already carries its media on the first part
            check_media(_MEDIA_RULES, media)
            media_ids = [await self._upload(account, token, item) for item in media]
        for text in parts[len(ids) :]:
            body: dict[str, Any] = {"text": text}
            if ids:
                body["reply"] = {"in_reply_to_tweet_id": ids[-1]}
            elif media_ids:
                body["media"] = {"media_ids": media_ids}
            try:
                ids.append(await self._create(account, token, body))
            except (DeliveryError, UnknownOutcome) as error:
                raise thread_failure(error, tuple(ids), len(parts)) from None
        return Publication(ids[0], _post_url(account, ids[0]), tuple(ids))

    def _url(self, account: PageAccount, seen: Seen) -> str:
        return _post_url(account, seen.id)

    async def _create(self, account: PageAccount, token: str, body: dict[str, Any]) -> str:
        reply = await self._request(
            account,
            "POST",
            f"{account.base_url.rstrip('/')}/2/tweets",
            secrets=[token],
            headers={"Authorization": f"Bearer {token}"},
            json_body=body,
        )
        data = reply.json_object().get("data")
        post_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(post_id, str) or not post_id:
            raise UnknownOutcome(
                "X accepted the post but did not say its id: check the page before trying again"
            )
        return post_id

    async def _media_call(
        self,
        account: PageAccount,
        token: str,
        item: Media,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        multipart: tuple[bytes, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """One media request, sent as a read (it publishes nothing); answers its `data` object."""
        reply = await self._request(
            account,
            method,
            f"{account.base_url.rstrip('/')}{path}",
            secrets=[token],
            check=False,
            read_only=True,
            headers={"Authorization": f"Bearer {token}"},
            json_body=json_body,
            multipart=multipart,
            params=params,
        )
        if not reply.ok:
            raise _upload_error(reply, [token], item)
        data = reply.json_object().get("data")
        return data if isinstance(data, dict) else {}

    async def _upload(self, account: PageAccount, token: str, item: Media) -> str:
        """Upload one attachment (and its alt text); answer its X media id once it can be attached."""
        data = item.data or b""
        if _chunked(item):
            media_id = await self._upload_in_chunks(account, token, item, data)
        else:
            fields = {"media_category": "tweet_image", "media_type": item.mime_type}
            answer = await self._media_call(
                account,
                token,
                item,
                "POST",
                "/2/media/upload",
                multipart=await multipart_body(fields, [("media", item, data)]),
            )
            media_id = self._media_id(answer, item)
        if item.alt:
            body = {"id": media_id, "metadata": {"alt_text": {"text": item.alt}}}
            await self._media_call(account, token, item, "POST", "/2/media/metadata", json_body=body)
        return media_id

    @staticmethod
    def _media_id(answer: dict[str, Any], item: Media) -> str:
        media_id = answer.get("id")
        if not isinstance(media_id, str) or not media_id:
            raise DeliveryError(
                f"X took {media_name(item)} but did not say its media id; nothing was posted, retry later",
                network_code=None,
                kind="transient",
            )
        return media_id

    async def _upload_in_chunks(self, account: PageAccount, token: str, item: Media, data: bytes) -> str:
        init = {"media_type": item.mime_type, "total_bytes": len(data), "media_category": _category(item)}
        answer = await self._media_call(
            account, token, item, "POST", "/2/media/upload/initialize", json_body=init
        )
        media_id = self._media_id(answer, item)
        for index, start in enumerate(range(0, len(data), _SEGMENT)):
            segment = await multipart_body(
                {"segment_index": str(index)}, [("media", item, data[start : start + _SEGMENT])]
            )
            await self._media_call(
                account, token, item, "POST", f"/2/media/upload/{media_id}/append", multipart=segment
            )
        answer = await self._media_call(account, token, item, "POST", f"/2/media/upload/{media_id}/finalize")
        deadline = time.monotonic() + _PROCESSING_BUDGET
        while True:
            info = answer.get("processing_info")
            state = info.get("state") if isinstance(info, dict) else None
            if not isinstance(info, dict) or state == "succeeded":
                return media_id
            if state not in _WAITING_STATES:
                error = info["error"] if isinstance(info.get("error"), dict) else {}
                said = redact(str(error.get("message") or state), [token])
                raise DeliveryError(
                    f"X could not process {media_name(item)}: {said}; attach another file",
                    network_code=str(error.get("name") or error.get("code") or state),
                    kind="permanent",
                )
            wait = header_float(info, "check_after_secs") or 1.0
            if time.monotonic() + wait > deadline:
                raise DeliveryError(
                    f"X is still processing {media_name(item)}; nothing was posted, retry later",
                    network_code=None,
                    kind="transient",
                    retry_after=wait,
                )
            await asyncio.sleep(wait)
            params = {"command": "STATUS", "media_id": media_id}
            answer = await self._media_call(account, token, item, "GET", "/2/media/upload", params=params)

    async def _read(self, account: PageAccount, token: str, path: str, params: dict[str, str]) -> Reply:
        # A read's rate headers count the read limit, not the posting one: no hints.
        return await self._bearer_get(account, token, path, params, hints=False)

    async def _user_id(self, account: PageAccount, token: str) -> str:
        key = (account.base_url, account.handle)
        if key not in self._user_ids:
            data = (await self._read(account, token, "/2/users/me", {})).json_object().get("data")
            user_id = data.get("id") if isinstance(data, dict) else None
            if not isinstance(user_id, str):
                raise DeliveryError("X did not say who this page is", network_code=None, kind="transient")
            self._user_ids[key] = user_id
        return self._user_ids[key]

    async def _seen(self, account: PageAccount, token: str, since: float) -> list[Seen]:
        user_id = await self._user_id(account, token)
        start = datetime.fromtimestamp(max(since - CLOCK_SLACK, 0), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        params = {
            "max_results": "100",
            "start_time": start,
            "tweet.fields": "created_at,referenced_tweets,entities",
        }
        seen: list[Seen] = []
        for _page in range(5):  # up to 500 posts since the first attempt
            body = (await self._read(account, token, f"/2/users/{user_id}/tweets", params)).json_object()
            for item in body.get("data") or []:
                if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                    continue
                parent = next(
                    (
                        str(ref.get("id"))
                        for ref in item.get("referenced_tweets") or []
                        if isinstance(ref, dict) and ref.get("type") == "replied_to"
                    ),
                    None,
                )
                seen.append(Seen(item["id"], _own_text(item), parse_time(item.get("created_at")), parent))
            token_next = (body.get("meta") or {}).get("next_token")
            if not isinstance(token_next, str):
                break
            params["pagination_token"] = token_next
        return seen

    async def reply(
        self, account: PageAccount, text: str, target: ReplyTarget, *, idempotency_key: str
    ) -> Publication:
        """Answer `target` with one post replying to it (X keeps no key: `find_reply` reconciles)."""
        token = self._token(account)
        post_id = await self._create(
            account, token, {"text": text, "reply": {"in_reply_to_tweet_id": target.item_id}}
        )
        return Publication(post_id, _post_url(account, post_id), (post_id,))

    async def find_reply(
        self, account: PageAccount, text: str, target: ReplyTarget, *, since: float
    ) -> Publication | None:
        """The page's own post answering `target` with this text, in its timeline since `since`."""
        seen = await self._seen(account, self._token(account), since)
        found = match_reply(text, [s for s in seen if s.reply_to == target.item_id], since)
        if found is None:
            return None
        return Publication(found.id, _post_url(account, found.id), (found.id,))

    async def read_comments(self, account: PageAccount, cursor: str | None) -> InboxBatch:
        """The posts mentioning or answering the page since `cursor` (a post id), oldest first."""
        token = self._token(account)
        path = f"/2/users/{await self._user_id(account, token)}/mentions"
        params = dict(_MENTION_FIELDS) | ({"since_id": cursor} if cursor is not None else {})
        posts: dict[str, dict[str, Any]] = {}
        users: dict[str, dict[str, Any]] = {}
        for _page in range(_MENTION_PAGES):
            body = (await self._read(account, token, path, params)).json_object()
            posts |= {
                p["id"]: p for p in body.get("data") or [] if isinstance(p, dict) and _is_id(p.get("id"))
            }
            included: dict[str, Any] = body["includes"] if isinstance(body.get("includes"), dict) else {}
            users |= {u["id"]: u for u in included.get("users") or [] if isinstance(u, dict) and "id" in u}
            following = (body.get("meta") or {}).get("next_token")
            if cursor is None or not isinstance(following, str):
                break
            params["pagination_token"] = following
        ordered = sorted(posts.values(), key=lambda p: int(p["id"]))
        items = tuple(_incoming(post, users) for post in ordered)
        return InboxBatch(items, ordered[-1]["id"] if ordered else cursor)

    async def read_engagement(self, account: PageAccount, remote_id: str) -> Engagement:
        """The post's `public_metrics` (Posts › Lookup, `GET /2/tweets/:id`): likes, retweets and
        quotes (shares), replies and impressions. A deleted post is answered 200 with a
        `resource-not-found` error and no data (X's lookups): a permanent error."""
        token = self._token(account)
        path = f"/2/tweets/{urllib.parse.quote(remote_id, safe='')}"
        body = (await self._read(account, token, path, {"tweet.fields": "public_metrics"})).json_object()
        data = body.get("data")
        if not isinstance(data, dict):
            errors = body.get("errors")
            gone = isinstance(errors, list) and any(
                isinstance(e, dict) and str(e.get("type", "")).endswith("/resource-not-found") for e in errors
            )
            if gone:
                raise DeliveryError(
                    "X no longer has this post (deleted?)", network_code="404", kind="permanent"
                )
            raise DeliveryError(
                "X answered without the post; retry later", network_code=None, kind="transient"
            )
        metrics = data.get("public_metrics")
        metrics = metrics if isinstance(metrics, dict) else {}
        return Engagement(
            likes=count(metrics.get("like_count")),
            shares=total(metrics.get("retweet_count"), metrics.get("quote_count")),
            replies=count(metrics.get("reply_count")),
            views=count(metrics.get("impression_count")),
        )


def _is_id(value: object) -> bool:
    return isinstance(value, str) and value.isdigit()


def _incoming(post: dict[str, Any], users: dict[str, dict[str, Any]]) -> Incoming:
    parent = next(
        (
            str(ref.get("id"))
            for ref in post.get("referenced_tweets") or []
            if isinstance(ref, dict) and ref.get("type") == "replied_to" and _is_id(ref.get("id"))
        ),
        None,
    )
    author_id = str(post.get("author_id") or "")
    author = users.get(author_id, {})
    username = str(author.get("username") or "")
    conversation = post.get("conversation_id")
    return Incoming(
        item_id=post["id"],
        kind="reply" if parent else "mention",
        text=str(post.get("text") or ""),
        root_id=str(conversation) if _is_id(conversation) else parent or post["id"],
        parent_id=parent,
        author_name=str(author.get("name") or username),
        author_id=author_id,
        created_at=parse_time(post.get("created_at")),
        remote_post_id=parent,
        url=f"https://x.com/{username}/status/{post['id']}" if username else None,
    )


def _post_url(account: PageAccount, post_id: str) -> str:
    return f"https://x.com/{account.handle}/status/{post_id}"
