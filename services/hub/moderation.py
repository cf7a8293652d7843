"""Moderation at the hub: the queue, approve, reject, and the policies that decide what waits.

Moderators act within their scope: a regional moderator (token with a `region`) on posts of that
region's agencies, a national one (no region) and hub admins on all. Every refusal is audited.

A post has one decision: the first wins (`Approver.moderate`); a later or concurrent one is answered
409 `already_decided` with the decision that stands under the body's `decision` key, publishes
nothing, and is audited as `decision.refused`.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import structlog
from aiohttp import web
from ulid import ULID

from services.hub.api_types import (
    AlreadyDecidedError,
    ApproveRequest,
    DecisionAnswer,
    PolicyIn,
    PolicyList,
    PolicyOut,
    QueueList,
    RejectRequest,
)
from services.hub.keys import APPROVER, DATABASE, LINK, MIRROR, PUBLIC_KEY
from services.hub.policy import MODES, REPLIES, SHARES, Policy, check_scope
from services.hub.scope import READERS, in_scope, is_regional
from services.hub.service import AlreadyDecided, NotQueued
from services.hub.store import (
    Decision,
    append_event,
    decision_of,
    load_policies,
    queued,
    queued_agency,
    save_policy,
)
from shared.access import note_refusal
from shared.api_contract import conform, typed_json
from shared.http_body import read_json
from shared.ids import utc_now
from shared.post_input import InputError, check_text
from shared.schemas import PostRendered
from shared.tokens import Claims
from shared.web import AuthError, bearer_claims, json_error

log = structlog.get_logger("relais.hub.moderation")

MODERATORS = ("moderator", "admin")


def audit_denial(
    request: web.Request, claims: Claims, reason: str, post_id: str = "", agency: str = ""
) -> None:
    """Say why this request is refused: the hub's refusal recorder writes the one audit entry."""
    note_refusal(request, reason, claims=claims, post_id=post_id, agency=agency or claims.agency or "")


def _item(request: web.Request, row: dict[str, Any]) -> dict[str, Any]:
    rendered = msgspec.json.decode(row["rendered"].encode(), type=PostRendered)
    return {
        "post_id": row["post_id"],
        "agency": row["agency"],
        "region": request.app[MIRROR].region_of(row["agency"]),
        "author": row["author"],
        "queued_at": row["queued_at"],
        "schedule_at": rendered.schedule_at,
        "variants": [
            {"network": v.network, "page": v.page, "parts": v.parts, "title": v.title, "tags": v.tags}
            for v in rendered.variants
        ],
    }


async def list_queue(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], READERS)
    rows = [r for r in queued(request.app[DATABASE]) if in_scope(request, claims, r["agency"])]
    return typed_json({"queue": [_item(request, r) for r in rows]}, QueueList)


def post_agency(request: web.Request, post_id: str) -> str | None:
    """The agency of a post a moderator may decide or has decided; None if the hub has neither."""
    db = request.app[DATABASE]
    agency = queued_agency(db, post_id)
    if agency is None and (decided := decision_of(db, post_id)) is not None:
        agency = decided.agency
    return agency


def refuse_decision(request: web.Request, claims: Claims, decision: Decision, attempted: str) -> str:
    """Audit a decision refused because the post has one (`decision.refused`: an attempt, never a
    decision of its own) and say which decision stands."""
    append_event(
        request.app[DATABASE],
        source=f"hub:refused:{ULID()}",
        occurred_at=utc_now(),
        post_id=decision.post_id,
        agency=decision.agency,
        event="decision.refused",
        actor=claims.subject,
        detail={"attempted": attempted, "decision": decision.decision, "decided_by": decision.by},
    )
    log.info(
        "decision.refused",
        post_id=decision.post_id,
        agency=decision.agency,
        by=claims.subject,
        attempted=attempted,
        decision=decision.decision,
    )
    return f"this post was already {decision.decision.replace('_', ' ')} by {decision.by} at {decision.at}"


def already_decided(decision: Decision, message: str) -> web.Response:
    """409 in the error shape, with the decision that stands under `decision`."""
    error = {"code": "already_decided", "message": message, "field": None}
    return typed_json({"error": error, "decision": decision.public()}, AlreadyDecidedError, 409)


def _decidable(request: web.Request, claims: Claims, post_id: str) -> None:
    """Refuse (404, or 403 audited) what this moderator may not decide."""
    agency = post_agency(request, post_id)
    if agency is None:
        raise AuthError(404, "not_queued", "this post is not waiting for a moderator")
    if not in_scope(request, claims, agency):
        audit_denial(request, claims, "outside the moderator's region", post_id, agency)
        raise AuthError(403, "outside_scope", f"agency {agency} is outside your region {claims.region}")


async def _moderate(
    request: web.Request, claims: Claims, post_id: str, text: str | None = None, reason: str | None = None
) -> web.Response:
    attempted = "reject" if reason is not None else "edit_and_approve" if text is not None else "approve"
    if request.app[LINK].nc is None:
        return json_error(503, "bus_unavailable", "the hub's bus is not reachable; try again", None)
    try:
        decision = await request.app[APPROVER].moderate(post_id, claims.subject, text=text, reason=reason)
    except AlreadyDecided as exc:
        return already_decided(exc.decision, refuse_decision(request, claims, exc.decision, attempted))
    except NotQueued:
        return json_error(404, "not_queued", "this post is not waiting for a moderator", None)
    answer = {"id": post_id, "decision": decision.decision, "by": decision.by, "at": decision.at}
    return typed_json(
        {**answer, "revision": decision.revision} if decision.revision else answer, DecisionAnswer
    )


async def approve(request: web.Request) -> web.Response:
    """Approve as is, or with `{"text": …}`: edit, then approve (the diff goes to the audit)."""
    claims = bearer_claims(request, request.app[PUBLIC_KEY], MODERATORS)
    post_id = request.match_info["post_id"]
    _decidable(request, claims, post_id)
    body = await _json(request) if request.can_read_body else {}
    text = body.get("text") if isinstance(body, dict) else None
    try:
        if text is not None:
            text = check_text(text)
        conform(body, ApproveRequest)  # an unreadable body is refused, not approved as it stands
    except InputError as exc:
        return json_error(exc.status, exc.code, exc.message, exc.field)
    return await _moderate(request, claims, post_id, text=text)


async def reject(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], MODERATORS)
    post_id = request.match_info["post_id"]
    _decidable(request, claims, post_id)
    body = await _json(request)
    reason = body.get("reason") if isinstance(body, dict) else None
    if not isinstance(reason, str) or not reason.strip():
        return json_error(400, "missing_field", "a rejection needs a reason the advisor will read", "reason")
    try:
        conform(body, RejectRequest)
    except InputError as exc:
        return json_error(exc.status, exc.code, exc.message, exc.field)
    return await _moderate(request, claims, post_id, reason=reason.strip())


async def list_policies(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], READERS)
    policies = [p for p in load_policies(request.app[DATABASE]) if _policy_in_scope(request, claims, p.scope)]
    return typed_json(
        {"policies": [{"scope": p.scope, "mode": p.mode, "trusted": p.trusted} for p in policies]}, PolicyList
    )


def _policy_in_scope(request: web.Request, claims: Claims, scope: str) -> bool:
    """A regional moderator sees the default and her region's agency and page policies."""
    kind, _, value = scope.partition(":")
    if kind in (REPLIES, SHARES):  # replies:agency:<id> and shares:agency:<id> are that agency's
        kind, _, value = value.partition(":")
    if kind == "agency":
        return in_scope(request, claims, value)
    if kind == "page" and is_regional(claims):
        page = request.app[MIRROR].get(value)
        return page is not None and in_scope(request, claims, page.agency)
    return True


async def put_policy(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], ("admin",))
    body = await _json(request)
    if not isinstance(body, dict):
        return json_error(400, "invalid_body", "the body must be a JSON object", None)
    scope, mode, trusted = body.get("scope"), body.get("mode"), body.get("trusted", [])
    if not isinstance(scope, str) or not check_scope(scope):
        message = (
            "scope is default, agency:<id>, page:<id>, replies:default, replies:agency:<id>,"
            " shares:default or shares:agency:<id>"
        )
        return json_error(422, "invalid_scope", message, "scope")
    if mode not in MODES:
        return json_error(422, "invalid_mode", f"mode is one of {', '.join(MODES)}", "mode")
    if not isinstance(trusted, list) or not all(isinstance(t, str) for t in trusted):
        return json_error(400, "invalid_type", "trusted is a list of advisor names", "trusted")
    try:
        conform(body, PolicyIn)
    except InputError as exc:
        return json_error(exc.status, exc.code, exc.message, exc.field)
    save_policy(request.app[DATABASE], Policy(scope, mode, tuple(trusted)))
    append_event(
        request.app[DATABASE],
        source=f"hub:policy:{ULID()}",
        occurred_at=utc_now(),
        post_id="",
        agency="",
        event="policy.changed",
        actor=claims.subject,
        detail={"scope": scope, "mode": mode, "trusted": trusted},
    )
    return typed_json({"scope": scope, "mode": mode, "trusted": trusted}, PolicyOut)


async def _json(request: web.Request) -> Any:
    try:
        return await read_json(request)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/moderation/queue", list_queue)
    app.router.add_post("/v1/moderation/{post_id}/approve", approve)
    app.router.add_post("/v1/moderation/{post_id}/reject", reject)
    app.router.add_get("/v1/policies", list_policies)
    app.router.add_put("/v1/policies", put_policy)
