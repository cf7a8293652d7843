"""The hub's inbox, from the INBOX stream of a real nats-server into a real hub.db (issue #15 items 2
and 3): each item stored once, each conversation's SLA clock on its page's calendar, escalation at
50 % then 90 % of the deadline in business time, each level once and audited, kept after an
assignment (only a response stops the clock).

Expected deadlines are worked out by hand from the calendars the issue gives (Monday–Friday
09:00–17:00, in the calendar's zone), never read back from the code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from msgspec.structs import replace

from services.hub.inbox import UNKNOWN_CONVERSATION_TRIES
from services.hub.inbox_store import conversations, due_escalations, record_response
from services.hub.service import record
from services.hub.store import events_named
from shared import bus
from shared.schemas import InboxEscalated, decode
from shared.tokens import issue_token, load_or_create_private_key
from tests.hub.hub_app import Hub
from tests.hub.inbox_desk import LYON, RENNES, SAINT_DENIS, Desk, assignment, inbox_desk, question

PARIS, REUNION = ZoneInfo("Europe/Paris"), ZoneInfo("Indian/Reunion")
LYON_PAGE, SAINT_DENIS_PAGE = f"{LYON}-mastodon", f"{SAINT_DENIS}-mastodon"
# 2026-12-04 is a Friday, 2026-12-07 the Monday after; no public holiday in France or Réunion.
FRIDAY_4PM_PARIS = datetime(2026, 12, 4, 16, tzinfo=PARIS)
MONDAY_9AM_PARIS = datetime(2026, 12, 7, 9, tzinfo=PARIS)


def _conversation(hub: Hub, conversation: str) -> dict[str, Any]:
    [row] = conversations(hub.db, conversation)
    return row


async def test_an_item_polled_twice_and_pushed_is_stored_once(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, MONDAY_9AM_PARIS + timedelta(minutes=5)) as desk:
        item = question(LYON_PAGE, "109001", MONDAY_9AM_PARIS)
        await desk.publish(item)
        await desk.publish(item)  # polled again: the stream's de-duplication drops it
        # Pushed by the webhook past the stream's window (another de-dup id): the hub keys on the item.
        await desk.publish(replace(item, via="webhook"), msg_id="webhook-copy")
        later = question(LYON_PAGE, "109002", MONDAY_9AM_PARIS + timedelta(minutes=1), root_id="109001")
        await desk.publish(later)
        await desk.stored("inbox_items", 2)
        info = await live_hub.js.stream_info("INBOX")
        assert info.state.messages == 3  # the three the stream took: the hub stored two items
        await desk.stored("inbox_conversations", 1)
        row = _conversation(live_hub, item.conversation)
        assert (row["agency"], row["page"], row["status"], row["assignee"]) == (LYON, LYON_PAGE, "new", "")
        assert row["clock_started_at"] == MONDAY_9AM_PARIS.astimezone(UTC).isoformat(timespec="microseconds")


async def test_the_deadline_runs_on_business_hours_in_the_calendars_zone(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, datetime(2026, 12, 4, 18, tzinfo=PARIS)) as desk:
        paris = question(LYON_PAGE, "201", FRIDAY_4PM_PARIS)
        # 16:00 in Saint-Denis (12:00 UTC) on a page registered with Paris's zone: Réunion's clock runs.
        reunion = question(SAINT_DENIS_PAGE, "202", datetime(2026, 12, 4, 16, tzinfo=REUNION))
        await desk.publish(paris)
        await desk.publish(reunion)
        await desk.stored("inbox_conversations", 2)
        # Friday 16:00–17:00 is one hour; Monday 09:00–12:00 the three others.
        status, body = await _get(live_hub, "/v1/inbox")
        assert status == 200
        deadlines = {c["page"]: (c["deadline"], c["calendar"]) for c in body["conversations"]}
        assert deadlines == {
            LYON_PAGE: ("2026-12-07T12:00:00+01:00", "fr-metropole"),
            SAINT_DENIS_PAGE: ("2026-12-07T12:00:00+04:00", "fr-reunion"),
        }
        # Half the target (two business hours) is Monday 10:00 in each zone, 90 % Monday 11:36: nothing
        # over the weekend; by 10:00 in Paris (13:00 in Saint-Denis), Réunion's two levels and Paris's first.
        assert due_escalations(live_hub.db, datetime(2026, 12, 6, 23, tzinfo=PARIS)) == []
        due = due_escalations(live_hub.db, datetime(2026, 12, 7, 10, tzinfo=PARIS))
        assert [(d.conversation, d.level) for d in due] == [
            (reunion.conversation, "region"),
            (reunion.conversation, "hub"),
            (paris.conversation, "region"),
        ]
        assert due_escalations(live_hub.db, datetime(2026, 12, 7, 9, 59, tzinfo=PARIS))[-1].level == "hub"
        assert len(due_escalations(live_hub.db, datetime(2026, 12, 7, 10, 0, tzinfo=REUNION))) == 1


async def test_escalation_at_half_then_ninety_percent_once_each_and_audited(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, datetime(2026, 12, 7, 12, 1, tzinfo=PARIS)) as desk:
        item = question(LYON_PAGE, "301", MONDAY_9AM_PARIS)
        other = question(f"{RENNES}-mastodon", "302", MONDAY_9AM_PARIS + timedelta(hours=3))
        await desk.publish(item)
        await desk.publish(other)
        await desk.stored("inbox_conversations", 2)
        subject = f"inbox.{LYON}.{item.conversation}.escalated"

        # Deadline 13:00 Paris; 50 % of 4 h is 11:00, 90 % is 12:36.
        desk.set_time(datetime(2026, 12, 7, 10, 59, 59, tzinfo=PARIS))
        assert await desk.inbox.escalate_due() == 0
        desk.set_time(datetime(2026, 12, 7, 11, 0, tzinfo=PARIS))
        assert await desk.inbox.escalate_due() == 1
        assert await desk.inbox.escalate_due() == 0  # once
        assert await desk.escalated_subjects() == {subject: 1}
        assert _conversation(live_hub, item.conversation)["escalation_level"] == "region"

        # Given to an advisor: still waiting for a response, so the clock runs on.
        await desk.assign(assignment(item, "claire", datetime(2026, 12, 7, 11, 5, tzinfo=PARIS)))
        await desk.stored("inbox_conversations", 1, "status = 'pending'")
        desk.set_time(datetime(2026, 12, 7, 12, 35, 59, tzinfo=PARIS))
        assert await desk.inbox.escalate_due() == 0
        desk.set_time(datetime(2026, 12, 7, 12, 36, tzinfo=PARIS))
        assert await desk.inbox.escalate_due() == 1
        desk.set_time(datetime(2026, 12, 7, 16, tzinfo=PARIS))
        assert await desk.inbox.escalate_due() == 2  # Rennes's question (12:00): 14:00 and 15:36
        assert await desk.inbox.escalate_due() == 0
        subjects = await desk.escalated_subjects()
        assert subjects[subject] == 2

        # What was published: both levels, the deadline in the calendar's zone.
        published = [await live_hub.js.get_msg("INBOX", seq) for seq in await _sequences(desk, subject)]
        levels = [decode(m.data or b"", InboxEscalated) for m in published]
        assert [(e.level, e.deadline, e.calendar) for e in levels] == [
            ("region", "2026-12-07T13:00:00+01:00", "fr-metropole"),
            ("hub", "2026-12-07T13:00:00+01:00", "fr-metropole"),
        ]
        # Audited with the decision; the audit consumer reading them back adds nothing.
        record(
            live_hub.db,
            [bus.Incoming(m.subject or "", m.data or b"", 1, "INBOX", m.seq or 0) for m in published],
        )
        audited = [e for e in events_named(live_hub.db, "inbox.escalated") if e["page"] == LYON_PAGE]
        assert sorted(e["detail"]["level"] for e in audited) == ["hub", "region"]
        assert {e["agency"] for e in audited} == {LYON}


async def test_a_response_stops_the_clock_and_a_new_question_starts_another(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, MONDAY_9AM_PARIS) as desk:
        item = question(LYON_PAGE, "401", MONDAY_9AM_PARIS)
        await desk.publish(item)
        await desk.stored("inbox_conversations", 1)
        assert record_response(live_hub.db, item.conversation, datetime(2026, 12, 7, 10, tzinfo=PARIS))
        desk.set_time(datetime(2026, 12, 7, 16, tzinfo=PARIS))
        assert await desk.inbox.escalate_due() == 0  # answered within the target: never escalated
        assert _conversation(live_hub, item.conversation)["deadline"] is None

        # The citizen asks again on Tuesday 09:00: a new clock, which escalates once per level again.
        again = question(LYON_PAGE, "402", datetime(2026, 12, 8, 9, tzinfo=PARIS), root_id="401")
        desk.set_time(datetime(2026, 12, 8, 9, 1, tzinfo=PARIS))
        await desk.publish(again)
        await desk.stored("inbox_items", 2)
        desk.set_time(datetime(2026, 12, 8, 11, tzinfo=PARIS))
        assert await desk.inbox.escalate_due() == 1
        row = _conversation(live_hub, item.conversation)
        assert (row["clock"], row["escalation_level"]) == (2, "region")


async def test_an_assignment_from_another_agency_changes_nothing(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, MONDAY_9AM_PARIS) as desk:
        item = question(LYON_PAGE, "501", MONDAY_9AM_PARIS)
        await desk.publish(item)
        await desk.stored("inbox_conversations", 1)
        at = MONDAY_9AM_PARIS + timedelta(minutes=1)
        # Rennes's node, on its own subject, names Lyon's conversation: not its to assign.
        assert (
            desk.inbox.assigned(
                f"inbox.{RENNES}.{item.conversation}.assigned", assignment(item, "yann", at, RENNES)
            )
            == "foreign"
        )
        # A body naming Lyon on Rennes's subject: forged.
        assert (
            desk.inbox.assigned(f"inbox.{RENNES}.{item.conversation}.assigned", assignment(item, "yann", at))
            == "forged"
        )
        row = _conversation(live_hub, item.conversation)
        assert (row["status"], row["assignee"]) == ("new", "")


async def _sequences(desk: Desk, subject: str) -> list[int]:
    """The stream sequences of a subject's messages, in order."""
    sub = await desk.hub.js.pull_subscribe(subject, stream="INBOX")
    try:
        messages = await sub.fetch(10, timeout=2)
        return [m.metadata.sequence.stream for m in messages]
    finally:
        await sub.unsubscribe()


async def _get(hub: Hub, path: str, role: str = "admin", region: str | None = None) -> tuple[int, Any]:
    key = load_or_create_private_key(hub.settings.token_key_file)
    token = issue_token(key, role=role, subject=f"{role}-probe", region=region)
    response = await hub.client.get(path, headers={"Authorization": f"Bearer {token}"})
    return response.status, await response.json()


async def test_an_item_that_arrives_late_moves_the_clocks_start_back(live_hub: Hub) -> None:
    """The webhook missed the first question; polling brings it after the second: the clock runs from
    the first (09:00, due 13:00), and a level already escalated is not escalated again."""
    async with inbox_desk(live_hub, datetime(2026, 12, 7, 12, tzinfo=PARIS)) as desk:
        second = question(LYON_PAGE, "801", datetime(2026, 12, 7, 10, tzinfo=PARIS))
        await desk.publish(second)
        await desk.stored("inbox_conversations", 1)
        assert _conversation(live_hub, second.conversation)["deadline"] == "2026-12-07T13:00:00.000000+00:00"
        desk.set_time(datetime(2026, 12, 7, 12, tzinfo=PARIS))  # 2 h after 10:00: the region's level
        assert await desk.inbox.escalate_due() == 1
        first = question(LYON_PAGE, "800", MONDAY_9AM_PARIS, root_id="801")
        await desk.publish(first)
        await desk.stored("inbox_items", 2)
        row = _conversation(live_hub, second.conversation)
        assert (row["deadline"], row["escalation_level"]) == ("2026-12-07T12:00:00.000000+00:00", "region")
        assert await desk.inbox.escalate_due() == 0  # 12:00 is before 12:36: not the hub's yet
        desk.set_time(datetime(2026, 12, 7, 12, 36, tzinfo=PARIS))
        assert await desk.inbox.escalate_due() == 1
        assert await desk.escalated_subjects() == {f"inbox.{LYON}.{second.conversation}.escalated": 2}


async def test_assignments_out_of_order_keep_the_latest(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, MONDAY_9AM_PARIS + timedelta(hours=1)) as desk:
        item = question(LYON_PAGE, "901", MONDAY_9AM_PARIS)
        subject = f"inbox.{LYON}.{item.conversation}.assigned"
        # Read before the conversation's first item: it waits for it, then is dropped, logged.
        early = assignment(item, "claire", MONDAY_9AM_PARIS + timedelta(minutes=1))
        with pytest.raises(bus.Retry):
            desk.inbox.assigned(subject, early, attempt=1)
        assert desk.inbox.assigned(subject, early, attempt=UNKNOWN_CONVERSATION_TRIES) == "unknown"
        await desk.publish(item)
        await desk.stored("inbox_conversations", 1)
        later = assignment(item, "", MONDAY_9AM_PARIS + timedelta(minutes=10))  # back to the shared queue
        assert desk.inbox.assigned(subject, later) == "assigned"
        assert desk.inbox.assigned(subject, early) == "stale"
        row = _conversation(live_hub, item.conversation)
        assert (row["status"], row["assignee"]) == ("new", "")
