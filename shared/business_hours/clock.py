"""The SLA clock: a deadline in business time, and the business time between two instants.

Business time runs only while a calendar is open, in the half-open intervals [opening, closing) of
its open days: a message that arrives outside them (closing time included) starts its clock at the
next opening, and a deadline that falls exactly at closing time is that closing time, not the next
opening. Both functions work on instants (aware datetimes) and compute in UTC, so a deadline across
a clock change is the same instant whatever zone the caller gave.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from shared.business_hours.calendars import Calendar, opening_hours

__all__ = [
    "MAX_TARGET",
    "business_time",
    "deadline",
    "format_instant",
    "parse_duration",
    "parse_instant",
]

# A calendar that stays closed this long is a mistake in its configuration (or a target that the
# clock would chase forever): the clock says so rather than loop.
MAX_CLOSED_RUN = timedelta(days=366)
MAX_TARGET_HOURS = 8760  # a year of hours: far beyond any response target
MAX_TARGET = timedelta(hours=MAX_TARGET_HOURS)


def deadline(calendar: Calendar, received: datetime, target: timedelta) -> datetime:
    """When `target` of business time has run from `received`, in the calendar's zone."""
    try:
        return _deadline(calendar, _instant(received, "received"), target)
    except OverflowError:  # before 1 January of year 1 in UTC, or past 31 December 9999
        raise ValueError(f"{received.isoformat()} + {target}: beyond the dates a deadline can have") from None


def _deadline(calendar: Calendar, start: datetime, target: timedelta) -> datetime:
    if target < timedelta(0):
        raise ValueError(f"a target cannot be negative, got {target}")
    remaining = target
    for opens, closes in _open_intervals(calendar, start):
        begins = max(opens, start)
        if begins >= closes:
            continue
        if remaining <= closes - begins:  # `<=`: a deadline at closing time stays there
            return (begins + remaining).astimezone(calendar.zone)
        remaining -= closes - begins
    raise AssertionError("unreachable: _open_intervals never ends")  # pragma: no cover


def business_time(calendar: Calendar, start: datetime, end: datetime) -> timedelta:
    """The business time between two instants (the inbox's first-response times)."""
    first, last = _instant(start, "start"), _instant(end, "end")
    if last < first:
        raise ValueError(f"end ({end.isoformat()}) is before start ({start.isoformat()})")
    total = timedelta(0)
    for opens, closes in _open_intervals(calendar, first):
        if opens >= last:
            return total
        total += max(timedelta(0), min(closes, last) - max(opens, first))
    raise AssertionError("unreachable: _open_intervals never ends")  # pragma: no cover


def _open_intervals(calendar: Calendar, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The calendar's opening intervals (UTC), from the day `start` falls on in its zone onwards."""
    day = start.astimezone(calendar.zone).date()
    last_open = day
    while True:
        hours = opening_hours(calendar, day)
        if hours is not None:
            last_open = day
            yield hours
        elif day - last_open > MAX_CLOSED_RUN:
            raise ValueError(f"calendar {calendar.id} is closed every day from {last_open} to {day}")
        day += timedelta(days=1)


def _instant(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an instant (a datetime with its offset), got {value.isoformat()}")
    return value.astimezone(UTC)


# The command line's and configuration's forms.

DURATION = re.compile(r"(?:(?P<hours>\d{1,9})h)?(?:(?P<minutes>\d{1,9})m)?")


def parse_duration(text: str) -> timedelta:
    """`4h`, `90m`, `1h30m`: positive, at most MAX_TARGET."""
    match = DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"a duration is written like 4h, 90m or 1h30m, got {text!r}")
    duration = timedelta(hours=int(match["hours"] or 0), minutes=int(match["minutes"] or 0))
    if not timedelta(0) < duration <= MAX_TARGET:
        raise ValueError(f"a duration must be more than 0 and at most {MAX_TARGET_HOURS}h, got {text!r}")
    return duration


def parse_instant(text: str, calendar: Calendar) -> datetime:
    """An ISO 8601 date-time; without an offset, a wall-clock time in the calendar's zone (a time that
    a clock change skips or repeats is read with the offset in force before it)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not an ISO 8601 date and time: {text!r}") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=calendar.zone)


def format_instant(value: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS±HH:MM`: whole seconds (a fraction is dropped), the numeric offset in force
    at that instant, never `Z`."""
    return value.isoformat(timespec="seconds")
