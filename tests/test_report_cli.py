"""`relais report` as a person runs it (the installed `relais`), on the fixed month of
tests/hub/inbox_report_data.py in a real hub.db (and `relais report --advocacy`, at the end, on that of
tests/hub/advocacy_report_data.py).

The policy, written by hand:
- `--month YYYY-MM`, or `--from YYYY-MM-DD --to YYYY-MM-DD` (the end excluded), exactly one of them;
  anything else (a month 13, a 30 February, both ways, half of one, an end not after the start, an
  unknown format, a database that is not there) exits 2 with a message on standard error and
  nothing on standard output;
- `--format csv`: the documented columns, one row per agency and network, the figures worked out by
  hand (tests/hub/test_inbox_report.py); `table` (the default): the totals first;
- hub.db is only read: the file is the same after the command.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.hub.advocacy_report import CSV_COLUMNS as ADVOCACY_CSV_COLUMNS
from services.hub.store import open_store
from tests.hub.advocacy_report_data import fill_november as fill_advocacy
from tests.hub.inbox_report_data import LYON, fill_november
from tests.hub.test_inbox_report import CASA_FACEBOOK, LYON_BLUESKY, LYON_MASTODON

RELAIS = Path(sys.executable).parent / "relais"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("relais")
    db = open_store(root / "hub.db")
    fill_november(db)
    db.close()
    return root


def relais(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RELAIS_DATA_DIR": str(data_dir)}
    env.pop("RELAIS_CALENDARS_FILE", None)
    env.pop("RELAIS_INBOX_TARGET", None)
    return subprocess.run(
        [str(RELAIS), "report", *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_the_months_csv_is_one_row_per_agency_and_network(data_dir: Path) -> None:
    before = hashlib.sha256((data_dir / "hub.db").read_bytes()).hexdigest()
    done = relais(data_dir, "--month", "2026-11", "--format", "csv")
    assert (done.returncode, done.stderr) == (0, "")
    assert list(csv.DictReader(io.StringIO(done.stdout))) == [LYON_BLUESKY, LYON_MASTODON, CASA_FACEBOOK]
    assert hashlib.sha256((data_dir / "hub.db").read_bytes()).hexdigest() == before


def test_a_year_from_a_day_to_another(data_dir: Path) -> None:
    done = relais(data_dir, "--from", "2026-01-01", "--to", "2027-01-01", "--format", "csv")
    assert done.returncode == 0, done.stderr
    rows = {(r["agency"], r["network"]): r for r in csv.DictReader(io.StringIO(done.stdout))}
    mastodon = rows[LYON, "mastodon"]
    # November's five, October's one (answered in 5 minutes) and December's first night's (unanswered).
    assert (mastodon["period_start"], mastodon["period_end"]) == ("2026-01-01", "2027-01-01")
    assert (mastodon["questions"], mastodon["answered"], mastodon["within_target"]) == ("7", "5", "4")
    assert (mastodon["posts_published"], mastodon["views"]) == ("3", "220")  # P1, P2, P4


def test_the_table_gives_the_totals_first(data_dir: Path) -> None:
    done = relais(data_dir, "--month", "2026-11", "--database", str(data_dir / "hub.db"))
    assert done.returncode == 0, done.stderr
    lines = [" ".join(line.split()) for line in done.stdout.splitlines()]
    assert lines[0] == "Inbox report 2026-11-01 to 2026-11-30 (target: 4 h of business hours)"
    assert lines[2:10] == [
        "questions 8",
        "answered 7",
        "answered within target 6 of 8 (75.0 %)",
        "in all hours 1 of 7 answered",
        "first response, business p50 1 h 00 min p90 6 h 00 min",
        "first response, all hours p50 23 h 30 min p90 66 h 00 min",
        "posts published 4",
        "views 420",
    ]
    assert "auvergne-rhone-alpes 3 5 4 3 of 5 (60.0 %) 2 h 00 min 6 h 00 min 120" in lines
    assert "casablanca-settat 1 3 3 3 of 3 (100.0 %) 45 min 1 h 00 min 300" in lines


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--month", "2026-13"],
        ["--month", "2026-1"],
        ["--month", "november"],
        ["--month", "2026-11", "--from", "2026-11-01", "--to", "2026-12-01"],
        ["--from", "2026-11-01"],
        ["--to", "2026-12-01"],
        ["--from", "2026-02-30", "--to", "2026-03-01"],
        ["--from", "2026-12-01", "--to", "2026-12-01"],
        ["--from", "2026-12-01", "--to", "2026-11-01"],
        ["--from", "20261101", "--to", "2026-12-01"],
        ["--month", "2026-11", "--format", "xml"],
        ["--month", "2026-11", "--database", "/nonexistent/hub.db"],
    ],
)
def test_a_bad_argument_exits_2_with_a_message(data_dir: Path, args: list[str]) -> None:
    done = relais(data_dir, *args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip()


# `relais report --advocacy` (issue #16 item 6), on the fixed month of tests/hub/advocacy_report_data.py.
# The policy, written by hand: the same period arguments as the inbox's; `--format csv` the documented
# columns, one row per agency (tests/hub/test_advocacy_report.py works its figures out); `table` the
# totals first, then each agency's coverage ("-" where nothing is required of it, never 100 %), then
# the shares per topic, story, region, network and month; hub.db is only read.


@pytest.fixture(scope="module")
def advocacy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("relais-advocacy")
    db = open_store(root / "hub.db")
    fill_advocacy(db)
    db.close()
    return root


def test_the_advocacy_csv_is_one_row_per_agency(advocacy_dir: Path) -> None:
    before = hashlib.sha256((advocacy_dir / "hub.db").read_bytes()).hexdigest()
    done = relais(advocacy_dir, "--advocacy", "--month", "2026-11", "--format", "csv")
    assert (done.returncode, done.stderr) == (0, "")
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert list(rows[0]) == list(ADVOCACY_CSV_COLUMNS)
    assert [
        (r["agency"], r["region"], r["shares_received"], r["coverage"], r["likes"], r["views"]) for r in rows
    ] == [
        ("casablanca-anfa", "casablanca-settat", "3", "1.0000", "0", ""),  # a 0 given, no views given
        (LYON, "auvergne-rhone-alpes", "4", "0.5000", "9", "140"),
        ("marseille-canebiere", "", "0", "", "", ""),  # nothing required of it: no coverage
        ("rennes-centre", "", "0", "", "", ""),  # its region unknown without the registry
        ("villeurbanne", "auvergne-rhone-alpes", "1", "0.0000", "", ""),
    ]
    assert hashlib.sha256((advocacy_dir / "hub.db").read_bytes()).hexdigest() == before


def test_the_advocacy_table_gives_the_totals_then_the_coverage(advocacy_dir: Path) -> None:
    done = relais(advocacy_dir, "--advocacy", "--from", "2026-11-01", "--to", "2026-12-01")
    assert done.returncode == 0, done.stderr
    lines = [" ".join(line.split()) for line in done.stdout.splitlines()]
    assert lines[0] == (
        "Advocacy report 2026-11-01 to 2026-11-30"
        " (a share counts on the day it reached the hub, Europe/Paris)"
    )
    assert lines[2:11] == [
        "shares received 8",
        "invalid 1",
        "rejected 1",
        "shares published 4",
        "deliveries published 5",
        "likes 9",
        "reposts 1",
        "replies 1",
        "views 140",
    ]
    assert f"{LYON} auvergne-rhone-alpes 1 of 2 (50 %) numerique 4 2" in lines
    assert "marseille-canebiere (unknown) - - 0 0" in lines
    assert "salons-ara yes 3 0 0 2 3 9 1 1 140" in lines
    assert "ateliers-casa yes 2 0 0 1 1 0 0 0 -" in lines  # views: none given, not 0
    assert "x 4 1 0 2 2 4 1 0 40" in lines
    assert "2026-11 8 1 1 4 5 9 1 1 140" in lines


def test_advocacy_takes_the_same_period_arguments(advocacy_dir: Path) -> None:
    for args in (
        ["--advocacy"],
        ["--advocacy", "--month", "2026-13"],
        ["--advocacy", "--from", "2026-11-01"],
    ):
        done = relais(advocacy_dir, *args)
        assert (done.returncode, done.stdout) == (2, ""), args
        assert done.stderr.strip()
