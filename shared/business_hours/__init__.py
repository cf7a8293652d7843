"""Business-hours calendars and SLA deadlines (issue #15 item 3): pure functions the inbox calls.

- `deadline(calendar, received, target)`: when a first response is due;
- `business_time(calendar, start, end)`: the business time between two instants (the figures);
- `calendar_for(region, agency, calendars)`: which calendar runs a conversation's clock;
- `load_calendars()`: the built-in calendars as `RELAIS_CALENDARS_FILE` changes them.
"""

from shared.business_hours.calendars import BUILT_IN, Calendar, DateRange, Hours, is_ramadan, opening_hours
from shared.business_hours.clock import (
    business_time,
    deadline,
    format_instant,
    parse_duration,
    parse_instant,
)
from shared.business_hours.overrides import (
    DEFAULT_CALENDARS,
    Calendars,
    CalendarsError,
    load_calendars,
    parse_calendars,
    read_calendars_file,
)
from shared.business_hours.regions import REGION_CALENDARS, calendar_for

__all__ = [
    "BUILT_IN",
    "DEFAULT_CALENDARS",
    "REGION_CALENDARS",
    "Calendar",
    "Calendars",
    "CalendarsError",
    "DateRange",
    "Hours",
    "business_time",
    "calendar_for",
    "deadline",
    "format_instant",
    "is_ramadan",
    "load_calendars",
    "opening_hours",
    "parse_calendars",
    "parse_duration",
    "parse_instant",
    "read_calendars_file",
]
