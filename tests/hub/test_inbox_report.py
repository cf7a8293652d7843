"""The inbox's report over a real hub.db (issue #15 item 6), on the fixed month of
tests/hub/inbox_report_data.py.

The policy, written by hand:
- a question is the month's when it was asked on one of the month's days in its calendar's zone;
- `within_target`: answered no later than the deadline, 4 business hours on the question's calendar
  (a weekend and a holiday do not count; exactly at the deadline is in time); `within_target_all_hours`:
  answered within 4 hours of wall time; `decided`: answered, or past the deadline unanswered; the share
  is within_target / decided; p50/p90 are nearest-rank over the answered questions' minutes;
- a delivery (post × page) is the month's when first published in it (UTC), once however often told;
  a reply to the inbox is not a post; its engagement is the latest age's (7d, then 24h, then 1h), and a
  figure no delivery of the group gives is empty, never 0;
- the CSV has exactly the documented columns, one row per agency and network.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlite_utils

from services.hub.inbox_report import CSV_COLUMNS, Period, inbox_report, report_csv
from services.hub.store import open_store
from shared.business_hours import DEFAULT_CALENDARS
from tests.hub.inbox_report_data import CASA, CASA_REGION, LYON, LYON_REGION, fill_november

AS_OF = datetime(2027, 1, 15, tzinfo=UTC)  # every question of November is decided
NOVEMBER = Period.month(2026, 11)

# Worked out by hand (minutes), question by question:
#   L1 30 business / 30 all hours, in time both ways;   L2 60+60 = 120 / 66 h = 3960, in time (business);
#   L3 120 (Tue) + 0 (holiday) + 120 (Thu) = 240 / 44 h = 2640, at its deadline: in time (business);
#   L4 360 / 360, late;   L5 unanswered, past its deadline: decided, late;
#   C1 0 (holiday) + 60 = 60 / 23 h 30 = 1410;   C2 30 + 15 = 45 / 16 h 45 = 1005;
#   C3 Monday 08:30–09:00 = 30 / 32 h 30 = 1950. Every C in time (business), none in all hours.
LYON_MASTODON = {
    "period_start": "2026-11-01",
    "period_end": "2026-12-01",
    "region": LYON_REGION,
    "agency": LYON,
    "network": "mastodon",
    "posts_published": "2",  # P1 (told twice), P2; not the reply, not P4 (December)
    "questions": "5",
    "answered": "4",
    "decided": "5",
    "within_target": "3",
    "within_target_share": "0.6000",
    "within_target_all_hours": "1",
    "p50_business_min": "120.00",  # [30, 120, 240, 360]: rank 2
    "p90_business_min": "360.00",  # rank 4
    "p50_all_hours_min": "360.00",  # [30, 360, 2640, 3960]
    "p90_all_hours_min": "3960.00",
    "likes": "5",  # P1 at 7 days; P2 was never measured
    "shares": "2",
    "replies": "1",
    "views": "120",
}
LYON_BLUESKY = {
    **dict.fromkeys(CSV_COLUMNS, ""),
    "period_start": "2026-11-01",
    "period_end": "2026-12-01",
    "region": LYON_REGION,
    "agency": LYON,
    "network": "bluesky",
    "posts_published": "1",
    "questions": "0",
    "answered": "0",
    "decided": "0",
    "within_target": "0",
    "within_target_all_hours": "0",
    "likes": "2",
    "shares": "0",
    "replies": "0",
    "views": "",  # Bluesky gives no views: empty, not 0
}
CASA_FACEBOOK = {
    "period_start": "2026-11-01",
    "period_end": "2026-12-01",
    "region": CASA_REGION,
    "agency": CASA,
    "network": "facebook",
    "posts_published": "1",
    "questions": "3",
    "answered": "3",
    "decided": "3",
    "within_target": "3",
    "within_target_share": "1.0000",
    "within_target_all_hours": "0",
    "p50_business_min": "45.00",  # [30, 45, 60]: rank 2
    "p90_business_min": "60.00",  # rank 3
    "p50_all_hours_min": "1410.00",  # [1005, 1410, 1950]
    "p90_all_hours_min": "1950.00",
    "likes": "10",
    "shares": "4",
    "replies": "2",
    "views": "300",
}


@pytest.fixture
def hub_db(tmp_path: Path) -> sqlite_utils.Database:
    db = open_store(tmp_path / "hub.db")
    fill_november(db)
    return db


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_csv_has_one_row_per_agency_and_network_with_the_figures_worked_out_by_hand(
    hub_db: sqlite_utils.Database,
) -> None:
    report = inbox_report(hub_db, NOVEMBER, DEFAULT_CALENDARS, as_of=AS_OF)
    text = report_csv(report)
    assert text.splitlines()[0] == (
        "period_start,period_end,region,agency,network,posts_published,questions,answered,decided,"
        "within_target,within_target_share,within_target_all_hours,p50_business_min,p90_business_min,"
        "p50_all_hours_min,p90_all_hours_min,likes,shares,replies,views"
    )
    assert csv_rows(text) == [LYON_BLUESKY, LYON_MASTODON, CASA_FACEBOOK]


def test_the_totals_count_every_question_and_delivery_of_the_period_once(
    hub_db: sqlite_utils.Database,
) -> None:
    total = inbox_report(hub_db, NOVEMBER, DEFAULT_CALENDARS, as_of=AS_OF).total
    figures = total.figures
    assert (figures.questions, figures.answered, figures.decided) == (8, 7, 8)
    assert (figures.within_target, figures.within_target_all_hours, figures.within_target_share) == (
        6,
        1,
        0.75,
    )
    # Business [30, 30, 45, 60, 120, 240, 360]; all hours [30, 360, 1005, 1410, 1950, 2640, 3960].
    assert (figures.p50_business_min, figures.p90_business_min) == pytest.approx((60, 360))
    assert (figures.p50_all_hours_min, figures.p90_all_hours_min) == pytest.approx((1410, 3960))
    assert total.posts_published == 4
    assert dict(total.engagement) == {"likes": 17, "shares": 6, "replies": 3, "views": 420}


def test_groupings_by_region_network_and_week(hub_db: sqlite_utils.Database) -> None:
    def grouped(grouping: str) -> dict[tuple[str, ...], tuple[int, int, int]]:
        report = inbox_report(hub_db, NOVEMBER, DEFAULT_CALENDARS, as_of=AS_OF, grouping=grouping)
        return {
            tuple(g.key.values()): (g.posts_published, g.figures.questions, g.figures.within_target)
            for g in report.groups
        }

    assert grouped("region") == {(LYON_REGION,): (3, 5, 3), (CASA_REGION,): (1, 3, 3)}
    assert grouped("network") == {("bluesky",): (1, 0, 0), ("facebook",): (1, 3, 3), ("mastodon",): (2, 5, 3)}
    # ISO weeks (questions in their calendar's zone, deliveries in UTC): W44 holds C3 (Sunday 1 Nov);
    # W45 L1, C3's answer aside, P1 ×2 (3 Nov), P3 (5 Nov); W46 L3, L2; W47 L4, L5, C1, C2, P2 (20 Nov).
    assert grouped("week") == {
        ("2026-W44",): (0, 1, 1),
        ("2026-W45",): (3, 1, 1),
        ("2026-W46",): (0, 2, 2),
        ("2026-W47",): (1, 4, 2),
    }


def test_a_question_inside_its_deadline_is_not_yet_decided(hub_db: sqlite_utils.Database) -> None:
    # As of Wednesday 18 Nov 10:00 in Paris: L5 (asked at 09:00) is still within its deadline.
    as_of = datetime(2026, 11, 18, 9, tzinfo=UTC)
    period = Period(NOVEMBER.start, datetime(2026, 11, 19).date())
    rows = {
        (r["agency"], r["network"]): r
        for r in csv_rows(report_csv(inbox_report(hub_db, period, DEFAULT_CALENDARS, as_of=as_of)))
    }
    mastodon = rows[LYON, "mastodon"]
    assert (mastodon["questions"], mastodon["decided"], mastodon["within_target_share"]) == (
        "5",
        "4",
        "0.7500",
    )


def test_a_reader_limited_to_some_agencies_sees_only_theirs_in_the_rows_and_the_total(
    hub_db: sqlite_utils.Database,
) -> None:
    report = inbox_report(hub_db, NOVEMBER, DEFAULT_CALENDARS, as_of=AS_OF, agencies=lambda a: a == CASA)
    assert csv_rows(report_csv(report)) == [CASA_FACEBOOK]
    assert (report.total.figures.questions, report.total.posts_published) == (3, 1)


def test_an_empty_period_has_no_rows_and_empty_figures(hub_db: sqlite_utils.Database) -> None:
    report = inbox_report(hub_db, Period.month(2026, 6), DEFAULT_CALENDARS, as_of=AS_OF)
    assert report_csv(report).splitlines() == [",".join(CSV_COLUMNS)]
    assert report.total.figures.within_target_share is None
    assert dict(report.total.engagement) == {"likes": None, "shares": None, "replies": None, "views": None}


def test_december_is_the_month_of_the_question_asked_on_its_first_night_in_paris(
    hub_db: sqlite_utils.Database,
) -> None:
    report = inbox_report(hub_db, Period.month(2026, 12), DEFAULT_CALENDARS, as_of=AS_OF)
    rows = csv_rows(report_csv(report))
    assert [(r["agency"], r["network"], r["questions"], r["posts_published"], r["views"]) for r in rows] == [
        (LYON, "mastodon", "1", "1", "100")
    ]
