"""Business-hours calendars and SLA deadlines (issue #15 item 3).

Policy, by hand (the issue's words): each calendar is open Monday–Friday, 09:00–17:00 in France and its
overseas departments, 08:30–16:30 in Morocco (09:00–15:00 during Ramadan), in wall-clock time of its
own zone, closed on the public holidays of its country and territory. A message that arrives outside
business hours starts its clock at the next opening; a deadline that falls exactly at closing time
stays at closing time that day. Every expected deadline below is computed by hand in its comment
(calendars and legal holidays, not the code's answers); the dates' weekdays were read off a calendar.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from hijridate import Gregorian, Hijri
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.business_hours import (
    BUILT_IN,
    DEFAULT_CALENDARS,
    Calendar,
    CalendarsError,
    business_time,
    calendar_for,
    deadline,
    load_calendars,
    parse_calendars,
)

PARIS = ZoneInfo("Europe/Paris")
FOUR_HOURS = timedelta(hours=4)


def at(text: str) -> datetime:
    """An instant written with its offset, as the expectations are."""
    value = datetime.fromisoformat(text)
    assert value.tzinfo is not None
    return value


def due(calendar_id: str, received: str, target: timedelta = FOUR_HOURS, calendar: Any = None) -> datetime:
    return deadline(calendar or BUILT_IN[calendar_id], at(received), target)


def same(result: datetime, expected: str) -> None:
    """The same instant, and given with the offset in force at the deadline in the calendar's zone."""
    assert result == at(expected)
    assert result.isoformat() == at(expected).isoformat()


# Metropolitan France: weekends, arrival times, closing time.


@pytest.mark.parametrize(
    ("received", "target", "expected"),
    [
        # Arrival at night (Tue 2 Feb 2027 03:00): the clock starts at 09:00; +4h = 13:00.
        ("2027-02-02T03:00:00+01:00", FOUR_HOURS, "2027-02-02T13:00:00+01:00"),
        # Arrival exactly at opening: 09:00 + 4h = 13:00.
        ("2027-02-02T09:00:00+01:00", FOUR_HOURS, "2027-02-02T13:00:00+01:00"),
        # Arrival exactly at closing (17:00) is outside: Wed 3 Feb 09:00 + 4h = 13:00.
        ("2027-02-02T17:00:00+01:00", FOUR_HOURS, "2027-02-03T13:00:00+01:00"),
        # One second before closing: 1 s on Tuesday, 3h59m59s on Wednesday from 09:00 → 12:59:59.
        ("2027-02-02T16:59:59+01:00", FOUR_HOURS, "2027-02-03T12:59:59+01:00"),
        # A deadline exactly at closing: 13:00 + 4h = 17:00 that day, not Wednesday 09:00.
        ("2027-02-02T13:00:00+01:00", FOUR_HOURS, "2027-02-02T17:00:00+01:00"),
        # Friday 5 Feb 15:00: 2h on Friday (to 17:00), Saturday and Sunday closed, 2h on Monday 8 → 11:00.
        ("2027-02-05T15:00:00+01:00", FOUR_HOURS, "2027-02-08T11:00:00+01:00"),
        # Saturday 6 Feb 10:00: nothing until Monday 09:00; +4h = 13:00.
        ("2027-02-06T10:00:00+01:00", FOUR_HOURS, "2027-02-08T13:00:00+01:00"),
        # Sunday 23:59 UTC is Monday 00:59 in Paris: clock from Monday 09:00 → 13:00.
        ("2027-02-07T23:59:00+00:00", FOUR_HOURS, "2027-02-08T13:00:00+01:00"),
        # 20h from Thu 4 Feb 14:00: 3h Thu, 8h Fri (11h), weekend, 8h Mon 8 (19h), 1h Tue 9 → 10:00.
        ("2027-02-04T14:00:00+01:00", timedelta(hours=20), "2027-02-09T10:00:00+01:00"),
        # 90 minutes from Mon 1 Feb 16:00: 1h to 17:00, 30m on Tuesday from 09:00 → 09:30.
        ("2027-02-01T16:00:00+01:00", timedelta(minutes=90), "2027-02-02T09:30:00+01:00"),
        # Exactly 16h from Monday 09:00: all of Monday and Tuesday, ending at Tuesday's closing 17:00.
        ("2027-02-01T09:00:00+01:00", timedelta(hours=16), "2027-02-02T17:00:00+01:00"),
    ],
)
def test_metropolitan_deadlines(received: str, target: timedelta, expected: str) -> None:
    same(due("fr-metropole", received, target), expected)


def test_a_target_of_nothing_is_the_opening_the_clock_starts_at() -> None:
    # Saturday evening: the clock starts Monday 8 Feb 2027 at 09:00, and 0 of it has run there.
    same(due("fr-metropole", "2027-02-06T20:00:00+01:00", timedelta(0)), "2027-02-08T09:00:00+01:00")
    # Closing time is outside the hours too: Tue 2 Feb 17:00 → Wed 3 Feb 09:00.
    same(due("fr-metropole", "2027-02-02T17:00:00+01:00", timedelta(0)), "2027-02-03T09:00:00+01:00")
    # Within the hours it is the arrival itself.
    same(due("fr-metropole", "2027-02-02T10:15:00+01:00", timedelta(0)), "2027-02-02T10:15:00+01:00")


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        # Thu 30 Apr 2026 15:00: 2h on Thursday; Fri 1 May (Labour Day) closed, weekend; Mon 4 May
        # 09:00 + 2h = 11:00 (summer time, +02:00).
        ("2026-04-30T15:00:00+02:00", "2026-05-04T11:00:00+02:00"),
        # Tue 13 Jul 2027 16:00: 1h; Wed 14 July (National Day) closed; Thu 15 Jul 09:00 + 3h = 12:00.
        ("2027-07-13T16:00:00+02:00", "2027-07-15T12:00:00+02:00"),
        # Wed 5 May 2027 14:00: 3h; Thu 6 May 2027 (Ascension: Easter 28 Mar + 39 days) closed;
        # Fri 7 May 09:00 + 1h = 10:00.
        ("2027-05-05T14:00:00+02:00", "2027-05-07T10:00:00+02:00"),
    ],
)
def test_french_public_holidays_are_closed(received: str, expected: str) -> None:
    same(due("fr-metropole", received), expected)


def test_the_spring_clock_change_keeps_wall_clock_hours() -> None:
    # Fri 27 Mar 2026 18:30 (+01:00), after closing; Sunday 29 March is the last Sunday of March (clocks
    # go to +02:00). Monday 30 March: 09:00+02:00 + 4h = 13:00+02:00, i.e. 11:00 UTC (not 12:00 UTC).
    answer = due("fr-metropole", "2026-03-27T18:30:00+01:00")
    same(answer, "2026-03-30T13:00:00+02:00")
    assert answer.astimezone(UTC) == datetime(2026, 3, 30, 11, tzinfo=UTC)
    # Fri 16:00+01:00: 1h on Friday, 3h on Monday from 09:00+02:00 → 12:00+02:00.
    same(due("fr-metropole", "2026-03-27T16:00:00+01:00"), "2026-03-30T12:00:00+02:00")
    # In 2027 the Monday after the change is Easter Monday (29 March): Fri 26 Mar 16:00 → 1h;
    # Tue 30 Mar 09:00+02:00 + 3h = 12:00+02:00.
    same(due("fr-metropole", "2027-03-26T16:00:00+01:00"), "2027-03-30T12:00:00+02:00")
    # 4 business hours, 67 hours of wall time between them.
    friday, monday = at("2026-03-27T16:00:00+01:00"), at("2026-03-30T12:00:00+02:00")
    assert business_time(BUILT_IN["fr-metropole"], friday, monday) == FOUR_HOURS
    assert monday - friday == timedelta(hours=67)


def test_the_autumn_clock_change_keeps_wall_clock_hours() -> None:
    # Last Sunday of October 2026 is the 25th (back to +01:00). Fri 23 Oct 16:00+02:00: 1h;
    # Mon 26 Oct 09:00+01:00 + 3h = 12:00+01:00.
    same(due("fr-metropole", "2026-10-23T16:00:00+02:00"), "2026-10-26T12:00:00+01:00")


# The overseas departments: their zones and their own holidays.


@pytest.mark.parametrize(
    ("calendar_id", "received", "expected"),
    [
        # Réunion (+04:00), 20 December (abolition of slavery), Monday in 2027: Fri 17 Dec 15:00 → 2h;
        # Mon 20 closed; Tue 21 Dec 09:00 + 2h = 11:00+04:00.
        ("fr-reunion", "2027-12-17T15:00:00+04:00", "2027-12-21T11:00:00+04:00"),
        # Mayotte (+03:00), 27 April, Tuesday in 2027: Mon 26 Apr 16:00 → 1h; Wed 28 09:00 + 3h = 12:00.
        ("fr-mayotte", "2027-04-26T16:00:00+03:00", "2027-04-28T12:00:00+03:00"),
        # Martinique (−04:00), 22 May, Friday in 2026, then Mon 25 May 2026 Pentecost Monday: Thu 21 May
        # 16:30 → 30m; Tue 26 May 09:00 + 3h30 = 12:30−04:00.
        ("fr-martinique", "2026-05-21T16:30:00-04:00", "2026-05-26T12:30:00-04:00"),
        # Guadeloupe (−04:00), 27 May, Thursday in 2027: Wed 26 May 15:00 → 2h; Fri 28 09:00 + 2h = 11:00.
        ("fr-guadeloupe", "2027-05-26T15:00:00-04:00", "2027-05-28T11:00:00-04:00"),
        # Guyane (−03:00), 10 June, Thursday in 2027: Wed 9 Jun 17:00 is closing time (clock not
        # started); Thu closed; Fri 11 Jun 09:00 + 4h = 13:00−03:00.
        ("fr-guyane", "2027-06-09T17:00:00-03:00", "2027-06-11T13:00:00-03:00"),
    ],
)
def test_each_overseas_department_closes_on_its_own_holiday(
    calendar_id: str, received: str, expected: str
) -> None:
    same(due(calendar_id, received), expected)


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        # 20 Dec 2027 is a working Monday in Paris: Fri 17 Dec 15:00 → 2h; Mon 20 09:00 + 2h = 11:00.
        ("2027-12-17T15:00:00+01:00", "2027-12-20T11:00:00+01:00"),
        # 27 May 2027 too: Wed 26 May 15:00 → 2h; Thu 27 09:00 + 2h = 11:00+02:00.
        ("2027-05-26T15:00:00+02:00", "2027-05-27T11:00:00+02:00"),
    ],
)
def test_an_overseas_holiday_is_a_working_day_in_metropolitan_france(received: str, expected: str) -> None:
    same(due("fr-metropole", received), expected)


def test_the_calendars_zone_runs_the_clock_whatever_zone_the_message_came_in() -> None:
    # Tue 2 Feb 2027 06:00 UTC = 10:00 in Réunion (+04:00): +4h → 14:00+04:00. The same instant is
    # 07:00 in Paris (before opening): +4h from 09:00 → 13:00+01:00. In Guadeloupe it is 02:00:
    # 09:00−04:00 + 4h = 13:00−04:00.
    received = datetime(2027, 2, 2, 6, tzinfo=UTC)
    same(deadline(BUILT_IN["fr-reunion"], received, FOUR_HOURS), "2027-02-02T14:00:00+04:00")
    same(deadline(BUILT_IN["fr-metropole"], received, FOUR_HOURS), "2027-02-02T13:00:00+01:00")
    same(deadline(BUILT_IN["fr-guadeloupe"], received, FOUR_HOURS), "2027-02-02T13:00:00-04:00")


# Morocco: its hours, Ramadan (1448 AH: 8 February – 8 March 2027 by Umm al-Qura) and its clock, which
# goes back to +00:00 for Ramadan (Sun 7 Feb 2027 03:00 → 02:00) and forward again after it (Sun 14 Mar
# 2027 02:00 → 03:00).


def test_ramadan_2027_by_umm_al_qura_is_what_the_calendar_uses() -> None:
    # The policy's source: 1 Ramadan 1448 and 1 Shawwal 1448 by hijridate's Umm al-Qura table.
    assert Hijri(1448, 9, 1).to_gregorian() == date(2027, 2, 8)
    assert Hijri(1448, 10, 1).to_gregorian() == date(2027, 3, 9)


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        # Tue 2 Feb 2027 (before Ramadan, +01:00) 14:00: 2h30 to 16:30; Wed 3 Feb 08:30 + 1h30 = 10:00.
        ("2027-02-02T14:00:00+01:00", "2027-02-03T10:00:00+01:00"),
        # Fri 5 Feb 15:00+01:00: 1h30 to 16:30; weekend (the clock goes back on Sunday); Mon 8 Feb is
        # 1 Ramadan: 09:00+00:00 + 2h30 = 11:30+00:00.
        ("2027-02-05T15:00:00+01:00", "2027-02-08T11:30:00+00:00"),
        # Wed 17 Feb (Ramadan) 13:00: 2h to 15:00; Thu 18 09:00 + 2h = 11:00+00:00.
        ("2027-02-17T13:00:00+00:00", "2027-02-18T11:00:00+00:00"),
        # Mon 8 Feb 15:00 is Ramadan's closing time: the clock starts Tue 9 at 09:00 → 13:00.
        ("2027-02-08T15:00:00+00:00", "2027-02-09T13:00:00+00:00"),
        # Mon 8 Mar (last day of Ramadan) 14:00: 1h to 15:00; Tue 9 and Wed 10 Mar Eid al-Fitr closed;
        # Thu 11 Mar ordinary hours 08:30 + 3h = 11:30+00:00 (summer time resumes on the 14th).
        ("2027-03-08T14:00:00+00:00", "2027-03-11T11:30:00+00:00"),
        # Fri 12 Mar 14:00+00:00: 2h30 to 16:30; Sun 14 Mar the clock goes forward; Mon 15 Mar
        # 08:30+01:00 + 1h30 = 10:00+01:00 (09:00 UTC).
        ("2027-03-12T14:00:00+00:00", "2027-03-15T10:00:00+01:00"),
        # Moroccan public holiday: Mon 11 Jan 2027 (Proclamation of Independence). Fri 8 Jan 15:30:
        # 1h to 16:30; Tue 12 Jan 08:30 + 3h = 11:30+01:00.
        ("2027-01-08T15:30:00+01:00", "2027-01-12T11:30:00+01:00"),
    ],
)
def test_morocco_hours_ramadan_and_clock_changes(received: str, expected: str) -> None:
    same(due("ma", received), expected)


RAMADAN_A_DAY_LATER = {
    "calendars": {"ma": {"ramadan": [{"first": date(2027, 2, 9), "last": date(2027, 3, 9)}]}}
}


def test_ramadans_announced_dates_replace_umm_al_qura() -> None:
    # Announced a day later: 9 Feb – 9 Mar 2027 (29 days). Fri 5 Feb 15:00+01:00: 1h30; Monday 8 Feb
    # now has ordinary hours (at +00:00, the zone's rule): 08:30 + 2h30 = 11:00+00:00.
    announced = parse_calendars(RAMADAN_A_DAY_LATER).get("ma")
    same(due("ma", "2027-02-05T15:00:00+01:00", calendar=announced), "2027-02-08T11:00:00+00:00")
    # Mon 8 Feb 15:00: ordinary hours, 1h30 to 16:30; Tue 9 Feb is Ramadan: 09:00 + 2h30 = 11:30.
    same(due("ma", "2027-02-08T15:00:00+00:00", calendar=announced), "2027-02-09T11:30:00+00:00")
    # The Umm al-Qura calendar elsewhere: Ramadan 1449 begins 28 Jan 2028 (Friday; the clock went
    # back to +00:00 on Sunday 23rd). Thu 27 Jan 16:00 (ordinary hours): 30m; Fri 28 Jan Ramadan
    # 09:00 + 3h30 = 12:30+00:00.
    same(due("ma", "2028-01-27T16:00:00+00:00", calendar=announced), "2028-01-28T12:30:00+00:00")


def test_an_announced_eid_moves_the_estimated_holiday_with_open_and_closed_days() -> None:
    # Ramadan announced 9 Feb – 9 Mar 2027, so Eid al-Fitr is 10–11 March, where the package estimates
    # 9–10 March: open 9 March (Ramadan hours), close 11 March. Tue 9 Mar 14:00: 1h to 15:00;
    # Wed 10 (package) and Thu 11 (configuration) closed; Fri 12 Mar 08:30 + 3h = 11:30+00:00.
    announced = {
        "calendars": {
            "ma": {
                **RAMADAN_A_DAY_LATER["calendars"]["ma"],
                "open": [date(2027, 3, 9)],
                "closed": [date(2027, 3, 11)],
            }
        }
    }
    calendar = parse_calendars(announced).get("ma")
    same(due("ma", "2027-03-09T14:00:00+00:00", calendar=calendar), "2027-03-12T11:30:00+00:00")
    # Without `open`, 9 March stays the package's holiday: the clock starts Thu 11 Mar 08:30 → 12:30.
    same(
        due("ma", "2027-03-09T14:00:00+00:00", calendar=parse_calendars(RAMADAN_A_DAY_LATER).get("ma")),
        "2027-03-11T12:30:00+00:00",
    )


def test_an_open_day_opens_a_weekend_day_and_a_calendar_made_from_it_can_close_it_again() -> None:
    # Saturday 6 Feb 2027 opened: Fri 5 Feb 15:00 → 2h; Sat 09:00 + 2h = 11:00.
    opened: dict[str, dict[str, dict[str, Any]]] = {
        "calendars": {"fr-metropole": {"open": ["2027-02-06"]}, "fr-strict": {"from": "fr-metropole"}}
    }
    calendars = parse_calendars(opened)
    same(
        due("", "2027-02-05T15:00:00+01:00", calendar=calendars.get("fr-metropole")),
        "2027-02-06T11:00:00+01:00",
    )
    same(
        due("", "2027-02-05T15:00:00+01:00", calendar=calendars.get("fr-strict")), "2027-02-06T11:00:00+01:00"
    )
    opened["calendars"]["fr-strict"]["closed"] = ["2027-02-06"]
    # Closed again: Mon 8 Feb 09:00 + 2h = 11:00.
    strict = parse_calendars(opened).get("fr-strict")
    same(due("", "2027-02-05T15:00:00+01:00", calendar=strict), "2027-02-08T11:00:00+01:00")


def test_beyond_the_umm_al_qura_table_ramadan_comes_from_configuration() -> None:
    # hijridate's table ends in November 2077. Mon 7 Feb 2078 10:00 (the zone's rules say +01:00 then),
    # no dates given: an error, not a guess. Given Ramadan 2078 as 20 January – 18 February (30 days):
    # Mon 7 Feb is Ramadan, 10:00 + 4h = 14:00 (before the 15:00 closing).
    received = at("2078-02-07T10:00:00+01:00")
    with pytest.raises(ValueError, match="give them in configuration"):
        deadline(BUILT_IN["ma"], received, FOUR_HOURS)
    given = {"calendars": {"ma": {"ramadan": [{"first": date(2078, 1, 20), "last": date(2078, 2, 18)}]}}}
    calendar = parse_calendars(given).get("ma")
    assert deadline(calendar, received, FOUR_HOURS).time() == time(14)
    # And 3 March 2078, after it (ordinary hours, 08:30–16:30): Thu 3 Mar 14:00 + 2h = 16:00.
    assert deadline(calendar, at("2078-03-03T14:00:00+01:00"), timedelta(hours=2)).time() == time(16)


def test_ramadan_hours_do_not_apply_to_french_calendars() -> None:
    # Wed 17 Feb 2027, Ramadan, in Paris: 13:00 + 4h = 17:00, ordinary hours.
    same(due("fr-metropole", "2027-02-17T13:00:00+01:00"), "2027-02-17T17:00:00+01:00")


# business_time.


def test_business_time_counts_only_open_hours() -> None:
    calendar = BUILT_IN["fr-metropole"]
    # Fri 5 Feb 2027 15:00 → Mon 8 Feb 11:00: 2h + 2h.
    assert business_time(calendar, at("2027-02-05T15:00:00+01:00"), at("2027-02-08T11:00:00+01:00")) == (
        FOUR_HOURS
    )
    # Both at night: Tue 20:00 → Wed 07:00, nothing.
    assert business_time(calendar, at("2027-02-02T20:00:00+01:00"), at("2027-02-03T07:00:00+01:00")) == (
        timedelta(0)
    )
    # Mon 1 Feb 00:00 → Mon 8 Feb 00:00: five days of 8h.
    assert business_time(calendar, at("2027-02-01T00:00:00+01:00"), at("2027-02-08T00:00:00+01:00")) == (
        timedelta(hours=40)
    )
    # Morocco, Ramadan week: Mon 15 Feb 2027 00:00 → Sat 20 Feb 00:00: five days of 6h.
    assert business_time(BUILT_IN["ma"], at("2027-02-15T00:00:00Z"), at("2027-02-20T00:00:00Z")) == (
        timedelta(hours=30)
    )


def test_instants_without_offsets_and_backward_intervals_are_refused() -> None:
    calendar = BUILT_IN["fr-metropole"]
    with pytest.raises(ValueError, match="instant"):
        deadline(calendar, datetime(2027, 2, 2, 10), FOUR_HOURS)
    with pytest.raises(ValueError, match="before"):
        business_time(calendar, at("2027-02-02T10:00:00+01:00"), at("2027-02-02T09:00:00+01:00"))
    with pytest.raises(ValueError, match="negative"):
        deadline(calendar, at("2027-02-02T10:00:00+01:00"), -FOUR_HOURS)


# The property: business_time(received, deadline(received, t)) == t, and the deadline is what an
# independent minute-by-minute count of open minutes gives.


# The calendars, written again: (zone, country, the `holidays` package's subdivision).
ORACLE = {
    "fr-metropole": ("Europe/Paris", "FR", None),
    "fr-reunion": ("Indian/Reunion", "FR", "974"),
    "fr-guadeloupe": ("America/Guadeloupe", "FR", "971"),
    "fr-martinique": ("America/Martinique", "FR", "972"),
    "fr-guyane": ("America/Cayenne", "FR", "973"),
    "fr-mayotte": ("Indian/Mayotte", "FR", "976"),
    "ma": ("Africa/Casablanca", "MA", None),
}


@functools.cache
def oracle_hours(calendar_id: str, day: date) -> tuple[time, time] | None:
    """The issue's definition, written again without the module: open Monday–Friday except the
    `holidays` package's days, 09:00–17:00 in France, 08:30–16:30 in Morocco and 09:00–15:00 in the
    Hijri month of Ramadan (9) by hijridate."""
    _, country, subdivision = ORACLE[calendar_id]
    if day.weekday() >= 5 or day in holidays.country_holidays(country, subdiv=subdivision, years=day.year):
        return None
    if country == "FR":
        return time(9), time(17)
    if Gregorian.fromdate(day).to_hijri().month == 9:
        return time(9), time(15)
    return time(8, 30), time(16, 30)


def oracle_is_open(calendar_id: str, minute: datetime) -> bool:
    local = minute.astimezone(ZoneInfo(ORACLE[calendar_id][0]))
    hours = oracle_hours(calendar_id, local.date())
    return hours is not None and hours[0] <= local.time() < hours[1]


def oracle_deadline(calendar_id: str, received: datetime, target: timedelta) -> datetime:
    minute, counted = received, timedelta(0)
    while counted < target:
        if oracle_is_open(calendar_id, minute):
            counted += timedelta(minutes=1)
        minute += timedelta(minutes=1)
    # The end of the last open minute counted (a deadline at closing time stays there).
    return minute


instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 1), timezones=st.just(UTC)
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    calendar_id=st.sampled_from(sorted(ORACLE)),
    received=instants.map(lambda t: t.replace(second=0, microsecond=0)),
    minutes=st.integers(min_value=1, max_value=20 * 60),
)
def test_the_deadline_is_the_independent_minute_count(
    calendar_id: str, received: datetime, minutes: int
) -> None:
    target = timedelta(minutes=minutes)
    answer = deadline(BUILT_IN[calendar_id], received, target)
    assert answer == oracle_deadline(calendar_id, received, target)
    assert answer.tzinfo == BUILT_IN[calendar_id].zone


@settings(max_examples=1000, deadline=None)
@given(
    calendar_id=st.sampled_from(sorted(BUILT_IN)),
    received=instants,
    target=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(hours=60)),
)
def test_business_time_to_the_deadline_is_the_target(
    calendar_id: str, received: datetime, target: timedelta
) -> None:
    calendar = BUILT_IN[calendar_id]
    answer = deadline(calendar, received, target)
    assert business_time(calendar, received, answer) == target
    assert answer > received
    # Not a second later: one more second of business time lies beyond the deadline.
    assert deadline(calendar, received, target + timedelta(seconds=1)) > answer


# Configuration: overrides, new calendars, errors naming the key.


def test_overrides_change_hours_add_closed_days_and_define_calendars(tmp_path: Path) -> None:
    path = tmp_path / "calendars.toml"
    path.write_text(
        """
        [calendars.fr-metropole]
        hours = "08:00-12:00"
        closed = [2027-02-03]          # a training day

        [calendars.fr-alsace-moselle]  # Good Friday and 26 December, the package's 6AE
        from = "fr-metropole"
        subdivision = "6AE"

        [calendars.ma-weekend]
        from = "ma"
        days = ["mon", "tue", "wed", "thu", "fri", "sat"]
        ramadan_hours = "10:00-14:00"

        [agencies]
        strasbourg = "fr-alsace-moselle"

        [regions]
        grand-est = "fr-alsace-moselle"
        """,
        encoding="utf-8",
    )
    calendars = load_calendars({"RELAIS_CALENDARS_FILE": str(path)})
    metropole = calendars.get("fr-metropole")
    # Tue 2 Feb 2027 11:00: 1h to 12:00; Wed 3 closed; Thu 4 08:00 + 3h = 11:00.
    same(due("", "2027-02-02T11:00:00+01:00", calendar=metropole), "2027-02-04T11:00:00+01:00")
    # Alsace-Moselle inherits the changed hours. Thu 25 Mar 2027 11:00: 1h; Fri 26 Mar Good Friday
    # closed; Mon 29 Easter Monday closed; Tue 30 Mar 08:00 + 3h = 11:00+02:00.
    alsace = calendars.get("fr-alsace-moselle")
    same(due("", "2027-03-25T11:00:00+01:00", calendar=alsace), "2027-03-30T11:00:00+02:00")
    # ...where metropolitan France works on Good Friday: Fri 26 Mar 08:00 + 3h = 11:00.
    same(due("", "2027-03-25T11:00:00+01:00", calendar=metropole), "2027-03-26T11:00:00+01:00")
    # Saturday opening and new Ramadan hours: Fri 12 Feb 2027 13:00 (Ramadan): 1h to 14:00;
    # Sat 13 Feb 10:00 + 3h = 13:00+00:00.
    same(
        due("", "2027-02-12T13:00:00+00:00", calendar=calendars.get("ma-weekend")),
        "2027-02-13T13:00:00+00:00",
    )
    # Who uses which.
    assert calendar_for("grand-est", "strasbourg", calendars).id == "fr-alsace-moselle"
    assert calendar_for("grand-est", "metz", calendars).id == "fr-alsace-moselle"
    assert calendar_for("bretagne", "strasbourg", calendars).id == "fr-alsace-moselle"
    assert calendar_for("bretagne", "rennes", calendars).id == "fr-metropole"
    # The built-in calendars themselves are untouched by a file.
    assert BUILT_IN["fr-metropole"].hours.opening == time(9)


def test_without_a_file_the_built_in_calendars_are_in_force() -> None:
    assert load_calendars({}) == DEFAULT_CALENDARS
    assert DEFAULT_CALENDARS.calendars == BUILT_IN


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("ile-de-france", "fr-metropole"),
        ("corse", "fr-metropole"),
        ("provence-alpes-cote-d-azur", "fr-metropole"),
        ("la-reunion", "fr-reunion"),
        ("guadeloupe", "fr-guadeloupe"),
        ("martinique", "fr-martinique"),
        ("guyane", "fr-guyane"),
        ("mayotte", "fr-mayotte"),
        ("casablanca-settat", "ma"),
        ("l-oriental", "ma"),
    ],
)
def test_each_region_has_its_calendar_by_default(region: str, expected: str) -> None:
    assert calendar_for(region, None).id == expected


def test_every_region_of_the_registry_has_a_calendar() -> None:
    registry = Path(__file__).resolve().parent.parent / "services/federation/data/france_fixture.csv"
    regions = {line.split(",", 1)[0] for line in registry.read_text(encoding="utf-8").splitlines()[1:]}
    assert len(regions) == 13
    assert {calendar_for(region).id for region in regions} == {"fr-metropole"}


def test_a_region_without_a_calendar_is_an_error_not_a_guess() -> None:
    with pytest.raises(LookupError, match="atlantis"):
        calendar_for("atlantis", None)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"calendar": {}}, "calendar"),
        ({"calendars": {"fr-metropole": {"hours": "9-17"}}}, "calendars.fr-metropole.hours"),
        ({"calendars": {"fr-metropole": {"hours": "17:00-09:00"}}}, "calendars.fr-metropole.hours"),
        ({"calendars": {"fr-metropole": {"hours": "09:00-25:00"}}}, "calendars.fr-metropole.hours"),
        ({"calendars": {"fr-metropole": {"hour": "09:00-17:00"}}}, "calendars.fr-metropole.hour"),
        ({"calendars": {"fr-metropole": {"zone": "Europe/Pariss"}}}, "calendars.fr-metropole.zone"),
        ({"calendars": {"fr-metropole": {"days": []}}}, "calendars.fr-metropole.days"),
        ({"calendars": {"fr-metropole": {"days": ["monday"]}}}, "calendars.fr-metropole.days"),
        ({"calendars": {"fr-metropole": {"closed": ["2027-02-30"]}}}, "calendars.fr-metropole.closed[0]"),
        ({"calendars": {"fr-metropole": {"subdivision": "ZZ"}}}, "calendars.fr-metropole.subdivision"),
        ({"calendars": {"fr-metropole": {"from": "ma"}}}, "calendars.fr-metropole.from"),
        ({"calendars": {"fr-metropole": {"ramadan": []}}}, "calendars.fr-metropole.ramadan"),
        ({"calendars": {"new": {"hours": "09:00-17:00"}}}, "calendars.new.from"),
        ({"calendars": {"new": {"from": "nowhere"}}}, "calendars.new.from"),
        ({"calendars": {"a": {"from": "b"}, "b": {"from": "a"}}}, "calendars.a.from"),
        ({"calendars": {"Bad Id": {"from": "ma"}}}, "calendars.Bad Id"),
        (
            {"calendars": {"ma": {"ramadan": [{"first": date(2027, 2, 9), "last": date(2027, 3, 20)}]}}},
            "calendars.ma.ramadan[0].last",
        ),
        ({"calendars": {"ma": {"ramadan": [{"first": date(2027, 2, 9)}]}}}, "calendars.ma.ramadan[0]"),
        ({"calendars": {"ma": {"ramadan": [{"start": date(2027, 2, 9)}]}}}, "calendars.ma.ramadan[0].start"),
        (
            {"calendars": {"fr-metropole": {"open": ["2027-02-06"], "closed": ["2027-02-06"]}}},
            "calendars.fr-metropole.open",
        ),
        ({"calendars": {"fr-metropole": {"open": "2027-02-06"}}}, "calendars.fr-metropole.open"),
        ({"regions": {"bretagne": "fr-bretagne"}}, "regions.bretagne"),
        ({"agencies": {"rennes": 3}}, "agencies.rennes"),
    ],
)
def test_a_bad_configuration_names_its_key(data: dict[str, Any], key: str) -> None:
    with pytest.raises(CalendarsError) as raised:
        parse_calendars(data)
    assert raised.value.key == key
    assert str(raised.value).startswith(f"{key}: ")


def test_a_file_that_is_not_toml_or_cannot_be_read_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "calendars.toml"
    broken.write_text("[calendars.ma\n", encoding="utf-8")
    with pytest.raises(CalendarsError, match="is not TOML"):
        load_calendars({"RELAIS_CALENDARS_FILE": str(broken)})
    with pytest.raises(CalendarsError, match="cannot read"):
        load_calendars({"RELAIS_CALENDARS_FILE": str(tmp_path / "missing.toml")})


def test_a_calendar_closed_for_ever_is_an_error_not_a_hang() -> None:
    never = parse_calendars({"calendars": {"never": {"from": "fr-metropole", "days": ["sat"]}}}).get("never")
    closed_saturdays = Calendar(**{**never.__dict__, "closed": frozenset()})
    assert closed_saturdays.weekdays == frozenset({5})
    everything_closed = Calendar(
        **{**never.__dict__, "closed": frozenset(date(2027, 1, 2) + timedelta(weeks=w) for w in range(80))}
    )
    with pytest.raises(ValueError, match="closed every day"):
        deadline(everything_closed, at("2027-01-01T10:00:00+01:00"), FOUR_HOURS)
