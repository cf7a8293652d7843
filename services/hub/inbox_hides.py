"""Hiding an item from the public at the hub (issue #15 item 5): the checks, the order, the outcome.

Only the hub decides. An agency node asks (`InboxHideRequested`, its NATS user may publish on its own
subjects only, but the body could name anything) and a moderator asks through the API; either way the
request is checked against the hub's own inbox (`hide_refusal`): the conversation is the agency's, on
the page and network the request names, the item is one of its items, its network hides comments
(`hide_comments`), and it is a comment or a reply on the page (a private message is seen by the
person and the page only: nothing public to hide; a mention sits on someone else's post: not the
page's). A refused request is audited (`inbox.hide_refused`) with the reason.

An accepted one is ordered once: the item's `hidden` state (m018) becomes `requested`, the
`InboxHideOrdered` goes to the hub's outbox and the `inbox.hide_ordered` audit entry is written, all in
one transaction (`order_hide`); the audit consumer reading the order back from the bus finds the same
source and adds nothing. An item already requested, hidden or failed is not ordered again (the
dispatcher keys its hides by item: a second order would change nothing there either). The dispatcher's
`InboxItemHidden` then sets `hidden` or `failed`, with the network's reason (`record_hidden`); the
audit consumer records it as `inbox.hidden`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlite_utils

from services.hub.store import Outgoing, add_to_outbox, append_uncommitted
from shared.ids import utc_now
from shared.inbox_hiding import HIDEABLE_KINDS
from shared.networks import NETWORKS
from shared.schemas import InboxHideOrdered, InboxItemHidden, encode, inbox_subject
from shared.sqlite_writes import write_transaction

__all__ = [
    "HideAsk",
    "Refusal",
    "audit_hide_refused",
    "hide_order_source",
    "hide_refusal",
    "order_hide",
    "record_hidden",
]


@dataclass(frozen=True)
class HideAsk:
    """Who asks to hide which item, as the request says it (checked by `hide_refusal`)."""

    agency: str
    conversation: str
    network: str
    page: str
    item_id: str
    by: str


@dataclass(frozen=True)
class Refusal:
    """Why an item is not hidden: the API's answer (status, code, field) and the audit's reason."""

    status: int
    code: str
    field: str
    reason: str


def hide_order_source(network: str, item_id: str) -> str:
    """The audit source of an order: written with it, so the order read back is not recorded twice."""
    return f"hub:inbox.hide_ordered:{network}:{item_id}"


def hide_refusal(db: sqlite_utils.Database, ask: HideAsk) -> Refusal | None:
    """Why the hub does not order this hide, or None. Raises `LookupError` when the conversation is
    not at the hub (yet)."""
    row = db.execute(
        "select agency, page, network from inbox_conversations where conversation = ?", [ask.conversation]
    ).fetchone()
    if row is None:
        raise LookupError(ask.conversation)
    what = f"conversation {ask.conversation}"
    if row[0] != ask.agency:
        return Refusal(403, "outside_scope", "conversation", f"{what} is not agency {ask.agency}'s")
    if (row[2], row[1]) != (ask.network, ask.page):
        reason = f"{what} is on {row[2]}:{row[1]}, not {ask.network}:{ask.page}"
        return Refusal(422, "wrong_page", "page", reason)
    item = db.execute(
        "select kind, hidden, hide_error from inbox_items"
        " where network = ? and item_id = ? and conversation = ?",
        [ask.network, ask.item_id, ask.conversation],
    ).fetchone()
    if item is None:
        return Refusal(404, "not_found", "item_id", f"item {ask.item_id} is not one of {what}'s")
    network = NETWORKS.get(ask.network)
    if network is None or "hide_comments" not in network.capabilities:
        title = network.title if network is not None else ask.network
        reason = f"Relais cannot hide comments on {title}: hide or delete it on the network itself"
        return Refusal(422, "cannot_hide", "network", reason)
    if item[0] == "message":
        reason = f"item {ask.item_id} is a private message: only the person and the page see it"
        return Refusal(422, "private_message", "item_id", reason)
    if item[0] not in HIDEABLE_KINDS:
        reason = f"item {ask.item_id} is a {item[0]} on someone else's post: only its owner can hide it"
        return Refusal(422, "not_the_pages", "item_id", reason)
    if item[1] == "failed":
        said = json.loads(item[2] or "{}").get("message") or "no reason given"
        reason = f"hiding item {ask.item_id} failed ({said}): hide it on the network itself"
        return Refusal(409, "hide_failed", "item_id", reason)
    if item[1] is not None:
        return Refusal(409, "already_hidden", "item_id", f"item {ask.item_id} is already {item[1]}")
    return None


def order_hide(db: sqlite_utils.Database, ask: HideAsk, *, origin: str) -> bool:
    """Order the hide, with its audit entry and its message in the outbox, in one transaction; False,
    with nothing changed, when the item was ordered already. `origin`: `node` or `hub`."""
    order = InboxHideOrdered(
        post_id="",
        agency=ask.agency,
        occurred_at=utc_now(),
        conversation=ask.conversation,
        network=ask.network,
        page=ask.page,
        item_id=ask.item_id,
        by=ask.by,
    )
    subject = inbox_subject(ask.agency, ask.conversation, "hide")
    message = Outgoing(subject, f"hide-order:{ask.network}:{ask.item_id}", encode(order))
    with write_transaction(db):
        post_id = db.execute(
            "select post_id from inbox_items where network = ? and item_id = ?", [ask.network, ask.item_id]
        ).fetchone()
        claimed = db.execute(
            "update inbox_items set hidden = 'requested', hide_by = ?, hide_updated_at = ?"
            " where network = ? and item_id = ? and conversation = ? and hidden is null",
            [ask.by, order.occurred_at, ask.network, ask.item_id, ask.conversation],
        ).rowcount
        if not claimed:
            return False
        add_to_outbox(db, "", ask.agency, message)
        append_uncommitted(
            db,
            source=hide_order_source(ask.network, ask.item_id),
            occurred_at=order.occurred_at,
            post_id=(post_id[0] if post_id else "") or "",
            agency=ask.agency,
            event="inbox.hide_ordered",
            actor=ask.by,
            network=ask.network,
            page=ask.page,
            detail={"conversation": ask.conversation, "item_id": ask.item_id, "origin": origin},
        )
    return True


def audit_hide_refused(db: sqlite_utils.Database, source: str, ask: HideAsk, reason: str) -> bool:
    """The refusal in the audit, once per `source` (a redelivered request is not refused twice)."""
    with write_transaction(db):
        return append_uncommitted(
            db,
            source=source,
            occurred_at=utc_now(),
            post_id="",
            agency=ask.agency,
            event="inbox.hide_refused",
            actor=ask.by,
            network=ask.network,
            page=ask.page,
            detail={"conversation": ask.conversation, "item_id": ask.item_id, "reason": reason},
        )


def record_hidden(db: sqlite_utils.Database, hidden: InboxItemHidden) -> bool:
    """The dispatcher's outcome on the item; False when it is already recorded (or no such item)."""
    error = None
    if hidden.error is not None:
        error = json.dumps({"message": hidden.error.message, "network_code": hidden.error.network_code})
    with write_transaction(db):
        changed = db.execute(
            "update inbox_items set hidden = ?, hide_error = ?, hide_updated_at = ?"
            " where network = ? and item_id = ? and conversation = ? and hidden is not ?",
            [
                hidden.outcome,
                error,
                utc_now(),
                hidden.network,
                hidden.item_id,
                hidden.conversation,
                hidden.outcome,
            ],
        ).rowcount
    return bool(changed)
