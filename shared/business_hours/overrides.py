"""The calendars in force: the built-in ones as configuration changes them, the ones it defines, and
which region or agency uses which.

The file named by `RELAIS_CALENDARS_FILE` is TOML (read with the standard library's tomllib), not JSON:
people write it by hand, and TOML has comments (to say why a day is closed) and dates
(`closed = [2027-12-24]`) where JSON has neither. Every key is checked; an error names the key, e.g.
`calendars.ma.ramadan[0].last: …`.

    [calendars.ma]                      # change a built-in calendar
    ramadan = [{ first = 2027-02-09, last = 2027-03-10 }]   # the dates announced that year
    [calendars.fr-metropole]
    closed = [2027-12-24]               # extra closed days, added to the public holidays
    open = [2027-05-17]                 # open although a holiday (or a weekend day) for the package
    [calendars.fr-alsace-moselle]       # a new calendar, from an existing one
    from = "fr-metropole"
    subdivision = "6AE"                 # Good Friday and 26 December, as the `holidays` package has them
    [agencies]
    strasbourg = "fr-alsace-moselle"    # an agency's calendar, before its region's
    [regions]
    grand-est = "fr-metropole"
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from shared.business_hours.calendars import BUILT_IN, Calendar, DateRange, Hours

__all__ = [
    "DEFAULT_CALENDARS",
    "Calendars",
    "CalendarsError",
    "load_calendars",
    "parse_calendars",
    "read_calendars_file",
]

CALENDAR_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
HOURS = re.compile(r"(\d\d):(\d\d)-(\d\d):(\d\d)")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RAMADAN_DAYS = (29, 30)  # a lunar month, whoever announces it
CALENDAR_KEYS = ("from", "zone", "hours", "days", "closed", "open", "subdivision", "ramadan_hours", "ramadan")


class CalendarsError(ValueError):
    """A configuration mistake, naming the key it is at."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key, self.problem = key, problem


@dataclass(frozen=True)
class Calendars:
    """Every calendar by id, and the calendars configuration gives regions and agencies (the
    defaults of `calendar_for` apply to the others)."""

    calendars: Mapping[str, Calendar] = field(default_factory=lambda: dict(BUILT_IN))
    regions: Mapping[str, str] = field(default_factory=dict)
    agencies: Mapping[str, str] = field(default_factory=dict)

    def get(self, calendar_id: str) -> Calendar:
        try:
            return self.calendars[calendar_id]
        except KeyError:
            known = ", ".join(sorted(self.calendars))
            raise LookupError(f"no calendar {calendar_id!r} (known: {known})") from None


DEFAULT_CALENDARS = Calendars()


def load_calendars(env: Mapping[str, str] = os.environ) -> Calendars:
    """The calendars in force: the built-in ones, changed by `RELAIS_CALENDARS_FILE` when it is set.
    Raises CalendarsError (naming the file and the key) on a bad file."""
    path = env.get("RELAIS_CALENDARS_FILE")
    return read_calendars_file(Path(path)) if path else DEFAULT_CALENDARS


def read_calendars_file(path: Path) -> Calendars:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CalendarsError("RELAIS_CALENDARS_FILE", f"cannot read {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CalendarsError("RELAIS_CALENDARS_FILE", f"{path} is not TOML: {exc}") from None
    try:
        return parse_calendars(data)
    except CalendarsError as exc:
        raise CalendarsError(exc.key, f"{exc.problem} (in {path})") from None


def parse_calendars(data: Mapping[str, Any]) -> Calendars:
    _only_keys(data, ("calendars", "regions", "agencies"), "")
    tables = _table(data.get("calendars", {}), "calendars")
    calendars = dict(BUILT_IN)
    for calendar_id in _in_dependency_order(tables):
        calendars[calendar_id] = _calendar(
            calendar_id, _table(tables[calendar_id], _key(calendar_id)), calendars
        )
    uses = {kind: _uses(data.get(kind, {}), kind, calendars) for kind in ("regions", "agencies")}
    return Calendars(calendars, uses["regions"], uses["agencies"])


def _in_dependency_order(tables: Mapping[str, Any]) -> list[str]:
    """The configured calendars, each after the one it is made `from` (a built-in one changed in the
    file is changed before a calendar made from it)."""
    ordered: list[str] = []
    for calendar_id in tables:
        chain: list[str] = []
        current = calendar_id
        while current in tables and current not in ordered:
            if current in chain:
                raise CalendarsError(_key(calendar_id, "from"), f"calendars made from each other: {chain}")
            chain.append(current)
            source = tables[current].get("from") if isinstance(tables[current], Mapping) else None
            if not isinstance(source, str):
                break
            current = source
        ordered += reversed(chain)
    return ordered


def _calendar(calendar_id: str, table: Mapping[str, Any], calendars: Mapping[str, Calendar]) -> Calendar:
    _only_keys(table, CALENDAR_KEYS, _key(calendar_id))
    if not CALENDAR_ID.fullmatch(calendar_id):
        raise CalendarsError(_key(calendar_id), "a calendar id is lowercase letters, digits and dashes")
    base = _base(calendar_id, table, calendars)
    changes: dict[str, Any] = {"id": calendar_id}
    readers: dict[str, Callable[[Any, str], Any]] = {
        "zone": _zone,
        "hours": _hours,
        "ramadan_hours": _hours,
        "days": _weekdays,
        "subdivision": lambda value, key: _subdivision(value, key, base.country),
    }
    for name, read in readers.items():
        if name in table:
            changes[name if name != "days" else "weekdays"] = read(table[name], _key(calendar_id, name))
    # A day closed or opened here undoes the opposite inherited from the calendar it is made from.
    closed = _dates(table.get("closed", []), _key(calendar_id, "closed"))
    opened = _dates(table.get("open", []), _key(calendar_id, "open"))
    if closed & opened:
        raise CalendarsError(_key(calendar_id, "open"), f"also closed: {min(closed & opened)}")
    changes["closed"] = (base.closed - opened) | closed
    changes["opened"] = (base.opened - closed) | opened
    if "ramadan" in table:
        if changes.get("ramadan_hours", base.ramadan_hours) is None:
            raise CalendarsError(_key(calendar_id, "ramadan"), "this calendar has no ramadan_hours")
        changes["ramadan"] = _ramadans(table["ramadan"], _key(calendar_id, "ramadan"), base.ramadan)
    return dataclasses.replace(base, **changes)


def _base(calendar_id: str, table: Mapping[str, Any], calendars: Mapping[str, Calendar]) -> Calendar:
    if calendar_id in BUILT_IN:
        if "from" in table:
            raise CalendarsError(_key(calendar_id, "from"), "a built-in calendar is changed, not made again")
        return calendars[calendar_id]
    source = table.get("from")
    if source is None:
        raise CalendarsError(_key(calendar_id, "from"), "a new calendar names the calendar it is made from")
    if not isinstance(source, str) or source not in calendars:
        raise CalendarsError(_key(calendar_id, "from"), f"no calendar {source!r}")
    return calendars[source]


def _uses(value: Any, kind: str, calendars: Mapping[str, Calendar]) -> dict[str, str]:
    table = _table(value, kind)
    for name, calendar_id in table.items():
        if not isinstance(calendar_id, str) or calendar_id not in calendars:
            raise CalendarsError(f"{kind}.{name}", f"no calendar {calendar_id!r}")
    return dict(table)


# Values.


def _zone(value: Any, key: str) -> ZoneInfo:
    if not isinstance(value, str):
        raise CalendarsError(key, "an IANA time zone name, e.g. Europe/Paris")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarsError(key, f"no time zone {value!r}") from None


def _hours(value: Any, key: str) -> Hours:
    match = HOURS.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise CalendarsError(key, f'opening and closing times like "09:00-17:00", got {value!r}')
    hour, minute, closing_hour, closing_minute = (int(part) for part in match.groups())
    try:
        hours = Hours(time(hour, minute), time(closing_hour, closing_minute))
    except ValueError:
        raise CalendarsError(key, f"not a time of day in {value!r}") from None
    if hours.opening >= hours.closing:
        raise CalendarsError(key, f"opens at or after it closes: {value!r}")
    return hours


def _weekdays(value: Any, key: str) -> frozenset[int]:
    if not isinstance(value, list) or not value or any(day not in WEEKDAYS for day in value):
        raise CalendarsError(key, f"a list of open days among {', '.join(WEEKDAYS)}, got {value!r}")
    if len(set(value)) != len(value):
        raise CalendarsError(key, f"a day is listed twice: {value!r}")
    return frozenset(WEEKDAYS.index(day) for day in value)


def _subdivision(value: Any, key: str, country: str) -> str:
    if not isinstance(value, str):
        raise CalendarsError(key, "a subdivision code of the holidays package, e.g. 6AE")
    try:
        holidays.country_holidays(country, subdiv=value)
    except NotImplementedError:
        raise CalendarsError(
            key, f"the holidays package has no subdivision {value!r} for {country}"
        ) from None
    return value


def _date(value: Any, key: str) -> date:
    if isinstance(value, str):  # also a quoted "2027-12-24"
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    elif isinstance(value, date) and not hasattr(value, "hour"):  # a TOML date, not a date-time
        return value
    raise CalendarsError(key, f"a date like 2027-12-24, got {value!r}")


def _dates(value: Any, key: str) -> frozenset[date]:
    if not isinstance(value, list):
        raise CalendarsError(key, "a list of dates, e.g. [2027-12-24]")
    return frozenset(_date(item, f"{key}[{index}]") for index, item in enumerate(value))


def _ramadans(value: Any, key: str, inherited: tuple[DateRange, ...]) -> tuple[DateRange, ...]:
    """The announced Ramadans, each 29 or 30 days, none overlapping another; they add to (and
    replace the overlapping ones of) the calendar it is made from."""
    if not isinstance(value, list):
        raise CalendarsError(key, "a list of { first = …, last = … } tables")
    announced: list[DateRange] = []
    for index, item in enumerate(value):
        item_key = f"{key}[{index}]"
        table = _table(item, item_key)
        _only_keys(table, ("first", "last"), item_key)
        if "first" not in table or "last" not in table:
            raise CalendarsError(item_key, "gives Ramadan's first and last days")
        period = DateRange(
            _date(table["first"], f"{item_key}.first"), _date(table["last"], f"{item_key}.last")
        )
        days = (period.last - period.first + timedelta(days=1)).days
        if days not in RAMADAN_DAYS:
            raise CalendarsError(f"{item_key}.last", f"Ramadan lasts 29 or 30 days, not {days}")
        if any(period.overlaps(other) for other in announced):
            raise CalendarsError(item_key, "overlaps another Ramadan of the list")
        announced.append(period)
    kept = tuple(old for old in inherited if not any(old.overlaps(new) for new in announced))
    return (*kept, *announced)


# Shapes.


def _table(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise CalendarsError(key or "(top)", "a table")
    return value


def _only_keys(table: Mapping[str, Any], allowed: tuple[str, ...], key: str) -> None:
    for name in table:
        if name not in allowed:
            where = f"{key}.{name}" if key else name
            raise CalendarsError(where, f"unknown key (allowed: {', '.join(allowed)})")


def _key(calendar_id: str, name: str | None = None) -> str:
    return f"calendars.{calendar_id}" + (f".{name}" if name else "")
