"""Saved replies at the hub (issue #15 item 4): the hub team's catalogue of answers in French and in
Arabic (`shared.saved_replies`), `GET /v1/saved-replies` for the hub's readers and
`POST /v1/saved-replies` for admins, each change audited (`saved_reply.saved`); and its replication
to every agency node through the `saved_replies` bucket (as advisors' accounts travel), so that
advisors use it offline. A saved reply is checked when it is saved (its language, a title, known
variables): a typo is refused with its place, never sent to a citizen.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

import msgspec
import sqlite_utils
import structlog
from aiohttp import web
from nats.js import JetStreamContext
from ulid import ULID

from services.hub.keys import DATABASE, PUBLIC_KEY
from services.hub.scope import READERS
from services.hub.store import append_uncommitted
from shared import bus
from shared.api_contract import Answer, Operation, conform, typed_json
from shared.http_body import read_json
from shared.ids import utc_now
from shared.post_api import NOT_BLANK
from shared.post_input import InputError
from shared.saved_replies import (
    MAX_LENGTH,
    SAVED_REPLIES_BUCKET,
    Language,
    SavedReplyError,
    SavedReplyRecord,
    parse,
)
from shared.sqlite_writes import write_transaction
from shared.web import bearer_claims, json_error

__all__ = ["OPERATIONS", "add_routes", "publish_saved_replies"]

log = structlog.get_logger("relais.hub.saved_replies")

PUBLISH_EVERY = 1.0  # seconds between looks at the catalogue
ID_PATTERN = "^[a-z0-9][a-z0-9-]{0,63}$"  # a key of the bucket, and readable in a composer


class SavedReplyIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A saved reply to create, or to change (the same id)."""

    id: Annotated[str, msgspec.Meta(pattern=ID_PATTERN, description="lower-case letters, digits, -")]
    language: Language
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=NOT_BLANK)]
    body: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=MAX_LENGTH,
            pattern=NOT_BLANK,
            description="plain text with variables in braces ({auteur}, {agence}…); {{ and }} write a brace",
        ),
    ]


class SavedReplyView(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    language: str
    title: str
    body: str
    variables: list[str]  # in order of first use
    version: int
    updated_by: str
    updated_at: str


class SavedReplyList(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    saved_replies: list[SavedReplyView]


OPERATIONS = [
    Operation(
        "GET",
        "/v1/saved-replies",
        "The hub team's saved replies (every node has a copy, for its advisors)",
        {200: Answer("by id", SavedReplyList), 403: Answer("forbidden: this role may not do this")},
    ),
    Operation(
        "POST",
        "/v1/saved-replies",
        "Save a reply (admin): a new id creates it, an existing one changes it; it reaches every node",
        {
            200: Answer("saved", SavedReplyView),
            400: Answer(
                "malformed body: invalid_json, invalid_body, missing_field, unknown_field, invalid_type"
            ),
            403: Answer("forbidden: this role may not do this"),
            422: Answer("invalid_value (an id, language or title out of bounds), invalid_saved_reply"),
        },
        body=SavedReplyIn,
    ),
]


def _views(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    rows = db.execute_returning_dicts(
        "select id, language, title, body, version, updated_by, updated_at from saved_replies order by id"
    )
    return [
        {**row, "variables": list(parse(row["id"], row["language"], row["title"], row["body"]).variables)}
        for row in rows
    ]


async def list_saved(request: web.Request) -> web.Response:
    bearer_claims(request, request.app[PUBLIC_KEY], READERS)
    return typed_json({"saved_replies": _views(request.app[DATABASE])}, SavedReplyList)


async def save(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], ("admin",))
    body = await read_json(request)  # not JSON, or not an object: 400 (shared/http_body.py)
    try:
        conform(body, SavedReplyIn)
        reply = parse(body["id"], body["language"], body["title"], body["body"])
    except InputError as exc:
        return json_error(exc.status, exc.code, exc.message, exc.field)
    except SavedReplyError as exc:
        return json_error(422, "invalid_saved_reply", str(exc), exc.field)
    db, now = request.app[DATABASE], utc_now()
    with write_transaction(db):
        db.execute(
            "insert into saved_replies (id, language, title, body, version, updated_by, updated_at)"
            " values (?, ?, ?, ?, 1, ?, ?) on conflict (id) do update set language = excluded.language,"
            " title = excluded.title, body = excluded.body, version = saved_replies.version + 1,"
            " updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            [reply.reply_id, reply.language, reply.title, reply.body, claims.subject, now],
        )
        append_uncommitted(
            db,
            source=f"hub:saved_reply:{ULID()}",
            occurred_at=now,
            post_id="",
            agency="",
            event="saved_reply.saved",
            actor=claims.subject,
            detail={"id": reply.reply_id, "language": reply.language, "title": reply.title},
        )
    [view] = [v for v in _views(db) if v["id"] == reply.reply_id]
    log.info("saved_reply.saved", saved_reply=reply.reply_id, version=view["version"], by=claims.subject)
    return typed_json(view, SavedReplyView)


async def publish_saved_replies(js: JetStreamContext, db: sqlite_utils.Database, stop: asyncio.Event) -> None:
    """Put each saved reply whose version changed in the bucket (all of them again after a restart)."""
    kv = await bus.ensure_key_value(js, SAVED_REPLIES_BUCKET)
    published: dict[str, int] = {}
    while not stop.is_set():
        rows = db.execute("select id, language, title, body, version from saved_replies").fetchall()
        for row in rows:
            record = SavedReplyRecord(id=row[0], language=row[1], title=row[2], body=row[3], version=row[4])
            if published.get(record.id) != record.version:
                await kv.put(record.id, msgspec.json.encode(record))
                published[record.id] = record.version
                log.info("saved_reply.published", saved_reply=record.id, version=record.version)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PUBLISH_EVERY)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/saved-replies", list_saved)
    app.router.add_post("/v1/saved-replies", save)
