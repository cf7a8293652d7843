"""Mastodon adapter: each part is a `POST /api/v1/statuses`, later parts replying to the previous one.

Follows docs.joinmastodon.org: "Post a new status" (`status`, `in_reply_to_id`, `visibility`, the
`Idempotency-Key` header), "Guidelines and best practices" (keys are remembered for one hour per
account), Entities › Error (`{"error": "..."}`) and "Rate limits" (`X-RateLimit-Reset` is an ISO
8601 time; media uploads have their own window, 30 per 30 minutes).

Media (Methods › media: "Upload media as an attachment (async)", "Get media attachment"): each
attachment is a multipart `POST /api/v2/media` (`file`, `description` = alt text); a 202 (video,
GIF, audio: `url` null) is followed by `GET /api/v1/media/:id` until it answers 200 instead of
206. The first part carries `media_ids` (at most 4); `spoiler_text` (the content warning) goes on
every part. Uploads publish nothing, so they are sent as reads: a timeout there is a transient
error, never an unknown outcome, and a resumed thread (`done`) uploads nothing again.

Every part carries its own idempotency key derived from the delivery's key, so publishing the
same variant again within the hour returns the statuses already created instead of new ones:
a thread interrupted half-way resumes where it stopped. Past that hour the key is forgotten, so
reconciliation reads the account's statuses (HTML `content`, compared as plain text).

Reading what people send the page (`read_comments`, Methods › notifications › "Get all
notifications", scope `read:notifications`): `GET /api/v1/notifications?types[]=mention` with
`min_id` = the cursor, which answers the page right after it (API › "Paginating through API
responses"), newest first; the items are returned oldest first and the next cursor is the
`min_id` of the `Link` header's `rel="prev"` (the newest notification shown). Mastodon compares ids
and never expires one (a deleted notification's id still bounds the page), so this adapter never
raises `CursorExpired`. A status that answers another (`in_reply_to_id`) is a `reply` to it: its
parent, its root as far as the status says (the reader knows the thread's first item when it stored
the parent), and the post of ours it may answer; any other is a `mention`, the root of its own
conversation. A `direct` status is a `message` either way: Mastodon's private messages are statuses
only the accounts they name can see, notified as mentions, and the inbox must not show one as
public.

Answering people (`reply`, Methods › statuses › "Post a new status"): a status with `in_reply_to_id`
= the item answered and the delivery's `Idempotency-Key`, so a reply sent again within the hour is
the same status. The answered status is read first ("View a single status"): the reply takes its
visibility when it is narrower than the page's own (`public`: people read the answer under the
question; an `unlisted`, `private` or `direct` question gets an answer as discreet), `direct` when it
answers a private message, and it starts with the author's `@acct` unless the text already names
them, as Mastodon's clients do: Mastodon notifies only the accounts a status mentions, and a `direct`
status reaches no one else. (That mention adds `@user` to the length Mastodon counts.) An
interrupted reply is found again (`find_reply`, "Get parent and child statuses in context") among
the answered status's descendants: the page's own direct answers, by their normalised text without
the leading mentions, created since the first attempt.
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.parse
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

import aiohttp

from shared.networks.facts import Capability

from .attachments import MediaRules, check_media, media_name, refused_upload
from .base import DeliveryError, Media, PageAccount, Publication, RateHint, RateObserver, UnknownOutcome
from .conversations import Engagement, InboxBatch, Incoming, ReplyTarget
from .figures import count
from .readback import Seen, html_text, match_reply, parse_time
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

__all__ = ["MastodonAdapter", "part_key"]


_MAX_ATTACHMENTS = 4
_MEDIA_RULES = MediaRules("Mastodon", _MAX_ATTACHMENTS, moving_alone=True)  # 4 images, or 1 video
_PROCESSING_BUDGET = 300.0  # seconds to wait for the instance to process a video
_FIRST_LOOK, _LONGEST_LOOK = 0.5, 5.0  # seconds between looks at an attachment still processing
_NOTIFICATIONS_PAGE = "40"  # the default page; the API allows up to 80
_PREV_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="prev"')
_VISIBILITIES = ("public", "unlisted", "private", "direct")  # from the widest to the narrowest
_LEADING_MENTIONS = re.compile(r"^(?:@[\w.@-]+\s+)+")


def part_key(idempotency_key: str, index: int) -> str:
    """The Idempotency-Key of one part: the delivery's own key for the first part."""
    return idempotency_key if index == 0 else f"{idempotency_key}:{index}"


def _retry_after(reply: Reply) -> float | None:
    try:
        reset = datetime.fromisoformat(reply.headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    return seconds_until(reset.timestamp())


def _hints(reply: Reply) -> list[RateHint]:
    remaining = header_float(reply.headers, "X-RateLimit-Remaining")
    if remaining is None:
        return []
    limit = header_float(reply.headers, "X-RateLimit-Limit")
    retry_after = _retry_after(reply)
    reset_at = time.time() + retry_after if retry_after is not None else None
    return [RateHint("page", int(limit) if limit is not None else None, int(remaining), reset_at)]


def _error(reply: Reply, secrets: Sequence[str], scope: str = "write:statuses") -> DeliveryError:
    said = redact(str(reply.json_object().get("error") or ""), secrets) or f"HTTP {reply.status}"
    code = str(reply.status)
    if reply.status == 401:
        return DeliveryError(
            f"Mastodon refused the page's token ({said}): reconnect the page", network_code=code, kind="auth"
        )
    if reply.status == 403 and "scope" in said.lower():
        return DeliveryError(
            f"Mastodon refused: {said}; reconnect the page with the {scope} scope",
            network_code=code,
            kind="auth",
        )
    if reply.status == 429:
        retry_after = _retry_after(reply)
        wait = f"; the instance allows more in {retry_after:.0f} s" if retry_after is not None else ""
        return DeliveryError(
            f"Mastodon rate limit reached for this account{wait}",
            network_code=code,
            kind="transient",
            retry_after=retry_after,
            throttled=True,
        )
    if reply.status == 404:
        return DeliveryError(
            "Mastodon could not find the status this part replies to (deleted?)",
            network_code=code,
            kind="permanent",
        )
    return status_error("Mastodon", reply.status, said, code, unavailable="the Mastodon instance")


def _upload_error(reply: Reply, secrets: Sequence[str], item: Media) -> DeliveryError:
    """What a refused upload means: nothing was posted, so a server error is always safe to retry."""
    if reply.status in (401, 403, 429):
        return _error(reply, secrets, scope="write:media")
    said = redact(str(reply.json_object().get("error") or ""), secrets) or f"HTTP {reply.status}"
    return refused_upload("Mastodon", reply.status, said, item, who="the Mastodon instance")


class MastodonAdapter(Adapter):
    network = "mastodon"
    label = "Mastodon"
    capabilities: ClassVar[frozenset[Capability]] = SOCIAL_WITH_ADVOCATES
    threads_read_back = True
    private_replies_read_back = True  # a private message's answer is a `direct` status in its thread

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        visibility: str = "public",
        observer: RateObserver | None = None,
    ) -> None:
        super().__init__(session, timeout=timeout, observer=observer)
        self._visibility = visibility
        self._account_ids: dict[tuple[str, str], str] = {}

    def _hints(self, reply: Reply) -> list[RateHint]:
        return _hints(reply)

    def _error(self, reply: Reply, secrets: Sequence[str]) -> DeliveryError:
        return _error(reply, secrets)

    async def _publish(self, account: PageAccount, variant: Outgoing) -> Publication:
        """Publish `parts` as a thread. `link` must already be in the text.

        `content_warning` becomes every part's `spoiler_text`; `media` goes on the first part.
        """
        token = self._token(account)
        parts, media, content_warning = variant.parts, variant.media, variant.content_warning
        ids: list[str] = list(variant.done[: len(parts)])
        media_ids: list[str] = []
        if media and not ids:  # a resumed thread already carries its media on the first part
            check_media(_MEDIA_RULES, media)
            media_ids = [await self._upload(account, token, item) for item in media]
        first_url = ""
        published_at = None  # the first part's date; unknown for a thread resumed after it
        for index in range(len(ids), len(parts)):
            body: dict[str, Any] = {"status": parts[index], "visibility": self._visibility}
            if content_warning:
                body["spoiler_text"] = content_warning
            if ids:
                body["in_reply_to_id"] = ids[-1]
            elif media_ids:
                body["media_ids"] = media_ids
            try:
                status = await self._create(account, token, body, part_key(variant.idempotency_key, index))
            except (DeliveryError, UnknownOutcome) as error:
                raise thread_failure(error, tuple(ids), len(parts)) from None
            ids.append(status["id"])
            if index == 0:
                first_url = str(status.get("url") or status.get("uri") or "")
                published_at = parse_time(status.get("created_at"))
        return Publication(ids[0], first_url or _status_url(account, ids[0]), tuple(ids), published_at)

    def _url(self, account: PageAccount, seen: Seen) -> str:
        return seen.url or _status_url(account, seen.id)

    async def _create(
        self, account: PageAccount, token: str, body: dict[str, Any], key: str
    ) -> dict[str, Any]:
        reply = await self._request(
            account,
            "POST",
            f"{account.base_url.rstrip('/')}/api/v1/statuses",
            secrets=[token],
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
            json_body=body,
        )
        status = reply.json_object()
        if not isinstance(status.get("id"), str) or not status["id"]:
            raise UnknownOutcome("Mastodon accepted the post but did not say its id: check the page")
        return status

    async def _media_call(
        self,
        account: PageAccount,
        token: str,
        item: Media,
        method: str,
        path: str,
        multipart: tuple[bytes, str] | None,
    ) -> Reply:
        """One media request, sent as a read (it publishes nothing)."""
        reply = await self._request(
            account,
            method,
            f"{account.base_url.rstrip('/')}{path}",
            secrets=[token],
            check=False,
            read_only=True,
            headers={"Authorization": f"Bearer {token}"},
            multipart=multipart,
        )
        if not reply.ok:
            raise _upload_error(reply, [token], item)
        return reply

    async def _upload(self, account: PageAccount, token: str, item: Media) -> str:
        """Upload one attachment with its description; answer its id once the instance processed it."""
        fields = {"description": item.alt} if item.alt else {}
        multipart = await multipart_body(fields, [("file", item, item.data or b"")])
        reply = await self._media_call(account, token, item, "POST", "/api/v2/media", multipart)
        media_id = reply.json_object().get("id")
        if not isinstance(media_id, str) or not media_id:
            raise DeliveryError(
                f"Mastodon took {media_name(item)} but did not say its id; nothing was posted, retry later",
                network_code=None,
                kind="transient",
            )
        deadline, wait = time.monotonic() + _PROCESSING_BUDGET, _FIRST_LOOK
        while reply.status in (202, 206):  # 202: accepted, processing; 206: still processing
            if time.monotonic() + wait > deadline:
                raise DeliveryError(
                    f"Mastodon is still processing {media_name(item)}; nothing was posted, retry later",
                    network_code=None,
                    kind="transient",
                    retry_after=wait,
                )
            await asyncio.sleep(wait)
            wait = min(wait * 2, _LONGEST_LOOK)
            reply = await self._media_call(account, token, item, "GET", f"/api/v1/media/{media_id}", None)
        return media_id

    async def _account_id(self, account: PageAccount, token: str) -> str:
        """The page's account id on its instance (asked once)."""
        key = (account.base_url, account.handle)
        if key not in self._account_ids:
            asked = await self._bearer_get(account, token, "/api/v1/accounts/verify_credentials")
            me = asked.json_object()
            if not isinstance(me.get("id"), str):
                raise DeliveryError(
                    "Mastodon did not say who this page is", network_code=None, kind="transient"
                )
            self._account_ids[key] = me["id"]
        return self._account_ids[key]

    async def _seen(self, account: PageAccount, token: str, since: float) -> list[Seen]:
        path = f"/api/v1/accounts/{await self._account_id(account, token)}/statuses"
        params = {"limit": "40"}
        seen: list[Seen] = []
        for _page in range(10):  # newest first: stop once older than the first attempt
            statuses = (await self._bearer_get(account, token, path, params)).json()
            if not isinstance(statuses, list) or not statuses:
                break
            for status in statuses:
                if isinstance(status, dict) and isinstance(status.get("id"), str):
                    seen.append(
                        Seen(
                            status["id"],
                            html_text(str(status.get("content") or "")),
                            parse_time(status.get("created_at")),
                            status.get("in_reply_to_id"),
                            str(status.get("url") or ""),
                        )
                    )
            oldest = seen[-1].created_at
            if oldest is not None and oldest < since - 300:
                break
            params["max_id"] = seen[-1].id
        return seen

    async def reply(
        self, account: PageAccount, text: str, target: ReplyTarget, *, idempotency_key: str
    ) -> Publication:
        """Answer `target` with one status under it (see the module's docstring)."""
        token = self._token(account)
        answered = await self._answered(account, token, target.item_id)
        author = answered["account"] if isinstance(answered.get("account"), dict) else {}
        acct = str(author.get("acct") or "")
        if acct and author.get("id") != await self._account_id(account, token) and not _names(text, acct):
            text = f"@{acct} {text}"
        wanted = [self._visibility, str(answered.get("visibility") or "public")]
        if target.kind == "message":
            wanted.append("direct")
        visibility = max((v for v in wanted if v in _VISIBILITIES), key=_VISIBILITIES.index)
        body = {"status": text, "visibility": visibility, "in_reply_to_id": target.item_id}
        try:
            status = await self._create(account, token, body, idempotency_key)
        except DeliveryError as error:
            if error.network_code == "404":
                error.message = _GONE
            raise
        url = str(status.get("url") or status.get("uri") or "") or _status_url(account, status["id"])
        return Publication(status["id"], url, (status["id"],), parse_time(status.get("created_at")))

    async def _answered(self, account: PageAccount, token: str, status_id: str) -> dict[str, Any]:
        """The status a reply answers, as the instance shows it (a read: nothing is created)."""
        path = f"/api/v1/statuses/{urllib.parse.quote(status_id, safe='')}"
        reply = await self._bearer_get(account, token, path, check=False)
        if reply.status == 404:
            raise DeliveryError(_GONE, network_code="404", kind="permanent")
        if not reply.ok:
            raise _error(reply, [token], scope="read:statuses")
        return reply.json_object()

    async def find_reply(
        self, account: PageAccount, text: str, target: ReplyTarget, *, since: float
    ) -> Publication | None:
        """The page's own answer to `target` with this text, among its thread's descendants."""
        token = self._token(account)
        me = await self._account_id(account, token)
        path = f"/api/v1/statuses/{urllib.parse.quote(target.item_id, safe='')}/context"
        reply = await self._bearer_get(account, token, path, check=False)
        if reply.status == 404:
            return None  # the answered status is gone, and every answer with it
        if not reply.ok:
            raise _error(reply, [token], scope="read:statuses")
        descendants = reply.json_object().get("descendants")
        answers = [
            Seen(
                status["id"],
                _LEADING_MENTIONS.sub("", html_text(str(status.get("content") or "")).strip()),
                parse_time(status.get("created_at")),
                target.item_id,
                str(status.get("url") or ""),
            )
            for status in (descendants if isinstance(descendants, list) else [])
            if isinstance(status, dict)
            and isinstance(status.get("id"), str)
            and status.get("in_reply_to_id") == target.item_id
            and isinstance(status.get("account"), dict)
            and status["account"].get("id") == me
        ]
        found = match_reply(_LEADING_MENTIONS.sub("", text.strip()), answers, since)
        if found is None:
            return None
        return Publication(found.id, self._url(account, found), (found.id,), found.created_at)

    async def read_comments(self, account: PageAccount, cursor: str | None) -> InboxBatch:
        """The mentions and replies notified since `cursor` (a notification id), oldest first."""
        token = self._token(account)
        params = {"types[]": "mention", "limit": _NOTIFICATIONS_PAGE}
        if cursor is not None:
            params["min_id"] = cursor
        reply = await self._bearer_get(account, token, "/api/v1/notifications", params, check=False)
        if not reply.ok:
            raise _error(reply, [token], scope="read:notifications")
        listed = reply.json()
        if not isinstance(listed, list):
            raise DeliveryError(
                "Mastodon answered the notifications with something else than a list; retry later",
                network_code=None,
                kind="transient",
            )
        notifications = [n for n in listed if isinstance(n, dict) and str(n.get("id") or "").isdigit()]
        notifications.sort(key=lambda n: int(n["id"]))
        items = tuple(
            item for n in notifications if n.get("type") == "mention" and (item := _incoming(n)) is not None
        )
        newest = notifications[-1]["id"] if notifications else cursor
        return InboxBatch(items, _prev_min_id(reply) or newest)

    async def read_engagement(self, account: PageAccount, remote_id: str) -> Engagement:
        """The status's favourites, boosts and replies (Methods › statuses › "View a single status");
        Mastodon counts no views. A status deleted since is a permanent error: nothing to read."""
        token = self._token(account)
        path = f"/api/v1/statuses/{urllib.parse.quote(remote_id, safe='')}"
        reply = await self._bearer_get(account, token, path, check=False)
        if reply.status == 404:
            raise DeliveryError(
                "Mastodon no longer has this status (deleted?)", network_code="404", kind="permanent"
            )
        if not reply.ok:
            raise _error(reply, [token], scope="read:statuses")
        status = reply.json_object()
        return Engagement(
            likes=count(status.get("favourites_count")),
            shares=count(status.get("reblogs_count")),
            replies=count(status.get("replies_count")),
        )


_GONE = "Mastodon no longer has the status this reply answers (deleted?)"


def _names(text: str, acct: str) -> bool:
    """Whether `text` already mentions `acct` (`@user` or `@user@domain`)."""
    user, _, domain = acct.partition("@")
    on_domain = f"(?:@{re.escape(domain)})?" if domain else ""
    pattern = rf"(?<![\w@])@{re.escape(user)}{on_domain}(?![\w@])"
    return re.search(pattern, text, re.IGNORECASE) is not None


def _prev_min_id(reply: Reply) -> str | None:
    """The `min_id` of the `Link` header's `rel="prev"`: where the next newer page starts."""
    found = _PREV_LINK.search(reply.headers.get("Link", ""))
    if found is None:
        return None
    values = urllib.parse.parse_qs(urllib.parse.urlsplit(found.group(1)).query).get("min_id")
    return values[0] if values and values[0].isdigit() else None


def _incoming(notification: dict[str, Any]) -> Incoming | None:
    """A mention notification's status as an inbox item (None: no status, as after its deletion)."""
    status = notification.get("status")
    if not isinstance(status, dict) or not isinstance(status.get("id"), str) or not status["id"]:
        return None
    author: dict[str, Any] = status["account"] if isinstance(status.get("account"), dict) else {}
    parent = status.get("in_reply_to_id")
    parent = str(parent) if parent else None
    return Incoming(
        item_id=status["id"],
        kind="message" if status.get("visibility") == "direct" else "reply" if parent else "mention",
        text=html_text(str(status.get("content") or "")),
        root_id=parent or status["id"],
        parent_id=parent,
        author_name=str(author.get("display_name") or author.get("acct") or ""),
        author_id=str(author.get("id") or ""),
        created_at=parse_time(status.get("created_at")),
        remote_post_id=parent,
        url=str(status.get("url") or "") or None,
    )


def _status_url(account: PageAccount, status_id: str) -> str:
    return f"{account.base_url.rstrip('/')}/@{account.handle}/{status_id}"
