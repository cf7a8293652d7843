"""`GET /v1/reports/advocacy` at the hub: the advocacy figures (services/hub/advocacy_report.py) for a
month or a period of whole days, as JSON, or as the CSV `relais report --advocacy` writes (one row per
agency; `format=csv` or `Accept: text/csv`).

Scope is the inbox report's (services/hub/scope.py): moderators, ops and admins read; a regional
moderator's report holds her region's agencies only (their shares, coverage and engagement, and the
totals), whatever the query says. Agencies and regions are the page registry's (the hub's mirror).
"""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from services.hub.advocacy_report import (
    AdvocacyReport,
    AgencyFigures,
    Counts,
    advocacy_report,
    hub_zone,
    report_csv,
)
from services.hub.inbox_report import ENGAGEMENT_FIGURES, Period
from services.hub.inbox_report_api import (
    CSV,
    PERIOD_PARAMETERS,
    PERIOD_REFUSED,
    SETTINGS,
    Format,
    QueryRefused,
    period_of_query,
    query_choice,
)
from services.hub.keys import DATABASE, MIRROR, PUBLIC_KEY
from services.hub.scope import READERS, in_scope
from shared.api_contract import Answer, Operation, Parameter, typed_json
from shared.tokens import Claims
from shared.web import bearer_claims, json_error

__all__ = ["OPERATIONS", "add_routes", "report_for"]


class FiguresRow(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A group's figures, `key` naming it (empty for the total). Engagement is each published
    delivery's latest age (7d, 24h, 1h) summed; None where no delivery gives the figure (never 0)."""

    key: dict[str, str]
    shares_received: int  # every share that reached the hub
    shares_invalid: int  # refused by the near-duplicate check
    shares_rejected: int  # refused by a moderator
    shares_published: int  # not refused, at least one delivery published
    deliveries_published: int
    likes: int | None
    shares: int | None  # reposts on the networks
    replies: int | None
    views: int | None


class AgencyRow(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    agency: str
    region: str
    figures: FiguresRow
    required_topics: list[str]  # required, and the agency is in their audience
    covered_topics: list[str]  # of those, with a published share from the agency in the period
    coverage: float | None  # covered / required; None when nothing is required of it


class ShareRow(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One share (the advocate is left out: the figures are per story, topic and agency)."""

    post_id: str
    story: str
    topic: str
    agency: str
    region: str
    networks: list[str]
    status: str  # received, invalid, approved, queued, rejected
    received_at: str
    deliveries_published: int
    likes: int | None
    shares: int | None
    replies: int | None
    views: int | None


class AdvocacyReportView(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    period_start: str  # YYYY-MM-DD
    period_end: str  # YYYY-MM-DD, excluded
    zone: str  # the hub's, in which a share's day of arrival is read
    total: FiguresRow
    stories: list[FiguresRow]  # key: story, topic
    topics: list[FiguresRow]  # key: topic, required (yes/no)
    agencies: list[AgencyRow]  # every agency of the registry in scope, and each that shared
    regions: list[FiguresRow]  # key: region
    months: list[FiguresRow]  # key: month (YYYY-MM)
    networks: list[FiguresRow]  # key: network (a share counts in each network it went to)
    shares: list[ShareRow]  # by arrival


OPERATIONS = [
    Operation(
        "GET",
        "/v1/reports/advocacy",
        "The advocacy figures for a month (default: this one) or from a day to another (excluded): shares per"
        " story, topic, agency, region, month and network, deliveries published and their engagement, each"
        " share's engagement, and each agency's coverage of its required topics (a regional moderator's"
        " region only); the CSV of `relais report --advocacy` with format=csv or Accept: text/csv",
        {
            200: Answer(
                "the report (JSON, or the CSV: one row per agency)",
                AdvocacyReportView,
                text_alternatives=(CSV,),
            ),
            403: Answer("forbidden: this role may not do this"),
            422: PERIOD_REFUSED,
        },
        parameters=[
            *PERIOD_PARAMETERS,
            Parameter("format", Format, "json (default, unless Accept asks for text/csv) or csv"),
        ],
        tags=("api",),
    ),
]


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/reports/advocacy", get_advocacy_report)


def report_for(request: web.Request, period: Period, claims: Claims) -> AdvocacyReport:
    """The period's figures as this reader may see them (the registry's agencies, her scope)."""
    return advocacy_report(
        request.app[DATABASE],
        period,
        hub_zone(request.app[SETTINGS].calendars),
        known_agencies=request.app[MIRROR].agencies(),
        agencies=lambda agency: in_scope(request, claims, agency),
    )


async def get_advocacy_report(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], READERS)
    query = request.query
    try:
        period = period_of_query(query.get("month"), query.get("from"), query.get("to"))
        accept = request.headers.get("Accept", "")
        answer = query_choice(query, "format", ("json", "csv"), "csv" if CSV in accept else "json")
    except QueryRefused as refused:
        return json_error(422, refused.code, refused.message, refused.field)
    report = report_for(request, period, claims)
    if answer == "csv":
        name = f"relais-advocacy-{period.start.isoformat()}-{period.end.isoformat()}.csv"
        return web.Response(
            text=report_csv(report),
            content_type=CSV,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return typed_json(view(report, str(hub_zone(request.app[SETTINGS].calendars))), AdvocacyReportView)


def figures_row(key: dict[str, str], counts: Counts) -> dict[str, Any]:
    return {
        "key": key,
        "shares_received": counts.shares,
        "shares_invalid": counts.invalid,
        "shares_rejected": counts.rejected,
        "shares_published": counts.published,
        "deliveries_published": counts.deliveries,
        **{name: counts.engagement[name] for name in ENGAGEMENT_FIGURES},
    }


def _agency(agency: AgencyFigures) -> dict[str, Any]:
    return {
        "agency": agency.agency,
        "region": agency.region,
        "figures": figures_row({"agency": agency.agency, "region": agency.region}, agency.counts),
        "required_topics": list(agency.required),
        "covered_topics": list(agency.covered),
        "coverage": agency.coverage,
    }


def view(report: AdvocacyReport, zone: str) -> dict[str, Any]:
    return {
        "period_start": report.period.start.isoformat(),
        "period_end": report.period.end.isoformat(),
        "zone": zone,
        "total": figures_row({}, report.total),
        **{
            name: [figures_row(dict(row.key), row.counts) for row in getattr(report, name)]
            for name in ("stories", "topics", "regions", "months", "networks")
        },
        "agencies": [_agency(agency) for agency in report.agencies],
        "shares": [
            {
                "post_id": item.share.post_id,
                "story": item.share.story,
                "topic": item.share.topic,
                "agency": item.share.agency,
                "region": item.region,
                "networks": list(item.share.networks),
                "status": item.share.status,
                "received_at": item.share.received_at.isoformat(),
                "deliveries_published": len(item.deliveries),
                **item.engagement,
            }
            for item in report.shares
        ],
    }
