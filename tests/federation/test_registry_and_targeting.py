"""The registry CSV, selectors, per-page variables and the schedule's late rule: pure logic."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from relais.system import DEMO_CSV
from services.federation.registry import RegistryError, parse_pages_csv
from services.federation.targeting import target_post
from services.hub.schedule import due_at, plan_release
from shared.schemas import PageRecord, PostReceived, Target, Variant
from shared.targeting import SelectorError, VariableError, fill_variables, page_variables, resolve

FIXTURE = DEMO_CSV.with_name("france_fixture.csv")


def records(csv_path: Path) -> dict[str, PageRecord]:
    return {
        row.page: PageRecord(
            page=row.page,
            network=row.network,
            handle=row.handle,
            agency=row.agency,
            region=row.region,
            department=row.department,
            timezone=row.timezone,
            credentials_ref=row.credentials_ref,
            agency_name=row.agency_name,
            city=row.city,
            region_name=row.region_name,
            local_url=row.local_url,
        )
        for row in parse_pages_csv(csv_path.read_text(encoding="utf-8"))
    }


def test_the_fixture_is_a_realistic_federation() -> None:
    pages = records(FIXTURE)
    assert len({p.region for p in pages.values()}) == 13
    assert len({p.agency for p in pages.values() if not p.agency.startswith("dr-")}) == 220
    assert 950 <= len(pages) <= 1100
    assert {p.network for p in pages.values()} == {"x", "facebook", "linkedin", "mastodon", "bluesky"}


def test_a_bad_registry_names_every_bad_line_and_column() -> None:
    text = DEMO_CSV.read_text(encoding="utf-8").splitlines()
    text[1] = text[1].replace(",x,lyon-part-dieu-x,", ",myspace,Lyon X,")
    text[3] = text[3].replace("Europe/Paris", "Europe/Lyon")
    with pytest.raises(RegistryError) as caught:
        parse_pages_csv("\n".join(text))
    assert caught.value.problems == [
        "line 2, column page: 'Lyon X' must be lower-case letters, digits, - or _",
        "line 2, column network: unknown network 'myspace'",
        "line 4, column timezone: unknown timezone 'Europe/Lyon'",
    ]


def test_pages_import_is_checked_first_and_idempotent(tmp_path: Path) -> None:
    def run(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "relais.cli", "pages", "import", str(path)],
            capture_output=True,
            text=True,
            env={"RELAIS_DATA_DIR": str(tmp_path), "PATH": ""},
            check=False,
        )

    broken = tmp_path / "broken.csv"
    broken.write_text(FIXTURE.read_text(encoding="utf-8").replace(",facebook,", ",fb,", 1), encoding="utf-8")
    refused = run(broken)
    assert refused.returncode == 2 and "line 2, column network: unknown network 'fb'" in refused.stderr
    assert not (tmp_path / "federation.db").exists()
    for _ in range(2):
        done = run(FIXTURE)
        assert done.returncode == 0, done.stderr
        assert "imported 1016 pages of 233 agencies in 13 regions" in done.stdout
        assert "1016/1016 pages" in done.stderr
    import sqlite3

    assert (
        sqlite3.connect(tmp_path / "federation.db").execute("select count(*) from pages").fetchone()[0]
        == 1016
    )


def test_selectors_choose_active_pages_on_the_chosen_networks_once() -> None:
    pages = records(FIXTURE)
    bretagne = resolve(["region:bretagne"], ["x"], pages.values())
    assert bretagne and all(p.region == "bretagne" and p.network == "x" for p in bretagne)
    overlapping = resolve(["region:bretagne", "department:35", "page:rennes-x"], ["x"], pages.values())
    assert [p.page for p in overlapping] == [p.page for p in bretagne]
    assert len(resolve(["nation"], ["x", "facebook"], pages.values())) == 2 * 233
    with pytest.raises(SelectorError):
        resolve(["continent:europe"], ["x"], pages.values())


def test_each_page_gets_its_own_words() -> None:
    page = records(DEMO_CSV)["rennes-sud-x"]
    text = fill_variables("Forum à {ville} avec {agence} : {lien_local}", page_variables(page))
    assert (
        text
        == "Forum à Rennes avec France Travail Rennes Sud : https://www.francetravail.fr/agences/rennes-sud"
    )
    with pytest.raises(VariableError, match=r"unknown variable \{agency\}"):
        fill_variables("Bonjour {agency}", page_variables(page))


def test_a_post_for_a_page_outside_the_registry_or_matching_nothing_is_refused() -> None:
    pages = records(DEMO_CSV)
    base = {
        "post_id": "p",
        "agency": "rennes-sud",
        "occurred_at": "2026-11-21T10:00:00Z",
        "author": "a",
        "text": "t",
    }
    unknown = target_post(PostReceived(**base, targets=[Target("x", "nowhere-x")]), pages)
    assert unknown.reasons == ["page nowhere-x is not in the federation registry"]
    nothing = target_post(PostReceived(**base, selectors=["region:corse"], networks=["x"]), pages)
    assert nothing.reasons == ["no active page on x matches region:corse"]


def test_a_local_time_is_each_pages_own_and_late_pages_expire_after_the_grace_period() -> None:
    paris, reunion = (
        Variant("x", "paris-x", ["a"], "paris", "Europe/Paris"),
        Variant("x", "saint-denis-x", ["b"], "saint-denis", "Indian/Reunion"),
    )
    assert due_at("2026-12-01T09:00:00", "Europe/Paris") == datetime(2026, 12, 1, 8, tzinfo=UTC)
    assert due_at("2026-12-01T09:00:00", "Indian/Reunion") == datetime(2026, 12, 1, 5, tzinfo=UTC)
    assert due_at("2026-12-01T09:00:00+00:00", "Indian/Reunion") == datetime(2026, 12, 1, 9, tzinfo=UTC)
    grace = timedelta(minutes=60)
    at_six = plan_release(
        "2026-12-01T09:00:00", [paris, reunion], datetime(2026, 12, 1, 6, 30, tzinfo=UTC), grace
    )
    assert at_six.now == [] and list(at_six.later.items()) == [
        (datetime(2026, 12, 1, 8, tzinfo=UTC), [paris])
    ]
    assert at_six.expired == [reunion]  # 09:00 in Réunion was 90 minutes before: beyond the grace period
    late = plan_release("2026-12-01T09:00:00+01:00", [paris], datetime(2026, 12, 1, 8, 30, tzinfo=UTC), grace)
    assert late.now == [paris] and not late.expired
    assert plan_release(None, [paris], datetime.now(UTC), grace).now == [paris]
