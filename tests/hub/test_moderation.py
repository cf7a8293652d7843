"""Moderation with real processes: policies queue posts, moderators decide within their region, the
advisor sees the outcome, and every refusal is audited."""

from __future__ import annotations

from typing import Any

from shared.tokens import issue_token
from tests.harness import RelaisSystem, eventually, http

LYON = "lyon-part-dieu"  # region auvergne-rhone-alpes
POST = {"text": "Offre : cariste H/F à Lyon #emploi", "networks": ["mastodon"]}


def moderator(relais: RelaisSystem, region: str | None) -> str:
    return issue_token(
        relais.key, role="moderator", subject=f"moderatrice-{region or 'nationale'}", region=region
    )


def set_policy(relais: RelaisSystem, policy: dict[str, Any]) -> None:
    status, body = http("PUT", f"{relais.hub_url}/v1/policies", policy, token=relais.token("admin"))
    assert status == 200, body


def queue(relais: RelaisSystem, token: str) -> list[dict[str, Any]]:
    status, body = http("GET", f"{relais.hub_url}/v1/moderation/queue", token=token)
    assert status == 200, body
    return list(body["queue"])


def test_a_moderated_agency_waits_for_a_moderator_of_its_region(relais: RelaisSystem) -> None:
    set_policy(relais, {"scope": f"agency:{LYON}", "mode": "moderated"})
    status, accepted = relais.post(POST)
    assert status == 202
    post_id = accepted["id"]
    national = moderator(relais, None)
    # The hub learns regions from the page registry: give it a moment after start.
    [item] = eventually(lambda: [i for i in queue(relais, national) if i["region"]])
    assert item["post_id"] == post_id and item["region"] == "auvergne-rhone-alpes"
    assert item["variants"][0]["parts"] == [POST["text"]]
    # The agency hears that its post waits for a moderator (PostQueued), right after the queue does.
    relais.wait_status(post_id, ("awaiting_approval",), timeout=10)
    assert relais.sandbox_posts() == []

    breton = moderator(relais, "bretagne")
    assert queue(relais, breton) == []
    status, body = http("POST", f"{relais.hub_url}/v1/moderation/{post_id}/approve", token=breton)
    assert status == 403 and body["error"]["code"] == "outside_scope"
    assert http("POST", f"{relais.hub_url}/v1/moderation/{post_id}/approve", token=relais.token())[0] == 403

    local = moderator(relais, "auvergne-rhone-alpes")
    status, body = http("POST", f"{relais.hub_url}/v1/moderation/{post_id}/approve", token=local)
    assert status == 200 and body["decision"] == "approved"
    relais.wait_status(post_id, ("published",))
    events = relais.audit_with(post_id, "approved")
    approved = [e for e in events if e["event"] == "approved"]
    assert [e["actor"] for e in approved] == ["moderatrice-auvergne-rhone-alpes"]
    denied = [e for e in events if e["event"] == "permission.denied"]
    # Both refusals are on the post's record: the regional moderator's and the advisor's attempt.
    assert [e["actor"] for e in denied] == ["moderatrice-bretagne", f"advisor@{LYON}"]
    assert queue(relais, national) == []


def test_a_rejection_needs_a_reason_and_the_advisor_reads_it(relais: RelaisSystem) -> None:
    set_policy(relais, {"scope": "default", "mode": "moderated"})
    status, accepted = relais.post(POST)
    assert status == 202
    post_id = accepted["id"]
    national = moderator(relais, None)
    eventually(lambda: queue(relais, national))
    url = f"{relais.hub_url}/v1/moderation/{post_id}/reject"
    status, body = http("POST", url, {"reason": " "}, token=national)
    assert status == 400 and body["error"]["field"] == "reason"
    status, _ = http(
        "POST", url, {"reason": "Merci d'indiquer le type de contrat (CDI, CDD…)"}, token=national
    )
    assert status == 200
    post = relais.wait_status(post_id, ("rejected",))
    assert post["reason"] == "Merci d'indiquer le type de contrat (CDI, CDD…)"
    assert all(d["status"] == "rejected" for d in post["deliveries"])
    assert relais.sandbox_posts() == []


def test_trusted_advisors_are_approved_by_the_policy_and_others_wait(relais: RelaisSystem) -> None:
    set_policy(relais, {"scope": f"agency:{LYON}", "mode": "trusted", "trusted": [f"advisor@{LYON}"]})
    status, trusted = relais.post(POST)
    assert status == 202
    relais.wait_status(trusted["id"], ("published",))
    newcomer = issue_token(relais.key, role="advisor", subject="nouveau@lyon", agency=LYON)
    status, other = http(
        "POST", f"{relais.intake_url()}/v1/posts", {**POST, "text": "Autre offre #emploi"}, token=newcomer
    )
    assert status == 202
    eventually(lambda: [i for i in queue(relais, moderator(relais, None)) if i["post_id"] == other["id"]])


def test_a_moderator_edits_then_approves_and_the_diff_is_audited(relais: RelaisSystem) -> None:
    set_policy(relais, {"scope": "default", "mode": "moderated"})
    status, accepted = relais.post(POST)
    assert status == 202
    post_id = accepted["id"]
    national = moderator(relais, None)
    eventually(lambda: queue(relais, national))
    edited = "Offre : cariste H/F en CDI à Lyon #emploi"
    url = f"{relais.hub_url}/v1/moderation/{post_id}/approve"
    status, body = http("POST", url, {"text": edited}, token=national)
    assert status == 200 and body["decision"] == "edited_and_approved" and body["revision"] == 1

    post = relais.wait_status(post_id, ("published",))
    assert post["text"] == edited
    assert [p["text"] for p in relais.sandbox_posts()] == [edited]
    events = relais.audit_with(post_id, "edited", "approved")
    [edit] = [e for e in events if e["event"] == "edited"]
    assert edit["actor"] == "moderatrice-nationale"
    assert f"-{POST['text']}" in edit["detail"]["diff"] and f"+{edited}" in edit["detail"]["diff"]
    assert [e["actor"] for e in events if e["event"] == "approved"] == ["moderatrice-nationale"]
