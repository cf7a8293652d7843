"""`relais pages import FILE`: check a registry CSV line by line, then load it.

The running federation service notices the change (SQLite's data_version) and republishes the
pages to every service; re-importing the same file changes nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from services.federation.registry import RegistryError, parse_pages_csv
from services.federation.store import import_pages, open_store
from shared.business_hours import CalendarsError, load_calendars


def import_pages_file(path: Path, database: Path, chunk: int = 100) -> int:
    try:
        rows = parse_pages_csv(path.read_text(encoding="utf-8"), calendars=load_calendars())
    except CalendarsError as exc:
        print(f"relais: RELAIS_CALENDARS_FILE: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError:
        print(f"relais: {path}: no such file", file=sys.stderr)
        return 2
    except RegistryError as exc:
        print(f"relais: {path} was not imported; fix these lines:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    db = open_store(database)
    try:
        # The whole file was checked above: a bad line never leaves a half-imported registry.
        for start in range(0, len(rows), chunk):
            import_pages(db, rows[start : start + chunk])
            _progress(min(start + chunk, len(rows)), len(rows))
    finally:
        db.close()
    agencies = len({r.agency for r in rows})
    regions = len({r.region for r in rows})
    print(f"imported {len(rows)} pages of {agencies} agencies in {regions} regions from {path}")
    return 0


def _progress(done: int, total: int, width: int = 30) -> None:
    filled = width * done // total
    end = "\n" if done == total else ""
    if sys.stderr.isatty():
        print(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} pages",
            end=end,
            file=sys.stderr,
            flush=True,
        )
    elif done == total:
        print(f"[{'#' * width}] {done}/{total} pages", file=sys.stderr)
