"""`GET /v1/reports/inbox` at the hub (issue #15 item 6): the real hub app, its page registry mirror
fed through the real `pages` bucket of a real nats-server, the fixed month of
tests/hub/inbox_report_data.py in its real hub.db, over real HTTP.

The policy, written by hand:
- moderators, ops and admins read; an agency's (advisor's) token is 403, none 401;
- a regional moderator's report holds her region's agencies only, in the groups and in the total,
  whatever the query says (the inbox's scope rule);
- `format=csv` or `Accept: text/csv` gives the CSV of `relais report`, the figures worked out by hand
  (tests/hub/test_inbox_report.py); JSON has the same figures, grouped as `group` says;
- a bad parameter is a 422 in the error shape naming it: a malformed month or day, a day past its
  month's end, month with from/to, from without to, an end not after the start, an unknown group
  or format.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
from collections.abc import AsyncIterator, Mapping
from typing import Any

import msgspec
import pytest

from services.hub.keys import MIRROR
from shared import bus
from shared.schemas import PAGES_BUCKET, PageRecord, page_key
from shared.tokens import issue_token, load_or_create_private_key
from tests.hub.hub_app import Hub
from tests.hub.inbox_report_data import CASA, CASA_REGION, LYON, LYON_REGION, PAGES, fill_november
from tests.hub.test_inbox_report import CASA_FACEBOOK, LYON_BLUESKY, LYON_MASTODON

NOVEMBER = "/v1/reports/inbox?month=2026-11"


@contextlib.asynccontextmanager
async def registry(hub: Hub, pages: Mapping[str, tuple[str, str, str, str]] = PAGES) -> AsyncIterator[None]:
    """The page registry as the federation publishes it (`pages`: page -> agency, network, region,
    calendar), mirrored by the hub."""
    kv = await bus.ensure_key_value(hub.js, PAGES_BUCKET)
    for page, (agency, network, region, calendar) in pages.items():
        record = PageRecord(
            page=page,
            network=network,
            handle=page,
            agency=agency,
            region=region,
            department="00",
            timezone="Europe/Paris",
            credentials_ref=f"sandbox/{page}",
            calendar=calendar,
        )
        await kv.put(page_key(agency, page), msgspec.json.encode(record))
    stop = asyncio.Event()
    mirror = hub.client.app[MIRROR]
    task = asyncio.create_task(mirror.follow(hub.js, stop))
    try:
        await asyncio.wait_for(mirror.loaded.wait(), 10)
        yield
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def report_hub(live_hub: Hub) -> AsyncIterator[Hub]:
    fill_november(live_hub.db)
    async with registry(live_hub):
        yield live_hub


async def get(
    hub: Hub,
    path: str,
    role: str = "admin",
    region: str | None = None,
    agency: str | None = None,
    **headers: str,
) -> tuple[int, str, str]:
    key = load_or_create_private_key(hub.settings.token_key_file)
    token = issue_token(key, role=role, subject=f"{role}-probe", region=region, agency=agency)
    response = await hub.client.get(path, headers={"Authorization": f"Bearer {token}", **headers})
    return response.status, response.content_type, await response.text()


def json_of(text: str) -> Any:
    return msgspec.json.decode(text)


async def test_the_csv_by_format_or_accept_is_relais_reports(report_hub: Hub) -> None:
    for path, headers in [(f"{NOVEMBER}&format=csv", {}), (NOVEMBER, {"Accept": "text/csv"})]:
        status, content_type, text = await get(report_hub, path, **headers)
        assert (status, content_type) == (200, "text/csv"), path
        assert list(csv.DictReader(io.StringIO(text))) == [LYON_BLUESKY, LYON_MASTODON, CASA_FACEBOOK]


async def test_the_json_has_the_same_figures_grouped(report_hub: Hub) -> None:
    status, content_type, text = await get(report_hub, NOVEMBER)
    assert (status, content_type) == (200, "application/json")
    body = json_of(text)
    assert (body["period_start"], body["period_end"], body["target_minutes"], body["group"]) == (
        "2026-11-01",
        "2026-12-01",
        240,
        "agency_network",
    )
    mastodon = body["groups"][1]
    assert mastodon["key"] == {"region": LYON_REGION, "agency": LYON, "network": "mastodon"}
    assert (mastodon["questions"], mastodon["within_target"], mastodon["within_target_share"]) == (5, 3, 0.6)
    assert (mastodon["p50_business_min"], mastodon["p90_all_hours_min"]) == (120, 3960)
    total = body["total"]
    assert total["key"] == {}
    assert (total["questions"], total["decided"], total["within_target_share"], total["posts_published"]) == (
        8,
        8,
        0.75,
        4,
    )
    assert (total["likes"], total["views"]) == (17, 420)

    status, _, text = await get(report_hub, f"{NOVEMBER}&group=week")
    weeks = {g["key"]["week"]: (g["questions"], g["posts_published"]) for g in json_of(text)["groups"]}
    assert weeks == {"2026-W44": (1, 0), "2026-W45": (1, 3), "2026-W46": (2, 0), "2026-W47": (4, 1)}

    status, _, text = await get(report_hub, "/v1/reports/inbox?from=2026-11-01&to=2026-11-08&group=network")
    networks = {g["key"]["network"]: (g["questions"], g["posts_published"]) for g in json_of(text)["groups"]}
    assert networks == {"bluesky": (0, 1), "facebook": (1, 1), "mastodon": (1, 1)}  # C3, L1; P1 ×2, P3


async def test_a_regional_moderator_sees_her_regions_agencies_only(report_hub: Hub) -> None:
    for group in ("agency_network", "region", "network", "week"):
        status, _, text = await get(report_hub, f"{NOVEMBER}&group={group}", "moderator", region=CASA_REGION)
        assert status == 200
        body = json_of(text)
        # Casablanca's three questions, one delivery: nothing of Lyon's, in any grouping or the total.
        assert (body["total"]["questions"], body["total"]["posts_published"]) == (3, 1), group
        assert sum(g["questions"] for g in body["groups"]) == 3, group
        assert sum(g["posts_published"] for g in body["groups"]) == 1, group
    status, _, text = await get(report_hub, f"{NOVEMBER}&format=csv", "moderator", region=CASA_REGION)
    assert [r["agency"] for r in csv.DictReader(io.StringIO(text))] == [CASA]
    status, _, text = await get(report_hub, f"{NOVEMBER}&format=csv", "moderator", region="bretagne")
    assert status == 200 and list(csv.DictReader(io.StringIO(text))) == []
    for role in ("ops", "moderator"):  # national readers: everything
        status, _, text = await get(report_hub, NOVEMBER, role)
        assert (status, json_of(text)["total"]["questions"]) == (200, 8), role


async def test_who_may_not_read(report_hub: Hub) -> None:
    status, _, text = await get(report_hub, NOVEMBER, "advisor", agency=LYON)
    assert status == 403 and json_of(text)["error"]["code"] == "forbidden"
    response = await report_hub.client.get(NOVEMBER)
    assert response.status == 401


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ("month=2026-13", "invalid_value", "month"),
        ("month=2026-1", "invalid_value", "month"),
        ("month=0000-01", "invalid_period", "month"),
        ("from=2026-02-30&to=2026-03-01", "invalid_datetime", "from"),
        ("from=2026-11-01&to=2026-11-31", "invalid_datetime", "to"),
        ("from=20261101&to=2026-12-01", "invalid_value", "from"),
        ("month=2026-11&from=2026-11-01&to=2026-12-01", "invalid_period", "month"),
        ("from=2026-11-01", "invalid_period", "to"),
        ("to=2026-12-01", "invalid_period", "from"),
        ("from=2026-12-01&to=2026-12-01", "invalid_period", "to"),
        ("from=2026-12-01&to=2026-11-01", "invalid_period", "to"),
        ("from=0001-01-01&to=2026-11-01", "invalid_period", "from"),
        ("month=2026-11&group=agency", "invalid_value", "group"),
        ("month=2026-11&format=xml", "invalid_value", "format"),
    ],
)
async def test_a_bad_parameter_is_a_422_naming_it(live_hub: Hub, query: str, code: str, field: str) -> None:
    status, _, text = await get(live_hub, f"/v1/reports/inbox?{query}")
    assert status == 422
    error = json_of(text)["error"]
    assert (error["code"], error["field"]) == (code, field)
