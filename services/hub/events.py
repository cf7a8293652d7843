"""Live updates for the dashboard: when the hub records an event about a post, the open dashboards
hear about it through server-sent events (`GET /events`).

The audit consumers tell `PostChanges` about each new entry. Four times a second it folds the
posts it was told about again (a few indexed rows each), stores their state for the dashboard's
counts in one transaction, and hands a small `Change` per post to the in-process `Broadcaster`,
which copies it to each open stream's bounded queue. A stream that falls behind is dropped rather
than slowing the hub down: its browser reconnects and reloads the sections it shows. Each stream
only carries posts of agencies its viewer may see (the moderation API's scope rule).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlite_utils
import structlog
from aiohttp import web

from services.hub.dashboard_html import locale_of
from services.hub.keys import DATABASE
from services.hub.post_states import audit_head, refresh_post_state, set_fold_mark, unfolded_posts
from services.hub.scope import in_scope
from services.hub.web_auth import SESSION_COOKIE, viewer_of
from shared.accounts import live_session
from shared.i18n import words
from shared.ids import utc_now
from shared.sqlite_writes import write_transaction
from shared.web import json_error

__all__ = ["BROADCASTER", "CHANGES", "Broadcaster", "Change", "PostChanges", "stream"]

log = structlog.get_logger("relais.hub.events")

# Events worth telling the dashboard about even when the post's status stays the same.
NOTABLE = frozenset(
    {"queued", "delivery.dead_letter", "page.needs_reauth", "page.throttled", "delivery.retry_requested"}
)
KEEPALIVE_SECONDS = 15.0  # also how soon a stream notices that its session was closed
FLUSH_SECONDS = 0.25


@dataclass(frozen=True)
class Change:
    post_id: str
    agency: str
    status: str
    events: list[str]  # the audit events since the last change told, oldest first
    reason: str | None = None
    deliveries: list[dict[str, str | None]] = field(default_factory=list)
    at: str = ""  # when the hub folded it (UTC); each stream shows it in its viewer's words

    def encode(self, shown: dict[str, Any] | None = None) -> bytes:
        data = {**asdict(self), **(shown or {})}
        return f"event: post\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


class _Subscription:
    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[Change | None] = asyncio.Queue(size)

    def end(self) -> None:
        # Make room for the end mark: the stream stops and its browser resynchronises.
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class Broadcaster:
    """Fan changes out to open streams; never blocks the caller (the audit consumers)."""

    def __init__(self, queue_size: int = 256) -> None:
        self._size = queue_size
        self._subscriptions: set[_Subscription] = set()

    @property
    def listeners(self) -> int:
        return len(self._subscriptions)

    def publish(self, change: Change) -> None:
        for subscription in list(self._subscriptions):
            try:
                subscription.queue.put_nowait(change)
            except asyncio.QueueFull:
                self._subscriptions.discard(subscription)
                subscription.end()

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[Change | None]]:
        subscription = _Subscription(self._size)
        self._subscriptions.add(subscription)
        try:
            yield subscription.queue
        finally:
            self._subscriptions.discard(subscription)

    def close(self) -> None:
        """End every stream (the hub is stopping: its web server then need not wait for them)."""
        for subscription in list(self._subscriptions):
            subscription.end()
        self._subscriptions.clear()


class PostChanges:
    """Told (post_id, audit event) after the hub recorded an event about a post; `run` folds the
    posts told about since the last pass, in one transaction, then tells the open streams."""

    def __init__(self, db: sqlite_utils.Database, broadcaster: Broadcaster) -> None:
        self._db = db
        self._broadcaster = broadcaster
        self._pending: dict[str, list[str]] = {}  # post id → its new audit events, in order

    def __call__(self, post_id: str, event: str) -> None:
        if post_id:
            self._pending.setdefault(post_id, []).append(event)

    async def run(self, stop: asyncio.Event) -> None:
        # Folding per event would cost one more fsync per audit entry; a pass every quarter second
        # costs one per pass, and a person does not see the difference.
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), FLUSH_SECONDS)
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        changes = []
        try:
            with write_transaction(self._db):
                # Every entry up to here has been told (the audit is written on this event loop).
                head = audit_head(self._db)
                for post_id, events in pending.items():
                    change = self._fold(post_id, events)
                    if change is not None:
                        changes.append(change)
                set_fold_mark(self._db, head)
        except Exception:
            # The events are in the audit already (the next start folds them again): a dashboard
            # bug must not stop the hub.
            log.exception("dashboard.fold_failed", posts=len(pending))
            return
        for change in changes:
            self._broadcaster.publish(change)

    def catch_up(self) -> None:
        """Fold the posts whose last events were recorded but not folded (the hub stopped between)."""
        with write_transaction(self._db):
            head = audit_head(self._db)
            for post_id in unfolded_posts(self._db):
                refresh_post_state(self._db, post_id)
            set_fold_mark(self._db, head)

    def _fold(self, post_id: str, events: list[str]) -> Change | None:
        view = refresh_post_state(self._db, post_id)
        if view is None and NOTABLE.intersection(events):
            view = self._stored(post_id)
        if view is None:
            return None
        deliveries = [
            {
                "network": d["network"],
                "page": d["page"],
                "agency": d["agency"] or view["agency"],  # the page's: whose viewers may see it
                "status": d["status"],
                "throttled_until": d["throttled_until"],  # while throttled: when the limit resets
            }
            for d in view.get("moved", view["deliveries"])  # what changed: a campaign is a thousand
        ]
        return Change(
            post_id, view["agency"] or "", view["status"], events, view["reason"], deliveries, utc_now()
        )

    def _stored(self, post_id: str) -> dict[str, Any] | None:
        rows = self._db.execute_returning_dicts(
            "select agency, status, reason from post_states where post_id = ?", [post_id]
        )
        return {**rows[0], "deliveries": []} if rows else None


BROADCASTER = web.AppKey("broadcaster", Broadcaster)
CHANGES = web.AppKey("changes", PostChanges)


async def stream(request: web.Request) -> web.StreamResponse:
    """`GET /events`: the viewer's live feed (`event: post`, JSON data), with keep-alive comments."""
    viewer = viewer_of(request)
    if viewer is None:
        return json_error(401, "unauthenticated", "sign in at /login first")
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    db = request.app[DATABASE]
    cookie = request.cookies.get(SESSION_COOKIE, "")
    language = words(locale_of(request))
    try:
        await response.write(b"retry: 2000\n\n")
        with request.app[BROADCASTER].subscribe() as queue:
            while True:
                try:
                    change = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    if live_session(db, cookie) is None:
                        break  # signed out or expired: the browser gets a 401 when it reconnects
                    await response.write(b": keep-alive\n\n")
                    continue
                if change is None:
                    break
                # A campaign's change reaches a regional viewer with her region's deliveries only.
                mine = [d for d in change.deliveries if in_scope(request, viewer.claims, d["agency"] or "")]
                if in_scope(request, viewer.claims, change.agency) or mine:
                    # The server's clock in Paris time and the status in words, as on the page.
                    at = datetime.fromisoformat(change.at) if change.at else datetime.now(UTC)
                    shown = {
                        "time": language.clock(at),
                        "status_words": language.status(change.status),
                        "deliveries": mine,
                    }
                    await response.write(change.encode(shown))
    except ConnectionResetError:
        pass  # the browser went away
    return response
