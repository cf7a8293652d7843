"""The composer: the page an advisor signed in at their agency's node writes posts with (`GET /`).

Server-rendered (services/intake/templates/composer.html) in the advisor's language, from what the
node holds, so it draws itself with the link to the hub down: the networks the agency has pages on
(registry order), its pages with their time zones, the bus link's state. Its script
(static/composer.js) then calls this node's API with the session (preview, media, posts, drafts);
the words it shows are the catalog's, embedded in the page as JSON data (CSP-safe: not code).
The script and stylesheet are public static files (they hold no data), revalidated on every use so
a new version is never hidden behind a cache.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from babel.dates import get_timezone_location
from babel.lists import format_list
from markupsafe import Markup

from services.intake.composer import network_choice, page_choice
from services.intake.keys import DATABASE, LINK, SETTINGS
from services.intake.store import page_records
from services.intake.web_auth import HEADERS, live_advisor
from shared.i18n import C_, ERROR_CODES, STATUSES, Words, words
from shared.i18n.templates import environment
from shared.i18n.web import locale_of
from shared.networks import NETWORKS
from shared.post_input import MAX_TEXT_CHARS

__all__ = ["STATIC_DIR", "add_routes", "composer", "script_strings", "static_headers"]

STATIC_DIR = Path(__file__).parent / "static"
# The page is personal (a CSRF token in it): never stored (web_auth.HEADERS). Static files are
# kept, but revalidated (Last-Modified / If-Modified-Since) each time, so a node's new version
# shows at the next load.
STATIC_HEADERS = {**HEADERS, "Cache-Control": "no-cache"}

# The units networks count in (shared/networks: each rules' `unit`), as the cards' counters say them.
UNITS = (
    C_("unit", "characters"),
    C_("unit", "graphemes"),
    C_("unit", "weighted"),
    C_("unit", "utf16"),
    C_("unit", "bytes"),
)
# What the networks' rules and the post checks say (a preview's `errors` and `notices`, a refused
# post's `code`), translated from the code; an unknown code is shown in the API's own words.
PROBLEMS = (
    C_("problem", "empty"),
    C_("problem", "too_long"),
    C_("problem", "cannot_fit"),
    C_("problem", "too_many_parts"),
    C_("problem", "too_many_media"),
    C_("problem", "media_required"),
    C_("problem", "too_many_hashtags"),
    C_("problem", "too_many_mentions"),
    C_("problem", "unsupported_media_type"),
    C_("problem", "media_too_large"),
    C_("problem", "alt_text_required"),
    C_("problem", "alt_text_too_long"),
    C_("problem", "network_retired"),
    C_("problem", "unknown_network"),
    C_("problem", "empty_title"),
    C_("problem", "title_too_long"),
    C_("problem", "too_many_tags"),
    C_("problem", "tags_too_long"),
    C_("problem", "duplicate_text"),
    C_("problem", "title_not_sent"),
    C_("problem", "tags_not_sent"),
    C_("problem", "captions_not_sent"),
    C_("problem", "missing_field"),
    C_("problem", "invalid_type"),
    C_("problem", "text_too_long"),
    C_("problem", "unknown_variable"),
    C_("problem", "invalid_link"),
    C_("problem", "invalid_datetime"),
    C_("problem", "unknown_media"),
    C_("problem", "content_warning_too_long"),
    C_("problem", "no_page_for_network"),
    C_("problem", "page_not_in_agency"),
    C_("problem", "page_network_not_chosen"),
    C_("problem", "idempotency_key_reused"),
    C_("problem", "body_too_large"),
    C_("problem", "media_type_not_allowed"),
)
POLICIES = (C_("policy", "thread"), C_("policy", "truncate"), C_("policy", "reject"))
# Kinds of file a network takes, as the composer words its media rules.
KINDS = (C_("kind", "image"), C_("kind", "gif"), C_("kind", "video"), C_("kind", "document"))
REFRESH_SECONDS = 5  # how often « Mes publications » and the link's state are asked again


def media_words(media: dict[str, Any], locale: str) -> list[str]:
    """A network's media rules (GET /v1/composer's `media`: the network rules' own) in words."""
    language = words(locale)
    kinds = [language.pgettext("kind", kind) for kind in KINDS if kind in media["kinds"]]
    said = [language.gettext("Takes: %(kinds)s") % {"kinds": format_list(kinds, locale=locale)}]
    if media["max_images"]:
        said.append(
            language.ngettext(
                "At most %(num)d image per post.", "At most %(num)d images per post.", media["max_images"]
            )
            % {"num": media["max_images"]}
        )
    if media["video_alone"]:
        said.append(language.gettext("A video goes alone, without images."))
    if media["required"]:
        said.append(language.gettext("A post there needs an attachment."))
    if media["max_alt"]:
        said.append(
            language.gettext("Alt text: at most %(num)s characters.")
            % {"num": language.number(media["max_alt"])}
        )
    return said


def zone_words(timezone: str, language: Words) -> str:
    """« heure de Paris »: a time zone named by its city, in the page's language."""
    try:
        city = get_timezone_location(timezone, locale=language.locale, return_city=True)
    except LookupError:
        city = timezone
    return language.gettext("%(city)s time") % {"city": city}


def script_strings(language: Words, max_parts: int) -> dict[str, Any]:
    """The words the composer's script shows, from the catalog (a JSON block in the page). Plural
    forms are given for every count the script may show, so no plural rule is rewritten in JS."""
    _ = language.gettext
    return {
        "statuses": {key: language.status(key) for key in STATUSES},
        "errors": {  # the composer's own words first, where a code has both
            **{code: language.error(code) for code in ERROR_CODES},
            **{code: language.pgettext("problem", code) for code in PROBLEMS},
        },
        "parts": {
            str(n): language.ngettext("%(num)d part", "%(num)d parts", n) % {"num": n}
            for n in range(2, max(max_parts, 2) + 1)
        },
        "fits": _("Fits in one message"),
        "truncated": _("Cut to fit"),
        "refused": _("Cannot be published as it is"),
        "previewFailed": _("The preview is unavailable; the node did not answer."),
        "partLabel": _("Part %(i)s of %(n)s"),
        "sent": _("Post received by the node: %(status)s."),
        "scheduledFor": _("Scheduled for %(when)s (%(zone)s)."),
        "needSchedule": _("Choose a date and time to publish later."),
        "scheduleInPast": _("This moment is already past."),
        "needNetwork": _("Choose at least one network."),
        "needPage": _("Tick at least one %(network)s page, or untick %(network)s."),
        "needText": _("Write a text."),
        "needAlt": _("Describe this file for people who cannot see it."),
        "uploading": _("Sending %(name)s…"),
        "uploaded": _("%(name)s attached."),
        "remove": _("Remove %(name)s"),
        "draftSaved": _("Draft saved."),
        "draftDeleted": _("Draft deleted."),
        "draftResumed": _("Draft opened in the composer."),
        "resume": _("Resume"),
        "delete": _("Delete"),
        "untitled": _("(no text yet)"),
        "noDrafts": _("No drafts."),
        "noPosts": _("No posts yet."),
        "reason": _("Reason: %(reason)s"),
        "edited": _("Edited by a moderator. You had written: %(text)s"),
        "editedShort": _("Edited by a moderator."),
        "viewOn": _("View on %(network)s"),
        "postStatus": _("« %(text)s »: %(status)s"),
        "signedOut": _("Signed out: reload the page to sign in again."),
        "noAnswer": _("The node did not answer; try again."),
        "refusedStatus": _("Refused (%(status)s)."),
        "zoneMixed": _("The chosen pages are in different time zones; the time is %(zone)s."),
    }


async def composer(request: web.Request) -> web.Response:
    """The composer for the signed-in advisor; without a session, the sign-in form."""
    settings, db = request.app[SETTINGS], request.app[DATABASE]
    row = live_advisor(request)
    if row is None:
        raise web.HTTPSeeOther("/login")
    if request.query.get("reply_to"):  # a reply is written on its conversation's page (inbox_page.py)
        raise web.HTTPSeeOther("/inbox/" + quote(request.query["reply_to"], safe="") + "#reply")
    locale = locale_of(request)
    language = words(locale)
    records = page_records(db)
    present = {record.network for record in records}
    networks = [network_choice(n, settings.network_options) for n in NETWORKS if n in present]
    pages = [{**page_choice(r), "zone_words": zone_words(r.timezone, language)} for r in records]
    data = {
        "agency": settings.agency,
        "advisor": row["username"],
        "lang": locale,
        "link_up": request.app[LINK].connected,
        "networks": networks,
        "pages": pages,
        "refresh_seconds": REFRESH_SECONDS,
    }
    strings = script_strings(language, settings.network_options.max_thread_parts)
    text = (
        environment("services.intake", locale)
        .get_template("composer.html")
        .render(
            agency=settings.agency,
            title=language.gettext("New post"),
            username=row["username"],
            csrf=row["csrf"],
            networks=networks,
            media_words={n["network"]: media_words(n["media"], locale) for n in networks},
            pages=pages,
            selector=f"agency:{settings.agency}",  # every page of the agency on the chosen networks
            link_up=data["link_up"],
            max_text=MAX_TEXT_CHARS,
            strings_json=json_block(strings),
            data_json=json_block(data),
        )
    )
    return web.Response(text=text, content_type="text/html", headers=HEADERS)


def json_block(value: Any) -> Markup:
    """JSON for a `<script type="application/json">` block: `<`, `>` and `&` are escaped as
    \\u003c… so no text inside (a page name, a translation) can close the block."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def preview_script_strings(language: Words, problems: Iterable[str]) -> dict[str, Any]:
    """The words every page with a live preview shows from its script (inbox.js, share.js): the
    errors (the catalog's, and the page's own `problems`) and the preview's states."""
    _ = language.gettext
    return {
        "errors": {
            **{code: language.error(code) for code in ERROR_CODES},
            **{code: language.pgettext("problem", code) for code in problems},
        },
        "fits": _("Fits in one message"),
        "refused": _("Cannot be published as it is"),
        "previewFailed": _("The preview is unavailable; the node did not answer."),
        "noAnswer": _("The node did not answer; try again."),
        "signedOut": _("Signed out: reload the page to sign in again."),
        "needText": _("Write a text."),
    }


async def static_headers(request: web.Request, response: web.StreamResponse) -> None:
    """The static files carry the page's CSP and revalidate (set as the headers leave, so
    aiohttp's file responses, 304s included, have them too)."""
    if request.path.startswith("/static/"):
        response.headers.update(STATIC_HEADERS)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", composer)
    app.router.add_static("/static/", STATIC_DIR)
    app.on_response_prepare.append(static_headers)
