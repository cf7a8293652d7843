"""`relais report --advocacy`: the advocacy figures (services/hub/advocacy_report.py) for a month or a
period of whole days, from hub.db opened read-only.

`table` gives the totals first, then each agency's coverage of its required topics, then the shares
per topic, story, region, network and month; `csv` one row per agency
(`services.hub.advocacy_report.CSV_COLUMNS`), as `GET /v1/reports/advocacy?format=csv` gives it. The
zone is the hub's (its pages' default calendar, `RELAIS_CALENDARS_FILE`). Without the page registry
(the CLI reads hub.db only), the agencies are those the hub has heard from and those that shared,
each in the region its latest inbox question or share stored (an agency of no known
region is required only the topics for everyone or naming it).
"""

from __future__ import annotations

import sqlite3
import sys
from datetime import timedelta
from pathlib import Path

import sqlite_utils

from relais.text_table import columns, count
from services.hub.advocacy_report import (
    AdvocacyReport,
    AgencyFigures,
    Counts,
    advocacy_report,
    hub_zone,
    report_csv,
)
from services.hub.inbox_report import ENGAGEMENT_FIGURES, Period
from services.hub.inbox_settings import InboxSettings

__all__ = ["advocacy_command", "advocacy_table"]

# The networks' "shares" (reposts) renamed, not to be read as the advocates' shares.
ENGAGEMENT_HEADERS = {"likes": "likes", "shares": "reposts", "replies": "replies", "views": "views"}
COUNT_COLUMNS = ["shares", "invalid", "rejected", "published", "deliveries", *ENGAGEMENT_HEADERS.values()]


def advocacy_command(
    db: sqlite_utils.Database, database: Path, period: Period, settings: InboxSettings, answer: str
) -> int:
    zone = hub_zone(settings.calendars)
    try:
        report = advocacy_report(db, period, zone)
    except sqlite3.OperationalError as exc:  # a hub.db from before the advocacy shares (m020)
        print(f"relais: {database}: {exc} (start the hub once to upgrade it)", file=sys.stderr)
        return 1
    finally:
        db.close()
    sys.stdout.write(report_csv(report) if answer == "csv" else advocacy_table(report, str(zone)))
    return 0


def _counts(counts: Counts) -> list[str]:
    return [
        str(counts.shares),
        str(counts.invalid),
        str(counts.rejected),
        str(counts.published),
        str(counts.deliveries),
        *(count(counts.engagement[name]) for name in ENGAGEMENT_FIGURES),
    ]


def _coverage(agency: AgencyFigures) -> str:
    if agency.coverage is None:
        return "-"  # nothing is required of it: not 100 %
    return f"{len(agency.covered)} of {len(agency.required)} ({agency.coverage * 100:.0f} %)"


def advocacy_table(report: AdvocacyReport, zone: str) -> str:
    period, total = report.period, report.total
    last = period.end - timedelta(days=1)
    lines = [
        f"Advocacy report {period.start.isoformat()} to {last.isoformat()}"
        f" (a share counts on the day it reached the hub, {zone})",
        "",
        f"shares received       {total.shares}",
        f"  invalid             {total.invalid}",
        f"  rejected            {total.rejected}",
        f"shares published      {total.published}",
        f"deliveries published  {total.deliveries}",
        *(f"{header:<22}{count(total.engagement[name])}" for name, header in ENGAGEMENT_HEADERS.items()),
        "",
    ]
    lines += columns(
        ["agency", "region", "required topics covered", "not covered", "shares", "published"],
        [
            [
                a.agency,
                a.region or "(unknown)",
                _coverage(a),
                " ".join(topic for topic in a.required if topic not in a.covered) or "-",
                str(a.counts.shares),
                str(a.counts.published),
            ]
            for a in report.agencies
        ],
    )
    for names, rows in [
        (
            ["topic", "required"],
            [[r.key["topic"], r.key["required"], *_counts(r.counts)] for r in report.topics],
        ),
        (["story", "topic"], [[r.key["story"], r.key["topic"], *_counts(r.counts)] for r in report.stories]),
        (["region"], [[r.key["region"] or "(unknown)", *_counts(r.counts)] for r in report.regions]),
        (["network"], [[r.key["network"], *_counts(r.counts)] for r in report.networks]),
        (["month"], [[r.key["month"], *_counts(r.counts)] for r in report.months]),
    ]:
        lines.append("")
        lines += columns([*names, *COUNT_COLUMNS], rows)
    return "\n".join(lines) + "\n"
