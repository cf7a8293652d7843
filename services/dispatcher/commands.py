"""A person's decision about a dead letter, applied to the ledger.

`retry`: the delivery goes back to the queue with a clean slate. If its page needed reconnecting,
the person's retry says it was reconnected: the page's state is cleared, credentials are read
again, and every delivery held on that page is released too. Where the last call's outcome was
unknown and the network can show it (`attempt.reconcilable`), the retry still reconciles first;
elsewhere (Telegram, a private answer on Messenger) the person has checked, so it publishes.

`mark_published`: the person saw the post on the page.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog

from services.dispatcher.outbox import delivery_update
from services.dispatcher.store import Change, DeliveryRow, Ledger
from shared.schemas import DeliveryActionRequested

__all__ = ["apply_command"]

log = structlog.get_logger("relais.dispatcher.commands")


def apply_command(
    ledger: Ledger,
    command: DeliveryActionRequested,
    key: str,
    *,
    busy: bool,
    can_read_back: Callable[[DeliveryRow], bool],
    reconnect: Callable[[], None],
) -> bool:
    """Apply `command` to the delivery `key`; False when there was nothing to do."""
    clog = log.bind(post_id=command.post_id, agency=command.agency, page=command.page, action=command.action)
    row = ledger.get(key)
    if row is None or row.status == "publishing" or busy:
        clog.warning("delivery.command_ignored", reason="in progress" if row else "unknown delivery")
        return False
    if command.action == "mark_published":
        fields: dict[str, Any] = {"dead": False, "due_at": None, "error": None, "maybe_sent": False}
        fields["status"] = "published"
        announce = delivery_update(
            row, "published", remote_id=row.remote_id, url=row.url, part_ids=row.part_ids
        )
        ledger.apply([Change(key, fields, announce)])
    elif command.action == "retry":
        if ledger.page_state(row.page) is not None:
            _reconnected(ledger, row, command.requested_by, reconnect)
        fields = {"dead": False, "failures": 0, "due_at": time.time(), "status": "pending"}
        if row.maybe_sent and can_read_back(row):
            fields["status"] = "unconfirmed"
        else:
            fields["maybe_sent"] = False
        ledger.apply([Change(key, fields)])
    else:
        clog.warning("delivery.command_ignored", reason="unknown action")
        return False
    clog.info("delivery.command_applied", by=command.requested_by)
    return True


def _reconnected(ledger: Ledger, row: DeliveryRow, by: str, reconnect: Callable[[], None]) -> None:
    ledger.clear_page_state(row.page)
    reconnect()
    held = [
        Change(r.key, {"dead": False, "failures": 0, "due_at": time.time(), "status": "pending"})
        for r in ledger.held_on_page(row.page)
        if r.key != row.key
    ]
    ledger.apply(held)
    log.info(
        "page.reconnected", post_id=row.post_id, agency=row.agency, page=row.page, by=by, released=len(held)
    )
