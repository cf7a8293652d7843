"""What each bus message means for the audit trail: event name, who acted, where, and details.

Pure mapping; secrets never travel on the bus, so nothing here needs redacting.

Advocacy (#16 item 5): the chain is never rewritten, so what it says of an advocate must not name
her once `relais advocates forget` erased the link table. Her entries name the pseudonym only: never
`user`, never `sealed_credentials`, never the account's handle or id (a handle names a person as
surely as her user name does), and not the consent's wording either: the version and the language
say exactly which wording was shown (the node and the link table keep the text), and a copy per
advocate would only grow the chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.advocacy.accounts import personal_page
from shared.schemas import (
    AccessDenied,
    AdvocateAccountStatus,
    AdvocateConnected,
    AdvocateDisconnected,
    AdvocateEnrolled,
    AdvocateForgotten,
    AdvocateOptedOut,
    DeliveryActionRequested,
    DeliveryDeadLettered,
    DeliveryUpdated,
    InboxAssigned,
    InboxEscalated,
    InboxHideOrdered,
    InboxHideRequested,
    InboxItemHidden,
    InboxItemReceived,
    Message,
    PageNeedsReauth,
    PageThrottled,
    PostAnnounced,
    PostApproved,
    PostEdited,
    PostExpired,
    PostInvalid,
    PostQueued,
    PostReceived,
    PostRejected,
    PostRendered,
    PostScheduled,
    PostTargeted,
)


@dataclass(frozen=True)
class AuditFields:
    event: str
    actor: str
    network: str | None = None
    page: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def audit_fields(message: Message) -> AuditFields:
    match message:
        case AccessDenied():
            denial = {
                "status": message.status,
                "code": message.code,
                "method": message.method,
                "route": message.route,
                "path": message.path,
                "remote": message.remote,
                "token_id": message.token_id,
                "role": message.role,
                "reason": message.reason,
            }
            event = "permission.denied.capped" if message.capped else "permission.denied"
            return AuditFields(event, message.actor, detail=denial)
        case PostReceived():
            received: dict[str, Any] = {
                "targets": [f"{t.network}:{t.page}" for t in message.targets],
                "selectors": message.selectors,
                # An agency node sends its chosen networks resolved into `targets` (every chosen
                # network has a page there) and leaves `networks` for selectors: either way, these
                # are the networks the advisor chose (in the order of their pages).
                "networks": message.networks or list(dict.fromkeys(t.network for t in message.targets)),
                "link": message.link,
                "schedule_at": message.schedule_at,
            }
            if message.reply_to is not None:  # ids, never the answered item's text
                received["reply_to"] = {
                    "conversation": message.reply_to.conversation,
                    "item_id": message.reply_to.item_id,
                }
            return AuditFields("received", message.author, detail=received)
        case PostTargeted():
            pages = [[t.network, t.page, t.agency] for t in message.targets]
            return AuditFields("targeted", "federation", detail={"pages": pages})
        case PostAnnounced():
            pages = [[t.network, t.page] for t in message.targets]
            return AuditFields(
                "announced", "federation", detail={"origin": message.origin_agency, "pages": pages}
            )
        case PostQueued():
            return AuditFields("queued", "policy", detail={"pages": message.pages})
        case PostScheduled():
            return AuditFields("scheduled", message.approved_by, detail={"publish_at": message.publish_at})
        case PostExpired():
            return AuditFields("expired", "hub", detail={"pages": message.pages, "reason": message.reason})
        case PostRendered():
            return AuditFields("rendered", "formatter", detail={"variants": len(message.variants)})
        case PostInvalid():
            return AuditFields("invalid", "formatter", detail={"reasons": message.reasons})
        case PostApproved():
            return AuditFields(
                "approved", message.approved_by, detail={"pages": [v.page for v in message.variants]}
            )
        case PostEdited():
            edit = {"revision": message.revision, "diff": message.diff}
            return AuditFields("edited", message.edited_by, detail=edit)
        case PostRejected():
            return AuditFields("rejected", message.rejected_by, detail={"reason": message.reason})
        case DeliveryUpdated():
            detail: dict[str, Any] = {"remote_id": message.remote_id, "url": message.url}
            if message.parts:
                detail["parts"] = [{"remote_id": p.remote_id, "url": p.url} for p in message.parts]
            if message.throttled_until:
                detail["throttled_until"] = message.throttled_until
            if message.error:
                detail["error"] = {
                    "message": message.error.message,
                    "network_code": message.error.network_code,
                }
            return AuditFields(
                f"delivery.{message.status}", "dispatcher", message.network, message.page, detail
            )
        case PageNeedsReauth():
            error = {"message": message.error.message, "network_code": message.error.network_code}
            return AuditFields(
                "page.needs_reauth", "dispatcher", message.network, message.page, {"error": error}
            )
        case PageThrottled():
            detail = {"since": message.since, "until": message.until}
            if message.error:
                detail["error"] = {
                    "message": message.error.message,
                    "network_code": message.error.network_code,
                }
            return AuditFields("page.throttled", "dispatcher", message.network, message.page, detail)
        case DeliveryDeadLettered():
            detail = {"status": message.status, "attempts": message.attempts}
            if message.error:
                detail["error"] = {
                    "message": message.error.message,
                    "network_code": message.error.network_code,
                }
            return AuditFields("delivery.dead_letter", "dispatcher", message.network, message.page, detail)
        case DeliveryActionRequested():
            return AuditFields(
                f"delivery.{message.action}_requested", message.requested_by, message.network, message.page
            )
        # The inbox: ids and facts, never the text (masked, but a citizen's words all the same).
        case InboxItemReceived():
            item = {
                "conversation": message.conversation,
                "item_id": message.item_id,
                "kind": message.kind,
                "masked": message.masked,
                "via": message.via,
            }
            return AuditFields("inbox.received", message.via, message.network, message.page, item)
        case InboxAssigned():
            assignment = {"conversation": message.conversation, "assignee": message.assignee}
            return AuditFields("inbox.assigned", message.by, message.network, message.page, assignment)
        case InboxEscalated():
            escalation = {
                "conversation": message.conversation,
                "level": message.level,
                "deadline": message.deadline,
                "calendar": message.calendar,
            }
            return AuditFields("inbox.escalated", "hub", message.network, message.page, escalation)
        case InboxHideRequested():
            asked = {"conversation": message.conversation, "item_id": message.item_id}
            return AuditFields("inbox.hide_requested", message.by, message.network, message.page, asked)
        case InboxHideOrdered():
            order = {"conversation": message.conversation, "item_id": message.item_id}
            return AuditFields("inbox.hide_ordered", message.by, message.network, message.page, order)
        case InboxItemHidden():
            outcome: dict[str, Any] = {
                "conversation": message.conversation,
                "item_id": message.item_id,
                "outcome": message.outcome,
            }
            if message.error:
                outcome["error"] = {
                    "message": message.error.message,
                    "network_code": message.error.network_code,
                }
            return AuditFields("inbox.hidden", "dispatcher", message.network, message.page, outcome)
        case AdvocateEnrolled():
            consent = {
                "consent_version": message.consent_version,
                "consent_language": message.consent_language,
                "consented_at": message.consented_at,
            }
            return AuditFields("advocate.enrolled", message.advocate, detail=consent)
        case AdvocateOptedOut():
            return AuditFields("advocate.opted_out", message.advocate)
        case AdvocateConnected():
            # The hub's callback (OAuth) or the node (a Bluesky app password): she connected it.
            via = {"via": "app_password" if message.network == "bluesky" else "oauth"}
            page = personal_page(message.advocate, message.network)
            return AuditFields(
                "advocate.connected",
                message.advocate,
                message.network,
                page,
                via | {"expires_at": message.expires_at},
            )
        case AdvocateDisconnected():
            page = personal_page(message.advocate, message.network)
            return AuditFields("advocate.disconnected", message.advocate, message.network, page)
        case AdvocateAccountStatus():
            # `refused`: she declined at the network's page; otherwise what the network said of her token.
            actor = message.advocate if message.status == "refused" else "dispatcher"
            status: dict[str, Any] = {"status": message.status}
            if message.error:
                status["error"] = {
                    "message": message.error.message,
                    "network_code": message.error.network_code,
                }
            page = personal_page(message.advocate, message.network)
            return AuditFields("advocate.account_status", actor, message.network, page, status)
        case AdvocateForgotten():
            return AuditFields("advocate.forgotten", message.by, detail={"advocate": message.advocate})
    raise TypeError(f"the audit has no entry for {type(message).__name__}")
