"""The composer's drafts, kept in the node's SQLite (they survive a restart) and each its author's
alone: `GET/POST /v1/drafts`, `GET/PUT/DELETE /v1/drafts/{draft_id}`.

A draft is a post's body as the composer holds it, possibly incomplete, so it is not checked as a
post: only its shape (a JSON object of the post's fields) and its size are. Its owner is the caller's
role, agency and name together (`Owner`): anyone else, another advisor of the agency, an admin, or
another agency's token with the same name, finds no such draft (404, never 403, so that an id says
nothing about whether it exists); a found draft of someone else's is recorded as a refusal.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import sqlite_utils
import structlog
from aiohttp import web

from services.intake.api_types import DraftIn, DraftList, DraftView
from services.intake.handlers import claims_for_agency
from services.intake.keys import DATABASE, SETTINGS
from services.intake.settings import MAX_DRAFT_BYTES, MAX_DRAFTS
from services.intake.validation import ALLOWED_FIELDS
from shared.access import note_refusal
from shared.api_contract import conform, typed_json
from shared.http_body import read_json
from shared.ids import utc_now
from shared.post_input import InputError
from shared.tokens import Claims
from shared.web import CLAIMS, json_error

__all__ = ["add_routes"]

log = structlog.get_logger("relais.intake.drafts")


@dataclass(frozen=True)
class Owner:
    role: str
    agency: str
    author: str

    @classmethod
    def of(cls, claims: Claims) -> Owner:
        return cls(claims.role, claims.agency or "", claims.subject)

    def where(self) -> tuple[str, list[str]]:
        return "role = ? and agency = ? and author = ?", [self.role, self.agency, self.author]


# ---------------------------------------------------------------------------------------------
# Storage


def _view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "body": json.loads(row["body"]),
    }


def list_drafts(db: sqlite_utils.Database, owner: Owner) -> list[dict[str, Any]]:
    """The owner's drafts, the most recently saved first."""
    where, values = owner.where()
    rows = db.table("drafts").rows_where(where, values, order_by="updated_at desc, rowid desc")
    return [_view(row) for row in rows]


def find_draft(db: sqlite_utils.Database, owner: Owner, draft_id: str) -> dict[str, Any] | None:
    where, values = owner.where()
    rows = list(db.table("drafts").rows_where(f"id = ? and {where}", [draft_id, *values]))
    return _view(rows[0]) if rows else None


def draft_exists(db: sqlite_utils.Database, draft_id: str) -> bool:
    return db.execute("select 1 from drafts where id = ?", [draft_id]).fetchone() is not None


def insert_draft(db: sqlite_utils.Database, owner: Owner, body: str) -> dict[str, Any] | None:
    """The new draft, or None when the owner already has `MAX_DRAFTS` (counted in the same
    transaction as the insert: two saves at once cannot both pass the limit)."""
    now = utc_now()
    row = {
        "id": f"draft-{secrets.token_urlsafe(18)}",
        "role": owner.role,
        "agency": owner.agency,
        "author": owner.author,
        "body": body,
        "created_at": now,
        "updated_at": now,
    }
    where, values = owner.where()
    with db.atomic():
        if db.execute(f"select count(*) from drafts where {where}", values).fetchone()[0] >= MAX_DRAFTS:
            return None
        db.table("drafts").insert(row)
    return _view(row)


def update_draft(db: sqlite_utils.Database, owner: Owner, draft_id: str, body: str) -> bool:
    where, values = owner.where()
    with db.atomic():
        cursor = db.execute(
            f"update drafts set body = ?, updated_at = ? where id = ? and {where}",
            [body, utc_now(), draft_id, *values],
        )
    return cursor.rowcount == 1


def delete_draft(db: sqlite_utils.Database, owner: Owner, draft_id: str) -> bool:
    where, values = owner.where()
    with db.atomic():
        cursor = db.execute(f"delete from drafts where id = ? and {where}", [draft_id, *values])
    return cursor.rowcount == 1


# ---------------------------------------------------------------------------------------------
# HTTP


async def _draft_body(request: web.Request) -> str:
    """The request's `body`, checked for shape and size, as the JSON to store."""
    envelope = await read_json(request)
    body = envelope.get("body")
    if body is not None and not isinstance(body, dict):
        raise InputError(422, "invalid_draft", "body must be a JSON object: a post's fields", "body")
    conform(envelope, DraftIn)  # the envelope: exactly {"body": {...}}
    unknown = sorted(set(body or {}) - ALLOWED_FIELDS)
    if unknown:
        message = f"a draft holds a post's fields; {unknown[0]!r} is not one"
        raise InputError(422, "invalid_draft", message, f"body.{unknown[0]}")
    stored = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    if len(stored.encode()) > MAX_DRAFT_BYTES:
        message = f"a draft is at most {MAX_DRAFT_BYTES} bytes of JSON; this one is {len(stored.encode())}"
        raise InputError(413, "draft_too_large", message, "body")
    return stored


def _owner(request: web.Request) -> Owner:
    """Whoever calls a draft by its id: any caller the access check let in. One who may not keep
    drafts here (another agency's advisor, another role) owns none, so finds none: 404 like any
    other id that is not theirs."""
    claims: Claims = request[CLAIMS]
    return Owner.of(claims)


def _not_found(request: web.Request, owner: Owner) -> web.Response:
    draft_id = request.match_info["draft_id"]
    agency = request.app[SETTINGS].agency
    if draft_exists(request.app[DATABASE], draft_id):  # someone else's: evidence, kept in the audit
        note_refusal(request, f"the draft {draft_id} is another author's", agency=agency, status=404)
        log.warning("draft.not_owner", agency=agency, subject=owner.author, role=owner.role)
    return json_error(404, "not_found", "no such draft of yours", "draft_id")


async def index(request: web.Request) -> web.Response:
    owner = Owner.of(claims_for_agency(request))
    return typed_json({"drafts": list_drafts(request.app[DATABASE], owner)}, DraftList)


async def create(request: web.Request) -> web.Response:
    owner = Owner.of(claims_for_agency(request))
    try:
        body = await _draft_body(request)
    except InputError as exc:
        return json_error(exc.status, exc.code, exc.message, exc.field)
    draft = insert_draft(request.app[DATABASE], owner, body)
    if draft is None:
        message = f"at most {MAX_DRAFTS} drafts each: delete one you no longer need"
        return json_error(409, "too_many_drafts", message, None)
    log.info("draft.saved", agency=request.app[SETTINGS].agency, draft_id=draft["id"])
    return typed_json(draft, DraftView, 201)


async def show(request: web.Request) -> web.Response:
    owner = _owner(request)
    draft = find_draft(request.app[DATABASE], owner, request.match_info["draft_id"])
    return typed_json(draft, DraftView) if draft is not None else _not_found(request, owner)


async def replace(request: web.Request) -> web.Response:
    owner = _owner(request)
    db, draft_id = request.app[DATABASE], request.match_info["draft_id"]
    if find_draft(db, owner, draft_id) is None:  # not yours: the same 404 whatever the body
        return _not_found(request, owner)
    try:
        body = await _draft_body(request)
    except InputError as exc:
        return json_error(exc.status, exc.code, exc.message, exc.field)
    if not update_draft(db, owner, draft_id, body):  # deleted meanwhile
        return _not_found(request, owner)
    draft = find_draft(db, owner, draft_id)
    return typed_json(draft, DraftView) if draft is not None else _not_found(request, owner)


async def remove(request: web.Request) -> web.Response:
    owner = _owner(request)
    if not delete_draft(request.app[DATABASE], owner, request.match_info["draft_id"]):
        return _not_found(request, owner)
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/drafts", index)
    app.router.add_post("/v1/drafts", create)
    app.router.add_get("/v1/drafts/{draft_id}", show)
    app.router.add_put("/v1/drafts/{draft_id}", replace)
    app.router.add_delete("/v1/drafts/{draft_id}", remove)
