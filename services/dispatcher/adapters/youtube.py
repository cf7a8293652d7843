"""YouTube adapter: a resumable `videos.insert`, the post's text as the video's description.

Follows developers.google.com, YouTube Data API v3: "Resumable Uploads" (start a session with
`POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status`, `X-Upload-Content-Length`
and `X-Upload-Content-Type`, the video resource as JSON → 200 and the session URI in `Location`;
upload with `PUT <session URI>`; after an interruption, `PUT` with `Content-Range: bytes */<size>`
asks the status: 200/201 with the video when it is complete, 308 "Resume Incomplete" with
`Range` otherwise, 404 when the session expired), "Videos: insert" (snippet `title` ≤ 100
characters and `description` ≤ 5,000 bytes, no `<` or `>`), "Errors" (`{"error": {"code",
"message", "errors": [{"domain", "reason", "message"}]}}`: `authError`, `quotaExceeded`,
`uploadLimitExceeded`, `invalidTitle`, `invalidDescription`), "Quota" (10,000 units a day per
project, an upload costs 1,600; the day resets at midnight Pacific time), "Channels: list"
(`mine=true`, the uploads playlist) and "PlaylistItems: list" (the read-back).

An upload session creates at most one video, so the adapter resumes its own session after an
interruption before anything else; reconciliation reads the uploads playlist.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import aiohttp

from shared.networks.facts import Capability
from shared.networks.youtube import video_title

from .base import DeliveryError, PageAccount, Publication, RateObserver, UnknownOutcome
from .readback import Seen, parse_time
from .skeleton import Adapter, Outgoing
from .transport import DEFAULT_TIMEOUT, Reply, redact, status_error

__all__ = ["YouTubeAdapter"]

_PACIFIC = ZoneInfo("America/Los_Angeles")


def _until_pacific_midnight() -> float:
    now = datetime.now(_PACIFIC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()


def _error(reply: Reply, secrets: Sequence[str]) -> DeliveryError:
    error = reply.json_object().get("error")
    error = error if isinstance(error, dict) else {}
    details = error.get("errors")
    first = details[0] if isinstance(details, list) and details and isinstance(details[0], dict) else {}
    reason = str(first.get("reason") or error.get("status") or reply.status)
    said = redact(str(error.get("message") or f"HTTP {reply.status}"), secrets)
    if reply.status == 401 or reason in ("authError", "insufficientPermissions", "forbidden"):
        return DeliveryError(
            f"YouTube refused the channel's token or permissions ({said}): reconnect the page",
            network_code=reason,
            kind="auth",
        )
    if reason in ("quotaExceeded", "uploadLimitExceeded", "rateLimitExceeded", "userRateLimitExceeded"):
        app = reason == "quotaExceeded"
        wait = _until_pacific_midnight() if reason != "rateLimitExceeded" else None
        return DeliveryError(
            f"YouTube limit reached ({said}); uploads resume after midnight Pacific time",
            network_code=reason,
            kind="transient",
            retry_after=wait,
            throttled=True,
            scope="app" if app else "page",
        )
    return status_error("YouTube", reply.status, said, reason, what="the video")


def _snippet(variant: Outgoing, description: str) -> dict[str, Any]:
    """The video's title and tags as the rules rendered them (a delivery recorded before the post
    carried a title has none: its text's first line, as then), its description and category."""
    snippet: dict[str, Any] = {
        "title": variant.title or video_title(description),
        "description": description,
        "categoryId": "22",
    }
    if variant.tags:
        snippet["tags"] = list(variant.tags)
    return snippet


class YouTubeAdapter(Adapter):
    network = "youtube"
    label = "YouTube"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({"publish", "video", "read_back"})
    single_part = "description"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        observer: RateObserver | None = None,
        privacy: str = "public",
    ) -> None:
        super().__init__(session, timeout=timeout, observer=observer)  # no rate headers: quota errors tell
        self._privacy = privacy

    def _error(self, reply: Reply, secrets: Sequence[str]) -> DeliveryError:
        return _error(reply, secrets)

    async def _publish(self, account: PageAccount, variant: Outgoing) -> Publication:
        """Upload the video (`media`, with its bytes) with the single part as description."""
        token = self._token(account)
        if variant.done:
            return _publication(variant.done[0])
        description = variant.parts[0]
        video = next((m for m in variant.media if m.kind == "video" and m.data), None)
        if video is None or video.data is None:
            raise DeliveryError(
                "YouTube needs a video file: this variant has none", network_code=None, kind="permanent"
            )
        resource = {
            "snippet": _snippet(variant, description),
            "status": {"privacyStatus": self._privacy, "selfDeclaredMadeForKids": False},
        }
        started = await self._request(
            account,
            "POST",
            f"{account.base_url.rstrip('/')}/upload/youtube/v3/videos",
            secrets=[token],
            check=False,
            read_only=True,  # opening an upload session creates no video
            headers={
                "Authorization": f"Bearer {token}",
                "X-Upload-Content-Length": str(len(video.data)),
                "X-Upload-Content-Type": video.mime_type,
            },
            params={"uploadType": "resumable", "part": "snippet,status"},
            json_body=resource,
        )
        location = started.headers.get("Location")
        if not started.ok or not location:
            raise _error(started, [token])
        try:
            reply = await self._put(account, token, location, video.data, video.mime_type)
        except UnknownOutcome:
            reply = await self._resume(account, token, location, video.data, video.mime_type)
        return self._finished(reply, token)

    async def _put(
        self, account: PageAccount, token: str, location: str, data: bytes, mime: str, offset: int = 0
    ) -> Reply:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": mime}
        if offset:
            headers["Content-Range"] = f"bytes {offset}-{len(data) - 1}/{len(data)}"
        return await self._request(
            account, "PUT", location, secrets=[token], check=False, headers=headers, raw=data[offset:]
        )

    async def _resume(self, account: PageAccount, token: str, location: str, data: bytes, mime: str) -> Reply:
        """Ask the session how far the upload got, and finish it (it can create one video only)."""
        status = await self._request(
            account,
            "PUT",
            location,
            secrets=[token],
            check=False,
            read_only=True,  # a status query uploads nothing
            headers={"Authorization": f"Bearer {token}", "Content-Range": f"bytes */{len(data)}"},
            raw=b"",
        )
        if status.status != 308:
            return status
        received = status.headers.get("Range", "")
        offset = int(received.rsplit("-", 1)[-1]) + 1 if received.startswith("bytes=") else 0
        return await self._put(account, token, location, data, mime, offset)

    def _finished(self, reply: Reply, token: str) -> Publication:
        if reply.status == 404:
            raise UnknownOutcome("the YouTube upload session expired before it said whether it finished")
        if not reply.ok:
            raise _error(reply, [token])
        video_id = reply.json_object().get("id")
        if not isinstance(video_id, str) or not video_id:
            raise UnknownOutcome(
                "YouTube accepted the upload but did not say the video's id: check the channel"
            )
        return _publication(video_id)

    async def _read(
        self, account: PageAccount, token: str, path: str, params: dict[str, str]
    ) -> dict[str, Any]:
        reply = await self._request(
            account,
            "GET",
            f"{account.base_url.rstrip('/')}/youtube/v3/{path}",
            secrets=[token],
            read_only=True,
            headers={"Authorization": f"Bearer {token}"},
            params=params,
        )
        return reply.json_object()

    async def _seen(self, account: PageAccount, token: str, since: float) -> list[Seen]:
        channels = await self._read(account, token, "channels", {"part": "contentDetails", "mine": "true"})
        items = channels.get("items") or [{}]
        uploads = (((items[0] or {}).get("contentDetails") or {}).get("relatedPlaylists") or {}).get(
            "uploads"
        )
        if not isinstance(uploads, str):
            raise DeliveryError(
                "YouTube did not show the channel's uploads", network_code=None, kind="transient"
            )
        listing = await self._read(
            account, token, "playlistItems", {"part": "snippet", "playlistId": uploads, "maxResults": "50"}
        )
        seen = []
        for item in listing.get("items") or []:
            snippet = item.get("snippet") if isinstance(item, dict) else None
            video = (snippet or {}).get("resourceId") or {}
            if isinstance(snippet, dict) and isinstance(video.get("videoId"), str):
                seen.append(
                    Seen(
                        video["videoId"],
                        str(snippet.get("description") or ""),
                        parse_time(snippet.get("publishedAt")),
                    )
                )
        return seen

    def _url(self, account: PageAccount, seen: Seen) -> str:
        return _publication(seen.id).url


def _publication(video_id: str) -> Publication:
    return Publication(video_id, f"https://www.youtube.com/watch?v={video_id}", (video_id,))
