"""The hub's view of a post, folded from its audit events: the same statuses the agency shows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shared.statuses import (
    DELIVERY_RANK,
    DELIVERY_TERMINAL,
    POST_RANK,
    POST_TERMINAL,
    advances,
    post_status_from_deliveries,
)

_POST_STEPS = {
    "received": "awaiting_approval",
    "scheduled": "scheduled",
    "approved": "publishing",
    "invalid": "invalid",
    "rejected": "rejected",
}


def post_view(post_id: str, events: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    status: str | None = None
    reason: str | None = None
    agency: str | None = None
    deliveries: dict[str, dict[str, Any]] = {}

    def advance(new: str) -> None:
        nonlocal status
        if status is None or advances(status, new, POST_RANK, POST_TERMINAL):
            status = new

    for event in events:
        name, detail = event["event"], event["detail"]
        if name == "received":
            agency = event["agency"]
        if name == "announced":
            continue  # the same post, told to another agency
        if name in _POST_STEPS:
            advance(_POST_STEPS[name])
            reason = detail.get("reason") or ("; ".join(detail.get("reasons", [])) or reason)
            if name in ("rejected", "invalid"):  # what was never sent is rejected, as the agency shows it
                for delivery in deliveries.values():
                    _move(delivery, "rejected", {})
        elif name == "targeted":
            for network, page, page_agency in detail["pages"]:
                deliveries.setdefault(page, _delivery(network, page, page_agency))
        elif name == "expired":
            reason = detail["reason"]
            for page in detail["pages"]:
                _move(deliveries.get(page), "expired", {})
        elif name.startswith("delivery."):
            delivery = deliveries.setdefault(
                event["page"], _delivery(event["network"], event["page"], agency)
            )
            _move(delivery, name.removeprefix("delivery."), detail)
    if status is None:
        return None
    # Once, at the end: the deliveries' outcome overrides the steps (a campaign has thousands of events).
    derived = post_status_from_deliveries(d["status"] for d in deliveries.values())
    refused = status in ("invalid", "rejected")  # its deliveries were never attempted
    if (
        derived
        and not refused
        and (derived in POST_TERMINAL or advances(status, derived, POST_RANK, POST_TERMINAL))
    ):
        status = derived
    return {
        "id": post_id,
        "agency": agency,
        "status": status,
        "reason": reason,
        "deliveries": sorted(deliveries.values(), key=lambda d: (d["network"], d["page"])),
    }


def _delivery(network: str, page: str, agency: str | None) -> dict[str, Any]:
    return {
        "network": network,
        "page": page,
        "agency": agency,
        "status": "pending",
        "remote_id": None,
        "url": None,
        "error": None,
        "parts": [],
        "throttled_until": None,
    }


def _move(delivery: dict[str, Any] | None, status: str, detail: dict[str, Any]) -> None:
    if delivery is None or not advances(delivery["status"], status, DELIVERY_RANK, DELIVERY_TERMINAL):
        return
    delivery.update(
        status=status,
        remote_id=detail.get("remote_id"),
        url=detail.get("url"),
        error=detail.get("error"),
        parts=detail.get("parts", []),
        throttled_until=detail.get("throttled_until") if status == "throttled" else None,
    )
