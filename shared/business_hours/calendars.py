"""The business calendars: when each one is open, day by day.

A calendar is wall-clock hours in its own IANA zone (so a daylight-saving change moves the instants,
never the hours), on its open weekdays, minus the public holidays the `holidays` package gives for its
country (and subdivision), minus the closed days configuration adds, plus the days it opens (an
estimated holiday announced on another day, an exceptional Saturday); a calendar with Ramadan hours
keeps them from the first to the last day of Ramadan, whose dates come from the Umm al-Qura calendar
(`hijridate`) unless configuration gives the dates announced that year.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays
from hijridate import Gregorian, Hijri

__all__ = [
    "BUILT_IN",
    "Calendar",
    "DateRange",
    "Hours",
    "is_ramadan",
    "opening_hours",
    "ramadan_periods",
]

RAMADAN = 9  # the Hijri month


@dataclass(frozen=True)
class Hours:
    """One day's opening, in wall-clock time; `opening` < `closing`, both on the same day."""

    opening: time
    closing: time

    def __str__(self) -> str:
        return f"{self.opening:%H:%M}-{self.closing:%H:%M}"


@dataclass(frozen=True)
class DateRange:
    """Days from `first` to `last`, both included."""

    first: date
    last: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first <= day <= self.last

    def overlaps(self, other: DateRange) -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass(frozen=True)
class Calendar:
    id: str
    zone: ZoneInfo
    hours: Hours
    weekdays: frozenset[int]  # date.weekday(): 0 is Monday
    country: str  # the `holidays` package's country code
    subdivision: str | None = None  # and its subdivision code
    closed: frozenset[date] = frozenset()  # closed days added by configuration
    opened: frozenset[date] = frozenset()  # days configuration opens, whatever the weekday or holiday
    ramadan_hours: Hours | None = None
    # Ramadan's announced dates: each replaces the Umm al-Qura Ramadan it overlaps.
    ramadan: tuple[DateRange, ...] = ()


_WEEKDAYS = frozenset(range(5))
_NINE_TO_FIVE = Hours(time(9), time(17))


def _france(calendar_id: str, zone: str, subdivision: str | None) -> Calendar:
    return Calendar(calendar_id, ZoneInfo(zone), _NINE_TO_FIVE, _WEEKDAYS, "FR", subdivision)


# The `holidays` package names France's overseas departments by their INSEE numbers (its aliases
# RE, GP, MQ, YT and GY, not GF, say the same): 974 Réunion, 971 Guadeloupe, 972 Martinique,
# 973 Guyane, 976 Mayotte. Metropolitan France has no subdivision: Alsace-Moselle's two extra days
# (its subdivisions 57 and 6AE) come only through an override.
BUILT_IN: Mapping[str, Calendar] = MappingProxyType(
    {
        calendar.id: calendar
        for calendar in (
            _france("fr-metropole", "Europe/Paris", None),
            _france("fr-reunion", "Indian/Reunion", "974"),
            _france("fr-guadeloupe", "America/Guadeloupe", "971"),
            _france("fr-martinique", "America/Martinique", "972"),
            _france("fr-guyane", "America/Cayenne", "973"),
            _france("fr-mayotte", "Indian/Mayotte", "976"),
            Calendar(
                "ma",
                ZoneInfo("Africa/Casablanca"),
                Hours(time(8, 30), time(16, 30)),
                _WEEKDAYS,
                "MA",
                ramadan_hours=Hours(time(9), time(15)),
            ),
        )
    }
)


def opening_hours(calendar: Calendar, day: date) -> tuple[datetime, datetime] | None:
    """When `calendar` opens and closes on `day` (UTC instants), or None on a closed day. A wall-clock
    time that a clock change skips is read with the offset in force before the change (fold 0)."""
    if day in calendar.closed:
        return None
    if day not in calendar.opened and (day.weekday() not in calendar.weekdays or _is_holiday(calendar, day)):
        return None
    hours = calendar.ramadan_hours if is_ramadan(calendar, day) else calendar.hours
    assert hours is not None  # is_ramadan is False without Ramadan hours
    opens = datetime.combine(day, hours.opening, calendar.zone).astimezone(UTC)
    closes = datetime.combine(day, hours.closing, calendar.zone).astimezone(UTC)
    return opens, closes


def _is_holiday(calendar: Calendar, day: date) -> bool:
    return day in _holidays(calendar.country, calendar.subdivision, day.year)


@functools.lru_cache(maxsize=256)
def _holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


def is_ramadan(calendar: Calendar, day: date) -> bool:
    if calendar.ramadan_hours is None:
        return False
    return any(day in period for period in ramadan_periods(calendar, day.year))


def ramadan_periods(calendar: Calendar, year: int) -> list[DateRange]:
    """Every Ramadan that touches Gregorian `year` (two in some years, e.g. 2030): the announced ones
    of the configuration, and the Umm al-Qura ones none of them overlaps. Beyond the Umm al-Qura table,
    a year's Ramadans are the announced ones alone, and there must be some."""
    announced = [a for a in calendar.ramadan if a.first.year <= year <= a.last.year]
    try:
        computed = _umm_al_qura_ramadans(year)
    except ValueError:
        if not announced:
            raise
        computed = ()
    return [*(p for p in computed if not any(p.overlaps(a) for a in calendar.ramadan)), *announced]


@functools.lru_cache(maxsize=256)
def _umm_al_qura_ramadans(year: int) -> tuple[DateRange, ...]:
    """The Ramadans of the Hijri year under way on 1 January and of the next one, those of them that
    touch `year`. hijridate's table covers 1343–1500 AH (1 August 1924 to 16 November 2077): beyond
    it a year's dates must come from configuration."""
    try:
        hijri_year = Gregorian(year, 1, 1).to_hijri().year
    except OverflowError as exc:
        raise ValueError(
            f"Ramadan's dates in {year} are beyond the Umm al-Qura table; give them in configuration"
        ) from exc
    periods = []
    for candidate in (hijri_year, hijri_year + 1):
        try:
            period = _ramadan_of(candidate)
        except OverflowError:  # 1501 AH: its Ramadan (2078) cannot touch a year the table reaches
            continue
        if period.first.year <= year <= period.last.year:
            periods.append(period)
    return tuple(periods)


def _ramadan_of(hijri_year: int) -> DateRange:
    first = Hijri(hijri_year, RAMADAN, 1).to_gregorian()
    following = Hijri(hijri_year, RAMADAN + 1, 1).to_gregorian()
    return DateRange(date.fromordinal(first.toordinal()), date.fromordinal(following.toordinal() - 1))
