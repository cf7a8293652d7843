"""The inbox's pages at the hub (issue #15 items 2 and 6, the dashboard's side), for the hub team and
the regional moderators, with the dashboard's session:

- `GET /inbox`: the conversations the viewer may read, by the API's own scope function
  (`inbox_api.visible_conversations`: a regional moderator, her region's only), the most urgent
  first, filtered by status, network, escalation and region (a regional moderator's region is hers,
  whatever the query says);
- `GET /inbox/{conversation}`: its items, oldest first; one outside the viewer's region is refused
  exactly as one that does not exist (404) and audited, as the API does (`visible_conversation`).

Every text a citizen wrote is shown masked (identifiers as « [numéro de téléphone — donnée masquée] »)
and escaped by the templates. A deadline is shown in its calendar's zone, named beside it, and the
time left (or late) is counted in that calendar's business hours.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import quote

from aiohttp import web
from ulid import ULID

from services.hub.dashboard import agency_registry
from services.hub.dashboard_html import locale_of, page_response
from services.hub.inbox import Inbox
from services.hub.inbox_api import visible_conversation, visible_conversations
from services.hub.inbox_replies import REPLIERS, REPLY_FITTING, text_of, write_reply
from services.hub.inbox_store import conversation_items
from services.hub.keys import DATABASE, INBOX, MIRROR, NETWORK_OPTIONS
from services.hub.scope import is_regional
from services.hub.web_auth import Refused, Viewer, checked_form, refusal, require_role, viewer_of, who_is
from shared.business_hours import business_time, format_instant
from shared.i18n import ESCALATIONS, INBOX_STATUSES, REPLY_PROBLEMS, SAVED_REPLY_VARIABLES, Words, words
from shared.networks import NETWORKS, get_rules
from shared.networks.preview import preview
from shared.personal_data import KINDS, in_words, mask
from shared.post_input import InputError, check_text
from shared.saved_replies import VARIABLES, parse
from shared.tokens import Claims
from shared.web import json_error

__all__ = ["add_routes"]


def _refusal_words(language: Words, code: str, message: str) -> str:
    if code in REPLY_PROBLEMS:
        return language.pgettext("problem", code)
    return language.error(code, message)


MAX_SHOWN = 500  # rows of the list, the most urgent first (as the API)
ON_TIME, LATE = "on_time", "late"


@dataclass(frozen=True)
class Filters:
    """What the list is cut to; an empty field does not filter."""

    status: str = ""
    network: str = ""
    escalation: str = ""
    region: str = ""

    def keep(self, row: dict[str, Any]) -> bool:
        return (
            (not self.status or shown_status(row) == self.status)
            and (not self.network or row["network"] == self.network)
            and (not self.escalation or (row["escalation_level"] or "none") == self.escalation)
            and (not self.region or row["region"] == self.region)
        )


def shown_status(row: dict[str, Any]) -> str:
    """`answered` once a response stopped its clock; else the store's `new` or `pending`."""
    return "answered" if row["clock_started_at"] is None else str(row["status"])


def _filters(request: web.Request, claims: Claims, regions: dict[str, str], networks: list[str]) -> Filters:
    """The query's filters, each one of the values offered or none (anything else is ignored)."""
    query = request.query

    def chosen(name: str, allowed: Collection[str]) -> str:
        value = query.get(name, "")
        return value if value in allowed else ""

    region = (claims.region or "") if is_regional(claims) else chosen("region", regions)
    return Filters(
        chosen("status", INBOX_STATUSES),
        chosen("network", networks),
        chosen("escalation", ESCALATIONS),
        region,
    )


def _registry_names(request: web.Request) -> tuple[dict[str, str], dict[str, str]]:
    """(region → its name, agency → its name), from the page registry (the id where it has none)."""
    known = agency_registry(request)
    regions = {k["region"]: k["region_name"] or k["region"] for k in known.values()}
    return regions, {agency: k["name"] or agency for agency, k in known.items()}


def _clock(inbox: Inbox, row: dict[str, Any], language: Words, now: datetime) -> dict[str, str] | None:
    """The running clock's deadline in its calendar's zone, and the business time left or late."""
    if row["deadline"] is None:
        return None
    calendar = inbox.calendar(row["calendar"])
    zone: tzinfo = calendar.zone if calendar is not None else UTC
    due = datetime.fromisoformat(row["deadline"])

    def between(start: datetime, end: datetime) -> timedelta:
        return business_time(calendar, start, end) if calendar is not None else end - start

    _ = language.gettext
    if now < due:
        state = ON_TIME
        told = _("%(time)s left in business hours") % {"time": language.duration(between(now, due))}
    else:
        state, late = LATE, between(due, now)
        told = (
            _("Overdue by %(time)s in business hours") % {"time": language.duration(late)}
            if late >= timedelta(minutes=1)
            else _("Overdue")
        )
    local = due.astimezone(zone)
    return {
        "datetime": format_instant(local),
        "shown": language.moment(local, zone),
        "zone": str(getattr(zone, "key", "UTC")),
        "state": state,
        "told": told,
    }


def _masked_kinds(item: dict[str, Any]) -> list[str]:
    """What was masked in an item: what its publisher said, and the tokens its text holds (masking
    a masked text finds them again, and only them)."""
    found = {*item["masked"], *mask(item["text"]).kinds}
    return [kind for kind in KINDS if kind in found]


def _shown_text(text: str, language: Words) -> str:
    return in_words(text, language.masked_identifier)


def _conversation(
    request: web.Request, row: dict[str, Any], language: Words, names: tuple[dict[str, str], dict[str, str]]
) -> dict[str, Any]:
    inbox: Inbox = request.app[INBOX]
    regions, agencies = names
    return {
        "conversation": row["conversation"],
        "agency": row["agency"],
        "agency_name": agencies.get(row["agency"], row["agency"]),
        "region_name": regions.get(row["region"] or "", row["region"] or ""),
        "page": row["page"],
        "network": row["network"],
        "status": shown_status(row),
        "assignee": row["assignee"] or "",
        "clock": _clock(inbox, row, language, inbox.now()),
        "escalation": row["escalation_level"] or "none",
        "last_text": _shown_text(row["last_text"] or "", language),
        "last_at": row["last_item_at"],
    }


def _with_region(request: web.Request, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    region_of = request.app[MIRROR].region_of
    return [{**row, "region": region_of(row["agency"])} for row in rows]


async def inbox_page(request: web.Request) -> web.Response:
    viewer = _viewer(request)
    language = words(locale_of(request))
    _ = language.gettext
    rows = _with_region(request, visible_conversations(request, viewer.claims))
    names = _registry_names(request)
    networks = sorted({row["network"] for row in rows})
    filters = _filters(request, viewer.claims, names[0], networks)
    regional = is_regional(viewer.claims)
    kept = [row for row in rows if filters.keep(row)]
    return page_response(
        request,
        "inbox.html",
        title=_("Inbox"),
        heading=_("Inbox"),
        current="inbox",
        who=who_is(request, viewer),
        csrf=viewer.csrf,
        filters=filters,
        statuses=INBOX_STATUSES,
        escalations=ESCALATIONS,
        networks=networks,
        regions=sorted(names[0].items(), key=lambda item: item[1]),
        regional=regional,
        region_name=names[0].get(filters.region, filters.region),
        conversations=[_conversation(request, row, language, names) for row in kept[:MAX_SHOWN]],
        total=len(kept),
        filtered=bool(
            filters.status or filters.network or filters.escalation or (filters.region and not regional)
        ),
    )


async def conversation_page(request: web.Request) -> web.Response:
    viewer = _viewer(request)
    return _conversation_page(request, viewer, request.match_info["conversation"])


def _conversation_page(
    request: web.Request,
    viewer: Viewer,
    conversation: str,
    status: int = 200,
    refused: dict[str, str] | None = None,
    written: dict[str, Any] | None = None,
) -> web.Response:
    """The conversation's page; after a refused reply, the error next to its field (`refused`: the
    API's code, message and field) and what was written kept in the form."""
    row = visible_conversation(request, viewer.claims, conversation)
    if row is None:  # none by that id, or outside her region (audited): the same answer
        return refusal(request, Refused(404, "not_found", "the hub has no such conversation"))
    language = words(locale_of(request))
    _ = language.gettext
    stored = conversation_items(request.app[DATABASE], conversation)
    kinds = [_masked_kinds(item) for item in stored]
    items = [
        {**item, "text": _shown_text(item["text"], language), "masked": language.identifiers(found)}
        for item, found in zip(stored, kinds, strict=True)
    ]
    masked = {kind for found in kinds for kind in found}
    [placed] = _with_region(request, [row])
    shown = _conversation(request, placed, language, _registry_names(request))
    error = None
    if refused is not None:
        error = {**refused, "words": _refusal_words(language, refused["code"], refused["message"])}
    return page_response(
        request,
        "conversation.html",
        status,
        title=_("Conversation on %(page)s") % {"page": row["page"]},
        heading=_("Conversation on %(page)s") % {"page": row["page"]},
        current="inbox",
        who=who_is(request, viewer),
        csrf=viewer.csrf,
        c=shown,
        items=items,
        masked=language.identifiers(kind for kind in KINDS if kind in masked),
        may_reply=viewer.claims.role in REPLIERS,
        reply_action="/inbox/" + quote(conversation, safe="") + "/replies",
        saved=_saved_replies(request),
        variables=[(name, language.pgettext("variable", name)) for name in SAVED_REPLY_VARIABLES],
        idempotency_key=str(ULID()),
        error=error,
        written=written or {},
        sent=request.query.get("sent", ""),
        measure=_measure(request, row["network"], language),
        preview_action="/inbox/" + quote(conversation, safe="") + "/preview",
        reply_strings={
            "fits": _("Fits in one message"),
            "refused": _("Cannot be published as it is"),
            "failed": _("The preview is unavailable; try again."),
            "errors": {code: language.pgettext("problem", code) for code in REPLY_PROBLEMS},
        },
    )


def _measure(request: web.Request, network: str, language: Words) -> dict[str, str] | None:
    """How the network counts a reply (its name, limit and unit in words), for the preview's counter."""
    if network not in NETWORKS:
        return None
    rules = get_rules(network, request.app[NETWORK_OPTIONS])
    return {
        "name": NETWORKS[network].title,
        "limit": language.number(rules.limit),
        "unit": language.pgettext("unit", rules.unit),
    }


def _saved_replies(request: web.Request) -> list[dict[str, str]]:
    rows = request.app[DATABASE].execute(
        "select id, language, title, body from saved_replies order by language, title, id"
    )
    return [
        {"id": reply.reply_id, "language": reply.language, "title": reply.title, "body": reply.body}
        for reply in (parse(*row) for row in rows)
    ]


def _reply_body(form: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """The form's fields as written, and the API's body they make (a saved reply's values only with it)."""
    fields = {name: str(form.get(name, "")) for name in ("text", "saved_reply", "item_id", "idempotency_key")}
    body: dict[str, Any] = {}
    if fields["saved_reply"]:
        body["saved_reply"] = fields["saved_reply"]
        body["values"] = {
            name: value for name in VARIABLES if (value := str(form.get(f"value-{name}", "")).strip())
        }
    else:
        body["text"] = fields["text"]
    if fields["item_id"]:
        body["item_id"] = fields["item_id"]
    return fields, body


async def reply_preview(request: web.Request) -> web.Response:
    """`POST /inbox/{conversation}/preview`: the reply form's text (or saved reply filled in) as the
    conversation's network would show it, one part (`reject`), for the form's live preview. Nothing
    is stored; the session's CSRF token is asked as for any POST of the dashboard."""
    viewer = _viewer(request)
    try:
        form = await checked_form(request, viewer)
    except Refused as exc:
        return refusal(request, exc)
    row = visible_conversation(request, viewer.claims, request.match_info["conversation"])
    if row is None:  # none by that id, or outside her region (audited): the same answer
        return json_error(404, "not_found", "the hub has no such conversation", "conversation")
    network, page = row["network"], row["page"]
    record = next((r for r in request.app[MIRROR].records() if r.page == page), None)
    try:
        text = check_text(
            text_of(
                _reply_body(form)[1], request.app[DATABASE], {"agence": record.agency_name if record else ""}
            )
        )
    except InputError as exc:
        return json_error(exc.status, exc.code, exc.message, exc.field)
    shown = preview(text, [network], policy={network: REPLY_FITTING}, options=request.app[NETWORK_OPTIONS])
    return web.json_response(shown)


async def reply_form(request: web.Request) -> web.Response:
    """`POST /inbox/{conversation}/replies`: the conversation page's form, sent as the API's reply
    (inbox_replies.write_reply); back to the page, the reply's id said, or the page again with the
    refusal next to its field."""
    viewer = _viewer(request)
    conversation = request.match_info["conversation"]
    try:
        form = await checked_form(request, viewer)
        require_role(request, viewer, REPLIERS)  # ops read, and decide nothing
    except Refused as exc:
        return refusal(request, exc)
    fields, body = _reply_body(form)
    answer = await write_reply(request, viewer.claims, conversation, body, fields["idempotency_key"] or None)
    if answer.status == 202:
        assert isinstance(answer, web.Response) and answer.text is not None
        post_id = json.loads(answer.text)["id"]
        raise web.HTTPSeeOther(f"/inbox/{quote(conversation, safe='')}?sent={quote(post_id)}#reply")
    assert isinstance(answer, web.Response) and answer.text is not None
    error = json.loads(answer.text)["error"]
    if answer.status == 404:
        return refusal(request, Refused(404, "not_found", "the hub has no such conversation"))
    if error["code"] == "outside_scope":  # the page is not hers to see either: the refusal alone
        return refusal(request, Refused(403, "outside_scope", error["message"]))
    written = {**fields, **{f"value-{k}": v for k, v in body.get("values", {}).items()}}
    return _conversation_page(
        request,
        viewer,
        conversation,
        answer.status,
        {"code": error["code"], "message": error["message"], "field": error["field"] or ""},
        written,
    )


def _viewer(request: web.Request) -> Viewer:
    viewer = viewer_of(request)
    if viewer is None:  # the access middleware sends a person without a session to sign in first
        raise web.HTTPSeeOther("/login")
    return viewer


def add_routes(app: web.Application) -> None:
    app.router.add_get("/inbox", inbox_page)
    app.router.add_get("/inbox/{conversation}", conversation_page)
    app.router.add_post("/inbox/{conversation}/replies", reply_form)
    app.router.add_post("/inbox/{conversation}/preview", reply_preview)
