"""Campaigns fanned out to every page in its own words, scheduled posts, and the late rule, with real
processes end to end."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from relais.system import DEMO_CSV
from tests.harness import RelaisSystem, eventually, http

FIXTURE = DEMO_CSV.with_name("france_fixture.csv")
NETWORKS = ["x", "mastodon", "bluesky", "linkedin", "facebook"]
CAMPAIGN = "Semaine de l'emploi : {agence} vous attend à {ville}. Programme : {lien_local} #emploi"


def campaign(relais: RelaisSystem, body: dict[str, Any]) -> str:
    status, accepted = http("POST", f"{relais.hub_url}/v1/posts", body, token=relais.token("admin"))
    assert status == 202, accepted
    return str(accepted["id"])


def test_a_national_campaign_reaches_every_page_of_the_fixture_in_its_own_words(
    make_relais: Callable[..., RelaisSystem],
) -> None:
    relais = make_relais(csv_path=FIXTURE, agencies=["lyon", "rennes"])
    post_id = campaign(relais, {"text": CAMPAIGN, "networks": NETWORKS, "selectors": ["nation"]})

    pages = list(csv.DictReader(FIXTURE.read_text(encoding="utf-8").splitlines()))
    view = eventually(
        lambda: (v := relais.hub_post(post_id)) and v["status"] == "published" and v, timeout=180
    )
    assert len(view["deliveries"]) == len(pages) == 1016
    received = relais.sandbox_posts()
    assert len(received) == len(pages)
    by_account = Counter((p["network"], p["account"]) for p in received)
    assert max(by_account.values()) == 1
    text_of = {(p["network"], p["account"]): p["text"] for p in received}
    for page in pages:
        text = text_of[(page["network"], page["handle"])]
        assert page["city"] in text and page["agency_name"].split(" ")[-1] in text, (page["page"], text)
    x_texts = [p["text"] for p in received if p["network"] == "x"]
    assert len(set(x_texts)) == len(x_texts)  # X forbids the same text on several accounts

    local = relais.wait_status(post_id, ("published",), agency="lyon")
    assert {d["page"] for d in local["deliveries"]} == {p["page"] for p in pages if p["agency"] == "lyon"}


def test_a_campaign_with_the_same_text_for_several_x_accounts_is_refused(relais: RelaisSystem) -> None:
    post_id = campaign(
        relais, {"text": "Même texte partout #emploi", "networks": ["x"], "selectors": ["nation"]}
    )
    view = eventually(lambda: (v := relais.hub_post(post_id)) and v["status"] == "invalid" and v)
    assert "forbids" in view["reason"] and "{agence}" in view["reason"]
    assert relais.sandbox_posts() == []


def test_scheduled_posts_go_out_at_their_time_and_late_ones_follow_the_grace_rule(
    relais: RelaisSystem,
) -> None:
    now = datetime.now(UTC)
    soon = (now + timedelta(seconds=4)).isoformat()
    status, future = relais.post(
        {"text": "Atelier à venir #emploi", "networks": ["mastodon"], "schedule_at": soon}
    )
    assert status == 202
    status, late = relais.post(
        {
            "text": "Un peu en retard #emploi",
            "networks": ["mastodon"],
            "schedule_at": (now - timedelta(minutes=10)).isoformat(),
        }
    )
    assert status == 202
    status, expired = relais.post(
        {
            "text": "Bien trop tard #emploi",
            "networks": ["mastodon"],
            "schedule_at": (now - timedelta(hours=3)).isoformat(),
        }
    )
    assert status == 202

    assert relais.wait_status(future["id"], ("scheduled",))["status"] == "scheduled"
    relais.wait_status(late["id"], ("published",))
    gone = relais.wait_status(expired["id"], ("expired",))
    assert "grace period" in gone["reason"] and gone["deliveries"][0]["status"] == "expired"
    # The hub's view follows the same bus events as the agency's, a moment apart.
    eventually(lambda: (v := relais.hub_post(expired["id"])) and v["status"] == "expired")

    relais.wait_status(future["id"], ("published",), timeout=30)
    [sent] = [p for p in relais.sandbox_posts() if p["text"] == "Atelier à venir #emploi"]
    assert datetime.fromisoformat(sent["received_at"].replace("Z", "+00:00")) >= datetime.fromisoformat(soon)
    assert "Bien trop tard #emploi" not in {p["text"] for p in relais.sandbox_posts()}
