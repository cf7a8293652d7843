"""The inbox's question history at the hub (issue #15 item 6): each clock of a conversation is a
question kept in `inbox_questions`, written with the clock, so the figures outlive the clock.

The policy, written by hand:
- a conversation's first item starts question 1, with its agency's region (the page registry's), its
  page, network and calendar, the item's date as the start and the deadline of that start;
- an item dated earlier than the running clock's start (it arrived late) moves that question's start
  and deadline; it makes no new question;
- a response answers the running clock's question only, at the instant the response was published
  (the `at` the hub's reply path passes); a redelivered `published` answers nothing again;
- the person writing after the response starts question 2; question 1 keeps its figures;
- a hub upgraded from before m016 gets a question for each conversation's current clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from services.hub.inbox_store import record_response
from services.hub.store import migrations, open_store
from shared.schemas import encode
from tests.hub.hub_app import Hub
from tests.hub.inbox_desk import LYON, SAINT_DENIS, inbox_desk
from tests.hub.test_inbox_replies import asked, publish_published, rendered_reply, replies_consumer, reply_to
from tests.hub.test_inbox_replies import until as eventually

PARIS, REUNION = ZoneInfo("Europe/Paris"), ZoneInfo("Indian/Reunion")
LYON_PAGE, SAINT_DENIS_PAGE = f"{LYON}-mastodon", f"{SAINT_DENIS}-mastodon"
MONDAY_9AM = datetime(2026, 12, 7, 9, tzinfo=PARIS)  # no public holiday that week


def utc(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


def questions(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return list(db.execute_returning_dicts("select * from inbox_questions order by conversation, clock"))


async def test_two_clocks_of_one_conversation_are_two_questions_and_an_answer_closes_its_own(
    live_hub: Hub,
) -> None:
    async with inbox_desk(live_hub, MONDAY_9AM + timedelta(minutes=20)) as desk, replies_consumer(live_hub):
        first = await asked(desk, LYON_PAGE, "501", MONDAY_9AM)
        [q1] = questions(live_hub.db)
        assert q1 == {
            "conversation": first.conversation,
            "clock": 1,
            "agency": LYON,
            "region": "auvergne-rhone-alpes",
            "page": LYON_PAGE,
            "network": "mastodon",
            "calendar": "fr-metropole",
            "received_at": utc(MONDAY_9AM),
            "deadline": utc(MONDAY_9AM + timedelta(hours=4)),  # 09:00–13:00, one business morning
            "answered_at": None,
        }
        # Answered through the reply path, at the network's date of the reply.
        post_id = f"{LYON}-01JQUESTION00000000000001"
        await live_hub.approver.decide(encode(rendered_reply(post_id, reply_to(first))))
        answered = MONDAY_9AM + timedelta(minutes=15)
        await publish_published(live_hub, post_id, LYON_PAGE, answered)
        await eventually(lambda: questions(live_hub.db)[0]["answered_at"] is not None)
        assert questions(live_hub.db)[0]["answered_at"] == utc(answered)

        # The person writes again after the response: question 2; question 1 keeps its answer.
        desk.set_time(MONDAY_9AM + timedelta(hours=6))
        again = MONDAY_9AM + timedelta(hours=5)  # 14:00
        await asked(desk, LYON_PAGE, "502", again, root_id="501")
        q1, q2 = questions(live_hub.db)
        assert (q1["clock"], q1["received_at"], q1["answered_at"]) == (1, utc(MONDAY_9AM), utc(answered))
        assert (q2["clock"], q2["received_at"], q2["answered_at"]) == (2, utc(again), None)
        # 14:00–17:00 Monday, then 09:00–10:00 Tuesday.
        assert q2["deadline"] == utc(datetime(2026, 12, 8, 10, tzinfo=PARIS))

        # A response now answers question 2, never question 1 again.
        second_answer = MONDAY_9AM + timedelta(hours=7)
        assert record_response(live_hub.db, first.conversation, second_answer)
        q1, q2 = questions(live_hub.db)
        assert (q1["answered_at"], q2["answered_at"]) == (utc(answered), utc(second_answer))
        # A response while nothing waits answers nothing.
        assert not record_response(live_hub.db, first.conversation, second_answer + timedelta(hours=1))
        assert [q["answered_at"] for q in questions(live_hub.db)] == [utc(answered), utc(second_answer)]


async def test_a_late_item_moves_its_questions_start_and_deadline(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, datetime(2026, 12, 7, 12, tzinfo=REUNION)) as desk:
        # Réunion's calendar runs the clock (16:00 Friday in Saint-Denis: one hour Friday, three Monday).
        friday_4pm = datetime(2026, 12, 4, 16, tzinfo=REUNION)
        monday_10am = datetime(2026, 12, 7, 10, tzinfo=REUNION)
        later = await asked(desk, SAINT_DENIS_PAGE, "601", monday_10am)
        [q] = questions(live_hub.db)
        assert (q["region"], q["calendar"], q["received_at"], q["deadline"]) == (
            "la-reunion",
            "fr-reunion",
            utc(monday_10am),
            utc(datetime(2026, 12, 7, 14, tzinfo=REUNION)),
        )
        # An item of the same thread, dated Friday, arrives late: the same question, started earlier.
        await asked(desk, SAINT_DENIS_PAGE, "600", friday_4pm, root_id=later.root_id)
        [q] = questions(live_hub.db)
        assert (q["clock"], q["received_at"], q["deadline"], q["answered_at"]) == (
            1,
            utc(friday_4pm),
            utc(datetime(2026, 12, 7, 12, tzinfo=REUNION)),
            None,
        )


def test_an_upgraded_hub_gets_a_question_for_each_conversations_current_clock(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before="m016_inbox_questions")  # the hub as it was before m016
    conversation = dict(
        agency=LYON, page=LYON_PAGE, network="mastodon", calendar="fr-metropole", status="new", assignee=""
    )
    # Waiting: its clock as it stands. Answered (second clock): from its first item after the earlier reply.
    db.table("inbox_conversations").insert_all(
        [
            {
                **conversation,
                "conversation": "mastodon:1",
                "first_item_at": utc(MONDAY_9AM),
                "clock": 1,
                "clock_started_at": utc(MONDAY_9AM),
                "deadline": utc(MONDAY_9AM + timedelta(hours=4)),
            },
            {
                **conversation,
                "conversation": "mastodon:2",
                "first_item_at": utc(MONDAY_9AM),
                "clock": 2,
                "answered_at": utc(MONDAY_9AM + timedelta(hours=3)),
            },
        ]
    )
    item = dict(network="mastodon", agency=LYON, page=LYON_PAGE, text="?", conversation="mastodon:2")
    db.table("inbox_items").insert_all(
        [
            {**item, "item_id": "2", "created_at": utc(MONDAY_9AM)},
            {**item, "item_id": "3", "created_at": utc(MONDAY_9AM + timedelta(hours=2))},
        ]
    )
    db.table("inbox_replies").insert(
        {
            "post_id": "p",
            "agency": LYON,
            "author": "claire",
            "conversation": "mastodon:2",
            "network": "mastodon",
            "page": LYON_PAGE,
            "item_id": "2",
            "recorded_at": utc(MONDAY_9AM),
            "answered_at": utc(MONDAY_9AM + timedelta(hours=1)),
        }
    )
    db.close()
    upgraded = open_store(path)
    eleven, noon = MONDAY_9AM + timedelta(hours=2), MONDAY_9AM + timedelta(hours=3)
    found = [
        (q["conversation"], q["clock"], q["region"], q["received_at"], q["deadline"], q["answered_at"])
        for q in questions(upgraded)
    ]
    assert found == [
        ("mastodon:1", 1, "", utc(MONDAY_9AM), utc(MONDAY_9AM + timedelta(hours=4)), None),
        ("mastodon:2", 2, "", utc(eleven), None, utc(noon)),
    ]
    upgraded.close()


async def test_a_response_dated_before_its_question_answers_it_at_its_start(live_hub: Hub) -> None:
    """The network dated the reply earlier than the question (clocks apart): a first response of 0,
    never a negative one that the figures could not count."""
    async with inbox_desk(live_hub, MONDAY_9AM + timedelta(minutes=20)) as desk:
        first = await asked(desk, LYON_PAGE, "601", MONDAY_9AM)
        assert record_response(live_hub.db, first.conversation, MONDAY_9AM - timedelta(minutes=3))
        [q1] = questions(live_hub.db)
        assert q1["answered_at"] == q1["received_at"] == utc(MONDAY_9AM)
