"""The inbox's figures page at the hub (`GET /reports`, `GET /reports/inbox.csv`): the real hub app, its
page registry mirror on a real nats-server, the fixed month of tests/hub/inbox_report_data.py in its
real hub.db, sessions of the dashboard, real HTTP.

The policy, written by hand:
- signed-in dashboard users read it; an advisor (token or session) and a visitor without a session do
  not (to the sign-in page; 401 when asking for JSON);
- the month's totals, in the viewer's words: 8 questions, 7 answered, 6 of 8 decided within 4 h of
  business hours (75 %), median 60 and 90th percentile 360 minutes of business hours, 4 posts, 420
  views (worked out by hand in tests/hub/test_inbox_report.py);
- each week's figures as a chart (an image named in words) and as a table with its caption and
  header cells; a row per region; the month is chosen with a labelled control;
- the CSV link gives the month's CSV (that of `relais report`), with the session;
- a regional moderator's page and CSV hold her region's agencies only;
- French by default, Arabic (right to left) and English by choice.
"""

from __future__ import annotations

import csv
import io

from shared.accounts import create_user, open_session
from shared.tokens import issue_token, load_or_create_private_key
from tests.accessible_page import AccessiblePage
from tests.hub.dashboard_client import PASSWORD
from tests.hub.hub_app import Hub
from tests.hub.inbox_report_data import CASA, CASA_REGION, LYON, LYON_REGION
from tests.hub.test_inbox_report import CASA_FACEBOOK, LYON_BLUESKY, LYON_MASTODON
from tests.hub.test_inbox_report_api import report_hub

__all__ = ["report_hub"]  # the fixture, used here

NOVEMBER = "/reports?month=2026-11"


async def signed_in(hub: Hub, username: str, role: str, region: str | None = None) -> dict[str, str]:
    create_user(hub.db, username, role, region, PASSWORD, agency=LYON if role == "advisor" else None)
    return {"Cookie": f"relais_session={open_session(hub.db, username).cookie}"}


async def fetch(hub: Hub, path: str, headers: dict[str, str]) -> tuple[int, str]:
    response = await hub.client.get(path, headers=headers, allow_redirects=False)
    return response.status, await response.text()


def facts(html: str) -> dict[str, str]:
    """The totals' terms and values (`<dt>`/`<dd>`), white space collapsed."""
    terms = [" ".join(t.split()) for t in html.split("<dt>")[1:]]
    return {t.split("</dt>")[0]: t.split("<dd>")[1].split("</dd>")[0] for t in terms}


async def test_the_months_figures_in_french(report_hub: Hub) -> None:
    session = await signed_in(report_hub, "nadia", "moderator")
    status, html = await fetch(report_hub, NOVEMBER, session)
    assert status == 200
    page = AccessiblePage(html)
    assert page.html.get("lang") == "fr"
    assert "<h1>Chiffres de la boîte de réception</h1>" in html
    assert facts(html) == {
        "questions": "8",
        "répondues": "7",
        "répondues en moins de 4 h d’heures ouvrées": "6 sur 8 (75 %)",
        "répondues en moins de 4 h, toutes heures comprises": "1",
        "première réponse, heures ouvrées (minutes)": "médiane 60, 90e centile 360",
        "première réponse, toutes heures (minutes)": "médiane 1 410, 90e centile 3 960",  # 1 410: grouped
        "publications": "4",
        "vues": "420",
    }
    assert page.labels["f-month"] == "Mois" and page.inputs["f-month"]["value"] == "2026-11"
    weeks, regions, *_ = page.tables  # then the engagement's (tests/hub/test_engagement_pages.py)
    assert weeks.caption == "Par semaine (la semaine ISO de la question)"
    assert [row[0].scope for row in weeks.rows[1:]] == ["row"] * 4
    assert weeks.texts()[1:] == [
        ["2026-W44", "1", "1", "1 sur 1", "100 %", "30", "30"],
        ["2026-W45", "1", "1", "1 sur 1", "100 %", "30", "30"],
        ["2026-W46", "2", "2", "2 sur 2", "100 %", "120", "240"],
        ["2026-W47", "4", "3", "2 sur 4", "50 %", "60", "360"],
    ]
    assert regions.texts()[1:] == [
        [LYON_REGION, "3", "5", "4", "3 sur 5", "60 %", "120", "360", "120"],
        [CASA_REGION, "1", "3", "3", "3 sur 3", "100 %", "45", "60", "300"],
    ]
    # The charts: images named in words, each bar titled.
    assert 'aria-label="Première réponse par semaine, en minutes d’heures ouvrées' in html
    assert 'aria-label="Part des questions répondues dans le délai, par semaine, en pourcentage"' in html
    assert "<title>2026-W47, 90e centile (p90) : 360 min</title>" in html
    assert "<title>2026-W47, répondues dans le délai : 50 %</title>" in html
    assert "/reports/inbox.csv?month=2026-11" in page.urls


async def test_the_csv_link_gives_the_months_csv(report_hub: Hub) -> None:
    session = await signed_in(report_hub, "nadia", "moderator")
    response = await report_hub.client.get("/reports/inbox.csv?month=2026-11", headers=session)
    assert (response.status, response.content_type) == (200, "text/csv")
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert rows == [LYON_BLUESKY, LYON_MASTODON, CASA_FACEBOOK]


async def test_a_regional_moderator_sees_her_regions_figures_only(report_hub: Hub) -> None:
    session = await signed_in(report_hub, "amina", "moderator", region=CASA_REGION)
    status, html = await fetch(report_hub, NOVEMBER, session)
    assert status == 200
    assert facts(html)["questions"] == "3" and facts(html)["publications"] == "1"
    _, regions, *_ = AccessiblePage(html).tables
    assert [row[0] for row in regions.texts()[1:]] == [CASA_REGION]
    status, text = await fetch(report_hub, "/reports/inbox.csv?month=2026-11", session)
    assert [row["agency"] for row in csv.DictReader(io.StringIO(text))] == [CASA]


async def test_arabic_right_to_left_and_english(report_hub: Hub) -> None:
    session = await signed_in(report_hub, "nadia", "moderator")
    status, html = await fetch(report_hub, f"{NOVEMBER}&lang=ar", session)
    page = AccessiblePage(html)
    assert (status, page.html.get("lang"), page.html.get("dir")) == (200, "ar", "rtl")
    assert "<h1>أرقام صندوق الوارد</h1>" in html and "الوسيط" in html
    status, html = await fetch(report_hub, f"{NOVEMBER}&lang=en", session)
    assert status == 200 and "<h1>Inbox figures</h1>" in html
    assert facts(html)["answered within 4 hr of business hours"] == "6 of 8 (75 %)"


async def test_an_advisor_or_a_visitor_does_not_open_it(report_hub: Hub) -> None:
    key = load_or_create_private_key(report_hub.settings.token_key_file)
    token = issue_token(key, role="advisor", subject="claire", agency=LYON)
    session = await signed_in(report_hub, "claire", "advisor")
    for path in (NOVEMBER, "/reports/inbox.csv?month=2026-11"):
        for headers in ({"Authorization": f"Bearer {token}"}, session, {}):
            status, body = await fetch(report_hub, path, headers)
            assert (status, LYON in body) == (303, False), (path, headers)
            status, _ = await fetch(report_hub, path, {**headers, "Accept": "application/json"})
            assert status == 401, (path, headers)
