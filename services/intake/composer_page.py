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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web
from babel.dates import get_timezone_location
from babel.lists import format_list
from markupsafe import Markup

from services.intake.keys import DATABASE, LINK, SETTINGS
from services.intake.web_auth import HEADERS, live_advisor
from shared.fitting_policy import FITTING_POLICIES
from shared.i18n import C_, ERROR_CODES, STATUSES, Words, words
from shared.i18n.templates import environment
from shared.i18n.web import locale_of
from shared.networks import NETWORKS, get_rules
from shared.networks.facts import MEDIA_KINDS
from shared.post_input import MAX_TEXT_CHARS
from shared.schemas import PageRecord

__all__ = ["STATIC_DIR", "STATIC_ROUTE", "add_routes", "composer", "script_strings", "static_headers"]

STATIC_DIR = Path(__file__).parent / "static"
STATIC_ROUTE = ("GET", "/static")  # the composer's script and stylesheet: public, they hold no data
# The page is personal (a CSRF token in it): never stored (web_auth.HEADERS). Static files are
# kept, but revalidated (Last-Modified / If-Modified-Since) each time, so a node's new version
# shows at the next load.
STATIC_HEADERS = {**HEADERS, "Cache-Control": "no-cache"}

# The units networks count in (shared/networks: each rules' `unit`), as people read them.
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
    C_("problem", "too_many_drafts"),
)
POLICIES = (C_("policy", "thread"), C_("policy", "truncate"), C_("policy", "reject"))
# Kinds of file a network takes, as the composer words its media rules.
KINDS = (C_("kind", "image"), C_("kind", "gif"), C_("kind", "video"), C_("kind", "document"))
REFRESH_SECONDS = 5  # how often « Mes publications » and the link's state are asked again


@dataclass(frozen=True)
class NetworkChoice:
    network: str
    title: str
    unit: str
    limit: int
    takes_title: bool
    policies: tuple[str, ...]
    default_policy: str
    kinds: tuple[str, ...]  # the kinds of file it takes (image, gif, video, document), registry order


@dataclass(frozen=True)
class PageChoice:
    id: str
    network: str
    handle: str
    name: str
    timezone: str
    zone_words: str  # « heure de Paris »


def network_choices(db: Any, options: Any) -> list[NetworkChoice]:
    """The networks this agency has an active page on, in the registry's order."""
    present = {r[0] for r in db.execute("select distinct network from pages where status = 'active'")}
    choices = []
    for name, entry in NETWORKS.items():
        if name not in present:
            continue
        rules = get_rules(name, options)
        kinds = tuple(dict.fromkeys(MEDIA_KINDS[t] for t in sorted(entry.media.types)))
        choices.append(
            NetworkChoice(
                network=name,
                title=entry.title,
                unit=rules.unit,
                limit=rules.limit,
                takes_title=rules.takes_title,
                policies=tuple(p for p in FITTING_POLICIES if p != "thread" or rules.can_thread),
                default_policy=rules.default_policy,
                kinds=tuple(k for k in KINDS if k in kinds),
            )
        )
    return choices


def page_choices(db: Any, language: Words) -> list[PageChoice]:
    """The agency's active pages, by network then handle, each with its time zone in words."""
    pages = []
    for (raw,) in db.execute("select record from pages where status = 'active' order by network, handle"):
        record = msgspec.json.decode(raw, type=PageRecord)
        name = record.agency_name or record.agency
        pages.append(
            PageChoice(
                id=record.page,
                network=record.network,
                handle=record.handle,
                name=name,
                timezone=record.timezone,
                zone_words=zone_words(record.timezone, language),
            )
        )
    return pages


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
        "units": {unit: language.pgettext("unit", unit) for unit in UNITS},
        "parts": {
            str(n): language.ngettext("%(num)d part", "%(num)d parts", n) % {"num": n}
            for n in range(2, max(max_parts, 2) + 1)
        },
        "fits": _("Fits in one message"),
        "truncated": _("Cut to fit"),
        "refused": _("Cannot be published as it is"),
        "noPreview": _("Write a text to see each network's preview."),
        "previewFailed": _("The preview is unavailable; the node did not answer."),
        "partLabel": _("Part %(i)s of %(n)s"),
        "sent": _("Post received by the node: %(status)s."),
        "scheduledFor": _("Scheduled for %(when)s (%(zone)s)."),
        "needSchedule": _("Choose a date and time to publish later."),
        "scheduleInPast": _("This moment is already past."),
        "needNetwork": _("Choose at least one network."),
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
        "signedOut": _("Signed out: reload the page to sign in again."),
        "noAnswer": _("The node did not answer; try again."),
        "refusedStatus": _("Refused (%(status)s)."),
        "linkDown": _("Waiting for the hub: your posts are kept here and leave when the link returns."),
        "zoneMixed": _("The chosen pages are in different time zones; the time is %(zone)s."),
    }


async def composer(request: web.Request) -> web.Response:
    """The composer for the signed-in advisor; without a session, the sign-in form."""
    settings, db = request.app[SETTINGS], request.app[DATABASE]
    row = live_advisor(request)
    if row is None:
        raise web.HTTPSeeOther("/login")
    locale = locale_of(request)
    language = words(locale)
    networks = network_choices(db, settings.network_options)
    pages = page_choices(db, language)
    data = {
        "agency": settings.agency,
        "advisor": row["username"],
        "lang": locale,
        "link_up": request.app[LINK].connected,
        "networks": [asdict(n) for n in networks],
        "pages": [asdict(p) for p in pages],
        "max_text": MAX_TEXT_CHARS,
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
            kinds_words={
                n.network: format_list([language.pgettext("kind", k) for k in n.kinds], locale=locale)
                for n in networks
            },
            pages=pages,
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


async def static_headers(request: web.Request, response: web.StreamResponse) -> None:
    """The static files carry the page's CSP and revalidate (set as the headers leave, so
    aiohttp's file responses, 304s included, have them too)."""
    if request.path.startswith("/static/"):
        response.headers.update(STATIC_HEADERS)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", composer)
    app.router.add_static("/static/", STATIC_DIR)
    app.on_response_prepare.append(static_headers)
