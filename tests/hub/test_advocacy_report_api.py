"""`GET /v1/reports/advocacy` at the hub (issue #16 item 6): the real hub app, its page registry mirror
fed through the real `pages` bucket of a real nats-server, the fixed month of
tests/hub/advocacy_report_data.py in its real hub.db, over real HTTP.

The policy, written by hand:
- moderators, ops and admins read; an advisor's token is 403, none 401;
- the agencies and regions are the registry's: every agency with a page, even one that never shared;
- a regional moderator's report holds her region's agencies only (agencies, stories, topics, regions,
  networks, shares and the total), whatever the query says; a region with no agency sees nothing;
- `format=csv` or `Accept: text/csv` gives the CSV of `relais report --advocacy` (one row per agency);
- a bad parameter is a 422 in the error shape naming it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import pytest

from tests.hub.advocacy_report_data import (
    ARA,
    CASA,
    CASA_REGION,
    LYON,
    MARSEILLE,
    REGISTRY,
    RENNES,
    VILLEURBANNE,
    fill_november,
)
from tests.hub.hub_app import Hub
from tests.hub.test_inbox_report_api import get, json_of, registry

NOVEMBER = "/v1/reports/advocacy?month=2026-11"
PAGES = {
    f"{agency}-facebook": (agency, "facebook", region, "fr-metropole") for agency, region in REGISTRY.items()
}


@pytest.fixture
async def advocacy_hub(live_hub: Hub) -> AsyncIterator[Hub]:
    fill_november(live_hub.db)
    async with registry(live_hub, PAGES):
        yield live_hub


async def test_the_months_figures_as_json(advocacy_hub: Hub) -> None:
    status, content_type, text = await get(advocacy_hub, NOVEMBER)
    assert (status, content_type) == (200, "application/json")
    body = json_of(text)
    assert (body["period_start"], body["period_end"], body["zone"]) == (
        "2026-11-01",
        "2026-12-01",
        "Europe/Paris",
    )
    total = body["total"]
    assert total == {
        "key": {},
        "shares_received": 8,
        "shares_invalid": 1,
        "shares_rejected": 1,
        "shares_published": 4,
        "deliveries_published": 5,
        "likes": 9,
        "shares": 1,
        "replies": 1,
        "views": 140,
    }
    coverage = {
        a["agency"]: (a["required_topics"], a["covered_topics"], a["coverage"]) for a in body["agencies"]
    }
    assert coverage == {
        CASA: (["ateliers-casa"], ["ateliers-casa"], 1.0),
        LYON: (["numerique", "salons-ara"], ["salons-ara"], 0.5),
        MARSEILLE: ([], [], None),
        RENNES: (["numerique"], [], 0.0),
        VILLEURBANNE: (["salons-ara"], [], 0.0),
    }
    assert [(r["key"]["topic"], r["shares_received"], r["shares_published"]) for r in body["topics"]] == [
        ("ateliers-casa", 2, 1),
        ("emploi-jeunes", 1, 1),
        ("numerique", 2, 0),
        ("salons-ara", 3, 2),
    ]
    assert [r["key"] for r in body["months"]] == [{"month": "2026-11"}]
    assert [(r["key"]["network"], r["deliveries_published"]) for r in body["networks"]] == [
        ("bluesky", 1),
        ("linkedin", 1),
        ("mastodon", 1),
        ("x", 2),
    ]
    by_post = {s["post_id"]: s for s in body["shares"]}
    assert sorted(by_post) == ["S1", "S2", "S3", "S4", "S5", "S7", "S8", "S9"]
    assert (by_post["S4"]["likes"], by_post["S4"]["views"], by_post["S5"]["likes"]) == (0, None, None)
    assert (by_post["S1"]["deliveries_published"], by_post["S1"]["likes"], by_post["S1"]["views"]) == (
        2,
        6,
        40,
    )
    assert "advocate" not in by_post["S1"] and "text" not in by_post["S1"]  # figures, not people or words


async def test_a_regional_moderator_sees_her_regions_agencies_only(advocacy_hub: Hub) -> None:
    status, _, text = await get(advocacy_hub, NOVEMBER, "moderator", region=CASA_REGION)
    assert status == 200
    body = json_of(text)
    assert [a["agency"] for a in body["agencies"]] == [CASA]
    assert (body["total"]["shares_received"], body["total"]["deliveries_published"]) == (3, 2)
    assert [r["key"]["region"] for r in body["regions"]] == [CASA_REGION]
    assert {r["key"]["story"] for r in body["stories"]} == {"s-atelier", "s-jeunes"}
    assert {r["key"]["topic"] for r in body["topics"]} == {"ateliers-casa", "emploi-jeunes"}
    assert {s["agency"] for s in body["shares"]} == {CASA}
    assert sum(r["shares_received"] for r in body["networks"]) == 3
    status, _, text = await get(advocacy_hub, f"{NOVEMBER}&format=csv", "moderator", region=CASA_REGION)
    assert [r["agency"] for r in csv.DictReader(io.StringIO(text))] == [CASA]
    status, _, text = await get(advocacy_hub, NOVEMBER, "moderator", region="normandie")
    body = json_of(text)
    assert (status, body["agencies"], body["shares"], body["total"]["shares_received"]) == (200, [], [], 0)
    status, _, text = await get(advocacy_hub, NOVEMBER, "moderator", region=ARA)
    body = json_of(text)
    assert [a["agency"] for a in body["agencies"]] == [LYON, VILLEURBANNE]
    # Offered to her agencies: listed, even emploi-jeunes that none of them shared; not ateliers-casa.
    assert [(r["key"]["topic"], r["shares_received"]) for r in body["topics"]] == [
        ("emploi-jeunes", 0),
        ("numerique", 2),
        ("salons-ara", 3),
    ]
    for role in ("ops", "moderator"):  # national readers: everything
        status, _, text = await get(advocacy_hub, NOVEMBER, role)
        assert (status, json_of(text)["total"]["shares_received"]) == (200, 8), role


async def test_the_csv_by_format_or_accept(advocacy_hub: Hub) -> None:
    for path, headers in [(f"{NOVEMBER}&format=csv", {}), (NOVEMBER, {"Accept": "text/csv"})]:
        status, content_type, text = await get(advocacy_hub, path, **headers)
        assert (status, content_type) == (200, "text/csv"), path
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [(r["agency"], r["coverage"]) for r in rows] == [
            (CASA, "1.0000"),
            (LYON, "0.5000"),
            (MARSEILLE, ""),
            (RENNES, "0.0000"),
            (VILLEURBANNE, "0.0000"),
        ]


async def test_who_may_not_read(advocacy_hub: Hub) -> None:
    status, _, text = await get(advocacy_hub, NOVEMBER, "advisor", agency=LYON)
    assert status == 403 and json_of(text)["error"]["code"] == "forbidden"
    response = await advocacy_hub.client.get(NOVEMBER)
    assert response.status == 401


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ("month=2026-13", "invalid_value", "month"),
        ("from=2026-02-30&to=2026-03-01", "invalid_datetime", "from"),
        ("month=2026-11&from=2026-11-01&to=2026-12-01", "invalid_period", "month"),
        ("from=2026-11-01", "invalid_period", "to"),
        ("from=2026-12-01&to=2026-11-01", "invalid_period", "to"),
        ("month=2026-11&format=xml", "invalid_value", "format"),
    ],
)
async def test_a_bad_parameter_is_a_422_naming_it(live_hub: Hub, query: str, code: str, field: str) -> None:
    status, _, text = await get(live_hub, f"/v1/reports/advocacy?{query}")
    assert status == 422
    error = json_of(text)["error"]
    assert (error["code"], error["field"]) == (code, field)
