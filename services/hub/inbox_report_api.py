"""`GET /v1/reports/inbox` at the hub: the inbox's report (services/hub/inbox_report.py) for a month
or a period of whole days, as JSON grouped by agency and network, region, network or ISO week, or
as the CSV `relais report` writes (`format=csv` or `Accept: text/csv`).

Scope is the inbox's (services/hub/scope.py): moderators, ops and admins read; a regional moderator's
report holds her region's agencies only, in its groups and its total, whatever the query says.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import msgspec
from aiohttp import web

from services.hub.inbox_report import (
    ENGAGEMENT_FIGURES,
    GROUPINGS,
    Group,
    Period,
    Report,
    inbox_report,
    report_csv,
)
from services.hub.inbox_settings import InboxSettings
from services.hub.keys import DATABASE, MIRROR, PUBLIC_KEY
from services.hub.scope import READERS, in_scope
from shared.api_contract import Answer, Operation, Parameter, typed_json
from shared.web import bearer_claims, json_error

__all__ = [
    "OPERATIONS",
    "PERIOD_PARAMETERS",
    "PERIOD_REFUSED",
    "QueryRefused",
    "add_routes",
    "period_of_query",
    "query_choice",
]

SETTINGS = web.AppKey("inbox_report_settings", InboxSettings)
MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
DAY_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
CSV = "text/csv"

Month = Annotated[str, msgspec.Meta(pattern=MONTH_PATTERN)]
Day = Annotated[str, msgspec.Meta(pattern=DAY_PATTERN)]
Grouping = Literal["agency_network", "region", "network", "week"]
Format = Literal["json", "csv"]


class ReportRow(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A group's figures (the CSV's columns), `key` naming the group (`agency`, `network`, `region`
    and/or `week`; empty for the total). Minutes are of first responses; None where there is none."""

    key: dict[str, str]
    posts_published: int
    questions: int
    answered: int
    decided: int  # answered, or unanswered past the deadline
    within_target: int
    within_target_share: float | None  # within_target / decided
    within_target_all_hours: int
    p50_business_min: float | None
    p90_business_min: float | None
    p50_all_hours_min: float | None
    p90_all_hours_min: float | None
    likes: int | None
    shares: int | None
    replies: int | None
    views: int | None


class InboxReportView(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    period_start: str  # YYYY-MM-DD
    period_end: str  # YYYY-MM-DD, excluded
    target_minutes: int  # of business time
    group: Grouping
    total: ReportRow
    groups: list[ReportRow]  # sorted by key


# What every report's API takes and refuses about its period (the inbox's, the advocacy figures').
PERIOD_PARAMETERS = (
    Parameter("month", Month, "YYYY-MM (neither this nor from/to: the current month, UTC)"),
    Parameter("from", Day, "YYYY-MM-DD, the first day (with to; not with month)"),
    Parameter("to", Day, "YYYY-MM-DD, the day after the last (excluded)"),
)
PERIOD_REFUSED = Answer(
    "invalid_value (a parameter's form), invalid_datetime (a day past its month's end),"
    " invalid_period (month with from/to, from without to, an end not after the start)"
)

OPERATIONS = [
    Operation(
        "GET",
        "/v1/reports/inbox",
        "The inbox's figures for a month (default: this one) or from a day to another (excluded): questions,"
        " answered, share within the target, first-response p50/p90, posts published and their engagement,"
        " grouped (a regional moderator's region only); the CSV of `relais report` with format=csv or"
        " Accept: text/csv",
        {
            200: Answer(
                "the report (JSON, or the CSV: one row per agency and network)",
                InboxReportView,
                text_alternatives=(CSV,),
            ),
            403: Answer("forbidden: this role may not do this"),
            422: PERIOD_REFUSED,
        },
        parameters=[
            *PERIOD_PARAMETERS,
            Parameter(
                "group", Grouping, "the JSON's groups (default agency_network); the CSV's are always that"
            ),
            Parameter("format", Format, "json (default, unless Accept asks for text/csv) or csv"),
        ],
        tags=("api",),
    ),
]


class QueryRefused(Exception):
    """A report's query parameter refused: answered 422 with its code and field."""

    def __init__(self, code: str, message: str, field: str) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


def add_routes(app: web.Application, settings: InboxSettings) -> None:
    app[SETTINGS] = settings
    app.router.add_get("/v1/reports/inbox", get_inbox_report)


async def get_inbox_report(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], READERS)
    query = request.query
    try:
        period = period_of_query(query.get("month"), query.get("from"), query.get("to"))
        grouping = query_choice(query, "group", GROUPINGS, "agency_network")
        answer = query_choice(
            query, "format", ("json", "csv"), "csv" if CSV in request.headers.get("Accept", "") else "json"
        )
    except QueryRefused as refused:
        return json_error(422, refused.code, refused.message, refused.field)
    settings, mirror = request.app[SETTINGS], request.app[MIRROR]

    def report(grouping: str) -> Report:
        return inbox_report(
            request.app[DATABASE],
            period,
            settings.calendars,
            grouping=grouping,
            target=settings.target,
            regions=mirror.region_of,
            agencies=lambda agency: in_scope(request, claims, agency),
        )

    if answer == "csv":
        name = f"relais-inbox-{period.start.isoformat()}-{period.end.isoformat()}.csv"
        return web.Response(
            text=report_csv(report("agency_network")),
            content_type=CSV,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return typed_json(_view(report(grouping), grouping), InboxReportView)


def period_of_query(month: str | None, start: str | None, end: str | None) -> Period:
    if month is not None:
        if start is not None or end is not None:
            raise QueryRefused("invalid_period", "give month, or from and to, not both", "month")
        if re.fullmatch(MONTH_PATTERN, month) is None:
            raise QueryRefused("invalid_value", f"a month as YYYY-MM, got {month!r}", "month")
        return _checked(lambda: Period.month(int(month[:4]), int(month[5:])), "month")
    if start is None and end is None:
        today = datetime.now(UTC).date()
        return Period.month(today.year, today.month)
    if start is None or end is None:
        field = "from" if start is None else "to"
        raise QueryRefused("invalid_period", "give both from and to (the end excluded)", field)
    first, after = _day(start, "from"), _day(end, "to")
    if after <= first:
        raise QueryRefused(
            "invalid_period", f"to ({end}) must be after from ({start}): the end is excluded", "to"
        )
    return _checked(lambda: Period(first, after), "from")


def _checked(make: Any, field: str) -> Period:
    try:
        period: Period = make()
    except ValueError as exc:
        raise QueryRefused("invalid_period", str(exc), field) from None
    return period


def _day(text: str, field: str) -> date:
    if re.fullmatch(DAY_PATTERN, text) is None:
        raise QueryRefused("invalid_value", f"a day as YYYY-MM-DD, got {text!r}", field)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise QueryRefused("invalid_datetime", f"{text} is no day of the calendar", field) from None


def query_choice(query: Any, field: str, allowed: tuple[str, ...], default: str) -> str:
    value: str = query.get(field, default)
    if value not in allowed:
        raise QueryRefused("invalid_value", f"{field}: one of {', '.join(allowed)}, got {value!r}", field)
    return value


def _row(group: Group) -> dict[str, Any]:
    figures = group.figures
    return {
        "key": dict(group.key),
        "posts_published": group.posts_published,
        "questions": figures.questions,
        "answered": figures.answered,
        "decided": figures.decided,
        "within_target": figures.within_target,
        "within_target_share": figures.within_target_share,
        "within_target_all_hours": figures.within_target_all_hours,
        "p50_business_min": figures.p50_business_min,
        "p90_business_min": figures.p90_business_min,
        "p50_all_hours_min": figures.p50_all_hours_min,
        "p90_all_hours_min": figures.p90_all_hours_min,
        **{name: group.engagement[name] for name in ENGAGEMENT_FIGURES},
    }


def _view(report: Report, grouping: str) -> dict[str, Any]:
    return {
        "period_start": report.period.start.isoformat(),
        "period_end": report.period.end.isoformat(),
        "target_minutes": round(report.target.total_seconds() / 60),
        "group": grouping,
        "total": _row(report.total),
        "groups": [_row(group) for group in report.groups],
    }
