"""The advocacy figures (issue #16 item 6): the pure rules on hand-made rows, then the report read from
a real hub.db on the fixed month of tests/hub/advocacy_report_data.py.

The policy, written by hand:
- a share is the period's by the day it reached the hub in the hub's zone (Europe/Paris): 31 Oct at
  23:30 UTC is November's, 30 Nov at 23:30 UTC December's;
- a share is published when not refused (invalid, rejected) and one of its deliveries is published;
  a queued share or one whose delivery is pending is not;
- engagement: each delivery's latest age (7d > 24h > 1h); sums keep None (no delivery gives the
  figure) apart from 0 (a delivery gave 0);
- coverage: an agency's required topics are those whose audience includes it (named, or its region);
  a topic is covered by a published share of the agency in the period (an invalid share only does not
  cover); an agency with no required topic has no coverage (None, not 100 %);
- a reader's scope leaves other agencies out of every figure, the total included.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlite_utils

from services.hub.advocacy_report import (
    CSV_COLUMNS,
    AgencyFigures,
    Counts,
    Delivery,
    Row,
    Share,
    TopicRule,
    advocacy_figures,
    advocacy_report,
    hub_zone,
    report_csv,
)
from services.hub.inbox_report import Period
from services.hub.store import open_store
from shared.advocacy.stories import Audience
from shared.business_hours import DEFAULT_CALENDARS
from tests.hub.advocacy_report_data import (
    ARA,
    BRETAGNE,
    CASA,
    CASA_REGION,
    LYON,
    MARSEILLE,
    PROVENCE,
    REGISTRY,
    RENNES,
    VILLEURBANNE,
    fill_advocates,
    fill_november,
)

PARIS = ZoneInfo("Europe/Paris")
NOVEMBER = Period.month(2026, 11)
NONE = {"likes": None, "shares": None, "replies": None, "views": None}


def counts(row: Counts | Row | AgencyFigures) -> tuple[object, ...]:
    c = row if isinstance(row, Counts) else row.counts
    return (c.shares, c.invalid, c.rejected, c.published, c.deliveries, dict(c.engagement))


def a_share(post_id: str, agency: str, topic: str, status: str = "approved", day: int = 10) -> Share:
    return Share(
        post_id, f"story-{topic}", topic, agency, "", ("x",), status, datetime(2026, 11, day, 12, tzinfo=UTC)
    )


def published(post_id: str, **figures: int | None) -> Delivery:
    return Delivery(post_id, "x", {**NONE, **figures})


# The pure rules.


def test_a_required_topic_restricted_to_a_region_is_required_there_only() -> None:
    topics = [
        TopicRule("salons", {}, True, Audience(regions=frozenset({"ara"}))),
        TopicRule("optional", {}, False, Audience()),
    ]
    known = {"lyon": "ara", "rabat": "rabat-sale", "brest": "bretagne"}
    shares = [
        a_share("p1", "lyon", "salons"),
        a_share("p2", "rabat", "salons"),
        a_share("p3", "brest", "optional"),
    ]
    report = advocacy_figures(
        NOVEMBER, PARIS, shares, [published("p1"), published("p2"), published("p3")], topics, known
    )
    coverage = {a.agency: (a.required, a.covered, a.coverage) for a in report.agencies}
    assert coverage == {
        "brest": ((), (), None),  # nothing required of it: no coverage, not 100 %
        "lyon": (("salons",), ("salons",), 1.0),
        "rabat": ((), (), None),  # shared a topic outside its audience: counted, but not required of it
    }


def test_a_topic_offered_to_a_visible_agency_is_listed_even_unshared() -> None:
    topics = [
        TopicRule("everyone", {}, False, Audience()),
        TopicRule("ara-only", {}, True, Audience(regions=frozenset({"ara"}))),
        TopicRule("casa-only", {}, True, Audience(agencies=frozenset({"casa"}))),
    ]
    known = {"lyon": "ara", "casa": "casablanca-settat"}
    shares = [a_share("p1", "casa", "casa-only")]
    everything = advocacy_figures(NOVEMBER, PARIS, shares, [published("p1")], topics, known)
    assert [(r.key["topic"], r.key["required"], r.counts.shares) for r in everything.topics] == [
        ("ara-only", "yes", 0),
        ("casa-only", "yes", 1),
        ("everyone", "no", 0),
    ]
    assert dict(everything.topics[0].counts.engagement) == NONE
    lyon_only = advocacy_figures(
        NOVEMBER, PARIS, shares, [published("p1")], topics, known, agencies=lambda agency: agency == "lyon"
    )
    assert [r.key["topic"] for r in lyon_only.topics] == ["ara-only", "everyone"]  # not Casablanca's


def test_an_invalid_or_rejected_or_unpublished_share_does_not_cover() -> None:
    topics = [TopicRule("t", {}, True, Audience())]
    known = {"invalid-only": "r", "rejected-only": "r", "queued": "r", "pending": "r", "covered": "r"}
    shares = [
        a_share("p1", "invalid-only", "t", "invalid"),
        a_share("p2", "rejected-only", "t", "rejected"),
        a_share("p3", "queued", "t", "queued"),
        a_share("p4", "pending", "t"),
        a_share("p5", "covered", "t", "invalid"),
        a_share("p6", "covered", "t"),
    ]
    # Even a delivery said published does not make a refused share count.
    deliveries = [published("p1"), published("p2"), published("p6")]
    report = advocacy_figures(NOVEMBER, PARIS, shares, deliveries, topics, known)
    coverage = {a.agency: a.coverage for a in report.agencies}
    assert coverage == {
        "covered": 1.0,
        "invalid-only": 0.0,
        "pending": 0.0,
        "queued": 0.0,
        "rejected-only": 0.0,
    }
    assert report.total.published == 1


def test_a_share_outside_the_period_does_not_cover() -> None:
    topics = [TopicRule("t", {}, True, Audience(agencies=frozenset({"lyon"})))]
    share = a_share("p1", "lyon", "t", day=30)
    late = Share(
        "p1", "s", "t", "lyon", "ara", ("x",), "approved", datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    )
    for item, covered in [(share, 1.0), (late, 0.0)]:
        report = advocacy_figures(NOVEMBER, PARIS, [item], [published("p1")], topics, {"lyon": "ara"})
        assert [a.coverage for a in report.agencies] == [covered]
    # In UTC, the late one is November's.
    report = advocacy_figures(NOVEMBER, UTC, [late], [published("p1")], topics, {"lyon": "ara"})
    assert [a.coverage for a in report.agencies] == [1.0]


def test_engagement_keeps_none_apart_from_zero() -> None:
    shares = [a_share("zero", "a", "t"), a_share("none", "a", "t"), a_share("some", "b", "t")]
    deliveries = [
        published("zero", likes=0, shares=0, replies=0),
        published("none"),
        published("some", likes=2, views=7),
    ]
    report = advocacy_figures(NOVEMBER, PARIS, shares, deliveries, [], {})
    per_share = {f.share.post_id: f.engagement for f in report.shares}
    assert per_share == {
        "zero": {"likes": 0, "shares": 0, "replies": 0, "views": None},
        "none": NONE,
        "some": {**NONE, "likes": 2, "views": 7},
    }
    by_agency = {a.agency: dict(a.counts.engagement) for a in report.agencies}
    assert by_agency == {
        "a": {**NONE, "likes": 0, "shares": 0, "replies": 0},
        "b": {**NONE, "likes": 2, "views": 7},
    }
    assert dict(report.total.engagement) == {"likes": 2, "shares": 0, "replies": 0, "views": 7}


# The fixed month in a real hub.db.


@pytest.fixture(scope="module")
def hub_db(tmp_path_factory: pytest.TempPathFactory) -> sqlite_utils.Database:
    db = open_store(tmp_path_factory.mktemp("hub") / "hub.db")
    fill_november(db)
    return db


ALL_NONE = dict(NONE)
SALON_LYON = {"likes": 9, "shares": 1, "replies": 1, "views": 140}  # S1 (x at 24h, mastodon at 7d), S9


def test_the_months_totals_and_groups(hub_db: sqlite_utils.Database) -> None:
    report = advocacy_report(hub_db, NOVEMBER, hub_zone(DEFAULT_CALENDARS), known_agencies=REGISTRY)
    assert hub_zone(DEFAULT_CALENDARS) == PARIS
    # S1 S2 S3 S4 S5 S7 S8 S9; published S1 S4 S5 S9; deliveries S1×2, S4, S5, S9.
    assert counts(report.total) == (8, 1, 1, 4, 5, {"likes": 9, "shares": 1, "replies": 1, "views": 140})
    assert [(r.key["story"], r.key["topic"], *counts(r)) for r in report.stories] == [
        ("s-atelier", "ateliers-casa", 2, 0, 0, 1, 1, {"likes": 0, "shares": 0, "replies": 0, "views": None}),
        ("s-jeunes", "emploi-jeunes", 1, 0, 0, 1, 1, ALL_NONE),
        ("s-num", "numerique", 2, 1, 1, 0, 0, ALL_NONE),
        ("s-salon", "salons-ara", 2, 0, 0, 1, 2, {"likes": 6, "shares": 1, "replies": 1, "views": 40}),
        ("s-salon-lyon", "salons-ara", 1, 0, 0, 1, 1, {"likes": 3, "shares": 0, "replies": 0, "views": 100}),
    ]
    assert [(r.key["topic"], r.key["required"], *counts(r)[:5]) for r in report.topics] == [
        ("ateliers-casa", "yes", 2, 0, 0, 1, 1),
        ("emploi-jeunes", "no", 1, 0, 0, 1, 1),
        ("numerique", "yes", 2, 1, 1, 0, 0),
        ("salons-ara", "yes", 3, 0, 0, 2, 3),
    ]
    assert dict(report.topics[3].counts.engagement) == SALON_LYON
    assert [(r.key["region"], *counts(r)[:5]) for r in report.regions] == [
        (ARA, 5, 1, 1, 2, 3),  # S3 was stored without a region: the registry's
        (CASA_REGION, 3, 0, 0, 2, 2),
    ]
    assert [(r.key["month"], r.counts.shares) for r in report.months] == [("2026-11", 8)]
    assert [(r.key["network"], *counts(r)) for r in report.networks] == [
        ("bluesky", 1, 0, 0, 1, 1, ALL_NONE),
        ("linkedin", 2, 0, 0, 1, 1, {"likes": 3, "shares": 0, "replies": 0, "views": 100}),
        ("mastodon", 2, 0, 1, 1, 1, {"likes": 2, "shares": 0, "replies": 1, "views": None}),
        ("x", 4, 1, 0, 2, 2, {"likes": 4, "shares": 1, "replies": 0, "views": 40}),
    ]


def test_each_agencys_coverage_of_its_required_topics(hub_db: sqlite_utils.Database) -> None:
    report = advocacy_report(hub_db, NOVEMBER, hub_zone(DEFAULT_CALENDARS), known_agencies=REGISTRY)
    assert [
        (a.agency, a.region, a.required, a.covered, a.coverage, *counts(a)[:5]) for a in report.agencies
    ] == [
        (CASA, CASA_REGION, ("ateliers-casa",), ("ateliers-casa",), 1.0, 3, 0, 0, 2, 2),
        (
            LYON,
            ARA,
            ("numerique", "salons-ara"),
            ("salons-ara",),
            0.5,
            4,
            1,
            1,
            2,
            3,
        ),  # numerique: invalid only
        (MARSEILLE, PROVENCE, (), (), None, 0, 0, 0, 0, 0),
        (RENNES, BRETAGNE, ("numerique",), (), 0.0, 0, 0, 0, 0, 0),
        (VILLEURBANNE, ARA, ("salons-ara",), (), 0.0, 1, 0, 0, 0, 0),  # its delivery pending; S6 December's
    ]
    # One more day (1 December in Paris): Villeurbanne's S6 covers salons-ara.
    longer = advocacy_report(
        hub_db, Period(NOVEMBER.start, datetime(2026, 12, 2).date()), PARIS, known_agencies=REGISTRY
    )
    assert {a.agency: a.coverage for a in longer.agencies}[VILLEURBANNE] == 1.0


def test_a_readers_scope_leaves_other_agencies_out(hub_db: sqlite_utils.Database) -> None:
    report = advocacy_report(
        hub_db,
        NOVEMBER,
        PARIS,
        known_agencies=REGISTRY,
        agencies=lambda agency: REGISTRY[agency] == CASA_REGION,
    )
    assert [a.agency for a in report.agencies] == [CASA]
    assert (report.total.shares, report.total.published) == (3, 2)
    assert [r.key["region"] for r in report.regions] == [CASA_REGION]
    assert {r.key["story"] for r in report.stories} == {"s-atelier", "s-jeunes"}
    assert {f.share.agency for f in report.shares} == {CASA}


def test_without_the_registry_the_agencies_come_from_hub_db(tmp_path: Path) -> None:
    db = open_store(tmp_path / "hub.db")
    fill_november(db)
    report = advocacy_report(db, NOVEMBER, PARIS)
    regions = {a.agency: (a.region, a.required) for a in report.agencies}
    # The agencies the hub heard from; the region of each one's latest share ("" for none): Rennes's
    # is unknown, so the topic for the region bretagne is not required of it.
    assert regions == {
        CASA: (CASA_REGION, ("ateliers-casa",)),
        LYON: (ARA, ("numerique", "salons-ara")),
        MARSEILLE: ("", ()),
        RENNES: ("", ()),
        VILLEURBANNE: (ARA, ("salons-ara",)),
    }
    # An inbox question of Rennes's places it.
    db.table("inbox_questions").insert(
        {
            "conversation": "c",
            "clock": 1,
            "agency": RENNES,
            "region": BRETAGNE,
            "page": "p",
            "network": "mastodon",
            "calendar": "fr-metropole",
            "received_at": "2026-11-05T10:00:00Z",
        }
    )
    agencies = {a.agency: a for a in advocacy_report(db, NOVEMBER, PARIS).agencies}
    assert (agencies[RENNES].region, agencies[RENNES].required, agencies[RENNES].coverage) == (
        BRETAGNE,
        ("numerique",),
        0.0,
    )


def test_the_csv_is_one_row_per_agency(hub_db: sqlite_utils.Database) -> None:
    report = advocacy_report(hub_db, NOVEMBER, PARIS, known_agencies=REGISTRY)
    text = report_csv(report)
    assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
    rows = {row["agency"]: row for row in csv.DictReader(io.StringIO(text))}
    assert rows[LYON] == {
        "period_start": "2026-11-01",
        "period_end": "2026-12-01",
        "region": ARA,
        "agency": LYON,
        "shares_received": "4",
        "shares_invalid": "1",
        "shares_rejected": "1",
        "shares_published": "2",
        "deliveries_published": "3",
        "required_topics": "2",
        "covered_topics": "1",
        "coverage": "0.5000",
        "likes": "9",
        "shares": "1",
        "replies": "1",
        "views": "140",
    }
    assert (rows[MARSEILLE]["coverage"], rows[MARSEILLE]["likes"]) == ("", "")
    assert (rows[CASA]["likes"], rows[CASA]["views"]) == ("0", "")


def test_reading_is_read_only(tmp_path: Path) -> None:
    db = open_store(tmp_path / "hub.db")
    fill_november(db)
    db.close()
    readonly = sqlite_utils.Database(sqlite3.connect(f"file:{tmp_path / 'hub.db'}?mode=ro", uri=True))
    assert advocacy_report(readonly, NOVEMBER, PARIS).total.shares == 8


def test_a_campaign_of_1500_advocates_is_counted_whole(tmp_path: Path) -> None:
    """1,500 advocates of 100 agencies share one required story on four networks within the hour
    (tests/hub/advocacy_report_data.py `fill_advocates`): every share and delivery counted, every
    agency covered. (How long it takes is measured by bench/bench_advocacy_share.py, not here.)"""
    db = open_store(tmp_path / "hub.db")
    fill_advocates(db, 1500)
    report = advocacy_report(db, NOVEMBER, PARIS)
    assert (report.total.shares, report.total.published, report.total.deliveries) == (1500, 1500, 6000)
    # Likes n % 7 on each of 4 deliveries per share; views n % 50 on 3 (Mastodon gives none).
    assert report.total.engagement["likes"] == 4 * sum(n % 7 for n in range(1500))
    assert report.total.engagement["views"] == 3 * sum(n % 50 for n in range(1500))
    assert len(report.agencies) == 100 and all(a.coverage == 1.0 for a in report.agencies)
    assert [(r.key["network"], r.counts.deliveries) for r in report.networks] == [
        ("bluesky", 1500),
        ("linkedin", 1500),
        ("mastodon", 1500),
        ("x", 1500),
    ]
