"""Refusals at the agency node are evidence: each 401 and 403 (within shared/access.py's per-address
budget) is kept in the outbox and relayed to the hub's audit like a post (`security.<agency>.<id>`),
so an attempt is recorded even while offline."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils
import structlog
from aiohttp import web
from sqlite_utils.migrations import Migrations
from ulid import ULID

from shared.access import RecordRefusal, Refusal
from shared.ids import utc_now
from shared.schemas import AccessDenied, decode, encode

log = structlog.get_logger("relais.intake.security")

migrations = Migrations("relais.intake.security")


@migrations()
def m001_security_events(db: sqlite_utils.Database) -> None:
    db.table("security_events").create({"id": str, "event": str, "relayed_at": str}, pk="id")


@migrations()
def m002_revoked_tokens(db: sqlite_utils.Database) -> None:
    db.table("revoked_tokens").create({"token_id": str, "revoked_at": str}, pk="token_id")


def revoke_locally(db: sqlite_utils.Database, token_id: str, revoked_at: str) -> None:
    with db.atomic():
        db.table("revoked_tokens").upsert({"token_id": token_id, "revoked_at": revoked_at}, pk="token_id")


def is_revoked(db: sqlite_utils.Database, token_id: str) -> bool:
    return db.execute("select 1 from revoked_tokens where token_id = ?", [token_id]).fetchone() is not None


def record_denial(db: sqlite_utils.Database, event: AccessDenied) -> None:
    with db.atomic():
        db.table("security_events").insert({"id": str(ULID()), "event": encode(event).decode()})


def unrelayed_denials(db: sqlite_utils.Database, limit: int = 256) -> list[tuple[str, AccessDenied]]:
    rows = db.execute("select id, event from security_events where relayed_at is null limit ?", [limit])
    return [(r[0], decode(r[1].encode(), AccessDenied)) for r in rows]


def mark_denials_relayed(db: sqlite_utils.Database, ids: list[str]) -> None:
    if ids:
        with db.atomic():
            marks = ",".join("?" * len(ids))
            db.execute(f"update security_events set relayed_at = ? where id in ({marks})", [utc_now(), *ids])


def refusal_recorder(agency: str, db_of: Callable[[web.Request], sqlite_utils.Database]) -> RecordRefusal:
    """Keep each refusal in the outbox; the relay takes it to the hub's audit, even after an outage."""

    def record(request: web.Request, refusal: Refusal) -> None:
        event = AccessDenied(
            post_id=refusal.post_id,
            agency=agency,
            occurred_at=utc_now(),
            actor=refusal.subject or "anonymous",
            role=refusal.role or "unknown",
            method=refusal.method,
            path=refusal.path,
            reason=refusal.reason[:500],
            status=refusal.status,
            code=refusal.code,
            route=refusal.route,
            remote=refusal.remote,
            token_id=refusal.token_id,
            capped=refusal.capped,
        )
        record_denial(db_of(request), event)

    return record
