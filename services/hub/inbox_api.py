"""The inbox's HTTP side at the hub: `GET /v1/inbox`, `GET /v1/inbox/{conversation}` and `POST
/v1/inbox/{conversation}/items/{item_id}/hide`, and its wiring into the hub (the consumer and the
escalation loop of services/hub/inbox.py).

Scope is the posts' rule (services/hub/scope.py): moderators, ops and admins read; a regional
moderator's list is cut to her region's agencies, and one conversation outside it is a 404 (as if
it did not exist), audited as `permission.denied`; an agency's token is refused (403).

Hiding an item (#15 item 5) is acting: moderators and admins only (ops decide nothing); a conversation
outside a regional moderator's region is 403 `outside_scope`, audited; the checks and the order are
services/hub/inbox_hides.py's, each refusal audited with its reason and answered in the error shape
naming the field (404 an item not of the conversation, 422 a network that cannot hide or a private
message, 409 an item already asked for); 202 once ordered (the outcome follows on the conversation).
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from aiohttp import web
from nats.js import JetStreamContext

from services.hub.inbox import Inbox
from services.hub.inbox_hides import HideAsk
from services.hub.inbox_settings import InboxSettings
from services.hub.inbox_store import conversation_items, conversations
from services.hub.inbox_types import ConversationView, InboxList
from services.hub.keys import APPROVER, DATABASE, INBOX, MIRROR, PUBLIC_KEY
from services.hub.scope import READERS, in_scope
from shared.access import note_refusal
from shared.api_contract import typed_json
from shared.business_hours import format_instant
from shared.inbox_hiding import HideAccepted
from shared.tokens import Claims
from shared.web import bearer_claims, json_error

__all__ = ["follow", "install", "summary", "visible_conversation", "visible_conversations"]

MAX_LISTED = 500  # the most urgent first
HIDERS = ("admin", "moderator")  # hiding acts on the network: ops read, decide nothing


def install(app: web.Application, settings: InboxSettings) -> None:
    app[INBOX] = Inbox(app[DATABASE], app[MIRROR], settings, app[APPROVER].outbox)
    app.router.add_get("/v1/inbox", list_inbox)
    app.router.add_get("/v1/inbox/{conversation}", get_conversation)
    app.router.add_post("/v1/inbox/{conversation}/items/{item_id}/hide", hide_item)


async def follow(app: web.Application, js: JetStreamContext, stop: asyncio.Event) -> None:
    await app[INBOX].run(js, stop)


def visible_conversations(request: web.Request, claims: Claims) -> list[dict[str, Any]]:
    """The conversations `claims` may read (the posts' scope rule), the most urgent first: what the
    API lists and the dashboard's inbox page shows."""
    return [r for r in conversations(request.app[DATABASE]) if in_scope(request, claims, r["agency"])]


def visible_conversation(request: web.Request, claims: Claims, conversation: str) -> dict[str, Any] | None:
    """One conversation, or None when the hub has none by that id or `claims` may not read it: the
    second case is audited (`permission.denied`, status 404) and then answered as the first."""
    row = next(iter(conversations(request.app[DATABASE], conversation)), None)
    if row is not None and not in_scope(request, claims, row["agency"]):
        note_refusal(
            request, "outside the moderator's region", claims=claims, agency=row["agency"], status=404
        )
        return None  # answered exactly as a conversation the hub does not know
    return row


async def list_inbox(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], READERS)
    rows = visible_conversations(request, claims)
    return typed_json({"conversations": [summary(request, r) for r in rows[:MAX_LISTED]]}, InboxList)


async def get_conversation(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], READERS)
    conversation = request.match_info["conversation"]
    row = visible_conversation(request, claims, conversation)
    if row is None:
        return json_error(404, "not_found", "the hub has no such conversation", "conversation")
    view = {**summary(request, row), "items": conversation_items(request.app[DATABASE], conversation)}
    return typed_json(view, ConversationView)


async def hide_item(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], HIDERS)
    conversation, item_id = request.match_info["conversation"], request.match_info["item_id"]
    row = next(iter(conversations(request.app[DATABASE], conversation)), None)
    if row is None:
        return json_error(404, "not_found", "the hub has no such conversation", "conversation")
    if not in_scope(request, claims, row["agency"]):
        note_refusal(request, "outside the moderator's region", claims=claims, agency=row["agency"])
        message = f"agency {row['agency']} is outside your region {claims.region}"
        return json_error(403, "outside_scope", message, "conversation")
    ask = HideAsk(row["agency"], conversation, row["network"], row["page"], item_id, claims.subject)
    refusal = await request.app[INBOX].ask_to_hide(ask, f"hub:inbox.hide_refused:api:{secrets.token_hex(8)}")
    if refusal is not None:
        return json_error(refusal.status, refusal.code, refusal.reason, refusal.field)
    ordered = {"conversation": conversation, "item_id": item_id, "hidden": "requested"}
    return typed_json(ordered, HideAccepted, 202)


def summary(request: web.Request, row: dict[str, Any]) -> dict[str, Any]:
    deadline = row["deadline"]
    if deadline is not None:
        deadline = format_instant(request.app[INBOX].in_calendar_zone(deadline, row["calendar"]))
    last = None
    if row["last_text"] is not None:
        last = {"kind": row["last_kind"], "text": row["last_text"], "created_at": row["last_item_at"]}
    return {
        "conversation": row["conversation"],
        "status": row["status"],
        "agency": row["agency"],
        "region": request.app[MIRROR].region_of(row["agency"]),
        "page": row["page"],
        "network": row["network"],
        "calendar": row["calendar"],
        "assignee": row["assignee"] or None,
        "first_item_at": row["first_item_at"],
        "waiting": row["clock_started_at"] is not None,
        "deadline": deadline,
        "escalation_level": row["escalation_level"] or None,
        "last_item": last,
    }
