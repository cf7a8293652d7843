"""Shares at the hub (issue #16 items 3 and 5): a real hub.db (and, for the bus, a real nats-server and
the real hub app).

The policy, written by hand from the issue:
- a share is `invalid` when its story is unknown, not approved, expired, or in a topic whose audience
  leaves the agency out, or when it names an advocate other than its author; the hub then publishes
  `PostInvalid` on `variants.<agency>.<post_id>.invalid` with the reason, from its outbox;
- on X, a share near-identical to another share of the same story to X that is not invalid or
  rejected (Jaccard >= 0.8 of the normalised words, links and the story's hashtag left out, or the
  same after normalisation) is `invalid`, the reason naming the other share and the score; another
  network's share, or one near-identical to an invalid share, passes;
- two near-identical shares arriving together: exactly one passes (the check and the insert are one
  transaction);
- a share that passed is approved by the policy by default; `shares:agency:<id>` (or
  `shares:default`) `moderated` sends it to a moderator; an invalid share is never decided.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
import sqlite_utils

from services.hub.keys import MIRROR
from services.hub.policy import Policy
from services.hub.service import record
from services.hub.share_checks import Verdict, check_share, follow, share_verdict
from services.hub.store import (
    append_event,
    decision_of,
    events_for_post,
    open_store,
    outbox_pending,
    queued,
    save_policy,
)
from shared import bus
from shared.advocacy.accounts import ShareOf, personal_page
from shared.schemas import (
    PAGES_BUCKET,
    PageRecord,
    PostInvalid,
    PostReceived,
    PostRendered,
    Target,
    Variant,
    encode,
    page_key,
    posts_subject,
)
from tests.hub.hub_app import Hub
from tests.intake.test_media_relay import until

LYON, RENNES = "lyon-part-dieu", "rennes-sud"
ARA = "auvergne-rhone-alpes"
CLAIRE, YANN, ZOE = "adv-claireclaireclairecl", "adv-yannyannyannyannyann", "adv-zoezoezoezoezoezoezo"
STORY = "01JEZ0000000000000000000ST"
HASHTAG = "#AvecPoleEmploi"
TEXT = "Jeudi je serai au salon de Lyon avec quarante recruteurs, venez nous voir #AvecPoleEmploi"
# The same words but one (12 of 14 words shared: Jaccard 0.86), a link and no hashtag.
NEAR = "jeudi je serai au SALON de Lyon avec quarante recruteurs venez nous rencontrer https://t.co/x"
OTHER = "Un salon pour trouver un emploi près de chez vous : j'y serai, et vous ? #AvecPoleEmploi"


def add_story(
    db: sqlite_utils.Database,
    story: str = STORY,
    *,
    status: str = "approved",
    days: int = 7,
    agencies: tuple[str, ...] = (),
    regions: tuple[str, ...] = (),
) -> None:
    now = datetime.now(UTC).isoformat()
    topic = f"topic-{story.lower()}"
    db.table("advocacy_topics").insert(
        {
            "id": topic,
            "titles": json.dumps({"fr": "Salons"}),
            "required": 1,
            "regions": json.dumps(list(regions)),
            "agencies": json.dumps(list(agencies)),
            "version": 1,
            "updated_by": "admin",
            "updated_at": now,
        }
    )
    db.table("advocacy_stories").insert(
        {
            "id": story,
            "topic": topic,
            "link": "https://www.francetravail.fr/salon",
            "texts": json.dumps({"fr": "Le salon ouvre jeudi."}),
            "hashtag": HASHTAG,
            "media": "[]",
            "expires_at": (datetime.now(UTC) + timedelta(days=days)).isoformat(),
            "status": status,
            "author": "admin",
            "written_at": now,
        }
    )


def a_share(
    post_id: str,
    advocate: str,
    text: str,
    networks: tuple[str, ...] = ("x",),
    *,
    story: str = STORY,
    agency: str = LYON,
    author: str | None = None,
) -> PostReceived:
    return PostReceived(
        post_id=f"{agency}-{post_id}",
        agency=agency,
        occurred_at=datetime.now(UTC).isoformat(),
        author=author or advocate,
        text=text,
        targets=[Target(n, personal_page(advocate, n)) for n in networks],
        link="https://www.francetravail.fr/salon",
        share=ShareOf(story=story, advocate=advocate),
    )


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    database = open_store(tmp_path / "hub.db")
    add_story(database)
    return database


def invalid_messages(db: sqlite_utils.Database) -> list[tuple[str, PostInvalid]]:
    return [
        (message.subject, msgspec.json.decode(message.data, type=PostInvalid))
        for _, _, _, message in outbox_pending(db)
        if message.subject.endswith(".invalid")
    ]


def test_a_share_of_an_approved_story_offered_to_its_agency_passes(db: sqlite_utils.Database) -> None:
    verdict = check_share(db, a_share("01A", CLAIRE, TEXT, ("x", "mastodon")), ARA)
    assert (verdict.status, verdict.reason) == ("received", "")
    row = db.execute(
        "select story, advocate, agency, region, networks, text, topic from advocacy_shares"
    ).fetchone()
    assert row == (STORY, CLAIRE, LYON, ARA, '["x", "mastodon"]', TEXT, f"topic-{STORY.lower()}")
    assert invalid_messages(db) == []


@pytest.mark.parametrize(
    ("story", "setup", "reason"),
    [
        ("01JEZUNKNOWN00000000000000", {}, "is not one of the hub's stories"),
        ("01JEZPENDING00000000000000", {"status": "pending"}, "is not approved (it is pending)"),
        ("01JEZREJECTED0000000000000", {"status": "rejected"}, "is not approved (it is rejected)"),
        ("01JEZEXPIRED00000000000000", {"days": -1}, "expired at"),
        ("01JEZRENNES000000000000000", {"agencies": (RENNES,)}, f"is not offered to agency {LYON}"),
        ("01JEZBRETAGNE0000000000000", {"regions": ("bretagne",)}, f"is not offered to agency {LYON}"),
    ],
)
def test_a_share_of_a_story_not_offered_to_its_agency_is_invalid(
    db: sqlite_utils.Database, story: str, setup: dict[str, object], reason: str
) -> None:
    if setup:
        add_story(db, story, **setup)  # type: ignore[arg-type]
    post = a_share("01B", CLAIRE, TEXT, story=story)
    verdict = check_share(db, post, ARA)
    assert verdict.status == "invalid" and reason in verdict.reason, verdict
    [(subject, invalid)] = invalid_messages(db)
    assert subject == f"variants.{LYON}.{post.post_id}.invalid"
    assert invalid.reasons == [verdict.reason] and invalid.post_id == post.post_id
    # Audited with the verdict, by the hub's checks (not the formatter's).
    [entry] = [e for e in events_for_post(db, post.post_id) if e["event"] == "invalid"]
    assert entry["actor"] == "hub:share-check"


def test_a_share_naming_another_advocate_than_its_author_is_invalid(db: sqlite_utils.Database) -> None:
    verdict = check_share(db, a_share("01C", CLAIRE, TEXT, author=YANN), ARA)
    assert (
        verdict.status == "invalid" and f"names advocate {CLAIRE} but is written by {YANN}" in verdict.reason
    )


def test_on_x_a_share_near_identical_to_another_advocates_share_is_invalid(db: sqlite_utils.Database) -> None:
    first = a_share("01D", CLAIRE, TEXT)
    assert check_share(db, first, ARA).status == "received"
    verdict = check_share(db, a_share("01E", YANN, NEAR, ("linkedin", "x")), ARA)
    assert verdict.status == "invalid"
    assert f"share {first.post_id}" in verdict.reason and "similarity 0.86" in verdict.reason
    # Only X has the rule: the same words to LinkedIn alone pass; and so does a text in her own words.
    assert check_share(db, a_share("01F", YANN, NEAR, ("linkedin",)), ARA).status == "received"
    assert check_share(db, a_share("01G", ZOE, OTHER), ARA).status == "received"
    # An invalid (or rejected) share blocks nobody: the text of 01E is free again once 01D is rejected.
    db.execute("update advocacy_shares set status = 'rejected' where post_id = ?", [first.post_id])
    assert check_share(db, a_share("01H", YANN, NEAR), ARA).status == "received"


def test_a_share_the_formatter_refused_blocks_nobody(db: sqlite_utils.Database) -> None:
    """Too long for a network, a share publishes nothing: its text is free for another advocate,
    whether its `invalid` reached the audit before or after its check."""
    early, late = a_share("01J", CLAIRE, TEXT), a_share("01K", ZOE, TEXT + " encore")
    append_event(
        db,
        source="VARIANTS:1",
        occurred_at=datetime.now(UTC).isoformat(),
        post_id=early.post_id,
        agency=LYON,
        event="invalid",
        actor="formatter",
        detail={"reasons": ["too long"]},
    )
    assert check_share(db, early, ARA).status == "received"  # its own checks pass; the formatter refused it
    assert check_share(db, late, ARA).status == "received"  # not near a share that publishes nothing
    # The audit consumer reads the formatter's `invalid` after the check: the row says so.
    incoming = bus.Incoming(
        f"variants.{LYON}.{late.post_id}.invalid",
        encode(
            PostInvalid(post_id=late.post_id, agency=LYON, occurred_at=late.occurred_at, reasons=["too long"])
        ),
        1,
        "VARIANTS",
        2,
        {"Nats-Msg-Id": f"{late.post_id}.invalid"},
    )
    record(db, [incoming])
    assert share_verdict(db, late.post_id) == Verdict("invalid", "too long")
    assert check_share(db, a_share("01L", YANN, TEXT), ARA).status == "received"


def test_a_redelivered_share_keeps_its_first_verdict(db: sqlite_utils.Database) -> None:
    share = a_share("01I", CLAIRE, TEXT)
    assert check_share(db, share, ARA).status == "received"
    assert check_share(db, share, ARA).status == "received"  # never against itself
    assert db.execute("select count(*) from advocacy_shares").fetchone()[0] == 1


def test_two_near_identical_shares_arriving_together_exactly_one_passes(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    add_story(open_store(path))
    for attempt in range(10):
        barrier = threading.Barrier(2)
        verdicts: list[str] = []

        def arrive(
            post: PostReceived, barrier: threading.Barrier = barrier, verdicts: list[str] = verdicts
        ) -> None:
            connection = sqlite_utils.Database(path)  # each its own connection, as two processes
            barrier.wait()
            verdicts.append(check_share(connection, post, ARA).status)
            connection.close()

        posts = [a_share(f"02{attempt}A", CLAIRE, TEXT), a_share(f"02{attempt}B", YANN, NEAR)]
        threads = [threading.Thread(target=arrive, args=(post,)) for post in posts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(verdicts) == ["invalid", "received"], (attempt, verdicts)
        db = sqlite_utils.Database(path)
        db.execute("update advocacy_shares set status = 'rejected'")  # free the text for the next round
        db.conn.commit()
        db.close()


# The bus: the hub app's check reads the share from POSTS; its approval waits for the verdict.


async def with_registry(hub: Hub) -> None:
    kv = await bus.ensure_key_value(hub.js, PAGES_BUCKET)
    record = PageRecord(
        page=f"{LYON}-x",
        network="x",
        handle=LYON,
        agency=LYON,
        region=ARA,
        department="69",
        timezone="Europe/Paris",
        credentials_ref="sandbox/x",
    )
    await kv.put(page_key(LYON, record.page), msgspec.json.encode(record))


def rendered(post: PostReceived) -> bytes:
    variants = [Variant(t.network, t.page, [post.text], post.agency, "Europe/Paris") for t in post.targets]
    return encode(
        PostRendered(
            post_id=post.post_id,
            agency=post.agency,
            occurred_at=post.occurred_at,
            author=post.author,
            variants=variants,
        )
    )


async def test_the_hub_checks_shares_from_the_bus_and_decides_only_those_that_pass(live_hub: Hub) -> None:
    hub = live_hub
    add_story(hub.db)
    await with_registry(hub)
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(hub.client.app[MIRROR].follow(hub.js, stop)),
        asyncio.create_task(follow(hub.js, hub.db, hub.client.app[MIRROR], hub.approver.outbox, stop)),
    ]
    try:
        passed, copied = a_share("03A", CLAIRE, TEXT), a_share("03B", YANN, NEAR)
        moderated = a_share("03C", ZOE, OTHER, ("linkedin",))
        # Its approval comes before its check: it waits (the consumer redelivers it).
        with pytest.raises(bus.Retry):
            await hub.approver.decide(rendered(passed))
        # However late its check comes (a hub catching up after an outage), it waits: never refused.
        with pytest.raises(bus.Retry):
            await hub.approver.decide(rendered(passed), attempt=500)
        assert decision_of(hub.db, passed.post_id) is None
        for post in (passed, copied):
            await bus.publish(hub.js, posts_subject(LYON, post.post_id), post, post.post_id)
            await until(verdict_of(hub, post.post_id))
        # The hub published the invalid share's PostInvalid, with the reason, for the agency's node.
        invalid = await hub.js.get_last_msg("VARIANTS", f"variants.{LYON}.{copied.post_id}.invalid")
        assert invalid.data is not None and invalid.subject is not None and invalid.seq is not None
        reasons = msgspec.json.decode(invalid.data, type=PostInvalid).reasons
        assert len(reasons) == 1 and f"share {passed.post_id}" in reasons[0]
        # The audit consumer reading it back records nothing more: the hub audited it with its verdict;
        # a formatter's `invalid` of the same post (another message id) is another fact.
        hubs = bus.Incoming(invalid.subject, invalid.data, 1, "VARIANTS", invalid.seq, invalid.headers)
        formatters = bus.Incoming(
            invalid.subject,
            invalid.data,
            1,
            "VARIANTS",
            invalid.seq + 1000,
            {"Nats-Msg-Id": f"{copied.post_id}.invalid"},
        )
        record(hub.db, [hubs, formatters])
        actors = [e["actor"] for e in events_for_post(hub.db, copied.post_id) if e["event"] == "invalid"]
        assert actors == ["hub:share-check", "formatter"]

        await hub.approver.decide(rendered(passed))
        await hub.approver.decide(rendered(copied))
        decision = decision_of(hub.db, passed.post_id)
        assert decision is not None and decision.decision == "approved"
        assert decision_of(hub.db, copied.post_id) is None  # never decided
        assert [share_verdict(hub.db, p.post_id).status for p in (passed, copied)] == ["approved", "invalid"]  # type: ignore[union-attr]

        # An agency's policy may send its shares to a moderator (and only shares: posts keep theirs).
        save_policy(hub.db, Policy(f"shares:agency:{LYON}", "moderated"))
        await bus.publish(hub.js, posts_subject(LYON, moderated.post_id), moderated, moderated.post_id)
        await until(verdict_of(hub, moderated.post_id))
        await hub.approver.decide(rendered(moderated))
        assert moderated.post_id in [row["post_id"] for row in queued(hub.db)]
        assert share_verdict(hub.db, moderated.post_id).status == "queued"  # type: ignore[union-attr]
        await hub.approver.moderate(moderated.post_id, "nadia", reason="hors sujet")
        assert share_verdict(hub.db, moderated.post_id).status == "rejected"  # type: ignore[union-attr]

        # A body naming another agency than its subject's is not taken for that agency's share.
        forged = msgspec.structs.replace(a_share("03D", YANN, OTHER, agency=RENNES), post_id=f"{LYON}-03D")
        await bus.publish(hub.js, posts_subject(LYON, forged.post_id), forged, forged.post_id)
        last = a_share("03E", ZOE, "Une autre actualité, dite autrement encore, pour finir. #AvecPoleEmploi")
        await bus.publish(hub.js, posts_subject(LYON, last.post_id), last, last.post_id)
        await until(verdict_of(hub, last.post_id))  # read after the forged one: that one was dropped
        assert share_verdict(hub.db, forged.post_id) is None
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


def verdict_of(hub: Hub, post_id: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return share_verdict(hub.db, post_id) is not None

    return check


@pytest.mark.parametrize(
    ("scope", "status"),
    [
        ("shares:default", 200),
        (f"shares:agency:{LYON}", 200),
        ("shares:agency:", 422),
        ("shares:page:x", 422),
        ("shares", 422),
    ],
)
async def test_the_policies_api_takes_the_shares_scopes(live_hub: Hub, scope: str, status: int) -> None:
    response = await live_hub.client.put(
        "/v1/policies",
        json={"scope": scope, "mode": "moderated"},
        headers={"Authorization": f"Bearer {live_hub.token('admin', 'root')}"},
    )
    assert response.status == status, await response.text()
