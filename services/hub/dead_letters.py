"""Dead letters and page alerts at the hub: what the dispatcher gave up on, and the retry action.

The dispatcher announces a dead letter (`alerts.*.*.dead_letter`: retries exhausted, a page to
reconnect, an outcome only a person can check) and a page whose token stopped working
(`alerts.*.*.needs_reauth`). The hub keeps them open until the delivery is published again
(`deliveries.*.*.published`) and lets an admin act:

- `GET /v1/dead-letters` (admin, ops, moderators: their territory's): open dead letters, and pages
  that need reconnecting;
- `POST /v1/dead-letters/{post_id}/{page}/retry` (admin): try again, after reconnecting the page
  or having checked that an unconfirmed post is not there; the dispatcher reconciles first
  wherever the network can be read;
- `POST /v1/dead-letters/{post_id}/{page}/mark-published` (admin): the person saw it on the page;
- `GET /dead-letters` (handlers.py): the same lists as a plain web page (signed in to the dashboard).

The actions travel as `DeliveryActionRequested` commands (`commands.<agency>.<post_id>.<action>`).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import sqlite_utils
import structlog
from aiohttp import web
from nats.js import JetStreamContext
from sqlite_utils.migrations import Migrations

from services.hub.api_types import ActionRequested, DeadLetterLists
from services.hub.keys import DATABASE, LINK, PUBLIC_KEY
from services.hub.scope import READERS, in_scope
from shared import bus
from shared.api_contract import typed_json
from shared.ids import utc_now
from shared.schemas import (
    DeliveryActionRequested,
    DeliveryDeadLettered,
    DeliveryUpdated,
    PageNeedsReauth,
    commands_subject,
    decode_any,
)
from shared.tokens import Claims
from shared.web import bearer_claims, json_error

__all__ = ["add_routes", "follow", "migrate", "record", "visible"]

log = structlog.get_logger("relais.hub.dead_letters")

ALERTS = bus.ConsumerSpec(stream="ALERTS", durable="hub-dead-letters", filter_subject="alerts.*.*.*")
RESOLVED = bus.ConsumerSpec(
    stream="DELIVERIES", durable="hub-dead-letters-resolved", filter_subject="deliveries.*.*.published"
)
_ACTIONS = {"retry": "retry", "mark-published": "mark_published"}

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


def migrate(db: sqlite_utils.Database) -> None:
    migrations.apply(db)


def record(db: sqlite_utils.Database, subject: str, data: bytes) -> None:
    """Apply one alert or published delivery to the open lists (idempotent: redeliveries repeat)."""
    event = decode_any(subject, data)
    elog = log.bind(post_id=event.post_id, agency=event.agency)
    with db.conn:
        match event:
            case DeliveryDeadLettered():
                error = (
                    json.dumps({"message": event.error.message, "network_code": event.error.network_code})
                    if event.error
                    else None
                )
                db.table("dead_letters").upsert(
                    {
                        "post_id": event.post_id,
                        "page": event.page,
                        "agency": event.agency,
                        "network": event.network,
                        "status": event.status,
                        "attempts": event.attempts,
                        "error": error,
                        "raised_at": event.occurred_at,
                        "resolved_at": None,
                        "resolution": None,
                    },
                    pk=("post_id", "page"),
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
            case DeliveryUpdated():
                db.execute(
                    "update dead_letters set resolved_at = ?, resolution = 'published'"
                    " where post_id = ? and page = ? and resolved_at is null",
                    [event.occurred_at, event.post_id, event.page],
                )
                db.execute("delete from page_alerts where page = ?", [event.page])


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
    return {"dead_letters": letters, "pages_needing_reauth": pages}


def visible(request: web.Request, claims: Claims) -> dict[str, list[dict[str, Any]]]:
    lists = _open(request.app[DATABASE])
    return {name: [r for r in rows if in_scope(request, claims, r["agency"])] for name, rows in lists.items()}


async def list_dead_letters(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], READERS)
    return typed_json(visible(request, claims), DeadLetterLists)


async def act(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], ("admin",))
    post_id, page = request.match_info["post_id"], request.match_info["page"]
    action = _ACTIONS[request.match_info["action"]]
    row = (
        request.app[DATABASE]
        .execute(
            "select agency, network from dead_letters where post_id = ? and page = ? and resolved_at is null",
            [post_id, page],
        )
        .fetchone()
    )
    if row is None:
        return json_error(404, "not_found", f"no open dead letter for post {post_id} on page {page}")
    nc = request.app[LINK].nc
    if nc is None or not nc.is_connected:
        return json_error(503, "bus_unavailable", "the bus is unreachable; try again shortly")
    command = DeliveryActionRequested(
        post_id=post_id,
        agency=row[0],
        occurred_at=utc_now(),
        network=row[1],
        page=page,
        action=action,
        requested_by=claims.subject,
    )
    # One id per request: a person may retry the same delivery again later.
    msg_id = f"{post_id}.{page}.{action}.{command.occurred_at}"
    await bus.publish(nc.jetstream(), commands_subject(row[0], post_id, action), command, msg_id)
    log.info(
        "dead_letter.action", post_id=post_id, agency=row[0], page=page, action=action, by=claims.subject
    )
    answer = {"post_id": post_id, "page": page, "action": action, "status": "requested"}
    return typed_json(answer, ActionRequested, 202)


def add_routes(app: web.Application) -> None:
    """Register the routes (and create the tables: the app's database is already open)."""
    migrate(app[DATABASE])
    app.router.add_get("/v1/dead-letters", list_dead_letters)
    app.router.add_post("/v1/dead-letters/{post_id}/{page}/{action:retry|mark-published}", act)
