"""The inbox's report (issue #15 item 6): for a period, the response figures of the questions asked
(`shared.inbox_figures`), the deliveries published and their engagement, grouped by agency and
network (the CSV's rows), by region, by network or by ISO week. Pure over hub.db: the hub's API and
`relais report` (which opens hub.db read-only) give the same numbers.

What falls in a period [start, end) (dates, the end excluded):
- a question (`inbox_questions`, one per clock) by the date it was asked, in its calendar's zone
  (a question asked on 31 December at 23:30 in Paris is December's), however late it was answered;
- a delivery (one post on one page) by the instant of its first `delivery.published` audit entry, in
  UTC; the inbox's replies are not posts and are left out;
- a delivery's engagement is its latest age's figures (`delivery_engagement`: 7d, else 24h, else
  1h); a figure no delivery of a group gives is None (never 0).
The region is the one stored with each question; elsewhere (deliveries, questions stored before
regions were) the agency's region as the caller knows it, else as the latest question knows it.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import sqlite_utils

from shared.business_hours import Calendar, Calendars
from shared.inbox_figures import DEFAULT_TARGET, Question, ResponseFigures, iso_week, response_figures
from shared.schemas import DEFAULT_PAGE_CALENDAR, ENGAGEMENT_AGES

__all__ = [
    "CSV_COLUMNS",
    "EARLIEST",
    "ENGAGEMENT_FIGURES",
    "GROUPINGS",
    "LATEST",
    "Group",
    "Period",
    "Report",
    "csv_row",
    "engagement_sums",
    "inbox_report",
    "report_csv",
]

GROUPINGS = ("agency_network", "region", "network", "week")
ENGAGEMENT_FIGURES = ("likes", "shares", "replies", "views")
CSV_COLUMNS = (
    "period_start",
    "period_end",
    "region",
    "agency",
    "network",
    "posts_published",
    "questions",
    "answered",
    "decided",
    "within_target",
    "within_target_share",
    "within_target_all_hours",
    "p50_business_min",
    "p90_business_min",
    "p50_all_hours_min",
    "p90_all_hours_min",
    *ENGAGEMENT_FIGURES,
)
# A question's local date is known only once its calendar's zone is: the rows read from the
# database are those within a day of the period in UTC, then filtered in the zone.
_ZONE_MARGIN = timedelta(days=1)
EARLIEST, LATEST = date(1970, 1, 1), date(9000, 1, 1)  # far from datetime's limits, margins included


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # excluded

    def __post_init__(self) -> None:
        if self.start < EARLIEST or self.end > LATEST:
            raise ValueError(f"a period from {EARLIEST} to {LATEST} at most")
        if self.end <= self.start:
            raise ValueError(f"the period ends ({self.end}) no later than it starts ({self.start})")

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        following = date(year + month // 12, month % 12 + 1, 1)
        return cls(date(year, month, 1), following)

    def utc_bounds(self, margin: timedelta = timedelta(0)) -> tuple[str, str]:
        """The bounds in UTC as text that compares with any stored UTC instant (`…Z`, `…+00:00`, with
        or without fractions): a prefix of every instant of its second."""
        start = datetime.combine(self.start, time()) - margin
        end = datetime.combine(self.end, time()) + margin
        return start.isoformat(timespec="seconds"), end.isoformat(timespec="seconds")


@dataclass(frozen=True)
class Group:
    """One row of a grouping: its key (`agency`, `network`, `region` or `week` as the grouping has
    them), the deliveries published, the response figures and the engagement sums."""

    key: Mapping[str, str]
    posts_published: int
    figures: ResponseFigures
    engagement: Mapping[str, int | None]


@dataclass(frozen=True)
class Report:
    period: Period
    target: timedelta
    total: Group
    groups: list[Group] = field(default_factory=list)


@dataclass(frozen=True)
class _Delivery:
    agency: str
    region: str
    network: str
    published: datetime
    engagement: Mapping[str, int | None]


@dataclass(frozen=True)
class _Keys:
    """How a grouping names each question's and each delivery's group."""

    names: tuple[str, ...]
    of_question: Callable[[Question], tuple[str, ...]]
    of_delivery: Callable[[_Delivery], tuple[str, ...]]


def _utc_week(instant: datetime) -> str:
    year, week, _ = instant.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


_KEYS = {
    "agency_network": _Keys(
        ("region", "agency", "network"),
        lambda q: (q.region, q.agency, q.network),
        lambda d: (d.region, d.agency, d.network),
    ),
    "region": _Keys(("region",), lambda q: (q.region,), lambda d: (d.region,)),
    "network": _Keys(("network",), lambda q: (q.network,), lambda d: (d.network,)),
    "week": _Keys(("week",), lambda q: (iso_week(q),), lambda d: (_utc_week(d.published),)),
}


def inbox_report(
    db: sqlite_utils.Database,
    period: Period,
    calendars: Calendars,
    *,
    grouping: str = "agency_network",
    target: timedelta = DEFAULT_TARGET,
    as_of: datetime | None = None,
    regions: Callable[[str], str | None] = lambda agency: None,
    agencies: Callable[[str], bool] = lambda agency: True,
) -> Report:
    """The report of `period`, its groups sorted by key. `as_of` (default now) decides which
    unanswered questions are past their deadline; `regions` gives an agency's region (the page
    registry's); `agencies` says which agencies' figures the reader may see (the others are left
    out of the groups and of the total)."""
    if grouping not in _KEYS:
        raise ValueError(f"grouping {grouping!r}: one of {', '.join(GROUPINGS)}")
    as_of = as_of or datetime.now(UTC)
    known = _latest_regions(db)

    def region_of(agency: str, stored: str = "") -> str:
        return stored or regions(agency) or known.get(agency, "")

    asked = [q for q in _questions(db, period, calendars, region_of) if agencies(q.agency)]
    published = [d for d in _deliveries(db, period, region_of) if agencies(d.agency)]
    keys = _KEYS[grouping]
    by_question: dict[tuple[str, ...], list[Question]] = defaultdict(list)
    by_delivery: dict[tuple[str, ...], list[_Delivery]] = defaultdict(list)
    for question in asked:
        by_question[keys.of_question(question)].append(question)
    for delivery in published:
        by_delivery[keys.of_delivery(delivery)].append(delivery)

    def group(key: Mapping[str, str], questions: list[Question], deliveries: list[_Delivery]) -> Group:
        figures = response_figures(questions, as_of=as_of, target=target)
        return Group(key, len(deliveries), figures, engagement_sums(d.engagement for d in deliveries))

    groups = [
        group(dict(zip(keys.names, key, strict=True)), by_question.get(key, []), by_delivery.get(key, []))
        for key in sorted(by_question.keys() | by_delivery.keys())
    ]
    return Report(period, target, group({}, asked, published), groups)


def _questions(
    db: sqlite_utils.Database,
    period: Period,
    calendars: Calendars,
    region_of: Callable[[str, str], str],
) -> Iterable[Question]:
    start, end = period.utc_bounds(_ZONE_MARGIN)
    rows = db.execute(
        "select agency, region, network, calendar, received_at, answered_at from inbox_questions"
        " where received_at >= ? and received_at < ?",
        [start, end],
    ).fetchall()
    for agency, region, network, calendar_id, received_at, answered_at in rows:
        calendar = _calendar(calendars, calendar_id)
        received = datetime.fromisoformat(received_at)
        if not period.start <= received.astimezone(calendar.zone).date() < period.end:
            continue
        answered = datetime.fromisoformat(answered_at) if answered_at else None
        yield Question(agency, region_of(agency, region), network, calendar, received, answered)


def _calendar(calendars: Calendars, calendar_id: str) -> Calendar:
    """The question's calendar; the pages' default for one configuration no longer has (as the
    hub's clock would run it today)."""
    try:
        return calendars.get(calendar_id)
    except LookupError:
        return calendars.get(DEFAULT_PAGE_CALENDAR)


def _deliveries(
    db: sqlite_utils.Database, period: Period, region_of: Callable[[str, str], str]
) -> Iterable[_Delivery]:
    start, end = period.utc_bounds()
    ages = " ".join(f"when '{age}' then {rank}" for rank, age in enumerate(ENGAGEMENT_AGES))
    figures = ", ".join(f"e.{name}" for name in ENGAGEMENT_FIGURES)
    rows = db.execute(
        f"select p.agency, p.network, p.published_at, {figures} from"
        " (select post_id, page, agency, network, min(occurred_at) as published_at from audit"
        "  where event = 'delivery.published' and post_id not in (select post_id from inbox_replies)"
        "  group by post_id, page) p"
        " left join delivery_engagement e on e.rowid = (select rowid from delivery_engagement"
        f"  where post_id = p.post_id and page = p.page order by case age {ages} else -1 end desc limit 1)"
        " where p.published_at >= ? and p.published_at < ?",
        [start, end],
    ).fetchall()
    for agency, network, published_at, *values in rows:
        engagement = dict(zip(ENGAGEMENT_FIGURES, values, strict=True))
        yield _Delivery(agency, region_of(agency, ""), network or "", _instant(published_at), engagement)


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _latest_regions(db: sqlite_utils.Database) -> dict[str, str]:
    """Each agency's region as its latest question with one knows it."""
    rows = db.execute(
        "select agency, region from inbox_questions where region != '' order by received_at"
    ).fetchall()
    return dict(rows)


def engagement_sums(deliveries: Iterable[Mapping[str, int | None]]) -> dict[str, int | None]:
    """Each figure summed over the deliveries that give it; None where none does (never 0)."""
    sums: dict[str, int | None] = dict.fromkeys(ENGAGEMENT_FIGURES)
    for figures in deliveries:
        for name in ENGAGEMENT_FIGURES:
            value = figures[name]
            if value is not None:
                sums[name] = (sums[name] or 0) + value
    return sums


def csv_row(period: Period, group: Group) -> dict[str, str]:
    """A row of the CSV (`CSV_COLUMNS`): an empty cell for None, the share with 4 decimals, the
    minutes with 2."""
    figures = group.figures
    values: dict[str, object] = {
        "period_start": period.start.isoformat(),
        "period_end": period.end.isoformat(),
        "region": group.key.get("region", ""),
        "agency": group.key.get("agency", ""),
        "network": group.key.get("network", ""),
        "posts_published": group.posts_published,
        "questions": figures.questions,
        "answered": figures.answered,
        "decided": figures.decided,
        "within_target": figures.within_target,
        "within_target_share": _decimal(figures.within_target_share, 4),
        "within_target_all_hours": figures.within_target_all_hours,
        "p50_business_min": _decimal(figures.p50_business_min, 2),
        "p90_business_min": _decimal(figures.p90_business_min, 2),
        "p50_all_hours_min": _decimal(figures.p50_all_hours_min, 2),
        "p90_all_hours_min": _decimal(figures.p90_all_hours_min, 2),
        **group.engagement,
    }
    return {column: "" if values[column] is None else str(values[column]) for column in CSV_COLUMNS}


def _decimal(value: float | None, digits: int) -> str | None:
    return None if value is None else f"{value:.{digits}f}"


def report_csv(report: Report) -> str:
    """The CSV: a header, then one row per group (by agency and network: one per agency and network)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for group in report.groups:
        writer.writerow(csv_row(report.period, group))
    return out.getvalue()
