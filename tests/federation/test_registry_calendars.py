"""Each page of the registry carries the calendar that runs its inbox's clock (issue #15 item 3): its
region's, unless configuration gives its agency one; a region or agency without a known calendar is
refused when the registry is loaded, naming it. Expected ids come from the issue's list of
calendars (fr-metropole, fr-reunion, …, ma), written here by hand."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from relais.pages import import_pages_file
from relais.system import DEMO_CSV
from services.federation.registry import RegistryError, parse_pages_csv
from services.federation.store import import_pages, open_store, page_records
from shared.business_hours import CalendarsError, parse_calendars, read_calendars_file
from shared.schemas import PageRecord

HEADER = "region,region_name,department,agency,agency_name,city,timezone,network,page,handle,credentials_ref"


def _line(region: str, agency: str, page: str, timezone: str = "Europe/Paris") -> str:
    return f"{region},R,1,{agency},{agency},City,{timezone},mastodon,{page},ft_{agency},sandbox/{page}"


REGISTRY = "\n".join(
    [
        HEADER,
        _line("auvergne-rhone-alpes", "lyon-part-dieu", "lyon-mastodon"),
        _line("la-reunion", "saint-denis", "saint-denis-mastodon", "Indian/Reunion"),
        _line("guyane", "cayenne", "cayenne-mastodon", "America/Cayenne"),
        _line("casablanca-settat", "casa-anfa", "casa-anfa-mastodon", "Africa/Casablanca"),
        _line("grand-est", "strasbourg", "strasbourg-mastodon"),
    ]
)


def test_each_page_gets_its_regions_calendar() -> None:
    calendars = {row.page: row.calendar for row in parse_pages_csv(REGISTRY)}
    assert calendars == {
        "lyon-mastodon": "fr-metropole",
        "saint-denis-mastodon": "fr-reunion",
        "cayenne-mastodon": "fr-guyane",
        "casa-anfa-mastodon": "ma",
        "strasbourg-mastodon": "fr-metropole",
    }
    assert {row.calendar for row in parse_pages_csv(DEMO_CSV.read_text(encoding="utf-8"))} == {"fr-metropole"}


def test_configuration_gives_an_agency_or_a_region_its_own_calendar() -> None:
    calendars = parse_calendars(
        {
            "calendars": {"fr-alsace-moselle": {"from": "fr-metropole", "subdivision": "6AE"}},
            "agencies": {"strasbourg": "fr-alsace-moselle"},
            "regions": {"auvergne-rhone-alpes": "fr-reunion"},  # odd, but configuration's word
        }
    )
    rows = {row.page: row.calendar for row in parse_pages_csv(REGISTRY, calendars=calendars)}
    assert rows["strasbourg-mastodon"] == "fr-alsace-moselle"
    assert rows["lyon-mastodon"] == "fr-reunion"
    assert rows["saint-denis-mastodon"] == "fr-reunion"


def test_a_region_without_a_calendar_is_refused_naming_it() -> None:
    text = REGISTRY + "\n" + _line("atlantide", "poseidon", "poseidon-mastodon")
    with pytest.raises(RegistryError) as caught:
        parse_pages_csv(text)
    [problem] = caught.value.problems
    assert problem.startswith("line 7, column region: no calendar for region 'atlantide'")


def test_an_unknown_calendar_id_for_a_region_or_an_agency_is_refused_naming_it(tmp_path: Path) -> None:
    for kind, name in (("regions", "bretagne"), ("agencies", "rennes-sud")):
        path = tmp_path / f"{kind}.toml"
        path.write_text(f'[{kind}]\n{name} = "fr-bretagne"\n', encoding="utf-8")
        with pytest.raises(CalendarsError) as caught:
            read_calendars_file(path)
        assert caught.value.key == f"{kind}.{name}"
        assert "no calendar 'fr-bretagne'" in str(caught.value)


def test_the_import_command_refuses_a_bad_calendars_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calendars = tmp_path / "calendars.toml"
    calendars.write_text('[agencies]\nlyon-part-dieu = "mars"\n', encoding="utf-8")
    registry = tmp_path / "pages.csv"
    registry.write_text(REGISTRY, encoding="utf-8")
    monkeypatch.setenv("RELAIS_CALENDARS_FILE", str(calendars))
    assert import_pages_file(registry, tmp_path / "federation.db") == 2
    assert "agencies.lyon-part-dieu: no calendar 'mars'" in capsys.readouterr().err
    assert not (tmp_path / "federation.db").exists()


def test_the_store_keeps_the_calendar_and_fills_pages_imported_before(tmp_path: Path) -> None:
    db = open_store(tmp_path / "federation.db")
    import_pages(db, parse_pages_csv(REGISTRY))
    assert page_records(db)["saint-denis-mastodon"].calendar == "fr-reunion"
    # A file from before the column: its pages get their region's built-in calendar.
    db.table("pages").transform(drop={"calendar"})
    with db.conn:
        db.execute("delete from _sqlite_migrations where name = 'm002_page_calendars'")
    db.close()
    db = open_store(tmp_path / "federation.db")
    try:
        assert {p: r.calendar for p, r in page_records(db).items()} == {
            "lyon-mastodon": "fr-metropole",
            "saint-denis-mastodon": "fr-reunion",
            "cayenne-mastodon": "fr-guyane",
            "casa-anfa-mastodon": "ma",
            "strasbourg-mastodon": "fr-metropole",
        }
    finally:
        db.close()


def test_a_record_written_before_the_field_reads_with_the_default_calendar() -> None:
    old = {
        "page": "p",
        "network": "x",
        "handle": "h",
        "agency": "a",
        "region": "bretagne",
        "department": "35",
        "timezone": "Europe/Paris",
        "credentials_ref": "sandbox/p",
    }
    assert msgspec.json.decode(msgspec.json.encode(old), type=PageRecord).calendar == "fr-metropole"
