"""The hub API's bodies as types: what `/v1/openapi.json` documents, what the handlers answer with
(`typed_json`) and hold requests to (`conform`). Campaigns share a post's fields (shared/post_api.py)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from services.hub.policy import MODES
from shared.api_contract import ErrorDetail
from shared.post_api import NOT_BLANK, DeliveryErrorView, DeliveryStatus, PartView, PostStatus, Text

__all__ = [
    "ActionRequested",
    "AgencyList",
    "AlreadyDecidedError",
    "AlreadyRequestedError",
    "ApproveRequest",
    "AuditAnswer",
    "DeadLetterLists",
    "DecisionAnswer",
    "DecisionRecord",
    "HubPostView",
    "PolicyIn",
    "PolicyList",
    "PolicyOut",
    "QueueList",
    "RejectRequest",
    "ScheduleList",
]

MAX_REASON = 1000  # a rejection's reason, as the dashboard's form takes it


class EngagementFigures(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A published delivery's figures at one age after publication (null: the network gives none)."""

    age: str  # one of ENGAGEMENT_AGES: 1h, 24h, 7d
    measured_at: str  # when they were read (UTC)
    likes: int | None
    shares: int | None
    replies: int | None
    views: int | None


class HubDelivery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    network: str
    page: str
    agency: str | None  # the page's agency
    status: DeliveryStatus
    remote_id: str | None
    url: str | None
    error: DeliveryErrorView | None
    parts: list[PartView]
    throttled_until: str | None  # while throttled: when the network's rate limit resets (UTC)
    engagement: list[EngagementFigures] = []  # its figures read back, youngest age first


class HubPostView(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The hub's view of a post, folded from its audit events: the statuses the agency shows."""

    id: str
    agency: str | None  # where it was written (`hub` for a campaign)
    status: PostStatus
    reason: str | None
    deliveries: list[HubDelivery]
    decision: DecisionRecord | None  # once a moderator or the policy decided


class AuditEvent(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: int
    source: str  # `<stream>:<sequence>` for a bus message, `hub:<event>:<id>` for the hub's own
    occurred_at: str
    recorded_at: str | None
    post_id: str | None
    agency: str | None
    event: str
    actor: str | None
    network: str | None
    page: str | None
    detail: dict[str, Any]
    prev_hash: str | None  # the hash chain: `relais audit verify`
    hash: str | None


class AuditAnswer(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A post's events in order (`post_id`), the latest of one kind (`event`), or the latest of all."""

    events: list[AuditEvent]
    post_id: str | msgspec.UnsetType = msgspec.UNSET
    event: str | msgspec.UnsetType = msgspec.UNSET


class AgencyContact(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    agency: str
    last_seen: str | None  # last heartbeat or relayed post
    outbox_pending: int | None  # posts waiting in its outbox, as it last said


class AgencyList(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    agencies: list[AgencyContact]


class ScheduledPost(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    post_id: str
    agency: str
    due_at: str  # UTC


class ScheduleList(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    scheduled: list[ScheduledPost]


class DeadLetter(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    post_id: str
    page: str
    agency: str
    network: str
    status: DeliveryStatus
    attempts: int
    error: DeliveryErrorView | None
    raised_at: str
    resolved_at: str | None
    resolution: str | None
    # The action a person took on it, which stands until the letter is closed or raised again.
    action: Annotated[str, msgspec.Meta(extra_json_schema={"enum": ["retry", "mark_published"]})] | None
    action_by: str | None
    action_at: str | None


class PageAlert(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    page: str
    agency: str
    network: str
    error: DeliveryErrorView
    post_id: str
    raised_at: str


class PageThrottle(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A page its network has throttled for longer than the alert threshold."""

    page: str
    agency: str
    network: str
    since: str
    until: str  # when the network's rate limit resets (UTC)
    error: DeliveryErrorView | None
    post_id: str
    raised_at: str


class DeadLetterLists(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    dead_letters: list[DeadLetter]
    pages_needing_reauth: list[PageAlert]
    pages_throttled: list[PageThrottle]


class ActionRequested(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    post_id: str
    page: str
    action: Annotated[str, msgspec.Meta(extra_json_schema={"enum": ["retry", "mark_published"]})]
    status: Annotated[str, msgspec.Meta(extra_json_schema={"enum": ["requested"]})]


class QueuedVariant(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    network: str
    page: str
    parts: list[str]
    title: str | None  # as the network is sent it (SlideShare, YouTube); None where it takes none
    tags: list[str]


class QueuedPost(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    post_id: str
    agency: str
    region: str | None
    author: str
    queued_at: str
    schedule_at: str | None
    variants: list[QueuedVariant]


class QueueList(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    queue: list[QueuedPost]


class ApproveRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Optional: with `text`, the moderator's edit, rendered again before it goes out."""

    text: Text | msgspec.UnsetType = msgspec.UNSET


class RejectRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Annotated[
        str,
        msgspec.Meta(
            min_length=1, max_length=MAX_REASON, pattern=NOT_BLANK, description="the advisor reads it"
        ),
    ]


DecisionName = Annotated[
    str, msgspec.Meta(extra_json_schema={"enum": ["approved", "edited_and_approved", "rejected"]})
]


class DecisionAnswer(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The decision just taken (a post has one: a second attempt is a 409 naming it)."""

    id: str
    decision: DecisionName
    by: str
    at: str
    revision: int | msgspec.UnsetType = msgspec.UNSET  # the edit's number, when edited


class DecisionRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The one decision about a post: what, by whom, when."""

    post_id: str
    decision: DecisionName
    by: str
    at: str
    reason: str | None
    revision: int


class AlreadyDecidedError(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """409 `already_decided`: the error shape, with the decision that stands."""

    error: ErrorDetail
    decision: DecisionRecord


class ActionRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    post_id: str
    page: str
    decision: Annotated[str, msgspec.Meta(extra_json_schema={"enum": ["retry", "mark_published"]})]
    by: str
    at: str


class AlreadyRequestedError(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """409 `already_decided`: the error shape, with the dead-letter action that stands."""

    error: ErrorDetail
    decision: ActionRecord


Scope = Annotated[
    str,
    msgspec.Meta(
        # Checked by the handler (422 invalid_scope); said here for clients.
        extra_json_schema={
            "anyOf": [
                {"enum": ["default", "replies:default", "shares:default"]},
                {"pattern": r"^(agency|page|replies:agency|shares:agency):[\s\S]"},
            ]
        },
        description="default, agency:<id> or page:<id>; for replies to the inbox, replies:default or"
        " replies:agency:<id>; for advocates' shares of stories, shares:default or shares:agency:<id>",
    ),
]
Mode = Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(MODES)})]  # 422 invalid_mode otherwise


class PolicyIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    scope: Scope
    mode: Mode
    trusted: list[str] = []  # the advisors a `trusted` policy approves without a moderator


class PolicyOut(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    scope: str
    mode: Mode
    trusted: list[str]


class PolicyList(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    policies: list[PolicyOut]
