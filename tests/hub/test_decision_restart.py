"""A moderator's decision taken while the hub's bus is down, then the hub killed (SIGKILL) before
the bus returns: the decision was committed to the hub's SQLite with its message, so the restarted
hub publishes it from its outbox, once; the post goes out exactly once, and a second moderator is
told the decision that stands. Real processes throughout."""

from __future__ import annotations

from shared.tokens import issue_token
from tests.harness import RelaisSystem, eventually, http

POST = {"text": "Offre : magasinier H/F à Lyon #emploi", "networks": ["mastodon"]}


def test_a_decision_taken_while_the_bus_is_down_goes_out_once_after_a_hub_restart(
    relais: RelaisSystem,
) -> None:
    status, body = http(
        "PUT",
        f"{relais.hub_url}/v1/policies",
        {"scope": "default", "mode": "moderated"},
        token=relais.token("admin"),
    )
    assert status == 200, body
    status, accepted = relais.post(POST)
    assert status == 202, accepted
    post_id = accepted["id"]
    nadia = issue_token(relais.key, role="moderator", subject="nadia")
    queue = f"{relais.hub_url}/v1/moderation/queue"
    eventually(lambda: post_id in [i["post_id"] for i in http("GET", queue, token=nadia)[1]["queue"]])

    relais.stop("nats")
    status, body = http("POST", f"{relais.hub_url}/v1/moderation/{post_id}/approve", {}, token=nadia)
    assert status == 200 and body["decision"] == "approved", body  # committed: it will go out
    relais.kill("hub")  # before the bus returns: only what is on the hub's disk survives
    relais.start("nats")
    relais.start("hub")

    relais.wait_status(post_id, ("published",), timeout=60)
    assert [p["text"] for p in relais.sandbox_posts()] == [POST["text"]]
    assert relais.decision_subjects(post_id) == {"approved": 1}
    yann = issue_token(relais.key, role="moderator", subject="yann")
    status, body = http(
        "POST", f"{relais.hub_url}/v1/moderation/{post_id}/reject", {"reason": "non"}, token=yann
    )
    assert status == 409 and (body["decision"]["decision"], body["decision"]["by"]) == ("approved", "nadia")
    approvals = [e for e in relais.audit_with(post_id, "approved") if e["event"] == "approved"]
    assert [e["actor"] for e in approvals] == ["nadia"]
