"""The "Share a story" page at the agency's node (issue #16 item 2): `GET /share`.

Server-rendered in the advisor's language from what the node holds, so it draws itself offline: the
stories offered to the agency now (required topics first, then the newest), the suggested text in
her language (French where the story has none in it) prefilled, her connected networks. Its script
(static/share.js) previews the share on each network as she writes (`POST /v1/shares/preview`, the
links tagged as they will be sent) and sends it (`POST /v1/shares`), now or at a time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from services.intake.advocate_lookup import advocate_of
from services.intake.composer_page import json_block, preview_script_strings
from services.intake.keys import DATABASE, SETTINGS
from services.intake.stories import offered_stories
from services.intake.web_auth import HEADERS, live_advisor
from shared.advocacy.stories import ADVOCACY_NETWORKS, OfferedStory
from shared.i18n import C_, Words, words
from shared.i18n.templates import environment
from shared.i18n.web import locale_of
from shared.networks import NETWORKS

__all__ = ["add_routes", "share_page", "suggested_text"]

SUMMARY_WORDS = 12  # how much of a story's text its choice shows
# What `POST /v1/shares` may refuse a share for (its `code`), translated from the code.
SHARE_PROBLEMS = (
    C_("problem", "not_an_advocate"),
    C_("problem", "network_not_connected"),
    C_("problem", "not_an_advocacy_network"),
    C_("problem", "story_not_offered"),
    C_("problem", "near_duplicate_text"),
)


def suggested_text(story: OfferedStory, locale: str) -> str:
    """The story's suggested text in the advisor's language, else in French, else its first."""
    return story.texts.get(locale) or story.texts.get("fr") or next(iter(story.texts.values()), "")


def _story(story: OfferedStory, locale: str) -> dict[str, Any]:
    text = suggested_text(story, locale)
    words_of_text = text.split()
    summary = " ".join(words_of_text[:SUMMARY_WORDS]) + ("…" if len(words_of_text) > SUMMARY_WORDS else "")
    title = story.topic_titles.get(locale) or story.topic_titles.get("fr") or story.topic
    return {"id": story.id, "title": title, "required": story.required, "summary": summary, "text": text}


def script_strings(language: Words) -> dict[str, Any]:
    """The words share.js shows, from the catalog (a JSON block in the page, CSP-safe)."""
    _ = language.gettext
    return {
        **preview_script_strings(language, SHARE_PROBLEMS),
        "needNetwork": _("Choose at least one network."),
        "needSchedule": _("Choose a date and time to publish later."),
        "shared": _("Share received by the node: it leaves when the link allows."),
    }


async def share_page(request: web.Request) -> web.Response:
    row = live_advisor(request)
    if row is None:
        raise web.HTTPSeeOther("/login")
    settings, db = request.app[SETTINGS], request.app[DATABASE]
    locale = locale_of(request)
    language = words(locale)
    advocate = advocate_of(db, row["username"])
    offered = offered_stories(db, datetime.now(UTC))
    stories = [
        _story(s, locale) for s in sorted(offered, key=lambda s: not s.required)
    ]  # stable: newest next
    connected = advocate.connected if advocate else frozenset()
    networks = [{"network": n, "name": NETWORKS[n].title} for n in ADVOCACY_NETWORKS if n in connected]
    data = {"lang": locale, "texts": {s["id"]: s["text"] for s in stories}}
    text = (
        environment("services.intake", locale)
        .get_template("share.html")
        .render(
            agency=settings.agency,
            current="share",
            title=language.gettext("Share a story"),
            username=row["username"],
            csrf=row["csrf"],
            advocate=advocate is not None,
            stories=stories,
            networks=networks,
            strings_json=json_block(script_strings(language)),
            data_json=json_block(data),
        )
    )
    return web.Response(text=text, content_type="text/html", headers=HEADERS)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/share", share_page)
