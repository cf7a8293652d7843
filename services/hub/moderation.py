"""Moderation at the hub: the queue, approve, reject, and the policies that decide what waits.

Moderators act within their scope: a regional moderator (token with a `region`) on posts of that
region's agencies, a national one (no region) and hub admins on all. Every refusal is audited.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import structlog
from aiohttp import web
from ulid import ULID

from services.hub.api_types import (
    ApproveRequest,
    Decision,
    PolicyIn,
    PolicyList,
    PolicyOut,
    QueueList,
    RejectRequest,
)
from services.hub.keys import APPROVER, DATABASE, LINK, MIRROR, PUBLIC_KEY
from services.hub.policy import MODES, Policy, check_scope
from services.hub.scope import READERS, in_scope, is_regional
from services.hub.store import append_event, dequeue, load_policies, queued, save_policy, take_from_queue
from shared.access import note_refusal
from shared.api_contract import conform, typed_json
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
        "variants": [{"network": v.network, "page": v.page, "parts": v.parts} for v in rendered.variants],
    }


async def list_queue(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], READERS)
    rows = [r for r in queued(request.app[DATABASE]) if in_scope(request, claims, r["agency"])]
    return typed_json({"queue": [_item(request, r) for r in rows]}, QueueList)


async def _queued_post(request: web.Request) -> tuple[Claims, PostRendered]:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], MODERATORS)
    post_id = request.match_info["post_id"]
    data = take_from_queue(request.app[DATABASE], post_id)
    if data is None:
        raise AuthError(404, "not_queued", "this post is not waiting for a moderator")
    rendered = msgspec.json.decode(data, type=PostRendered)
    if not in_scope(request, claims, rendered.agency):
        audit_denial(request, claims, "outside the moderator's region", post_id, rendered.agency)
        raise AuthError(
            403, "outside_scope", f"agency {rendered.agency} is outside your region {claims.region}"
        )
    return claims, rendered


async def approve(request: web.Request) -> web.Response:
    """Approve as is, or with `{"text": …}`: edit, then approve (the diff goes to the audit)."""
    claims, rendered = await _queued_post(request)
    body = await _json(request) if request.can_read_body else {}
    text = body.get("text") if isinstance(body, dict) else None
    try:
        if text is not None:
            text = check_text(text)
        conform(body, ApproveRequest)  # an unreadable body is refused, not approved as it stands
    except InputError as exc:
        return json_error(exc.status, exc.code, exc.message, exc.field)
    if request.app[LINK].nc is None:
        return json_error(503, "bus_unavailable", "the hub's bus is not reachable; try again", None)
    revision = await request.app[APPROVER].approve_queued(rendered, claims.subject, text)
    dequeue(request.app[DATABASE], rendered.post_id)
    decision = "edited_and_approved" if revision else "approved"
    answer = {"id": rendered.post_id, "decision": decision, "by": claims.subject}
    return typed_json({**answer, "revision": revision} if revision else answer, Decision)


async def reject(request: web.Request) -> web.Response:
    claims, rendered = await _queued_post(request)
    body = await _json(request)
    reason = body.get("reason") if isinstance(body, dict) else None
    if not isinstance(reason, str) or not reason.strip():
        return json_error(400, "missing_field", "a rejection needs a reason the advisor will read", "reason")
    try:
        conform(body, RejectRequest)
    except InputError as exc:
        return json_error(exc.status, exc.code, exc.message, exc.field)
    await request.app[APPROVER].reject(rendered.post_id, rendered.agency, claims.subject, reason.strip())
    dequeue(request.app[DATABASE], rendered.post_id)
    return typed_json({"id": rendered.post_id, "decision": "rejected", "by": claims.subject}, Decision)


async def list_policies(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], READERS)
    policies = [p for p in load_policies(request.app[DATABASE]) if _policy_in_scope(request, claims, p.scope)]
    return typed_json(
        {"policies": [{"scope": p.scope, "mode": p.mode, "trusted": p.trusted} for p in policies]}, PolicyList
    )


def _policy_in_scope(request: web.Request, claims: Claims, scope: str) -> bool:
    """A regional moderator sees the default and her region's agency and page policies."""
    kind, _, value = scope.partition(":")
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
        return json_error(422, "invalid_scope", "scope is default, agency:<id> or page:<id>", "scope")
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
        return await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/moderation/queue", list_queue)
    app.router.add_post("/v1/moderation/{post_id}/approve", approve)
    app.router.add_post("/v1/moderation/{post_id}/reject", reject)
    app.router.add_get("/v1/policies", list_policies)
    app.router.add_put("/v1/policies", put_policy)
