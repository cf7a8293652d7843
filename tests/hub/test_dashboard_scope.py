"""Territory in the dashboard, with the whole system running: a regional moderator sees and decides
only her region's posts, and her attempt on another region's post is refused and audited."""

from __future__ import annotations

import json

from shared.tokens import issue_token
from tests.harness import RelaisSystem, eventually, http
from tests.hub.dashboard_client import DashboardSession, create_user

LYON, RENNES = "lyon-part-dieu", "rennes-sud"  # auvergne-rhone-alpes, bretagne
POST = {"text": "Offre : soudeur H/F #emploi", "networks": ["mastodon"]}


def test_a_regional_moderator_sees_and_decides_only_in_her_region(relais: RelaisSystem) -> None:
    status, body = http(
        "PUT",
        f"{relais.hub_url}/v1/policies",
        {"scope": "default", "mode": "moderated"},
        token=relais.token("admin"),
    )
    assert status == 200, body
    ids = {}
    for agency in (LYON, RENNES):
        status, accepted = relais.post(POST, agency=agency)
        assert status == 202, accepted
        ids[agency] = accepted["id"]
    national = issue_token(relais.key, role="moderator", subject="moderation-api")

    def queued() -> set[str]:
        status, body = http("GET", f"{relais.hub_url}/v1/moderation/queue", token=national)
        return {item["post_id"] for item in body["queue"]} if status == 200 else set()

    eventually(lambda: set(ids.values()) <= queued())
    assert create_user(relais.data_dir, "breizh", "moderator", "bretagne").returncode == 0

    moderator = DashboardSession(relais.hub_url)
    assert moderator.login("breizh") == 303
    page = moderator.dashboard()
    assert ids[RENNES] in page and ids[LYON] not in page and "breizh · modération · bretagne" in page
    for name in ("queue", "posts", "stats", "agencies"):
        status, section, _ = moderator.request("GET", f"/dashboard/sections/{name}")
        assert status == 200 and LYON not in section, name

    status, answer = moderator.act(f"/dashboard/queue/{ids[LYON]}/approve")
    assert status == 403 and json.loads(answer)["error"]["code"] == "outside_scope"
    status, answer = moderator.act(f"/dashboard/queue/{ids[RENNES]}/approve")
    assert status == 200 and json.loads(answer)["done"] == "approved"

    relais.wait_status(ids[RENNES], ("published",), agency=RENNES)
    assert relais.get_post(ids[LYON])["status"] == "awaiting_approval" and ids[LYON] in queued()
    denied = [e for e in relais.audit(ids[LYON]) if e["event"] == "permission.denied"]
    assert [(e["actor"], e["detail"]["reason"]) for e in denied] == [
        ("breizh", "outside the moderator's region")
    ]
    approvals = [e["actor"] for e in relais.audit_with(ids[RENNES], "approved") if e["event"] == "approved"]
    assert approvals == ["breizh"]

    # A national moderator decides for Lyon, with the page's plain form (no script): a redirect.
    assert create_user(relais.data_dir, "nadia", "moderator").returncode == 0
    national_desk = DashboardSession(relais.hub_url)
    assert national_desk.login("nadia") == 303
    assert ids[LYON] in national_desk.dashboard()
    reject = f"/dashboard/queue/{ids[LYON]}/reject"
    status, _ = national_desk.act(reject, {"reason": "  "})
    assert status == 400
    form = {"csrf": national_desk.csrf, "reason": "Précisez le type de contrat"}
    status, _, headers = national_desk.request("POST", reject, form)
    assert status == 303 and headers["Location"] == "/dashboard?done=rejected"
    assert relais.wait_status(ids[LYON], ("rejected",))["reason"] == "Précisez le type de contrat"


def test_a_moderator_edits_then_approves_from_the_dashboard(relais: RelaisSystem) -> None:
    status, _ = http(
        "PUT",
        f"{relais.hub_url}/v1/policies",
        {"scope": "default", "mode": "moderated"},
        token=relais.token("admin"),
    )
    assert status == 200
    original = "Offre : agent de quai H/F à Lyon #emploi"
    status, accepted = relais.post({"text": original, "networks": ["mastodon"]}, agency=LYON)
    assert status == 202
    post_id = accepted["id"]
    assert create_user(relais.data_dir, "nadia", "moderator").returncode == 0
    desk = DashboardSession(relais.hub_url)
    assert desk.login("nadia") == 303
    page = eventually(lambda: (p := desk.dashboard()) and post_id in p and p)
    assert "Modifier avant de valider" in page and original in page  # the advisor's own words, to edit

    edited = "Offre : agent de quai H/F en CDD de 6 mois à Lyon #emploi"
    status, _ = desk.act(f"/dashboard/queue/{post_id}/approve", {"text": edited})
    assert status == 200
    post = relais.wait_status(post_id, ("published",), agency=LYON)
    assert post["text"] == edited and [p["text"] for p in relais.sandbox_posts()] == [edited]
    [edit] = [e for e in relais.audit_with(post_id, "edited") if e["event"] == "edited"]
    assert edit["actor"] == "nadia" and f"+{edited}" in edit["detail"]["diff"]
