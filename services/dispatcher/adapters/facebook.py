"""Facebook adapter: one `POST /{version}/{page-id}/feed` per variant, with a Page access token.

Follows developers.facebook.com: Pages API › "Posts" (`message`, `link`, `access_token`; answer
`{"id": "{page-id}_{post-id}"}`), Graph API › Guides › "Handling Errors" (codes and subcodes and
what to do about each) and Overview › "Rate limits" (`X-Page-Usage`, `X-App-Usage`,
`X-Business-Use-Case-Usage` with `estimated_time_to_regain_access` in minutes).

The token travels in the form body, never in the URL, so no proxy or access log records it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import aiohttp

from .base import DeliveryError, ErrorKind, PageAccount, Publication, UnknownOutcome
from .transport import DEFAULT_TIMEOUT, Reply, fallback_kind, redact, send

__all__ = ["DEFAULT_VERSION", "FacebookAdapter"]

DEFAULT_VERSION = "v23.0"
_AUTH_CODES = frozenset({102, 104, 190, 10}) | frozenset(range(200, 300))
_THROTTLE_CODES = frozenset({4, 17, 32, 341, 613})
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


def _error(reply: Reply, secrets: Sequence[str]) -> DeliveryError:
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
            f"Facebook refused the page's token or permissions ({reason}{said}): reconnect the page",
            network_code=network_code,
            kind="auth",
        )
    if code == 368:
        return DeliveryError(
            f"Facebook has temporarily blocked this page from posting ({said}); try again later",
            network_code=network_code,
            kind="transient",
            retry_after=_regain_seconds(reply),
        )
    if code in _THROTTLE_CODES:
        retry_after = _regain_seconds(reply)
        wait = f"; Facebook allows more in {retry_after:.0f} s" if retry_after is not None else ""
        return DeliveryError(
            f"Facebook rate limit reached ({said}){wait}",
            network_code=network_code,
            kind="transient",
            retry_after=retry_after,
        )
    if code == 506:
        return DeliveryError(
            "Facebook refused a duplicate: the page's latest post has this exact text",
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
            f"Facebook is unavailable ({said}); retry later", network_code=network_code, kind=kind
        )
    return DeliveryError(f"Facebook refused the post: {said}", network_code=network_code, kind=kind)


class FacebookAdapter:
    network = "facebook"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        version: str = DEFAULT_VERSION,
    ) -> None:
        self._session = session
        self._timeout = timeout
        self._version = version

    async def publish(
        self,
        account: PageAccount,
        parts: Sequence[str],
        *,
        idempotency_key: str,
        link: str | None = None,
        facets: Sequence[Sequence[dict[str, object]] | None] | None = None,
    ) -> Publication:
        """Publish the single part; `link` becomes the post's link (Facebook builds its preview)."""
        token = account.credentials.get("token")
        if not token:
            raise DeliveryError(
                "no Facebook page token is stored for this page: connect it", network_code=None, kind="auth"
            )
        if len(parts) != 1:
            raise DeliveryError(
                f"Facebook takes a single part, this variant has {len(parts)}",
                network_code=None,
                kind="permanent",
            )
        form: dict[str, str] = {"message": parts[0], "access_token": token}
        if link:
            form["link"] = link
        version = f"/{self._version}" if self._version else ""
        reply = await send(
            self._session,
            "POST",
            f"{account.base_url.rstrip('/')}{version}/{account.handle}/feed",
            label="Facebook",
            client_timeout=self._timeout,
            form=form,
        )
        if not reply.ok:
            raise _error(reply, [token])
        post_id = reply.json_object().get("id")
        if not isinstance(post_id, str) or not post_id:
            raise UnknownOutcome("Facebook accepted the post but did not say its id: check the page")
        page, _, post = post_id.partition("_")
        url = (
            f"https://www.facebook.com/{page}/posts/{post}" if post else f"https://www.facebook.com/{post_id}"
        )
        return Publication(post_id, url, (post_id,))
