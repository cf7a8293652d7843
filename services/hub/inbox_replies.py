"""Answering from the hub (issue #15 item 4): `POST /v1/inbox/{conversation}/replies` (a token), and
the same from the dashboard's conversation page (`inbox_page.py`, the session and its CSRF token).

A reply written at the hub is a post of the conversation's agency (its id `<agency>-<ULID>`, as the
federation's forgery check wants), its author the moderator, to exactly the conversation's page as
one part (`reject`: never cut, never threaded), with what it answers (`ReplyTo`) filled in from the
hub's own inbox, never from the client. It is published on the agency's `posts` subject and then
goes the way of a node's reply: federation, formatter, the hub's reply check (`reply_refusal`) and
`remember_reply`, its policy, the dispatcher; its published delivery resolves the conversation.
The agency's node is told of it (`PostAnnounced`, with its `reply_to`), so that its advisors see
the reply and its delivery, and its own copy of the conversation is resolved when it is published.

Who: admins and moderators (ops read only); a regional moderator within her region
(services/hub/scope.py): a conversation outside it is refused 403 `outside_scope`, audited, while
one the hub does not have is a 404. The text is the moderator's (`text`) or a saved reply of the
hub's catalogue with `values` for its variables (`{agence}` defaults to the page registry's agency
name; the hub keeps no author name, so `{auteur}` is given). Written replies are audited
(`inbox.reply_written`).

Idempotent with an `Idempotency-Key` header (a double click, a resend after a lost answer, a form
sent again hours later): the resend is answered with the first reply's id, and the same key with
another reply is a 422 `idempotency_key_reused`. The hub keeps each key, as a node keeps its own
(services/hub/request_keys.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec
import nats.errors
import sqlite_utils
import structlog
from aiohttp import web

from services.hub.inbox_store import conversations
from services.hub.keys import DATABASE, LINK, MIRROR, NETWORK_OPTIONS, PUBLIC_KEY
from services.hub.request_keys import keyed, publish
from services.hub.scope import in_scope
from services.hub.store import append_uncommitted
from shared import bus
from shared.access import note_refusal
from shared.api_contract import Answer, Operation, Parameter, conform
from shared.fitting_policy import FittingPolicy
from shared.http_body import read_json
from shared.idempotency import IDEMPOTENCY_KEY, INVALID_KEY, KeyHeader, valid_key
from shared.ids import new_post_id, utc_now
from shared.post_api import Accepted
from shared.post_input import InputError, check_text, check_text_fits
from shared.reply_input import reply_text
from shared.saved_replies import SavedReply, parse
from shared.schemas import (
    PostAnnounced,
    PostReceived,
    ReplyTo,
    Target,
    conversation_key,
    decisions_subject,
)
from shared.sqlite_writes import write_transaction
from shared.tokens import Claims
from shared.web import bearer_claims, json_error

__all__ = ["OPERATIONS", "REPLIERS", "REPLY_FITTING", "HubReplyIn", "add_routes", "text_of", "write_reply"]

log = structlog.get_logger("relais.hub.inbox_replies")

REPLIERS = ("admin", "moderator")
REPLY_FITTING: FittingPolicy = "reject"  # one part on its network, as a node's reply


class HubReplyIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`POST /v1/inbox/{conversation}/replies` at the hub: the moderator's `text`, or a `saved_reply`
    with the `values` of its variables; `item_id` the item answered (else the latest)."""

    text: Annotated[str, msgspec.Meta(max_length=10_000)] | msgspec.UnsetType = msgspec.UNSET
    saved_reply: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    values: (
        Annotated[
            dict[Annotated[str, msgspec.Meta(max_length=50)], Annotated[str, msgspec.Meta(max_length=2000)]],
            msgspec.Meta(max_length=20),
        ]
        | msgspec.UnsetType
    ) = msgspec.UNSET
    item_id: Annotated[str, msgspec.Meta(min_length=1, max_length=500)] | msgspec.UnsetType = msgspec.UNSET


OPERATIONS = [
    Operation(
        "POST",
        "/v1/inbox/{conversation}/replies",
        "Reply to a conversation from the hub (admin, moderator in her region): a post of the"
        " conversation's agency, by the moderator, to its page; resolved when published",
        {
            202: Answer("accepted: the reply's post id", Accepted),
            400: Answer(
                "malformed body: invalid_json, invalid_body, missing_field, unknown_field, invalid_type,"
                " conflicting_fields, invalid_idempotency_key"
            ),
            403: Answer("forbidden (this role), outside_scope (another region's), page_not_in_agency"),
            404: Answer("no such conversation"),
            422: Answer(
                "too_long, empty, unknown_item, nothing_to_answer, unknown_saved_reply, missing_value,"
                " cannot_answer, idempotency_key_reused"
            ),
            503: Answer("bus_unavailable: nothing was sent"),
        },
        body=HubReplyIn,
        path_params={"conversation": Annotated[str, msgspec.Meta(min_length=1)]},
        parameters=(
            Parameter(
                IDEMPOTENCY_KEY,
                KeyHeader,
                "a key of the client's for this reply (a UUID): a resend with the same key and reply,"
                " however late, returns the first reply's id instead of a second reply",
                location="header",
            ),
        ),
    ),
]


async def create_reply(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], REPLIERS)
    body = await read_json(request)  # not JSON, or not an object: 400 (shared/http_body.py)
    return await write_reply(
        request, claims, request.match_info["conversation"], body, request.headers.get(IDEMPOTENCY_KEY)
    )


async def write_reply(
    request: web.Request, claims: Claims, conversation_id: str, body: Any, key: str | None
) -> web.Response:
    """Check, publish and audit one reply; the API's answer (the dashboard's form shows it)."""
    db = request.app[DATABASE]
    if key is not None and not valid_key(key):
        return json_error(400, "invalid_idempotency_key", INVALID_KEY, IDEMPOTENCY_KEY)
    row = next(iter(conversations(db, conversation_id)), None)
    if row is None:
        return json_error(404, "not_found", "the hub has no such conversation", "conversation")
    agency, network, page = row["agency"], row["network"], row["page"]
    if not in_scope(request, claims, agency):
        note_refusal(request, "reply outside the moderator's region", claims=claims, agency=agency)
        message = f"conversation {conversation_id} is outside region {claims.region}"
        return json_error(403, "outside_scope", message, "conversation")
    try:
        conform(body, HubReplyIn)
        item = _answered(db, conversation_id, body.get("item_id"))
        root_id = _root_of(db, network, conversation_id)
        record = next((r for r in request.app[MIRROR].records() if r.page == page), None)
        if record is None or record.agency != agency or record.network != network:
            message = f"page {page!r} of this conversation is no longer one of {agency}'s pages"
            raise InputError(403, "page_not_in_agency", message, "conversation")
        text = text_of(body, db, {"agence": record.agency_name})
        text = check_text(text)
        check_text_fits(
            text,
            None,
            [network],
            policy={network: REPLY_FITTING},
            options=request.app[NETWORK_OPTIONS],
            reply=True,
        )
    except InputError as exc:
        return json_error(exc.status, exc.code, exc.message, exc.field)
    reply_to = ReplyTo(
        conversation=conversation_id,
        network=network,
        page=page,
        item_id=item["item_id"],
        root_id=root_id,
        kind=item["kind"],
    )
    link = request.app[LINK]
    if link.nc is None or not link.connected:
        return json_error(503, "bus_unavailable", "the hub's bus is not reachable; nothing was sent", None)
    post = PostReceived(
        post_id=new_post_id(agency),
        agency=agency,
        occurred_at=utc_now(),
        author=claims.subject,
        text=text,
        targets=[Target(network, page)],
        policy={network: REPLY_FITTING},
        reply_to=reply_to,
    )

    def audited(db: sqlite_utils.Database, written: PostReceived) -> None:
        _audit_written(db, written, claims.subject, conversation_id, body.get("saved_reply"))

    reply = keyed(db, post, key, "reply", body, conversation_id, recorded=audited)
    if (settled := reply.settled()) is not None:
        return settled
    post = reply.post
    js = link.nc.jetstream()
    try:
        fresh = await publish(js, db, reply, then=lambda: _announce(js, post))
    except (nats.errors.Error, TimeoutError) as exc:
        log.error("inbox.reply_unsent", agency=agency, conversation=conversation_id, error=repr(exc))
        return json_error(503, "bus_unavailable", "the hub's bus did not take the reply; try again", None)
    if key is None:  # nothing was stored before the bus took it: audited now
        with write_transaction(db):
            audited(db, post)
    if fresh:
        log.info(
            "inbox.reply_written",
            post_id=post.post_id,
            agency=agency,
            conversation=conversation_id,
            item_id=post.reply_to.item_id if post.reply_to is not None else None,
            saved_reply=body.get("saved_reply"),
            by=claims.subject,
        )
    return reply.answer()


def _audit_written(
    db: sqlite_utils.Database, post: PostReceived, by: str, conversation: str, saved_reply: Any
) -> None:
    """The reply's `inbox.reply_written` entry, uncommitted: with a key, in the transaction that
    stores the reply under it (before it is published); without one, once the bus has it. One per
    reply (its source is the post's id), however often a resend gets here."""
    target = post.targets[0]
    append_uncommitted(
        db,
        source=f"hub:inbox.reply_written:{post.post_id}",
        occurred_at=post.occurred_at,
        post_id=post.post_id,
        agency=post.agency,
        event="inbox.reply_written",
        actor=by,
        network=target.network,
        page=target.page,
        detail={
            "conversation": conversation,
            "item_id": post.reply_to.item_id if post.reply_to is not None else None,
            "saved_reply": saved_reply,
            "written_at": "hub",
        },
    )


async def _announce(js: Any, post: PostReceived) -> None:
    """Tell the agency's node of the reply (its follower stores it and follows its delivery)."""
    announced = PostAnnounced(
        post_id=post.post_id,
        agency=post.agency,
        occurred_at=post.occurred_at,
        origin_agency=post.agency,
        author=post.author,
        text=post.text,
        targets=post.targets,
        reply_to=post.reply_to,
    )
    subject = decisions_subject(post.agency, post.post_id, "announced")
    await bus.publish(js, subject, announced, f"{post.post_id}.announced.{post.agency}")


def _answered(db: sqlite_utils.Database, conversation: str, item_id: Any) -> dict[str, Any]:
    """The item a reply answers: `item_id` when it is one of the conversation's, else its latest."""
    where, values = ("and item_id = ?", [item_id]) if item_id is not None else ("", [])
    found = db.execute(
        f"select item_id, kind from inbox_items where conversation = ? {where}"
        " order by created_at desc, rowid desc limit 1",
        [conversation, *values],
    ).fetchone()
    if found is None and item_id is not None:
        message = f"item {item_id!r} is not one of this conversation's"
        raise InputError(422, "unknown_item", message, "item_id")
    if found is None:
        message = "this conversation has no item to answer yet"
        raise InputError(422, "nothing_to_answer", message, "conversation")
    return {"item_id": found[0], "kind": found[1]}


def _root_of(db: sqlite_utils.Database, network: str, conversation: str) -> str:
    """The thread's first item, which the network replies under: the hub keeps the conversation's id
    (a digest of it), so it is the item or parent id among the conversation's that gives this id."""
    rows = db.execute(
        "select item_id, parent_id from inbox_items where conversation = ? order by created_at, rowid",
        [conversation],
    )
    for candidate in (value for row in rows for value in row if value):
        if conversation_key(network, candidate) == conversation:
            return str(candidate)
    message = "the hub does not know this conversation's first item; answer it at the agency"
    raise InputError(422, "cannot_answer", message, None)


def _saved_reply(db: sqlite_utils.Database, reply_id: str) -> SavedReply | None:
    row = db.execute("select language, title, body from saved_replies where id = ?", [reply_id]).fetchone()
    return parse(reply_id, row[0], row[1], row[2]) if row else None


def text_of(body: Mapping[str, Any], db: sqlite_utils.Database, defaults: Mapping[str, str]) -> Any:
    """The reply's text: the moderator's, or a saved reply of the hub's catalogue filled in."""
    return reply_text(
        body,
        lambda reply_id: _saved_reply(db, reply_id),
        lambda: [row[0] for row in db.execute("select id from saved_replies order by id")],
        defaults,
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/inbox/{conversation}/replies", create_reply)
