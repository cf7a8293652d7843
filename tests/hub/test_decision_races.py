"""Many moderators deciding one post at once, with the whole system running (real hub, NATS,
formatter, dispatcher against the sandbox, the agency's node): the policy written down here is that
a post has ONE decision. Whatever the mix of approve, reject and edit-then-approve, through the API
or the dashboard's forms, exactly one request is answered 200 and every other one 409
`already_decided` naming that decision; the DECISIONS stream, the audit, the hub's view, the
agency's view and what the networks received all tell that one decision, and the post is
published iff it was approved (with the edited text when the edit won)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.tokens import issue_token
from tests.harness import RelaisSystem, eventually, http
from tests.hub.dashboard_client import DashboardSession, create_user
from tests.hub.held_requests import Attempt, form_attempt, json_attempt, race

LYON = "lyon-part-dieu"
DESK_USERS = ("nadia", "yann", "zoe")  # national moderators at the dashboard
# What each kind of request decides, and the DECISIONS subjects (with counts) it must leave.
DECISION_OF = {"approve": "approved", "reject": "rejected", "edit": "edited_and_approved"}
SUBJECTS_OF = {"approve": {"approved": 1}, "reject": {"rejected": 1}, "edit": {"edited": 1, "approved": 1}}
AUDITED_AS = {"approve": ["approved"], "reject": ["rejected"], "edit": ["edited", "approved"]}


def _desk(relais: RelaisSystem, username: str) -> tuple[str, str]:
    """Sign `username` in to the dashboard; (cookie header, CSRF token)."""
    session = DashboardSession(relais.hub_url)
    assert session.login(username) == 303
    session.dashboard()
    cookie = next(c for c in session.jar if c.name == "relais_session")
    return f"{cookie.name}={cookie.value}", session.csrf


def _attempts(
    relais: RelaisSystem,
    post_id: str,
    text: str,
    desks: dict[str, tuple[str, str]],
    kinds: list[str],
    desk_kinds: list[str],
) -> tuple[list[Attempt], dict[str, tuple[str, str, str]]]:
    """One attempt per kind in `kinds` through the API, and one per desk of `desk_kinds` at the
    dashboard (each desk is one signed-in person).
    Returns the attempts and, by label, (kind, who, the text it would publish)."""
    attempts: list[Attempt] = []
    plan: dict[str, tuple[str, str, str]] = {}
    for n, kind in enumerate(kinds):
        who = f"moderatrice-{n:02d}"
        token = issue_token(relais.key, role="moderator", subject=who)
        label = f"api-{kind}-{who}"
        if kind == "reject":
            body: dict[str, str] = {"reason": f"Refusé par {who}"}
        elif kind == "edit":
            body = {"text": f"{text} (relu par {who})"}
        else:
            body = {}
        verb = "reject" if kind == "reject" else "approve"
        attempts.append(json_attempt(label, f"/v1/moderation/{post_id}/{verb}", body, token))
        plan[label] = (kind, who, body.get("text", text))
    for (username, (cookie, csrf)), kind in zip(desks.items(), desk_kinds, strict=True):
        label = f"desk-{kind}-{username}"
        form = {"reason": f"Refusé par {username}"} if kind == "reject" else {}
        if kind == "edit":
            form = {"text": f"{text} (relu par {username})"}
        verb = "reject" if kind == "reject" else "approve"
        attempts.append(form_attempt(label, f"/dashboard/queue/{post_id}/{verb}", form, cookie, csrf))
        plan[label] = (kind, username, form.get("text", text))
    return attempts, plan


def _wait_queued(relais: RelaisSystem, post_id: str) -> None:
    national = issue_token(relais.key, role="moderator", subject="lecture")

    def queued() -> bool:
        status, body = http("GET", f"{relais.hub_url}/v1/moderation/queue", token=national)
        return status == 200 and post_id in [item["post_id"] for item in body["queue"]]

    eventually(queued)


def _one_race(
    relais: RelaisSystem,
    desks: dict[str, tuple[str, str]],
    text: str,
    kinds: list[str],
    desk_kinds: list[str],
) -> tuple[str, str, str]:
    """Queue a post, race every attempt on it, check that everything agrees; returns the winner."""
    status, accepted = relais.post({"text": text, "networks": ["mastodon"]})
    assert status == 202, accepted
    post_id = accepted["id"]
    _wait_queued(relais, post_id)
    attempts, plan = _attempts(relais, post_id, text, desks, kinds, desk_kinds)
    answers = dict(zip([a.label for a in attempts], asyncio.run(race(relais.hub_url, attempts)), strict=True))

    winners = [label for label, (status, _) in answers.items() if status == 200]
    assert len(winners) == 1, answers
    [winner] = winners
    kind, who, published_text = plan[winner]
    losers = {label: answer for label, answer in answers.items() if label != winner}
    assert {status for status, _ in losers.values()} == {409}, losers
    for _, body in losers.values():
        assert set(body["error"]) == {"code", "message", "field"}
        assert body["error"]["code"] == "already_decided"
        decision = body["decision"]
        assert (decision["post_id"], decision["decision"], decision["by"]) == (
            post_id,
            DECISION_OF[kind],
            who,
        )
        assert who in body["error"]["message"]

    # The agency's view (fed by DECISIONS and DELIVERIES) and the networks: published iff approved.
    final = "rejected" if kind == "reject" else "published"
    post = relais.wait_status(post_id, (final,))
    candidates = {t for _, _, t in plan.values()}
    received = [p["text"] for p in relais.sandbox_posts() if p["text"] in candidates]
    if kind == "reject":
        assert received == [] and post["reason"] == f"Refusé par {who}"
    else:
        assert received == [published_text] and post["text"] == published_text

    # The bus holds one decision; the audit tells it once, and every refused attempt as refused.
    assert relais.decision_subjects(post_id) == SUBJECTS_OF[kind]

    def audited() -> list[dict[str, Any]] | None:
        events = relais.audit(post_id)
        done = [e for e in events if e["event"] in ("approved", "edited", "rejected")]
        return events if len(done) >= len(AUDITED_AS[kind]) else None

    events = eventually(audited)
    decisions = [(e["event"], e["actor"]) for e in events if e["event"] in ("approved", "edited", "rejected")]
    assert decisions == [(name, who) for name in AUDITED_AS[kind]]
    refused = [e for e in events if e["event"] == "decision.refused"]
    assert sorted(e["actor"] for e in refused) == sorted(plan[label][1] for label in losers)
    assert {e["detail"]["decision"] for e in refused} == {DECISION_OF[kind]}

    # The hub's view of the post says the same.
    hub_view = eventually(lambda: (v := relais.hub_post(post_id)) and v["status"] == final and v)
    assert hub_view["status"] == final
    assert (hub_view["decision"]["decision"], hub_view["decision"]["by"]) == (DECISION_OF[kind], who)
    # …and so does the dashboard, for a person signed in, whose queue no longer holds it.
    cookie = next(iter(desks.values()))[0]
    row = f'<tr data-post-id="{post_id}">'

    def dashboard_row() -> str | None:
        _, posts = http("GET", f"{relais.hub_url}/dashboard/sections/posts", headers={"Cookie": cookie})
        shown = posts.split(row, 1)[1].split("</tr>", 1)[0] if row in posts else ""
        return shown if f'data-field="status" class="status status-{final}"' in shown else None

    eventually(dashboard_row)
    _, waiting = http("GET", f"{relais.hub_url}/dashboard/sections/queue", headers={"Cookie": cookie})
    assert post_id not in waiting
    return winner, kind, who


def test_many_moderators_deciding_one_post_at_once_make_exactly_one_decision(relais: RelaisSystem) -> None:
    status, body = http(
        "PUT",
        f"{relais.hub_url}/v1/policies",
        {"scope": "default", "mode": "moderated"},
        token=relais.token("admin"),
    )
    assert status == 200, body
    for username in DESK_USERS:
        assert create_user(relais.data_dir, username, "moderator").returncode == 0
    desks = {username: _desk(relais, username) for username in DESK_USERS}
    # 17 API attempts and 3 dashboard forms: 20 moderators at once.
    mixed = (["approve", "reject", "edit"] * 6)[:17]
    _one_race(relais, desks, "Offre : cariste H/F à Lyon #emploi", mixed, ["approve", "reject", "edit"])
    # Only edits, each with its own text: every attempt reads the queued post and fetches what the
    # advisor wrote before deciding, so the losers fail at the compare-and-set itself; the text that
    # goes out is the winner's, and no other.
    winner = _one_race(relais, desks, "Offre : préparateur H/F #emploi", ["edit"] * 10, ["edit"] * 3)
    assert winner[1] == "edit"


def test_moderators_racing_on_a_scheduled_post_leave_it_released_at_its_time_iff_approved(
    relais: RelaisSystem,
) -> None:
    """The scheduler carries out the one decision: approved, the post waits and goes out at its
    time, once, and a rejection after that is refused with the approval; rejected, nothing is held
    and nothing goes out when the time comes."""
    status, body = http(
        "PUT",
        f"{relais.hub_url}/v1/policies",
        {"scope": "default", "mode": "moderated"},
        token=relais.token("admin"),
    )
    assert status == 200, body
    text = "Forum de l'emploi demain à Lyon #emploi"
    publish_at = datetime.now(UTC) + timedelta(seconds=12)
    status, accepted = relais.post(
        {"text": text, "networks": ["mastodon"], "schedule_at": publish_at.isoformat()}
    )
    assert status == 202, accepted
    post_id = accepted["id"]
    _wait_queued(relais, post_id)
    attempts = []
    for n in range(10):
        who = f"moderatrice-{n:02d}"
        token = issue_token(relais.key, role="moderator", subject=who)
        verb, body = ("approve", {}) if n % 2 else ("reject", {"reason": f"Refusé par {who}"})
        attempts.append(json_attempt(who, f"/v1/moderation/{post_id}/{verb}", body, token))
    answers = asyncio.run(race(relais.hub_url, attempts))
    [winner] = [body for status, body in answers if status == 200]
    assert sorted(status for status, _ in answers) == [200] + [409] * 9, answers

    late = issue_token(relais.key, role="moderator", subject="retardataire")
    status, body = http(
        "POST", f"{relais.hub_url}/v1/moderation/{post_id}/reject", {"reason": "non"}, token=late
    )
    assert status == 409 and body["decision"]["decision"] == winner["decision"], body
    if winner["decision"] == "approved":
        assert relais.wait_status(post_id, ("scheduled",))["status"] == "scheduled"
        assert relais.sandbox_posts() == []
        relais.wait_status(post_id, ("published",), timeout=40)
        assert datetime.now(UTC) >= publish_at
        assert [p["text"] for p in relais.sandbox_posts()] == [text]
        expected = {"scheduled": 1, "approved": 1}
    else:
        relais.wait_status(post_id, ("rejected",))
        time.sleep(max(0.0, (publish_at - datetime.now(UTC)).total_seconds()) + 2.5)
        assert relais.sandbox_posts() == [] and relais.get_post(post_id)["status"] == "rejected"
        expected = {"rejected": 1}
    assert relais.decision_subjects(post_id) == expected
