"""`relais report`: the inbox's figures and the posts published for a month (or any period of whole
days), from hub.db opened read-only, so it runs against a live hub or a copy. With `--advocacy`, the
advocacy figures instead (relais/advocacy_report.py).

`table` gives the figures the seeds quote, the totals first (questions, answered, the share answered
within the target, first-response p50/p90, posts published per region, views); `csv` one row per
agency and network (`services.hub.inbox_report.CSV_COLUMNS`). The target and the calendars are the
hub's (`RELAIS_INBOX_TARGET`, `RELAIS_CALENDARS_FILE`).
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import TypeAlias

import sqlite_utils

from relais.advocacy_report import advocacy_command
from relais.text_table import columns, count
from services.hub.inbox_report import Group, Period, Report, inbox_report, report_csv
from services.hub.inbox_settings import InboxSettings
from shared import config

__all__ = ["add_parser", "period_of", "report_table"]

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
MONTH = re.compile(r"(\d{4})-(\d{2})")
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class UsageError(ValueError):
    """A bad argument: exit 2."""


def add_parser(commands: Commands) -> None:
    report = commands.add_parser(
        "report",
        help="the inbox's figures and the posts published (or, with --advocacy, the advocacy figures) in a"
        " month or period, from hub.db",
    )
    # Optional in argparse's eyes (the README shows each way to give the period on a row of its own);
    # exactly one way is checked below.
    report.add_argument("--month", metavar="YYYY-MM", help="a calendar month")
    report.add_argument("--from", dest="start", metavar="YYYY-MM-DD", help="the first day (with --to)")
    report.add_argument("--to", dest="end", metavar="YYYY-MM-DD", help="the day after the last (excluded)")
    report.add_argument("--format", choices=("table", "csv"), default="table", help="default: table")
    report.add_argument(
        "--advocacy",
        action="store_true",
        help="the advocacy figures: shares per story, topic, agency, region, month and network, and each"
        " agency's coverage of its required topics",
    )
    report.add_argument(
        "--database", type=Path, metavar="PATH", help="hub database (default: $RELAIS_DATA_DIR/hub.db)"
    )
    report.set_defaults(run=report_command)


def report_command(args: argparse.Namespace) -> int:
    try:
        period = period_of(args.month, args.start, args.end)
        settings = InboxSettings.from_env()
    except ValueError as exc:
        print(f"relais: {exc}", file=sys.stderr)
        return 2
    database: Path = args.database or config.data_dir() / "hub.db"
    if not database.is_file():
        print(f"relais: {database}: no such hub database", file=sys.stderr)
        return 2
    db = sqlite_utils.Database(sqlite3.connect(f"file:{database}?mode=ro", uri=True))
    if args.advocacy:
        return advocacy_command(db, database, period, settings, args.format)
    try:
        report = inbox_report(db, period, settings.calendars, target=settings.target)
        regions = inbox_report(db, period, settings.calendars, target=settings.target, grouping="region")
    except sqlite3.OperationalError as exc:  # a hub.db from before the inbox's questions (m016)
        print(f"relais: {database}: {exc} (start the hub once to upgrade it)", file=sys.stderr)
        return 1
    finally:
        db.close()
    sys.stdout.write(report_csv(report) if args.format == "csv" else report_table(report, regions))
    return 0


def period_of(month: str | None, start: str | None, end: str | None) -> Period:
    """`--month YYYY-MM`, or `--from` and `--to` (whole days, the end excluded); anything else is a
    UsageError naming the option."""
    if month is not None:
        if start is not None or end is not None:
            raise UsageError("--month or --from/--to, not both")
        found = MONTH.fullmatch(month)
        if found is None or not 1 <= int(found[2]) <= 12:
            raise UsageError(f"--month: a month as YYYY-MM, got {month!r}")
        return Period.month(int(found[1]), int(found[2]))
    if start is None or end is None:
        raise UsageError("give --month YYYY-MM, or both --from YYYY-MM-DD and --to YYYY-MM-DD")
    first, after = _day("--from", start), _day("--to", end)
    if after <= first:
        raise UsageError(f"--to ({end}) must be after --from ({start}): the end is excluded")
    return Period(first, after)


def _day(option: str, text: str) -> date:
    try:
        if DAY.fullmatch(text) is None:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option}: a date as YYYY-MM-DD, got {text!r}") from None


# The table.


def report_table(report: Report, regions: Report) -> str:
    """The totals, then a row per region (`regions`: the same period by region), then a row per
    agency and network (`report`)."""
    period, total = report.period, report.total
    last = period.end - timedelta(days=1)
    figures = total.figures
    lines = [
        f"Inbox report {period.start.isoformat()} to {last.isoformat()}"
        f" (target: {_duration(report.target)} of business hours)",
        "",
        f"questions                  {figures.questions}",
        f"answered                   {figures.answered}",
        f"answered within target     {_within(total)}",
        f"  in all hours             {figures.within_target_all_hours} of {figures.answered} answered",
        f"first response, business   p50 {_minutes(figures.p50_business_min)}"
        f"  p90 {_minutes(figures.p90_business_min)}",
        f"first response, all hours  p50 {_minutes(figures.p50_all_hours_min)}"
        f"  p90 {_minutes(figures.p90_all_hours_min)}",
        f"posts published            {total.posts_published}",
        f"views                      {count(total.engagement['views'])}",
        "",
    ]
    lines += columns(
        [
            "region",
            "posts",
            "questions",
            "answered",
            "within target",
            "p50 business",
            "p90 business",
            "views",
        ],
        [
            [
                group.key["region"] or "(unknown)",
                str(group.posts_published),
                str(group.figures.questions),
                str(group.figures.answered),
                _within(group),
                _minutes(group.figures.p50_business_min),
                _minutes(group.figures.p90_business_min),
                count(group.engagement["views"]),
            ]
            for group in regions.groups
        ],
    )
    lines.append("")
    lines += columns(
        [
            "agency",
            "network",
            "posts",
            "questions",
            "answered",
            "within target",
            "p50 business",
            "p90 business",
            "views",
        ],
        [
            [
                group.key["agency"],
                group.key["network"],
                str(group.posts_published),
                str(group.figures.questions),
                str(group.figures.answered),
                _within(group),
                _minutes(group.figures.p50_business_min),
                _minutes(group.figures.p90_business_min),
                count(group.engagement["views"]),
            ]
            for group in report.groups
        ],
    )
    return "\n".join(lines) + "\n"


def _within(group: Group) -> str:
    figures = group.figures
    share = figures.within_target_share
    shown = "" if share is None else f" ({share * 100:.1f} %)"
    return f"{figures.within_target} of {figures.decided}{shown}"


def _minutes(value: float | None) -> str:
    if value is None:
        return "-"
    hours, minutes = divmod(round(value), 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _duration(value: timedelta) -> str:
    minutes = round(value.total_seconds() / 60)
    hours, rest = divmod(minutes, 60)
    return f"{hours} h" + (f" {rest} min" if rest else "") if hours else f"{rest} min"
