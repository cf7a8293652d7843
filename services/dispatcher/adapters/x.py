"""X adapter: each part is a `POST /2/tweets`, later parts replying to the previous one.

Follows docs.x.com: "Create or Edit Post" (JSON `text`, `reply.in_reply_to_tweet_id`, answer 201
`{"data": {"id", "text"}}`), "Response codes and errors" (problem bodies `title`, `detail`,
`type`) and "Rate limits" (`x-rate-limit-reset` is a Unix time).

X has no idempotency key. A retry after an `UnknownOutcome` may be refused as duplicate content
(403): that refusal means the earlier attempt did publish, and the message says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp

from .base import DeliveryError, PageAccount, Publication, UnknownOutcome
from .transport import DEFAULT_TIMEOUT, Reply, fallback_kind, redact, seconds_until, send, thread_failure

__all__ = ["XAdapter"]


def _detail(body: dict[str, Any]) -> str:
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict) and errors[0].get("message"):
        return str(errors[0]["message"])
    return str(body.get("detail") or body.get("title") or "")


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
        try:
            retry_after: float | None = seconds_until(float(reply.headers["x-rate-limit-reset"]))
        except (KeyError, ValueError):
            retry_after = None
        wait = f"; X allows more in {retry_after:.0f} s" if retry_after is not None else ""
        return DeliveryError(
            f"X rate limit reached for this account{wait}",
            network_code=code,
            kind="transient",
            retry_after=retry_after,
        )
    if reply.status == 403 and "duplicate" in detail.lower():
        return DeliveryError(
            "X refused a duplicate: this account already posted exactly this text "
            "(if an earlier attempt timed out, it did publish); change the wording to post again",
            network_code=code,
            kind="permanent",
        )
    kind = fallback_kind(reply.status)
    if kind == "transient":
        return DeliveryError(f"X is unavailable ({detail}); retry later", network_code=code, kind=kind)
    return DeliveryError(f"X refused the post: {detail}", network_code=code, kind=kind)


class XAdapter:
    network = "x"

    def __init__(
        self, session: aiohttp.ClientSession, *, timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT
    ) -> None:
        self._session = session
        self._timeout = timeout

    async def publish(
        self,
        account: PageAccount,
        parts: Sequence[str],
        *,
        idempotency_key: str,
        link: str | None = None,
        facets: Sequence[Sequence[dict[str, object]] | None] | None = None,
    ) -> Publication:
        """Publish `parts` as a thread. `link` must already be in the text; X has no link field."""
        token = account.credentials.get("token")
        if not token:
            raise DeliveryError(
                "no X token is stored for this page: connect it", network_code=None, kind="auth"
            )
        if not parts:
            raise DeliveryError(
                "nothing to publish: the variant has no parts", network_code=None, kind="permanent"
            )
        ids: list[str] = []
        for text in parts:
            body: dict[str, Any] = {"text": text}
            if ids:
                body["reply"] = {"in_reply_to_tweet_id": ids[-1]}
            try:
                ids.append(await self._create(account, token, body))
            except (DeliveryError, UnknownOutcome) as error:
                raise thread_failure(error, tuple(ids), len(parts)) from None
        return Publication(ids[0], f"https://x.com/{account.handle}/status/{ids[0]}", tuple(ids))

    async def _create(self, account: PageAccount, token: str, body: dict[str, Any]) -> str:
        reply = await send(
            self._session,
            "POST",
            f"{account.base_url.rstrip('/')}/2/tweets",
            label="X",
            client_timeout=self._timeout,
            headers={"Authorization": f"Bearer {token}"},
            json_body=body,
        )
        if not reply.ok:
            raise _error(reply, [token])
        data = reply.json_object().get("data")
        post_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(post_id, str) or not post_id:
            raise UnknownOutcome(
                "X accepted the post but did not say its id: check the page before trying again"
            )
        return post_id
