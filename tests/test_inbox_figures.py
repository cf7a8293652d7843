"""The inbox's response figures (issue #15 item 6): each expected value below is worked out by hand
from the fr-metropole calendar (Monday-Friday 09:00-17:00, Europe/Paris) and the module's written
definitions (nearest-rank percentiles, a question inside its deadline left out of the share)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from shared.business_hours import DEFAULT_CALENDARS
from shared.inbox_figures import Question, by, iso_week, nearest_rank, response_figures

PARIS = ZoneInfo("Europe/Paris")
FR = DEFAULT_CALENDARS.get("fr-metropole")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=PARIS)  # 7 December 2026 is a Monday


def question(
    received: datetime, answered: datetime | None, agency: str = "lyon", network: str = "x"
) -> Question:
    return Question(agency, "auvergne-rhone-alpes", network, FR, received, answered)


QUESTIONS = [
    question(at(7, 10), at(7, 11)),  # 60 min in business time and in all hours: within both
    question(at(7, 16), at(8, 10)),  # 60 + 60 = 120 business min (due Tue 12:00); 18 h in all hours
    question(at(5, 10), at(7, 14)),  # Saturday: the clock starts Monday 09:00, due 13:00: late; 52 h
    question(at(7, 9), None),  # unanswered, due Monday 13:00: missed by Tuesday 09:00
    question(at(8, 8), None),  # unanswered, due Tuesday 13:00: not decided yet at 09:00
]
AS_OF = at(8, 9)


def test_figures_of_a_set_of_questions() -> None:
    figures = response_figures(QUESTIONS, as_of=AS_OF)
    assert (figures.questions, figures.answered, figures.decided) == (5, 3, 4)
    assert (figures.within_target, figures.within_target_all_hours) == (2, 1)
    assert figures.within_target_share == 0.5
    # Business times 60, 120, 300 min; all hours 60, 1,080, 3,120 min.
    assert (figures.p50_business_min, figures.p90_business_min) == (120, 300)
    assert (figures.p50_all_hours_min, figures.p90_all_hours_min) == (1080, 3120)


def test_a_question_answered_exactly_at_its_deadline_is_within_target() -> None:
    figures = response_figures([question(at(7, 16), at(8, 12))], as_of=AS_OF)
    assert figures.within_target == 1 and figures.p50_business_min == 240


def test_no_questions_have_no_times_and_no_share() -> None:
    figures = response_figures([], as_of=AS_OF)
    assert figures.questions == 0 and figures.within_target_share is None
    assert figures.p50_business_min is None and figures.p90_all_hours_min is None


@pytest.mark.parametrize(
    ("values", "percent", "expected"),
    [
        (list(range(1, 11)), 90, 9),
        (list(range(1, 11)), 50, 5),
        (list(range(1, 11)), 100, 10),
        ([7.0], 90, 7.0),
        ([3, 1, 2], 50, 2),
        ([], 50, None),
    ],
)
def test_nearest_rank_percentiles(values: list[float], percent: float, expected: float | None) -> None:
    assert nearest_rank(values, percent) == expected


def test_figures_by_agency_and_network() -> None:
    questions = [
        question(at(7, 10), at(7, 11), agency="lyon", network="x"),
        question(at(7, 10), at(7, 15), agency="lyon", network="facebook"),  # 300 min: late
        question(at(7, 10), at(7, 10, 30), agency="rabat", network="facebook"),
    ]
    per_agency = by(questions, lambda q: q.agency, as_of=AS_OF)
    assert per_agency["lyon"].within_target == 1 and per_agency["lyon"].answered == 2
    assert per_agency["rabat"].p50_business_min == 30
    per_network = by(questions, lambda q: q.network, as_of=AS_OF)
    assert per_network["facebook"].within_target_share == 0.5


def test_the_week_is_read_in_the_calendars_zone() -> None:
    # Sunday 6 December 23:30 UTC is Monday 00:30 in Paris: ISO week 50, not 49.
    late_sunday = datetime(2026, 12, 6, 23, 30, tzinfo=ZoneInfo("UTC"))
    assert iso_week(question(late_sunday, None)) == "2026-W50"
    assert iso_week(question(at(6, 23), None)) == "2026-W49"
