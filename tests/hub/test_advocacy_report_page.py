"""The advocacy figures page at the hub (`GET /reports/advocacy`, `GET /reports/advocacy.csv`): the real
hub app, its page registry mirror on a real nats-server, the fixed month of
tests/hub/advocacy_report_data.py in its real hub.db, sessions of the dashboard, real HTTP.

The policy, written by hand:
- signed-in dashboard users read it; an advisor (token or session) and a visitor without a session do
  not (to the sign-in page; 401 when asking for JSON);
- the month's totals in the viewer's words (8 shares received, 1 refused as a near-duplicate, 1
  rejected, 4 published, 5 deliveries; 9 likes, 140 views: tests/hub/test_advocacy_report.py);
- each agency's coverage of its required topics: « 1 sur 2 (50 %) » for Lyon, « — » for Marseille,
  of which nothing is required (not 100 %), and the required topics not covered, by their titles;
- a chart per topic and per network (images named in words) with the tables of their numbers
  (caption, header cells with scope); the month is chosen with a labelled control;
- the CSV link gives the month's CSV (one row per agency), with the session;
- a regional moderator's page and CSV hold her region's agencies only;
- French by default, Arabic (right to left) and English by choice.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator

import pytest

from shared.tokens import issue_token, load_or_create_private_key
from tests.accessible_page import AccessiblePage
from tests.hub.advocacy_report_data import ARA, CASA, CASA_REGION, LYON, MARSEILLE, fill_november
from tests.hub.hub_app import Hub
from tests.hub.test_advocacy_report_api import PAGES
from tests.hub.test_inbox_report_api import registry
from tests.hub.test_inbox_report_page import facts, fetch, signed_in

NOVEMBER = "/reports/advocacy?month=2026-11"


@pytest.fixture
async def advocacy_hub(live_hub: Hub) -> AsyncIterator[Hub]:
    fill_november(live_hub.db)
    async with registry(live_hub, PAGES):
        yield live_hub


async def test_the_months_figures_in_french(advocacy_hub: Hub) -> None:
    session = await signed_in(advocacy_hub, "nadia", "moderator")
    status, html = await fetch(advocacy_hub, NOVEMBER, session)
    assert status == 200
    page = AccessiblePage(html)
    assert page.html.get("lang") == "fr"
    assert "<h1>Chiffres des ambassadeurs</h1>" in html
    assert facts(html) == {
        "partages reçus": "8",
        "refusés comme quasi-doublons": "1",
        "rejetés par un modérateur": "1",
        "partages publiés": "4",
        "envois publiés": "5",
        "vues": "140",
        "mentions J’aime": "9",
        "republications sur les réseaux": "1",  # not to be read as the advocates' shares
        "réponses": "1",
    }
    assert page.labels["f-month"] == "Mois" and page.inputs["f-month"]["value"] == "2026-11"
    coverage, topics, stories, regions, networks = page.tables
    assert coverage.caption == "Couverture des sujets obligatoires par agence"
    assert [row[0].scope for row in coverage.rows[1:]] == ["row"] * 5
    assert coverage.texts()[1:] == [
        [CASA, CASA_REGION, "1 sur 1 (100 %)", "", "3", "2"],
        [LYON, ARA, "1 sur 2 (50 %)", "Sujet numerique", "4", "2"],
        [MARSEILLE, "provence", "—", "", "0", "0"],
        ["rennes-centre", "bretagne", "0 sur 1 (0 %)", "Sujet numerique", "0", "0"],
        ["villeurbanne", ARA, "0 sur 1 (0 %)", "Sujet salons-ara", "1", "0"],
    ]
    assert topics.texts()[4][:5] == ["Sujet salons-ara", "oui", "3", "2", "3"]
    assert topics.texts()[2][:2] == ["Sujet emploi-jeunes", "non"]
    assert [row[0] for row in stories.texts()[1:]] == [
        "s-atelier",
        "s-jeunes",
        "s-num",
        "s-salon",
        "s-salon-lyon",
    ]
    assert [row[:3] for row in regions.texts()[1:]] == [[ARA, "5", "2"], [CASA_REGION, "3", "2"]]
    assert networks.texts()[-1][:3] == ["tous les réseaux", "8", "5"]
    assert 'aria-label="Partages par sujet ce mois-ci : reçus et publiés"' in html
    assert "<title>Sujet salons-ara, partages publiés : 2</title>" in html
    assert 'aria-label="Envois des partages publiés par réseau ce mois-ci"' in html
    assert "/reports/advocacy.csv?month=2026-11" in page.urls
    assert 'href="/reports/advocacy" aria-current="page"' in html


async def test_the_csv_link_gives_the_months_csv(advocacy_hub: Hub) -> None:
    session = await signed_in(advocacy_hub, "nadia", "moderator")
    response = await advocacy_hub.client.get("/reports/advocacy.csv?month=2026-11", headers=session)
    assert (response.status, response.content_type) == (200, "text/csv")
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [(r["agency"], r["shares_received"], r["coverage"]) for r in rows][:3] == [
        (CASA, "3", "1.0000"),
        (LYON, "4", "0.5000"),
        (MARSEILLE, "0", ""),
    ]


async def test_a_regional_moderator_sees_her_regions_figures_only(advocacy_hub: Hub) -> None:
    session = await signed_in(advocacy_hub, "amina", "moderator", region=CASA_REGION)
    status, html = await fetch(advocacy_hub, NOVEMBER, session)
    assert status == 200
    assert facts(html)["partages reçus"] == "3"
    coverage, _topics, _stories, regions, _networks = AccessiblePage(html).tables
    assert [row[0] for row in coverage.texts()[1:]] == [CASA]
    assert [row[0] for row in regions.texts()[1:]] == [CASA_REGION]
    assert LYON not in html and "s-salon" not in html
    status, text = await fetch(advocacy_hub, "/reports/advocacy.csv?month=2026-11", session)
    assert [row["agency"] for row in csv.DictReader(io.StringIO(text))] == [CASA]


async def test_arabic_right_to_left_and_english(advocacy_hub: Hub) -> None:
    session = await signed_in(advocacy_hub, "nadia", "moderator")
    status, html = await fetch(advocacy_hub, f"{NOVEMBER}&lang=ar", session)
    page = AccessiblePage(html)
    assert (status, page.html.get("lang"), page.html.get("dir")) == (200, "ar", "rtl")
    assert "<h1>أرقام السفراء</h1>" in html and "موضوع numerique" in html  # the topic's Arabic title
    status, html = await fetch(advocacy_hub, f"{NOVEMBER}&lang=en", session)
    assert status == 200 and "<h1>Advocacy figures</h1>" in html
    assert facts(html)["shares received"] == "8"
    assert "1 of 2 (50 %)" in html


async def test_an_advisor_or_a_visitor_does_not_open_it(advocacy_hub: Hub) -> None:
    key = load_or_create_private_key(advocacy_hub.settings.token_key_file)
    token = issue_token(key, role="advisor", subject="claire", agency=LYON)
    session = await signed_in(advocacy_hub, "claire", "advisor")
    for path in (NOVEMBER, "/reports/advocacy.csv?month=2026-11"):
        for headers in ({"Authorization": f"Bearer {token}"}, session, {}):
            status, body = await fetch(advocacy_hub, path, headers)
            assert (status, LYON in body) == (303, False), (path, headers)
            status, _ = await fetch(advocacy_hub, path, {**headers, "Accept": "application/json"})
            assert status == 401, (path, headers)


async def test_a_hostile_topic_title_is_text_in_the_tables_and_the_chart(advocacy_hub: Hub) -> None:
    hostile = '<img src=x onerror="alert(1)">'
    advocacy_hub.db.execute(
        "update advocacy_topics set titles = ? where id = 'salons-ara'", [f'{{"fr": {json.dumps(hostile)}}}']
    )
    session = await signed_in(advocacy_hub, "nadia", "moderator")
    status, html = await fetch(advocacy_hub, NOVEMBER, session)
    assert status == 200
    assert hostile not in html and "<img" not in html
    assert (
        html.count("&lt;img src=x onerror=") >= 4
    )  # the topics' table, the stories', the chart's label and tips
