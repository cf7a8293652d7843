"""Reading the federation CSV: one row per page, with its agency, department and region.

Pure parsing with line-numbered errors, so an import either fully succeeds or says which line is
wrong and why.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass

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

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


class RegistryError(ValueError):
    def __init__(self, line: int, column: str | None, message: str) -> None:
        where = f"line {line}" + (f", column {column}" if column else "")
        super().__init__(f"{where}: {message}")
        self.line = line
        self.column = column


def parse_pages_csv(text: str) -> list[PageRow]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise RegistryError(1, None, f"missing columns: {', '.join(missing)}")
    rows: list[PageRow] = []
    seen: dict[str, int] = {}
    for line, record in enumerate(reader, start=2):
        values = {c: (record.get(c) or "").strip() for c in (*COLUMNS, *OPTIONAL_COLUMNS)}
        for column in ("region", "agency", "page"):
            if not is_slug(values[column]):
                raise RegistryError(
                    line, column, f"{values[column]!r} must be lower-case letters, digits, - or _"
                )
        if values["network"] not in KNOWN_NETWORKS:
            raise RegistryError(line, "network", f"unknown network {values['network']!r}")
        for column in ("handle", "timezone", "credentials_ref"):
            if not values[column]:
                raise RegistryError(line, column, "is empty")
        if values["page"] in seen:
            raise RegistryError(
                line, "page", f"page {values['page']!r} already defined on line {seen[values['page']]}"
            )
        seen[values["page"]] = line
        rows.append(PageRow(**values))
    return rows
