"""A moderator at the hub's dashboard, in headless Chromium, with the whole system running: sign in,
approve a queued post and watch it reach `published` live (server-sent events, no reload), reject
another with a reason that reaches the advisor's agency. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from shared.tokens import issue_token
from tests.browser.conftest import screenshot
from tests.harness import RelaisSystem, eventually, http
from tests.hub.dashboard_client import PASSWORD, create_user

pytestmark = pytest.mark.browser

REASON = "Merci d'indiquer le type de contrat (CDI, CDD…) <avant publication>"
LIVE = 30_000  # ms: the whole pipeline, formatter to sandbox, on a busy 2-core machine


def queued_ids(relais: RelaisSystem) -> set[str]:
    token = issue_token(relais.key, role="moderator", subject="moderation-api")
    status, body = http("GET", f"{relais.hub_url}/v1/moderation/queue", token=token)
    assert status == 200, body
    return {item["post_id"] for item in body["queue"]}


def test_a_moderator_approves_and_rejects_from_the_live_dashboard(
    relais: RelaisSystem, browser_page: Page
) -> None:
    status, body = http(
        "PUT",
        f"{relais.hub_url}/v1/policies",
        {"scope": "default", "mode": "moderated"},
        token=relais.token("admin"),
    )
    assert status == 200, body
    ids = []
    for text in ("Offre : cariste H/F à Lyon Part-Dieu #emploi", "Offre : préparateur de commandes #emploi"):
        status, accepted = relais.post({"text": text, "networks": ["mastodon"]})
        assert status == 202, accepted
        ids.append(accepted["id"])
    approved, rejected = ids
    eventually(lambda: set(ids) <= queued_ids(relais))
    created = create_user(relais.data_dir, "nadia", "moderator")
    assert created.returncode == 0, created.stderr

    page = browser_page
    page.goto(f"{relais.hub_url}/dashboard")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_label("Identifiant").fill("nadia")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    screenshot(page, "dashboard-0-login")
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(f"{relais.hub_url}/dashboard")
    expect(page.locator("#live-status")).to_have_text("En direct")
    page.evaluate("() => { window.sameDocument = true; }")  # gone if anything reloads the page
    queue = page.locator("#s-queue")
    expect(queue.locator(f'tr[data-post-id="{approved}"]')).to_contain_text("cariste H/F")
    screenshot(page, "dashboard-1-queue")

    queue.locator(f'tr[data-post-id="{approved}"]').get_by_role("button", name="Valider").click()
    expect(page.locator("#notice")).to_have_text("Validée : la publication part vers ses pages.")
    status_cell = page.locator(f'#s-posts tr[data-post-id="{approved}"] [data-field="status"]')
    expect(status_cell).to_have_text("Publiée", timeout=LIVE)
    # The live feed only ever grows from server-sent events: this one came over /events.
    told = page.locator(f'#live-feed li[data-post-id="{approved}"][data-status="published"]')
    expect(told.first).to_be_visible()
    expect(queue.locator(f'tr[data-post-id="{approved}"]')).to_have_count(0)
    assert page.evaluate("() => window.sameDocument") is True
    screenshot(page, "dashboard-2-approved-live")

    row = queue.locator(f'tr[data-post-id="{rejected}"]')
    row.get_by_label("Motif").fill(REASON)
    row.get_by_role("button", name="Refuser").click()
    expect(page.locator("#notice")).to_have_text("Refusée : le conseiller lira votre motif.")
    expect(row).to_have_count(0)
    expect(page.locator(f'#s-posts tr[data-post-id="{rejected}"] [data-field="status"]')).to_have_text(
        "Refusée", timeout=LIVE
    )
    expect(page.locator(f'#s-posts tr[data-post-id="{rejected}"]')).to_contain_text(REASON)
    advisor_view = relais.wait_status(rejected, ("rejected",))
    assert advisor_view["reason"] == REASON
    assert relais.get_post(approved)["status"] == "published"
    assert page.evaluate("() => window.sameDocument") is True
    screenshot(page, "dashboard-3-rejected")

    audited = relais.audit_with(approved, "approved") + relais.audit_with(rejected, "rejected")
    decisions = [(e["event"], e["actor"]) for e in audited]
    assert ("approved", "nadia") in decisions and ("rejected", "nadia") in decisions
