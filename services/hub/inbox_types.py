"""The hub inbox API's bodies as types (`GET /v1/inbox`, `GET /v1/inbox/{conversation}`): what the
OpenAPI document describes and what the handlers answer with (`typed_json`)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from shared.inbox_hiding import HiddenState, HideError

__all__ = ["ConversationView", "InboxItemView", "InboxList", "LastItem"]

Status = Annotated[str, msgspec.Meta(extra_json_schema={"enum": ["new", "pending", "resolved"]})]
Level = Literal["region", "hub"]


class LastItem(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    kind: str  # comment, reply, mention, message
    text: str  # personal identifiers masked (⟦phone⟧, ⟦nir⟧…)
    created_at: str  # UTC, as the network dated it


class ConversationSummary(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    conversation: str
    # new: in the agency's shared queue; pending: given to an advisor; resolved: a reply was published
    # (new or pending again when the person writes after it)
    status: Status
    agency: str
    region: str | None  # as the page registry has the agency
    page: str
    network: str
    calendar: str  # the business calendar running its clock
    assignee: str | None
    first_item_at: str  # UTC
    waiting: bool  # an item waits for a response: the clock runs
    deadline: str | None  # the running clock's, in the calendar's zone (YYYY-MM-DDTHH:MM:SS±HH:MM)
    escalation_level: Level | None  # the last level the running clock reached
    last_item: LastItem | None


class InboxList(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The caller's conversations (a regional moderator's region only), the most urgent first."""

    conversations: list[ConversationSummary]


class InboxItemView(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    network: str
    item_id: str
    kind: str
    parent_id: str | None
    text: str  # masked
    masked: list[str]  # the kinds of identifiers masked in it
    created_at: str  # UTC
    via: str  # poll or webhook
    # Hidden from the public on the network (#15 item 5): null until asked; `requested` once the hub
    # ordered it, then `hidden`, or `failed` with `hide_error`.
    hidden: HiddenState | None = None
    hide_error: HideError | None = None


class ConversationView(ConversationSummary, frozen=True, forbid_unknown_fields=True):
    items: list[InboxItemView]  # in the order the network dated them
