"""The advocacy figures (issue #16 item 6): for a period, the shares of the service's stories per
story, topic, agency, region and month, the deliveries published per network, the engagement read
back for each share, and each agency's coverage of its required topics.

`advocacy_figures` is pure (rows in, figures out); `advocacy_report` reads the rows from hub.db. The
hub's API, its dashboard and `relais report --advocacy` (hub.db opened read-only) give the same numbers.

What falls in a period [start, end) (dates, the end excluded):
- a share (`advocacy_shares`, one per post that shares a story) by the day it reached the hub, in the
  hub's zone (the zone of the pages' default calendar, `hub_zone`); its deliveries and their
  engagement go with it, whenever they were published;
- a share is **published** when it was not refused (`invalid` or `rejected`) and at least one of its
  deliveries (`delivery_states`, one per personal page) is `published`;
- a delivery's engagement is its latest age's figures (`delivery_engagement`: 7d, else 24h, else 1h);
  a figure no delivery of a group gives is None (never 0, which would be a count).
The region is the one stored with each share, else the agency's as the caller knows it. Per topic,
a topic offered to an agency the reader sees is listed even when nobody shared it.

Required-topic coverage: for each agency the caller knows (and each that shared), the required
topics (as they are now) whose audience includes it; those it covered have at least one published
share from that agency in the period. Coverage is covered / required, None (shown "—") for an agency
with no required topic: nothing was asked of it, which is not 100 %.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

import sqlite_utils

from services.hub.inbox_report import ENGAGEMENT_FIGURES, Period, engagement_sums
from shared.advocacy.stories import Audience
from shared.business_hours import Calendars
from shared.schemas import DEFAULT_PAGE_CALENDAR, ENGAGEMENT_AGES

__all__ = [
    "CSV_COLUMNS",
    "REFUSED",
    "AdvocacyReport",
    "AgencyFigures",
    "Counts",
    "Delivery",
    "Row",
    "Share",
    "ShareFigures",
    "TopicRule",
    "advocacy_figures",
    "advocacy_report",
    "hub_zone",
    "report_csv",
]

REFUSED = ("invalid", "rejected")  # a share in these never counts as published
CSV_COLUMNS = (
    "period_start",
    "period_end",
    "region",
    "agency",
    "shares_received",
    "shares_invalid",
    "shares_rejected",
    "shares_published",
    "deliveries_published",
    "required_topics",
    "covered_topics",
    "coverage",
    *ENGAGEMENT_FIGURES,
)
_ZONE_MARGIN = timedelta(days=1)  # rows within a day of the period in UTC, then filtered in the zone


@dataclass(frozen=True)
class Share:
    post_id: str
    story: str
    topic: str
    agency: str
    region: str  # as stored when the share arrived ("" when the registry had none)
    networks: tuple[str, ...]
    status: str
    received_at: datetime  # aware


@dataclass(frozen=True)
class Delivery:
    """A delivery of a share (one post on one personal page), published, with its latest figures."""

    post_id: str
    network: str
    engagement: Mapping[str, int | None]


@dataclass(frozen=True)
class TopicRule:
    id: str
    titles: Mapping[str, str]
    required: bool
    audience: Audience


@dataclass(frozen=True)
class ShareFigures:
    """One share with the deliveries published for it and their engagement summed."""

    share: Share
    region: str
    deliveries: tuple[Delivery, ...]

    @property
    def published(self) -> bool:
        return self.share.status not in REFUSED and bool(self.deliveries)

    @property
    def engagement(self) -> dict[str, int | None]:
        return engagement_sums(d.engagement for d in self.deliveries)


@dataclass(frozen=True)
class Counts:
    shares: int  # every share that reached the hub
    invalid: int
    rejected: int
    published: int  # shares with at least one delivery published (and not refused)
    deliveries: int  # deliveries published
    engagement: Mapping[str, int | None]


@dataclass(frozen=True)
class Row:
    key: Mapping[str, str]
    counts: Counts


@dataclass(frozen=True)
class AgencyFigures:
    agency: str
    region: str
    counts: Counts
    required: tuple[str, ...]  # the required topics whose audience includes the agency, sorted
    covered: tuple[str, ...]  # those with a published share from it in the period

    @property
    def coverage(self) -> float | None:
        return len(self.covered) / len(self.required) if self.required else None


@dataclass(frozen=True)
class AdvocacyReport:
    period: Period
    total: Counts
    stories: list[Row] = field(default_factory=list)  # key: story, topic
    topics: list[Row] = field(default_factory=list)  # key: topic, required ("yes"/"no")
    agencies: list[AgencyFigures] = field(default_factory=list)
    regions: list[Row] = field(default_factory=list)  # key: region
    months: list[Row] = field(default_factory=list)  # key: month (YYYY-MM in the zone)
    networks: list[Row] = field(default_factory=list)  # key: network; a share counts in each of its own
    shares: list[ShareFigures] = field(default_factory=list)  # by arrival
    topic_titles: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def hub_zone(calendars: Calendars) -> tzinfo:
    """The hub's zone: its pages' default calendar's (Europe/Paris unless configured otherwise)."""
    return calendars.get(DEFAULT_PAGE_CALENDAR).zone


def _counts(figures: Iterable[ShareFigures], network: str | None = None) -> Counts:
    """A group's counts; with `network`, its deliveries on that network only."""
    items = list(figures)
    kept = [[d for d in f.deliveries if network in (None, d.network)] for f in items]
    deliveries = [d for own in kept for d in own]
    return Counts(
        shares=len(items),
        invalid=sum(f.share.status == "invalid" for f in items),
        rejected=sum(f.share.status == "rejected" for f in items),
        published=sum(
            f.share.status not in REFUSED and bool(own) for f, own in zip(items, kept, strict=True)
        ),
        deliveries=len(deliveries),
        engagement=engagement_sums(d.engagement for d in deliveries),
    )


def _rows(
    figures: list[ShareFigures], names: tuple[str, ...], key: Callable[[ShareFigures], tuple[str, ...]]
) -> list[Row]:
    groups: dict[tuple[str, ...], list[ShareFigures]] = defaultdict(list)
    for item in figures:
        groups[key(item)].append(item)
    return [Row(dict(zip(names, k, strict=True)), _counts(groups[k])) for k in sorted(groups)]


def advocacy_figures(
    period: Period,
    zone: tzinfo,
    shares: Iterable[Share],
    deliveries: Iterable[Delivery],
    topics: Iterable[TopicRule],
    known_agencies: Mapping[str, str],
    *,
    agencies: Callable[[str], bool] = lambda agency: True,
) -> AdvocacyReport:
    """The figures of `period` (pure). `shares` may hold rows outside the period (they are left
    out by their day of arrival in `zone`); `deliveries` are the published ones; `known_agencies`
    maps each agency the caller knows to its region (for coverage and for shares stored without a
    region); `agencies` says which agencies the reader may see (the others are left out everywhere)."""
    in_period = [
        s
        for s in shares
        if period.start <= s.received_at.astimezone(zone).date() < period.end and agencies(s.agency)
    ]
    by_post: dict[str, list[Delivery]] = defaultdict(list)
    for delivery in deliveries:
        by_post[delivery.post_id].append(delivery)
    figures = [
        ShareFigures(
            share,
            share.region or known_agencies.get(share.agency, ""),
            tuple(sorted(by_post.get(share.post_id, []), key=lambda d: d.network)),
        )
        for share in sorted(in_period, key=lambda s: (s.received_at, s.post_id))
    ]
    rules = sorted(topics, key=lambda t: t.id)
    required = {t.id: t.required for t in rules}

    def month(item: ShareFigures) -> str:
        return item.share.received_at.astimezone(zone).strftime("%Y-%m")

    network_groups: dict[str, list[ShareFigures]] = defaultdict(list)
    for item in figures:
        for network in sorted(set(item.share.networks) | {d.network for d in item.deliveries}):
            network_groups[network].append(item)

    agency_rows = _coverage(figures, rules, known_agencies, agencies)
    shared = _rows(
        figures,
        ("topic", "required"),
        lambda f: (f.share.topic, "yes" if required.get(f.share.topic) else "no"),
    )
    # A topic offered to an agency the reader sees is listed even when nobody shared it (a zero is news).
    offered = [
        Row({"topic": t.id, "required": "yes" if t.required else "no"}, _counts([]))
        for t in rules
        if t.id not in {row.key["topic"] for row in shared}
        and any(t.audience.includes(a.agency, a.region or None) for a in agency_rows)
    ]
    return AdvocacyReport(
        period=period,
        total=_counts(figures),
        stories=_rows(figures, ("story", "topic"), lambda f: (f.share.story, f.share.topic)),
        topics=sorted(shared + offered, key=lambda row: row.key["topic"]),
        agencies=agency_rows,
        regions=_rows(figures, ("region",), lambda f: (f.region,)),
        months=_rows(figures, ("month",), lambda f: (month(f),)),
        networks=[Row({"network": n}, _counts(network_groups[n], n)) for n in sorted(network_groups)],
        shares=figures,
        topic_titles={t.id: dict(t.titles) for t in rules},
    )


def _coverage(
    figures: list[ShareFigures],
    rules: list[TopicRule],
    known_agencies: Mapping[str, str],
    agencies: Callable[[str], bool],
) -> list[AgencyFigures]:
    regions = {a: r for a, r in known_agencies.items() if agencies(a)}
    by_agency: dict[str, list[ShareFigures]] = defaultdict(list)
    for item in figures:
        by_agency[item.share.agency].append(item)
        regions.setdefault(item.share.agency, item.region)
    rows = []
    for agency in sorted(regions):
        region = known_agencies.get(agency) or regions[agency]
        required = tuple(t.id for t in rules if t.required and t.audience.includes(agency, region or None))
        shared = {f.share.topic for f in by_agency.get(agency, []) if f.published}
        covered = tuple(topic for topic in required if topic in shared)
        rows.append(AgencyFigures(agency, region, _counts(by_agency.get(agency, [])), required, covered))
    return rows


# Reading hub.db.


def advocacy_report(
    db: sqlite_utils.Database,
    period: Period,
    zone: tzinfo,
    *,
    known_agencies: Mapping[str, str] | None = None,
    agencies: Callable[[str], bool] = lambda agency: True,
) -> AdvocacyReport:
    """The report of `period` from hub.db. `known_agencies` (agency -> region) is the page registry's;
    without it (the CLI, which has no registry), the agencies the hub has heard from and those that
    shared, each with the region its latest inbox question or share stored."""
    start, end = period.utc_bounds(_ZONE_MARGIN)
    shares = list(_shares(db, start, end))
    known = dict(known_agencies) if known_agencies is not None else _agencies_of(db)
    return advocacy_figures(
        period, zone, shares, _deliveries(db, start, end), _topics(db), known, agencies=agencies
    )


def _shares(db: sqlite_utils.Database, start: str, end: str) -> Iterable[Share]:
    rows = db.execute(
        "select post_id, story, topic, agency, region, networks, status, received_at from advocacy_shares"
        " where received_at >= ? and received_at < ?",
        [start, end],
    ).fetchall()
    for post_id, story, topic, agency, region, networks, status, received_at in rows:
        yield Share(
            post_id, story, topic, agency, region, tuple(json.loads(networks)), status, _instant(received_at)
        )


def _deliveries(db: sqlite_utils.Database, start: str, end: str) -> Iterable[Delivery]:
    ages = " ".join(f"when '{age}' then {rank}" for rank, age in enumerate(ENGAGEMENT_AGES))
    figures = ", ".join(f"e.{name}" for name in ENGAGEMENT_FIGURES)
    rows = db.execute(
        f"select d.post_id, d.network, {figures} from delivery_states d"
        " join advocacy_shares s on s.post_id = d.post_id"
        " left join delivery_engagement e on e.rowid = (select rowid from delivery_engagement"
        f"  where post_id = d.post_id and page = d.page order by case age {ages} else -1 end desc limit 1)"
        " where d.status = 'published' and s.received_at >= ? and s.received_at < ?",
        [start, end],
    ).fetchall()
    for post_id, network, *values in rows:
        yield Delivery(post_id, network or "", dict(zip(ENGAGEMENT_FIGURES, values, strict=True)))


def _topics(db: sqlite_utils.Database) -> list[TopicRule]:
    rows = db.execute("select id, titles, required, regions, agencies from advocacy_topics").fetchall()
    return [
        TopicRule(
            topic,
            json.loads(titles),
            bool(required),
            Audience(frozenset(json.loads(regions)), frozenset(json.loads(agencies))),
        )
        for topic, titles, required, regions, agencies in rows
    ]


def _agencies_of(db: sqlite_utils.Database) -> dict[str, str]:
    """The agencies the hub has heard from, each in the region its latest inbox question or share
    stored (the later wins); "" where neither did."""
    known = dict.fromkeys((row[0] for row in db.execute("select agency from agencies")), "")
    placed = db.execute(
        "select agency, region from"
        " (select agency, region, received_at from inbox_questions where region != ''"
        "  union all select agency, region, received_at from advocacy_shares where region != '')"
        " order by received_at"
    )
    for agency, region in placed:
        known[agency] = region
    return known


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# The CSV: one row per agency.


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def csv_row(period: Period, agency: AgencyFigures) -> dict[str, str]:
    counts = agency.counts
    values: dict[str, object] = {
        "period_start": period.start.isoformat(),
        "period_end": period.end.isoformat(),
        "region": agency.region,
        "agency": agency.agency,
        "shares_received": counts.shares,
        "shares_invalid": counts.invalid,
        "shares_rejected": counts.rejected,
        "shares_published": counts.published,
        "deliveries_published": counts.deliveries,
        "required_topics": len(agency.required),
        "covered_topics": len(agency.covered),
        "coverage": _ratio(agency.coverage),
        **counts.engagement,
    }
    return {column: "" if values[column] is None else str(values[column]) for column in CSV_COLUMNS}


def report_csv(report: AdvocacyReport) -> str:
    """A header, then one row per agency (sorted): its shares, deliveries, coverage and engagement."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for agency in report.agencies:
        writer.writerow(csv_row(report.period, agency))
    return out.getvalue()
