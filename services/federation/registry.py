"""Reading the federation CSV: one row per page, with its agency, department and region.

Pure parsing with line-numbered errors, so an import either fully succeeds or says which line is
wrong and why. Each page gets the id of the business calendar that runs its inbox's clock
(`shared.business_hours.calendar_for`): its agency's when configuration gives it one, else its
region's; a region without one is refused here, not guessed when the first question arrives.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from functools import cache
from zoneinfo import available_timezones

from shared.business_hours import DEFAULT_CALENDARS, Calendars, calendar_for
from shared.ids import is_slug
from shared.networks import KNOWN_NETWORKS

COLUMNS = (
    "region",
    "region_name",
    "department",
    "agency",
    "agency_name",
    "city",
    "timezone",
    "network",
    "page",
    "handle",
    "credentials_ref",
)
OPTIONAL_COLUMNS = ("local_url",)


@dataclass(frozen=True)
class PageRow:
    region: str
    region_name: str
    department: str
    agency: str
    agency_name: str
    city: str
    timezone: str
    network: str
    page: str
    handle: str
    credentials_ref: str
    local_url: str = ""
    calendar: str = ""  # not a column: the calendar id the configuration gives its agency or region

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


class RegistryError(ValueError):
    """Every problem found in the file, one per line (`line N, column C: what`)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def parse_pages_csv(
    text: str, max_problems: int = 50, *, calendars: Calendars = DEFAULT_CALENDARS
) -> list[PageRow]:
    """Parse and check every line; raise `RegistryError` listing the problems (nothing is half-read).
    `calendars` are the ones in force (`load_calendars()`: RELAIS_CALENDARS_FILE's regions and
    agencies over the built-in regions' calendars)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise RegistryError([f"line 1: missing columns: {', '.join(missing)}"])
    rows: list[PageRow] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for line, record in enumerate(reader, start=2):
        values = {c: (record.get(c) or "").strip() for c in (*COLUMNS, *OPTIONAL_COLUMNS)}
        line_problems = _check(values, seen)
        calendar = _calendar_of(values, calendars, line_problems)
        problems += [f"line {line}, column {column}: {message}" for column, message in line_problems]
        if not line_problems:
            seen[values["page"]] = line
            rows.append(PageRow(**values, calendar=calendar))
        if len(problems) >= max_problems:
            problems.append("… stopping after this many problems")
            break
    if problems:
        raise RegistryError(problems)
    return rows


def _calendar_of(values: dict[str, str], calendars: Calendars, problems: list[tuple[str, str]]) -> str:
    """The page's calendar id, or "" with a problem naming the region (or the agency) without one."""
    try:
        return calendar_for(values["region"], values["agency"], calendars).id
    except LookupError as exc:
        column = "agency" if values["agency"] in calendars.agencies else "region"
        problems.append((column, str(exc)))
        return ""


@cache
def _timezones() -> set[str]:
    return available_timezones()  # scans the zone database: once per process


def _check(values: dict[str, str], seen: dict[str, int]) -> list[tuple[str, str]]:
    problems = []
    for column in ("region", "agency", "page"):
        if not is_slug(values[column]):
            problems.append((column, f"{values[column]!r} must be lower-case letters, digits, - or _"))
    if values["network"] not in KNOWN_NETWORKS:
        problems.append(("network", f"unknown network {values['network']!r}"))
    for column in ("handle", "timezone", "credentials_ref"):
        if not values[column]:
            problems.append((column, "is empty"))
    if values["timezone"] and values["timezone"] not in _timezones():
        problems.append(("timezone", f"unknown timezone {values['timezone']!r}"))
    if values["page"] in seen:
        problems.append(("page", f"page {values['page']!r} already defined on line {seen[values['page']]}"))
    return problems
