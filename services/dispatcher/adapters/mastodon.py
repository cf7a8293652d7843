"""Mastodon adapter: each part is a `POST /api/v1/statuses`, later parts replying to the previous one.

Follows docs.joinmastodon.org: "Post a new status" (`status`, `in_reply_to_id`, `visibility`, the
`Idempotency-Key` header), "Guidelines and best practices" (keys are remembered for one hour per
account), Entities › Error (`{"error": "..."}`) and "Rate limits" (`X-RateLimit-Reset` is an ISO
8601 time).

Every part carries its own idempotency key derived from the delivery's key, so publishing the
same variant again within the hour returns the statuses already created instead of new ones:
a thread interrupted half-way resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aiohttp

from .base import DeliveryError, PageAccount, Publication, UnknownOutcome
from .transport import DEFAULT_TIMEOUT, Reply, fallback_kind, redact, seconds_until, send, thread_failure

__all__ = ["MastodonAdapter", "part_key"]


def part_key(idempotency_key: str, index: int) -> str:
    """The Idempotency-Key of one part: the delivery's own key for the first part."""
    return idempotency_key if index == 0 else f"{idempotency_key}:{index}"


def _retry_after(reply: Reply) -> float | None:
    try:
        reset = datetime.fromisoformat(reply.headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    return seconds_until(reset.timestamp())


def _error(reply: Reply, secrets: Sequence[str]) -> DeliveryError:
    said = redact(str(reply.json_object().get("error") or ""), secrets) or f"HTTP {reply.status}"
    code = str(reply.status)
    if reply.status == 401:
        return DeliveryError(
            f"Mastodon refused the page's token ({said}): reconnect the page", network_code=code, kind="auth"
        )
    if reply.status == 403 and "scope" in said.lower():
        return DeliveryError(
            f"Mastodon refused: {said}; reconnect the page with the write:statuses scope",
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
        )
    if reply.status == 404:
        return DeliveryError(
            "Mastodon could not find the status this part replies to (deleted?)",
            network_code=code,
            kind="permanent",
        )
    kind = fallback_kind(reply.status)
    if kind == "transient":
        return DeliveryError(
            f"the Mastodon instance is unavailable ({said}); retry later", network_code=code, kind=kind
        )
    return DeliveryError(f"Mastodon refused the post: {said}", network_code=code, kind=kind)


class MastodonAdapter:
    network = "mastodon"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        visibility: str = "public",
    ) -> None:
        self._session = session
        self._timeout = timeout
        self._visibility = visibility

    async def publish(
        self,
        account: PageAccount,
        parts: Sequence[str],
        *,
        idempotency_key: str,
        link: str | None = None,
        facets: Sequence[Sequence[dict[str, object]] | None] | None = None,
    ) -> Publication:
        """Publish `parts` as a thread. `link` must already be in the text."""
        token = account.credentials.get("token")
        if not token:
            raise DeliveryError(
                "no Mastodon token is stored for this page: connect it", network_code=None, kind="auth"
            )
        if not parts:
            raise DeliveryError(
                "nothing to publish: the variant has no parts", network_code=None, kind="permanent"
            )
        statuses: list[dict[str, Any]] = []
        for index, text in enumerate(parts):
            body: dict[str, Any] = {"status": text, "visibility": self._visibility}
            if statuses:
                body["in_reply_to_id"] = statuses[-1]["id"]
            try:
                statuses.append(await self._create(account, token, body, part_key(idempotency_key, index)))
            except (DeliveryError, UnknownOutcome) as error:
                raise thread_failure(error, tuple(s["id"] for s in statuses), len(parts)) from None
        first = statuses[0]
        return Publication(
            first["id"], str(first.get("url") or first.get("uri") or ""), tuple(s["id"] for s in statuses)
        )

    async def _create(
        self, account: PageAccount, token: str, body: dict[str, Any], key: str
    ) -> dict[str, Any]:
        reply = await send(
            self._session,
            "POST",
            f"{account.base_url.rstrip('/')}/api/v1/statuses",
            label="Mastodon",
            client_timeout=self._timeout,
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
            json_body=body,
        )
        if not reply.ok:
            raise _error(reply, [token])
        status = reply.json_object()
        if not isinstance(status.get("id"), str) or not status["id"]:
            raise UnknownOutcome("Mastodon accepted the post but did not say its id: check the page")
        return status
