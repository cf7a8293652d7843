"""Dead letters and page alerts at the hub: what the dispatcher gave up on, and the retry action.

The dispatcher announces a dead letter (`alerts.*.*.dead_letter`: retries exhausted, a page to
reconnect, an outcome only a person can check), a page whose token stopped working
(`alerts.*.*.needs_reauth`) and a page throttled by its network for longer than the threshold
(`alerts.*.*.throttled`). The hub keeps them open until a delivery is published again
(`deliveries.*.*.published`) and lets an admin act:

- `GET /v1/dead-letters` (admin, ops, moderators: their territory's): open dead letters, pages
  that need reconnecting, and pages throttled for too long (with until when);
- `POST /v1/dead-letters/{post_id}/{page}/retry` (admin): try again, after reconnecting the page
  or having checked that an unconfirmed post is not there; the dispatcher reconciles first
  wherever the network can be read;
- `POST /v1/dead-letters/{post_id}/{page}/mark-published` (admin): the person saw it on the page;
  one action at a time per dead letter: a second one, sent with it or after, is answered 409
  `already_decided` with the action that stands (until the letter is closed or raised again);
- `GET /dead-letters` (handlers.py): the same lists as a plain web page (signed in to the dashboard).

The actions travel as `DeliveryActionRequested` commands (`commands.<agency>.<post_id>.<action>`).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils
import structlog
from aiohttp import web
from nats.js import JetStreamContext
from sqlite_utils.migrations import Migrations
from ulid import ULID

from services.hub.api_types import ActionRequested, AlreadyRequestedError, DeadLetterLists
from services.hub.keys import APPROVER, DATABASE, LINK, PUBLIC_KEY
from services.hub.scope import READERS, in_scope
from services.hub.store import Outgoing, add_to_outbox, append_event
from shared import bus
from shared.api_contract import typed_json
from shared.ids import utc_now
from shared.schemas import (
    DeliveryActionRequested,
    DeliveryDeadLettered,
    DeliveryUpdated,
    PageNeedsReauth,
    PageThrottled,
    commands_subject,
    decode_any,
    encode,
)
from shared.sqlite_writes import write_transaction
from shared.tokens import Claims
from shared.web import bearer_claims, json_error

__all__ = [
    "Action",
    "ActionTaken",
    "action_taken",
    "add_routes",
    "follow",
    "migrate",
    "record",
    "request_action",
    "visible",
]

log = structlog.get_logger("relais.hub.dead_letters")

ALERTS = bus.ConsumerSpec(stream="ALERTS", durable="hub-dead-letters", filter_subject="alerts.*.*.*")
RESOLVED = bus.ConsumerSpec(
    stream="DELIVERIES", durable="hub-dead-letters-resolved", filter_subject="deliveries.*.*.published"
)
_ACTIONS = {"retry": "retry", "mark-published": "mark_published"}
# How long an action stands without the dead letter being closed or raised again before another may
# be requested (the dispatcher sets aside a command for a delivery it is working on).
ACTION_PENDING = timedelta(minutes=15)

migrations = Migrations("relais.hub.dead_letters")


@migrations()
def m001_dead_letters(db: sqlite_utils.Database) -> None:
    db.table("dead_letters").create(
        {
            "post_id": str,
            "page": str,
            "agency": str,
            "network": str,
            "status": str,
            "attempts": int,
            "error": str,
            "raised_at": str,
            "resolved_at": str,
            "resolution": str,
        },
        pk=("post_id", "page"),
    )
    db.table("page_alerts").create(
        {"page": str, "agency": str, "network": str, "error": str, "post_id": str, "raised_at": str},
        pk="page",
    )


@migrations()
def m002_actions(db: sqlite_utils.Database) -> None:
    # The action a person took on the open dead letter: one at a time (`request_action`).
    for column in ("action", "action_by", "action_at"):
        db.table("dead_letters").add_column(column, str)


@migrations()
def m003_page_throttles(db: sqlite_utils.Database) -> None:
    # Pages a network has throttled for longer than the alert threshold, until one publishes again.
    db.table("page_throttles").create(
        {
            "page": str,
            "agency": str,
            "network": str,
            "since": str,
            "until": str,
            "error": str,
            "post_id": str,
            "raised_at": str,
        },
        pk="page",
    )


def migrate(db: sqlite_utils.Database) -> None:
    migrations.apply(db)


def record(db: sqlite_utils.Database, subject: str, data: bytes) -> None:
    """Apply one alert or published delivery to the open lists (idempotent: redeliveries repeat)."""
    event = decode_any(subject, data)
    elog = log.bind(post_id=event.post_id, agency=event.agency)
    with write_transaction(db):
        match event:
            case DeliveryDeadLettered():
                error = (
                    json.dumps({"message": event.error.message, "network_code": event.error.network_code})
                    if event.error
                    else None
                )
                # The same dead letter told again (a redelivery) keeps its resolution and pending
                # action; a new one (raised later) opens afresh.
                db.execute(
                    "insert into dead_letters (post_id, page, agency, network, status, attempts, error,"
                    " raised_at) values (?, ?, ?, ?, ?, ?, ?, ?) on conflict (post_id, page) do update set"
                    " agency = excluded.agency, network = excluded.network, status = excluded.status,"
                    " attempts = excluded.attempts, error = excluded.error, raised_at = excluded.raised_at,"
                    " resolved_at = iif(raised_at = excluded.raised_at, resolved_at, null),"
                    " resolution = iif(raised_at = excluded.raised_at, resolution, null),"
                    " action = iif(raised_at = excluded.raised_at, action, null),"
                    " action_by = iif(raised_at = excluded.raised_at, action_by, null),"
                    " action_at = iif(raised_at = excluded.raised_at, action_at, null)",
                    [
                        event.post_id,
                        event.page,
                        event.agency,
                        event.network,
                        event.status,
                        event.attempts,
                        error,
                        event.occurred_at,
                    ],
                )
                elog.warning("dead_letter.opened", page=event.page, status=event.status)
            case PageNeedsReauth():
                alert = {"message": event.error.message, "network_code": event.error.network_code}
                db.table("page_alerts").upsert(
                    {
                        "page": event.page,
                        "agency": event.agency,
                        "network": event.network,
                        "error": json.dumps(alert),
                        "post_id": event.post_id,
                        "raised_at": event.occurred_at,
                    },
                    pk="page",
                )
                elog.warning("page.needs_reauth", page=event.page)
            case PageThrottled():
                reason = event.error
                db.table("page_throttles").upsert(
                    {
                        "page": event.page,
                        "agency": event.agency,
                        "network": event.network,
                        "since": event.since,
                        "until": event.until,
                        "error": json.dumps({"message": reason.message, "network_code": reason.network_code})
                        if reason
                        else None,
                        "post_id": event.post_id,
                        "raised_at": event.occurred_at,
                    },
                    pk="page",
                )
                elog.warning("page.throttled", page=event.page, since=event.since, until=event.until)
            case DeliveryUpdated():
                db.execute(
                    "update dead_letters set resolved_at = ?, resolution = 'published'"
                    " where post_id = ? and page = ? and resolved_at is null",
                    [event.occurred_at, event.post_id, event.page],
                )
                db.execute("delete from page_alerts where page = ?", [event.page])
                db.execute("delete from page_throttles where page = ?", [event.page])


async def follow(js: JetStreamContext, db: sqlite_utils.Database, stop: asyncio.Event) -> None:
    async def on_message(message: bus.Incoming) -> None:
        record(db, message.subject, message.data)

    async with asyncio.TaskGroup() as group:
        group.create_task(bus.consume(js, ALERTS, on_message, stop))
        group.create_task(bus.consume(js, RESOLVED, on_message, stop))


def _open(db: sqlite_utils.Database) -> dict[str, list[dict[str, Any]]]:
    letters = [
        {**row, "error": json.loads(row["error"]) if row["error"] else None}
        for row in db.table("dead_letters").rows_where("resolved_at is null", order_by="raised_at")
    ]
    pages = [
        {**row, "error": json.loads(row["error"])}
        for row in db.table("page_alerts").rows_where(order_by="raised_at")
    ]
    throttled = [
        {**row, "error": json.loads(row["error"]) if row["error"] else None}
        for row in db.table("page_throttles").rows_where(order_by="since")
    ]
    return {"dead_letters": letters, "pages_needing_reauth": pages, "pages_throttled": throttled}


def visible(request: web.Request, claims: Claims) -> dict[str, list[dict[str, Any]]]:
    lists = _open(request.app[DATABASE])
    return {name: [r for r in rows if in_scope(request, claims, r["agency"])] for name, rows in lists.items()}


async def list_dead_letters(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], READERS)
    return typed_json(visible(request, claims), DeadLetterLists)


@dataclass(frozen=True)
class Action:
    """A person's action on an open dead letter, which stands until the letter is closed or raised
    again (or `ACTION_PENDING` passed without either: a command the dispatcher set aside)."""

    post_id: str
    page: str
    action: str
    by: str
    at: str

    def public(self) -> dict[str, str]:
        return {
            "post_id": self.post_id,
            "page": self.page,
            "decision": self.action,
            "by": self.by,
            "at": self.at,
        }


class ActionTaken(Exception):
    def __init__(self, action: Action) -> None:
        super().__init__(f"{action.action} already requested by {action.by}")
        self.action = action


def request_action(db: sqlite_utils.Database, post_id: str, page: str, action: str, by: str) -> Action | None:
    """Claim the open dead letter for `action` and put its command in the outbox, in one
    transaction (compare-and-set: one action at a time). None when no dead letter is open; raises
    `ActionTaken` when another action stands."""
    now = utc_now()
    cutoff = (datetime.now(UTC) - ACTION_PENDING).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    with write_transaction(db):
        claimed = db.execute(
            "update dead_letters set action = ?, action_by = ?, action_at = ? where post_id = ? and page = ?"
            " and resolved_at is null and (action_at is null or action_at < ?) returning agency, network",
            [action, by, now, post_id, page, cutoff],
        ).fetchall()
        if not claimed:
            taken = db.execute(
                "select action, action_by, action_at from dead_letters"
                " where post_id = ? and page = ? and resolved_at is null",
                [post_id, page],
            ).fetchone()
            if taken is None:
                return None
            raise ActionTaken(Action(post_id, page, *taken))
        agency, network = claimed[0]
        command = DeliveryActionRequested(
            post_id=post_id,
            agency=agency,
            occurred_at=now,
            network=network,
            page=page,
            action=action,
            requested_by=by,
        )
        subject = commands_subject(agency, post_id, action)
        add_to_outbox(
            db, post_id, agency, Outgoing(subject, f"{post_id}.{page}.{action}.{now}", encode(command))
        )
    log.info("dead_letter.action", post_id=post_id, agency=agency, page=page, action=action, by=by)
    return Action(post_id, page, action, by, now)


def action_taken(
    db: sqlite_utils.Database, taken: Action, attempted: str, by: str, agency: str
) -> web.Response:
    """409 with the action that stands (under `decision`); the attempt is audited as refused."""
    append_event(
        db,
        source=f"hub:refused:{ULID()}",
        occurred_at=utc_now(),
        post_id=taken.post_id,
        agency=agency,
        event="decision.refused",
        actor=by,
        page=taken.page,
        detail={"attempted": attempted, "decision": taken.action, "decided_by": taken.by},
    )
    message = f"{taken.action.replace('_', ' ')} was already requested by {taken.by} at {taken.at}"
    error = {"code": "already_decided", "message": message, "field": None}
    return typed_json({"error": error, "decision": taken.public()}, AlreadyRequestedError, 409)


async def act(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], ("admin",))
    post_id, page = request.match_info["post_id"], request.match_info["page"]
    action = _ACTIONS[request.match_info["action"]]
    db = request.app[DATABASE]
    row = db.execute(
        "select agency from dead_letters where post_id = ? and page = ? and resolved_at is null",
        [post_id, page],
    ).fetchone()
    if row is None:
        return json_error(404, "not_found", f"no open dead letter for post {post_id} on page {page}")
    nc = request.app[LINK].nc
    if nc is None or not nc.is_connected:
        return json_error(503, "bus_unavailable", "the bus is unreachable; try again shortly")
    try:
        claimed = request_action(db, post_id, page, action, claims.subject)
    except ActionTaken as exc:
        return action_taken(db, exc.action, action, claims.subject, row[0])
    if claimed is None:
        return json_error(404, "not_found", f"no open dead letter for post {post_id} on page {page}")
    await request.app[APPROVER].outbox.flush()
    answer = {"post_id": post_id, "page": page, "action": action, "status": "requested"}
    return typed_json(answer, ActionRequested, 202)


def add_routes(app: web.Application) -> None:
    """Register the routes (and create the tables: the app's database is already open)."""
    migrate(app[DATABASE])
    app.router.add_get("/v1/dead-letters", list_dead_letters)
    app.router.add_post("/v1/dead-letters/{post_id}/{page}/{action:retry|mark-published}", act)
