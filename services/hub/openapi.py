"""The hub's OpenAPI 3.1 document, generated from its types (services/hub/api_types.py,
shared/post_api.py) and served at `GET /v1/openapi.json`: the API (bearer tokens) and the
dashboard's pages and forms (the session cookie), each route with every answer it can give.

tests/test_openapi.py checks it against the router; tests/test_schemathesis.py against the answers.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from services.hub.advocacy import OPERATIONS as ADVOCACY_OPERATIONS
from services.hub.advocacy_report_api import OPERATIONS as ADVOCACY_REPORT_OPERATIONS
from services.hub.api_types import (
    ActionRequested,
    AgencyList,
    AlreadyDecidedError,
    AlreadyRequestedError,
    ApproveRequest,
    AuditAnswer,
    DeadLetterLists,
    DecisionAnswer,
    HubPostView,
    PolicyIn,
    PolicyList,
    PolicyOut,
    QueueList,
    RejectRequest,
    ScheduleList,
)
from services.hub.dashboard import TITLES
from services.hub.inbox_replies import OPERATIONS as INBOX_REPLY_OPERATIONS
from services.hub.inbox_report_api import OPERATIONS as INBOX_REPORT_OPERATIONS
from services.hub.inbox_types import ConversationView, InboxList
from services.hub.oauth_callback import OPERATIONS as OAUTH_CALLBACK_OPERATIONS
from services.hub.saved_replies import OPERATIONS as SAVED_REPLY_OPERATIONS
from services.hub.webhooks import OPERATIONS as WEBHOOK_OPERATIONS
from shared.api_contract import Answer, Operation, Parameter, health_operations, openapi_document
from shared.favicon import FAVICON_OPERATION
from shared.idempotency import IDEMPOTENCY_KEY, KeyHeader
from shared.inbox_hiding import HideAccepted
from shared.metrics import METRICS_OPERATION
from shared.post_api import Accepted, CampaignRequest
from shared.web_login import sign_in_operations

__all__ = ["HUB_OPENAPI", "OPERATIONS"]

_API, _DASHBOARD = ("api",), ("dashboard",)
_BAD_JSON = Answer("malformed body: invalid_json, invalid_body, missing_field, unknown_field, invalid_type")
_ROLE = Answer("forbidden: this role may not do this")
_BUS = Answer("the hub's bus is unreachable; nothing was done (bus_unavailable): try again")
_HTML = "text/html"
_DECIDED = Answer("already_decided: the post has a decision, named under decision", AlreadyDecidedError)
_TO_LOGIN = Answer("not signed in (a browser): to the sign-in page", headers={"Location": "/login"})
_PAGE_MONTH = Parameter("month", str, "YYYY-MM (default, or one it cannot read: the current month)")
_FORM = {"type": "object", "properties": {"csrf": {"type": "string"}}, "required": ["csrf"]}
_REJECT_FORM = {
    "type": "object",
    "properties": {"csrf": {"type": "string"}, "reason": {"type": "string"}, "text": {"type": "string"}},
    "required": ["csrf"],
}
PostId = Annotated[str, msgspec.Meta(min_length=1)]
Action = Annotated[str, msgspec.Meta(extra_json_schema={"enum": ["retry", "mark-published"]})]
Decide = Annotated[str, msgspec.Meta(extra_json_schema={"enum": ["approve", "reject"]})]
Section = Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(TITLES)})]
Filename = Annotated[
    str, msgspec.Meta(extra_json_schema={"enum": ["dashboard.css", "dashboard.js", "reply.js"]})
]

OPERATIONS: list[Operation] = [
    # The API: bearer tokens (admin writes; moderators and ops read; a regional moderator within her region).
    Operation(
        "POST",
        "/v1/posts",
        "A campaign to the pages its selectors reach: 202 once JetStream has stored it (admin, moderator)",
        {
            202: Answer("stored; it goes through the formatter, then moderation", Accepted),
            400: Answer(f"{_BAD_JSON.description}, invalid_idempotency_key"),
            403: Answer("forbidden, or selector_outside_region (a regional moderator's selector)"),
            422: Answer(
                "breaks a rule: the code names it (invalid_selector, too_long, unknown_variable…),"
                " or idempotency_key_reused"
            ),
            503: _BUS,
        },
        body=CampaignRequest,
        parameters=(
            Parameter(
                IDEMPOTENCY_KEY,
                KeyHeader,
                "a key of the client's for this campaign (a UUID): a resend with the same key and body,"
                " however late, returns the first campaign's id instead of a second campaign",
                location="header",
            ),
        ),
        tags=_API,
    ),
    Operation(
        "GET",
        "/v1/posts/{post_id}",
        "The hub's view of a post: status, reason and every delivery",
        {
            200: Answer("the post", HubPostView),
            403: _ROLE,
            404: Answer("no such post (or outside your region)"),
        },
        path_params={"post_id": PostId},
        tags=_API,
    ),
    Operation(
        "GET",
        "/v1/audit",
        "Audit events: a post's, in order; the latest of one kind; or the latest of all (admin, ops)",
        {200: Answer("events", AuditAnswer), 403: _ROLE},
        parameters=(
            Parameter("post_id", PostId, "a post's events, in order"),
            Parameter("event", Annotated[str, msgspec.Meta(min_length=1)], "the latest events of this kind"),
        ),
        tags=_API,
    ),
    Operation(
        "GET",
        "/v1/agencies",
        "Each agency's last contact and outbox backlog",
        {200: Answer("agencies", AgencyList), 403: _ROLE},
        tags=_API,
    ),
    Operation(
        "GET",
        "/v1/schedule",
        "Approved posts waiting for their time",
        {200: Answer("by due time", ScheduleList), 403: _ROLE},
        tags=_API,
    ),
    Operation(
        "GET",
        "/v1/moderation/queue",
        "Posts waiting for a moderator",
        {200: Answer("the queue", QueueList), 403: _ROLE},
        tags=_API,
    ),
    Operation(
        "POST",
        "/v1/moderation/{post_id}/approve",
        "Approve a queued post; with a text, edit it first (moderator, admin)",
        {
            200: Answer("decided", DecisionAnswer),
            400: _BAD_JSON,
            403: Answer("forbidden, or outside_scope (another region's post)"),
            404: Answer("not_queued: the post is not waiting for a moderator"),
            409: _DECIDED,
            422: Answer("the edited text breaks a rule"),
            503: _BUS,
        },
        body=ApproveRequest,
        body_required=False,
        path_params={"post_id": PostId},
        tags=_API,
    ),
    Operation(
        "POST",
        "/v1/moderation/{post_id}/reject",
        "Reject a queued post with a reason the advisor reads (moderator, admin)",
        {
            200: Answer("decided", DecisionAnswer),
            400: _BAD_JSON,
            403: Answer("forbidden, or outside_scope (another region's post)"),
            404: Answer("not_queued: the post is not waiting for a moderator"),
            409: _DECIDED,
            422: Answer("the reason is too long"),
            503: _BUS,
        },
        body=RejectRequest,
        path_params={"post_id": PostId},
        tags=_API,
    ),
    Operation(
        "GET",
        "/v1/dead-letters",
        "Deliveries the dispatcher gave up on, and pages to reconnect",
        {200: Answer("open dead letters and page alerts", DeadLetterLists), 403: _ROLE},
        tags=_API,
    ),
    Operation(
        "POST",
        "/v1/dead-letters/{post_id}/{page}/{action}",
        "Try a dead letter again, or record that a person saw it published (admin)",
        {
            202: Answer("the dispatcher was asked", ActionRequested),
            403: _ROLE,
            404: Answer("no open dead letter for this post and page"),
            409: Answer(
                "already_decided: another action on it stands (under decision)", AlreadyRequestedError
            ),
            503: _BUS,
        },
        path_params={"post_id": PostId, "action": Action},
        tags=_API,
    ),
    Operation(
        "GET",
        "/v1/policies",
        "Moderation policies",
        {200: Answer("policies", PolicyList), 403: _ROLE},
        tags=_API,
    ),
    Operation(
        "PUT",
        "/v1/policies",
        "Set one moderation policy (admin)",
        {
            200: Answer("set", PolicyOut),
            400: _BAD_JSON,
            403: _ROLE,
            422: Answer("invalid_scope, invalid_mode"),
        },
        body=PolicyIn,
        tags=_API,
    ),
    Operation(
        "GET",
        "/v1/inbox",
        "Conversations waiting in the inbox, the most urgent first: status, owner, deadline, escalation"
        " and the last item's masked text (a regional moderator's region only)",
        {200: Answer("conversations", InboxList), 403: _ROLE},
        tags=_API,
    ),
    Operation(
        "GET",
        "/v1/inbox/{conversation}",
        "One conversation with its items (masked)",
        {
            200: Answer("the conversation", ConversationView),
            403: _ROLE,
            404: Answer("no such conversation (or outside your region)"),
        },
        path_params={"conversation": Annotated[str, msgspec.Meta(min_length=1)]},
        tags=_API,
    ),
    Operation(
        "POST",
        "/v1/inbox/{conversation}/items/{item_id}/hide",
        "Hide an item from the public on its network (a comment showing a citizen's identifiers; Facebook,"
        " Instagram, YouTube): checked, audited and ordered to the dispatcher (moderator, admin)",
        {
            202: Answer(
                "ordered: the item's `hidden` is `requested` until the network's outcome", HideAccepted
            ),
            403: Answer("forbidden, or outside_scope (another region's conversation)"),
            404: Answer("not_found: no such conversation, or the item is not one of its items (field)"),
            409: Answer("already_hidden (asked for already), or hide_failed (hide it on the network)"),
            422: Answer(
                "cannot_hide (the network hides no comments), private_message, or not_the_pages (a mention)"
            ),
        },
        path_params={
            "conversation": Annotated[str, msgspec.Meta(min_length=1)],
            "item_id": Annotated[str, msgspec.Meta(min_length=1)],
        },
        tags=_API,
    ),
    *health_operations("This document (no token needed)"),
    FAVICON_OPERATION,
    METRICS_OPERATION,
    # The dashboard: server-rendered pages and forms, for signed-in people (the session cookie).
    Operation(
        "GET",
        "/",
        "The hub's front door: to the dashboard",
        {302: Answer("to the dashboard", headers={"Location": "/dashboard"})},
        access="public",
        tags=_DASHBOARD,
    ),
    *sign_in_operations(page="The sign-in page", landing="the dashboard", access="session", tags=_DASHBOARD),
    Operation(
        "GET",
        "/static/{filename}",
        "The dashboard's stylesheet and script",
        {200: Answer("the file", media_type="text/css"), 404: Answer("no such file")},
        access="public",
        path_params={"filename": Filename},
        tags=_DASHBOARD,
        route="/static",
    ),
    Operation(
        "GET",
        "/dashboard",
        "The dashboard: every section for the viewer",
        {200: Answer("the page", media_type=_HTML), 303: _TO_LOGIN},
        access="session",
        tags=_DASHBOARD,
    ),
    Operation(
        "GET",
        "/dashboard/posts/{post_id}",
        "A post's deliveries: counts per network and status, by region and agency; `agency` lists its pages",
        {
            200: Answer("the page", media_type=_HTML),
            303: _TO_LOGIN,
            404: Answer("no such post, or nothing of it in the moderator's region", media_type=_HTML),
        },
        access="session",
        path_params={"post_id": PostId},
        parameters=[Parameter("agency", str, "an agency the post reached: its pages, one by one")],
        tags=_DASHBOARD,
    ),
    Operation(
        "GET",
        "/dashboard/sections/{name}",
        "One section of the dashboard (fetched again when the live feed says it changed)",
        {200: Answer("the section's HTML", media_type=_HTML), 303: _TO_LOGIN, 404: Answer("no such section")},
        access="session",
        path_params={"name": Section},
        tags=_DASHBOARD,
    ),
    Operation(
        "POST",
        "/dashboard/queue/{post_id}/{decision}",
        "Approve or reject a queued post (moderator, admin; the form carries the CSRF token)",
        {
            200: Answer("decided (asked for JSON)", dict[str, Any]),
            303: Answer("decided (a plain form): back to the dashboard, or not signed in"),
            400: Answer("a rejection without a reason"),
            403: Answer("csrf, forbidden, or outside_scope"),
            404: Answer("not_queued"),
            409: Answer("already decided: the page names the decision that stands", media_type=_HTML),
            503: _BUS,
        },
        access="session",
        body_schema=_REJECT_FORM,
        body_media_type="application/x-www-form-urlencoded",
        path_params={"post_id": PostId, "decision": Decide},
        tags=_DASHBOARD,
    ),
    Operation(
        "POST",
        "/dashboard/dead-letters/{post_id}/{page}/retry",
        "Retry a dead letter (admin; the form carries the CSRF token)",
        {
            200: Answer("requested (asked for JSON)", dict[str, Any]),
            303: Answer("requested (a plain form): back to the dashboard, or not signed in"),
            403: Answer("csrf, or forbidden"),
            404: Answer("no open dead letter for this post and page"),
            503: _BUS,
        },
        access="session",
        body_schema=_FORM,
        body_media_type="application/x-www-form-urlencoded",
        path_params={"post_id": PostId},
        tags=_DASHBOARD,
    ),
    Operation(
        "GET",
        "/inbox",
        "The inbox: the viewer's conversations, the most urgent first, with their deadlines in business"
        " hours (a regional moderator's region only)",
        {200: Answer("the page", media_type=_HTML), 303: _TO_LOGIN},
        access="session",
        parameters=[
            Parameter("status", str, "new, pending or answered (another value filters nothing)"),
            Parameter("network", str, "a network among the listed conversations'"),
            Parameter("escalation", str, "none, region or hub"),
            Parameter(
                "region",
                str,
                "a region of the page registry (national readers; a regional"
                " moderator's is hers whatever this says)",
            ),
        ],
        tags=_DASHBOARD,
    ),
    Operation(
        "GET",
        "/inbox/{conversation}",
        "One conversation: its items oldest first, masked, and the notice to go on in private",
        {
            200: Answer("the page", media_type=_HTML),
            303: _TO_LOGIN,
            404: Answer("no such conversation, or one outside the moderator's region", media_type=_HTML),
        },
        access="session",
        path_params={"conversation": Annotated[str, msgspec.Meta(min_length=1)]},
        tags=_DASHBOARD,
    ),
    Operation(
        "POST",
        "/inbox/{conversation}/preview",
        "The reply form's live preview: its text (or saved reply filled in) as the conversation's network"
        " shows it, one part; nothing is stored",
        {
            200: Answer("the preview: {variants: [one]}", media_type="application/json"),
            400: Answer("conflicting_fields, empty…"),
            403: Answer("csrf"),
            404: Answer("no such conversation, or one outside the moderator's region"),
            422: Answer("text_too_long, unknown_saved_reply, missing_value"),
        },
        access="session",
        body_schema={
            "type": "object",
            "properties": {
                name: {"type": "string"} for name in ("csrf", "text", "saved_reply", "value-<variable>")
            },
            "required": ["csrf"],
        },
        body_media_type="application/x-www-form-urlencoded",
        path_params={"conversation": Annotated[str, msgspec.Meta(min_length=1)]},
        tags=_DASHBOARD,
    ),
    Operation(
        "POST",
        "/inbox/{conversation}/replies",
        "The conversation page's reply form (admin, moderator in her region): sent as"
        " POST /v1/inbox/{conversation}/replies, then back to the page; a refusal is shown next to its field",
        {
            303: Answer(
                "sent: back to the conversation", headers={"Location": "/inbox/{conversation}?sent=…"}
            ),
            400: Answer("the form is malformed (conflicting_fields…)", media_type=_HTML),
            403: Answer("csrf, forbidden, outside_scope, page_not_in_agency", media_type=_HTML),
            404: Answer("no such conversation, or one outside the moderator's region", media_type=_HTML),
            422: Answer(
                "the reply is refused (too_long, missing_value…): the page, the error at its field",
                media_type=_HTML,
            ),
            503: Answer("bus_unavailable: nothing was sent", media_type=_HTML),
        },
        access="session",
        body_schema={
            "type": "object",
            "properties": {
                name: {"type": "string"}
                for name in ("csrf", "text", "saved_reply", "item_id", "idempotency_key", "value-<variable>")
            },
            "required": ["csrf"],
        },
        body_media_type="application/x-www-form-urlencoded",
        path_params={"conversation": Annotated[str, msgspec.Meta(min_length=1)]},
        tags=_DASHBOARD,
    ),
    Operation(
        "GET",
        "/reports",
        "The inbox's figures for a month: totals, weekly charts of first-response p50/p90 and of the share"
        " within the target, a row per region, the CSV's link (a regional moderator's region only)",
        {200: Answer("the page", media_type=_HTML), 303: _TO_LOGIN},
        access="session",
        parameters=[_PAGE_MONTH],
        tags=_DASHBOARD,
    ),
    Operation(
        "GET",
        "/reports/inbox.csv",
        "The month's CSV of `relais report` (one row per agency and network; a regional moderator's region"
        " only)",
        {200: Answer("the CSV", media_type="text/csv"), 303: _TO_LOGIN},
        access="session",
        parameters=[_PAGE_MONTH],
        tags=_DASHBOARD,
    ),
    Operation(
        "GET",
        "/reports/advocacy",
        "The advocacy figures for a month: totals, each agency's coverage of its required topics, charts"
        " and tables per topic and per network, tables per story and per region, the CSV's link (a regional"
        " moderator's region only)",
        {200: Answer("the page", media_type=_HTML), 303: _TO_LOGIN},
        access="session",
        parameters=[_PAGE_MONTH],
        tags=_DASHBOARD,
    ),
    Operation(
        "GET",
        "/reports/advocacy.csv",
        "The month's CSV of `relais report --advocacy` (one row per agency; a regional moderator's region"
        " only)",
        {200: Answer("the CSV", media_type="text/csv"), 303: _TO_LOGIN},
        access="session",
        parameters=[_PAGE_MONTH],
        tags=_DASHBOARD,
    ),
    Operation(
        "GET",
        "/audit",
        "A plain page of the latest audit events",
        {200: Answer("the page", media_type=_HTML), 303: _TO_LOGIN},
        access="session",
        tags=_DASHBOARD,
    ),
    Operation(
        "GET",
        "/dead-letters",
        "A plain page of the dead letters and pages to reconnect",
        {200: Answer("the page", media_type=_HTML), 303: _TO_LOGIN},
        access="session",
        tags=_DASHBOARD,
    ),
    Operation(
        "GET",
        "/events",
        "The dashboard's live feed (server-sent events: `event: post`, JSON data)",
        {200: Answer("the stream, until the session ends", media_type="text/event-stream")},
        access="session",
        tags=_DASHBOARD,
    ),
    *WEBHOOK_OPERATIONS,  # public: the networks push to them (services/hub/webhooks.py)
    *SAVED_REPLY_OPERATIONS,  # services/hub/saved_replies.py
    *ADVOCACY_OPERATIONS,  # services/hub/advocacy.py
    *OAUTH_CALLBACK_OPERATIONS,  # public: the networks send advisors back (services/hub/oauth_callback.py)
    *INBOX_REPORT_OPERATIONS,  # services/hub/inbox_report_api.py
    *ADVOCACY_REPORT_OPERATIONS,  # services/hub/advocacy_report_api.py
    *INBOX_REPLY_OPERATIONS,  # services/hub/inbox_replies.py
]

HUB_OPENAPI: dict[str, Any] = openapi_document(
    "Relais hub",
    "The central side: campaigns, moderation, the audit trail, dead letters and the dashboard. The API"
    " (/v1/…) takes bearer tokens only, the dashboard its session cookie only. Every JSON error is"
    ' {"error": {"code", "message", "field"}}.',
    OPERATIONS,
)
