"""The inbox's response figures (issue #15 item 6), computed from questions alone: pure, so the hub's
report, the dashboard and `relais report` give the same numbers for the same questions.

A question is one clock of a conversation: from its first unanswered item (`received`) to the first
response (`answered`, None while none was sent). For a set of questions:

- `questions`, `answered`;
- `within_target`: answered no later than the deadline of the question's calendar
  (`shared.business_hours.deadline(calendar, received, target)`): the promise, kept in business time;
- `within_target_all_hours`: answered within the target counted in all hours (Sprout's « all hours »);
- first-response times, of the answered questions only, in minutes: `p50`/`p90` in business time and
  in all hours. Percentiles are nearest-rank (the smallest value with at least p % of the values at or
  below it): a figure is always one of the measured times, never an interpolation;
- `within_target_share`: `within_target` over the questions whose outcome is known at `as_of`
  (answered, or unanswered past their deadline); a question still inside its deadline is left out
  rather than counted as missed.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.business_hours import Calendar, business_time, deadline

__all__ = [
    "DEFAULT_TARGET",
    "Question",
    "ResponseFigures",
    "by",
    "iso_week",
    "nearest_rank",
    "response_figures",
]

DEFAULT_TARGET = timedelta(hours=4)


@dataclass(frozen=True)
class Question:
    agency: str
    region: str
    network: str
    calendar: Calendar
    received: datetime  # aware
    answered: datetime | None = None  # aware


@dataclass(frozen=True)
class ResponseFigures:
    questions: int
    answered: int
    decided: int  # answered, or past their deadline unanswered
    within_target: int
    within_target_all_hours: int
    p50_business_min: float | None
    p90_business_min: float | None
    p50_all_hours_min: float | None
    p90_all_hours_min: float | None

    @property
    def within_target_share(self) -> float | None:
        return self.within_target / self.decided if self.decided else None


def nearest_rank(values: Sequence[float], percent: float) -> float | None:
    """The nearest-rank percentile of `values` (None for none)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def response_figures(
    questions: Iterable[Question], *, as_of: datetime, target: timedelta = DEFAULT_TARGET
) -> ResponseFigures:
    count = answered = decided = within = within_all = 0
    business: list[float] = []
    all_hours: list[float] = []
    for question in questions:
        count += 1
        due = deadline(question.calendar, question.received, target)
        if question.answered is None:
            decided += as_of > due
            continue
        answered += 1
        decided += 1
        within += question.answered <= due
        elapsed = question.answered - question.received
        within_all += elapsed <= target
        business.append(business_time(question.calendar, question.received, question.answered) / _MINUTE)
        all_hours.append(max(elapsed, timedelta(0)) / _MINUTE)
    return ResponseFigures(
        questions=count,
        answered=answered,
        decided=decided,
        within_target=within,
        within_target_all_hours=within_all,
        p50_business_min=nearest_rank(business, 50),
        p90_business_min=nearest_rank(business, 90),
        p50_all_hours_min=nearest_rank(all_hours, 50),
        p90_all_hours_min=nearest_rank(all_hours, 90),
    )


def by(
    questions: Iterable[Question],
    key: Callable[[Question], Hashable],
    *,
    as_of: datetime,
    target: timedelta = DEFAULT_TARGET,
) -> dict[Hashable, ResponseFigures]:
    """The figures of each group of questions (by agency, region, network, `iso_week`…)."""
    groups: dict[Hashable, list[Question]] = defaultdict(list)
    for question in questions:
        groups[key(question)].append(question)
    return {group: response_figures(items, as_of=as_of, target=target) for group, items in groups.items()}


def iso_week(question: Question) -> str:
    """The ISO week the question was received in, in its calendar's zone (`2026-W49`)."""
    year, week, _ = question.received.astimezone(question.calendar.zone).isocalendar()
    return f"{year}-W{week:02d}"


_MINUTE = timedelta(minutes=1)
