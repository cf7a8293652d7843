"""The agency's inbox at its node, for its advisors (and admins), offline as well as online:
`GET /v1/inbox`, `GET /v1/inbox/{conversation}`, `POST /v1/inbox/{conversation}/assign`, `POST
/v1/inbox/{conversation}/items/{item_id}/hide` (services/intake/hide_requests.py).

The node holds only its own agency's conversations, so another agency's conversation id is as
unknown here as one that does not exist (404). An assignment is stored with its `InboxAssigned` in
one durable transaction before the answer; the relay sends it when the link is up.
"""

from __future__ import annotations

import structlog
from aiohttp import web

from services.intake.api_types import (
    AssignIn,
    ConversationSummary,
    ConversationView,
    InboxList,
)
from services.intake.handlers import claims_for_agency
from services.intake.hide_requests import Refused, request_hide
from services.intake.inbox_store import (
    assign,
    find_conversation,
    is_agency_advisor,
    items_of,
    list_conversations,
)
from services.intake.keys import DATABASE, RELAY, SETTINGS
from shared.api_contract import conform, typed_json
from shared.http_body import read_json
from shared.i18n import words
from shared.i18n.web import locale_of
from shared.inbox_hiding import HideAccepted
from shared.personal_data import in_words
from shared.post_input import InputError
from shared.web import json_error

__all__ = ["add_routes"]

log = structlog.get_logger("relais.intake.inbox")


async def index(request: web.Request) -> web.Response:
    """Every conversation of the agency; `?assignee=me` the caller's, `?queue=shared` those no one has."""
    claims = claims_for_agency(request)
    assignee_filter, queue = request.query.get("assignee"), request.query.get("queue")
    if assignee_filter is not None and assignee_filter != "me":
        return json_error(422, "invalid_value", "assignee takes one value: me (the caller's own)", "assignee")
    if queue is not None and queue != "shared":
        return json_error(422, "invalid_value", "queue takes one value: shared (no one's yet)", "queue")
    if assignee_filter is not None and queue is not None:  # both filters hold: no conversation is in both
        return typed_json({"conversations": []}, InboxList)
    assignee = claims.subject if assignee_filter == "me" else "" if queue == "shared" else None
    conversations = list_conversations(request.app[DATABASE], assignee)
    return typed_json({"conversations": conversations}, InboxList)


async def show(request: web.Request) -> web.Response:
    """A conversation and its items, masked, in the reader's language."""
    claims_for_agency(request)
    db, conversation_id = request.app[DATABASE], request.match_info["conversation"]
    conversation = find_conversation(db, conversation_id)
    if conversation is None:
        return _not_found()
    language = words(locale_of(request))
    items = [
        {
            **item,
            "shown": in_words(item["text"], language.masked_identifier),
            "notice": language.personal_data_notice(tuple(item["masked"])) if item["masked"] else None,
        }
        for item in items_of(db, conversation_id)
    ]
    return typed_json({"conversation": conversation, "items": items}, ConversationView)


async def assign_conversation(request: web.Request) -> web.Response:
    """Give the conversation to one of the agency's advisors, or back to its shared queue ("")."""
    claims = claims_for_agency(request)
    settings, db = request.app[SETTINGS], request.app[DATABASE]
    body = await read_json(request)  # not JSON, or not an object: 400 (shared/http_body.py)
    try:
        conform(body, AssignIn)
    except InputError as exc:
        return json_error(exc.status, exc.code, exc.message, exc.field)
    conversation_id, assignee = request.match_info["conversation"], str(body["assignee"])
    if find_conversation(db, conversation_id) is None:
        return _not_found()
    if assignee and not is_agency_advisor(db, settings.agency, assignee):
        message = (
            f"assignee must be an advisor of {settings.agency} (their user id), or empty for the shared queue"
        )
        return json_error(422, "invalid_assignee", message, "assignee")
    conversation, changed = assign(db, settings.agency, conversation_id, assignee, claims.subject)
    if conversation is None:
        return _not_found()
    if changed:
        request.app[RELAY].wake()
        log.info(
            "inbox.assigned",
            post_id=conversation["post_id"],
            agency=settings.agency,
            conversation=conversation_id,
            assignee=assignee,
            by=claims.subject,
        )
    return typed_json(conversation, ConversationSummary)


async def hide(request: web.Request) -> web.Response:
    """Ask the hub to hide the item from the public (hide_requests.py): 202 once on disk."""
    claims = claims_for_agency(request)
    db, agency = request.app[DATABASE], request.app[SETTINGS].agency
    conversation, item_id = request.match_info["conversation"], request.match_info["item_id"]
    asked = request_hide(db, agency, conversation, item_id, claims.subject)
    if isinstance(asked, Refused):
        return json_error(asked.status, asked.code, asked.message, asked.field)
    request.app[RELAY].wake()
    log.info(
        "inbox.hide_requested",
        post_id=asked.post_id,
        agency=agency,
        conversation=conversation,
        item_id=item_id,
    )
    return typed_json(
        {"conversation": conversation, "item_id": item_id, "hidden": "requested"}, HideAccepted, 202
    )


def _not_found() -> web.Response:
    return json_error(404, "not_found", "no such conversation at this agency", "conversation")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/inbox", index)
    app.router.add_get("/v1/inbox/{conversation}", show)
    app.router.add_post("/v1/inbox/{conversation}/assign", assign_conversation)
    app.router.add_post("/v1/inbox/{conversation}/items/{item_id}/hide", hide)
