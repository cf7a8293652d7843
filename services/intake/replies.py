"""Answering from the node (issue #15 item 4): `POST /v1/inbox/{conversation}/replies`.

A reply is a post like any other (`accept`: the same outbox, the same 202 once it is on disk, the
same checks of its text, shared/post_input.py), to exactly one page, the conversation's, with what it answers
(`ReplyTo`) filled in here from the node's own inbox: never from the client. The node holds only
its own agency's conversations, so another agency's is a 404 like one that does not exist; the
item answered is the conversation's latest, or `item_id` when the body names one of its items.

Its text is the advisor's (`text`), or one of the hub team's saved replies (`saved_reply`, with
`values` for its variables), as the node keeps them (services/intake/saved_replies.py): `{auteur}`
defaults to the name the person shows on the network, `{agence}` to the agency's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlite_utils
import structlog
from aiohttp import web

from services.intake.api_types import ReplyIn
from services.intake.handlers import accept, claims_for_agency, idempotency_of
from services.intake.inbox_store import answered_item, find_conversation
from services.intake.keys import DATABASE, SETTINGS
from services.intake.saved_replies import find_saved_reply, saved_reply_ids
from services.intake.settings import Settings
from services.intake.store import agency_pages, page_records
from shared.api_contract import conform
from shared.fitting_policy import FittingPolicy
from shared.http_body import read_json
from shared.ids import new_post_id, utc_now
from shared.post_input import InputError, check_text, check_text_fits
from shared.reply_input import reply_text
from shared.schemas import PostReceived, ReplyTo, Target
from shared.web import json_error

__all__ = ["add_routes"]

log = structlog.get_logger("relais.intake.replies")

# A reply is one part on its network: a text that does not fit is refused, never cut or threaded.
REPLY_FITTING: FittingPolicy = "reject"


async def create_reply(request: web.Request) -> web.Response:
    claims = claims_for_agency(request)
    settings, db = request.app[SETTINGS], request.app[DATABASE]
    body = await read_json(request)  # not JSON, or not an object: 400 (shared/http_body.py)
    conversation_id = request.match_info["conversation"]
    # A resend after a lost answer (a double click) is answered with the reply stored the first time:
    # never two replies to one person. No await from here to the insert (`accept`).
    idempotency, answered = idempotency_of(request, claims.subject, body, scope=f"reply:{conversation_id}")
    if answered is not None:
        return answered
    try:
        conform(body, ReplyIn)
        conversation = find_conversation(db, conversation_id)
        if conversation is None:
            return json_error(404, "not_found", "no such conversation at this agency", "conversation")
        item = _answered(db, conversation_id, body.get("item_id"))
        text = reply_text(
            body,
            lambda reply_id: find_saved_reply(db, reply_id),
            lambda: saved_reply_ids(db),
            _defaults(db, conversation["page"], item),
        )
        text = _checked(text, conversation, settings, db)
    except InputError as exc:
        return json_error(exc.status, exc.code, exc.message, exc.field)
    reply_to = ReplyTo(
        conversation=conversation_id,
        network=conversation["network"],
        page=conversation["page"],
        item_id=item["item_id"],
        root_id=item["root_id"],
        kind=item["kind"],
    )
    post = PostReceived(
        post_id=new_post_id(settings.agency),
        agency=settings.agency,
        occurred_at=utc_now(),
        author=claims.subject,
        text=text,
        targets=[Target(conversation["network"], conversation["page"])],
        policy={conversation["network"]: REPLY_FITTING},
        reply_to=reply_to,
    )
    log.info(
        "inbox.reply_written",
        post_id=post.post_id,
        agency=post.agency,
        conversation=conversation_id,
        item_id=item["item_id"],
        saved_reply=body.get("saved_reply"),
    )
    return accept(request, post, idempotency)


def _answered(db: sqlite_utils.Database, conversation: str, item_id: str | None) -> dict[str, Any]:
    item = answered_item(db, conversation, item_id)
    if item is None and item_id is not None:
        raise InputError(
            422, "unknown_item", f"item {item_id!r} is not one of this conversation's", "item_id"
        )
    if item is None:
        raise InputError(
            422, "nothing_to_answer", "this conversation has no item to answer yet", "conversation"
        )
    return item


def _defaults(db: sqlite_utils.Database, page: str, item: Mapping[str, Any]) -> dict[str, str]:
    """A saved reply's variables the node knows: the person's name (masked like every view of it)
    and the agency's name, as the page registry gives it."""
    record = next((r for r in page_records(db) if r.page == page), None)
    return {"auteur": item["author_name"] or "", "agence": record.agency_name if record else ""}


def _checked(
    text: Any, conversation: Mapping[str, Any], settings: Settings, db: sqlite_utils.Database
) -> str:
    """The reply's text, checked as `POST /v1/posts` checks a post's text, then by the rules of the
    conversation's network as the formatter renders a reply: one part (a text that does not fit is
    `too_long`, naming the limit), no media required. A page that left the agency since is refused
    naming the conversation."""
    checked = check_text(text)
    network, page = conversation["network"], conversation["page"]
    if agency_pages(db).get(page) != network:
        message = f"page {page!r} of this conversation is no longer one of {settings.agency}'s pages"
        raise InputError(403, "page_not_in_agency", message, "conversation")
    check_text_fits(
        checked,
        None,
        [network],
        policy={network: REPLY_FITTING},
        require_alt=settings.require_alt_text,
        options=settings.network_options,
        reply=True,
    )
    return checked


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/inbox/{conversation}/replies", create_reply)
