"""LinkedIn adapter: one `POST /rest/posts` per variant, as the organization page.

Follows Microsoft Learn (LinkedIn): Community Management › "Posts API" (the body; 201 with the
post URN in `x-restli-id`), Marketing › "Versioning" (`LinkedIn-Version: YYYYMM` on every call),
API guide › "Protocol version" (`X-Restli-Protocol-Version: 2.0.0`), "Error handling"
(`status`, `serviceErrorCode`, `code`, `message`), "Rate limits" (daily, reset at midnight UTC)
and Community Management › "Little Text Format".

Parts arrive as plain text and this adapter writes the little text: it backslash-escapes every
reserved character and turns `#word` into a hashtag element. An unescaped `(` would make
LinkedIn keep only the text before it while still answering 201, so the formatter must hand
LinkedIn plain, unescaped text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from .base import DeliveryError, PageAccount, Publication, UnknownOutcome
from .transport import DEFAULT_TIMEOUT, Reply, fallback_kind, redact, send

__all__ = ["DEFAULT_VERSION", "LinkedInAdapter", "escape_little_text"]

DEFAULT_VERSION = "202610"
_RESERVED = frozenset("\\|{}@[]()<>#*_~")
# Only letters and digits become hashtag elements: a reserved character inside one is not documented.
_HASHTAG = re.compile(r"(?<![\w#])#([^\W_]+)(?!\w)")


def _escape(plain: str) -> str:
    return "".join(f"\\{char}" if char in _RESERVED else char for char in plain)


def escape_little_text(text: str) -> str:
    """Plain text as LinkedIn little text: reserved characters escaped, hashtags as elements."""
    pieces: list[str] = []
    position = 0
    for match in _HASHTAG.finditer(text):
        pieces += [_escape(text[position : match.start()]), f"{{hashtag|\\#|{match.group(1)}}}"]
        position = match.end()
    pieces.append(_escape(text[position:]))
    return "".join(pieces)


def _until_midnight_utc() -> float:
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()


def _error(reply: Reply, secrets: Sequence[str]) -> DeliveryError:
    body = reply.json_object()
    said = redact(str(body.get("message") or f"HTTP {reply.status}"), secrets).strip()
    code = str(body.get("code") or body.get("serviceErrorCode") or reply.status)
    if reply.status == 401:
        return DeliveryError(
            f"LinkedIn refused the page's token ({said}): reconnect the page", network_code=code, kind="auth"
        )
    if reply.status == 403:
        return DeliveryError(
            f"LinkedIn denied the post ({said}): reconnect the page with a member who administers "
            "the organization page and grants w_organization_social",
            network_code=code,
            kind="auth",
        )
    if reply.status == 429:
        if "DAY" in said:
            retry_after: float | None = _until_midnight_utc()
        else:
            try:
                retry_after = float(reply.headers["Retry-After"])
            except (KeyError, ValueError):
                retry_after = None
        return DeliveryError(
            f"LinkedIn throttled the page ({said})",
            network_code=code,
            kind="transient",
            retry_after=retry_after,
        )
    if reply.status == 426 or code == "VERSION_MISSING":
        return DeliveryError(
            f"LinkedIn refused the API version ({said}): configure a current LinkedIn-Version",
            network_code=code,
            kind="permanent",
        )
    if "duplicate" in said.lower():
        return DeliveryError(
            f"LinkedIn refused a duplicate ({said}): this page already has this text",
            network_code=code,
            kind="permanent",
        )
    kind = fallback_kind(reply.status)
    if kind == "transient":
        return DeliveryError(f"LinkedIn is unavailable ({said}); retry later", network_code=code, kind=kind)
    return DeliveryError(f"LinkedIn refused the post: {said}", network_code=code, kind=kind)


class LinkedInAdapter:
    network = "linkedin"

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
        """Publish the single part. `link` must already be in the text (no article card is built)."""
        token = account.credentials.get("token")
        if not token:
            raise DeliveryError(
                "no LinkedIn token is stored for this page: connect it", network_code=None, kind="auth"
            )
        if len(parts) != 1:
            raise DeliveryError(
                f"LinkedIn takes a single part, this variant has {len(parts)}",
                network_code=None,
                kind="permanent",
            )
        author = (
            account.handle
            if account.handle.startswith("urn:li:")
            else f"urn:li:organization:{account.handle}"
        )
        body: dict[str, Any] = {
            "author": author,
            "commentary": escape_little_text(parts[0]),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        reply = await send(
            self._session,
            "POST",
            f"{account.base_url.rstrip('/')}/rest/posts",
            label="LinkedIn",
            client_timeout=self._timeout,
            headers={
                "Authorization": f"Bearer {token}",
                "LinkedIn-Version": self._version,
                "X-Restli-Protocol-Version": "2.0.0",
            },
            json_body=body,
        )
        if not reply.ok:
            raise _error(reply, [token])
        urn = reply.headers.get("x-restli-id") or reply.headers.get("x-linkedin-id")
        if not urn:
            raise UnknownOutcome("LinkedIn accepted the post but did not say its URN: check the page")
        return Publication(urn, f"https://www.linkedin.com/feed/update/{urn}/", (urn,))
