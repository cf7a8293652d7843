"""The agency's inbox pages at its node (issue #15 item 4), for its signed-in advisors, offline too:

- `GET /inbox`: the agency's conversations, the longest waiting first, cut by status and to the
  advisor's own (`?mine=1`);
- `GET /inbox/{conversation}`: its items (masked text only, with the private-channel notice when an
  identifier was masked), the assignment form, the reply form (live per-network preview through
  `POST /v1/preview`, saved replies with their variables) and a Hide button on each comment of a
  network that can hide one (`hide_comments` in the registry).

Server-rendered from what the node holds, like the composer (composer_page.py); its script
(static/inbox.js) sends the forms to this node's JSON API with the session's CSRF token in a header
(web_auth.session_claims refuses a change without it), and shows an API error next to its field.
The node holds only its own agency's conversations: another agency's id is a 404 like a missing one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from aiohttp import web

from services.intake.composer import network_choice
from services.intake.composer_page import json_block, preview_script_strings, zone_words
from services.intake.inbox_store import agency_advisors, find_conversation, items_of, list_conversations
from services.intake.keys import DATABASE, SETTINGS
from services.intake.saved_replies import saved_replies
from services.intake.store import page_records
from services.intake.web_auth import HEADERS, live_advisor
from shared.i18n import C_, REPLY_PROBLEMS, SAVED_REPLY_VARIABLES, Words, words
from shared.i18n.templates import environment
from shared.i18n.web import locale_of
from shared.inbox_hiding import HIDEABLE_KINDS  # a private message or a mention is not the page's
from shared.networks import NETWORKS
from shared.personal_data import KINDS, in_words, mask

__all__ = ["add_routes"]

# A conversation at the node: `resolved` once a reply to it is published (services/intake/inbox_store.py).
NODE_STATUSES = (C_("inbox_status", "new"), C_("inbox_status", "pending"), C_("inbox_status", "resolved"))


def _advisor(request: web.Request) -> dict[str, Any]:
    row = live_advisor(request)
    if row is None:  # the access middleware sends a person without a session to sign in first
        raise web.HTTPSeeOther("/login")
    return row


def _render(request: web.Request, name: str, http_status: int = 200, **context: Any) -> web.Response:
    text = (
        environment("services.intake", locale_of(request))
        .get_template(name)
        .render(agency=request.app[SETTINGS].agency, current="inbox", **context)
    )
    return web.Response(text=text, status=http_status, content_type="text/html", headers=HEADERS)


def _deadline(conversation: dict[str, Any], zones: dict[str, str], language: Words) -> dict[str, str] | None:
    """The deadline the hub escalated against, in its page's zone, the zone named beside it."""
    if not conversation["deadline"]:
        return None
    zone_name = zones.get(conversation["page"], "Europe/Paris")
    due = datetime.fromisoformat(conversation["deadline"]).astimezone(ZoneInfo(zone_name))
    return {
        "datetime": due.isoformat(timespec="seconds"),
        "shown": language.moment(due, ZoneInfo(zone_name)),
        "zone": zone_words(zone_name, language),
    }


def _row(conversation: dict[str, Any], zones: dict[str, str], language: Words) -> dict[str, Any]:
    network = NETWORKS.get(conversation["network"])
    return {
        **conversation,
        "network_name": network.title if network else conversation["network"],
        "status_words": language.pgettext("inbox_status", conversation["status"]),
        "escalation_words": language.escalation(conversation["escalation"] or "none"),
        "clock": _deadline(conversation, zones, language),
        "href": "/inbox/" + quote(conversation["id"], safe=""),
        "api": "/v1/inbox/" + quote(conversation["id"], safe=""),  # where its forms are sent
        "last_when": _moment(conversation["last_item_at"], language),
    }


async def inbox_page(request: web.Request) -> web.Response:
    advisor = _advisor(request)
    db, language = request.app[DATABASE], words(locale_of(request))
    status = request.query.get("status", "")
    status = status if status in NODE_STATUSES else ""
    mine = request.query.get("mine") == "1"
    zones = {record.page: record.timezone for record in page_records(db)}
    rows = list_conversations(db, advisor["username"] if mine else None)
    shown = [_row(c, zones, language) for c in rows if not status or c["status"] == status]
    return _render(
        request,
        "inbox.html",
        title=language.gettext("Inbox"),
        username=advisor["username"],
        csrf=advisor["csrf"],
        statuses=NODE_STATUSES,
        status=status,
        mine=mine,
        conversations=shown,
    )


def _item(item: dict[str, Any], network: str, language: Words, api: str) -> dict[str, Any]:
    # What was masked: what the store says, and the tokens its text holds (masking finds them again).
    found = {*item["masked"], *mask(item["text"]).kinds}
    kinds = [kind for kind in KINDS if kind in found]
    capabilities = NETWORKS[network].capabilities if network in NETWORKS else frozenset()
    return {
        **item,
        "shown": in_words(item["text"], language.masked_identifier),
        "masked_words": language.identifiers(kinds) if kinds else "",
        "kinds": kinds,
        "hideable": "hide_comments" in capabilities and item["kind"] in HIDEABLE_KINDS,
        "hidden": bool(item.get("hidden")),
        "hide_action": f"{api}/items/{quote(item['item_id'], safe='')}/hide",
        "when": _moment(item["created_at"], language),
    }


def _moment(text: str | None, language: Words) -> str:
    """An instant as the network wrote it, in Paris time as every list of Relais shows it (as written
    when it is not an ISO-8601 date: a network's odd date is shown, never a crash)."""
    if not text:
        return ""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return text
    return language.moment(value if value.tzinfo else value.replace(tzinfo=UTC))


def _saved(db: Any, language: Words) -> list[dict[str, Any]]:
    return [
        {
            "id": reply.reply_id,
            "language": reply.language,
            "title": reply.title,
            "body": reply.body,
            "variables": [
                {"name": name, "label": language.pgettext("variable", name)}
                for name in reply.variables
                if name in SAVED_REPLY_VARIABLES
            ],
        }
        for reply in saved_replies(db)
    ]


def script_strings(language: Words) -> dict[str, Any]:
    """The words inbox.js shows, from the catalog (a JSON block in the page, CSP-safe)."""
    _ = language.gettext
    return {
        **preview_script_strings(language, REPLY_PROBLEMS),
        "replySent": _("Reply received by the node: it leaves when the link allows."),
        "assigned": _("Assignment saved."),
        "hideSent": _("Hiding requested."),
    }


async def conversation_page(request: web.Request) -> web.Response:
    advisor = _advisor(request)
    settings, db = request.app[SETTINGS], request.app[DATABASE]
    language = words(locale_of(request))
    conversation = find_conversation(db, request.match_info["conversation"])
    if conversation is None:  # another agency's is unknown here, exactly as one that does not exist
        return _render(
            request,
            "not_found.html",
            404,
            title=language.gettext("No such conversation"),
            username=advisor["username"],
            csrf=advisor["csrf"],
        )
    records = page_records(db)
    zones = {record.page: record.timezone for record in records}
    row = _row(conversation, zones, language)
    stored = items_of(db, conversation["id"])
    items = [_item(item, conversation["network"], language, row["api"]) for item in stored]
    masked = [kind for kind in KINDS if any(kind in item["kinds"] for item in items)]
    agency_name = next((r.agency_name for r in records if r.page == conversation["page"]), "")
    latest = items[-1] if items else None
    data = {
        "conversation": conversation["id"],
        "network": conversation["network"],
        "lang": language.locale,
        "replies": f"{row['api']}/replies",
        "assign": f"{row['api']}/assign",
        # What the node fills a saved reply's variables with by default (the replies API does the same).
        "defaults": {"auteur": latest["author_name"] if latest else "", "agence": agency_name},
        "saved": _saved(db, language),
    }
    return _render(
        request,
        "conversation.html",
        title=language.gettext("Conversation on %(page)s") % {"page": conversation["page"]},
        username=advisor["username"],
        csrf=advisor["csrf"],
        c=row,
        items=items,
        masked=language.identifiers(masked) if masked else "",
        advisors=agency_advisors(db, settings.agency),
        saved=data["saved"],
        measure=network_choice(conversation["network"], settings.network_options)
        if conversation["network"] in NETWORKS
        else None,
        strings_json=json_block(script_strings(language)),
        data_json=json_block(data),
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/inbox", inbox_page)
    app.router.add_get("/inbox/{conversation}", conversation_page)
