"""The hub's pages, rendered from Jinja2 templates (services/hub/templates) in the viewer's language.

Autoescaping is always on, so every text that came from outside (post text, names, reasons,
errors) is escaped by the templates. Rows carry `data-post-id` and status cells
`data-field="status"` so that the page's script can update them from the live feed without a
reload; the script's words come from the catalog too, in a JSON block of the page.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any

from aiohttp import web
from jinja2 import Template
from markupsafe import Markup

from services.hub.chart import hourly_chart
from services.hub.dashboard_data import error_message
from shared.i18n import ERROR_CODES, N_, STATUSES, Words, words
from shared.i18n.templates import environment
from shared.i18n.web import locale_of  # the hub's and the nodes' one choice of language
from shared.post_input import MAX_TEXT_CHARS
from shared.statuses import DELIVERY_RANK, DELIVERY_TERMINAL, POST_RANK, POST_TERMINAL

__all__ = [
    "CSP",
    "ENGAGEMENT_NAMES",
    "agencies_section",
    "calendar_section",
    "campaign_section",
    "chart_section",
    "engagement_count",
    "failures_section",
    "fragment_response",
    "live_section",
    "locale_of",
    "page_response",
    "posts_section",
    "queue_section",
    "reauth_section",
    "script_strings",
    "stats_section",
    "throttled_section",
]

POST_ORDER = (*POST_RANK, *POST_TERMINAL)
# A national campaign on a failing network opens hundreds of dead letters at once: the dashboard
# shows a list's first rows and links to the dead letters page, which has them all.
DASHBOARD_ROWS = 20
DELIVERY_ORDER = (*DELIVERY_RANK, *DELIVERY_TERMINAL)
# Scripts and styles only from the hub itself; no framing, forms post only back to the hub.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# The figures the networks give back about a delivery (issue #15 item 6), in the order pages show them,
# and the ages they are measured at (shared.schemas.ENGAGEMENT_AGES).
ENGAGEMENT_NAMES = {
    "views": N_("views"),
    "likes": N_("likes"),
    "shares": N_("shares or reposts"),
    "replies": N_("replies"),
}
ENGAGEMENT_AGE_NAMES = {"1h": N_("after 1 hour"), "24h": N_("after 24 hours"), "7d": N_("after 7 days")}
HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


def _template(locale: str, name: str) -> Template:
    return environment("services.hub", locale).get_template(name)


def page_response(request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
    """A whole page from template `name`, in the viewer's language."""
    text = _template(locale_of(request), name).render(error_message=error_message, **context)
    return web.Response(text=text, status=status, content_type="text/html", headers=HEADERS)


def fragment_response(body: str, status: int = 200) -> web.Response:
    """A fragment (one dashboard section) with the same headers as the pages."""
    return web.Response(text=body, status=status, content_type="text/html", headers=HEADERS)


def _sections(locale: str) -> Any:
    """The sections' macros (sections.html), callable from here."""
    language = words(locale)
    return _template(locale, "sections.html").make_module(
        {"error_message": error_message, "column_words": lambda keys: [language.status(k) for k in keys]}
    )


def stats_section(locale: str, posts: dict[str, Counter[str]], deliveries: dict[str, Counter[str]]) -> str:
    totals: Counter[str] = sum(posts.values(), Counter())
    module = _sections(locale)

    def present(counts: dict[str, Counter[str]], order: tuple[str, ...]) -> list[str]:
        return [s for s in order if any(c[s] for c in counts.values())]

    return str(
        module.stats(
            totals,
            POST_ORDER,
            posts,
            present(posts, POST_ORDER),
            deliveries,
            present(deliveries, DELIVERY_ORDER),
        )
    )


def queue_section(locale: str, items: list[dict[str, Any]], csrf: str, can_act: bool) -> str:
    return str(_sections(locale).queue(items, csrf, can_act, MAX_TEXT_CHARS))


def posts_section(locale: str, posts: list[dict[str, Any]]) -> str:
    return str(_sections(locale).posts(posts, DELIVERY_ORDER))


def live_section(locale: str) -> str:
    return str(_sections(locale).live())


def agencies_section(
    locale: str, groups: list[dict[str, Any]], search: str, link: str, filtered: bool
) -> str:
    return str(_sections(locale).agencies(groups, search, link, filtered))


def campaign_section(locale: str, view: dict[str, Any], registry: dict[str, dict[str, str]]) -> str:
    """A post's deliveries counted per network and status, then a tree by region and agency, with
    the registry's names for regions and agencies."""
    columns = [s for s in DELIVERY_ORDER if any(c[s] for c in view["by_network"].values())]
    regions = {known["region"]: known["region_name"] for known in registry.values() if known["region_name"]}
    agencies = {agency: known["name"] for agency, known in registry.items() if known["name"]}
    language = words(locale)

    def counts(figures: dict[str, Any]) -> list[str]:
        return [engagement_count(figures[name], language) for name in ENGAGEMENT_NAMES]

    engagement = [
        (network, language.number(sums["measured"]), counts(sums))
        for network, sums in view["engagement"].items()
    ]
    figures = [
        {**row, "age": language.gettext(ENGAGEMENT_AGE_NAMES[row["age"]]), "counts": counts(row)}
        for row in view["figures"]
    ]
    names = [language.gettext(name) for name in ENGAGEMENT_NAMES.values()]
    return str(_sections(locale).campaign(view, columns, regions, agencies, engagement, figures, names))


def engagement_count(value: int | None, language: Words) -> str:
    """A figure as pages show it: a dash where the network gives none (never 0, which is a count)."""
    return "–" if value is None else language.number(value)


def _first(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """A list's first `DASHBOARD_ROWS` rows and how many more the dead letters page has."""
    return rows[:DASHBOARD_ROWS], max(0, len(rows) - DASHBOARD_ROWS)


def failures_section(
    locale: str, letters: list[dict[str, Any]], failed: list[dict[str, Any]], csrf: str, can_retry: bool
) -> str:
    shown, hidden = _first(letters)
    return str(_sections(locale).failures(shown, failed, csrf, can_retry, hidden))


def reauth_section(locale: str, pages: list[dict[str, Any]]) -> str:
    return str(_sections(locale).reauth(*_first(pages)))


def throttled_section(locale: str, pages: list[dict[str, Any]]) -> str:
    return str(_sections(locale).throttled(*_first(pages)))


def calendar_section(locale: str, days: list[tuple[date, list[dict[str, Any]]]]) -> str:
    return str(_sections(locale).calendar(days))


def chart_section(locale: str, hours: list[str], per_network: dict[str, dict[str, int]]) -> str:
    language = words(locale)
    display = [language.hour(datetime.fromisoformat(f"{h}:00+00:00")) for h in hours]
    return hourly_chart(
        hours,
        display,
        per_network,
        label=language.ngettext(
            "Deliveries published per hour, last %(num)d hour, by network",
            "Deliveries published per hour, last %(num)d hours, by network",
            len(hours),
        )
        % {"num": len(hours)},
        tip=lambda hour, n, network: (
            language.gettext("%(hour)s: %(num)s on %(network)s")
            % {"hour": hour, "num": language.number(n), "network": network}
        ),
        empty=language.gettext("No delivery published in these hours."),
    )


def script_strings(locale: str) -> dict[str, Any]:
    """The words the dashboard's script shows, from the catalog (a JSON block in the page)."""
    language = words(locale)
    _ = language.gettext
    return {
        "statuses": {key: language.status(key) for key in STATUSES},
        "errors": {code: language.error(code) for code in ERROR_CODES},
        "live": _("Live"),
        "connecting": _("Connecting…"),
        "reconnecting": _("Reconnecting…"),
        "signedOut": _("Signed out: reload the page to sign in again."),
        "done": _("Done."),
        "refused": _("Refused (%(status)s)."),
        "noAnswer": _("The hub did not answer; try again."),
    }


def markup(html: str) -> Markup:
    """A section already rendered by a template (escaped there), placed in the page as it is."""
    return Markup(html)
