"""The inbox's figures at the hub's dashboard (issue #15 item 6): `GET /reports?month=YYYY-MM` (the
current month by default, or for a month the form cannot read), with the dashboard's session:

- the month's totals (questions, answered, share within the target, first-response p50/p90 in
  business and in all hours, posts published, views);
- charts of each ISO week's p50/p90 (business hours) and share within the target, each with the table
  of the same numbers (the chart is an image to a screen reader; the table is what it reads);
- a row per region, and a link to the month's CSV: `GET /reports/inbox.csv?month=YYYY-MM`, the CSV
  of `relais report` and of `GET /v1/reports/inbox`, with the session instead of a token;
- the engagement read back from the networks (each delivery's latest age): a chart per figure some
  network gave this month, by ISO week of publication, with the table of its numbers, and a row per
  network; « – » where no network gives a figure (never 0, which would be a count).

Scope is the inbox's (services/hub/scope.py): a regional moderator's figures are her region's
agencies' only, the totals and the CSV included.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from services.hub.chart import bar_chart
from services.hub.dashboard import agency_registry
from services.hub.dashboard_html import ENGAGEMENT_NAMES, engagement_count, locale_of, page_response
from services.hub.inbox_report import Group, Period, Report, inbox_report, report_csv
from services.hub.inbox_report_api import MONTH_PATTERN, SETTINGS
from services.hub.keys import DATABASE, MIRROR
from services.hub.scope import in_scope
from services.hub.web_auth import Viewer, viewer_of, who_is
from shared.i18n import N_, Words, words

__all__ = ["add_routes", "month_of_query", "signed_in_viewer"]

CHART_NAMES = {  # each engagement chart's name, in words (the chart is an image to a screen reader)
    "views": N_("Views of the posts published, per ISO week of publication"),
    "likes": N_("Likes of the posts published, per ISO week of publication"),
    "shares": N_("Shares or reposts of the posts published, per ISO week of publication"),
    "replies": N_("Replies to the posts published, per ISO week of publication"),
}


def month_of_query(request: web.Request) -> Period:
    """The query's month; the current one (UTC) when it has none or one it cannot read."""
    text = request.query.get("month", "")
    if re.fullmatch(MONTH_PATTERN, text):
        try:
            return Period.month(int(text[:4]), int(text[5:]))
        except ValueError:  # a year out of bounds
            pass
    today = datetime.now(UTC).date()
    return Period.month(today.year, today.month)


def signed_in_viewer(request: web.Request) -> Viewer:
    viewer = viewer_of(request)
    if viewer is None:  # the access middleware sends a person without a session to sign in first
        raise web.HTTPSeeOther("/login")
    return viewer


def _report(request: web.Request, viewer: Viewer, period: Period, grouping: str) -> Report:
    settings = request.app[SETTINGS]
    return inbox_report(
        request.app[DATABASE],
        period,
        settings.calendars,
        grouping=grouping,
        target=settings.target,
        regions=request.app[MIRROR].region_of,
        agencies=lambda agency: in_scope(request, viewer.claims, agency),
    )


def _figures(group: Group, language: Words) -> dict[str, Any]:
    """A group's numbers as the page shows them (a dash where there is none)."""
    figures = group.figures
    share = figures.within_target_share

    def minutes(value: float | None) -> str:
        return "–" if value is None else language.number(round(value))

    return {
        "key": group.key,
        "posts": language.number(group.posts_published),
        "questions": language.number(figures.questions),
        "answered": language.number(figures.answered),
        "within": language.gettext("%(within)s of %(decided)s")
        % {"within": language.number(figures.within_target), "decided": language.number(figures.decided)},
        "share": "–" if share is None else f"{language.number(round(share * 100, 1))} %",
        "within_all_hours": language.number(figures.within_target_all_hours),
        "p50": minutes(figures.p50_business_min),
        "p90": minutes(figures.p90_business_min),
        "p50_all": minutes(figures.p50_all_hours_min),
        "p90_all": minutes(figures.p90_all_hours_min),
        "views": engagement_count(group.engagement["views"], language),
        "engagement": [engagement_count(group.engagement[name], language) for name in ENGAGEMENT_NAMES],
    }


def _charts(weeks: Report, language: Words) -> tuple[str, str]:
    _ = language.gettext
    labels = [group.key["week"] for group in weeks.groups]
    p50, p90 = _("median (p50)"), _("90th percentile (p90)")
    within = _("answered within the target")
    times = bar_chart(
        labels,
        [
            (p50, [g.figures.p50_business_min for g in weeks.groups]),
            (p90, [g.figures.p90_business_min for g in weeks.groups]),
        ],
        label=_("First response per week, in minutes of business hours: median and 90th percentile"),
        tip=lambda week, name, value: (
            _("%(week)s, %(name)s: %(minutes)s min")
            % {"week": week, "name": name, "minutes": language.number(round(value))}
        ),
        empty=_("No question answered in this month."),
    )
    shares = bar_chart(
        labels,
        [
            (
                within,
                [
                    None if g.figures.within_target_share is None else g.figures.within_target_share * 100
                    for g in weeks.groups
                ],
            )
        ],
        label=_("Share of the questions answered within the target, per week, in percent"),
        tip=lambda week, name, value: (
            _("%(week)s, %(name)s: %(share)s %%")
            % {"week": week, "name": name, "share": language.number(round(value, 1))}
        ),
        empty=_("No question decided in this month."),
        top=100.0,
    )
    return times, shares


def _engagement_charts(published: list[Group], language: Words) -> list[str]:
    """A chart per figure some delivery of the month gave, by ISO week of publication."""
    _ = language.gettext
    labels = [group.key["week"] for group in published]
    charts = []
    for name, chart_name in CHART_NAMES.items():
        counts = [group.engagement[name] for group in published]
        if all(count is None for count in counts):
            continue  # no network gave it this month: no empty chart
        charts.append(
            bar_chart(
                labels,
                [(_(ENGAGEMENT_NAMES[name]), [None if c is None else float(c) for c in counts])],
                label=_(chart_name),
                tip=lambda week, figure, value: (
                    _("%(week)s, %(name)s: %(count)s")
                    % {"week": week, "name": figure, "count": language.number(round(value))}
                ),
                empty="",
            )
        )
    return charts


async def reports_page(request: web.Request) -> web.Response:
    viewer = signed_in_viewer(request)
    language = words(locale_of(request))
    _ = language.gettext
    period = month_of_query(request)
    month = period.start.strftime("%Y-%m")
    total = _report(request, viewer, period, "region")
    weeks = _report(request, viewer, period, "week")
    times, shares = _charts(weeks, language)
    published = [group for group in weeks.groups if group.posts_published]
    networks = _report(request, viewer, period, "network")
    names = {k["region"]: k["region_name"] or k["region"] for k in agency_registry(request).values()}
    target = language.duration(request.app[SETTINGS].target)
    return page_response(
        request,
        "reports.html",
        title=_("Inbox figures"),
        heading=_("Inbox figures"),
        current="reports",
        who=who_is(request, viewer),
        csrf=viewer.csrf,
        month=month,
        period=f"{language.day(period.start)} – {language.day(period.end - timedelta(days=1))}",
        target=target,
        total=_figures(total.total, language),
        regions=[
            {**_figures(group, language), "name": names.get(group.key["region"], group.key["region"])}
            for group in total.groups
        ],
        weeks=[_figures(group, language) for group in weeks.groups],
        times_chart=times,
        shares_chart=shares,
        figure_names=[_(name) for name in ENGAGEMENT_NAMES.values()],
        engagement_charts=_engagement_charts(published, language),
        published_weeks=[_figures(group, language) for group in published],
        networks=[_figures(group, language) for group in networks.groups if group.posts_published],
        csv_link=f"/reports/inbox.csv?month={month}",
    )


async def reports_csv(request: web.Request) -> web.Response:
    viewer = signed_in_viewer(request)
    period = month_of_query(request)
    name = f"relais-inbox-{period.start.strftime('%Y-%m')}.csv"
    return web.Response(
        text=report_csv(_report(request, viewer, period, "agency_network")),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/reports", reports_page)
    app.router.add_get("/reports/inbox.csv", reports_csv)
