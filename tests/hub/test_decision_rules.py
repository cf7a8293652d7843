"""The one-decision rule where it meets the policy, the scheduler and dead letters: the real hub app
over real HTTP on loopback, a real nats-server, a real SQLite file. The hub's bus
loops are driven by the test (`Approver.decide` is what the hub does with each rendered post,
`release_due` is its scheduler), so each race is set up exactly.

The rules, as written in the README:
- the policy never decides a post already queued or decided (a redelivered rendering, a policy
  changed since): a moderator's decision is never overridden;
- the scheduler decides nothing: it carries out an approval (releases or expires each page), so a
  rejection racing an approval of a late post leaves either the rejection or the expiry, never
  both; a held approval cannot be rejected (409, the approval stands); each due row goes out once;
- one action at a time on a dead letter: retry and mark-published sent together or twice give one
  command on the bus, and 409 `already_decided` for the others, until the letter is raised again;
- a decision committed but not yet acknowledged by the bus goes out after a restart, once
  (test_decision_outbox.py).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import sqlite_utils

from services.hub import dead_letters
from services.hub.keys import DATABASE
from services.hub.policy import Policy
from services.hub.store import latest_events, queued, save_policy
from shared.ids import utc_now
from shared.schemas import (
    DeliveryDeadLettered,
    DeliveryUpdated,
    ErrorReport,
    PostRendered,
    alerts_subject,
    deliveries_subject,
    encode,
)
from tests.hub.held_requests import Attempt, form_attempt, json_attempt, race
from tests.hub.hub_app import LYON, PAGE, Hub, queue_a_post


def decision_attempts(live_hub: Hub, post_id: str, approvals: int, rejections: int) -> list[Attempt]:
    attempts = [
        json_attempt(
            f"approve-{n}", f"/v1/moderation/{post_id}/approve", {}, live_hub.token("moderator", f"a{n}")
        )
        for n in range(approvals)
    ]
    attempts += [
        json_attempt(
            f"reject-{n}",
            f"/v1/moderation/{post_id}/reject",
            {"reason": "non"},
            live_hub.token("moderator", f"r{n}"),
        )
        for n in range(rejections)
    ]
    return attempts


def audited(db: sqlite_utils.Database, name: str) -> list[dict[str, Any]]:
    return [e for e in latest_events(db, limit=1000) if e["event"] == name]


async def test_the_policy_never_overrides_a_moderators_decision(live_hub: Hub) -> None:
    post_id = f"{LYON}-policy"
    data = await queue_a_post(live_hub, post_id)
    # The policy becomes `auto` while the post waits; its rendering is delivered to the hub again
    # (a restart before the acknowledgement) just as a moderator rejects it.
    save_policy(live_hub.db, Policy("default", "auto"))
    rejection = live_hub.post(f"/v1/moderation/{post_id}/reject", {"reason": "Précisez le contrat"})
    (status, body), _ = await asyncio.gather(rejection, live_hub.approver.decide(data))
    assert status == 200 and body["decision"] == "rejected", body
    # Later again, and an edited rendering no moderator's decision made (a stale revision).
    await live_hub.approver.decide(data)
    stale = msgspec.structs.replace(msgspec.json.decode(data, type=PostRendered), revision=1, edited_by="x")
    await live_hub.approver.decide(encode(stale))

    assert await live_hub.subjects("DECISIONS", post_id) == {"rejected": 1}
    # Its agency was told once that it waits for a moderator, however often it was rendered.
    assert (await live_hub.subjects("DECISIONS", post_id, notices=True))["queued"] == 1
    assert queued(live_hub.db) == []
    status, body = await live_hub.post(f"/v1/moderation/{post_id}/approve", {}, subject="yann")
    assert status == 409 and body["error"]["code"] == "already_decided"
    assert (body["decision"]["decision"], body["decision"]["by"]) == ("rejected", "nadia")
    # The dashboard's plain form (no script) is told the same, on a page.
    _, csrf = await live_hub.sign_in("zoe", "moderator")
    plain = await live_hub.client.post(f"/dashboard/queue/{post_id}/approve", data={"csrf": csrf})
    shown = await plain.text()  # in the page's words (French): who decided, and what
    assert plain.status == 409 and "Une décision a déjà été prise." in shown and "Refusée par nadia." in shown
    assert await live_hub.subjects("DECISIONS", post_id) == {"rejected": 1}


async def test_a_rejection_racing_the_approval_of_a_late_post_leaves_one_outcome(live_hub: Hub) -> None:
    """Approving a post whose time passed beyond the grace period expires its pages: the expiry
    and a rejection must never both be told."""
    late = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    post_id = f"{LYON}-late"
    await queue_a_post(live_hub, post_id, schedule_at=late)
    answers = await race(live_hub.url, decision_attempts(live_hub, post_id, approvals=5, rejections=5))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [409] * 9, answers
    [winner] = [body for status, body in answers if status == 200]
    expected = {"expired": 1} if winner["decision"] == "approved" else {"rejected": 1}
    assert await live_hub.subjects("DECISIONS", post_id) == expected
    assert live_hub.db.execute("select count(*) from schedule").fetchone()[0] == 0
    refused = audited(live_hub.db, "decision.refused")
    assert len(refused) == 9 and {e["detail"]["decision"] for e in refused} == {winner["decision"]}


async def test_a_scheduled_approval_stands_and_the_scheduler_releases_it_once(live_hub: Hub) -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    post_id = f"{LYON}-soon"
    await queue_a_post(live_hub, post_id, schedule_at=soon)
    status, body = await live_hub.post(f"/v1/moderation/{post_id}/approve", {})
    assert status == 200 and body["decision"] == "approved"
    assert await live_hub.subjects("DECISIONS", post_id) == {"scheduled": 1}

    # Held until its time, the approval is the decision: a rejection is refused with it.
    status, body = await live_hub.post(
        f"/v1/moderation/{post_id}/reject", {"reason": "trop tard"}, subject="yann"
    )
    assert status == 409 and body["error"]["code"] == "already_decided"
    assert (body["decision"]["decision"], body["decision"]["by"]) == ("approved", "nadia")

    # Two scheduler passes at once (a slow pass overlapping the next) release it once.
    stop = asyncio.Event()
    loops = [asyncio.create_task(live_hub.approver.release_due(stop)) for _ in range(2)]
    try:
        for _ in range(100):
            if "approved" in await live_hub.subjects("DECISIONS", post_id):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)  # another pass of each loop
    finally:
        stop.set()
        await asyncio.gather(*loops)
    assert await live_hub.subjects("DECISIONS", post_id) == {"scheduled": 1, "approved": 1}
    assert live_hub.db.execute("select count(*) from schedule").fetchone()[0] == 0


async def test_one_action_at_a_time_on_a_dead_letter(live_hub: Hub) -> None:
    db = live_hub.client.app[DATABASE]
    post_id = f"{LYON}-dead"
    common = {"post_id": post_id, "agency": LYON, "network": "mastodon", "page": PAGE}
    error = ErrorReport(message="Mastodon answered 503 eight times", network_code="503")
    first = DeliveryDeadLettered(**common, occurred_at=utc_now(), status="failed", attempts=8, error=error)
    dead_letters.record(db, alerts_subject(LYON, post_id, "dead_letter"), encode(first))

    cookie, csrf = await live_hub.sign_in("alain", "admin")

    base = f"/v1/dead-letters/{post_id}/{PAGE}"
    attempts = [
        json_attempt(f"{action}-{n}", f"{base}/{action}", {}, live_hub.token("admin", f"admin-{action}-{n}"))
        for n in range(5)
        for action in ("retry", "mark-published")
    ]
    attempts.append(
        form_attempt("desk-retry", f"/dashboard/dead-letters/{post_id}/{PAGE}/retry", {}, cookie, csrf)
    )
    answers = await race(live_hub.url, attempts)
    won = [
        (a.label, body) for a, (status, body) in zip(attempts, answers, strict=True) if status in (200, 202)
    ]
    assert len(won) == 1, answers
    refused = [body for status, body in answers if status == 409]
    assert len(refused) == len(attempts) - 1, answers
    decisions = {(b["error"]["code"], b["decision"]["decision"], b["decision"]["by"]) for b in refused}
    assert len(decisions) == 1
    [(code, action, by)] = decisions
    assert code == "already_decided"
    label = won[0][0]
    assert label.startswith(action.replace("_", "-")) or (label == "desk-retry" and action == "retry")
    assert by == ("alain" if label == "desk-retry" else f"admin-{label}")
    assert sum((await live_hub.subjects("COMMANDS", post_id)).values()) == 1

    # The same dead letter told again (a redelivery) does not reopen it to a second action.
    dead_letters.record(db, alerts_subject(LYON, post_id, "dead_letter"), encode(first))
    status, body = await live_hub.post(f"{base}/retry", {}, role="admin", subject="admin-late")
    assert status == 409 and body["decision"]["by"] == by
    # Raised again after the retry failed: a new action may be taken, once.
    again = msgspec.structs.replace(first, occurred_at=utc_now(), attempts=16)
    dead_letters.record(db, alerts_subject(LYON, post_id, "dead_letter"), encode(again))
    status, _ = await live_hub.post(f"{base}/retry", {}, role="admin", subject="admin-again")
    assert status == 202
    status, body = await live_hub.post(f"{base}/mark-published", {}, role="admin", subject="admin-late")
    assert status == 409 and body["decision"]["by"] == "admin-again"
    assert sum((await live_hub.subjects("COMMANDS", post_id)).values()) == 2
    published = DeliveryUpdated(
        post_id=post_id,
        agency=LYON,
        occurred_at=utc_now(),
        network="mastodon",
        page=PAGE,
        status="published",
        remote_id="1",
        url=None,
    )
    dead_letters.record(db, deliveries_subject(LYON, post_id, "published"), encode(published))
    status, body = await live_hub.post(f"{base}/retry", {}, role="admin", subject="admin-late")
    assert status == 404
