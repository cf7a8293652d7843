"""Facebook adapter: one `POST /{version}/{page-id}/feed` per variant, with a Page access token.

Follows developers.facebook.com: Pages API › "Posts" (`message`, `link`, `access_token`; answer
`{"id": "{page-id}_{post-id}"}`; photos attached as `attached_media[i]={"media_fbid": …}`), Graph
API › Reference › Page › "Photos" (`POST /{page-id}/photos` with the file as multipart `source`,
`published=false` and `alt_text_custom` → `{"id": photo-id}`), Graph API › Guides › "Handling
Errors" (codes and subcodes and what to do about each) and Overview › "Rate limits"
(`X-Page-Usage`, `X-App-Usage`, `X-Business-Use-Case-Usage` with `estimated_time_to_regain_access`
in minutes).

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
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import aiohttp

from shared.networks.facts import Capability

from .attachments import MediaRules, check_media, upload_failure
from .base import (
    DeliveryError,
    ErrorKind,
    Media,
    PageAccount,
    Publication,
    RateHint,
    RateObserver,
    Scope,
    UnknownOutcome,
)
from .readback import CLOCK_SLACK, Seen, match_thread, parse_time
from .transport import (
    DEFAULT_TIMEOUT,
    Reply,
    fallback_kind,
    maybe_created,
    multipart_body,
    redact,
    report,
    send,
)

__all__ = ["DEFAULT_VERSION", "FacebookAdapter", "graph_error", "usage_hints"]

# No documented cap on attached photos; more than Instagram's carousel would be a mistake upstream.
_MEDIA_RULES = MediaRules("Facebook", 10, videos=False)

DEFAULT_VERSION = "v23.0"
_AUTH_CODES = frozenset({102, 104, 190, 10}) | frozenset(range(200, 300))
_THROTTLE_CODES = frozenset({4, 9, 17, 32, 341, 613})  # 9: Instagram's publishing limit
_TRANSIENT_CODES = _THROTTLE_CODES | {1, 2, 368}
_SUBCODES = {
    458: "the app was removed from the account",
    459: "the account needs to log in to Facebook to fix a checkpoint",
    460: "the password was changed",
    463: "the token expired",
    464: "the account is not confirmed",
    467: "the token is invalid",
}


def _regain_seconds(reply: Reply) -> float | None:
    """When Facebook says the page or app may call again, from its usage headers."""
    minutes: list[float] = []
    for header in ("X-Page-Usage", "X-App-Usage", "X-Business-Use-Case-Usage"):
        try:
            usage = json.loads(reply.headers.get(header, ""))
        except json.JSONDecodeError:
            continue
        entries = (
            [entry for values in usage.values() for entry in values]
            if header.startswith("X-Business")
            else [usage]
        )
        minutes += [
            float(entry["estimated_time_to_regain_access"])
            for entry in entries
            if isinstance(entry, dict)
            and isinstance(entry.get("estimated_time_to_regain_access"), int | float)
        ]
    if minutes:
        return max(minutes) * 60
    try:
        return float(reply.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


def usage_hints(reply: Reply) -> list[RateHint]:
    """Graph usage headers are percentages: only a full one (or a regain time) is a hint."""
    hints = []
    headers: tuple[tuple[Scope, str], ...] = (("page", "X-Page-Usage"), ("app", "X-App-Usage"))
    for scope, header in headers:
        try:
            usage = json.loads(reply.headers.get(header, ""))
        except json.JSONDecodeError:
            continue
        if not isinstance(usage, dict):
            continue
        regain = usage.get("estimated_time_to_regain_access")
        percent = max(
            (
                float(v)
                for k, v in usage.items()
                if k != "estimated_time_to_regain_access" and isinstance(v, int | float)
            ),
            default=0.0,
        )
        if percent >= 100 or (isinstance(regain, int | float) and regain > 0):
            reset = time.time() + 60 * float(regain if isinstance(regain, int | float) else 1)
            hints.append(RateHint(scope, None, 0, reset))
    return hints


def _error(reply: Reply, secrets: Sequence[str]) -> DeliveryError:
    return graph_error(reply, secrets, "Facebook")


async def graph_call(
    session: aiohttp.ClientSession,
    url: str,
    *,
    label: str,
    account: PageAccount,
    token: str,
    method: str,
    fields: dict[str, str],
    client_timeout: aiohttp.ClientTimeout,
    observer: RateObserver | None,
) -> dict[str, Any]:
    """One Graph-style call (Instagram, Threads): reads send the token as a header and the fields as
    the query, writes send both as a form; usage headers feed the limiter; errors keep Meta's codes."""
    reading = method == "GET"
    reply = await send(
        session,
        method,
        url,
        label=label,
        client_timeout=client_timeout,
        read_only=reading,
        headers={"Authorization": f"Bearer {token}"} if reading else None,
        params=fields if reading else None,
        form=None if reading else {**fields, "access_token": token},
    )
    report(observer, account, usage_hints(reply))
    if not reply.ok:
        raise graph_error(reply, [token], label)
    return reply.json_object()


def graph_error(reply: Reply, secrets: Sequence[str], label: str) -> DeliveryError:
    """A Graph API error (Facebook, Instagram, Threads) in plain words, with its kind."""
    error = reply.json_object().get("error")
    error = error if isinstance(error, dict) else {}
    said = redact(str(error.get("message") or f"HTTP {reply.status}"), secrets)
    code_value = error.get("code")
    code = code_value if isinstance(code_value, int) else None
    network_code = str(code) if code is not None else str(reply.status)
    if code in _AUTH_CODES:
        subcode = error.get("error_subcode")
        why = _SUBCODES.get(subcode, "") if isinstance(subcode, int) else ""
        reason = f"{why}: " if why else ""
        return DeliveryError(
            f"{label} refused the page's token or permissions ({reason}{said}): reconnect the page",
            network_code=network_code,
            kind="auth",
        )
    if code == 368:
        return DeliveryError(
            f"{label} has temporarily blocked this page from posting ({said}); try again later",
            network_code=network_code,
            kind="transient",
            retry_after=_regain_seconds(reply),
        )
    if code in _THROTTLE_CODES:
        retry_after = _regain_seconds(reply)
        wait = f"; {label} allows more in {retry_after:.0f} s" if retry_after is not None else ""
        app = code == 4 or ("X-App-Usage" in reply.headers and "X-Page-Usage" not in reply.headers)
        return DeliveryError(
            f"{label} rate limit reached ({said}){wait}",
            network_code=network_code,
            kind="transient",
            retry_after=retry_after,
            throttled=True,
            scope="app" if app else "page",
        )
    if code == 506:
        return DeliveryError(
            f"{label} refused a duplicate: the page's latest post has this exact text",
            network_code=network_code,
            kind="permanent",
        )
    kind: ErrorKind = (
        "transient"
        if code in _TRANSIENT_CODES or error.get("is_transient") is True
        else fallback_kind(reply.status)
    )
    if kind == "transient":
        return DeliveryError(
            f"{label} is unavailable ({said}); retry later",
            network_code=network_code,
            kind=kind,
            maybe_created=maybe_created(reply.status),
        )
    return DeliveryError(f"{label} refused the post: {said}", network_code=network_code, kind=kind)


class FacebookAdapter:
    network = "facebook"
    can_read_back = True
    capabilities: ClassVar[frozenset[Capability]] = frozenset({"publish", "images", "read_back"})

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        version: str = DEFAULT_VERSION,
        observer: RateObserver | None = None,
    ) -> None:
        self._session = session
        self._timeout = timeout
        self._version = version
        self._observer = observer

    @staticmethod
    def _token(account: PageAccount) -> str:
        token = account.credentials.get("token")
        if not token:
            raise DeliveryError(
                "no Facebook page token is stored for this page: connect it", network_code=None, kind="auth"
            )
        return token

    def _root(self, account: PageAccount) -> str:
        version = f"/{self._version}" if self._version else ""
        return f"{account.base_url.rstrip('/')}{version}"

    async def publish(
        self,
        account: PageAccount,
        parts: Sequence[str],
        *,
        idempotency_key: str,
        link: str | None = None,
        facets: Sequence[Sequence[dict[str, object]] | None] | None = None,
        media: Sequence[Media] = (),
        content_warning: str | None = None,
        done: Sequence[str] = (),
    ) -> Publication:
        """Publish the single part; `link` becomes the post's link (Facebook builds its preview)."""
        token = self._token(account)
        if len(parts) != 1:
            raise DeliveryError(
                f"Facebook takes a single part, this variant has {len(parts)}",
                network_code=None,
                kind="permanent",
            )
        if done:
            return Publication(done[0], _post_url(done[0]), (done[0],))
        check_media(_MEDIA_RULES, media)
        form: dict[str, str] = {"message": parts[0], "access_token": token}
        for index, item in enumerate(media):
            photo_id = await self._upload_photo(account, token, item, index + 1, len(media))
            form[f"attached_media[{index}]"] = json.dumps({"media_fbid": photo_id})
        if link and not media:
            form["link"] = link
        reply = await send(
            self._session,
            "POST",
            f"{self._root(account)}/{account.handle}/feed",
            label="Facebook",
            client_timeout=self._timeout,
            form=form,
        )
        report(self._observer, account, usage_hints(reply))
        if not reply.ok:
            raise _error(reply, [token])
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
            reply = await send(
                self._session,
                "POST",
                f"{self._root(account)}/{account.handle}/photos",
                label="Facebook",
                client_timeout=self._timeout,
                read_only=True,  # an unpublished photo publishes nothing: safe to send again
                multipart=body,
            )
        except DeliveryError as error:
            raise upload_failure(error, item, position, total) from None
        report(self._observer, account, usage_hints(reply))
        if not reply.ok:
            raise upload_failure(_error(reply, [token]), item, position, total)
        photo_id = reply.json_object().get("id")
        if not isinstance(photo_id, str | int) or isinstance(photo_id, bool) or not str(photo_id):
            raise DeliveryError(
                f"Facebook took photo {position} of {total} but did not say its id; nothing was posted",
                network_code=None,
                kind="transient",
            )
        return str(photo_id)

    async def find(
        self, account: PageAccount, parts: Sequence[str], *, idempotency_key: str, since: float
    ) -> Publication | None:
        token = self._token(account)
        reply = await send(
            self._session,
            "GET",
            f"{self._root(account)}/{account.handle}/feed",
            label="Facebook",
            client_timeout=self._timeout,
            read_only=True,
            headers={"Authorization": f"Bearer {token}"},
            params={
                "fields": "id,message,created_time",
                "since": str(int(since - CLOCK_SLACK)),
                "limit": "100",
            },
        )
        if not reply.ok:
            raise _error(reply, [token])
        seen = [
            Seen(item["id"], str(item.get("message") or ""), parse_time(item.get("created_time")))
            for item in reply.json_object().get("data") or []
            if isinstance(item, dict) and isinstance(item.get("id"), str)
        ]
        found = match_thread(parts[:1], seen, since)
        if not found:
            return None
        return Publication(found[0].id, _post_url(found[0].id), (found[0].id,))


def _post_url(post_id: str) -> str:
    page, _, post = post_id.partition("_")
    return f"https://www.facebook.com/{page}/posts/{post}" if post else f"https://www.facebook.com/{post_id}"
