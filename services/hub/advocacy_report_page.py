"""The advocacy figures at the hub's dashboard (issue #16 item 6): `GET /reports/advocacy?month=YYYY-MM`
(the current month by default, or for a month the form cannot read), with the dashboard's session,
beside the inbox's figures (`/reports`), in the same style:

- the month's totals (shares received, refused, published; deliveries published; engagement);
- each agency's coverage of its required topics (covered of required, « — » when nothing is required
  of it), with its shares;
- a chart of the shares per topic (received and published), with the table of the same numbers and
  each topic's engagement; a table per story, per region and per network (a chart of the deliveries
  published per network, with its table);
- a link to the month's CSV: `GET /reports/advocacy.csv?month=YYYY-MM`, the CSV of
  `relais report --advocacy` and of `GET /v1/reports/advocacy`, with the session instead of a token.

Scope is the inbox report's: a regional moderator's figures are her region's agencies' only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from services.hub.advocacy_report import AdvocacyReport, AgencyFigures, Counts, Row, report_csv
from services.hub.advocacy_report_api import report_for
from services.hub.chart import bar_chart
from services.hub.dashboard import agency_registry
from services.hub.dashboard_html import ENGAGEMENT_NAMES, engagement_count, locale_of, page_response
from services.hub.inbox_report_page import month_of_query, signed_in_viewer
from services.hub.web_auth import who_is
from shared.i18n import N_, Words, words

__all__ = ["add_routes"]

# The engagement's names, the networks' "shares" said as reposts: on this page "shares" are the advocates'.
FIGURE_NAMES = {**ENGAGEMENT_NAMES, "shares": N_("reposts on the networks")}


def _counts(counts: Counts, language: Words) -> dict[str, Any]:
    """A group's numbers as the page shows them (a dash where no network gives a figure)."""
    return {
        "received": language.number(counts.shares),
        "invalid": language.number(counts.invalid),
        "rejected": language.number(counts.rejected),
        "published": language.number(counts.published),
        "deliveries": language.number(counts.deliveries),
        "engagement": [engagement_count(counts.engagement[name], language) for name in FIGURE_NAMES],
    }


def _coverage(agency: AgencyFigures, language: Words) -> str:
    if agency.coverage is None:
        return "—"  # nothing is required of this agency: not 100 %
    return language.gettext("%(covered)s of %(required)s (%(share)s %%)") % {
        "covered": language.number(len(agency.covered)),
        "required": language.number(len(agency.required)),
        "share": language.number(round(agency.coverage * 100)),
    }


def _topic_title(report: AdvocacyReport, topic: str, locale: str) -> str:
    titles = report.topic_titles.get(topic, {})
    return titles.get(locale) or titles.get("fr") or next(iter(titles.values()), topic)


def _charts(report: AdvocacyReport, language: Words, locale: str) -> tuple[str, str]:
    _ = language.gettext

    def tip(label: str, name: str, value: float) -> str:
        return _("%(label)s, %(name)s: %(count)s") % {
            "label": label,
            "name": name,
            "count": language.number(round(value)),
        }

    topics = bar_chart(
        [_topic_title(report, row.key["topic"], locale) for row in report.topics],
        [
            (_("shares received"), [float(row.counts.shares) for row in report.topics]),
            (_("shares published"), [float(row.counts.published) for row in report.topics]),
        ],
        label=_("Shares per topic this month: received and published"),
        tip=tip,
        empty=_("No share in this month."),
    )
    networks = bar_chart(
        [row.key["network"] for row in report.networks],
        [(_("deliveries published"), [float(row.counts.deliveries) for row in report.networks])],
        label=_("Deliveries of the shares published per network this month"),
        tip=tip,
        empty=_("No share in this month."),
    )
    return topics, networks


def _rows(rows: list[Row], language: Words) -> list[dict[str, Any]]:
    return [{"key": row.key, **_counts(row.counts, language)} for row in rows]


async def advocacy_page(request: web.Request) -> web.Response:
    viewer = signed_in_viewer(request)
    locale = locale_of(request)
    language = words(locale)
    _ = language.gettext
    period = month_of_query(request)
    month = period.start.strftime("%Y-%m")
    report = report_for(request, period, viewer.claims)
    topics_chart, networks_chart = _charts(report, language, locale)
    names = {k["region"]: k["region_name"] or k["region"] for k in agency_registry(request).values()}
    agency_names = {a: k["name"] or a for a, k in agency_registry(request).items()}
    return page_response(
        request,
        "advocacy_report.html",
        title=_("Advocacy figures"),
        heading=_("Advocacy figures"),
        current="advocacy-report",
        who=who_is(request, viewer),
        csrf=viewer.csrf,
        month=month,
        period=f"{language.day(period.start)} – {language.day(period.end - timedelta(days=1))}",
        total=_counts(report.total, language),
        figure_names=[_(name) for name in FIGURE_NAMES.values()],
        agencies=[
            {
                "name": agency_names.get(a.agency, a.agency),
                "region": names.get(a.region, a.region),
                "coverage": _coverage(a, language),
                "missing": ", ".join(
                    _topic_title(report, topic, locale) for topic in a.required if topic not in a.covered
                ),
                **_counts(a.counts, language),
            }
            for a in report.agencies
        ],
        topics=[
            {
                **row,
                "title": _topic_title(report, row["key"]["topic"], locale),
                "required": row["key"]["required"] == "yes",
            }
            for row in _rows(report.topics, language)
        ],
        stories=[
            {**row, "topic_title": _topic_title(report, row["key"]["topic"], locale)}
            for row in _rows(report.stories, language)
        ],
        regions=[
            {**row, "name": names.get(row["key"]["region"], row["key"]["region"])}
            for row in _rows(report.regions, language)
        ],
        networks=_rows(report.networks, language),
        topics_chart=topics_chart,
        networks_chart=networks_chart,
        csv_link=f"/reports/advocacy.csv?month={month}",
    )


async def advocacy_csv(request: web.Request) -> web.Response:
    viewer = signed_in_viewer(request)
    period = month_of_query(request)
    name = f"relais-advocacy-{period.start.strftime('%Y-%m')}.csv"
    return web.Response(
        text=report_csv(report_for(request, period, viewer.claims)),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/reports/advocacy", advocacy_page)
    app.router.add_get("/reports/advocacy.csv", advocacy_csv)
