"""Asking to hide an item from the public, at the node (issue #15 item 5), offline first.

`POST /v1/inbox/{conversation}/items/{item_id}/hide` (the agency's advisors and admins, inbox_api.py;
`request_hide` here) checks what the node knows, as the hub will again: the conversation and the item
are the agency's (another's is a 404 like one that does not exist), the network hides comments
(`hide_comments`: Facebook, Instagram, YouTube; else 422 `cannot_hide` naming `network`), the item is
a comment or a reply on the page (a private message 422 `private_message`, a mention 422
`not_the_pages`), and it was not asked for already (409). It then writes the `InboxHideRequested` and
the item's `hidden` = `requested` in one durable transaction and answers 202: the relay sends the
request when the link is up (`relay_hide_requests`, with the node's other outbox messages).

Sent once: each request is marked relayed once the stream holds it (`Nats-Msg-Id`
`hide-request:<agency>:<network>:<item_id>`). A resend after a crash between the stream's
acknowledgement and the mark is dropped by that id within the stream's window, and beyond it the hub
takes a second request for an item it already ordered as the same request (nothing more is ordered).

The item's state then follows what the node's INBOX consumer hears: the hub's order (`requested`, also
when a moderator asked at the hub) and the dispatcher's outcome (`hidden`, or `failed` with the reason).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import nats.errors
import nats.js.errors
import sqlite_utils
import structlog
from nats.aio.client import Client as NATS

from shared.ids import utc_now
from shared.inbox_hiding import HIDEABLE_KINDS
from shared.networks import NETWORKS
from shared.schemas import (
    InboxHideOrdered,
    InboxHideRequested,
    InboxItemHidden,
    decode,
    encode,
    inbox_subject,
)

__all__ = ["Refused", "record_hide_ordered", "record_hide_outcome", "relay_hide_requests", "request_hide"]

log = structlog.get_logger("relais.intake.inbox")


@dataclass(frozen=True)
class Refused:
    """Why the node does not ask: the API's answer in the error shape."""

    status: int
    code: str
    message: str
    field: str


def request_hide(
    db: sqlite_utils.Database, agency: str, conversation: str, item_id: str, by: str
) -> InboxHideRequested | Refused:
    """Check and write the request (see the module); the request written, or why not."""
    found = db.execute(
        "select network, page, post_id from conversations where id = ?", [conversation]
    ).fetchone()
    if found is None:
        return Refused(404, "not_found", "no such conversation at this agency", "conversation")
    network, page, post_id = found
    item = db.execute(
        "select kind, hidden, hide_error from inbox_items"
        " where network = ? and item_id = ? and conversation = ?",
        [network, item_id, conversation],
    ).fetchone()
    if item is None:
        return Refused(404, "not_found", f"item {item_id} is not one of this conversation's", "item_id")
    entry = NETWORKS.get(network)
    if entry is None or "hide_comments" not in entry.capabilities:
        title = entry.title if entry is not None else network
        message = f"Relais cannot hide comments on {title}: hide or delete it on the network itself"
        return Refused(422, "cannot_hide", message, "network")
    if item[0] == "message":
        message = "a private message: only the person and the page see it, there is nothing public to hide"
        return Refused(422, "private_message", message, "item_id")
    if item[0] not in HIDEABLE_KINDS:
        message = f"a {item[0]} on someone else's post: only its owner can hide it"
        return Refused(422, "not_the_pages", message, "item_id")
    if item[1] == "failed":
        said = json.loads(item[2] or "{}").get("message") or "no reason given"
        return Refused(
            409, "hide_failed", f"hiding it failed ({said}): hide it on the network itself", "item_id"
        )
    if item[1] is not None:
        return Refused(409, "already_hidden", f"this item is already {item[1]}", "item_id")
    event = InboxHideRequested(
        post_id=post_id,
        agency=agency,
        occurred_at=utc_now(),
        conversation=conversation,
        network=network,
        page=page,
        item_id=item_id,
        by=by,
    )
    with db.atomic():  # the request and the item's state, durable before the answer
        db.execute(
            "update inbox_items set hidden = 'requested' where network = ? and item_id = ?",
            [network, item_id],
        )
        row = {
            "network": network,
            "item_id": item_id,
            "event": encode(event).decode(),
            "created_at": event.occurred_at,
        }
        db.table("hide_requests").insert(row, replace=True)
    return event


async def relay_hide_requests(nc: NATS, db: sqlite_utils.Database) -> int:
    """Send every unrelayed request, oldest first; stops at the first failure. Returns how many."""
    js = nc.jetstream()
    sent = 0
    rows = db.execute(
        "select network, item_id, event from hide_requests where relayed_at is null"
        " order by created_at limit 100"
    ).fetchall()
    for network, item_id, data in rows:
        event = decode(data.encode(), InboxHideRequested)
        hlog = log.bind(post_id=event.post_id, agency=event.agency, conversation=event.conversation)
        subject = inbox_subject(event.agency, event.conversation, "hide_requested")
        headers = {"Nats-Msg-Id": f"hide-request:{event.agency}:{network}:{item_id}"}
        try:
            await js.publish(subject, data.encode(), headers=headers, timeout=5)
        except (nats.errors.Error, nats.js.errors.Error, OSError, TimeoutError) as exc:
            hlog.warning("inbox.hide_relay_failed", item_id=item_id, error=repr(exc))
            return sent
        with db.atomic():
            db.execute(
                "update hide_requests set relayed_at = ? where network = ? and item_id = ?",
                [utc_now(), network, item_id],
            )
        hlog.info("inbox.hide_relayed", item_id=item_id)
        sent += 1
    return sent


def record_hide_ordered(db: sqlite_utils.Database, order: InboxHideOrdered) -> bool:
    """The hub ordered it (asked here, or by a moderator at the hub): `requested` unless known further."""
    with db.atomic():
        return bool(
            db.execute(
                "update inbox_items set hidden = 'requested' where network = ? and item_id = ?"
                " and conversation = ? and hidden is null",
                [order.network, order.item_id, order.conversation],
            ).rowcount
        )


def record_hide_outcome(db: sqlite_utils.Database, hidden: InboxItemHidden) -> bool:
    """The dispatcher's outcome: `hidden`, or `failed` with the reason."""
    error = None
    if hidden.error is not None:
        error = json.dumps({"message": hidden.error.message, "network_code": hidden.error.network_code})
    with db.atomic():
        return bool(
            db.execute(
                "update inbox_items set hidden = ?, hide_error = ? where network = ? and item_id = ?"
                " and conversation = ? and hidden is not ?",
                [hidden.outcome, error, hidden.network, hidden.item_id, hidden.conversation, hidden.outcome],
            ).rowcount
        )
